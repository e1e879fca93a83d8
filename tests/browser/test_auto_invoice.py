"""自动开票 as a user sets it: turned on for every card from 我的ETC卡, the hourly job runs (here
started by its management command against the live server, as beat would), the month appears in
the history linked to its issued application and the ZIP is mailed; then the user pauses it on
the card's own page."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pytest
from playwright.sync_api import expect

from .conftest import (
    AGENT_MOBILE,
    SERVER_SETTINGS,
    SHANGHAI,
    log_in,
    make_uscc,
    nav,
    previous_month,
    staff_log_in,
    wait_for,
)

pytestmark = pytest.mark.browser


def latest_available_month(today: date) -> date:
    """The newest month whose trips are all available today under the product's rules in force
    (the 2020 and later regimes: from the 7th natural day after travel)."""
    days = int(SERVER_SETTINGS["TRANSIT_AVAILABLE_AFTER_DAYS_2020"])
    month = previous_month(today)
    while (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1) + timedelta(days=days) > today:
        month = previous_month(month)
    return month


def test_auto_invoice(open_page, world, journey, live):
    person = world.bound_person(trips=False)
    month = latest_available_month(datetime.now(SHANGHAI).date())
    label = month.strftime("%Y-%m")
    world.push_trips(person, month)
    email = f"fleet{person.serial}@example.com"
    made = world.app(
        "POST",
        "titles",
        {
            "kind": "enterprise",
            "name": f"自动开票物流{person.serial}有限公司",
            "tax_id": make_uscc("91440300MA5BRW004"),
        },
        person=person,
        expect=201,
    )
    world.app("PUT", f"cards/{person.card_no}/default-title", {"title_id": made["id"]}, person=person)

    page = open_page()
    log_in(page, person)
    nav(page, "我的ETC卡")
    expect(page.locator(".etc-card")).to_contain_text("未开启")
    journey.user_page(page, "cards")
    page.get_by_role("link", name="自动开票", exact=True).click()
    page.wait_for_url(re.compile(r"/cards/auto-invoice/$"))
    expect(page.locator("#auto-state")).to_contain_text("全部ETC卡：未开启")
    journey.user_page(page, "auto-invoice-off")

    form = page.locator("#auto-form")
    form.get_by_label("开启：每月自动为全部已绑定的ETC卡开票").check()
    form.get_by_label("按月汇总：每个经营单位、每个税率一张，每次通行一行").check()
    form.get_by_label("收票邮箱").fill(email)
    form.get_by_role("button", name="保存设置").click()
    page.wait_for_url(re.compile(r"/cards/auto-invoice/$"))
    expect(page.get_by_role("status").filter(has_text="已为全部ETC卡开启自动开票")).to_be_visible()
    expect(page.locator("#auto-state")).to_contain_text("全部ETC卡：已开启")
    expect(page.locator("#auto-state")).to_contain_text(email)
    cards = page.locator("#auto-cards")
    expect(cards).to_contain_text(person.plate)
    expect(cards).to_contain_text(f"{label} 待自动申请")
    expect(cards).to_contain_text(f"默认抬头：自动开票物流{person.serial}有限公司")
    journey.user_page(page, "auto-invoice-on")

    # The hourly job runs (the beat task's sweep, started as its command) and the worker issues.
    live.manage("auto_invoice")
    wait_for(
        lambda: (
            (world.app("GET", f"cards/{person.card_no}/auto-invoice", person=person)["runs"] or [{}])[0].get(
                "application_status"
            )
            == "issued"
        ),
        timeout=120,
        interval=0.5,
        what="the automatic application issued",
    )
    page.reload()
    runs = page.locator("#auto-runs")
    row = runs.locator("tbody tr").filter(has_text=label)
    expect(row).to_contain_text(person.plate)
    expect(row).to_contain_text("已开票")
    expect(page.locator("#auto-cards")).not_to_contain_text(f"{label} 待自动申请")
    journey.user_page(page, "auto-invoice-run")

    row.get_by_role("link", name=re.compile(r"申请 #\d+")).click()
    page.wait_for_url(re.compile(r"/applications/\d+/$"))
    expect(page.locator("#progress")).to_have_attribute("data-status", "issued")
    expect(page.locator("main")).to_contain_text(f"自动开票物流{person.serial}有限公司")
    journey.user_page(page, "application")

    # The ZIP goes to the address chosen, once the documents are rendered.
    def mailed() -> bool:
        return any(
            f"To: {email}" in path.read_text(errors="replace") and "application/zip" in path.read_text(errors="replace")
            for path in live.mail_dir.glob("*")
        )

    wait_for(mailed, timeout=180, interval=1, what="the ZIP mailed")

    # The user pauses it on the card's own page.
    nav(page, "我的ETC卡")
    expect(page.locator(".etc-card")).to_contain_text("已开启")
    page.get_by_role("link", name=f"设置 {person.plate} 的自动开票").click()
    page.wait_for_url(re.compile(rf"/cards/{person.card_no}/auto-invoice/$"))
    expect(page.locator("#auto-state")).to_contain_text("自动开票：已开启")
    expect(page.locator("#auto-next")).to_contain_text("下一次：")
    page.get_by_role("button", name="暂停自动开票").click()
    page.wait_for_url(re.compile(rf"/cards/{person.card_no}/auto-invoice/$"))
    expect(page.locator("#auto-state")).to_contain_text("自动开票：已暂停")
    expect(page.locator("#auto-next")).to_have_count(0)
    expect(page.get_by_role("button", name="恢复自动开票")).to_be_visible()
    expect(page.locator("#auto-runs")).to_contain_text("已开票")
    journey.user_page(page, "card-paused")
    state = world.app("GET", f"cards/{person.card_no}/auto-invoice", person=person)
    assert state["source"] == "card" and state["paused"] is True and state["next_run"] is None

    # The customer calls the hotline: the agent finds them by plate and sees, in the customer
    # view, what they set and what the job did: the account-wide setting on, the card's own
    # paused, the month's run with its application, and the address masked.
    agent = open_page()
    staff_log_in(agent, AGENT_MOBILE)
    agent.get_by_role("link", name="客户视图").first.click()
    agent.wait_for_url("**/admin/support/customer/")
    agent.get_by_label("手机号 / 卡号 / 车牌 / 发票号码 / 工单号 / 姓名").fill(person.plate)
    agent.get_by_role("button", name="查找客户").click()
    agent.wait_for_url(re.compile(r"/admin/support/customer/\d+/$"))
    section = agent.locator("#auto-invoice")
    settings_rows = section.locator("#auto-invoice-settings tbody tr")
    expect(settings_rows.filter(has_text="账户下全部卡")).to_contain_text("已开启")
    expect(settings_rows.filter(has_text=person.plate)).to_contain_text("已暂停")
    expect(section).not_to_contain_text(email)  # the address, masked
    expect(section).to_contain_text(email.split("@")[1])
    run = section.locator("#auto-invoice-runs tbody tr").filter(has_text=label)
    expect(run).to_contain_text("已提交申请")
    expect(run).to_contain_text("已开票")
    expect(run.get_by_role("link", name=re.compile(r"#\d+"))).to_be_visible()
    journey.shot(agent, "agent-customer-auto-invoice")
