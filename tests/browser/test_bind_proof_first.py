"""Strangers fail at a card until it reaches the day's ceiling of failures from all clients; the
holder then binds it by proving the reserved mobile first.

This journey has a server of its own, started with a low ceiling (``BINDING_MAX_FAILURES_PER_CARD``
3) and, so that strangers can come from networks of their own as they would, behind a trusted
proxy (``TRUSTED_PROXIES`` 127.0.0.1: the strangers' App requests carry ``X-Forwarded-For``,
the holder's browser none). Its caps per account and per (network, card) are set apart from the
defaults, so that the hint on 绑定ETC卡 is seen to state the server's own.

Strangers fail with wrong ID numbers from three networks; at the ceiling a fourth is answered
202 ``details_checked: false`` (the code goes to the holder's phone, not the stranger's), and a
wrong mobile is refused without a word on the ID. The holder on 绑定ETC卡 reads the hint, types
an old mobile and is refused with no code sent anywhere; types a mistyped ID with the right
mobile and gets the same second step as with the right details, a code on their phone, and the
refusal only once the code is typed; then binds with the right details.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import (
    ISSUER_HOTLINE,
    ISSUER_NAME,
    World,
    at_path,
    http,
    live_server_fixture,
    log_in,
    resident_id,
)

pytestmark = pytest.mark.browser

CEILING = 3
PER_ACCOUNT = 6
PER_CLIENT_CARD = 4
ceiling_live = live_server_fixture(
    "ceiling",
    {
        "BINDING_MAX_FAILURES_PER_CARD": str(CEILING),
        "BINDING_MAX_FAILURES_PER_ACCOUNT": str(PER_ACCOUNT),
        "BINDING_MAX_FAILURES_PER_CLIENT_CARD": str(PER_CLIENT_CARD),
        "TRUSTED_PROXIES": "127.0.0.1",
        # The holder asks a second code within a minute of the first (and of the stranger's);
        # the resend interval itself is tested in tests/accounts.
        "SMS_RESEND_SECONDS": "1",
    },
)
HINT = (
    f"验证码将发送到发行方预留的手机号。为保护持卡人信息，每个账户每天最多验证失败 {PER_ACCOUNT} 次，"
    f"从同一网络对同一张卡每天最多验证失败 {PER_CLIENT_CARD} 次。他人的失败不会妨碍您绑定自己的卡："
    "一张卡当天被多次验证失败后，验证码会先发送到预留手机号，验证码通过后再核对证件信息和开户人名称。"
)
PROOF_FIRST = (
    "该卡今日已多次验证失败。为保护持卡人信息，需先验证预留手机号：验证码通过后再核对您填写的证件信息和开户人名称，"
    "核对一致即完成绑定。"
)
OLD_MOBILE = "13911112222"


@pytest.fixture
def server(ceiling_live):
    """``open_page`` opens this journey's pages on its own server."""
    return ceiling_live


@pytest.fixture(scope="module")
def ceiling_world(ceiling_live) -> World:
    return World(ceiling_live)


def stranger_tries(world: World, holder, network: int, **details) -> tuple[int, dict]:
    """A stranger with an account of their own, from a network of their own, tries the
    holder's card through the App."""
    stranger = world.register(world.new_person())
    body = {
        "card_no": holder.card_no,
        "holder_name": holder.holder,
        "id_type": "resident_id",
        "id_number": resident_id(900 + network),
        "mobile": holder.mobile,
        **details,
    }
    return http(
        "POST",
        f"{world.api}/app/cards",
        body,
        token=stranger.token,
        headers={"X-Forwarded-For": f"198.51.100.{network}"},
    )


def test_bind_proof_first(open_page, ceiling_world, ceiling_live, journey):
    world, sms = ceiling_world, ceiling_live.sms
    holder = world.register(world.new_person())
    mistyped_id = resident_id(holder.serial + 500)

    # Strangers from three networks, each with a wrong ID: refused, counted at the card.
    for network in range(1, CEILING + 1):
        status, answer = stranger_tries(world, holder, network)
        assert status == 400 and answer["code"] == "id_mismatch", answer
    # At the ceiling: not refused, not checked. The code goes to the holder's phone.
    sent = sms.count(holder.mobile, "bind")
    status, answer = stranger_tries(world, holder, 10)
    assert status == 202 and answer["details_checked"] is False, answer
    assert answer["masked_mobile"] == f"{holder.mobile[:3]}****{holder.mobile[-4:]}"
    sms.wait_code(holder.mobile, "bind", after=sent)
    # A stranger's wrong mobile: refused at once (no code could reach the holder), the ID unsaid.
    status, answer = stranger_tries(world, holder, 11, mobile=OLD_MOBILE)
    assert status == 400 and answer["code"] == "mobile_mismatch" and "证件" not in answer["message"], answer
    assert sms.count(OLD_MOBILE, "bind") == 0

    page = open_page()
    log_in(page, holder)
    page.goto("/cards/bind/")
    expect(page.locator("#bind-hint")).to_have_text(HINT)
    journey.user_page(page, "bind")

    def fill_bind(*, id_number: str, mobile: str) -> None:
        page.get_by_label("ETC卡号", exact=True).fill(holder.card_no)
        page.get_by_label("开户人名称", exact=True).fill(holder.holder)
        page.get_by_label("证件类型", exact=True).select_option("resident_id")
        page.get_by_label("证件号码", exact=True).fill(id_number)
        page.get_by_label("预留手机号", exact=True).fill(mobile)
        page.get_by_role("button", name="下一步：获取验证码").click()

    # An old mobile: refused on the spot, and no code to either number.
    sent = sms.count(holder.mobile, "bind")
    fill_bind(id_number=holder.id_number, mobile=OLD_MOBILE)
    refusal = page.get_by_role("alert").filter(has_text="预留的手机号不一致")
    expect(refusal).to_contain_text(ISSUER_NAME)
    expect(refusal).to_contain_text(ISSUER_HOTLINE)
    expect(refusal).to_contain_text(f"今日还可尝试 {PER_CLIENT_CARD - 1} 次")
    expect(refusal).not_to_contain_text("证件")
    journey.user_page(page, "wrong-mobile")
    assert sms.count(holder.mobile, "bind") == sent and sms.count(OLD_MOBILE, "bind") == 0

    def second_step() -> str:
        page.wait_for_url(re.compile(r"/cards/bind/[0-9a-f-]+/$"))
        expect(page.locator("#proof-first")).to_have_text(PROOF_FIRST)
        expect(page.get_by_role("main")).to_contain_text(f"验证码已发送至发行方预留的手机号 {holder.mobile[:3]}****")
        expect(page.get_by_role("main")).to_contain_text(holder.plate)
        return page.get_by_role("main").inner_text()

    # A mistyped ID with the right mobile: the second step, as with the right details, and the
    # code on the holder's phone; the ID is compared once the code comes back.
    sent = sms.count(holder.mobile, "bind")
    fill_bind(id_number=mistyped_id, mobile=holder.mobile)
    told_for_a_wrong_id = second_step()
    journey.user_page(page, "code-sent-mistyped-id")
    page.get_by_label("短信验证码", exact=True).fill(sms.wait_code(holder.mobile, "bind", after=sent))
    page.get_by_role("button", name="确认绑定").click()
    refusal = page.get_by_role("alert")
    expect(refusal).to_contain_text("证件类型或证件号码")
    expect(refusal).to_contain_text("不一致")
    expect(refusal).to_contain_text(ISSUER_NAME)
    expect(refusal).to_contain_text(ISSUER_HOTLINE)
    expect(page.get_by_label("短信验证码", exact=True)).to_have_count(0)  # this attempt is over
    expect(page.locator("#proof-first")).to_have_count(0)
    journey.user_page(page, "id-refused-after-the-code")

    # Again, with the right details: the same second step, the code, bound.
    page.get_by_role("link", name="重新填写并绑定").click()
    page.wait_for_url(at_path("/cards/bind/"))
    sent = sms.count(holder.mobile, "bind")
    fill_bind(id_number=holder.id_number, mobile=holder.mobile)
    assert second_step() == told_for_a_wrong_id  # nothing said about whether the details matched
    journey.user_page(page, "code-sent-right-details")
    page.get_by_label("短信验证码", exact=True).fill(sms.wait_code(holder.mobile, "bind", after=sent))
    page.get_by_role("button", name="确认绑定").click()
    page.wait_for_url(at_path("/cards/"))
    expect(page.locator(".notice-success")).to_contain_text(f"绑定成功：{holder.plate}")
    expect(page.get_by_role("main")).to_contain_text(holder.card_no)
    journey.user_page(page, "bound")
