"""The console's invoice list reads the months it shows (``InvoiceMonthFilter``): by default the
newest invoices issued, a month of the last year when one is chosen, every month only when
"all" is chosen; a search by number, code, taxpayer id or card number finds an invoice in any
month, a plate is searched in the chosen months (the last year by default)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse

from invoices.admin_months import InvoiceMonthFilter
from invoices.models import Invoice
from piaogen.demo import demo_uscc

from .test_partitions import issue_month

pytestmark = pytest.mark.django_db
URL = "admin:invoices_invoice_changelist"


@pytest.fixture
def three_months(world):
    """Three invoices (one trip, three sellers) of each of July, August and September, issued in
    that order; September's with an enterprise title."""
    from invoices import partitions

    partitions.ensure(["2026-07", "2026-08", "2026-09"])
    issue_month(world, "Z", world.when - timedelta(days=62))
    issue_month(world, "Y", world.when - timedelta(days=31))
    company = world.user.post(
        "/api/v1/app/titles",
        {"kind": "enterprise", "name": "演示公司", "tax_id": demo_uscc("91110000MA01DEM00")},
        format="json",
    ).json()["id"]
    issue_month(world, "X", world.when, title_id=company)
    return world


def numbers(body: str) -> set[str]:
    return set(re.findall(r"\b\d{8,20}\b", body)) & set(Invoice.objects.values_list("number", flat=True))


def month_numbers(month: str) -> set[str]:
    return set(Invoice.objects.filter(month=month).values_list("number", flat=True))


def test_the_list_opens_on_the_newest_invoices_and_a_month_or_all_on_purpose(agent, three_months, monkeypatch):
    monkeypatch.setattr(InvoiceMonthFilter, "NEWEST", 4)
    body = agent.get(reverse(URL)).content.decode()
    newest = set(Invoice.objects.order_by("-id").values_list("number", flat=True)[:4])
    assert numbers(body) == newest and "最新开具的 4 张" in body
    # the filter says which scope is shown
    assert re.search(r'<li class="selected">\s*<a[^>]*>最新开具的 4 张</a>', body)
    body = agent.get(reverse(URL), {"month": "2026-08"}).content.decode()
    assert numbers(body) == month_numbers("2026-08")
    assert re.search(r'<li class="selected">\s*<a[^>]*>2026-08</a>', body)
    body = agent.get(reverse(URL), {"month": "all"}).content.decode()
    assert numbers(body) == set(Invoice.objects.values_list("number", flat=True)) and len(numbers(body)) == 9
    # a malformed month is the default, not an error
    assert agent.get(reverse(URL), {"month": "2026-13"}).status_code == 200


def test_a_search_finds_an_invoice_of_any_month_without_choosing_one(agent, three_months, monkeypatch):
    monkeypatch.setattr(InvoiceMonthFilter, "NEWEST", 1)
    july = Invoice.objects.filter(month="2026-07").order_by("id").first()
    body = agent.get(reverse(URL), {"q": july.number}).content.decode()
    assert july.number in numbers(body)
    body = agent.get(reverse(URL), {"q": f"{july.code}{july.number}"}).content.decode()
    assert numbers(body) == {july.number}
    # the buyer's taxpayer id: September's invoices, none of the personal-titled months
    body = agent.get(reverse(URL), {"q": demo_uscc("91110000MA01DEM00")}).content.decode()
    assert numbers(body) == month_numbers("2026-09")
    # the card number: every month of it
    body = agent.get(reverse(URL), {"q": three_months.card_no}).content.decode()
    assert len(numbers(body)) == 9
    # a chosen month limits the search to it
    body = agent.get(reverse(URL), {"q": f"{july.code}{july.number}", "month": "2026-08"}).content.decode()
    assert not numbers(body)
    # nothing found is an empty list, not an error
    r = agent.get(reverse(URL), {"q": "99999999"})
    assert r.status_code == 200 and not numbers(r.content.decode())


def test_each_list_and_search_reads_only_the_months_it_shows(agent, three_months, monkeypatch):
    """EXPLAIN of the statements the console ran (PostgreSQL): the default list reads the
    newest invoices' month, a chosen month that month, a search by code and number its month."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from .test_partitions import partitions_touched

    if connection.vendor != "postgresql":
        pytest.skip("monthly partitions are PostgreSQL's")
    monkeypatch.setattr(InvoiceMonthFilter, "NEWEST", 3)
    july = Invoice.objects.filter(month="2026-07").order_by("id").first()
    expected = {
        "default": ({}, "2026_09"),
        "a month": ({"month": "2026-08"}, "2026_08"),
        "code and number": ({"q": f"{july.code}{july.number}"}, "2026_07"),
        "a taxpayer id": ({"q": demo_uscc("91110000MA01DEM00")}, "2026_09"),
    }
    for what, (query, month) in expected.items():
        with CaptureQueriesContext(connection) as captured:
            assert agent.get(reverse(URL), query).status_code == 200
        touched = partitions_touched(captured.captured_queries)
        assert touched and {name[-7:] for name in touched} == {month}, (what, touched)


TRIPS = "admin:invoices_transit_changelist"


def trip_ids(body: str) -> set[str]:
    return set(re.findall(r"\b[A-Z][A-Z0-9-]*-T\d+\b", body))


def test_the_trip_list_opens_on_this_month_and_the_last_and_finds_a_trip_id_in_any_month(agent, world):
    from django.utils import timezone

    from invoices import partitions
    from invoices.admin_months import TransitMonthFilter

    from .conftest import trip

    recent = timezone.localtime() - timedelta(days=1)
    recent_month = (recent + timedelta(hours=2)).strftime("%Y-%m")  # a trip's month is its exit's
    partitions.ensure([*TransitMonthFilter.recent_months(2), "2026-07"])
    items = [
        trip("NOW-T1", world.card_no, recent, [("S-A3", 1000)]),
        trip("OLD-T1", world.card_no, world.when - timedelta(days=62), [("S-A3", 1000)]),
    ]
    assert world.clearing.post("/api/v1/partner/transits", {"transits": items}, format="json").status_code == 200
    body = agent.get(reverse(TRIPS)).content.decode()
    assert trip_ids(body) == {"NOW-T1"} and re.search(r'<li class="selected">\s*<a[^>]*>本月和上月</a>', body)
    body = agent.get(reverse(TRIPS), {"month": "2026-07"}).content.decode()
    assert trip_ids(body) == {"OLD-T1"}
    body = agent.get(reverse(TRIPS), {"month": "all"}).content.decode()
    assert trip_ids(body) == {"NOW-T1", "OLD-T1"}
    # a trip id through its key, whatever month it is in; a card number in the last year's months
    assert trip_ids(agent.get(reverse(TRIPS), {"q": "OLD-T1"}).content.decode()) == {"OLD-T1"}
    in_year = {m for m in TransitMonthFilter.recent_months()}
    found = trip_ids(agent.get(reverse(TRIPS), {"q": world.card_no}).content.decode())
    assert found == {t for t, m in (("NOW-T1", recent_month), ("OLD-T1", "2026-07")) if m in in_year}


def test_the_trip_list_reads_only_the_months_it_shows(agent, world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from invoices import partitions
    from invoices.admin_months import TransitMonthFilter

    from .test_partitions import partitions_touched

    if connection.vendor != "postgresql":
        pytest.skip("monthly partitions are PostgreSQL's")
    recent = TransitMonthFilter.recent_months(2)
    partitions.ensure([*recent, "2026-07"])
    expected = {
        "default": ({}, {m.replace("-", "_") for m in recent}),
        "a month": ({"month": "2026-07"}, {"2026_07"}),
    }
    for what, (query, months) in expected.items():
        with CaptureQueriesContext(connection) as captured:
            assert agent.get(reverse(TRIPS), query).status_code == 200
        touched = partitions_touched(captured.captured_queries)
        assert touched and {name[-7:] for name in touched} <= months, (what, touched)
