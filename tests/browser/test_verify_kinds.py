"""An accountant verifies the documents of today's rules on /verify/: a 数电 invoice by its 20-digit
number, issue date and 价税合计 (the page recognises the kind from the number), and a toll fiscal
e-bill by its code, number, date and check code (chosen by hand, the labels follow)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import at_path

pytestmark = pytest.mark.browser


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def open_verify(page) -> None:
    page.goto("/")
    page.get_by_role("contentinfo").get_by_role("link", name="发票查验").click()
    page.wait_for_url(at_path("/verify/"))


def facts(page, term: str):
    return page.locator("#result dl.facts dt", has_text=re.compile(f"^{term}$"))


def test_verify_kinds(open_page, world, journey, viewport):
    person = world.issued_person()
    app = world.app("GET", f"applications/{person.extra['application_id']}", person=person)
    digital = next(i for i in app["invoices"] if i["document_kind"] == "digital_e_invoice")
    fiscal = next(i for i in app["invoices"] if i["document_kind"] == "fiscal_e_bill")
    assert digital["code"] == "" and len(digital["number"]) == 20 and digital["check_code"] == ""
    issued_on = digital["issued_on"]  # YYYY-MM-DD, as printed in figures

    page = open_page()
    open_verify(page)
    journey.user_page(page, "verify-empty")

    # 数电: the number is typed first; the page recognises the kind and asks for the total.
    page.get_by_label("发票号码", exact=True).fill(digital["number"])
    expect(page.get_by_role("radio", name="电子发票（普通发票，数电）")).to_be_checked()
    expect(page.get_by_label("发票代码", exact=True)).to_be_hidden()
    expect(page.get_by_label("校验码后 6 位", exact=True)).to_be_hidden()
    page.get_by_label("开票日期", exact=True).fill(issued_on)
    page.get_by_label("价税合计（元）", exact=True).fill(yuan(digital["total"]))
    journey.user_page(page, "digital-filled")
    page.get_by_role("button", name="查验", exact=True).click()
    result = page.locator("#result")
    expect(result).to_contain_text("查验结果：发票信息一致")
    expect(result.locator("#verified-kind")).to_contain_text("电子发票（普通发票）")
    expect(result).to_contain_text(digital["number"])
    expect(result).to_contain_text(yuan(digital["total"]))
    expect(facts(page, "校验码")).to_have_count(0)
    expect(facts(page, "发票代码")).to_have_count(0)
    expect(result.locator("#checks-left")).to_contain_text("这是今天第 1 次查验这张发票，今天还可再查验 4 次")
    journey.user_page(page, "digital-genuine")

    # The same invoice with a total typed wrong: the answer names what to look at again.
    page.get_by_label("价税合计（元）", exact=True).fill(yuan(digital["total"] + 100))
    page.get_by_role("button", name="查验", exact=True).click()
    expect(result).to_contain_text("发票信息不一致：请核对开票日期和价税合计")
    expect(result.locator("#checks-left")).to_contain_text("这是今天第 2 次查验这张发票")
    journey.user_page(page, "digital-mismatch")

    # A fiscal e-bill: the kind chosen by hand, and the fields speak of 票据.
    open_verify(page)
    page.get_by_text("通行费财政电子票据", exact=True).click()  # the label's text, as a thumb lands on it
    expect(page.get_by_role("radio", name="通行费财政电子票据")).to_be_checked()
    expect(page.get_by_label("价税合计（元）", exact=True)).to_be_hidden()
    page.get_by_label("票据代码", exact=True).fill(fiscal["code"])
    page.get_by_label("票据号码", exact=True).fill(fiscal["number"])
    page.get_by_label("开票日期", exact=True).fill(fiscal["issued_on"].replace("-", ""))
    page.get_by_label("校验码", exact=True).fill(fiscal["check_code"].upper())
    journey.user_page(page, "fiscal-filled")
    page.get_by_role("button", name="查验", exact=True).click()
    expect(result).to_contain_text("查验结果：发票信息一致")
    expect(result.locator("#verified-kind")).to_contain_text("通行费财政电子票据")
    expect(facts(page, "票据代码").locator("xpath=following-sibling::dd[1]")).to_have_text(fiscal["code"])
    expect(facts(page, "票据号码").locator("xpath=following-sibling::dd[1]")).to_have_text(fiscal["number"])
    expect(facts(page, "校验码").locator("xpath=following-sibling::dd[1]")).to_have_text(fiscal["check_code"])
    expect(facts(page, "税额合计")).to_have_count(0)
    expect(result).to_contain_text(yuan(fiscal["total"]))
    # the answer keeps the kind chosen, and its fields, for the next check
    expect(page.get_by_role("radio", name="通行费财政电子票据")).to_be_checked()
    expect(page.get_by_label("票据代码", exact=True)).to_be_visible()
    journey.user_page(page, "fiscal-genuine")
