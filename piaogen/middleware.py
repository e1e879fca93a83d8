"""Requests no view should see."""

from __future__ import annotations

import logging

from django.http import JsonResponse
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)


def _fields_with_nul(request) -> list[str]:
    found = []
    if "\x00" in request.path_info:
        found.append("path")
    found += [key for key, values in request.GET.lists() if "\x00" in key or any("\x00" in v for v in values)]
    # JSON bodies (up to 5000 items a partner batch) are checked by the API's parser instead,
    # piaogen.parsers.StrictJSONParser, which reads them anyway; forms are small and parsed here.
    content_type = request.META.get("CONTENT_TYPE", "")
    if request.method == "POST" and content_type.startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        found += [key for key, values in request.POST.lists() if "\x00" in key or any("\x00" in v for v in values)]
    return found


class RejectNulMiddleware:
    """A NUL character in a path, a query or a form is refused with a clear 400 naming the
    fields, before any view runs. No legitimate input carries one, and PostgreSQL can neither
    store nor compare text that does: let through, it would end as a 500 in whichever query
    met it first."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        fields = _fields_with_nul(request)
        if not fields:
            return self.get_response(request)
        logger.info("request refused: NUL character in %s", ", ".join(f[:40] for f in fields))
        if request.path_info.startswith("/api/"):
            message = _("请求中含有不允许的空字符（NUL）。")
            body = {"code": "invalid", "message": message, "errors": {f[:40]: [message] for f in fields}}
            if request.path_info.startswith("/api/v1/verify"):
                body["result"] = "malformed"  # the verification answer's own field (api.md)
            return JsonResponse(body, status=400)
        from .views import bad_request

        return bad_request(request)
