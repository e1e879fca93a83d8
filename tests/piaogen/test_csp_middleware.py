"""The content security policy header, written once per process (piaogen.middleware.CSPMiddleware):
the same header as django-csp's own middleware, and what a view changes still applies."""

import csp.middleware
from csp.decorators import csp_exempt, csp_update
from django.http import HttpResponse
from django.test import RequestFactory

from piaogen.middleware import CSPMiddleware

HEADER = "Content-Security-Policy"


def answer(middleware_class, view, path="/"):
    request = RequestFactory().get(path)
    middleware = middleware_class(view)
    return middleware(request)


def plain(request):
    return HttpResponse("x")


def directives(header: str) -> set[str]:
    return {d.strip() for d in header.split(";")}


def test_the_header_is_django_csps():
    ours = answer(CSPMiddleware, plain)[HEADER]
    theirs = answer(csp.middleware.CSPMiddleware, plain)[HEADER]
    assert directives(ours) == directives(theirs)
    assert "script-src 'self'" in ours and "frame-ancestors 'none'" in ours
    assert answer(CSPMiddleware, plain)[HEADER] == ours  # the one written for the next answer too


def test_a_view_that_changes_the_policy_gets_its_own():
    changed = csp_update({"img-src": ["https://maps.example"]})(plain)
    assert "https://maps.example" in answer(CSPMiddleware, changed)[HEADER]
    assert "https://maps.example" not in answer(CSPMiddleware, plain)[HEADER]
    assert HEADER not in answer(CSPMiddleware, csp_exempt()(plain))


def test_a_nonce_asked_for_is_in_the_header(settings):
    policy = {"DIRECTIVES": {"default-src": ["'self'"], "script-src": ["'self'", csp.constants.NONCE]}}
    settings.CONTENT_SECURITY_POLICY = policy

    def with_nonce(request):
        return HttpResponse(str(request.csp_nonce))

    response = answer(CSPMiddleware, with_nonce)
    assert f"'nonce-{response.content.decode()}'" in response[HEADER]
    assert "nonce" not in answer(CSPMiddleware, plain)[HEADER]


def test_a_change_of_the_settings_is_seen(settings):
    before = answer(CSPMiddleware, plain)[HEADER]
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'none'"]}}
    assert answer(CSPMiddleware, plain)[HEADER] == "default-src 'none'"
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = {"DIRECTIVES": {"default-src": ["'self'"]}}
    assert answer(CSPMiddleware, plain)["Content-Security-Policy-Report-Only"] == "default-src 'self'"
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = None
    assert "Content-Security-Policy-Report-Only" not in answer(CSPMiddleware, plain)
    assert before != "default-src 'none'"
