from django.urls import path
from django.utils.translation import gettext_lazy as _

from piaogen.views import PlaceholderView

app_name = "cards"
urlpatterns = [
    path("", PlaceholderView.as_view(page_title=_("我的ETC卡")), name="list"),
    path("titles/", PlaceholderView.as_view(page_title=_("发票抬头")), name="titles"),
]
