"""我的发票 → 按通行记录 on a phone (390×844), for a user who applies by the month: a monthly invoice
covers every trip of the month on one of its roads, so a page by trip holds whole invoices up to
INVOICE_TRIP_VIEW_LINES lines (2 here, for a month of three trips) and the pager walks on. The
user sees each trip under its heading with the invoices that cover it, and every invoice once
over the pages, forwards and back."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import live_server_fixture, log_in, nav

pytestmark = pytest.mark.browser

by_trip_live = live_server_fixture("bytrip", {"INVOICE_TRIP_VIEW_LINES": "2"})


@pytest.fixture
def server(by_trip_live):
    return by_trip_live


@pytest.fixture
def viewport() -> str:
    return "phone"


@pytest.fixture
def monthly_person(by_trip_live):
    from .conftest import World

    world = World(by_trip_live)
    person = world.issued_person(mode="monthly")
    detail = world.app("GET", f"applications/{person.extra['application_id']}", person=person)
    person.extra["numbers"] = {inv["number"] for inv in detail["invoices"]}
    person.extra["lines"] = {inv["number"]: len(inv["lines"]) for inv in detail["invoices"]}
    return person


def shown_numbers(page) -> set[str]:
    """The invoice numbers the page links to (each invoice link shows its code and number)."""
    texts = page.locator("main a[href^='/invoices/']").all_inner_texts()
    return {m.group(1) for text in texts if (m := re.search(r"(\d{8,20})\s*$", text.strip()))}


def test_a_month_of_monthly_invoices_by_trip_a_few_lines_a_page(open_page, monthly_person, journey):
    person = monthly_person
    assert len(person.extra["numbers"]) == 3 and set(person.extra["lines"].values()) == {2}
    page = open_page()
    log_in(page, person)
    nav(page, "我的发票")
    page.get_by_label("查看方式").select_option("trip")
    page.get_by_role("button", name="查询").tap()
    page.wait_for_url(re.compile(r"view=trip"))

    pages = []
    while True:
        numbers = shown_numbers(page)
        # whole invoices within the page's budget: one monthly invoice of two lines a page,
        # shown under each of the two trips it covers
        assert len(numbers) == 1, numbers
        expect(page.get_by_role("heading", level=2, name=re.compile("→"))).to_have_count(2)
        # a trip's other invoices are on the pages around: the page says so, not "共 1 张"
        expect(page.locator("main")).to_contain_text("本页列出这次通行的 1 张发票")
        expect(page.locator("main")).not_to_contain_text("这次通行共")
        pages.append(numbers)
        if len(pages) == 1:
            journey.user_page(page, "by-trip-first-page")
        following = page.get_by_role("link", name="下一页")
        if following.count() == 0:
            break
        with page.expect_navigation():
            following.tap()
        assert "after=" in page.url
    assert len(pages) == 3
    assert set().union(*pages) == person.extra["numbers"]  # every invoice, each on one page
    journey.user_page(page, "by-trip-last-page")

    # back to the first page: the same invoices again, one a page
    back = [shown_numbers(page)]
    while page.get_by_role("link", name="上一页").count():
        with page.expect_navigation():
            page.get_by_role("link", name="上一页").tap()
        assert "before=" in page.url
        back.append(shown_numbers(page))
    assert sorted(map(sorted, back)) == sorted(map(sorted, pages))
