"""A user who cannot find a trip, a ticket, the agent who answers it and the supervisor who
watches the numbers."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import expect

from .conftest import (
    AGENT_MOBILE,
    OPERATOR_NAMES,
    SERVER_SETTINGS,
    SHANGHAI,
    SUPERVISOR_MOBILE,
    at_path,
    log_in,
    nav,
    staff_log_in,
    wait_for,
)

pytestmark = pytest.mark.browser


def dashboard(page) -> tuple[int, int]:
    """The dashboard's new tickets of the last 14 days: all of them, and those about trips."""
    page.goto("/admin/support/dashboard/")
    total = page.locator(".dash-kpi", has_text="新工单").locator("strong").inner_text()
    chart = page.locator(".dash-chart", has=page.get_by_role("heading", name="工单分类"))
    trips = chart.locator("tr", has=page.locator("th", has_text="通行记录")).locator(".hbar-value").inner_text()
    return int(total), int(trips)


def test_contact_centre(open_page, world, live, journey):
    person = world.bound_person()
    today = datetime.now(SHANGHAI).date()
    travelled = today - timedelta(days=3)
    # Today's trips appear from the 7th natural day (the 2020 rules; TRANSIT_AVAILABLE_AFTER_DAYS_2020).
    expected = travelled + timedelta(days=int(SERVER_SETTINGS["TRANSIT_AVAILABLE_AFTER_DAYS_2020"]))

    supervisor = open_page()
    staff_log_in(supervisor, SUPERVISOR_MOBILE)
    before = dashboard(supervisor)
    journey.shot(supervisor, "supervisor-dashboard-before")

    # The user travelled three days ago and cannot find the trip.
    user = open_page()
    log_in(user, person, journey)
    nav(user, "通行记录")  # opens on the newest month with trips; the trip's month has none yet
    user.get_by_label("月份", exact=True).select_option(f"{travelled:%Y-%m}")
    user.get_by_role("button", name="查询").click()
    expect(user.get_by_role("main")).to_contain_text("暂无这张卡的通行记录")
    journey.user_page(user, "trip-missing")
    nav(user, "客服中心")
    journey.user_page(user, "help-centre")
    user.get_by_label("搜索常见问题").fill("通行记录 查不到")
    user.get_by_role("search").get_by_role("button", name="搜索").click()
    user.wait_for_url(re.compile(r"/help/search/\?q="))
    journey.user_page(user, "faq-search")
    user.get_by_role("link", name="通行后多久能查到通行记录？").first.click()
    user.wait_for_url(re.compile(r"/help/faq/\d+/$"))
    expect(user.get_by_role("heading", level=1)).to_have_text("通行后多久能查到通行记录？")
    journey.user_page(user, "faq-answer")
    user.get_by_role("link", name="查某一天的通行何时可查").click()
    user.wait_for_url(re.compile(r"/help/diagnose/"))
    user.get_by_label("通行日期", exact=True).fill(travelled.isoformat())
    user.locator("#timing").get_by_role("button", name="查询").click()
    user.wait_for_url(re.compile(r"date="))
    timing = user.locator("#timing .callout")
    expect(timing).to_contain_text(f"预计 {expected:%Y-%m-%d} 起可查")
    expect(timing).to_contain_text(f"第 {SERVER_SETTINGS['TRANSIT_AVAILABLE_AFTER_DAYS_2020']} 个自然日")
    journey.user_page(user, "diagnosis-expected-date")

    # Still worried: a ticket about it, with the card attached.
    user.get_by_role("link", name="提交工单").first.click()
    user.wait_for_url("**/help/tickets/new/")
    journey.user_page(user, "ticket-new")
    user.get_by_label("问题分类", exact=True).select_option("trips")
    subject = f"{travelled:%m月%d日}的通行还查不到"
    user.get_by_label("主题", exact=True).fill(subject)
    user.get_by_label("问题描述", exact=True).fill(f"{travelled:%Y-%m-%d} 从广州北站到惠州西站，现在还看不到记录。")
    user.get_by_label("相关ETC卡", exact=True).select_option(label=f"{person.card_no} · {person.plate}")
    user.get_by_role("button", name="下一步：查看相关解答").click()
    expect(user.locator(".suggestions")).to_contain_text("提交前，看看这些解答能否解决您的问题")
    journey.user_page(user, "ticket-suggestions")
    user.get_by_role("button", name="问题仍未解决，提交工单").click()
    user.wait_for_url(re.compile(r"/help/tickets/\d+/$"))
    ticket_url = user.url
    ref = user.locator("dl.facts dt", has_text="工单号").locator("xpath=following-sibling::dd[1]").inner_text().strip()
    assert re.fullmatch(r"T\d{8}", ref), ref
    expect(user.locator(".notice-success")).to_contain_text(f"工单 {ref} 已提交")
    journey.user_page(user, "ticket-open")
    user.get_by_role("link", name="我的工单").click()
    user.wait_for_url(at_path("/help/tickets/"))
    expect(user.get_by_role("main")).to_contain_text(subject)
    journey.user_page(user, "my-tickets")

    # An agent finds the customer by plate and sees everything on one screen.
    agent = open_page()
    staff_log_in(agent, AGENT_MOBILE)
    journey.shot(agent, "agent-console")
    agent.get_by_role("link", name="客户视图").first.click()
    agent.wait_for_url("**/admin/support/customer/")
    agent.get_by_label("手机号 / 卡号 / 车牌 / 发票号码 / 工单号 / 姓名").fill(person.plate)
    agent.get_by_role("button", name="查找客户").click()
    agent.wait_for_url(re.compile(r"/admin/support/customer/\d+/$"))
    view = agent.locator(".customer-view")
    expect(view.locator("#account")).to_contain_text(person.holder)
    expect(view.locator("#account")).to_contain_text(f"{person.mobile[:3]}****{person.mobile[-4:]}")
    expect(view.locator("#account")).not_to_contain_text(person.mobile)
    expect(view.locator("#cards")).to_contain_text(person.card_no)
    expect(view.locator("#cards")).to_contain_text(person.plate)
    expect(view.locator("#cards")).to_contain_text("绑定中")
    expect(view.locator("#attempts")).to_be_visible()
    for name in OPERATOR_NAMES:
        expect(view.locator("#trips")).to_contain_text(name)
    expect(view.locator("#applications")).to_be_visible()
    expect(view.locator("#invoices")).to_be_visible()
    expect(view.locator("#tickets")).to_contain_text(ref)
    expect(view.locator("#tickets")).to_contain_text(subject)
    expect(view.locator("#calls")).to_be_visible()
    journey.shot(agent, "agent-customer-view")

    # The agent answers the customer.
    reply = f"您好，{travelled:%m月%d日}的通行预计 {expected:%Y-%m-%d} 起可以查到，届时仍查不到请回复我们。"
    view.locator("#tickets").get_by_role("link", name=ref).click()
    agent.wait_for_url(re.compile(r"/admin/support/ticket/\d+/change/$"))
    agent.get_by_label("新增消息").select_option("public_reply")
    agent.get_by_label("内容").fill(reply)
    journey.shot(agent, "agent-reply")
    agent.locator("input[name=_save]").first.click()
    expect(agent.locator(".messagelist")).to_contain_text("已回复用户，并短信通知。")
    journey.shot(agent, "agent-replied")

    # The user hears of it by SMS and on the next page.
    wait_for(lambda: live.sms.messages(person.mobile, "ticket_reply"), what="SMS about the reply")
    nav(user, "首页")
    notice = user.locator(".notice", has_text=f"您的工单 {ref} 有新的客服回复")
    expect(notice).to_be_visible()
    journey.user_page(user, "reply-notice")
    notice.get_by_role("link", name="查看回复").click()
    user.wait_for_url(ticket_url)
    expect(user.locator(".msg-public_reply")).to_contain_text(reply)
    expect(user.locator("dl.facts")).to_contain_text("待用户回复")
    journey.user_page(user, "reply-read")

    # The supervisor sees the ticket in the day's numbers.
    assert dashboard(supervisor) == (before[0] + 1, before[1] + 1)
    journey.shot(supervisor, "supervisor-dashboard-after")
