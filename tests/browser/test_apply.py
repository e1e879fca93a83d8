"""我要开票 as people use it on a phone: what they tick is what is issued, the confirmation
step says exactly what will be issued, and a stored-value card gets its recharge invoices."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import expect

from .conftest import ISSUER_NAME, OPERATOR_NAMES, SHANGHAI, TRIPS, log_in, make_uscc, nav, previous_month

pytestmark = pytest.mark.browser


def with_title(world, person) -> str:
    name = f"测试运输{person.serial}有限公司"
    world.app(
        "POST",
        "titles",
        {"kind": "enterprise", "name": name, "tax_id": make_uscc("91440300MA5BRW002")},
        person=person,
        expect=201,
    )
    return name


def issued_count(page) -> int:
    """The progress page once it says it is done (it polls and reloads by itself)."""
    expect(page.locator("#progress")).to_have_attribute("data-status", "issued", timeout=90_000)
    page.wait_for_load_state("load")
    text = page.locator("#status-text").inner_text()
    return int(re.search(r"已开出 (\d+) 张发票", text).group(1))


def test_apply_one_trip(open_page, world, journey):
    """Opens 通行记录 and 我要开票 on last month (the newest with trips, not the empty current
    month), ticks one trip and leaves everything else as it was, is told the one trip's three
    invoices, sellers and total, confirms, and gets exactly those three."""
    person = world.bound_person()
    company = with_title(world, person)
    month = previous_month().strftime("%Y-%m")
    page = open_page()
    log_in(page, person)

    nav(page, "通行记录")
    expect(page.get_by_label("月份", exact=True)).to_have_value(month)
    expect(page.locator("li.trip")).to_have_count(len(TRIPS))
    journey.user_page(page, "trips-newest-month")

    nav(page, "我要开票")
    expect(page.get_by_label("月份", exact=True)).to_have_value(month)
    day, (entry, exit_), split = TRIPS[0]
    fee = sum(f for _code, f in split)
    form = page.locator("#apply-form")
    expect(form).to_contain_text(f"本月 {len(TRIPS)} 次通行待开票")
    journey.user_page(page, "apply")
    form.get_by_role("checkbox", name=re.compile(f"{entry} → {exit_}")).check()
    journey.shot(page, "ticked")
    form.get_by_role("button", name="只开所选的通行记录").click()

    plan = page.locator("#plan")
    expect(plan.locator("#plan-h")).to_have_text(f"将开出 {len(split)} 张发票，价税合计 ¥{fee / 100:.2f}")
    expect(plan.locator("#plan-scope")).to_contain_text("所选的 1 次通行")
    expect(plan.locator("#plan-mode")).to_contain_text("按次")
    expect(plan).to_contain_text(company)
    for name in OPERATOR_NAMES:
        expect(plan.locator("#plan-sellers")).to_contain_text(name)
    expect(plan.locator("#plan-sellers")).to_contain_text("不征税")
    journey.user_page(page, "confirm")

    page.get_by_role("button", name=f"确认开票（{len(split)} 张）").click()
    page.wait_for_url(re.compile(r"/applications/\d+/$"))
    assert issued_count(page) == len(split)
    expect(page.locator("table.invoices tbody tr")).to_have_count(len(split))
    journey.user_page(page, "issued")

    # the other trips are still waiting on 我要开票
    nav(page, "我要开票")
    expect(page.locator("#apply-form")).to_contain_text(f"本月 {len(TRIPS) - 1} 次通行待开票")
    journey.user_page(page, "apply-after")


def test_apply_monthly(open_page, world, journey):
    """Chooses 按月汇总 and 整月开票: the count the confirmation states is the count issued."""
    person = world.bound_person()
    with_title(world, person)
    page = open_page()
    log_in(page, person)
    nav(page, "我要开票")
    form = page.locator("#apply-form")
    form.get_by_role("radio", name=re.compile("按月汇总")).check()
    form.get_by_role("button", name=f"整月开票（全部 {len(TRIPS)} 次）").click()

    heading = page.locator("#plan-h")
    expect(heading).to_contain_text("将开出")
    stated = int(re.search(r"将开出 (\d+) 张发票", heading.inner_text()).group(1))
    # one invoice per seller and rate: the three operators here, each at one rate
    assert stated == len(OPERATOR_NAMES)
    expect(page.locator("#plan-scope")).to_contain_text(f"全部 {len(TRIPS)} 次待开票的通行")
    expect(page.locator("#plan-mode")).to_contain_text("按月汇总")
    journey.user_page(page, "confirm")
    page.get_by_role("button", name=f"确认开票（{stated} 张）").click()
    page.wait_for_url(re.compile(r"/applications/\d+/$"))
    assert issued_count(page) == stated
    journey.user_page(page, "issued")


def test_apply_recharges(open_page, world, journey):
    """A stored-value card: 我要开票 asks which invoicing and says the choice is final; the
    person picks recharge invoicing, ticks a recharge, confirms, and gets the 不征税 invoice
    from the issuer, dated by the recharge; then the page says what was chosen, and when."""
    person = world.bound_person(trips=False, card_type="stored_value")
    with_title(world, person)
    recharged = (datetime.now(SHANGHAI) - timedelta(days=40)).replace(hour=10, minute=30)
    world.push_recharge(person, amount=30000, at=recharged)
    page = open_page()
    log_in(page, person)

    nav(page, "我要开票")
    choice = page.get_by_role("region", name="请选择这张储值卡的开票方式")
    expect(choice).to_contain_text("选择是最终的")
    journey.user_page(page, "choose")
    choice.get_by_role("link", name="按充值开票").click()

    expect(page.get_by_label("月份", exact=True)).to_have_value(f"{recharged:%Y-%m}")
    form = page.locator("#apply-form")
    form.get_by_role("checkbox", name=re.compile(r"充值 ¥300\.00")).check()
    journey.user_page(page, "recharges")
    form.get_by_role("button", name="下一步：核对开票内容").click()

    expect(page.locator("#basis-final")).to_contain_text("这张卡固定为“按充值开票”")
    expect(page.locator("#plan-h")).to_have_text("将开出 1 张发票，价税合计 ¥300.00")
    sellers = page.locator("#plan-sellers")
    expect(sellers).to_contain_text(ISSUER_NAME)
    expect(sellers).to_contain_text("不征税")
    journey.user_page(page, "confirm")
    page.get_by_role("button", name="确认开票（1 张）").click()
    page.wait_for_url(re.compile(r"/applications/\d+/$"))
    assert issued_count(page) == 1
    journey.user_page(page, "issued")

    page.locator("table.invoices tbody tr").first.get_by_role("link").click()
    page.wait_for_url(re.compile(r"/invoices/\d+/$"))
    main = page.get_by_role("main")
    expect(main.locator("dl.facts")).to_contain_text(ISSUER_NAME)
    expect(main.locator("table thead")).to_contain_text("充值日期")
    expect(main.locator("table thead")).not_to_contain_text("通行日期")
    expect(main.locator("table tbody")).to_contain_text(f"{recharged:%Y%m%d}")
    expect(main.locator("table tbody")).to_contain_text("不征税")
    journey.user_page(page, "invoice")

    nav(page, "我要开票")
    expect(page.locator("#basis-fixed")).to_contain_text("选择“按充值开票”")
    expect(page.locator("#basis-fixed")).to_contain_text(f"{datetime.now(SHANGHAI).year}年")
    expect(page.get_by_role("region", name="请选择这张储值卡的开票方式")).to_have_count(0)
    journey.user_page(page, "chosen")
