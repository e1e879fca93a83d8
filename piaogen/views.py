from __future__ import annotations

import logging

from django.db import connection
from django.http import JsonResponse
from django.utils.translation import gettext as _
from django.views.generic import TemplateView

logger = logging.getLogger(__name__)


class HomeView(TemplateView):
    """首页 for a visitor; ``invoices.views.home.HomeView`` adds a signed-in user's own things."""

    template_name = "home.html"


class PlaceholderView(TemplateView):
    """A page a later part of the product fills in; it says so instead of pretending."""

    template_name = "placeholder.html"
    page_title = ""

    def get_context_data(self, **kwargs):
        return super().get_context_data(page_title=self.page_title, **kwargs)


def _check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return "ok"
    except Exception as exc:  # the point is to report it
        logger.warning("healthz: database unavailable: %s", exc.__class__.__name__)
        return "unavailable"


def _check_broker() -> str:
    from piaogen.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return "ok"
    except Exception as exc:
        logger.warning("healthz: broker unavailable: %s", exc.__class__.__name__)
        return "unavailable"


def _check_cache() -> str:
    from django.core.cache import cache

    try:
        cache.get("healthz")
        return "ok"
    except Exception as exc:
        logger.warning("healthz: cache unavailable: %s", exc.__class__.__name__)
        return "unavailable"


def healthz(request):
    """200 with the state of the database and the broker when the site can serve; 503 when the
    database is down. A broker outage delays issuing but loses nothing (the database is the
    outbox), and a cache outage only makes limits count per process (piaogen/throttling.py), so
    both are reported without failing the check."""
    from django.conf import settings

    database = _check_database()
    broker = _check_broker()
    cache = _check_cache()
    body = {
        "status": "ok" if database == broker == cache == "ok" else "degraded",
        "database": database,
        "database_engine": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        "broker": broker,
        "broker_transport": settings.CELERY_BROKER_URL.split(":", 1)[0],
        "cache": cache,
        "cache_backend": settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1],
    }
    return JsonResponse(body, status=200 if database == "ok" else 503)


# --- error pages: JSON under /api/ (the contract's error shape), the site's pages elsewhere --------


def _api_error(request, code: str, message: str, status: int):
    from django.utils.translation import gettext as _

    return JsonResponse({"code": code, "message": _(message), "errors": {}}, status=status)


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def bad_request(request, exception=None):
    from django.views import defaults

    if _is_api(request):
        return _api_error(request, "invalid", _("请求有误。"), 400)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception=None):
    from django.views import defaults

    if _is_api(request):
        return _api_error(request, "forbidden", _("无权访问该接口。"), 403)
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception=None):
    from django.views import defaults

    if _is_api(request):
        return _api_error(request, "not_found", _("找不到该对象。"), 404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    from django.views import defaults

    if _is_api(request):
        return _api_error(request, "server_error", _("服务器内部错误，已记录，请稍后重试。"), 500)
    return defaults.server_error(request)
