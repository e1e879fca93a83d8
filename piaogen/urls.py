from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts.api import urls as accounts_api
from cards.api import urls as cards_api
from invoices.api import urls as invoices_api
from invoices.api.verification import VerifyView
from invoices.views.home import HomeView
from invoices.views.verify import VerifyPageView
from support.api import urls as support_api

from . import i18n, views

_API_APPS = (accounts_api, cards_api, invoices_api, support_api)
app_api = [p for m in _API_APPS for p in m.app_urlpatterns]
partner_api = [p for m in _API_APPS for p in m.partner_urlpatterns]

admin.site.site_header = _("票根客户联络中心 · 控制台")
admin.site.site_title = _("票根客服控制台")
admin.site.index_title = _("工作台")

urlpatterns = [
    path("", HomeView.as_view(), name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("i18n/setlang/", i18n.set_language, name="set_language"),
    path("accounts/", include("accounts.urls")),
    path("cards/", include("cards.urls")),
    path("", include("invoices.urls")),
    path("help/", include("support.urls")),
    path("messages/", include("support.notification_urls")),
    path("verify/", VerifyPageView.as_view(), name="verify"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script (CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/verify", VerifyView.as_view(), name="api-verify"),
    path("api/v1/app/", include(app_api)),
    path("api/v1/partner/", include(partner_api)),
    path("api/v1/cti/", include(support_api.cti_urlpatterns)),
]

# Under /api/ even the errors Django answers itself (an unknown path, a bad id) are JSON.
handler400 = "piaogen.views.bad_request"
handler403 = "piaogen.views.permission_denied"
handler404 = "piaogen.views.page_not_found"
handler500 = "piaogen.views.server_error"
