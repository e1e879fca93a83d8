"""A cache that cannot be reached, odd values, oversized bodies: clear answers, never a 500,
never a half-written batch."""

from __future__ import annotations

import json

import orjson
import pytest
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from invoices.models import Transit
from piaogen.throttling import local_counters
from tests.helpers.processes import free_port
from tests.invoices.conftest import trip

THREE = [("S-A3", 9733), ("S-B5", 1200), ("S-C0", 500)]


@pytest.fixture
def redis_down(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "piaogen.cache.PooledRedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/5",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 0.2},
        }
    }


@pytest.mark.django_db
def test_with_the_cache_down_the_apis_answer_and_limits_count_in_the_process(world, redis_down, monkeypatch, client):
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json()["cache"] == "unavailable"
    assert health.json()["status"] == "degraded"
    answer = APIClient().post(
        "/api/v1/app/login", {"mobile": world.user.user.mobile, "password": "secret123abc"}, format="json"
    )
    assert answer.status_code == 200, answer.content
    assert world.user.get("/api/v1/app/cards").status_code == 200
    batch = {"transits": [trip("T-OUT", world.card_no, world.when, THREE)]}
    assert world.clearing.post("/api/v1/partner/transits", batch, format="json").json()["created"] == 1
    # a limit still holds meanwhile, counted in this process
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "partner_burst", "3/min")
    local_counters.clear()
    answers = [world.clearing.post("/api/v1/partner/transits", {"transits": []}, format="json") for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    # so do failed-login limits: ten failures lock the account
    api = APIClient()
    for _ in range(10):
        assert (
            api.post(
                "/api/v1/app/login", {"mobile": world.user.user.mobile, "password": "wrong-one-1"}, format="json"
            ).status_code
            == 400
        )
    locked = api.post(
        "/api/v1/app/login", {"mobile": world.user.user.mobile, "password": "secret123abc"}, format="json"
    )
    assert locked.status_code == 429


@pytest.mark.django_db
@pytest.mark.parametrize("odd", [{}, [], {"a": 1}, ["passenger"], True, 3.5])
def test_an_object_or_list_where_a_choice_is_expected_refuses_that_item_only(world, odd):
    good = trip("T-GOOD", world.card_no, world.when, THREE)
    bad = dict(trip("T-BAD", world.card_no, world.when, THREE), vehicle_class=odd, plate_color=odd)
    r = world.clearing.post("/api/v1/partner/transits", {"transits": [bad, good]}, format="json")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["created"] == 1 and [x["code"] for x in body["rejected"]] == ["invalid"]
    assert {"vehicle_class", "plate_color"} <= set(body["rejected"][0]["errors"])
    operator = {
        "code": "OP-ODD",
        "name": "x",
        "tax_id": "",
        "province_code": "4100",
        "machine_no": "410000000009",
        "sections": [
            {"code": "S-ODD", "name": "y", "grade": odd, "property": {"x": 1}, "construction_start": "2010-01-01"}
        ],
    }
    r = world.clearing.post("/api/v1/partner/operators", {"operators": [operator]}, format="json")
    assert r.status_code == 200 and r.json()["rejected"][0]["code"] == "invalid"


def _full_batch(world, segments: int) -> bytes:
    per = [(code, 1) for code, _fee in (THREE * 7)[:segments]]
    items = [
        trip(
            f"G0401410010020{i:06d}20260905080000-01",
            world.card_no,
            world.when,
            per,
            entry_station="郑州航空港区收费站（主线）",
            exit_station="安阳东收费站（主线）",
        )
        for i in range(5000)
    ]
    return orjson.dumps({"transits": items})


@pytest.mark.django_db
def test_a_full_batch_of_5000_trips_of_6_segments_is_accepted(world):
    body = _full_batch(world, 6)
    assert len(body) > 2.5 * 1024 * 1024  # beyond Django's default for request bodies
    r = world.clearing.generic("POST", "/api/v1/partner/transits", body, content_type="application/json")
    assert r.status_code == 200, r.content[:300]
    assert r.json()["created"] == 5000 and Transit.objects.count() == 5000


@pytest.mark.django_db
def test_an_oversized_body_gets_413_naming_the_limit(world, settings):
    settings.PARTNER_MAX_BODY_BYTES = 1024 * 1024
    body = _full_batch(world, 6)
    r = world.clearing.generic("POST", "/api/v1/partner/transits", body, content_type="application/json")
    assert r.status_code == 413
    answer = r.json()
    assert answer["code"] == "body_too_large" and answer["limit_bytes"] == 1024 * 1024 and "1 MiB" in answer["message"]
    assert Transit.objects.count() == 0
    # elsewhere Django's own limit holds, answered the same way
    big = json.dumps({"mobile": "1" * (3 * 1024 * 1024)})
    r = APIClient().generic("POST", "/api/v1/app/login", big, content_type="application/json")
    assert r.status_code == 413 and r.json()["code"] == "body_too_large"


@pytest.mark.django_db
def test_an_oversized_body_from_a_stranger_is_a_401_before_it_is_read():
    r = APIClient().generic(
        "POST", "/api/v1/partner/transits", b"{" + b" " * (20 * 1024 * 1024) + b"}", content_type="application/json"
    )
    assert r.status_code == 401
