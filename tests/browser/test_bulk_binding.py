"""A logistics company's clerk binds the company's trucks in one go (批量绑卡): logged in to the
company's account (registered with the contact mobile the issuer holds), the clerk pastes a list
of card numbers (on the phone) or uploads it as a CSV file (on the desktop). The list mixes the
company's cards with a card reserved to another mobile, a person's card, a number the issuer
never registered, a mistyped number and a duplicate: the page lists each of those with its
reason, the issuer and the issuer's hotline, and the company's cards are bound with the one SMS
code sent to the contact mobile. They then show in 我的ETC卡."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import ISSUER_HOTLINE, ISSUER_NAME, ISSUER_NETWORK_CODE, at_path, http, log_in, make_uscc, nav

pytestmark = pytest.mark.browser

COMPANY = "票根测试车队（广州）物流有限公司"


def register_enterprise(world, person, tax_id: str) -> None:
    """The company's account, registered through the App with the contact's mobile."""
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


def fleet_card(person, tax_id: str, i: int, **changes) -> dict:
    item = person.card_item(
        card_no=f"{ISSUER_NETWORK_CODE}8{person.serial:04d}{i:011d}",
        plate=f"粤E{(person.serial * 10 + i) % 100000:05d}",
        plate_color=1,
        vehicle_class="truck",
        holder_name=COMPANY,
        id_type="uscc",
        id_number=tax_id,
    )
    item.update(changes)
    return item


def test_bulk_binding(open_page, world, live, journey, viewport, tmp_path):
    person = world.new_person()  # the contact; the issuer also holds a card of theirs, as a person
    tax_id = make_uscc(f"91440101MA5BK{person.serial:04d}")
    trucks = [fleet_card(person, tax_id, i) for i in (1, 2, 3)]
    elsewhere = fleet_card(person, tax_id, 4, mobile=f"1390000{person.serial:04d}")  # another mobile
    status, body = http("POST", f"{world.api}/partner/cards", {"cards": [*trucks, elsewhere]}, token=world.issuer_token)
    assert status == 200 and not body["rejected"], body
    register_enterprise(world, person, tax_id)
    unknown = f"{ISSUER_NETWORK_CODE}8{person.serial:04d}99999999999"
    good = [t["card_no"] for t in trucks]
    # line: 1 truck, 2 another mobile, 3 the person's card, 4 unknown, 5 mistyped, 6 truck,
    # 7 duplicate of line 1, 8 truck
    lines = [good[0], elsewhere["card_no"], person.card_no, unknown, good[1][:-1], good[1], good[0], good[2]]

    page = open_page()
    log_in(page, person)
    nav(page, "我的ETC卡")
    page.get_by_role("main").get_by_role("link", name="批量绑卡").click()
    page.wait_for_url(at_path("/cards/bulk/"))
    expect(page.locator("#bulk-hint")).to_contain_text("一次最多 500 张")
    journey.user_page(page, "bulk")

    sent = live.sms.count(person.mobile, "bind")
    if journey.phone:  # the clerk pastes a column copied from a spreadsheet
        page.get_by_label("卡号列表", exact=True).fill("\n".join(lines))
    else:  # the clerk uploads the fleet's list as a CSV file
        csv_file = tmp_path / "车队卡号.csv"
        csv_file.write_text("卡号,车牌\n" + "\n".join(f"{no},粤E" for no in lines) + "\n", encoding="utf-8-sig")
        page.get_by_label("或上传文件", exact=True).set_input_files(str(csv_file))
    page.get_by_role("button", name="下一步：核对并获取验证码").click()
    page.wait_for_url(re.compile(r"/cards/bulk/[0-9a-f-]+/$"))

    eligible = page.locator("#bulk-eligible tbody tr")
    expect(eligible).to_have_count(3)
    for truck in trucks:
        expect(page.locator("#bulk-eligible")).to_contain_text(truck["card_no"])
        expect(page.locator("#bulk-eligible")).to_contain_text(truck["plate"])
    expect(page.locator("#bulk-eligible-title")).to_have_text("3 张卡将一次绑定")
    expect(page.locator("#bulk-refused-title")).to_have_text("5 张卡不能绑定")
    expect(page.get_by_role("link", name="另有 5 张卡不能绑定，原因见下方。")).to_have_attribute(
        "href", "#bulk-refused-title"
    )
    masked = f"{person.mobile[:3]}****{person.mobile[-4:]}"
    expect(page.get_by_role("main")).to_contain_text(f"验证码已发送至单位联系人手机号 {masked}")
    offset = 1 if journey.phone else 2  # the CSV's heading is its line 1

    def refusal(card_no: str, line: int):
        item = page.locator("#bulk-refused li", has=page.locator(".card-no", has_text=re.compile(f"^{card_no}$")))
        expect(item).to_have_count(1)
        expect(item).to_contain_text(f"第 {line + offset - 1} 行")
        return item

    other_mobile = refusal(elsewhere["card_no"], 2)
    expect(other_mobile).to_contain_text("预留手机号不符")
    expect(other_mobile.locator(".refusal-message")).to_have_text(
        f"该卡在广东的发行方 {ISSUER_NAME}（客服热线 {ISSUER_HOTLINE}（演示））预留的手机号不是本账户的登录手机号"
        "（单位联系人手机号）。请联系发行方核对或更新预留手机号，更新后再重新绑定。"
    )
    expect(other_mobile.get_by_role("link", name=re.compile(ISSUER_HOTLINE))).to_have_attribute(
        "href", f"tel:{ISSUER_HOTLINE}"
    )
    personal = refusal(person.card_no, 3)
    expect(personal).to_contain_text("非本单位的卡")
    expect(personal.locator(".refusal-message")).to_contain_text("持卡人证件不是本单位的统一社会信用代码")
    expect(personal.locator(".refusal-message")).to_contain_text("个人名下的卡请在“绑定ETC卡”逐张绑定")
    expect(personal.locator(".issuer-line")).to_contain_text(f"{ISSUER_NAME}（广东） · 客服热线 {ISSUER_HOTLINE}")
    missing = refusal(unknown, 4)
    expect(missing).to_contain_text("卡号不存在")
    expect(missing.locator(".refusal-message")).to_contain_text(f"未找到卡号 {unknown}")
    expect(missing.locator(".issuer-line")).to_contain_text(ISSUER_HOTLINE)
    mistyped = refusal(good[1][:-1], 5)
    expect(mistyped.locator(".refusal-message")).to_have_text("卡号应为20位数字（印在ETC卡正面）。")
    duplicate = page.locator("#bulk-refused li[data-code=duplicate]")
    expect(duplicate).to_contain_text(f"与第 {offset} 行的卡号重复，只按一张卡处理。")
    expect(duplicate).to_contain_text(good[0])
    assert tax_id not in page.content() and person.mobile not in page.content()
    journey.user_page(page, "bulk-review")

    # One code for the three trucks, to the contact mobile.
    code = live.sms.wait_code(person.mobile, "bind", after=sent)
    assert live.sms.count(person.mobile, "bind") == sent + 1
    page.get_by_label("短信验证码", exact=True).fill(code)
    page.get_by_role("button", name="确认绑定").click()
    page.wait_for_url(at_path("/cards/"))
    expect(page.locator(".notice-success")).to_contain_text("批量绑定成功：已绑定 3 张卡")
    # Two cards a page on this server (CARDS_PAGE_SIZE): the newest two, then the third.
    cards = page.locator("ul.etc-cards > li")
    expect(page.locator("#card-count")).to_contain_text("共绑定 3 张卡")
    expect(cards).to_have_count(2)
    seen = page.locator("ul.etc-cards").inner_text()
    journey.user_page(page, "bound")
    page.get_by_role("link", name="下一页").click()
    expect(cards).to_have_count(1)
    seen += page.locator("ul.etc-cards").inner_text()
    for truck in trucks:
        assert truck["card_no"] in seen and truck["plate"] in seen, truck
    assert elsewhere["card_no"] not in seen
    journey.user_page(page, "bound-page-2")
    # The clerk looks one truck up by its plate.
    page.get_by_label("查找车牌或卡号").fill(trucks[1]["plate"][1:])
    page.get_by_role("button", name="查找", exact=True).click()
    expect(cards).to_have_count(1)
    expect(cards).to_contain_text(trucks[1]["card_no"])
    expect(page.locator("#card-count")).to_contain_text(f"“{trucks[1]['plate'][1:]}”的查找结果")
    journey.user_page(page, "bound-search")
    page.get_by_role("link", name="显示全部").click()
    expect(cards).to_have_count(2)
