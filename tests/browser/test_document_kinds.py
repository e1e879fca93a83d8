"""Today's rules on a phone: a trip over a loan-repayment road and an operating road says on
通行记录 that it will produce a toll fiscal e-bill and a 数电 invoice; the person applies for it,
the confirmation counts the documents per kind, and 我的发票 shows both, each with its own
reference and fields."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import OPERATOR_NAMES, TRIPS, log_in, make_uscc, nav, previous_month

pytestmark = pytest.mark.browser

OPERATING, LOAN = OPERATOR_NAMES[1], OPERATOR_NAMES[2]  # 东江一级公路 (5 %), 广惠还贷高速 (不征税)
_DAY, (ENTRY, EXIT), SPLIT = TRIPS[2]  # 东莞站 → 惠州站: one operating road, one loan-repayment road


def facts(page) -> dict[str, str]:
    """The invoice page's facts as a person reads them: each label and what it says."""
    dl = page.locator("dl.facts")
    labels = dl.locator("dt").all_inner_texts()
    values = dl.locator("dd").all_inner_texts()
    return dict(zip(labels, (v.strip() for v in values), strict=True))


@pytest.mark.parametrize("viewport", ["phone"])
def test_a_trip_gives_a_fiscal_e_bill_and_a_digital_invoice(open_page, world, journey):
    person = world.bound_person()
    company = f"测试票据{person.serial}有限公司"
    world.app(
        "POST",
        "titles",
        {"kind": "enterprise", "name": company, "tax_id": make_uscc("91440300MA5BRW003")},
        person=person,
        expect=201,
    )
    month = previous_month().strftime("%Y-%m")
    page = open_page()
    log_in(page, person)

    # 通行记录: the trip says which document each operator's share will be
    nav(page, "通行记录")
    expect(page.get_by_label("月份", exact=True)).to_have_value(month)
    trip = page.locator("li.trip").filter(has_text=f"{ENTRY} → {EXIT}")
    expect(trip.locator(".why")).to_contain_text("这次通行将开出 2 张票据")
    expect(trip.locator(".why")).to_contain_text("通行费财政电子票据（不征税，不能抵扣）")
    documents = trip.locator(".trip-documents li")
    expect(documents).to_have_text(
        [f"{OPERATING} · 数电发票 5%", f"{LOAN} · 通行费财政电子票据（政府还贷，不征税）"], use_inner_text=True
    )
    expect(page.get_by_role("main")).to_contain_text("第 7 个自然日")
    trip.scroll_into_view_if_needed()
    journey.user_page(page, "trips-say-the-kinds")

    # 我要开票: tick that trip alone; the confirmation counts the documents per kind
    nav(page, "我要开票")
    expect(page.get_by_label("月份", exact=True)).to_have_value(month)
    form = page.locator("#apply-form")
    expect(form).to_contain_text(f"本月 {len(TRIPS)} 次通行待开票")
    form.get_by_role("checkbox", name=re.compile(f"{ENTRY} → {EXIT}")).check()
    expect(form.get_by_role("button", name="只开所选的通行记录")).to_be_enabled()
    form.get_by_role("button", name="只开所选的通行记录").click()
    kinds = page.locator("#plan-kinds")
    expect(kinds).to_contain_text("通行费财政电子票据 1 张")
    expect(kinds).to_contain_text("电子发票（普通发票） 1 张")
    expect(page.locator("#plan-why")).to_contain_text("为什么是多张")
    sellers = page.locator("#plan-sellers")
    expect(sellers.locator("tr", has_text=LOAN)).to_contain_text("通行费财政电子票据 · 不征税")
    expect(sellers.locator("tr", has_text=OPERATING)).to_contain_text("电子发票（普通发票） · 征税")
    journey.user_page(page, "confirm-per-kind")
    page.get_by_role("button", name="确认开票（2 张）").click()
    page.wait_for_url(re.compile(r"/applications/\d+/$"))
    expect(page.locator("#progress")).to_have_attribute("data-status", "issued", timeout=90_000)
    page.wait_for_load_state("load")
    expect(page.locator("#app-kinds")).to_have_text("票据种类：通行费财政电子票据 1 张；数电发票 1 张")
    journey.user_page(page, "issued-per-kind")

    # 我的发票: both documents, each named by its kind and its own reference
    nav(page, "我的发票")
    fiscal_row = page.locator("table.invoices tbody tr.doc-fiscal_e_bill")
    digital_row = page.locator("table.invoices tbody tr.doc-digital_e_invoice")
    expect(fiscal_row).to_have_count(1)
    expect(digital_row).to_have_count(1)
    expect(fiscal_row.locator(".doc-kind")).to_have_text("通行费财政电子票据 · 不征税")
    expect(digital_row.locator(".doc-kind")).to_have_text("数电发票 · 征税")
    fiscal_ref = fiscal_row.locator(".reference").inner_text().split()
    digital_ref = digital_row.locator(".reference").inner_text().split()
    assert len(fiscal_ref) == 2 and re.fullmatch(r"\d{2}0299\d{2}", fiscal_ref[0]), fiscal_ref
    assert re.fullmatch(r"\d{10}", fiscal_ref[1]), fiscal_ref
    assert len(digital_ref) == 1 and re.fullmatch(r"\d{20}", digital_ref[0]), digital_ref  # the number alone
    journey.user_page(page, "my-invoices-per-kind")

    # the fiscal e-bill: code, number, a 6-character check code, payer and payee
    fiscal_row.get_by_role("link").click()
    page.wait_for_url(re.compile(r"/invoices/\d+/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("通行费财政电子票据")
    shown = facts(page)
    assert shown["票据代码"] == fiscal_ref[0] and shown["票据号码"] == fiscal_ref[1], shown
    assert re.fullmatch(r"[0-9a-f]{6}", shown["校验码"]), shown
    assert "机器编号" not in shown and shown["进项抵扣"] == "不可抵扣：财政电子票据", shown
    assert shown["收款单位"].startswith(LOAN), shown
    journey.user_page(page, "fiscal-e-bill")

    # the 数电 invoice: its 20-digit number, no code, check code or machine number
    page.go_back()
    digital_row.get_by_role("link").click()
    page.wait_for_url(re.compile(r"/invoices/\d+/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("电子发票（普通发票）")
    shown = facts(page)
    assert shown["发票号码"] == digital_ref[0] and shown["特定业务"] == "通行费", shown
    assert not {"发票代码", "校验码", "机器编号"} & set(shown), shown
    assert shown["销售方"].startswith(OPERATING) and shown["购买方"].startswith(company), shown
    assert shown["进项抵扣"] == "可抵扣：单位抬头的征税发票", shown
    journey.user_page(page, "digital-invoice")
