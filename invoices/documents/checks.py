"""Says when this machine cannot render invoice documents: a system check (``manage.py check``,
and every server start) and a log line when a Celery worker starts. Warnings, not errors: web
servers never render, and the render task itself refuses with the same message
(``rendering.ensure_ready``), which the console shows on the invoice."""

from __future__ import annotations

import logging

from celery.signals import worker_ready
from django.core import checks

from . import rendering

logger = logging.getLogger(__name__)


@checks.register(checks.Tags.compatibility)
def rendering_ready(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    return [
        checks.Warning(problem, hint="See docs/performance.md, section Documents.", id="invoices.W001")
        for problem in rendering.readiness_problems()
    ]


@worker_ready.connect
def log_rendering_readiness(sender=None, **kwargs) -> None:
    for problem in rendering.readiness_problems():
        logger.error("invoice documents cannot be rendered by this worker: %s", problem)
