"""Requests no view should see."""

from __future__ import annotations

import logging
from dataclasses import asdict

import csp.middleware
from csp.constants import HEADER as CSP_HEADER
from csp.constants import HEADER_REPORT_ONLY as CSP_HEADER_REPORT_ONLY
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
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


class CSPMiddleware(csp.middleware.CSPMiddleware):
    """django-csp's middleware with the site's policy written once, not for every answer: building
    the header from the settings took a quarter of the time all the middleware spend on a small
    API answer. Answers whose policy a view changes (django-csp's decorators) or that use a nonce
    are built as django-csp builds them; a change of the settings (tests) empties the cache."""

    _built: dict[bool, str] = {}

    def _policy(self, request, response, report_only: bool) -> str:
        parts = self.get_policy_parts(request=request, response=response, report_only=report_only)
        if parts.config is None and parts.update is None and parts.replace is None and parts.nonce is None:
            header = self._built.get(report_only)
            if header is None:
                header = self._built[report_only] = build_policy(report_only=report_only)
            return header
        return build_policy(**asdict(parts), report_only=report_only)

    # django-csp 4.0's process_response, reading the policy through _policy
    def process_response(self, request, response):
        if response.status_code in (500, 404) and settings.DEBUG:
            return response
        for report_only, header, setting, exempt in (
            (False, CSP_HEADER, "CONTENT_SECURITY_POLICY", "_csp_exempt"),
            (True, CSP_HEADER_REPORT_ONLY, "CONTENT_SECURITY_POLICY_REPORT_ONLY", "_csp_exempt_ro"),
        ):
            policy = self._policy(request, response, report_only)
            if not policy or header in response or getattr(response, exempt, False) is not False:
                continue
            prefixes = (getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES", None) or ()
            if not request.path_info.startswith(tuple(prefixes)):
                response[header] = policy
        if getattr(request, "_csp_nonce", None) is None:
            request.csp_nonce = csp.middleware.CheckableLazyObject(self._csp_nonce_post_response)
        return response


@receiver(setting_changed)
def _forget_built_policies(setting, **kwargs):
    if setting in ("CONTENT_SECURITY_POLICY", "CONTENT_SECURITY_POLICY_REPORT_ONLY"):
        CSPMiddleware._built.clear()
