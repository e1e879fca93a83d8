"""``BuyerMonth``: an enterprise buyer's invoices counted per month, kept by issuing, and the
buyer feed (``GET /api/v1/partner/invoices``) that reads only the months its page can hold.

The company's invoices bill four months and are issued in an order that interleaves them (a month
applied for late, a red-letter invoice of an old month issued last); a personal-titled month and
another company's month are issued between them. Every page of the feed, at several sizes, from
the start and from a ``since``, must equal the company's invoices read from every month.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.db.models import Count, Max, Min

from invoices import selectors
from invoices.models import Application, BuyerMonth, Invoice
from invoices.services import application_issue, invoice_reverse
from piaogen.demo import demo_uscc

from .conftest import SHANGHAI
from .test_invoice_months import issue as issue_card_month

THREE = [("S-A3", 9733), ("S-B5", 1200), ("S-C0", 500)]
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI)
COMPANY = demo_uscc("91110000MA01DEM00")
OTHER = demo_uscc("91110000MA01DEM01")


def _title(world, **fields) -> int:
    r = world.user.post("/api/v1/app/titles", fields, format="json")
    assert r.status_code == 201, r.content
    return r.json()["id"]


def issue(world, clock, month: str, n: int, at: datetime, title_id: int, split=THREE) -> Application:
    return issue_card_month(world, clock, world.card_no, month, n, at, title_id=title_id, split=split)


@pytest.fixture
def interleaved(world, clock):
    company = _title(world, kind="enterprise", name="演示公司", tax_id=COMPANY)
    other = _title(world, kind="enterprise", name="别家公司", tax_id=OTHER)
    personal = _title(world, kind="personal", name="张三")
    # September: two invoices (one seller), both reversed after everything else
    september = issue(world, clock, "2026-09", 2, T0, company, split=THREE[:1])
    issue(world, clock, "2026-06", 1, T0 + timedelta(hours=1), company)
    issue(world, clock, "2026-08", 1, T0 + timedelta(hours=2), other)
    issue(world, clock, "2026-08", 1, T0 + timedelta(hours=3), personal)
    issue(world, clock, "2026-08", 1, T0 + timedelta(hours=4), company)
    issue(world, clock, "2026-07", 1, T0 + timedelta(hours=5), company)
    clock["at"] = T0 + timedelta(hours=6)
    for original in Invoice.objects.filter(application=september).order_by("id"):
        reversal = invoice_reverse(user=world.user.user, invoice_id=original.pk)
        application_issue(application_id=reversal.pk)
    clock["at"] = None
    return world


def oldest_first(tax_id: str, since=None) -> list[int]:
    qs = Invoice.objects.filter(buyer_tax_id=tax_id)
    if since is not None:
        qs = qs.filter(issued_at__gte=since)
    return list(qs.order_by("issued_at", "id").values_list("id", flat=True))


@pytest.mark.django_db
def test_issuing_counts_every_enterprise_invoice_in_its_buyers_month(interleaved):
    counted = {
        (r.buyer_tax_id, r.month): (r.count, r.first_issued_at, r.last_issued_at) for r in BuyerMonth.objects.all()
    }
    actual = {
        (g["buyer_tax_id"], g["month"]): (g["n"], g["first"], g["last"])
        for g in Invoice.objects.exclude(buyer_tax_id="")
        .values("buyer_tax_id", "month")
        .annotate(n=Count("id"), first=Min("issued_at"), last=Max("issued_at"))
    }
    assert counted == actual
    assert {k for k in counted} == {
        (COMPANY, "2026-06"),
        (COMPANY, "2026-07"),
        (COMPANY, "2026-08"),
        (COMPANY, "2026-09"),
        (OTHER, "2026-08"),
    }
    # personal titles have no row; the red-letter invoices added to September's (2 + 2)
    assert counted[(COMPANY, "2026-09")][0] == 4
    assert counted[(COMPANY, "2026-09")][2] == T0 + timedelta(hours=6)


@pytest.mark.django_db
@pytest.mark.parametrize("limit", [1, 2, 3, 5, 8, 40])
def test_every_page_of_the_feed_equals_the_list_read_from_every_month(interleaved, partner_client, limit):
    company = partner_client("enterprise", name="演示公司", tax_id=COMPANY)
    for since in (None, T0 + timedelta(hours=2), T0 + timedelta(hours=6)):
        expected = oldest_first(COMPANY, since)
        query = {"limit": limit} | ({"since": since.isoformat()} if since else {})
        got, pages = [], 0
        answer = company.get("/api/v1/partner/invoices", query).json()
        while True:
            pages += 1
            got += [row["id"] for row in answer["results"]]
            if not answer["next"]:
                break
            assert len(answer["results"]) == limit
            answer = company.get("/api/v1/partner/invoices", query | {"cursor": answer["next"]}).json()
        assert got == expected and expected
        assert pages == max(1, -(-len(expected) // limit))


@pytest.mark.django_db
def test_every_length_of_the_feed_read_directly_is_exact(interleaved):
    """The selector's own answer, row for row (the API asks one more than it shows, which would
    hide a wrong last row): September's two invoices come first, its red-letter ones last."""
    expected = oldest_first(COMPANY)
    assert len(expected) == 13  # September 2 + 2 red-letter, June, August and July 3 each
    for limit in range(1, len(expected) + 2):
        assert [inv.pk for inv in selectors.buyer_feed(COMPANY, limit=limit)] == expected[:limit], limit
        for start in range(len(expected)):
            row = Invoice.objects.get(pk=expected[start])
            got = selectors.buyer_feed(COMPANY, after=(row.issued_at, row.pk), limit=limit)
            assert [inv.pk for inv in got] == expected[start + 1 : start + 1 + limit], (limit, start)


@pytest.mark.django_db
def test_the_feed_of_a_buyer_with_no_invoices_reads_nothing(interleaved, django_assert_num_queries):
    with django_assert_num_queries(1):  # its months: none
        assert selectors.buyer_feed(demo_uscc("91110000MA01DEM02")) == []


@pytest.mark.django_db
def test_the_backfill_counts_the_invoices_already_written(interleaved):
    """Migration invoices/0016's statement, run again on an emptied table, gives the same rows."""
    from importlib import import_module

    kept = sorted(BuyerMonth.objects.values_list("buyer_tax_id", "month", "count", "first_issued_at", "last_issued_at"))
    BuyerMonth.objects.all().delete()
    migration = import_module("invoices.migrations.0016_buyer_months").Migration
    sql = next(op.sql for op in migration.operations if hasattr(op, "sql"))
    with connection.cursor() as cursor:
        cursor.execute(sql)
    again = sorted(
        BuyerMonth.objects.values_list("buyer_tax_id", "month", "count", "first_issued_at", "last_issued_at")
    )
    assert again == kept and len(kept) == 5
