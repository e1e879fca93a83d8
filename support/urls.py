from django.urls import path
from django.utils.translation import gettext_lazy as _

from piaogen.views import PlaceholderView

app_name = "support"
urlpatterns = [
    path("", PlaceholderView.as_view(page_title=_("客服中心")), name="help"),
]
