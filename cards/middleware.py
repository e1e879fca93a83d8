"""Tells a user, once, on their next page visit, that the issuer (or staff) unbound a card."""

from __future__ import annotations

from django.contrib import messages

from . import services

# Paths that are not pages a person reads: no notice is spent on them.
SKIP_PREFIXES = ("/api/", "/admin/", "/static/", "/healthz", "/i18n/")


class UnbindingNoticeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (
            request.method == "GET"
            and not request.path_info.startswith(SKIP_PREFIXES)
            and getattr(request, "user", None) is not None
            and request.user.is_authenticated
        ):
            for binding in services.binding_notices_take(user=request.user):
                messages.warning(request, services.notice_text(binding))
        return self.get_response(request)
