"""An issuer changes the reserved mobile of a card: the platform unbinds it and tells the user why."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .conftest import ISSUER_HOTLINE, ISSUER_NAME, log_in, nav, wait_for

pytestmark = pytest.mark.browser


def test_issuer_push_unbinds(open_page, world, live, journey):
    person = world.bound_person(trips=False)

    page = open_page()
    log_in(page, person, journey)
    nav(page, "我的ETC卡")
    expect(page.locator(".etc-card")).to_contain_text(person.card_no)
    journey.user_page(page, "card-bound")
    page.context.close()  # the user leaves

    # The issuer pushes its registry: the holder reserved a new mobile number.
    answer = world.push_card(person, mobile="13622220000")
    assert answer["updated"] == 1 and answer["unbound"] == 1, answer
    texts = wait_for(
        lambda: [m["text"] for m in live.sms.messages(person.mobile, "notice")], what="SMS about the unbinding"
    )
    assert "已自动解绑" in texts[-1] and "预留手机号" in texts[-1], texts

    # The next visit says what happened, once.
    page = open_page()
    log_in(page, person, journey)
    notice = page.locator(".notice-warning")
    expect(notice).to_contain_text(f"您的ETC卡 {person.plate}（卡号尾号{person.card_no[-4:]}）已解绑")
    expect(notice).to_contain_text("发行方更新了预留手机号")
    expect(notice).to_contain_text("请重新绑定")
    expect(notice).to_contain_text(ISSUER_NAME)
    expect(notice).to_contain_text(ISSUER_HOTLINE)
    journey.user_page(page, "unbound-notice")
    nav(page, "我的ETC卡")
    expect(page.get_by_text("您还没有绑定ETC卡")).to_be_visible()
    expect(page.get_by_role("main")).not_to_contain_text(person.card_no)
    expect(page.locator(".notice-warning")).to_have_count(0)
    journey.user_page(page, "cards-after")
