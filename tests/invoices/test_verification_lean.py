"""The lean route of ``GET /api/v1/verify`` (piaogen.middleware.LeanGetMiddleware and
invoices.api.verification.verify_get): it answers every GET of the endpoint, and each answer —
status, body, headers — is the one DRF's VerifyView gives through the whole middleware stack;
the refusals, the owner's token, a database error, a bad host, the other methods; and the one
query of a check (a prepared statement, no health check) surviving a closed connection or a
server that forgets its statements."""

from __future__ import annotations

import pytest
from django.db import OperationalError, connection
from rest_framework.test import APIClient

from invoices import verification
from invoices.api import verification as api_verification
from invoices.api.verification import VerifyThrottle, VerifyView, verify_get
from invoices.models import Invoice
from piaogen import middleware

from . import test_verification
from .test_verification import REDIS_URL, URL, params, wrong_check

# the fixtures
applied, issued, counters = test_verification.applied, test_verification.issued, test_verification.counters

LEAN = "piaogen.middleware.LeanGetMiddleware"


@pytest.fixture
def both(settings):
    """Two clients: one through the lean route, one through DRF and every middleware (the
    site's MIDDLEWARE without the lean route: each client loads the middleware it was made
    with)."""
    lean = APIClient()
    lean.get("/healthz")  # loads the middleware as the settings are now
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != LEAN]
    full = APIClient()
    full.get("/healthz")
    return lean, full


def same_answer(lean_response, full_response) -> None:
    assert lean_response.status_code == full_response.status_code
    assert lean_response.content == full_response.content
    lean_headers, full_headers = dict(lean_response.headers), dict(full_response.headers)
    if "Retry-After" in full_headers:  # seconds to midnight: a second may pass between the two
        assert abs(int(lean_headers.pop("Retry-After")) - int(full_headers.pop("Retry-After"))) <= 1
    assert lean_headers == full_headers


def test_the_lean_route_is_the_verification_endpoint_only():
    from django.conf import settings

    assert LEAN in settings.MIDDLEWARE
    assert settings.MIDDLEWARE.index(LEAN) > settings.MIDDLEWARE.index("piaogen.middleware.CSPMiddleware")
    assert middleware.lean_routes(settings.ROOT_URLCONF) == {URL: verify_get}
    assert VerifyView.lean_get is verify_get


def test_with_prepend_www_nothing_takes_the_lean_route(settings):
    settings.PREPEND_WWW = True
    assert middleware.lean_routes(settings.ROOT_URLCONF) == {}
    settings.PREPEND_WWW = False
    assert middleware.lean_routes(settings.ROOT_URLCONF) == {URL: verify_get}


@pytest.mark.django_db
def test_a_get_never_reaches_drf(api, issued, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the GET went through DRF")

    monkeypatch.setattr(VerifyView, "get", refuse)
    r = api.get(URL, params(issued))
    assert r.status_code == 200 and r.json()["result"] == "genuine"


@pytest.mark.django_db
def test_every_answer_is_drfs_answer(both, issued, counters, settings):
    """The same requests, each pair from a client of its own, through both routes."""
    lean, full = both
    per_client = settings.VERIFY_MAX_CHECKS_PER_CLIENT_INVOICE
    other = Invoice.objects.exclude(pk=issued.pk).first()
    cases = {
        "genuine": params(issued),
        "not_found": params(issued, number="99999999"),
        "mismatch": wrong_check(issued),
        "malformed": params(issued, code="12345", date="2026-02-31"),
        "nothing": {},
        "repeated": {"code": ["1", issued.code], "number": issued.number},
        "nul": params(issued, check="12345\x00"),
        "unknown kind": params(issued, document_kind="paper"),
    }
    for n, (name, query) in enumerate(cases.items()):
        a = lean.get(URL, query, REMOTE_ADDR=f"10.60.{n}.1")
        b = full.get(URL, query, REMOTE_ADDR=f"10.61.{n}.1")
        same_answer(a, b)
        assert a["Content-Type"] == "application/json" and "Content-Security-Policy" in a, name
        if name != "nul":  # refused before the language and the frame options, on both routes
            assert a["X-Frame-Options"] == "DENY" and a["Content-Language"] == "zh-hans", name
    assert lean.get(URL, cases["genuine"]).json()["result"] == "genuine"
    assert lean.get(URL, cases["nul"]).json()["result"] == "malformed"
    # the invoice's limit for one client: the sixth check of the day
    for client, address in ((lean, "10.62.0.1"), (full, "10.63.0.1")):
        for _ in range(per_client):
            assert client.get(URL, params(other), REMOTE_ADDR=address).status_code == 200
    a = lean.get(URL, params(other), REMOTE_ADDR="10.62.0.1")
    b = full.get(URL, params(other), REMOTE_ADDR="10.63.0.1")
    same_answer(a, b)
    assert a.status_code == 429 and a.json()["limit"] == "invoice" and 0 < int(a["Retry-After"]) <= 86400


@pytest.mark.django_db
def test_the_client_limit_and_the_ceiling_are_drfs_answers(both, issued, counters, settings, monkeypatch, world):
    lean, full = both
    monkeypatch.setattr(VerifyThrottle, "rate", "2/min", raising=False)
    for client, address in ((lean, "10.64.0.1"), (full, "10.65.0.1")):
        assert [client.get(URL, {"code": "1"}, REMOTE_ADDR=address).status_code for _ in range(2)] == [400, 400]
    a = lean.get(URL, params(issued), REMOTE_ADDR="10.64.0.1")
    b = full.get(URL, params(issued), REMOTE_ADDR="10.65.0.1")
    same_answer(a, b)
    assert a.status_code == 429 and a.json()["limit"] == "client" and 0 < int(a["Retry-After"]) <= 60
    assert a.json()["code"] == "too_many_checks" and a.json()["message"]
    monkeypatch.setattr(VerifyThrottle, "rate", "1000/min", raising=False)
    # everyone's checks of the invoice reach the ceiling
    settings.VERIFY_MAX_CHECKS_PER_INVOICE = 4
    statuses = [lean.get(URL, wrong_check(issued), REMOTE_ADDR=f"10.66.{n}.1").status_code for n in range(4)]
    assert statuses == [200] * 4
    a = lean.get(URL, params(issued), REMOTE_ADDR="10.66.9.1")
    b = full.get(URL, params(issued), REMOTE_ADDR="10.66.9.2")
    same_answer(a, b)
    assert a.status_code == 429 and a.json()["limit"] == "invoice_total"
    # the owner's App token: counted for the owner alone, genuine on both routes
    owner = world.user._credentials["HTTP_AUTHORIZATION"]
    a = lean.get(URL, params(issued), REMOTE_ADDR="10.66.9.3", HTTP_AUTHORIZATION=owner)
    b = full.get(URL, params(issued), REMOTE_ADDR="10.66.9.4", HTTP_AUTHORIZATION=owner)
    same_answer(a, b)
    assert a.status_code == 200 and a.json()["result"] == "genuine"
    # a wrong token changes nothing
    a = lean.get(URL, params(issued), REMOTE_ADDR="10.66.9.5", HTTP_AUTHORIZATION="Bearer not-a-token")
    assert a.status_code == 429 and a.json()["limit"] == "invoice_total"
    a = lean.get(URL, params(issued), REMOTE_ADDR="10.66.9.5", HTTP_AUTHORIZATION="Bearer two words")
    assert a.status_code == 429 and a.json()["limit"] == "invoice_total"


@pytest.mark.django_db
def test_a_database_error_is_the_apis_503_on_both_routes(both, issued, monkeypatch):
    lean, full = both

    def down(code, number):
        raise OperationalError("the database is down")

    monkeypatch.setattr(verification, "find", down)
    a = lean.get(URL, params(issued), REMOTE_ADDR="10.67.0.1")
    b = full.get(URL, params(issued), REMOTE_ADDR="10.67.0.2")
    same_answer(a, b)
    assert a.status_code == 503 and a.json()["code"] == "unavailable" and a["Retry-After"] == "30"


@pytest.mark.django_db
def test_an_error_in_the_check_is_answered_as_django_answers_it(api, issued, monkeypatch):
    def broken(outcome):
        raise RuntimeError("a bug")

    monkeypatch.setattr(api_verification, "answer", broken)
    client = APIClient(raise_request_exception=False)
    r = client.get(URL, params(issued))
    assert r.status_code == 500 and r.json()["code"] == "server_error"
    assert r["X-Frame-Options"] == "DENY" and r["Content-Language"] == "zh-hans"


@pytest.mark.django_db
def test_a_host_not_allowed_is_refused_on_the_lean_route(api, issued, settings):
    settings.ALLOWED_HOSTS = ["piaogen.example"]
    r = api.get(URL, params(issued), HTTP_HOST="evil.example")
    assert r.status_code == 400
    assert api.get(URL, params(issued), HTTP_HOST="piaogen.example").json()["result"] == "genuine"


@pytest.mark.django_db
def test_cookies_change_nothing(api, issued):
    """The API answers in zh-hans whatever the language cookie says, and reads no session."""
    api.cookies["django_language"] = "en"
    api.cookies["sessionid"] = "not-a-session"
    r = api.get(URL, params(issued, number="99999999"))
    assert r.status_code == 200 and r.json()["message"].startswith("查无此票")
    assert r["Content-Language"] == "zh-hans" and "Set-Cookie" not in r and "Vary" not in r


@pytest.mark.django_db
def test_the_other_methods_and_paths_go_the_whole_way(api, issued):
    head = api.head(URL, params(issued))
    assert head.status_code == 200 and head["Allow"] == "GET, HEAD, OPTIONS"
    assert api.options(URL).status_code == 200
    post = api.post(URL, params(issued), format="json")
    assert post.status_code == 405 and post.json()["code"] == "method_not_allowed"
    slash = api.get(URL + "/", params(issued))
    assert slash.status_code == 404 and slash.json()["code"] == "not_found"


# --- the one query: prepared once per connection, no health check --------------------------------


@pytest.mark.django_db
def test_one_query_a_check_and_the_statement_is_prepared(api, issued, settings, django_assert_num_queries):
    settings.CACHES = {"default": {"BACKEND": "piaogen.cache.PooledRedisCache", "LOCATION": REDIS_URL}}
    from django.core.cache import cache

    cache.clear()
    api.get(URL, params(issued, number="99999999"))  # prepares it on this connection, if not yet
    api.get(URL, params(issued), REMOTE_ADDR="10.68.0.2")
    # One read: the database's read function finds the month from the invoice's key and reads
    # the invoice with that month's statement (invoices.verification.install_read_function).
    with django_assert_num_queries(1) as captured:
        assert api.get(URL, params(issued), REMOTE_ADDR="10.68.0.1").json()["result"] == "genuine"
    assert all(q["sql"].startswith("EXECUTE verify_") for q in captured.captured_queries)
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE name LIKE 'verify%%'")
        statements = [row[0] for row in cursor.fetchall()]
    # one statement, prepared once on this connection: the call of the function
    assert len(statements) == 1 and verification.read_function_name() in statements[0]
    # a code and number no invoice has: the same one read
    with django_assert_num_queries(1):
        assert api.get(URL, params(issued, number="99999998"), REMOTE_ADDR="10.68.0.3").json()["result"] == "not_found"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_connection_the_server_closed_is_replaced_without_a_failed_check(api, issued):
    import psycopg

    assert api.get(URL, params(issued)).json()["result"] == "genuine"
    ended = connection.connection.info.backend_pid
    # What a restart of the server, or its idle timeout, does to the session Django keeps open.
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [ended])
    r = api.get(URL, params(issued), REMOTE_ADDR="10.69.0.1")
    assert r.status_code == 200 and r.json()["result"] == "genuine"
    assert connection.connection.info.backend_pid != ended


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_statement_the_server_forgot_is_prepared_again(api, issued):
    assert api.get(URL, params(issued)).json()["result"] == "genuine"
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # as DISCARD ALL or a pooler's reset would
    r = api.get(URL, params(issued), REMOTE_ADDR="10.70.0.1")
    assert r.status_code == 200 and r.json()["result"] == "genuine"
    assert verification._Prepared.usable


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_where_statements_are_never_kept_plain_queries_take_over(api, issued, monkeypatch, caplog):
    """A server (or pooler) on which a prepared statement is never there: one warning, then
    plain queries, and no check fails."""
    monkeypatch.setattr(verification._Prepared, "usable", True)
    monkeypatch.setattr(verification, "_statement", lambda *statement: ("verify_nowhere", "SELECT 1"))
    r = api.get(URL, params(issued), REMOTE_ADDR="10.71.0.1")
    assert r.status_code == 200 and r.json()["result"] == "genuine"
    assert verification._Prepared.usable is False and "prepared statements refused" in caplog.text
    r = api.get(URL, params(issued), REMOTE_ADDR="10.71.0.2")
    assert r.status_code == 200 and r.json()["result"] == "genuine"


@pytest.mark.django_db
def test_inside_a_transaction_a_failed_read_is_not_retried(issued, monkeypatch):
    """A transaction cannot go on after an error: the error is the caller's (no reconnection
    under it)."""
    monkeypatch.setattr(verification, "_statement", lambda *statement: ("verify_nowhere", "SELECT 1"))
    with pytest.raises(Exception) as raised:
        verification.find(issued.code, issued.number)
    assert "verify_nowhere" in str(raised.value)
    assert verification._Prepared.usable
