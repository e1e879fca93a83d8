"""红冲 of one share of a trip and invoicing it again, 换票 that says what it changed, the way
forward from a failed application, and mailing an application's ZIP to an address typed in."""

from __future__ import annotations

import re
import time
from datetime import datetime

import pytest
from playwright.sync_api import expect

from .conftest import (
    OPERATOR_NAMES,
    SHANGHAI,
    TRIPS,
    http,
    log_in,
    make_uscc,
    previous_month,
    wait_for,
)

pytestmark = pytest.mark.browser

SECOND_OPERATOR = OPERATOR_NAMES[1]  # 东江一级公路: ¥12.00 of the first trip
FIRST_TRIP = " → ".join(TRIPS[0][1])


def wait_issued(page) -> None:
    """The progress page updates itself; nobody reloads it by hand."""
    expect(page.locator("#progress")).to_have_attribute("data-status", re.compile("issued|failed"), timeout=90_000)
    page.wait_for_load_state("load")


def open_application(page, application_id: int) -> None:
    """From 我的发票, the application's link, as a user follows it."""
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="我的发票", exact=True).click()
    page.wait_for_url("**/invoices/")
    page.get_by_role("main").get_by_role("link", name=re.compile(rf"#{application_id}$")).click()
    page.wait_for_url(f"**/applications/{application_id}/")


def test_reverse_one_share(open_page, world, journey):
    """Reverses the second operator's invoice of a three-operator trip (warned that the share
    becomes invoiceable again), finds it 已红冲 with no reverse form, and applies again for the
    trip: one new invoice, for that seller and that amount."""
    person = world.issued_person()
    application_id = person.extra["application_id"]
    invoices = world.app("GET", f"applications/{application_id}", person=person)["invoices"]
    [target] = [
        i for i in invoices if i["seller"]["name"] == SECOND_OPERATOR and i["lines"][0]["transit_id"].endswith("-1")
    ]
    page = open_page()
    log_in(page, person, journey)
    open_application(page, application_id)
    journey.user_page(page, "application")

    page.get_by_role("link", name=re.compile(target["number"])).click()
    page.wait_for_url(f"**/invoices/{target['id']}/")
    page.get_by_role("main").get_by_role("link", name="红冲", exact=True).click()
    page.wait_for_url(f"**/invoices/{target['id']}/reverse/")
    warning = page.locator("#reopen-warning")
    expect(warning).to_contain_text(f"由“{SECOND_OPERATOR}”收取的部分（¥12.00）会重新变为可开票")
    expect(warning).to_contain_text(FIRST_TRIP)
    page.get_by_label("红冲原因（可选）").fill("路段经营单位开错")
    page.get_by_label("我确认红冲这张发票").check()
    journey.user_page(page, "confirm-reverse")
    page.get_by_role("button", name="确认红冲").click()
    page.wait_for_url(re.compile(r"/applications/\d+/$"))
    wait_issued(page)
    status = page.locator("#status-text")
    expect(status).to_contain_text(f"发票 {target['code']} {target['number']}（{SECOND_OPERATOR}，¥12.00）已红冲作废")
    expect(page.locator("#reopened")).to_contain_text("已可重新开票")
    journey.user_page(page, "reversed")

    # the invoice is marked reversed and offers no second reversal
    page.get_by_role("link", name=re.compile(target["number"])).first.click()
    page.wait_for_url(f"**/invoices/{target['id']}/")
    expect(page.get_by_text("这张发票已红冲作废。")).to_be_visible()
    expect(page.get_by_role("main").get_by_role("link", name="红冲", exact=True)).to_have_count(0)
    journey.user_page(page, "invoice-reversed")
    page.go_back()

    # apply again, for that trip: only the reversed share is due
    month = previous_month().strftime("%Y-%m")
    page.get_by_role("link", name=f"为 {month} 重新开票").click()
    page.wait_for_url(re.compile(r"/apply/\?"))
    trip = page.locator("ul.pick li", has_text=FIRST_TRIP)
    expect(trip).to_contain_text("部分待开票")
    expect(trip).to_contain_text("¥12.00")
    expect(trip).to_contain_text("1 张发票")
    trip.get_by_role("checkbox").check()
    journey.user_page(page, "apply-again")
    page.get_by_role("button", name="只开所选的通行记录").click()
    expect(page.locator("main")).to_contain_text("将开出 1 张发票")
    page.get_by_role("button", name=re.compile("确认开票")).click()
    page.wait_for_url(re.compile(r"/applications/\d+/$"))
    wait_issued(page)
    expect(page.locator("#status-text")).to_contain_text("已开出 1 张发票，价税合计 ¥12.00")
    rows = page.locator("table.invoices tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(SECOND_OPERATOR)
    journey.user_page(page, "issued-again")

    # the trip is whole again: 通行记录 shows it invoiced
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="通行记录", exact=True).click()
    page.get_by_label("月份", exact=True).select_option(month)
    page.get_by_role("button", name="查询").click()
    expect(page.locator("li.trip", has_text=FIRST_TRIP).locator(".tag")).to_have_text("已开票")


def test_title_change_says_what_changed(open_page, world, journey):
    """The 换票 page names the application and leaves out the title the invoices carry; the
    result names the old and the new title and how many invoices were reversed and re-issued."""
    person = world.issued_person()
    application_id = person.extra["application_id"]
    old_title = f"测试物流{person.serial}有限公司"
    new_title = f"测试新抬头{person.serial}有限公司"
    new_tax_id = make_uscc("91440300MA5BRW002")
    world.app(
        "POST", "titles", {"kind": "enterprise", "name": new_title, "tax_id": new_tax_id}, person=person, expect=201
    )
    documents = world.app("GET", f"applications/{application_id}", person=person)["invoices"]
    # Today's rules: the fiscal e-bills keep the payer registered before the trip; the rest change.
    fiscal = sum(1 for i in documents if i["document_kind"] == "fiscal_e_bill")
    count = len(documents) - fiscal
    assert fiscal and count
    page = open_page()
    log_in(page, person, journey)
    open_application(page, application_id)
    page.get_by_role("link", name="抬头错了？换票").click()
    page.wait_for_url(f"**/applications/{application_id}/title-change/")
    main = page.get_by_role("main")
    expect(main).to_contain_text(f"申请 #{application_id} 的 {count} 张发票（当前抬头：{old_title}）")
    expect(page.locator("#fiscal-not-changed")).to_contain_text(
        f"这个申请有 {fiscal} 张通行费财政电子票据，换票不会换开它们"
    )
    options = page.get_by_label("新的发票抬头", exact=True).locator("option").all_inner_texts()
    assert not any(old_title in o for o in options) and any(new_title in o for o in options), options
    page.get_by_label("新的发票抬头", exact=True).select_option(label=f"{new_title} · {new_tax_id}")
    page.get_by_label("我确认：原发票将全部红冲作废").check()
    journey.user_page(page, "title-change")
    page.get_by_role("button", name="提交换票").click()
    page.wait_for_url(re.compile(r"/applications/\d+/$"))
    wait_issued(page)
    expect(page.locator("#status-text")).to_have_text(
        f"换票完成：抬头由“{old_title}”改为“{new_title}”，{count} 张发票已红冲并按新抬头重新开具。"
    )
    expect(page.get_by_text("价税合计 ¥0.00")).to_have_count(0)
    journey.user_page(page, "title-changed")


def test_failed_application_way_forward(open_page, world, live, journey):
    """An application fails (its trip came with a zero split); its page links to the title and
    offers 重新申请开票; once the clearing centre corrects the record, one tap issues it."""
    person = world.bound_person(trips=False)
    first = previous_month()
    start = datetime(first.year, first.month, 8, 9, 0, tzinfo=SHANGHAI)

    def push_trip(split: list[tuple[str, int]]) -> dict:
        trip = {
            "transit_id": f"BRW-F-{person.card_no}",
            "card_no": person.card_no,
            "plate": person.plate,
            "plate_color": 0,
            "vehicle_class": "passenger",
            "entry_station": "深圳站",
            "entry_time": start.isoformat(),
            "exit_station": "汕头站",
            "exit_time": start.replace(hour=12).isoformat(),
            "fee": sum(fee for _code, fee in split),
            "segments": [{"section_code": c, "fee": f} for c, f in split],
        }
        status, answer = http("POST", f"{world.api}/partner/transits", {"transits": [trip]}, token=world.clearing_token)
        assert status == 200 and not answer["rejected"], answer
        return answer

    push_trip([("BRW-S-1", 0), ("BRW-S-2", 0)])
    title = world.app("POST", "titles", {"kind": "personal", "name": person.holder}, person=person, expect=201)

    page = open_page()
    log_in(page, person, journey)
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="我要开票", exact=True).click()
    page.get_by_label("月份", exact=True).select_option(first.strftime("%Y-%m"))
    page.get_by_role("button", name="查询").click()
    page.wait_for_url(re.compile(r"month="))
    page.get_by_role("button", name=re.compile("整月开票")).click()
    page.get_by_role("button", name=re.compile("确认开票")).click()
    page.wait_for_url(re.compile(r"/applications/\d+/$"))
    failed_url = page.url
    wait_issued(page)
    expect(page.get_by_role("alert")).to_contain_text("金额为零")
    way = page.locator("#reapply")
    expect(way.get_by_role("link", name="修改这个发票抬头")).to_have_attribute(
        "href", f"/cards/titles/{title['id']}/edit/"
    )
    expect(way).to_contain_text("这个申请的 1 次通行（¥0.00）已释放")
    journey.user_page(page, "failed")

    assert push_trip([("BRW-S-1", 4000), ("BRW-S-2", 2800)])["updated"] == 1  # the clearing centre corrects it
    page.get_by_role("button", name="重新申请开票").click()
    page.wait_for_url(re.compile(r"/applications/\d+/$"))
    assert page.url != failed_url
    expect(page.locator(".notice-success")).to_contain_text("已重新提交开票申请")
    wait_issued(page)
    expect(page.locator("#status-text")).to_contain_text("已开出 2 张发票，价税合计 ¥68.00")
    expect(page.locator("table.invoices")).to_contain_text(OPERATOR_NAMES[0])
    journey.user_page(page, "issued-after-reapply")
    page.goto(failed_url)
    expect(page.locator("#reapply")).to_contain_text("已重新申请或已开票")
    expect(page.get_by_role("button", name="重新申请开票")).to_have_count(0)
    journey.user_page(page, "failed-done")


def test_resend_mail(open_page, world, live, journey):
    """Types an address on the application's page, sends, reads the confirmation; the mail
    with the ZIP goes out to that address."""
    person = world.issued_person()
    application_id = person.extra["application_id"]
    address = f"finance{person.serial}@example.com"
    page = open_page()
    log_in(page, person, journey)
    open_application(page, application_id)
    page.get_by_label("发送到邮箱").fill(address)
    journey.user_page(page, "resend")
    page.get_by_role("button", name="重新发送邮件").click()
    page.wait_for_url(f"**/applications/{application_id}/")
    expect(page.locator(".notice-success")).to_contain_text(f"发票压缩包将发送至 {address}")
    expect(page.locator("#resends")).to_contain_text(address)
    journey.user_page(page, "resend-queued")

    def mailed():
        for path in sorted(live.mail_dir.glob("*.log")) if live.mail_dir.exists() else []:
            text = path.read_text(errors="replace")
            if f"To: {address}" in text and "application/zip" in text:
                return text
        return None

    started = time.monotonic()
    text = wait_for(mailed, timeout=180, interval=1, what=f"mail to {address}")
    assert 'Content-Disposition: attachment; filename="invoices-' in text, text[:2000]
    assert time.monotonic() - started < 180
    page.reload()
    expect(page.locator("#resends")).to_contain_text(f"已发送至 {address}")
    journey.user_page(page, "resend-sent")
