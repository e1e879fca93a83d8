from datetime import date, timedelta

import pytest
from django.urls import reverse

from invoices.selectors import transit_availability

from .conftest import trip

THREE = [("S-A3", 9733), ("S-B5", 1200), ("S-C0", 500)]


def push(world, n=1, split=THREE):
    items = [trip(f"T{i}", world.card_no, world.when + timedelta(hours=i), split) for i in range(n)]
    r = world.clearing.post("/api/v1/partner/transits", {"transits": items}, format="json")
    assert r.json()["created"] == n


@pytest.mark.django_db
def test_app_transits_show_split_rates_and_future_invoices(world):
    push(world, split=THREE + [("S-C9", 300)])
    r = world.user.get("/api/v1/app/transits", {"card_no": world.card_no, "month": "2026-09"})
    assert r.status_code == 200
    [t] = r.json()
    assert t["fee"] == 11733 and t["invoice_state"] == "open"
    assert [(s["section_code"], s["rate"], s["operator_name"]) for s in t["segments"]] == [
        ("S-A3", "0.03", "甲高速公司"),
        ("S-B5", "0.05", "乙一级公路公司"),
        ("S-C0", None, "丙还贷中心"),
        ("S-C9", "0.09", "丙还贷中心"),
    ]
    # one invoice per seller and tax kind: 丙 has a taxable and a non-taxable share
    assert t["invoice_count"] == 4
    assert t["entry_time"].endswith("+08:00")


@pytest.mark.django_db
def test_app_transits_refusals(world, app_client):
    assert world.user.get("/api/v1/app/transits").status_code == 400
    r = world.user.get("/api/v1/app/transits", {"card_no": world.card_no, "month": "2026-13"})
    assert r.status_code == 400 and "month" in r.json()["errors"]
    other = app_client()
    r = other.get("/api/v1/app/transits", {"card_no": world.card_no, "month": "2026-09"})
    assert r.status_code == 404
    r = world.user.get("/api/v1/app/transits", {"card_no": world.cards[1]["card_no"]})
    assert r.status_code == 404  # in the registry but not bound to this user


@pytest.mark.django_db
def test_list_endpoint_query_count_does_not_grow_with_trips(world, django_assert_max_num_queries):
    push(world, n=2)
    with django_assert_max_num_queries(6) as few:
        world.user.get("/api/v1/app/transits", {"card_no": world.card_no, "month": "2026-09"})
    baseline = len(few.captured_queries)
    push_more = [trip(f"U{i}", world.card_no, world.when + timedelta(hours=i), THREE) for i in range(40)]
    world.clearing.post("/api/v1/partner/transits", {"transits": push_more}, format="json")
    with django_assert_max_num_queries(baseline):
        r = world.user.get("/api/v1/app/transits", {"card_no": world.card_no, "month": "2026-09"})
    assert len(r.json()) == 42


@pytest.mark.django_db
def test_trip_page_explains_a_three_operator_trip(client, world):
    push(world)
    client.force_login(world.user.user)
    r = client.get(reverse("invoices:transits"), {"card": world.card_no, "month": "2026-09"})
    body = r.content.decode()
    assert r.status_code == 200
    assert "将开出 3 张发票" in body and "每个经营单位各自" in body
    for name in ["甲高速公司", "乙一级公路公司", "丙还贷中心", "3%", "5%", "不征税", "97.33"]:
        assert name in body


@pytest.mark.django_db
def test_empty_month_tells_when_trips_appear(client, world, settings):
    settings.TRANSIT_AVAILABLE_AFTER_DAYS = 10
    client.force_login(world.user.user)
    body = client.get(reverse("invoices:transits"), {"card": world.card_no, "month": "2026-08"}).content.decode()
    a = transit_availability()
    assert "第 10 个自然日" in body
    assert f"{a.complete_through.year}年{a.complete_through.month}月{a.complete_through.day}日" in body
    assert f"{a.today_trip_visible_on.month}月{a.today_trip_visible_on.day}日" in body


def test_availability_arithmetic(settings):
    settings.TRANSIT_AVAILABLE_AFTER_DAYS = 7
    a = transit_availability(date(2026, 3, 1))
    assert a.complete_through == date(2026, 2, 22) and a.today_trip_visible_on == date(2026, 3, 8)


@pytest.mark.django_db
def test_trip_page_of_another_users_card_is_404_and_query_count_is_fixed(
    client, world, make_user, django_assert_max_num_queries
):
    client.force_login(make_user())
    assert client.get(reverse("invoices:transits"), {"card": world.card_no}).status_code == 404
    client.force_login(world.user.user)
    push(world, n=2)
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("invoices:transits"), {"card": world.card_no, "month": "2026-09"})
    baseline = len(few.captured_queries)
    more = [trip(f"U{i}", world.card_no, world.when + timedelta(hours=i), THREE) for i in range(30)]
    world.clearing.post("/api/v1/partner/transits", {"transits": more}, format="json")
    with django_assert_max_num_queries(baseline):
        client.get(reverse("invoices:transits"), {"card": world.card_no, "month": "2026-09"})


@pytest.mark.django_db
def test_recharges_endpoint_and_page(client, world):
    stored = world.cards[1]
    world.bind(world.user, stored)
    item = {
        "recharge_id": "R1",
        "card_no": stored["card_no"],
        "amount": 50000,
        "recharged_at": "2026-09-01T10:00:00+08:00",
    }
    world.issuer.post("/api/v1/partner/recharges", {"recharges": [item]}, format="json")
    r = world.user.get("/api/v1/app/recharges", {"card_no": stored["card_no"]})
    assert r.json() == [
        {"recharge_id": "R1", "amount": 50000, "recharged_at": "2026-09-01T10:00:00+08:00", "invoice_state": "open"}
    ]
    client.force_login(world.user.user)
    body = client.get(reverse("invoices:recharges"), {"card": stored["card_no"], "month": "2026-09"}).content.decode()
    assert "500.00" in body
