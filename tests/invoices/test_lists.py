"""Lists that grow with a user's history: 通行记录, 我的发票 and an application's page a page at a
time (keyset), and the App's lists built from plain rows — the same JSON as the model-based
builders, field by field, and the same number of queries whatever the number of rows."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from decimal import Decimal
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy
from rest_framework.renderers import JSONRenderer

from invoices import selectors, services
from invoices.api import invoicing
from invoices.api.invoicing import application_json, invoice_json
from invoices.models import Application, Invoice
from invoices.tax import rate_decimal
from piaogen.renderers import FastJSONRenderer

from . import test_invoicing
from .conftest import trip
from .test_invoicing import COMPANY_TAX_ID, THREE, title

applied = test_invoicing.applied  # submits through the App API and issues (eager) on commit

SEPTEMBER = "2026-09"


@pytest.fixture(autouse=True)
def _no_documents(monkeypatch):
    """These lists are about rows, not files: issuing here queues no PDF (rendered eagerly, they
    would cost a second for every few invoices)."""
    monkeypatch.setattr(services.documents, "on_issued", lambda app_id, invoice_ids: None)


def push_trips(world, n: int, *, prefix: str = "T", start: datetime | None = None, split=THREE, pairs=False):
    """``n`` trips an hour apart; with ``pairs``, the 2nd and 3rd, 4th and 5th… at the same time."""
    start = start or world.when
    items = [
        trip(f"{prefix}{i:03d}", world.card_no, start + timedelta(hours=((i + 1) // 2 if pairs else i)), split)
        for i in range(n)
    ]
    r = world.clearing.post("/api/v1/partner/transits", {"transits": items}, format="json")
    assert r.json()["created"] == n, r.content


def links(body: str) -> dict[str, str]:
    """The pager's 上一页 / 下一页 links of a page, unescaped."""
    nav = re.search(r'<nav class="pager".*?</nav>', body, re.S)
    if not nav:
        return {}
    return {rel: unescape(href) for href, rel in re.findall(r'href="([^"]+)" rel="(prev|next)"', nav.group(0))}


def follow(client, path: str, href: str):
    assert href.startswith("?")
    return client.get(path + href)


# --- 通行记录 -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_trip_page_is_paginated_with_the_months_totals_and_filters_kept(client, world):
    push_trips(world, 57, pairs=True)  # 57 trips, two by two at the same exit time: ties on the page edge
    client.force_login(world.user.user)
    path = reverse("invoices:transits")
    first = client.get(path, {"card": world.card_no, "month": SEPTEMBER}).content.decode()
    total = 57 * sum(fee for _code, fee in THREE)
    # the month's count and sum, from the aggregate, not from the page
    assert f"本月共 57 次通行，通行费合计 ¥{total // 100:,}.{total % 100:02d}" in first
    assert first.count('<li class="trip panel">') == 50
    nav = links(first)
    assert set(nav) == {"next"}  # no 上一页 on the first page
    assert f"card={world.card_no}" in nav["next"] and f"month={SEPTEMBER}" in nav["next"]
    assert '<nav class="pager" aria-label="翻页">' in first

    second = follow(client, path, nav["next"]).content.decode()
    assert second.count('<li class="trip panel">') == 7
    assert "本月共 57 次通行" in second  # the totals stay those of the month
    assert set(links(second)) == {"prev"}  # the last page

    # every trip exactly once across the two pages, in exit-time order
    times = re.findall(r'<div class="muted">\S+ \S+ — (\S+ \S+) ·', first + second)
    assert len(times) == 57 and times == sorted(times)
    back = follow(client, path, links(second)["prev"]).content.decode()
    assert back.count('<li class="trip panel">') == 50 and set(links(back)) == {"next"}
    assert re.findall(r'<div class="muted">\S+ \S+ — (\S+ \S+) ·', back) == times[:50]


@pytest.mark.django_db
def test_trip_page_with_a_malformed_or_foreign_cursor_shows_the_first_page(client, world, make_user):
    push_trips(world, 3)
    client.force_login(world.user.user)
    path = reverse("invoices:transits")
    for bad in ["x", "1_2_3", "-1_5", "9" * 40 + "_1", "99999999999999999_1", "１２_３"]:
        r = client.get(path, {"card": world.card_no, "month": SEPTEMBER, "after": bad})
        assert r.status_code == 200
        assert r.content.decode().count('<li class="trip panel">') == 3
    # a cursor past the last trip falls back to the first page rather than showing nothing
    r = client.get(path, {"card": world.card_no, "month": SEPTEMBER, "after": "9999999999999999_1"})
    assert r.content.decode().count('<li class="trip panel">') == 3
    # another user's card stays a 404 with or without a cursor
    client.force_login(make_user())
    r = client.get(path, {"card": world.card_no, "month": SEPTEMBER, "after": "1_1"})
    assert r.status_code == 404


@pytest.mark.django_db
def test_trip_page_explains_each_trip_on_every_page(client, world):
    push_trips(world, 52, split=THREE + [("S-C9", 300)])
    client.force_login(world.user.user)
    path = reverse("invoices:transits")
    first = client.get(path, {"card": world.card_no, "month": SEPTEMBER}).content.decode()
    second = follow(client, path, links(first)["next"]).content.decode()
    for body in (first, second):
        assert "这次通行将开出 4 张发票：您经过了不同经营单位的路段，每个经营单位各自为自己收取的通行费开票。" in body
        for line in (
            "甲高速公司 · 增值税电子普通发票 3%",
            "乙一级公路公司 · 增值税电子普通发票 5%",
            "丙还贷中心 · 增值税电子普通发票 不征税",
            "丙还贷中心 · 增值税电子普通发票 9%",
        ):
            assert f"<li>{line}</li>" in body
    assert "2026-09-05 08:00 — 2026-09-05 10:00" in first  # local times (Asia/Shanghai)


@pytest.mark.django_db
def test_trip_page_query_count_does_not_grow_with_trips_or_pages(client, world, django_assert_max_num_queries):
    client.force_login(world.user.user)
    path = reverse("invoices:transits")
    push_trips(world, 2)
    with django_assert_max_num_queries(12) as small:
        client.get(path, {"card": world.card_no, "month": SEPTEMBER})
    budget = len(small.captured_queries)
    push_trips(world, 120, prefix="U", start=world.when + timedelta(days=3))
    with django_assert_max_num_queries(budget):
        first = client.get(path, {"card": world.card_no, "month": SEPTEMBER}).content.decode()
    with django_assert_max_num_queries(budget):
        second = follow(client, path, links(first)["next"]).content.decode()
    assert "本月共 122 次通行" in second and second.count('<li class="trip panel">') == 50


# --- 我的发票 and an application's page --------------------------------------------------------


@pytest.fixture
def many(world, applied):
    """60 per-trip invoices (20 trips of three operators, one of them 不征税) in one application."""
    push_trips(world, 20)
    r = applied(title_id=title(world.user), mode="per_trip")
    assert r.status_code == 202
    return Application.objects.get(pk=r.json()["id"])


def invoice_numbers(body: str) -> list[str]:
    return re.findall(r'<a href="/invoices/\d+/">\d{12}<br>(\d{8})</a>', body)


@pytest.mark.django_db
def test_my_invoices_are_paginated_newest_first_with_filters_kept(client, world, many, make_user):
    client.force_login(world.user.user)
    path = reverse("invoices:list")
    query = {"card": world.card_no, "month": SEPTEMBER, "view": "application"}
    first = client.get(path, query).content.decode()
    assert len(invoice_numbers(first)) == 50
    nav = links(first)
    assert set(nav) == {"next"}
    for kept in (f"card={world.card_no}", f"month={SEPTEMBER}", "view=application"):
        assert kept in nav["next"]
    second = follow(client, path, nav["next"]).content.decode()
    numbers = invoice_numbers(first) + invoice_numbers(second)
    expected = list(
        Invoice.objects.filter(application=many).order_by("-issued_at", "-id").values_list("number", flat=True)
    )
    assert numbers == expected and len(set(numbers)) == 60
    assert f'href="{reverse("invoices:application", args=[many.pk])}"' in second  # its group heading again
    assert set(links(second)) == {"prev"}
    # by trip: the same invoices grouped under their trips, page by page
    by_trip = client.get(path, {**query, "view": "trip"}).content.decode()
    # (a page of a longer list: a trip's other invoices may be on the pages around it)
    assert by_trip.count("本页列出这次通行的 3 张发票") >= 16 and "郑州站 → 安阳站 · 2026-09-05" in by_trip
    assert "这次通行共" not in by_trip
    # someone else's card: 404
    client.force_login(make_user())
    assert client.get(path, {"card": world.card_no}).status_code == 404
    assert invoice_numbers(client.get(path).content.decode()) == []


@pytest.mark.django_db
def test_by_trip_a_page_of_monthly_invoices_holds_a_bounded_number_of_lines(
    client, world, applied, settings, django_assert_max_num_queries
):
    """A monthly invoice covers a whole month of trips: 50 of them on one page by trip made
    thousands of groups. By trip, a page holds whole invoices up to INVOICE_TRIP_VIEW_LINES lines,
    and the pager walks every invoice once, forwards and back."""
    settings.INVOICE_TRIP_VIEW_LINES = 10
    push_trips(world, 6)
    applied(title_id=title(world.user), mode="monthly")  # 3 monthly invoices of 6 lines
    push_trips(world, 2, prefix="U", start=world.when + timedelta(days=3))
    applied(title_id=title(world.user, name="李四"))  # 6 invoices of one line
    client.force_login(world.user.user)
    path = reverse("invoices:list")
    expected = list(Invoice.objects.order_by("-issued_at", "-id").values_list("number", "lines__id"))
    lines_of: dict[str, int] = {}
    for number, _line in expected:
        lines_of[number] = lines_of.get(number, 0) + 1
    order = list(dict.fromkeys(number for number, _line in expected))
    assert len(order) == 9
    # a page lists its invoices under their trips: the page's invoices are what is compared
    pages, body = [], client.get(path, {"view": "trip"}).content.decode()
    while True:
        numbers = list(dict.fromkeys(re.findall(r'<a href="/invoices/\d+/">\d{12}<br>(\d{8})</a>', body)))
        pages.append(numbers)
        # whole invoices, within the budget unless one invoice alone is larger
        assert len(numbers) == 1 or sum(lines_of[n] for n in numbers) <= 10, numbers
        nav = links(body)
        if "next" not in nav:
            break
        with django_assert_max_num_queries(16):
            body = follow(client, path, nav["next"]).content.decode()
    # every invoice once, the pages in order (newest first), each page whole invoices
    assert [n for page in pages for n in sorted(page, key=order.index)] == order
    assert len(pages) > 1
    # and back: every invoice again once, in order, each page within the budget (the pages may
    # be cut elsewhere than forwards: a page read backwards fills up from its cursor)
    back = [pages[-1]]
    while "prev" in (nav := links(body)):
        body = follow(client, path, nav["prev"]).content.decode()
        back.append(list(dict.fromkeys(re.findall(r'<a href="/invoices/\d+/">\d{12}<br>(\d{8})</a>', body))))
    for page in back:
        assert len(page) == 1 or sum(lines_of[n] for n in page) <= 10, page
    assert [n for page in reversed(back) for n in sorted(page, key=order.index)] == order


@pytest.mark.django_db
def test_my_invoices_query_count_does_not_grow(client, world, applied, django_assert_max_num_queries):
    push_trips(world, 1)
    applied(title_id=title(world.user))
    client.force_login(world.user.user)
    path = reverse("invoices:list")
    budgets = {}
    for view in ("application", "trip"):
        with django_assert_max_num_queries(14) as small:
            client.get(path, {"view": view})
        budgets[view] = len(small.captured_queries)
    push_trips(world, 30, prefix="U", start=world.when + timedelta(days=2))
    applied(title_id=title(world.user, name="李四"))
    assert Invoice.objects.count() == 93
    for view in ("application", "trip"):
        with django_assert_max_num_queries(budgets[view]):
            first = client.get(path, {"view": view}).content.decode()
        with django_assert_max_num_queries(budgets[view]):
            follow(client, path, links(first)["next"])


@pytest.mark.django_db
def test_application_page_pages_its_invoices_and_sums_them_by_seller(client, world, many, make_user):
    client.force_login(world.user.user)
    path = reverse("invoices:application", args=[many.pk])
    first = client.get(path).content.decode()
    assert "已开出 60 张发票，价税合计 ¥2,286.60。" in first
    summary = re.search(r'<table class="seller-summary[ "].*?</table>', first, re.S).group(0)
    for seller, total in (("甲高速公司", "1,946.60"), ("乙一级公路公司", "240.00"), ("丙还贷中心", "100.00")):
        cells = r"<td[^>]*>{}</td>" * 4
        assert re.search(cells.format(seller, "增值税电子普通发票", 20, f"¥{total}"), summary), seller
    rows = invoice_numbers(first)
    assert len(rows) == 50 and set(links(first)) == {"next"}
    second = follow(client, path, links(first)["next"]).content.decode()
    rows += invoice_numbers(second)
    expected = list(Invoice.objects.filter(application=many).order_by("id").values_list("number", flat=True))
    assert rows == expected
    assert "下载全部" in second and "抬头错了？换票" in second  # the actions stay on every page
    # 换票's confirmation shows the same summary instead of every invoice
    change = client.get(reverse("invoices:title_change", args=[many.pk])).content.decode()
    assert '<table class="seller-summary' in change and invoice_numbers(change) == []
    client.force_login(make_user())
    assert client.get(path).status_code == 404
    assert client.get(reverse("invoices:application_status", args=[many.pk])).status_code == 404


@pytest.mark.django_db
def test_application_page_and_poll_query_counts_do_not_grow(client, world, applied, django_assert_max_num_queries):
    push_trips(world, 1)
    small_app = Application.objects.get(pk=applied(title_id=title(world.user)).json()["id"])
    client.force_login(world.user.user)
    budgets = {}
    for name in ("invoices:application", "invoices:application_status"):
        with django_assert_max_num_queries(12) as small:
            client.get(reverse(name, args=[small_app.pk]))
        budgets[name] = len(small.captured_queries)
    push_trips(world, 25, prefix="U", start=world.when + timedelta(days=2))
    big = Application.objects.get(pk=applied(title_id=title(world.user, name="李四")).json()["id"])
    assert big.invoice_count == 75
    for name in budgets:
        with django_assert_max_num_queries(budgets[name]):
            r = client.get(reverse(name, args=[big.pk]))
    assert r.json() == {
        "id": big.pk,
        "status": "issued",
        "failure_reason": "",
        "invoice_count": 75,
        "status_label": "已开票",
    }


# --- the App's lists: the same JSON as before, from plain rows ------------------------------------


def same(got, want, path="$"):
    """Equal in value and in JSON type, field by field (1 is not True, "0.09" is not 0.09)."""
    assert type(got) is type(want), f"{path}: {type(got).__name__} {got!r} != {type(want).__name__} {want!r}"
    if isinstance(want, dict):
        assert list(got) == list(want), f"{path}: keys {list(got)} != {list(want)}"
        for key in want:
            same(got[key], want[key], f"{path}.{key}")
    elif isinstance(want, list):
        assert len(got) == len(want), f"{path}: {len(got)} items != {len(want)}"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            same(g, w, f"{path}[{i}]")
    else:
        assert got == want, f"{path}: {got!r} != {want!r}"


def as_json(value):
    """What a client parses from the JSON text of ``value``."""
    return json.loads(JSONRenderer().render(value))


def reference_trip_json(trip: selectors.TripView) -> dict:
    """The transits answer as it was built before, from model instances (TripView)."""
    t = trip.transit

    def rate(percent):
        value = rate_decimal(percent)
        return None if value is None else str(value)

    return {
        "transit_id": t.transit_id,
        "plate": t.plate,
        "entry_station": t.entry_station,
        "entry_time": timezone.localtime(t.entry_time).isoformat(),
        "exit_station": t.exit_station,
        "exit_time": timezone.localtime(t.exit_time).isoformat(),
        "fee": t.fee,
        "segments": [
            {
                "section_code": seg.section_code,
                "section_name": seg.section_name,
                "operator_name": seg.operator_name,
                "fee": seg.fee,
                "rate": rate(seg.rate),
            }
            for seg in trip.segments
        ],
        "invoice_state": t.state,
        "invoice_count": trip.invoice_count,
        "invoices": [{"seller": name, "rate": rate(r)} for name, r in trip.invoices],
        "partly_invoiced": bool(trip.invoiced),
        "invoiced": [{"seller": name, "rate": rate(r)} for name, r in trip.invoiced],
    }


@pytest.fixture
def book(world, applied, django_capture_on_commit_callbacks):
    """Every kind of invoice: per trip (taxable and 不征税), monthly (lines of several trips), a
    red-letter reversal, a title change (red and new) and a stored-value card's recharges."""
    user = world.user
    push_trips(world, 4, split=THREE + [("S-C9", 300)])
    per_trip = applied(title_id=title(user), mode="per_trip").json()["id"]
    october = datetime(2026, 10, 3, 9, 0, tzinfo=world.when.tzinfo)
    push_trips(world, 3, prefix="M", start=october)
    monthly = applied(title_id=title(user, name="李四"), month="2026-10", mode="monthly").json()["id"]
    invoice = Invoice.objects.filter(application_id=per_trip, kind="taxable").first()
    with django_capture_on_commit_callbacks(execute=True):
        assert user.post(f"/api/v1/app/invoices/{invoice.pk}/reverse").status_code == 202
    company = title(user, kind="enterprise", name="演示公司", tax_id=COMPANY_TAX_ID)
    with django_capture_on_commit_callbacks(execute=True):
        r = user.post(f"/api/v1/app/applications/{monthly}/title-change", {"title_id": company}, format="json")
    assert r.status_code == 202
    stored = world.cards[1]
    world.bind(user, stored)
    recharge = {"recharge_id": "R1", "card_no": stored["card_no"], "amount": 30000}
    world.issuer.post(
        "/api/v1/partner/recharges",
        {"recharges": [recharge | {"recharged_at": "2026-09-02T10:00:00+08:00"}]},
        format="json",
    )
    r = applied(kind="recharge", card_no=stored["card_no"], recharge_ids=["R1"], title_id=company)
    assert r.status_code == 202
    kinds = set(Application.objects.values_list("kind", flat=True))
    assert kinds == {"consumption", "reversal", "title_change", "recharge"}
    assert Invoice.objects.filter(red=True).count() == 1 + 3 and Invoice.objects.filter(kind="non_taxable").exists()
    return world


@pytest.mark.django_db
def test_app_lists_give_the_same_json_as_the_model_serializers(book):
    client, user = book.user, book.user.user
    # GET invoices: every invoice, newest first
    got = client.get("/api/v1/app/invoices", {"limit": 500}).json()
    want = as_json([invoice_json(i) for i in selectors.invoices_of(user)])
    assert len(want) == Invoice.objects.count()
    same(got, want)
    for card_no, month in ((book.card_no, SEPTEMBER), (book.card_no, "2026-10"), (book.cards[1]["card_no"], "")):
        card_id = Invoice.objects.filter(card__card_no=card_no).values_list("card_id", flat=True).first()
        got = client.get("/api/v1/app/invoices", {"card_no": card_no, "month": month}).json()
        same(got, as_json([invoice_json(i) for i in selectors.invoices_of(user, card_id=card_id, month=month)]))
    # GET applications and each application with its invoices
    apps = list(selectors.applications_of(user))
    same(client.get("/api/v1/app/applications").json(), as_json([application_json(a, None) for a in apps]))
    for app in apps:
        got = client.get(f"/api/v1/app/applications/{app.pk}").json()
        same(got, as_json(application_json(app, selectors.application_invoices(app))))
        assert got["invoices"], app.kind
    # GET transits: each month of the card
    for month in (SEPTEMBER, "2026-10"):
        got = client.get("/api/v1/app/transits", {"card_no": book.card_no, "month": month}).json()
        want = as_json(
            [reference_trip_json(t) for t in selectors.trip_views(selectors.transits_for_card(_card_id(book), month))]
        )
        assert got
        same(got, want)


def _card_id(world) -> int:
    return Invoice.objects.filter(card__card_no=world.card_no).values_list("card_id", flat=True).first()


@pytest.mark.django_db
def test_the_fast_renderer_writes_the_same_bytes(book):
    bodies = [
        book.user.get("/api/v1/app/invoices", {"limit": 500}).json(),
        book.user.get("/api/v1/app/transits", {"card_no": book.card_no, "month": SEPTEMBER}).json(),
        {"message": "行\u2028分隔\u2029段落 </script>", "n": [1, -2, 2**62], "ok": True, "none": None, "中": "文"},
    ]
    for body in bodies:
        assert FastJSONRenderer().render(body) == JSONRenderer().render(body)
    # what orjson does not write as DRF does goes through DRF's encoder
    odd = {"at": timezone.now(), "day": timezone.localdate(), "amount": Decimal("1.50"), "lazy": gettext_lazy("发票")}
    assert FastJSONRenderer().render(odd) == JSONRenderer().render(odd)
    assert FastJSONRenderer().render({"big": 2**70}) == JSONRenderer().render({"big": 2**70})
    assert FastJSONRenderer().render(None) == b""


@pytest.mark.django_db
def test_app_invoices_pages_with_limit_cursor_and_link(book, monkeypatch):
    client = book.user
    everything = client.get("/api/v1/app/invoices", {"limit": 500})
    assert "Link" not in everything
    everything = everything.json()
    seen, url, pages = [], "/api/v1/app/invoices?limit=4", 0
    while url:
        r = client.get(url)
        assert r.status_code == 200 and isinstance(r.json(), list)
        seen += r.json()
        pages += 1
        link = r.get("Link")
        url = (
            re.fullmatch(r'<http://testserver(/api/v1/app/invoices\?[^>]+)>; rel="next"', link).group(1)
            if link
            else None
        )
        if url:
            assert "limit=4" in url and "cursor=" in url
    assert seen == everything and pages == -(-len(everything) // 4)
    # the filters travel with the link
    r = client.get("/api/v1/app/invoices", {"card_no": book.card_no, "month": SEPTEMBER, "limit": 2})
    assert f"card_no={book.card_no}" in r["Link"] and f"month={SEPTEMBER}" in r["Link"]
    # without a limit, the default maximum, and the link to the rest
    monkeypatch.setattr(invoicing, "INVOICES_DEFAULT_LIMIT", 3)
    r = client.get("/api/v1/app/invoices")
    assert [i["id"] for i in r.json()] == [i["id"] for i in everything[:3]] and 'rel="next"' in r["Link"]
    # refusals
    for params in ({"limit": "0"}, {"limit": "501"}, {"limit": "x"}, {"cursor": "nope"}, {"cursor": "1_2_3"}):
        r = client.get("/api/v1/app/invoices", params)
        assert r.status_code == 400 and r.json()["code"] == "invalid", params
        assert set(r.json()["errors"]) <= {"limit", "cursor"}


@pytest.mark.django_db
def test_app_applications_and_transits_page_on_request_only(book):
    client = book.user
    apps = client.get("/api/v1/app/applications").json()
    assert len(apps) == Application.objects.count() and "Link" not in client.get("/api/v1/app/applications")
    r = client.get("/api/v1/app/applications", {"limit": 2})
    assert [a["id"] for a in r.json()] == [a["id"] for a in apps[:2]] and 'rel="next"' in r["Link"]
    cursor = re.search(r"cursor=([^&>]+)", r["Link"]).group(1)
    rest = client.get("/api/v1/app/applications", {"limit": 100, "cursor": cursor}).json()
    assert [a["id"] for a in rest] == [a["id"] for a in apps[2:]]
    # transits: the whole month unless a page is asked for
    month = {"card_no": book.card_no, "month": SEPTEMBER}
    whole = client.get("/api/v1/app/transits", month)
    assert len(whole.json()) == 4 and "Link" not in whole
    first = client.get("/api/v1/app/transits", {**month, "limit": 3})
    cursor = re.search(r"cursor=([^&>]+)", first["Link"]).group(1)
    second = client.get("/api/v1/app/transits", {**month, "limit": 3, "cursor": cursor})
    assert first.json() + second.json() == whole.json() and "Link" not in second
    assert client.get("/api/v1/app/transits", {**month, "cursor": "x"}).status_code == 400


@pytest.mark.django_db
def test_app_lists_keep_their_query_count_and_scope(world, applied, app_client, django_assert_max_num_queries):
    push_trips(world, 1)
    first = applied(title_id=title(world.user)).json()["id"]

    def urls(app_id):
        return [
            "/api/v1/app/invoices",
            f"/api/v1/app/invoices?card_no={world.card_no}&month={SEPTEMBER}",
            "/api/v1/app/applications",
            f"/api/v1/app/applications/{app_id}",
            f"/api/v1/app/transits?card_no={world.card_no}&month={SEPTEMBER}",
        ]

    budgets = {}
    for i, url in enumerate(urls(first)):
        with django_assert_max_num_queries(6) as small:
            assert world.user.get(url).status_code == 200
        budgets[i] = len(small.captured_queries)
    push_trips(world, 40, prefix="U", start=world.when + timedelta(days=2))
    big = applied(title_id=title(world.user, name="李四"), mode="per_trip").json()["id"]
    assert Invoice.objects.count() == 123
    for i, url in enumerate(urls(big)):
        with django_assert_max_num_queries(budgets[i]):
            r = world.user.get(url)
        assert r.status_code == 200 and r.json()
    # nobody else's: their lists are empty and the application is a 404
    other = app_client()
    assert other.get("/api/v1/app/invoices").json() == []
    assert other.get("/api/v1/app/applications").json() == []
    assert other.get(f"/api/v1/app/applications/{big}").status_code == 404
    assert other.get("/api/v1/app/invoices", {"card_no": world.card_no}).status_code == 404
    cursor = re.search(r"cursor=([^&>]+)", world.user.get("/api/v1/app/invoices?limit=1")["Link"]).group(1)
    assert other.get("/api/v1/app/invoices", {"cursor": cursor}).json() == []
