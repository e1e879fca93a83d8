"""The console's roles at work, as new staff would try them: an agent lands on the workspace,
finds the caller and logs the call with a summary holding an ID number and a mobile; the
customer, on their phone, sees a ticket titled by its category and none of the summary; the
agent sees the text masked; a supervisor opens the original with a reason, and the opening is
recorded."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import (
    AGENT_MOBILE,
    AXE_JS,
    SUPERVISOR_MOBILE,
    VIEWPORTS,
    Journey,
    log_in,
    resident_id,
    staff_log_in,
)

pytestmark = pytest.mark.browser

CALLER_MOBILE = "13800000001"


def new_page(browser, live, viewport: str):
    context = browser.new_context(base_url=live.url, locale="zh-CN", timezone_id="Asia/Shanghai", **VIEWPORTS[viewport])
    context.add_init_script(path=str(AXE_JS))
    context.set_default_timeout(20_000)
    return context, context.new_page()


def test_console_roles(browser, live, world):
    person = world.bound_person(trips=False)
    id_number = resident_id(901)
    id_masked = f"{id_number[:4]}{'*' * 10}{id_number[-4:]}"
    summary = f"来电称…身份证{id_number}，手机{CALLER_MOBILE}，绑卡提示证件不符"
    desk = Journey("console_roles", "desktop")
    phone = Journey("console_roles", "phone")
    contexts = []
    try:
        # The agent lands on the workspace: the search box first, then their queue.
        context, agent = new_page(browser, live, "desktop")
        contexts.append(context)
        staff_log_in(agent, AGENT_MOBILE)
        expect(agent.get_by_role("heading", name="查找客户")).to_be_visible()
        expect(agent.locator("#ws-mine")).to_contain_text("我的工单")
        desk.shot(agent, "agent-workspace")
        agent.get_by_label("手机号 / 卡号 / 车牌 / 发票号码 / 工单号 / 姓名").fill(person.mobile)
        agent.get_by_role("button", name="查找客户").click()
        agent.wait_for_url(re.compile(r"/admin/support/customer/\d+/$"))
        expect(agent.locator("#account")).to_contain_text(person.holder)
        assert person.mobile not in agent.url
        desk.shot(agent, "agent-found-customer")

        # 记录来电 from the customer view: the caller is already there.
        agent.get_by_role("link", name="记录来电").click()
        agent.wait_for_url(re.compile(r"/admin/support/call/add/"))
        expect(agent.locator("#id_user")).not_to_have_value("")
        agent.get_by_label("分类").select_option(label="绑卡与解绑")
        agent.get_by_label("通话摘要").fill(summary)
        desk.shot(agent, "agent-logs-call")
        agent.locator("input[name=_save]").first.click()
        agent.wait_for_url(re.compile(r"/admin/support/call/\d+/change/$"))
        content = agent.locator("#content")
        expect(content).to_contain_text(id_masked)
        expect(content).to_contain_text("138****0001")
        expect(content).not_to_contain_text(id_number)
        expect(content).not_to_contain_text(CALLER_MOBILE)
        expect(agent.get_by_role("link", name="查看原文")).to_have_count(0)  # agents have no need
        agent.get_by_role("button", name="由来电创建工单").click()
        agent.wait_for_url(re.compile(r"/admin/support/ticket/\d+/change/$"))
        ticket_url = agent.url
        thread = agent.locator(".thread")
        expect(thread).to_contain_text("内部备注 · 用户不可见")
        expect(thread).to_contain_text(id_masked)
        expect(agent.locator("#content")).not_to_contain_text(id_number)
        # The conversation and the reply box come before the ticket's fields.
        boxes = agent.locator("fieldset h2").all_inner_texts()
        assert boxes[:2] == ["沟通记录（内部备注用户不可见）", "回复或备注"], boxes
        desk.shot(agent, "agent-ticket-masked")

        # The customer, on their phone, sees a ticket titled by its category and no summary.
        context, user = new_page(browser, live, "phone")
        contexts.append(context)
        log_in(user, person)
        user.goto("/help/tickets/")
        main = user.get_by_role("main")
        expect(main).to_contain_text("来电咨询：绑卡与解绑")
        expect(main).not_to_contain_text("来电称")
        phone.user_page(user, "customer-tickets")
        user.get_by_role("link", name="来电咨询：绑卡与解绑").first.click()
        user.wait_for_url(re.compile(r"/help/tickets/\d+/$"))
        main = user.get_by_role("main")
        expect(main.get_by_role("heading", level=1)).to_have_text("来电咨询：绑卡与解绑")
        for hidden in ("来电称", id_number, id_masked, "用户留言", "内部备注"):
            expect(main).not_to_contain_text(hidden)
        phone.user_page(user, "customer-ticket")

        # A supervisor opens the original, with a reason; the opening is recorded.
        context, supervisor = new_page(browser, live, "desktop")
        contexts.append(context)
        staff_log_in(supervisor, SUPERVISOR_MOBILE)
        supervisor.goto(ticket_url)
        expect(supervisor.locator(".thread")).not_to_contain_text(id_number)
        supervisor.locator(".thread").get_by_role("link", name="查看原文").click()
        supervisor.wait_for_url(re.compile(r"/admin/support/ticket/reveal/ticket_message/\d+/$"))
        expect(supervisor.locator("#content")).not_to_contain_text(id_number)
        supervisor.get_by_label("查看原因").fill("用户来电要求核对证件号码")
        desk.shot(supervisor, "supervisor-reveal-reason")
        supervisor.get_by_role("button", name="显示原文").click()
        expect(supervisor.locator(".reveal-original")).to_have_text(summary)
        expect(supervisor.locator(".reveal-note")).to_contain_text("本次查看已于")
        desk.shot(supervisor, "supervisor-reveal-original")
        supervisor.goto("/admin/support/reveal/")
        row = supervisor.locator("#result_list tbody tr").first
        expect(row).to_contain_text("工单消息")
        expect(row).to_contain_text("用户来电要求核对证件号码")
        expect(row).to_contain_text("演示班长")
        desk.shot(supervisor, "supervisor-reveal-record")
    finally:
        for context in contexts:
            context.close()
