"""An agent finds invoices and trips in the console: the invoice list opens on the newest
invoices issued (the filter 所属月份 says so), a month is one click, and a search by an invoice's
code and number finds it whatever month it bills; a number nobody holds finds nothing. The trip
list opens on this month and the last (通行月份), and the person's month of trips is one click."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .conftest import AGENT_MOBILE, previous_month, staff_log_in

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_console_invoices(open_page, world, journey):
    person = world.issued_person()
    invoices = world.app("GET", "invoices", person=person)
    assert invoices
    first = invoices[-1]
    reference = f"{first['code']}{first['number']}" if first["code"] else first["number"]
    month = previous_month().strftime("%Y-%m")

    agent = open_page()
    staff_log_in(agent, AGENT_MOBILE)
    agent.goto("/admin/invoices/invoice/")
    filters = agent.locator("#changelist-filter")
    if journey.phone and not filters.is_visible():
        agent.get_by_role("link", name="过滤器").or_(agent.get_by_text("过滤器", exact=True)).first.click()
    selected = filters.locator("li.selected")
    expect(selected.first).to_contain_text("最新开具的")
    expect(agent.locator("#result_list")).to_contain_text(first["number"])
    journey.shot(agent, "newest-invoices")

    filters.get_by_role("link", name=month, exact=True).click()
    expect(agent).to_have_url(f"{agent.url.split('?')[0]}?month={month}")
    expect(agent.locator("#result_list")).to_contain_text(first["number"])
    journey.shot(agent, "one-month")

    agent.goto("/admin/invoices/invoice/")
    agent.locator("#searchbar").fill(reference)
    agent.locator("#changelist-search").get_by_role("button").click()
    rows = agent.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(first["number"])
    journey.shot(agent, "found-by-code-and-number")

    agent.locator("#searchbar").fill("99999999")
    agent.locator("#changelist-search").get_by_role("button").click()
    expect(agent.locator("#result_list")).to_have_count(0)
    expect(agent.locator("#content-main .paginator")).to_contain_text("0")
    journey.shot(agent, "nothing-found")

    agent.goto("/admin/invoices/transit/")
    trip_filters = agent.locator("#changelist-filter")
    expect(trip_filters.locator("li.selected").first).to_contain_text("本月和上月")
    trip_filters.get_by_role("link", name=month, exact=True).click()
    expect(agent.locator("#result_list")).to_contain_text(person.card_no)
    journey.shot(agent, "trips-of-a-month")
