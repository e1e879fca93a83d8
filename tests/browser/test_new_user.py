"""A new user from the first visit to a verified invoice, then a change of title."""

from __future__ import annotations

import re
import zipfile
from io import BytesIO

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from .conftest import (
    FISCAL_PER_MONTH,
    INVOICES_PER_MONTH,
    ISSUER_HOTLINE,
    ISSUER_NAME,
    OPERATOR_NAMES,
    TRIPS,
    at_path,
    log_in,
    make_uscc,
    nav,
    previous_month,
    wait_for,
)

pytestmark = pytest.mark.browser


def facts(page, term: str) -> str:
    """The value beside ``term`` in the page's list of facts."""
    return (
        page.locator("dl.facts dt", has_text=re.compile(f"^{term}$"))
        .locator("xpath=following-sibling::dd[1]")
        .first.inner_text()
        .strip()
    )


def iso_date(printed: str) -> str:
    """2026年09月05日 → 2026-09-05, as a date picker takes it."""
    y, m, d = re.match(r"(\d{4})年(\d{2})月(\d{2})日", printed).groups()
    return f"{y}-{m}-{d}"


def verify(page, journey, invoice: dict, label: str) -> None:
    """The public page 发票查验, as an accountant holding a 数电 invoice uses it: the 20-digit
    number, the issue date and the 价税合计 as printed (no code, no check code)."""
    page.get_by_role("contentinfo").get_by_role("link", name="发票查验").click()
    page.wait_for_url("**/verify/")
    page.get_by_label("发票号码", exact=True).fill(invoice["number"])
    expect(page.get_by_label("发票代码", exact=True)).to_be_hidden()  # the number told the page its kind
    page.get_by_label("开票日期", exact=True).fill(invoice["date"])
    page.get_by_label("价税合计（元）", exact=True).fill(invoice["total"])
    page.get_by_role("button", name="查验", exact=True).click()
    result = page.locator("#result")
    expect(result).to_contain_text(invoice["number"])
    journey.user_page(page, label)


def read_invoice(page) -> dict:
    """What a 数电 invoice's page shows: its number, date, buyer and 价税合计 (as printed, ¥ off)."""
    return {
        "number": facts(page, "发票号码"),
        "date": iso_date(facts(page, "开票日期")),
        "buyer": facts(page, "购买方"),
        "total": page.locator("tr.sum td.total").inner_text().strip().lstrip("¥"),
    }


def wait_issued(page) -> None:
    """The progress page updates itself (it polls and reloads); nobody reloads it by hand."""
    expect(page.locator("#progress")).to_have_attribute("data-status", "issued", timeout=90_000)
    page.wait_for_load_state("load")


def test_new_user(open_page, world, live, journey, journal, viewport, tmp_path):
    """Registers with an SMS code, binds a card after one mismatch, sets an enterprise title,
    sees a month of trips, applies for the month, watches it being issued, downloads the ZIP
    and one PDF, and checks that invoice on /verify/."""
    person = world.new_person()
    world.push_trips(person)
    month = previous_month().strftime("%Y-%m")
    page = open_page()

    page.goto("/")
    journey.user_page(page, "home")
    # The visitor is told from which day trips appear (the regime in force today).
    expect(page.get_by_role("main")).to_contain_text(re.compile(r"通行记录一般在通行后第\d+个自然日起可查"))

    # Register: the code arrives by SMS.
    page.get_by_role("main").get_by_role("link", name="注册", exact=True).click()
    page.wait_for_url("**/accounts/register/")
    journey.user_page(page, "register")
    page.get_by_label("手机号", exact=True).fill(person.mobile)
    page.get_by_role("button", name="获取验证码").click()
    expect(page.locator(".notice-success")).to_contain_text("验证码已发送至")
    code = live.sms.wait_code(person.mobile, "register")
    page.get_by_label("短信验证码", exact=True).fill(code)
    page.get_by_label("密码", exact=True).fill(person.password)
    page.get_by_label("姓名（选填）", exact=True).fill(person.holder)
    journey.user_page(page, "register-code-sent")
    page.get_by_role("button", name="注册", exact=True).click()
    page.wait_for_url(at_path("/"))
    expect(page.locator(".notice-success")).to_contain_text("注册成功")
    journey.user_page(page, "registered")

    # Bind the card: first with an old mobile number, which the issuer does not hold.
    nav(page, "我的ETC卡")
    expect(page.get_by_text("您还没有绑定ETC卡")).to_be_visible()
    journey.user_page(page, "cards-none")
    page.get_by_role("main").get_by_role("link", name="绑定ETC卡").click()
    page.wait_for_url("**/cards/bind/")
    journey.user_page(page, "bind")

    def fill_bind(mobile: str) -> None:
        page.get_by_label("ETC卡号", exact=True).fill(person.card_no)
        page.get_by_label("开户人名称", exact=True).fill(person.holder)
        page.get_by_label("证件类型", exact=True).select_option("resident_id")
        page.get_by_label("证件号码", exact=True).fill(person.id_number)
        page.get_by_label("预留手机号", exact=True).fill(mobile)
        page.get_by_role("button", name="下一步：获取验证码").click()

    fill_bind("13911112222")
    refusal = page.get_by_role("alert").filter(has_text="预留的手机号不一致")
    expect(refusal).to_contain_text(ISSUER_NAME)
    expect(refusal).to_contain_text(ISSUER_HOTLINE)
    expect(refusal).to_contain_text("更新后再重新绑定")
    issuer_help = page.locator(".issuer-help")
    expect(issuer_help).to_contain_text(ISSUER_NAME)
    expect(issuer_help.get_by_role("link", name=re.compile(ISSUER_HOTLINE))).to_have_attribute(
        "href", f"tel:{ISSUER_HOTLINE}"
    )
    journey.user_page(page, "bind-mobile-mismatch")

    sent = live.sms.count(person.mobile, "bind")
    fill_bind(person.mobile)
    page.wait_for_url(re.compile(r"/cards/bind/[0-9a-f-]+/$"))
    expect(page.get_by_role("main")).to_contain_text(person.plate)
    journey.user_page(page, "bind-code")
    page.get_by_label("短信验证码", exact=True).fill(live.sms.wait_code(person.mobile, "bind", after=sent))
    page.get_by_role("button", name="确认绑定").click()
    page.wait_for_url("**/cards/")
    expect(page.locator(".notice-success")).to_contain_text(f"绑定成功：{person.plate}")
    expect(page.locator(".etc-card")).to_contain_text(person.card_no)
    journey.user_page(page, "bound")

    # An enterprise title, made the card's default.
    company = f"广州测试物流{person.serial}有限公司"
    tax_id = make_uscc("91440101MA59BRW01")
    nav(page, "发票抬头")
    journey.user_page(page, "titles-none")
    page.get_by_role("main").get_by_role("link", name="新增抬头").click()
    page.wait_for_url("**/cards/titles/new/")
    page.get_by_label("单位", exact=True).check()
    page.get_by_label("名称", exact=True).fill(company)
    page.get_by_label("纳税人识别号", exact=True).fill(tax_id)
    page.get_by_label("地址", exact=True).fill("广州市天河区测试路8号")
    page.get_by_label("电话", exact=True).fill("020-12345678")
    journey.user_page(page, "title-form")
    page.get_by_role("button", name="保存").click()
    page.wait_for_url("**/cards/titles/")
    expect(page.locator(".notice-success")).to_contain_text(company)
    expect(page.get_by_role("main")).to_contain_text(tax_id)
    journey.user_page(page, "titles")
    nav(page, "我的ETC卡")
    page.get_by_label("默认发票抬头").select_option(label=f"{company} · {tax_id}")
    page.get_by_role("button", name="保存").click()
    expect(page.locator(".notice-success")).to_contain_text(f"默认发票抬头已设为“{company}”")
    journey.user_page(page, "default-title")

    # A month of trips; the first crossed three operators' roads.
    nav(page, "通行记录")
    page.get_by_label("月份", exact=True).select_option(month)
    page.get_by_role("button", name="查询").click()
    page.wait_for_url(re.compile(rf"month={month}"))
    expect(page.get_by_role("main")).to_contain_text(f"本月共 {len(TRIPS)} 次通行")
    trips = page.locator("li.trip")
    expect(trips).to_have_count(len(TRIPS))
    three = trips.filter(has_text=f"{TRIPS[0][1][0]} → {TRIPS[0][1][1]}")
    expect(three.locator(".why")).to_contain_text("这次通行将开出 3 张票据")
    expect(three.locator(".why")).to_contain_text("每个经营单位各自为自己收取的通行费开票")
    for name in OPERATOR_NAMES:
        expect(three.locator("table.segments")).to_contain_text(name)
    expect(three.locator("table.segments")).to_contain_text("不征税")
    journey.user_page(page, "trips")

    # Apply for the whole month.
    nav(page, "我要开票")
    page.get_by_label("月份", exact=True).select_option(month)
    page.get_by_role("button", name="查询").click()
    page.wait_for_url(re.compile(rf"month={month}"))
    form = page.locator("#apply-form")
    expect(form).to_contain_text(f"本月 {len(TRIPS)} 次通行待开票")
    expect(page.get_by_label("发票抬头", exact=True)).to_have_value(re.compile(r"\d+"))
    assert company in page.get_by_label("发票抬头", exact=True).locator("option:checked").inner_text()
    journey.user_page(page, "apply")
    form.get_by_role("button", name=f"整月开票（全部 {len(TRIPS)} 次）").click()
    expect(page.locator("#plan-h")).to_contain_text(f"将开出 {INVOICES_PER_MONTH} 张发票")
    journey.user_page(page, "apply-confirm")
    page.get_by_role("button", name=f"确认开票（{INVOICES_PER_MONTH} 张）").click()
    page.wait_for_url(re.compile(r"/applications/\d+/$"))
    application_url = page.url
    application_id = int(re.search(r"/applications/(\d+)/$", application_url).group(1))
    expect(page.locator(".notice-success")).to_contain_text("开票申请已提交")
    journey.shot(page, "applied")

    wait_issued(page)
    expect(page.locator("#status-text")).to_contain_text(f"已开出 {INVOICES_PER_MONTH} 张发票")
    rows = page.locator("table.invoices tbody tr")
    expect(rows).to_have_count(INVOICES_PER_MONTH)
    expect(page.locator("dl.facts")).to_contain_text(company)
    journey.user_page(page, "issued")

    # The ZIP: every PDF and XML and the summary sheet. The files are made in the background
    # after issuing; until they are stored the link answers a page that retries by itself.
    zip_link = page.get_by_role("link", name=re.compile("下载全部"))
    zip_url = zip_link.get_attribute("href")
    wait_for(lambda: page.request.head(zip_url).status == 200, timeout=90, interval=0.5, what="documents stored")
    with page.expect_download() as download_info:
        zip_link.click()
    archive = zipfile.ZipFile(BytesIO(download_info.value.path().read_bytes()))
    names = archive.namelist()
    pdfs = [n for n in names if n.endswith(".pdf") and not n.startswith("summary-")]
    assert len(pdfs) == INVOICES_PER_MONTH, names
    assert len([n for n in names if n.endswith(".xml")]) == INVOICES_PER_MONTH, names
    assert any(n.startswith("summary-") for n in names), names
    assert all(archive.read(n).startswith(b"%PDF") for n in pdfs)
    journey.shot(page, "zip-downloaded")

    # Today's rules: the loan-repayment road's shares are fiscal e-bills, the rest 数电 invoices.
    expect(page.locator("table.invoices tbody tr.doc-fiscal_e_bill")).to_have_count(FISCAL_PER_MONTH)
    digital_rows = page.locator("table.invoices tbody tr.doc-digital_e_invoice")
    expect(digital_rows).to_have_count(INVOICES_PER_MONTH - FISCAL_PER_MONTH)

    # One 数电 invoice and its PDF.
    digital_rows.first.get_by_role("link").click()
    page.wait_for_url(re.compile(r"/invoices/\d+/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("电子发票（普通发票）")
    expect(page.locator("dl.facts")).not_to_contain_text("校验码")
    invoice = read_invoice(page)
    assert re.fullmatch(r"\d{20}", invoice["number"]), invoice
    assert company in invoice["buyer"] and tax_id in invoice["buyer"], invoice
    journey.user_page(page, "invoice")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="下载 PDF").click()
    pdf = download_info.value
    assert invoice["number"] in pdf.suggested_filename and pdf.suggested_filename.endswith(".pdf")
    pdf_path = tmp_path / pdf.suggested_filename
    pdf.save_as(pdf_path)
    assert pdf_path.read_bytes().startswith(b"%PDF")
    text = "".join(p.extract_text() or "" for p in PdfReader(pdf_path).pages)
    assert invoice["number"] in text

    nav(page, "我的发票")
    expect(page.get_by_role("main").get_by_role("link", name=re.compile(rf"#{application_id}$"))).to_be_visible()
    journey.user_page(page, "my-invoices")

    # Anyone holding the invoice can check it.
    verify(page, journey, invoice, "verify-genuine")
    expect(page.locator("#result")).to_contain_text("发票状态：正常")
    expect(page.locator("#result")).to_contain_text(company)

    journal[("new_user", viewport)] = {"person": person, "application_id": application_id, "invoice": invoice}


def test_title_change(open_page, world, live, journey, journal, viewport):
    """The same user changes the title of that application and finds the old invoices reversed."""
    state = journal.get(("new_user", viewport))
    if state is None:  # run on its own: the same situation, made through the App API
        person = world.issued_person()
        application_id = person.extra["application_id"]
    else:
        person, application_id = state["person"], state["application_id"]
    new_title = f"测试用户{person.serial}（个人）"
    page = open_page()
    log_in(page, person, journey)

    nav(page, "发票抬头")
    page.get_by_role("main").get_by_role("link", name="新增抬头").click()
    page.wait_for_url("**/cards/titles/new/")
    page.get_by_label("个人", exact=True).check()
    page.get_by_label("名称", exact=True).fill(new_title)
    page.get_by_role("button", name="保存").click()
    expect(page.locator(".notice-success")).to_contain_text(new_title)
    journey.user_page(page, "new-title")

    nav(page, "我的发票")
    journey.user_page(page, "my-invoices")
    page.get_by_role("main").get_by_role("link", name=re.compile(rf"#{application_id}$")).click()
    page.wait_for_url(f"**/applications/{application_id}/")
    originals = [n.strip() for n in page.locator("table.invoices tbody tr td:first-child a").all_inner_texts()]
    assert len(originals) == INVOICES_PER_MONTH, originals
    journey.user_page(page, "application")

    page.get_by_role("link", name="抬头错了？换票").click()
    page.wait_for_url(f"**/applications/{application_id}/title-change/")
    # Fiscal e-bills keep their payer: the page says so before anything is submitted.
    expect(page.locator("#fiscal-not-changed")).to_contain_text(f"{FISCAL_PER_MONTH} 张通行费财政电子票据")
    page.get_by_label("新的发票抬头", exact=True).select_option(label=new_title)
    page.get_by_label("我确认：原发票将全部红冲作废").check()
    journey.user_page(page, "title-change")
    page.get_by_role("button", name="提交换票").click()
    page.wait_for_url(re.compile(r"/applications/\d+/$"))
    change_url = page.url
    assert not change_url.endswith(f"/applications/{application_id}/")
    expect(page.locator(".notice-success")).to_contain_text("换票申请已提交")
    journey.shot(page, "title-change-submitted")

    wait_issued(page)
    changed = INVOICES_PER_MONTH - FISCAL_PER_MONTH  # the 数电 invoices; the fiscal e-bills stay
    red = page.locator("table.invoices tbody tr.red")
    expect(red).to_have_count(changed)
    expect(page.locator("table.invoices tbody tr:not(.red)")).to_have_count(changed)
    expect(page.locator("dl.facts")).to_contain_text(new_title)
    journey.user_page(page, "title-change-issued")

    # A red-letter invoice names the one it cancels.
    red.first.get_by_role("link").click()
    page.wait_for_url(re.compile(r"/invoices/\d+/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("红字发票")
    remarks = facts(page, "备注")
    assert any(number.split()[-1] in remarks for number in originals), remarks
    journey.user_page(page, "red-invoice")
    page.goto(change_url)
    page.locator("table.invoices tbody tr:not(.red)").first.get_by_role("link").click()
    page.wait_for_url(re.compile(r"/invoices/\d+/$"))
    assert new_title in read_invoice(page)["buyer"]
    journey.user_page(page, "new-invoice")

    # The old application: every invoice reversed.
    page.goto(f"/applications/{application_id}/")
    statuses = page.locator("table.invoices tbody tr.doc-digital_e_invoice td:last-child").all_inner_texts()
    assert statuses == ["已红冲"] * changed, statuses
    kept = page.locator("table.invoices tbody tr.doc-fiscal_e_bill td:last-child").all_inner_texts()
    assert kept == ["正常"] * FISCAL_PER_MONTH, kept
    journey.user_page(page, "old-application-reversed")
    page.locator("table.invoices tbody tr.doc-digital_e_invoice").first.get_by_role("link").click()
    page.wait_for_url(re.compile(r"/invoices/\d+/$"))
    expect(page.locator(".notice-warning")).to_contain_text("这张发票已红冲作废")
    old = read_invoice(page)
    journey.user_page(page, "old-invoice-reversed")

    verify(page, journey, old, "verify-reversed")
    expect(page.locator("#result")).to_contain_text("这张发票已红冲作废")
    expect(page.locator("#result")).to_contain_text("已红冲")
