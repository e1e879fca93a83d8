"""Requests no view should see, the site's security headers, and the lean route of public GETs."""

from __future__ import annotations

import logging
from dataclasses import asdict

import csp.middleware
from csp.constants import HEADER as CSP_HEADER
from csp.constants import HEADER_REPORT_ONLY as CSP_HEADER_REPORT_ONLY
from csp.utils import build_policy
from django.conf import settings
from django.core.handlers.exception import response_for_exception
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import JsonResponse
from django.urls import URLResolver, get_resolver
from django.urls.exceptions import Resolver404
from django.urls.resolvers import RoutePattern
from django.utils import translation
from django.utils.translation import gettext as _

from .i18n import API_PREFIX

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
        return _refuse_nul(request, fields)


def _refuse_nul(request, fields: list[str]):
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


# --- The lean route ---------------------------------------------------------------------------

# ROOT_URLCONF → {path: the lean handler of the view at that path}; found once per URLconf.
_lean_routes: dict[str, dict] = {}


def lean_handler_of(callback):
    """The ``lean_get`` a view declares (on a function, or on the class of a class-based view),
    or None."""
    for owner in (callback, getattr(callback, "view_class", None), getattr(callback, "cls", None)):
        handler = getattr(owner, "lean_get", None)
        if handler is not None:
            return handler
    return None


def lean_routes(urlconf: str) -> dict:
    """The API paths, without converters, whose view declares ``lean_get``: only those that
    resolve to that very view (no earlier pattern shadows them)."""
    routes = _lean_routes.get(urlconf)
    if routes is not None:
        return routes
    routes = {}
    if not settings.PREPEND_WWW and not settings.DISALLOWED_USER_AGENTS:  # CommonMiddleware's rules
        resolver = get_resolver(urlconf)

        def walk(patterns, prefix: str) -> None:
            for pattern in patterns:
                if not isinstance(pattern.pattern, RoutePattern) or pattern.pattern.converters:
                    continue
                route = prefix + str(pattern.pattern)
                if isinstance(pattern, URLResolver):
                    walk(pattern.url_patterns, route)
                    continue
                handler = lean_handler_of(pattern.callback)
                path = "/" + route
                if handler is None or not path.startswith(API_PREFIX) or path in routes:
                    continue
                try:
                    if resolver.resolve(path).func is pattern.callback:
                        routes[path] = handler
                except Resolver404:
                    continue

        walk(resolver.url_patterns, "")
    _lean_routes[urlconf] = routes
    return routes


@receiver(setting_changed)
def _forget_lean_routes(setting, **kwargs):
    if setting in ("ROOT_URLCONF", "PREPEND_WWW", "DISALLOWED_USER_AGENTS"):
        _lean_routes.clear()


class LeanGetMiddleware:
    """Answers a GET of an API view that declares a lean handler (``lean_get``, a function of
    the request) directly, without the middleware after this one and without URL resolution.

    For a public, read-only GET of the API that middleware has nothing to do: sessions, CSRF,
    authentication, OTP and messages are lazy and untouched (the API reads no session; a lean
    handler authenticates a bearer token itself if it takes one), the page notices and the
    history skip API paths, and the replica router decides only for ORM reads of views marked
    ``replica_reads``. What it does do for such a GET is done here too, so that the answer is
    the same: the Host check of CommonMiddleware (``ALLOWED_HOSTS``), the refusal of a NUL
    character (RejectNulMiddleware), the API's language (settings.LANGUAGE_CODE, whatever
    cookie is sent: piaogen.i18n), and the headers Content-Language, X-Frame-Options and
    Content-Length. It sits after SecurityMiddleware and CSPMiddleware, whose redirect and
    headers apply to every answer. Any other method, any other path, a path with a trailing
    slash, goes the whole way; so does everything while ``PREPEND_WWW`` or
    ``DISALLOWED_USER_AGENTS`` is set."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method == "GET":
            handler = lean_routes(settings.ROOT_URLCONF).get(request.path_info)
            if handler is not None:
                return self.serve(request, handler)
        return self.get_response(request)

    @staticmethod
    def serve(request, handler):
        request.get_host()  # DisallowedHost → 400, as CommonMiddleware checks on every request
        fields = _fields_with_nul(request)
        if fields:
            response = _refuse_nul(request, fields)
        else:
            language = request.LANGUAGE_CODE = settings.LANGUAGE_CODE
            try:
                with translation.override(language):
                    response = handler(request)
            except Exception as exc:  # as Django answers an exception in a view, then the headers below
                response = response_for_exception(request, exc)
            response.headers.setdefault("Content-Language", language)
            if "X-Frame-Options" not in response and not getattr(response, "xframe_options_exempt", False):
                response["X-Frame-Options"] = getattr(settings, "X_FRAME_OPTIONS", "DENY").upper()
        if not response.streaming and "Content-Length" not in response:
            response["Content-Length"] = str(len(response.content))
        return response
