"""Invoice documents: real PDFs read back, the XML twin, the ZIP, downloads and who may have
them, the mail, failures and their retries, the console's re-render."""

import io
import logging
import re
import smtplib
import zipfile
import zlib
from datetime import timedelta
from xml.etree import ElementTree

import pypdf
import pytest
from django.core import mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from invoices import tasks
from invoices.documents import capitals, checks, qr, rendering, storage
from invoices.documents import services as documents
from invoices.models import Application, ApplicationEvent, Invoice
from piaogen.demo import demo_uscc

from . import test_invoicing
from .test_invoicing import COMPANY_TAX_ID, THREE, push, title

pytestmark = pytest.mark.documents  # they read what issuing renders (tests/conftest.py)

applied = test_invoicing.applied  # the fixture that submits and issues through the App API

NS = {"t": "urn:piaogen:toll-invoice:1"}
EMAIL = "finance@example.com"


def pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


# The enterprise title the documents are issued to.
COMPANY = {
    "kind": "enterprise",
    "name": "演示科技有限公司",
    "tax_id": COMPANY_TAX_ID,
    "address": "北京市演示路1号",
    "phone": "010-12345678",
    "bank": "演示银行",
    "bank_account": "6222000000000001",
}


def stored(path: str) -> bytes:
    with storage.open_file(path) as f:
        return f.read()


def issue(world, applied, **title_fields):
    """Three invoices (3 % taxable 97.33, 5 % taxable 12.00, 不征税 5.00) for an enterprise title."""
    push(world, [("T1", THREE)])
    r = applied(title_id=title(world.user, **(COMPANY | title_fields)))
    assert r.status_code == 202, r.content
    return Application.objects.get(pk=r.json()["id"])


def reverse_invoice(world, inv, capture):
    with capture(execute=True):
        r = world.user.post(f"/api/v1/app/invoices/{inv.pk}/reverse")
    assert r.status_code == 202, r.content
    return Invoice.objects.get(original=inv)


# --- pure parts ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fen, words",
    [
        (9733, "玖拾柒元叁角叁分"),
        (10000, "壹佰元整"),
        (10005, "壹佰元零伍分"),
        (10050, "壹佰元伍角"),
        (5, "伍分"),
        (100500, "壹仟零伍元整"),
        (100000001, "壹佰万元零壹分"),
        (-9733, "（负数）玖拾柒元叁角叁分"),
    ],
)
def test_amounts_in_capitals(fen, words):
    assert capitals.capitals(fen) == words


@pytest.mark.parametrize("fen, text", [(9733, "97.33"), (5, "0.05"), (-9733, "-97.33"), (123456789, "1234567.89")])
def test_amounts_in_figures(fen, text):
    assert capitals.yuan(fen) == text


def test_qr_payload_round_trip_and_damage():
    from datetime import date

    text = qr.payload(
        code="041002600112",
        number="00000001",
        total_net=9450,
        issued_on=date(2026, 9, 5),
        check_code="12345678901234567890",
    )
    # type 14: 增值税电子普通发票（通行费）, not 10 (the ordinary VAT e-invoice)
    assert text.startswith("01,14,041002600112,00000001,94.50,20260905,12345678901234567890,")
    assert qr.parse(text) == {
        "kind": "14",
        "code": "041002600112",
        "number": "00000001",
        "amount": "94.50",
        "date": "20260905",
        "check_code": "12345678901234567890",
    }
    assert qr.parse(text.replace("94.50", "94.60")) is None
    assert qr.parse("hello") is None
    # a document rendered before the type was corrected (type 10) still reads; other types do not
    head = "01,10,041002600112,00000001,94.50,20260905,12345678901234567890"
    legacy = f"{head},{zlib.crc32(head.encode()) & 0xFFFF:04X},"
    assert qr.parse(legacy)["kind"] == "10" and qr.parse(legacy)["number"] == "00000001"
    head = "01,04,041002600112,00000001,94.50,20260905,12345678901234567890"
    assert qr.parse(f"{head},{zlib.crc32(head.encode()) & 0xFFFF:04X},") is None
    svg = qr.svg(text)
    assert svg.startswith("<svg") and "<path" in svg and "http://" not in svg.replace("http://www.w3.org/2000/svg", "")


def test_the_url_fetcher_refuses_files_and_network():
    for html in (
        '<img src="file:///etc/passwd">',
        '<link rel="stylesheet" href="https://example.com/x.css"><p>x</p>',
        '<p style="background: url(http://169.254.169.254/latest)">x</p>',
        '<img src="data:image/png;base64,iVBORw0KGgo=">',
    ):
        with pytest.raises(rendering.DocumentError, match="outside resource"):
            rendering.html_to_pdf(html)


def test_rendering_refuses_to_start_without_harfbuzz_subset(monkeypatch, caplog):
    monkeypatch.setattr(rendering, "harfbuzz_subset_loaded", lambda: False)
    with pytest.raises(rendering.RenderingUnavailable, match="libharfbuzz-subset0"):
        rendering.html_to_pdf("<p>通行费</p>")
    warnings = checks.rendering_ready()
    assert [w.id for w in warnings] == ["invoices.W001"] and "libharfbuzz-subset0" in warnings[0].msg
    with caplog.at_level(logging.ERROR, logger="invoices.documents.checks"):
        checks.log_rendering_readiness()
    assert "libharfbuzz-subset0" in caplog.text


def test_this_machine_can_render():
    assert rendering.readiness_problems() == []
    assert rendering.font_file().endswith("DroidSansFallbackFull.ttf")
    assert checks.rendering_ready() == []


# --- real PDFs ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_real_pdfs_of_a_taxable_a_non_taxable_and_a_red_letter_invoice(
    world, applied, django_capture_on_commit_callbacks
):
    app = issue(world, applied)
    taxable = Invoice.objects.get(application=app, total=9733)
    non_taxable = Invoice.objects.get(application=app, kind="non_taxable")
    red = reverse_invoice(world, taxable, django_capture_on_commit_callbacks)
    for inv in (taxable, non_taxable, red):
        inv.refresh_from_db()
        assert inv.render_status == "rendered" and inv.render_error == "" and inv.render_attempts == 1
        assert inv.pdf_path == f"invoices/{inv.issued_on:%Y/%m}/{inv.code}-{inv.number}.pdf"
        data = stored(inv.pdf_path)
        assert data.startswith(b"%PDF") and len(data) == inv.pdf_size
        reader = pypdf.PdfReader(io.BytesIO(data))
        box = reader.pages[0].mediabox
        assert (round(float(box.width) / 72 * 25.4), round(float(box.height) / 72 * 25.4)) == (240, 140)
        text = pdf_text(data)
        for value in (
            inv.code,
            inv.number,
            inv.machine_no,
            inv.seller_name,
            inv.seller_tax_id,
            "演示科技有限公司",
            COMPANY_TAX_ID,
            "北京市演示路1号 010-12345678",
            "演示银行 6222000000000001",
            "河南增值税电子普通发票",
            "*经营租赁*通行费",
            "豫A12345",
            "客车",
            "20260905",
            inv.issued_on.strftime("%Y年%m月%d日"),
            "收款人：系统",
            "复核：系统",
            "开票人：票根平台",
        ):
            assert value in text, (value, text)
        groups = " ".join(inv.check_code[i : i + 5] for i in range(0, 20, 5))
        assert f"校 验 码：{groups}" in text
        mark = "通行费" in text.replace("*经营租赁*通行费", "")
        assert mark == (inv.kind == "taxable"), text
        fonts = [f.get_object() for f in reader.pages[0]["/Resources"]["/Font"].values()]
        cjk = [f for f in fonts if "Droid-Sans-Fallback" in f["/BaseFont"]]
        assert cjk, [f["/BaseFont"] for f in fonts]
        descriptor = cjk[0]["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
        assert "/FontFile2" in descriptor  # embedded (TrueType), subset: a 6-letter tag prefixes the name
        assert re.match(r"/[A-Z]{6}\+", cjk[0]["/BaseFont"])
        assert len(reader.pages) == 1 and "详见销货清单" not in text  # one line: the form holds it

    text = pdf_text(stored(taxable.pdf_path))
    assert "94.50 3% 2.83" in text and "¥94.50" in text and "¥2.83" in text
    assert "玖拾柒元叁角叁分" in text and "（小写）¥97.33" in text and "不征税" not in text
    assert "销项负数" not in text and "对应正数发票" not in text

    text = pdf_text(stored(non_taxable.pdf_path))
    assert "5.00 不征税 ***" in text and "伍元整" in text and "3%" not in text

    text = pdf_text(stored(red.pdf_path))
    assert "销项负数" in text
    assert "-94.50 3% -2.83" in text and "¥-94.50" in text and "（小写）¥-97.33" in text
    assert "（负数）玖拾柒元叁角叁分" in text
    assert f"对应正数发票代码:{taxable.code} 号码:{taxable.number}" in text


def page_texts(data: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages]


def monthly_invoice(world, applied, trips: int, **title_fields) -> Invoice:
    """A 按月汇总 invoice of one seller (甲高速公司, 3 %) with one line per trip, fees all different."""
    push(world, [(f"M{i:02d}", [("S-A3", 1000 + 37 * i)]) for i in range(1, trips + 1)])
    fields = {"kind": "enterprise", "name": "演示科技有限公司", "tax_id": COMPANY_TAX_ID} | title_fields
    title_id = title(world.user, **fields)
    r = applied(title_id=title_id, mode="monthly")
    assert r.status_code == 202, r.content
    [inv] = Invoice.objects.filter(application_id=r.json()["id"])
    inv.refresh_from_db()
    assert inv.lines.count() == trips and inv.render_status == "rendered"
    return inv


AMOUNT = r"-?\d+\.\d{2}"


@pytest.mark.django_db
def test_a_monthly_invoice_of_30_lines_continues_on_numbered_list_pages(
    world, applied, django_capture_on_commit_callbacks
):
    inv = monthly_invoice(world, applied, 30)
    red = reverse_invoice(world, inv, django_capture_on_commit_callbacks)
    for doc in (inv, red):
        doc.refresh_from_db()
        pages = page_texts(stored(doc.pdf_path))
        assert len(pages) == 1 + 2, pages  # the form, then 销货清单 pages of 15 lines
        for text in pages:  # every page names the document
            assert doc.code in text and doc.number in text, text
        form, *lists = pages
        # the form: one line pointing at the list, the totals, the seller block (once, here only)
        assert "（详见销货清单）" in form and "*经营租赁*通行费" not in form and "20260905" not in form
        assert f"{doc.total_net / 100:.2f} 3% {doc.total_tax / 100:.2f}" in form
        assert f"（小写）¥{doc.total / 100:.2f}" in form
        for seller_only in (doc.seller_tax_id, "纳税人识别号", "收款人：系统", "机器编号"):
            assert seller_only in form and not any(seller_only in text for text in lists), seller_only
        lines = list(doc.lines.order_by("seq"))
        seen = []
        for number, text in enumerate(lists, start=1):
            assert "销售货物或者提供应税劳务、服务清单" in text
            assert f"第 {number} 页 共 2 页" in text, text
            assert "购买方名称：演示科技有限公司" in text and f"销售方名称：{doc.seller_name}" in text
            assert f"所属发票代码：{doc.code}" in text and f"发票号码：{doc.number}" in text
            rows = re.findall(
                rf"^(\d+) \*经营租赁\*通行费 豫A12345 客车 (\d{{8}}) (\d{{8}}) ({AMOUNT}) 3% ({AMOUNT})$", text, re.M
            )
            assert len(rows) == 15, text
            seen += rows
            subtotal = re.search(rf"小　*计 ¥({AMOUNT}) ¥({AMOUNT})", text)
            assert subtotal, text
            net = sum(round(float(r[3]) * 100) for r in rows)
            tax = sum(round(float(r[4]) * 100) for r in rows)
            assert (round(float(subtotal[1]) * 100), round(float(subtotal[2]) * 100)) == (net, tax)
        assert [int(r[0]) for r in seen] == list(range(1, 31))
        assert sorted(round(float(r[3]) * 100) for r in seen) == sorted(line.net for line in lines)
        assert sum(round(float(r[3]) * 100) for r in seen) == doc.total_net
        assert sum(round(float(r[4]) * 100) for r in seen) == doc.total_tax
        total = re.search(rf"总　*计 ¥({AMOUNT}) ¥({AMOUNT})", lists[-1])
        assert total and (round(float(total[1]) * 100), round(float(total[2]) * 100)) == (doc.total_net, doc.total_tax)
        assert not re.search("总　*计", lists[0])  # the totals close the list, on its last page
        assert f"（小写）¥{doc.total / 100:.2f}" in lists[-1] and capitals.capitals(doc.total) in lists[-1]
    assert red.total == -inv.total and "销项负数" in page_texts(stored(red.pdf_path))[0]
    # the XML twin keeps every line
    root = ElementTree.fromstring(stored(inv.xml_path))
    assert len(root.findall("t:Lines/t:Line", NS)) == 30


@pytest.mark.django_db
def test_eight_lines_stay_on_the_form(world, applied):
    inv = monthly_invoice(world, applied, 8)
    [form] = page_texts(stored(inv.pdf_path))
    assert "详见销货清单" not in form and form.count("*经营租赁*通行费") == 8 and "收款人：系统" in form


@pytest.mark.django_db
def test_a_form_pushed_over_its_page_by_long_buyer_details_still_names_the_invoice(world, applied):
    """8 lines, as many as the form holds, but a 100-character buyer name and a 200-character
    address: the footer spills onto a second page, which carries the code and number in its top
    margin."""
    inv = monthly_invoice(world, applied, 8, name="演示" * 50, address="北京市海淀区演示路1号" * 18)
    pages = page_texts(stored(inv.pdf_path))
    assert len(pages) == 2 and "详见销货清单" not in pages[0]
    for text in pages:
        assert inv.code in text and inv.number in text, text


@pytest.mark.django_db
def test_nine_lines_go_to_a_list_page(world, applied):
    inv = monthly_invoice(world, applied, 9)
    form, listing = page_texts(stored(inv.pdf_path))
    assert "（详见销货清单）" in form and "第 1 页 共 1 页" in listing and inv.number in listing
    assert listing.count("*经营租赁*通行费") == 9 and re.search("总　*计", listing)


@pytest.mark.django_db
def test_the_xml_twin_holds_the_same_data(world, applied, django_capture_on_commit_callbacks):
    app = issue(world, applied)
    taxable = Invoice.objects.get(application=app, total=9733)
    red = reverse_invoice(world, taxable, django_capture_on_commit_callbacks)
    taxable.refresh_from_db()
    root = ElementTree.fromstring(stored(taxable.xml_path))
    assert root.findtext("t:Code", namespaces=NS) == taxable.code
    assert root.findtext("t:Number", namespaces=NS) == taxable.number
    assert root.findtext("t:IssueDate", namespaces=NS) == taxable.issued_on.isoformat()
    assert root.findtext("t:CheckCode", namespaces=NS) == taxable.check_code
    assert root.findtext("t:TollMark", namespaces=NS) == "通行费"
    assert root.findtext("t:Buyer/t:TaxId", namespaces=NS) == COMPANY_TAX_ID
    assert root.findtext("t:Seller/t:Name", namespaces=NS) == "甲高速公司"
    [line] = root.findall("t:Lines/t:Line", NS)
    assert line.findtext("t:Net", namespaces=NS) == "94.50" and line.find("t:Net", NS).get("fen") == "9450"
    assert line.findtext("t:Rate", namespaces=NS) == "3%" and line.findtext("t:Tax", namespaces=NS) == "2.83"
    assert root.find("t:Total", NS).get("fen") == "9733"
    assert root.findtext("t:TotalInCapitals", namespaces=NS) == "玖拾柒元叁角叁分"
    assert root.find("t:Original", NS) is None
    scanned = qr.parse(root.findtext("t:QRCode", namespaces=NS))
    assert scanned["kind"] == "14" and scanned["number"] == taxable.number and scanned["amount"] == "94.50"
    assert scanned["code"] == taxable.code and scanned["check_code"] == taxable.check_code

    red_root = ElementTree.fromstring(stored(red.xml_path))
    assert red_root.findtext("t:Red", namespaces=NS) == "true"
    assert red_root.find("t:Total", NS).get("fen") == "-9733"
    assert red_root.findtext("t:TotalInCapitals", namespaces=NS) == "（负数）玖拾柒元叁角叁分"
    assert red_root.findtext("t:Original/t:Code", namespaces=NS) == taxable.code
    assert red_root.findtext("t:Original/t:Number", namespaces=NS) == taxable.number

    non_taxable = Invoice.objects.get(application=app, kind="non_taxable")
    nt_root = ElementTree.fromstring(stored(non_taxable.xml_path))
    assert nt_root.findtext("t:Lines/t:Line/t:Rate", namespaces=NS) == "不征税"
    assert nt_root.findtext("t:TollMark", namespaces=NS) == ""
    assert qr.parse(nt_root.findtext("t:QRCode", namespaces=NS))["kind"] == "14"  # 不征税 is a toll invoice too


# --- downloads ------------------------------------------------------------------------------------------


def zip_of(response) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


@pytest.mark.django_db
def test_the_zip_of_an_application_holds_every_document(world, applied):
    app = issue(world, applied)
    app.refresh_from_db()
    invoices = list(Invoice.objects.filter(application=app).order_by("id"))
    r = world.user.get(f"/api/v1/app/applications/{app.pk}/zip")
    assert r.status_code == 200 and r["Content-Type"] == "application/zip"
    assert f'filename="invoices-{app.summary_no}.zip"' in r["Content-Disposition"]
    archive = zip_of(r)
    assert archive.testzip() is None
    expected = {f"{i.code}-{i.number}.{ext}" for i in invoices for ext in ("pdf", "xml")} | {
        f"summary-{app.summary_no}.pdf"
    }
    assert set(archive.namelist()) == expected and len(expected) == 7
    for inv in invoices:
        assert archive.read(f"{inv.code}-{inv.number}.pdf") == stored(inv.pdf_path)
        assert archive.read(f"{inv.code}-{inv.number}.xml") == stored(inv.xml_path)
    summary = pdf_text(archive.read(f"summary-{app.summary_no}.pdf"))
    assert "通行费电子发票汇总单" in summary and app.summary_no in summary
    assert "郑州站 → 安阳站" in summary and "T1" in summary and "发票张数：3" in summary
    assert "¥114.33" in summary and "壹佰壹拾肆元叁角叁分" in summary
    for inv in invoices:
        assert inv.number in summary


@pytest.mark.django_db
def test_downloads_are_for_their_owner_only(world, applied, app_client, client):
    app = issue(world, applied)
    inv = Invoice.objects.filter(application=app).first()
    r = world.user.get(f"/api/v1/app/invoices/{inv.pk}/pdf")
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    assert b"".join(r.streaming_content) == stored(inv.pdf_path)
    r = world.user.get(f"/api/v1/app/invoices/{inv.pk}/xml")
    assert r.status_code == 200 and r["Content-Type"] == "application/xml"
    other = app_client()
    for url in (
        f"/api/v1/app/invoices/{inv.pk}/pdf",
        f"/api/v1/app/invoices/{inv.pk}/xml",
        f"/api/v1/app/applications/{app.pk}/zip",
        "/api/v1/app/invoices/999999/pdf",
        "/api/v1/app/invoices/99999999999999999999999/xml",
    ):
        r = other.get(url)
        assert r.status_code == 404 and r.json()["code"] == "not_found", url
    anonymous = client.get(f"/api/v1/app/invoices/{inv.pk}/pdf")
    assert anonymous.status_code == 401
    # pages
    client.force_login(other.user)
    assert client.get(reverse("invoices:invoice_pdf", args=[inv.pk])).status_code == 404
    assert client.get(reverse("invoices:application_zip", args=[app.pk])).status_code == 404
    client.force_login(world.user.user)
    r = client.get(reverse("invoices:invoice_pdf", args=[inv.pk]))
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    assert f"{inv.code}-{inv.number}.pdf" in r["Content-Disposition"]
    r = client.get(reverse("invoices:application_zip", args=[app.pk]))
    assert r.status_code == 200 and len(zip_of(r).namelist()) == 7
    detail = client.get(reverse("invoices:invoice", args=[inv.pk])).content.decode()
    assert (
        reverse("invoices:invoice_pdf", args=[inv.pk]) in detail
        and reverse("invoices:invoice_xml", args=[inv.pk]) in detail
    )
    page = client.get(reverse("invoices:application", args=[app.pk])).content.decode()
    assert reverse("invoices:application_zip", args=[app.pk]) in page


@pytest.mark.django_db
def test_the_buyer_enterprise_partner_downloads_its_invoices(world, applied, partner_client):
    app = issue(world, applied)
    inv = Invoice.objects.filter(application=app).first()
    company = partner_client("enterprise", name="演示科技有限公司", tax_id=COMPANY_TAX_ID)
    r = company.get(f"/api/v1/partner/invoices/{inv.code}/{inv.number}/pdf")
    assert r.status_code == 200 and b"".join(r.streaming_content) == stored(inv.pdf_path)
    r = company.get(f"/api/v1/partner/invoices/{inv.code}/{inv.number}/xml")
    assert r.status_code == 200 and inv.check_code in b"".join(r.streaming_content).decode()
    stranger = partner_client("enterprise", name="别家", tax_id=demo_uscc("91110000MA01DEM01"))
    assert stranger.get(f"/api/v1/partner/invoices/{inv.code}/{inv.number}/pdf").status_code == 404
    assert company.get(f"/api/v1/partner/invoices/{inv.code}/99999999/pdf").status_code == 404
    assert company.get(f"/api/v1/partner/invoices/not-a-code/{inv.number}/pdf").status_code == 404
    assert world.clearing.get(f"/api/v1/partner/invoices/{inv.code}/{inv.number}/pdf").status_code == 403
    assert world.user.get(f"/api/v1/partner/invoices/{inv.code}/{inv.number}/pdf").status_code == 401


@pytest.fixture
def retries_run_inline(monkeypatch):
    """Eager tasks retry inline, as a worker would after each countdown. (The suite otherwise
    lets eager errors propagate, which stops a task at its first retry.)"""
    from piaogen.celery import app as celery_app

    monkeypatch.setitem(celery_app.conf, "task_eager_propagates", False)


@pytest.fixture
def nothing_queued(monkeypatch):
    """The broker takes the documents' tasks and never runs them."""
    queued = []
    monkeypatch.setattr(tasks.render_invoice, "delay", lambda *a: queued.append(("render", a)))
    monkeypatch.setattr(tasks.render_summary, "delay", lambda *a: queued.append(("summary", a)))
    monkeypatch.setattr(tasks.deliver_application, "delay", lambda *a: queued.append(("deliver", a)))
    return queued


@pytest.mark.django_db
def test_documents_not_rendered_yet_answer_409_and_a_friendly_page(world, applied, nothing_queued, client):
    app = issue(world, applied)
    inv = Invoice.objects.filter(application=app).first()
    assert inv.render_status == "pending"
    assert [k for k, _ in nothing_queued] == ["summary"] + ["render"] * 3
    for url in (
        f"/api/v1/app/invoices/{inv.pk}/pdf",
        f"/api/v1/app/invoices/{inv.pk}/xml",
        f"/api/v1/app/applications/{app.pk}/zip",
    ):
        r = world.user.get(url)
        assert r.status_code == 409 and r.json()["code"] == "not_ready", url
    client.force_login(world.user.user)
    r = client.get(reverse("invoices:invoice_pdf", args=[inv.pk]))
    assert r.status_code == 409 and "正在生成" in r.content.decode() and 'http-equiv="refresh"' in r.content.decode()
    assert "正在生成" in client.get(reverse("invoices:invoice", args=[inv.pk])).content.decode()
    assert not storage.exists(storage.invoice_path(inv, "pdf"))  # the request rendered nothing


@pytest.mark.django_db
def test_an_application_still_issuing_has_no_zip(world, monkeypatch):
    push(world, [("T1", THREE)])
    monkeypatch.setattr(tasks.issue_application, "delay", lambda app_id: None)
    r = world.user.post(
        "/api/v1/app/applications",
        {"kind": "consumption", "card_no": world.card_no, "month": "2026-09", "title_id": title(world.user)},
        format="json",
    )
    r = world.user.get(f"/api/v1/app/applications/{r.json()['id']}/zip")
    assert r.status_code == 409 and r.json()["code"] == "not_ready"


# --- mail -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_zip_is_mailed_with_plate_date_count_and_total(world, applied):
    app = issue(world, applied, email=EMAIL)
    app.refresh_from_db()
    [message] = mail.outbox
    assert message.to == [EMAIL]
    day = timezone.localtime(app.issued_at).strftime("%Y年%m月%d日")
    for text in (message.subject, message.body):
        assert "豫A12345" in text and day in text and "共 3 张" in text
    assert "价税合计 ¥114.33 元（壹佰壹拾肆元叁角叁分）" in message.body and app.summary_no in message.body
    [(name, content, mimetype)] = message.attachments
    assert name == f"invoices-{app.summary_no}.zip" and mimetype == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(content)).namelist()
    assert len(names) == 7 and f"summary-{app.summary_no}.pdf" in names
    assert app.emailed_at is not None
    event = ApplicationEvent.objects.get(application=app, kind="emailed")
    assert event.detail["to"] == "f***@example.com" and EMAIL not in str(event.detail)
    assert documents.application_deliver(application_id=app.pk) == "already_sent" and len(mail.outbox) == 1


@pytest.mark.django_db
def test_no_email_address_no_mail(world, applied):
    app = issue(world, applied)
    assert mail.outbox == [] and documents.application_deliver(application_id=app.pk) == "no_email"


@pytest.mark.django_db
def test_a_failing_mail_server_is_retried_and_never_touches_issuing(world, applied, monkeypatch, retries_run_inline):
    calls = {"n": 0}
    real_send = mail.EmailMessage.send

    def flaky(self, fail_silently=False):
        calls["n"] += 1
        if calls["n"] <= 2:
            raise smtplib.SMTPServerDisconnected("connection unexpectedly closed")
        return real_send(self, fail_silently)

    monkeypatch.setattr(mail.EmailMessage, "send", flaky)
    app = issue(world, applied, email=EMAIL)
    app.refresh_from_db()
    assert app.status == "issued" and app.invoice_count == 3
    assert calls["n"] == 3 and len(mail.outbox) == 1 and app.emailed_at is not None
    failures = ApplicationEvent.objects.filter(application=app, kind="email_failed")
    assert failures.count() == 2 and "SMTPServerDisconnected" in failures.first().reason


@pytest.mark.django_db
def test_a_mail_server_that_never_answers_gives_up_with_issuing_done(world, applied, monkeypatch, retries_run_inline):
    def down(self, fail_silently=False):
        raise smtplib.SMTPConnectError(421, "down")

    monkeypatch.setattr(mail.EmailMessage, "send", down)
    app = issue(world, applied, email=EMAIL)
    app.refresh_from_db()
    assert app.status == "issued" and app.emailed_at is None and mail.outbox == []
    kinds = list(ApplicationEvent.objects.filter(application=app).values_list("kind", flat=True))
    assert kinds.count("email_failed") == tasks.deliver_application.max_retries and kinds[-1] == "email_gave_up"
    assert set(Invoice.objects.filter(application=app).values_list("render_status", flat=True)) == {"rendered"}


# --- failures, the console, the sweep ------------------------------------------------------------------


@pytest.mark.django_db
def test_a_failing_render_is_retried_then_failed_and_visible_in_the_console(
    world,
    applied,
    monkeypatch,
    client,
    django_capture_on_commit_callbacks,
    retries_run_inline,
):
    def broken(html):
        raise rendering.DocumentError("pango exploded")

    monkeypatch.setattr(rendering, "html_to_pdf", broken)
    monkeypatch.setattr(rendering, "invoice_html_to_pdf", broken)
    app = issue(world, applied, email=EMAIL)
    app.refresh_from_db()
    assert app.status == "issued"  # issuing is untouched by documents
    inv = Invoice.objects.filter(application=app).first()
    assert inv.render_status == "failed" and inv.render_attempts == tasks.render_invoice.max_retries + 1
    assert "pango exploded" in inv.render_error
    assert mail.outbox == [] and not ApplicationEvent.objects.filter(application=app, kind__startswith="email").exists()
    r = world.user.get(f"/api/v1/app/invoices/{inv.pk}/pdf")
    assert r.status_code == 409 and "失败" in r.json()["message"]

    staff = User.objects.create_superuser(mobile="13900009999", password="console2026")
    client.force_login(staff)
    changelist = client.get(reverse("admin:invoices_invoice_changelist"), {"render": "failed"}).content.decode()
    assert inv.number in changelist and "pango exploded" in changelist
    monkeypatch.undo()
    url = reverse("admin:invoices_invoice_changelist")
    selected = list(Invoice.objects.filter(application=app).values_list("pk", flat=True))
    r = client.post(url, {"action": "rerender", "_selected_action": selected})
    assert r.status_code == 200 and "操作原因" in r.content.decode()  # asks for a reason first
    assert not ApplicationEvent.objects.filter(kind="rerender_requested").exists()
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(url, {"action": "rerender", "_selected_action": selected, "reason": "字体修复后重新生成"})
    assert r.status_code == 302
    inv.refresh_from_db()
    assert inv.render_status == "rendered" and inv.render_error == "" and storage.exists(inv.pdf_path)
    events = ApplicationEvent.objects.filter(application=app, kind="rerender_requested")
    assert events.count() == 3 and {(e.actor, e.reason) for e in events} == {(staff, "字体修复后重新生成")}
    # the summary sheet gets its second chance, and the mail goes once the last document is stored
    assert storage.exists(storage.summary_path(app))
    [message] = mail.outbox
    assert message.to == [EMAIL]
    change = client.get(reverse("admin:invoices_invoice_change", args=[inv.pk])).content.decode()
    link = reverse("admin:invoices_invoice_document", args=[inv.pk, "pdf"])
    assert link in change
    r = client.get(link)
    assert r.status_code == 200 and b"".join(r.streaming_content) == stored(inv.pdf_path)


@pytest.mark.django_db
def test_a_machine_without_harfbuzz_subset_fails_at_once_with_the_reason(world, applied, monkeypatch):
    monkeypatch.setattr(rendering, "harfbuzz_subset_loaded", lambda: False)
    app = issue(world, applied)
    inv = Invoice.objects.filter(application=app).first()
    assert inv.render_status == "failed" and inv.render_attempts == 1  # no retry: it cannot help
    assert "libharfbuzz-subset0" in inv.render_error


@pytest.mark.django_db
def test_rendering_is_refused_inside_a_transaction_and_done_once(world, applied, monkeypatch):
    app = issue(world, applied)
    inv = Invoice.objects.filter(application=app).first()
    with transaction.atomic(), pytest.raises(RuntimeError, match="transaction"):
        documents.invoice_render(invoice_id=inv.pk)
    writes = []
    monkeypatch.setattr(storage, "write", lambda path, content: writes.append(path) or path)
    documents.invoice_render(invoice_id=inv.pk)  # a redelivered task: already rendered
    assert writes == []
    documents.invoice_render(invoice_id=inv.pk, force=True)
    assert writes == [inv.pdf_path, inv.xml_path]


@pytest.mark.django_db
def test_the_sweep_queues_what_the_broker_lost(world, applied, nothing_queued):
    app = issue(world, applied, email=EMAIL)
    nothing_queued.clear()
    assert documents.documents_sweep() == {
        "invoices": 0,
        "summaries": 0,
        "deliveries": 0,
        "abandoned": 0,
    }  # not late yet
    later = timezone.now() + timedelta(minutes=11)
    counts = documents.documents_sweep(now=later)
    assert counts == {"invoices": 3, "summaries": 1, "deliveries": 0, "abandoned": 0}  # no mail before every document
    ids = sorted(Invoice.objects.filter(application=app).values_list("id", flat=True))
    assert sorted(a[0] for k, a in nothing_queued if k == "render") == ids
    assert documents.documents_sweep(now=later)["invoices"] == 0  # not again on the next sweep
    with pytest.raises(documents.DocumentsNotReady):
        documents.application_deliver(application_id=app.pk)
    for invoice_id in ids:  # what the re-queued tasks do
        documents.invoice_render(invoice_id=invoice_id)
    documents.summary_render(application_id=app.pk)
    nothing_queued.clear()
    assert documents.documents_sweep(now=later) == {"invoices": 0, "summaries": 0, "deliveries": 1, "abandoned": 0}
    assert nothing_queued == [("deliver", (app.pk,))]
    assert documents.application_deliver(application_id=app.pk) == "sent" and len(mail.outbox) == 1
    assert documents.documents_sweep(now=later)["deliveries"] == 0
    # a worker killed between claiming the mail and sending it: the claim is given back
    ApplicationEvent.objects.filter(application=app, kind="emailed").delete()
    Application.objects.filter(pk=app.pk).update(emailed_at=later - timedelta(minutes=20))
    nothing_queued.clear()
    assert documents.documents_sweep(now=later) == {"invoices": 0, "summaries": 0, "deliveries": 1, "abandoned": 1}
    app.refresh_from_db()
    assert app.emailed_at is None and nothing_queued == [("deliver", (app.pk,))]


@pytest.mark.django_db
def test_the_schema_documents_the_downloads_and_verification():
    from drf_spectacular.generators import SchemaGenerator

    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    for path in (
        "/api/v1/app/invoices/{id}/pdf",
        "/api/v1/app/invoices/{id}/xml",
        "/api/v1/app/applications/{id}/zip",
        "/api/v1/app/invoices/ledger",
        "/api/v1/app/invoices/zip",
        "/api/v1/partner/invoices/{code}/{number}/pdf",
        "/api/v1/partner/invoices/{code}/{number}/xml",
        "/api/v1/verify",
    ):
        assert path in paths, path
