from django.urls import path
from django.utils.translation import gettext_lazy as _

from piaogen.views import PlaceholderView

app_name = "invoices"
urlpatterns = [
    path("trips/", PlaceholderView.as_view(page_title=_("通行记录")), name="transits"),
    path("apply/", PlaceholderView.as_view(page_title=_("我要开票")), name="apply"),
    path("invoices/", PlaceholderView.as_view(page_title=_("我的发票")), name="list"),
]
