from __future__ import annotations

import logging

from django.db import connection
from django.http import JsonResponse
from django.views.generic import TemplateView

logger = logging.getLogger(__name__)


class HomeView(TemplateView):
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


def healthz(request):
    """200 with the state of the database and the broker when the site can serve; 503 when the
    database is down. A broker outage delays issuing but loses nothing (the database is the
    outbox), so it is reported without failing the check."""
    from django.conf import settings

    database = _check_database()
    broker = _check_broker()
    body = {
        "status": "ok" if database == "ok" and broker == "ok" else "degraded",
        "database": database,
        "database_engine": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        "broker": broker,
        "broker_transport": settings.CELERY_BROKER_URL.split(":", 1)[0],
    }
    return JsonResponse(body, status=200 if database == "ok" else 503)
