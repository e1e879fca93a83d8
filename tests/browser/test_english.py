"""English from the footer: a phone user chooses English and reads the site in it.

Every page of the journey is checked for Chinese left in its interface: visible text, the title
and the accessible names (aria-label, title, placeholder, alt). Chinese may remain only in data,
the names people and companies go by (plates, operators, stations, the issuer, a title), which
the journey knows, and in the language switch's own 简体中文. Back in Chinese, a password error
is Chinese too (Django's own rules included).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import ISSUER_NAME, OPERATOR_NAMES, OPERATORS, TRIPS, at_path

pytestmark = pytest.mark.browser

CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
# What a page's interface says to people: visible text nodes, the document's title and the
# names assistive technology reads. aria-hidden decoration (the logo's 票) is left out.
INTERFACE_TEXT = """() => {
    const out = [document.title];
    const visible = (el) => !!(el && el.getClientRects().length) && getComputedStyle(el).visibility !== "hidden";
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const el = node.parentElement;
        if (!node.textContent.trim() || !el || el.closest("script, style, noscript, [aria-hidden=true]")) continue;
        if (el.closest("option") || !visible(el)) continue;
        out.push(node.textContent.trim());
    }
    for (const el of document.querySelectorAll("[aria-label], [title], [placeholder], [alt]")) {
        for (const name of ["aria-label", "title", "placeholder", "alt"]) {
            if (el.hasAttribute(name) && !el.closest("[aria-hidden=true]")) out.push(el.getAttribute(name));
        }
    }
    for (const el of document.querySelectorAll("select")) {
        if (el.selectedOptions.length) out.push(el.selectedOptions[0].textContent.trim());
    }
    return out;
}"""
LANGUAGE_NAME = "简体中文"  # each language is offered in its own name
SECTION_NAMES = [row[4][1] for row in OPERATORS]
STATIONS = sorted({station for _day, pair, _split in TRIPS for station in pair})
INVOICE_ITEM = "*经营租赁*通行费"  # what an invoice line sells, printed as issued


def chinese_left(page, data: list[str]) -> list[str]:
    """The interface texts of the page that still hold Chinese once its data is taken out."""
    left = []
    for text in page.evaluate(INTERFACE_TEXT):
        rest = text
        for value in sorted(data, key=len, reverse=True):
            rest = rest.replace(value, "")
        if CJK.search(rest):
            left.append(text)
    return left


def english_page(page, journey, label: str, data: list[str]) -> None:
    expect(page.locator("html")).to_have_attribute("lang", "en")
    journey.user_page(page, label)
    left = chinese_left(page, data)
    assert not left, f"Chinese left on the English page {page.url}:\n" + "\n".join(left)


def choose_language(page, code: str) -> None:
    footer = page.get_by_role("contentinfo")
    footer.locator("select[name=language]").select_option(value=code)
    footer.locator("form.lang button[type=submit]").click()
    page.wait_for_load_state("load")


@pytest.mark.parametrize("viewport", ["phone"])
def test_english_from_the_footer(open_page, world, journey, viewport):
    person = world.issued_person()
    title_name = f"测试物流{person.serial}有限公司"
    data = [
        LANGUAGE_NAME,
        person.plate,
        person.holder,
        title_name,
        ISSUER_NAME,
        "广东",
        INVOICE_ITEM,
        "广州市测试路1号",
        "测试银行",
        *OPERATOR_NAMES,
        *SECTION_NAMES,
        *STATIONS,
    ]
    page = open_page()

    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")  # the browser asks for zh-CN: the default
    choose_language(page, "en")
    page.wait_for_url(at_path("/"))
    english_page(page, journey, "home", data)
    expect(page.get_by_role("heading", level=1)).not_to_have_text(CJK)

    page.get_by_role("banner").get_by_role("link", name="Log in").click()
    page.wait_for_url(at_path("/accounts/login/"))
    english_page(page, journey, "login", data)
    page.get_by_label("Mobile number").fill(person.mobile)
    page.get_by_label("Password", exact=True).fill(person.password)
    page.get_by_role("main").get_by_role("button", name="Log in").click()
    page.wait_for_url(at_path("/"))
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    english_page(page, journey, "home-signed-in", data)

    menu = page.get_by_role("navigation", name="Main navigation")
    menu.get_by_role("link", name="Toll trips", exact=True).click()
    page.wait_for_url(at_path("/trips/"))
    expect(page.get_by_role("heading", name="Toll trips", level=1)).to_be_visible()
    english_page(page, journey, "trips", data)

    menu.get_by_role("link", name="My invoices", exact=True).click()
    page.wait_for_url(at_path("/invoices/"))
    english_page(page, journey, "invoices", data)

    page.locator("table.invoices tr.doc-digital_e_invoice a").first.click()
    page.wait_for_url(re.compile(r"/invoices/\d+/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Fully digital e-invoice (ordinary invoice)")
    expect(page.get_by_role("link", name="Red-letter reversal")).to_be_visible()
    english_page(page, journey, "invoice", data)

    page.get_by_role("contentinfo").get_by_role("link", name="Help centre").click()
    page.wait_for_url(at_path("/help/"))
    english_page(page, journey, "help", data)

    page.get_by_role("link", name="Why did one trip produce several invoices?").click()
    page.wait_for_url(re.compile(r"/help/faq/\d+/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Why did one trip produce several invoices?")
    english_page(page, journey, "faq", data)

    # Back to Chinese: a password refused by Django's own length rule says so in Chinese.
    choose_language(page, "zh-hans")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.goto("/accounts/me/")
    page.get_by_label("原密码").fill(person.password)
    page.get_by_label("新密码").fill("ab1")
    page.get_by_role("button", name="修改密码").click()
    error = page.get_by_role("main")
    expect(error).to_contain_text("密码太短，至少需要 8 个字符。")
    expect(error).not_to_contain_text("This password")
    journey.user_page(page, "password-error-zh")
