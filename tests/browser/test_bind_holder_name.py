"""A company's contact binds the company's card on a phone, and the holder name (开户人名称)
is asked for beside the ID and the mobile. Typed without the bracketed place of the company's
name, it is refused with a message naming the holder name, the issuer and its hotline, and the
name typed is not kept in the form; typed again with half-width brackets where the issuer holds
full-width ones, it matches and the card is bound. The agent finds the failed attempt in the
customer view under the cause 开户人名称不符."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import (
    AGENT_MOBILE,
    AXE_JS,
    ISSUER_HOTLINE,
    ISSUER_NAME,
    VIEWPORTS,
    at_path,
    http,
    log_in,
    make_uscc,
    nav,
    staff_log_in,
)

pytestmark = pytest.mark.browser

COMPANY = "票根测试物流（广州）有限公司"  # as the issuer holds it
TYPED_SHORT = "票根测试物流有限公司"  # the place left out
TYPED_RIGHT = "票根测试物流(广州)有限公司"  # half-width brackets


@pytest.fixture
def viewport() -> str:
    """The company's contact on their phone: 390×844."""
    return "phone"


def register_enterprise(world, person, tax_id: str) -> None:
    """The company's account, registered with the contact's mobile through the App."""
    sent = world.server.sms.count(person.mobile, "register")
    status, answer = http("POST", f"{world.api}/app/sms-codes", {"mobile": person.mobile, "purpose": "register"})
    assert status == 202, answer
    code = world.server.sms.wait_code(person.mobile, "register", after=sent)
    status, answer = http(
        "POST",
        f"{world.api}/app/register",
        {
            "mobile": person.mobile,
            "code": code,
            "password": person.password,
            "account_type": "enterprise",
            "name": COMPANY,
            "tax_id": tax_id,
        },
    )
    assert status == 201, answer


def test_bind_holder_name_on_a_phone(open_page, browser, world, live, journey):
    person = world.new_person()
    tax_id = make_uscc(f"91440101MA5HL{person.serial:04d}")
    # The issuer registers the card as the company's: USCC, full name, the contact's mobile.
    world.push_card(person, holder_name=COMPANY, id_type="uscc", id_number=tax_id)
    register_enterprise(world, person, tax_id)

    page = open_page()
    log_in(page, person)
    nav(page, "我的ETC卡")
    page.get_by_role("main").get_by_role("link", name="绑定ETC卡").click()
    page.wait_for_url(at_path("/cards/bind/"))
    name_box = page.get_by_label("开户人名称", exact=True)
    expect(name_box).to_be_visible()
    expect(page.locator("#id_holder_name_help")).to_have_text(
        "办卡时在发行方登记的开户人名称：个人卡填写持卡人姓名，单位卡填写单位全称（与营业执照一致）。"
        "括号、空格用全角或半角均可。"
    )
    # The name sits with the reserved details: after the card number, before the ID.
    boxes = page.locator("form.card-form").locator("input:not([type=hidden]), select")
    names = [boxes.nth(i).get_attribute("name") for i in range(boxes.count())]
    assert names == ["card_no", "holder_name", "id_type", "id_number", "mobile"], names
    journey.user_page(page, "bind")

    def fill_bind(holder_name: str) -> None:
        page.get_by_label("ETC卡号", exact=True).fill(person.card_no)
        name_box.fill(holder_name)
        page.get_by_label("证件类型", exact=True).select_option("uscc")
        page.get_by_label("证件号码", exact=True).fill(tax_id)
        page.get_by_label("预留手机号", exact=True).fill(person.mobile)
        page.get_by_role("button", name="下一步：获取验证码").click()

    # The name without its （广州）: refused, the item, the issuer and its hotline named.
    sent = live.sms.count(person.mobile, "bind")
    fill_bind(TYPED_SHORT)
    refusal = page.get_by_role("alert").filter(has_text="开户人名称")
    expect(refusal).to_contain_text("您填写的开户人名称与")
    expect(refusal).to_contain_text("预留的开户人名称不一致")
    expect(refusal).to_contain_text(ISSUER_NAME)
    expect(refusal).to_contain_text(ISSUER_HOTLINE)
    expect(refusal).to_contain_text("单位卡请填写单位全称")
    expect(page.locator(".issuer-help").get_by_role("link", name=re.compile(ISSUER_HOTLINE))).to_have_attribute(
        "href", f"tel:{ISSUER_HOTLINE}"
    )
    expect(name_box).to_have_value("")  # what was typed is not echoed back
    expect(page.get_by_label("证件号码", exact=True)).to_have_value("")
    assert TYPED_SHORT not in page.content()
    assert live.sms.count(person.mobile, "bind") == sent  # no code went out
    journey.user_page(page, "bind-holder-name-mismatch")

    # The full name, with the brackets a phone keyboard types: it is the same name.
    fill_bind(TYPED_RIGHT)
    page.wait_for_url(re.compile(r"/cards/bind/[0-9a-f-]+/$"))
    expect(page.get_by_role("main")).to_contain_text(person.plate)
    expect(page.locator("#proof-first")).to_have_count(0)  # the details were all checked
    journey.user_page(page, "bind-code")
    page.get_by_label("短信验证码", exact=True).fill(live.sms.wait_code(person.mobile, "bind", after=sent))
    page.get_by_role("button", name="确认绑定").click()
    page.wait_for_url(at_path("/cards/"))
    expect(page.locator(".notice-success")).to_contain_text(f"绑定成功：{person.plate}")
    journey.user_page(page, "bound")

    # The contact centre: the failed attempt, under its cause, in the customer view.
    context = browser.new_context(
        base_url=live.url, locale="zh-CN", timezone_id="Asia/Shanghai", **VIEWPORTS["desktop"]
    )
    try:
        context.add_init_script(path=str(AXE_JS))
        agent = context.new_page()
        staff_log_in(agent, AGENT_MOBILE)
        agent.get_by_label("手机号 / 卡号 / 车牌 / 发票号码 / 工单号 / 姓名").first.fill(person.mobile)
        agent.get_by_role("button", name="查找客户").first.click()
        agent.wait_for_url(re.compile(r"/admin/support/customer/\d+/$"))
        row = agent.locator("tr", has=agent.locator(".cv-outcome-holder_name_mismatch"))
        expect(row).to_contain_text("开户人名称不符")
        expect(row).to_contain_text(person.card_no)
        expect(row).to_contain_text(ISSUER_HOTLINE)
        expect(agent.locator("body")).not_to_contain_text(TYPED_SHORT)
        journey.shot(agent, "agent-sees-the-cause")
    finally:
        context.close()
