"""``InvoiceMonth``: each user's invoices counted per card and month, kept by issuing, and the lists
across months that read only the months a page can hold (``selectors.page_months``).

The invoices here bill four months of one card and one month of another, and are issued in an
order that interleaves the months (a month applied for late, a red-letter invoice of an old month
issued last), so that "newest first" crosses months back and forth. Every page, forwards and
backwards, at several sizes, must equal the same list read from every month.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.db.models import Count, Max, Min

from invoices import selectors
from invoices.models import Application, Invoice, InvoiceMonth
from invoices.services import application_issue, invoice_reverse
from piaogen.cursors import decode_cursor

from .conftest import SHANGHAI, trip

THREE = [("S-A3", 9733), ("S-B5", 1200), ("S-C0", 500)]
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI)


def issue(world, clock, card_no: str, month: str, n: int, at: datetime, *, title_id=None, split=THREE) -> Application:
    """``n`` trips of ``month`` pushed and applied for per trip (the month's open trips), issued
    at ``at``; under a personal title unless ``title_id`` names one."""
    clock["at"] = at
    when = datetime(int(month[:4]), int(month[5:]), 3, 8, 0, tzinfo=SHANGHAI)
    items = [trip(f"M{card_no[-1]}{month}-{at:%H%M}-{i}", card_no, when + timedelta(hours=i), split) for i in range(n)]
    r = world.clearing.post("/api/v1/partner/transits", {"transits": items}, format="json")
    assert r.status_code == 200 and r.json()["created"] == n, r.content
    if title_id is None:
        title_id = world.user.post("/api/v1/app/titles", {"kind": "personal", "name": "张三"}, format="json").json()[
            "id"
        ]
    r = world.user.post(
        "/api/v1/app/applications",
        {"kind": "consumption", "card_no": card_no, "month": month, "mode": "per_trip", "title_id": title_id},
        format="json",
    )
    assert r.status_code == 202, r.content
    application_issue(application_id=r.json()["id"])
    app = Application.objects.get(pk=r.json()["id"])
    assert app.status == Application.Status.ISSUED
    return app


@pytest.fixture
def interleaved(world, clock):
    """Invoices of 2026-06..09 (card 1) and 2026-08 (card 2), issued in an order across months."""
    world.bind(world.user, world.cards[1])
    second = world.cards[1]["card_no"]
    september = issue(world, clock, world.card_no, "2026-09", 2, T0)
    issue(world, clock, world.card_no, "2026-06", 1, T0 + timedelta(hours=1))
    issue(world, clock, world.card_no, "2026-08", 1, T0 + timedelta(hours=2))
    issue(world, clock, second, "2026-08", 2, T0 + timedelta(hours=3))
    issue(world, clock, world.card_no, "2026-07", 1, T0 + timedelta(hours=4))
    # a red-letter invoice of September, issued after everything else: it bills September
    clock["at"] = T0 + timedelta(hours=5)
    original = Invoice.objects.filter(application=september).order_by("id").first()
    reversal = invoice_reverse(user=world.user.user, invoice_id=original.pk)
    application_issue(application_id=reversal.pk)
    clock["at"] = None
    return world


def newest_first(user, card_id=None) -> list[int]:
    qs = Invoice.objects.filter(user=user)
    if card_id is not None:
        qs = qs.filter(card_id=card_id)
    return list(qs.order_by("-issued_at", "-id").values_list("id", flat=True))


@pytest.mark.django_db
def test_issuing_counts_every_invoice_in_its_users_card_and_month(interleaved):
    user = interleaved.user.user
    counted = {
        (r.card_id, r.month): (r.count, r.first_issued_at, r.last_issued_at)
        for r in InvoiceMonth.objects.filter(user=user)
    }
    actual = {
        (g["card_id"], g["month"]): (g["n"], g["first"], g["last"])
        for g in Invoice.objects.filter(user=user)
        .values("card_id", "month")
        .annotate(n=Count("id"), first=Min("issued_at"), last=Max("issued_at"))
    }
    assert counted == actual and len(counted) == 5
    # the red-letter invoice added to September's row: 2 trips x 3 sellers + 1
    september = next(v for (_card, m), v in counted.items() if m == "2026-09")
    assert september[0] == 7 and september[2] == T0 + timedelta(hours=5)


@pytest.mark.django_db
@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 40])
def test_every_page_newest_first_equals_the_list_read_from_every_month(interleaved, size):
    user = interleaved.user.user
    second = Invoice.objects.filter(user=user, card__card_no=interleaved.cards[1]["card_no"]).first().card_id
    for card_id in (None, second):
        expected = newest_first(user, card_id)
        pages, page = [], selectors.invoice_list_page(user, card_id=card_id, size=size)
        pages.append([inv.pk for inv in page.rows])
        while page.next:
            after = decode_cursor(page.next, selectors.INVOICE_CURSOR)
            page = selectors.invoice_list_page(user, card_id=card_id, after=after, size=size)
            pages.append([inv.pk for inv in page.rows])
        assert [pk for p in pages for pk in p] == expected
        assert all(len(p) == size for p in pages[:-1]) and 0 < len(pages[-1]) <= size
        # and back from the last page to the first, through each page's "previous" link
        back = [pages[-1]]
        while page.prev:
            before = decode_cursor(page.prev, selectors.INVOICE_CURSOR)
            page = selectors.invoice_list_page(user, card_id=card_id, before=before, size=size)
            back.insert(0, [inv.pk for inv in page.rows])
        assert back == pages


@pytest.mark.django_db
def test_the_home_pages_newest_invoices_and_a_cursor_past_the_end(interleaved):
    user = interleaved.user.user
    expected = newest_first(user)
    for limit in range(1, len(expected) + 2):
        assert [inv.pk for inv in selectors.newest_invoices(user, limit=limit)] == expected[:limit]
    oldest = Invoice.objects.get(pk=expected[-1])
    page = selectors.invoice_list_page(user, after=(oldest.issued_at, oldest.pk), size=3)
    assert [inv.pk for inv in page.rows] == expected[:3]  # past the end: the first page


@pytest.mark.django_db
def test_the_app_list_walks_every_month_through_its_links(interleaved):
    expected = newest_first(interleaved.user.user)
    seen, params = [], {"limit": 4}
    while True:
        r = interleaved.user.get("/api/v1/app/invoices", params)
        assert r.status_code == 200
        seen += [row["id"] for row in r.json()]
        link = r.get("Link")
        if not link:
            break
        url = re.match(r"<([^>]+)>", link).group(1)
        params = {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
    assert seen == expected
    # one card's invoices, by its number; a card of the user without invoices that month: none
    second = interleaved.cards[1]["card_no"]
    r = interleaved.user.get("/api/v1/app/invoices", {"card_no": second})
    assert [row["id"] for row in r.json()] == [
        pk for pk in expected if Invoice.objects.get(pk=pk).card.card_no == second
    ]
    assert interleaved.user.get("/api/v1/app/invoices", {"card_no": second, "month": "2026-09"}).json() == []
    assert interleaved.user.get("/api/v1/app/invoices", {"card_no": "41019999999999999999"}).status_code == 404


@pytest.mark.django_db
def test_download_by_card_and_month_lists_the_counted_rows_newest_month_first(interleaved):
    user = interleaved.user.user
    rows = selectors.invoice_card_months(user)
    actual = (
        Invoice.objects.filter(user=user)
        .values("card__card_no", "month")
        .annotate(n=Count("id"))
        .order_by("-month", "card__card_no")
    )
    assert [(r["card__card_no"], r["month"], r["count"]) for r in rows] == [
        (g["card__card_no"], g["month"], g["n"]) for g in actual
    ]
    assert [r["month"] for r in selectors.invoice_card_months(user, limit=2)] == ["2026-09", "2026-08"]
