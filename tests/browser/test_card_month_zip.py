"""我的发票 → 按卡按月下载 on a phone (390×844): a user with a month of invoices taps that month's
ZIP link and gets every invoice of the card-month (PDF and XML) with the summary sheet; a month
without invoices says so instead of offering a link."""

from __future__ import annotations

import re
import zipfile
from datetime import timedelta
from io import BytesIO

import pypdf
import pytest
from playwright.sync_api import expect

from .conftest import INVOICES_PER_MONTH, log_in, nav, previous_month, wait_for

pytestmark = pytest.mark.browser


@pytest.fixture
def viewport() -> str:
    """A phone: most users download their invoices there."""
    return "phone"


def test_download_one_zip_per_card_month_on_a_phone(open_page, world, journey):
    person = world.issued_person()
    month = previous_month()
    earlier = (month.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    month = month.strftime("%Y-%m")
    page = open_page()
    log_in(page, person)

    nav(page, "我的发票")
    panel = page.get_by_role("region", name="按卡按月下载")
    expect(panel).to_be_visible()
    link = panel.get_by_role("link", name=re.compile(rf"下载 .+ {month} 的 {INVOICES_PER_MONTH} 张发票（ZIP）"))
    expect(link).to_have_count(1)
    expect(panel).to_contain_text(person.card_no)
    journey.user_page(page, "my-invoices")

    # the documents are made in the background after issuing: wait until they are stored
    href = link.get_attribute("href")
    wait_for(lambda: page.request.head(href).status == 200, timeout=90, interval=0.5, what="documents stored")
    link.scroll_into_view_if_needed()
    with page.expect_download() as download_info:
        link.tap()
    download = download_info.value
    assert download.suggested_filename == f"invoices-{person.card_no}-{month}.zip"
    archive = zipfile.ZipFile(BytesIO(download.path().read_bytes()))
    names = archive.namelist()
    # named by kind and reference: today's trips give fiscal e-bills (the loan-repayment road) and
    # 数电 invoices (the others); a VAT e-invoice would be <code>-<number>
    document = r"(\d{12}-\d{8}|fiscal-e-bill-\d{8}-\d{10}|digital-e-invoice-\d{20})"
    pdfs = [n for n in names if re.fullmatch(rf"{document}\.pdf", n)]
    xmls = [n for n in names if re.fullmatch(rf"{document}\.xml", n)]
    assert any(n.startswith("fiscal-e-bill-") for n in pdfs) and any(n.startswith("digital-e-invoice-") for n in pdfs)
    summaries = [n for n in names if re.fullmatch(r"summary-\d{16}\.pdf", n)]
    assert len(pdfs) == len(xmls) == INVOICES_PER_MONTH, names
    assert {n[:-4] for n in pdfs} == {n[:-4] for n in xmls}, names
    assert len(summaries) == 1 and len(names) == 2 * INVOICES_PER_MONTH + 1, names
    assert all(archive.read(n).startswith(b"%PDF") for n in pdfs + summaries)
    assert all(archive.read(n).startswith(b"<?xml") for n in xmls)
    # the summary sheet binds both kinds side by side, each line saying which
    sheet = pypdf.PdfReader(BytesIO(archive.read(summaries[0])))
    sheet_text = "\n".join(page.extract_text() for page in sheet.pages).replace("\n", " ")
    assert "通行费电子票据汇总单" in sheet_text and "[财政电子票据]" in sheet_text and "[数电发票]" in sheet_text
    journey.shot(page, "zip-downloaded")

    # the month before: nothing issued, and the page says so where the link would be
    page.get_by_label("ETC卡", exact=True).select_option(person.card_no)
    page.get_by_label("月份", exact=True).select_option(earlier)
    page.get_by_role("button", name="查询").tap()
    page.wait_for_url(re.compile(rf"month={earlier}"))
    panel = page.get_by_role("region", name="按卡按月下载")
    expect(panel).to_contain_text(f"这张卡 {earlier} 没有发票，没有可下载的压缩包。")
    expect(panel.get_by_role("link")).to_have_count(0)
    journey.user_page(page, "empty-month")
