"""Bad input against the API: Schemathesis generates requests from the OpenAPI schema the project
serves (``/api/schema/``) for every operation, schema-valid and schema-violating alike, with
valid tokens and without. No answer may be a 500, and every answer must be one the schema
describes (status, content type, body, headers).

CI runs a bounded number of examples per operation; a longer run:

    SCHEMATHESIS_MAX_EXAMPLES=200 .venv/bin/python -m pytest tests/reliability/test_api_fuzz.py
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from rest_framework.throttling import SimpleRateThrottle
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts import services as account_services
from piaogen.demo import demo_uscc

from .conftest import push_trips, submit

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25"))
PARTNER_KIND = {
    "operators": "clearing",
    "transits": "clearing",
    "cards": "issuer",
    "recharges": "issuer",
    "invoices": "enterprise",
}


@pytest.fixture
def tokens(world, partner_client):
    """A user with a bound card, trips and an issued application; a partner of every kind."""
    push_trips(world, 3)
    submit(world)
    enterprise = partner_client("enterprise", name="模糊测试企业", tax_id=demo_uscc("91410000MA0FAKE01"))
    user = world.user.user
    return {
        # a token of its own for every request: an operation that ends its token (app/logout,
        # app/password) must not leave the operations after it fuzzed with a dead one
        "app": lambda: f"Bearer {account_services.app_token_issue(user=user)}",
        "clearing": world.clearing._credentials["HTTP_AUTHORIZATION"],
        "issuer": world.issuer._credentials["HTTP_AUTHORIZATION"],
        "enterprise": enterprise._credentials["HTTP_AUTHORIZATION"],
    }


@pytest.fixture
def loose_throttles(monkeypatch):
    """The fuzzer sends hundreds of calls a minute with one token; the throttles are proved in
    test_abuse.py, here they would only hide the endpoints behind 429s."""
    for scope in ("app", "anon_auth", "partner_burst", "partner_sustained", "verify"):
        monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, scope, "100000/min")


def _token_for(path: str, tokens: dict):
    """A function giving the Authorization header for a request to ``path``, or None."""
    if path.startswith("/api/v1/app/"):
        return tokens["app"]
    if path.startswith("/api/v1/partner/"):
        token = tokens[PARTNER_KIND[path.split("/")[4]]]
        return lambda: token
    return None


def _fuzz(operation, mode: GenerationMode, token, examples: int, failures: list) -> int:
    sent = 0

    @hypothesis_settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        nonlocal sent
        sent += 1
        headers = {"Authorization": token()} if token else {}
        try:
            case.call_and_validate(headers=headers, checks=CHECKS)
        except (Exception, BaseExceptionGroup) as exc:  # collected: one run reports every failing operation
            failures.append(f"{operation.label} [{mode.value}, {'token' if headers else 'no token'}]: {exc}"[:1500])

    run()
    return sent


@pytest.fixture
def wsgi_app():
    """The project's WSGI application, served in-process as Django's test client serves it: the
    request signals must not close the test's database connection."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield get_wsgi_application()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


# The operations are fuzzed in a few shards, each a test of its own, so that the suite's workers
# share them (one test of every operation was the suite's longest by far).
SHARDS = 4


@pytest.mark.django_db
@pytest.mark.parametrize("shard", range(SHARDS))
def test_every_operation_with_and_without_tokens_answers_as_its_schema_says(shard, tokens, loose_throttles, wsgi_app):
    schema = schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app)
    failures: list[str] = []
    sent = 0
    operations = sorted((result.ok() for result in schema.get_all_operations()), key=lambda op: op.label)
    assert len(operations) >= 40  # every endpoint of api.md is in the schema
    for operation in operations[shard::SHARDS]:
        token = _token_for(operation.path, tokens)
        for with_token in [True, False] if token else [False]:
            modes = (
                [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
                if with_token or not token
                else [GenerationMode.NEGATIVE]
            )
            for mode in modes:
                examples = MAX_EXAMPLES if with_token or not token else max(2, MAX_EXAMPLES // 5)
                sent += _fuzz(operation, mode, token if with_token else None, examples, failures)
    print(f"\nschemathesis, shard {shard}: {len(operations[shard::SHARDS])} operations, {sent} requests")
    assert not failures, "\n\n".join(failures[:20])


def test_the_schema_needs_no_login_and_builds(client):
    r = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    for path, methods in paths.items():
        for method, operation in methods.items():
            assert "503" in operation["responses"], (method, path)
            if operation.get("security") and any("AppToken" in s or "PartnerToken" in s for s in operation["security"]):
                assert "401" in operation["responses"] and "429" in operation["responses"], (method, path)


# --- type confusion in the partners' bulk bodies -------------------------------------------------
#
# Generated examples rarely put an object where a partner item has a choice (the schema's enum),
# which is what made a whole batch a 500 (a dict cannot be looked up in a set of choices). Every
# field of a valid item, at every depth, is replaced here by each odd value in turn, beside a good
# item: the odd item is refused alone, the good one is stored, nothing answers 500.

ODD_VALUES = [{}, [], {"a": 1}, ["x"], None, True, "", 10**30, -1, "\u202e"]


def _leaves(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*path, key)
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list) and node:
        yield from _leaves(node[0], (*path, 0))


def _replaced(item, path, value):
    import copy

    out = copy.deepcopy(item)
    node = out
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return out


@pytest.mark.django_db
def test_odd_values_in_every_field_of_partner_items_refuse_that_item_only(world, loose_throttles):
    from tests.invoices.conftest import OPERATORS, card_item, resident_id

    from .conftest import trip as make_trip

    good_trip = make_trip("T-GOOD-{n}", world.card_no, world.when, [("S-A3", 100), ("S-B5", 50)])
    stored_value = world.cards[1]["card_no"]
    bodies = {
        ("transits", world.clearing, "transit_id"): good_trip,
        ("operators", world.clearing, "code"): dict(
            OPERATORS["operators"][0],
            code="OP-GOOD-{n}",
            sections=[dict(OPERATORS["operators"][0]["sections"][0], code="S-GOOD-{n}")],
        ),
        ("recharges", world.issuer, "recharge_id"): {
            "recharge_id": "R-GOOD-{n}",
            "card_no": stored_value,
            "amount": 100,
            "recharged_at": world.when.isoformat(),
        },
        ("cards", world.issuer, "card_no"): card_item("4101000000000001{n:04d}", "13700000031", resident_id(31)),
    }
    sent, failures, n = 0, [], 0
    for (endpoint, client, key), template in bodies.items():
        for path in _leaves(template):
            for odd in ODD_VALUES:
                n += 1

                def fresh(value, n=n):
                    return {k: (v.format(n=n) if isinstance(v, str) and "{n" in v else v) for k, v in value.items()}

                good = fresh(template)
                if endpoint == "operators":
                    good["sections"] = [fresh(s) for s in template["sections"]]
                bad = _replaced(fresh(template), path, odd)
                if isinstance(bad.get(key), str) and bad[key] == good[key]:
                    bad[key] = bad[key] + "-ODD"
                r = client.post(f"/api/v1/partner/{endpoint}", {endpoint: [bad, good]}, format="json")
                sent += 1
                if r.status_code != 200:
                    failures.append(f"{endpoint} {path}={odd!r}: {r.status_code} {r.content[:200]!r}")
                    continue
                answer = r.json()
                stored = answer["created"] + answer["updated"] + answer["unchanged"]
                if stored < 1:
                    failures.append(f"{endpoint} {path}={odd!r}: the good item was not stored: {answer}")
    print(f"\ntype confusion: {sent} batches, {len(failures)} failures")
    assert not failures, "\n".join(failures[:20])
