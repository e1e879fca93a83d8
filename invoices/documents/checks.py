"""A system check (``manage.py check``, and every server start) that says when this machine
cannot render invoice documents. A warning, not an error: web servers never render, and the
render worker refuses with the same message (``rendering.ensure_ready``)."""

from __future__ import annotations

from django.core import checks

from . import rendering


@checks.register(checks.Tags.compatibility)
def rendering_ready(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    return [
        checks.Warning(problem, hint="See docs/performance.md, section Documents.", id="invoices.W001")
        for problem in rendering.readiness_problems()
    ]
