"""Every document surface handles every kind of document: the PDF (a layout per kind, its
statutory fields present and the other kinds' absent, red-letter documents, 销货清单 pages), the
XML twin's element set per kind, the QR payload per kind, the names in storage and in the ZIPs,
the summary sheet that binds documents of several kinds, applications without a summary sheet,
and the mail."""

import io
import re
import zipfile
from datetime import date, timedelta
from xml.etree import ElementTree

import pypdf
import pytest
from django.core import mail
from django.utils import timezone

from invoices.documents import archive, capitals, qr, storage
from invoices.documents import services as documents
from invoices.models import Application, Invoice, RedLetterConfirmation
from invoices.regimes import DocumentKind

from . import test_invoicing
from .conftest import trip
from .test_documents import COMPANY, page_texts, pdf_text, reverse_invoice, stored
from .test_invoicing import COMPANY_TAX_ID, THREE, push, title

pytestmark = [pytest.mark.regimes, pytest.mark.documents]

applied = test_invoicing.applied  # the fixture that submits and issues through the App API

VAT, FISCAL, DIGITAL = DocumentKind.VAT_E_INVOICE, DocumentKind.FISCAL_E_BILL, DocumentKind.DIGITAL_E_INVOICE
FISCAL_NS = {"t": "urn:piaogen:toll-fiscal-e-bill:1"}
DIGITAL_NS = {"t": "urn:piaogen:toll-digital-invoice:1"}
VAT_NS = {"t": "urn:piaogen:toll-invoice:1"}
EMAIL = "finance@example.com"


def issue_today(world, applied, **title_fields) -> Application:
    """A trip over the three operators under today's rules: one fiscal e-bill (丙还贷中心, 5.00)
    and two 数电 invoices (甲 97.33 at 3 %, 乙 12.00 at 5 %), for an enterprise title."""
    push(world, [("T1", THREE)])
    r = applied(title_id=title(world.user, **(COMPANY | title_fields)))
    assert r.status_code == 202, r.content
    app = Application.objects.get(pk=r.json()["id"])
    assert app.status == "issued", app.failure_reason
    return app


def mm(box) -> tuple[int, int]:
    return round(float(box.width) / 72 * 25.4), round(float(box.height) / 72 * 25.4)


def xml_of(inv: Invoice) -> ElementTree.Element:
    return ElementTree.fromstring(stored(inv.xml_path))


def child_tags(root) -> set[str]:
    return {el.tag.split("}")[1] for el in root}


# --- QR payloads per kind -------------------------------------------------------------------------------


def test_qr_payload_of_a_digital_invoice_has_no_code_and_no_check_code():
    text = qr.digital_payload(number="26411000000000000001", total=9733, issued_on=date(2026, 9, 5))
    assert re.fullmatch(r"01,32,,26411000000000000001,97\.33,20260905,,[0-9A-F]{4}", text), text
    assert qr.parse(text) == {
        "kind": "32",
        "code": "",
        "number": "26411000000000000001",
        "amount": "97.33",  # 价税合计: what a 数电 invoice is verified by
        "date": "20260905",
        "check_code": "",
    }
    assert qr.parse(text.replace("97.33", "97.34")) is None  # damaged
    assert qr.parse(text + ",") is None  # not the 数电 shape
    assert qr.parse(text.replace(",32,", ",31,")) is None  # not a type of ours


def test_qr_payload_of_a_fiscal_e_bill_is_the_platforms_own_type():
    text = qr.fiscal_payload(
        code="41029926", number="0000000001", total=500, issued_on=date(2026, 9, 5), check_code="a1b2c3"
    )
    assert re.fullmatch(r"01,CZ,41029926,0000000001,5\.00,20260905,a1b2c3,[0-9A-F]{4},", text), text
    assert qr.parse(text) == {
        "kind": "CZ",
        "code": "41029926",
        "number": "0000000001",
        "amount": "5.00",
        "date": "20260905",
        "check_code": "a1b2c3",
    }
    assert qr.parse(text.replace("a1b2c3", "a1b2c4")) is None
    red = qr.fiscal_payload(
        code="41029926", number="0000000002", total=-500, issued_on=date(2026, 9, 6), check_code="0f0f0f"
    )
    assert qr.parse(red)["amount"] == "-5.00"


# --- the fiscal e-bill ------------------------------------------------------------------------------------


FISCAL_ABSENT = (
    "税额",
    "税率",
    "机器编号",
    "密码区",
    "发票代码",
    "发票号码",
    "纳税人识别号",
    "价税合计",
    "购买方",
    "销售方",
)
DIGITAL_ABSENT = ("发票代码", "校验码", "校 验 码", "机器编号", "密码区", "票据代码", "收款人", "复核")


@pytest.mark.django_db
def test_the_fiscal_e_bill_prints_its_own_fields_and_none_of_an_invoice(
    world, applied, django_capture_on_commit_callbacks
):
    app = issue_today(world, applied)
    bill = Invoice.objects.get(application=app, document_kind=FISCAL)
    assert bill.render_status == "rendered"
    assert bill.pdf_path == f"invoices/{bill.issued_on:%Y/%m}/fiscal-e-bill-{bill.code}-{bill.number}.pdf"
    data = stored(bill.pdf_path)
    reader = pypdf.PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 1 and mm(reader.pages[0].mediabox) == (240, 140)
    text = pdf_text(data)
    for value in (
        "全国统一财政电子票据",
        "通行费财政电子票据",
        f"票据代码：{bill.code}",
        f"票据号码：{bill.number}",
        f"校验码：{bill.check_code}",
        f"开票日期：{bill.issued_on:%Y年%m月%d日}",
        "交款人：演示科技有限公司",
        f"交款人统一社会信用代码：{COMPANY_TAX_ID}",
        "项目名称",
        "车牌号",
        "通行日期起",
        "通行日期止",
        "车辆通行费 豫A12345 客车 20260905 20260905 5.00",
        "金额合计（大写）",
        "伍元整",
        "（小写）¥5.00",
        "收款单位（章）：丙还贷中心",
        "复核人：系统",
        "收款人：系统",
        "备注",
    ):
        assert value in text, (value, text)
    assert re.fullmatch(r"\d{8}", bill.code) and re.fullmatch(r"\d{10}", bill.number)
    for absent in FISCAL_ABSENT + ("经营租赁", "不征税", "***", "销项负数"):
        assert absent not in text, (absent, text)

    root = xml_of(bill)
    assert root.tag == "{urn:piaogen:toll-fiscal-e-bill:1}TollFiscalEBill"
    assert child_tags(root) == {
        "Title",
        "BillCode",
        "BillNumber",
        "CheckCode",
        "IssueDate",
        "Red",
        "Payer",
        "PayeeUnit",
        "Lines",
        "Total",
        "TotalInCapitals",
        "Remarks",
        "Collector",
        "Reviewer",
        "QRCode",
        "Demo",
    }
    assert root.findtext("t:BillCode", namespaces=FISCAL_NS) == bill.code
    assert root.findtext("t:CheckCode", namespaces=FISCAL_NS) == bill.check_code
    assert root.findtext("t:Payer/t:CreditCode", namespaces=FISCAL_NS) == COMPANY_TAX_ID
    assert root.findtext("t:PayeeUnit/t:Name", namespaces=FISCAL_NS) == "丙还贷中心"
    [line] = root.findall("t:Lines/t:Line", FISCAL_NS)
    assert {el.tag.split("}")[1] for el in line} == {"Item", "Plate", "VehicleClass", "DateFrom", "DateTo", "Amount"}
    assert line.find("t:Amount", FISCAL_NS).get("fen") == "500"
    assert root.find("t:Total", FISCAL_NS).get("fen") == "500"
    scanned = qr.parse(root.findtext("t:QRCode", namespaces=FISCAL_NS))
    assert scanned == {
        "kind": "CZ",
        "code": bill.code,
        "number": bill.number,
        "amount": "5.00",
        "date": bill.issued_on.strftime("%Y%m%d"),
        "check_code": bill.check_code,
    }

    # its red-letter twin prints as such and names the original
    red = reverse_invoice(world, bill, django_capture_on_commit_callbacks)
    red.refresh_from_db()
    assert red.document_kind == FISCAL and red.render_status == "rendered"
    text = pdf_text(stored(red.pdf_path))
    assert "冲红票据" in text and "（负数）伍元整" in text and "（小写）¥-5.00" in text
    assert "车辆通行费 豫A12345 客车 20260905 20260905 -5.00" in text
    assert f"冲红原票据代码:{bill.code} 号码:{bill.number}" in text
    red_root = xml_of(red)
    assert red_root.findtext("t:Red", namespaces=FISCAL_NS) == "true"
    assert red_root.findtext("t:Original/t:BillNumber", namespaces=FISCAL_NS) == bill.number
    assert red_root.find("t:Total", FISCAL_NS).get("fen") == "-500"


# --- the 数电 invoice --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_digital_invoice_prints_number_and_date_only_and_both_parties(
    world, applied, django_capture_on_commit_callbacks
):
    app = issue_today(world, applied)
    inv = Invoice.objects.get(application=app, document_kind=DIGITAL, total=9733)
    assert inv.pdf_path == f"invoices/{inv.issued_on:%Y/%m}/digital-e-invoice-{inv.number}.pdf"
    data = stored(inv.pdf_path)
    reader = pypdf.PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 1 and mm(reader.pages[0].mediabox) == (240, 140)
    text = pdf_text(data)
    for value in (
        "电子发票（普通发票）",
        "特定业务：通行费",
        f"发票号码：{inv.number}",
        f"开票日期：{inv.issued_on:%Y年%m月%d日}",
        "购\n买\n方\n信\n息",
        "销\n售\n方\n信\n息",
        "名称：演示科技有限公司",
        f"统一社会信用代码/纳税人识别号：{COMPANY_TAX_ID}",
        "名称：甲高速公司",
        f"统一社会信用代码/纳税人识别号：{inv.seller_tax_id}",
        "税率/征收率",
        "*经营租赁*通行费 豫A12345 客车 20260905 20260905 94.50 3% 2.83",
        "¥94.50",
        "¥2.83",
        "价税合计（大写）",
        "玖拾柒元叁角叁分",
        "（小写）¥97.33",
        "备\n注",
        "购买方地址、电话：北京市演示路1号 010-12345678",
        "开票人：票根平台",
    ):
        assert value in text, (value, text)
    for absent in DIGITAL_ABSENT + ("销项负数", "不征税", "增值税电子普通发票"):
        assert absent not in text, (absent, text)

    root = xml_of(inv)
    assert root.tag == "{urn:piaogen:toll-digital-invoice:1}TollDigitalInvoice"
    tags = child_tags(root)
    assert {"Number", "IssueDate", "SpecialBusiness", "Buyer", "Seller", "TotalNet", "TotalTax", "Total"} <= tags
    assert not tags & {"Code", "CheckCode", "MachineNo", "Original"}
    assert root.findtext("t:SpecialBusiness", namespaces=DIGITAL_NS) == "通行费"
    assert root.findtext("t:Buyer/t:TaxId", namespaces=DIGITAL_NS) == COMPANY_TAX_ID
    [line] = root.findall("t:Lines/t:Line", DIGITAL_NS)
    assert line.findtext("t:Rate", namespaces=DIGITAL_NS) == "3%" and line.find("t:Tax", DIGITAL_NS).get("fen") == "283"
    scanned = qr.parse(root.findtext("t:QRCode", namespaces=DIGITAL_NS))
    assert scanned == {
        "kind": "32",
        "code": "",
        "number": inv.number,
        "amount": "97.33",
        "date": inv.issued_on.strftime("%Y%m%d"),
        "check_code": "",
    }

    # the red-letter 数电 invoice: negative amounts, the red mark, its remarks naming the original
    # and the 红字确认单; the XML carries both numbers
    red = reverse_invoice(world, inv, django_capture_on_commit_callbacks)
    red.refresh_from_db()
    confirmation = RedLetterConfirmation.objects.get(red_invoice=red)
    text = pdf_text(stored(red.pdf_path))
    assert "销项负数" in text and "电子发票（普通发票）" in text
    assert "-94.50 3% -2.83" in text and "（小写）¥-97.33" in text and "（负数）玖拾柒元叁角叁分" in text
    assert inv.number in text and confirmation.number in text
    for absent in DIGITAL_ABSENT:
        assert absent not in text, (absent, text)
    red_root = xml_of(red)
    assert red_root.findtext("t:Original/t:Number", namespaces=DIGITAL_NS) == inv.number
    assert red_root.findtext("t:Original/t:RedConfirmationNumber", namespaces=DIGITAL_NS) == confirmation.number
    assert red_root.find("t:Total", DIGITAL_NS).get("fen") == "-9733"


@pytest.mark.django_db
def test_a_legacy_vat_invoice_under_the_regimes_keeps_its_layout_and_xml(world, applied, settings):
    settings.TOLL_REGIME_2020_FROM = settings.TOLL_REGIME_DIGITAL_FROM = "2999-01-01"  # the 2018 rules still
    app = issue_today(world, applied)
    inv = Invoice.objects.get(application=app, total=9733)
    assert inv.document_kind == VAT
    assert inv.pdf_path == f"invoices/{inv.issued_on:%Y/%m}/{inv.code}-{inv.number}.pdf"
    text = pdf_text(stored(inv.pdf_path))
    for value in ("河南增值税电子普通发票", f"发票代码：{inv.code}", f"机器编号：{inv.machine_no}", "校 验 码"):
        assert value in text, (value, text)
    assert "统一社会信用代码" not in text and "票据代码" not in text
    root = xml_of(inv)
    assert root.tag == "{urn:piaogen:toll-invoice:1}TollInvoice"
    assert root.findtext("t:MachineNo", namespaces=VAT_NS) == inv.machine_no
    assert qr.parse(root.findtext("t:QRCode", namespaces=VAT_NS))["kind"] == "14"


# --- 销货清单 pages for every kind --------------------------------------------------------------------------


def monthly(world, applied, section: str, trips: int, prefix: str = "M") -> Invoice:
    push(world, [(f"{prefix}{i:02d}", [(section, 1000 + 37 * i)]) for i in range(1, trips + 1)])
    r = applied(title_id=title(world.user, **COMPANY), mode="monthly")
    assert r.status_code == 202, r.content
    [inv] = Invoice.objects.filter(application_id=r.json()["id"])
    inv.refresh_from_db()
    assert inv.lines.count() == trips and inv.render_status == "rendered"
    return inv


@pytest.mark.django_db
def test_a_fiscal_e_bill_of_20_lines_continues_on_pages_naming_its_code_and_number(
    world, applied, django_capture_on_commit_callbacks
):
    bill = monthly(world, applied, "S-C0", 20)
    red = reverse_invoice(world, bill, django_capture_on_commit_callbacks)
    for doc in (bill, red):
        doc.refresh_from_db()
        assert doc.document_kind == FISCAL
        form, *lists = page_texts(stored(doc.pdf_path))
        assert len(lists) == 2
        assert "（详见票据明细）" in form and f"（小写）¥{doc.total / 100:.2f}" in form
        for number, text in enumerate(lists, start=1):
            assert "通行费财政电子票据明细" in text and f"第 {number} 页 共 2 页" in text, text
            assert f"票据代码：{doc.code}" in text and f"票据号码：{doc.number}" in text, text
            assert "交款人：演示科技有限公司" in text and "收款单位：丙还贷中心" in text
            assert "税额" not in text and "税率" not in text and "发票" not in text
        rows = [
            row
            for text in lists
            for row in re.findall(r"^(\d+) 车辆通行费 豫A12345 客车 \d{8} \d{8} (-?\d+\.\d{2})$", text, re.M)
        ]
        assert [int(r[0]) for r in rows] == list(range(1, 21))
        assert sum(round(float(r[1]) * 100) for r in rows) == doc.total
        assert capitals.capitals(doc.total) in lists[-1] and re.search("总　*计", lists[-1])
    assert "冲红票据" in page_texts(stored(red.pdf_path))[0]


@pytest.mark.django_db
def test_a_digital_invoice_of_9_lines_continues_on_a_page_naming_its_number(world, applied):
    inv = monthly(world, applied, "S-A3", 9)
    assert inv.document_kind == DIGITAL
    form, listing = page_texts(stored(inv.pdf_path))
    assert "（详见销货清单）" in form and "电子发票（普通发票）" in form
    assert "第 1 页 共 1 页" in listing and f"所属发票号码：{inv.number}" in listing
    assert listing.count("*经营租赁*通行费") == 9 and re.search("总　*计", listing)
    for absent in ("发票代码", "校验码", "机器编号"):
        assert absent not in form + listing


# --- the ZIPs, the summary sheet -----------------------------------------------------------------------


def zip_names(response) -> tuple[zipfile.ZipFile, list[str]]:
    z = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    return z, z.namelist()


@pytest.mark.django_db
def test_one_application_of_every_kind_zips_and_summarises_them_side_by_side(world, applied, settings):
    settings.TOLL_REGIME_DIGITAL_FROM = "2026-09-06"  # the 数电 switch falls inside the month
    items = [
        trip("T1", world.card_no, world.when, THREE),
        trip("T2", world.card_no, world.when + timedelta(days=2), THREE),
    ]
    assert world.clearing.post("/api/v1/partner/transits", {"transits": items}, format="json").json()["created"] == 2
    r = applied(title_id=title(world.user, **COMPANY), mode="per_trip")
    app = Application.objects.get(pk=r.json()["id"])
    invoices = list(app.invoices.order_by("id"))
    kinds = sorted(i.document_kind for i in invoices)
    assert kinds == sorted([FISCAL, FISCAL, VAT, VAT, DIGITAL, DIGITAL]), kinds

    z, names = zip_names(world.user.get(f"/api/v1/app/applications/{app.pk}/zip"))
    assert z.testzip() is None
    expected = set()
    for inv in invoices:
        stem = {
            VAT: f"{inv.code}-{inv.number}",
            FISCAL: f"fiscal-e-bill-{inv.code}-{inv.number}",
            DIGITAL: f"digital-e-invoice-{inv.number}",
        }[inv.document_kind]
        expected |= {f"{stem}.pdf", f"{stem}.xml"}
        assert z.read(f"{stem}.pdf") == stored(inv.pdf_path) and z.read(f"{stem}.xml") == stored(inv.xml_path)
    assert set(names) == expected | {f"summary-{app.summary_no}.pdf"}
    assert all(n.isascii() for n in names)

    summary = pdf_text(z.read(f"summary-{app.summary_no}.pdf"))
    assert "通行费电子票据汇总单" in summary and app.summary_no in summary
    assert "票据张数：6（增值税电子普通发票 2 张、数电发票 2 张、财政电子票据 2 张）" in summary.replace("\n", "")
    for inv in invoices:
        label = {VAT: "增值税电子普通发票", FISCAL: "财政电子票据", DIGITAL: "数电发票"}[inv.document_kind]
        assert f"[{label}] {inv.reference}" in summary.replace("\n", " "), (label, inv.reference, summary)
        assert inv.number in summary
    assert "政府还贷路段开具通行费财政电子票据" in summary.replace("\n", "")

    # the card-month ZIP holds every kind too, by the same names
    _z, month_names = zip_names(
        world.user.get("/api/v1/app/invoices/zip", {"card_no": world.card_no, "month": "2026-09"})
    )
    assert set(month_names) == set(names)


@pytest.mark.django_db
def test_file_names_by_kind_and_reference():
    def named(kind, code, number):
        return storage.document_name(Invoice(document_kind=kind, code=code, number=number), "pdf")

    assert named(VAT, "041002600112", "00000001") == "041002600112-00000001.pdf"
    assert named(FISCAL, "41029926", "0000000001") == "fiscal-e-bill-41029926-0000000001.pdf"
    assert named(DIGITAL, "", "26411000000000000001") == "digital-e-invoice-26411000000000000001.pdf"
    inv = Invoice(document_kind=DIGITAL, code="", number="26411000000000000001", issued_on=date(2026, 9, 5))
    assert storage.invoice_path(inv, "xml") == "invoices/2026/09/digital-e-invoice-26411000000000000001.xml"
    assert storage.summary_path(Application(summary_no=None)) == ""
    assert archive.summary_member(Application(summary_no=None)) is None


# --- no summary sheet: recharges under the 2020+ rules ---------------------------------------------------


@pytest.fixture
def recharge_app(world, applied):
    stored_value = world.cards[1]
    world.bind(world.user, stored_value)
    body = {
        "recharges": [
            {
                "recharge_id": "R1",
                "card_no": stored_value["card_no"],
                "amount": 50000,
                "recharged_at": "2026-09-02T10:00:00+08:00",
            }
        ]
    }
    assert world.issuer.post("/api/v1/partner/recharges", body, format="json").json()["created"] == 1
    r = applied(
        kind="recharge",
        card_no=stored_value["card_no"],
        recharge_ids=["R1"],
        title_id=title(world.user, **COMPANY, email=EMAIL),
    )
    assert r.status_code == 202, r.content
    app = Application.objects.get(pk=r.json()["id"])
    assert app.status == "issued" and app.summary_no is None
    return app


@pytest.mark.django_db
def test_an_application_without_a_summary_sheet_zips_mails_and_prints_without_one(world, recharge_app):
    app = recharge_app
    [inv] = app.invoices.all()
    assert inv.document_kind == DIGITAL and inv.render_status == "rendered"
    # the recharge 数电 invoice: 不征税, the recharge date, no 通行费 mark
    text = pdf_text(stored(inv.pdf_path))
    assert "电子发票（普通发票）" in text and "*预付卡销售*ETC卡充值" in text and "充值日期" in text
    assert "500.00 不征税 ***" in text and "特定业务" not in text and "伍佰元整" in text
    assert documents.summary_render(application_id=app.pk) is None  # nothing to render, nothing stored
    # the mail went as soon as the invoice was stored: no summary sheet to wait for, none in it
    [message] = mail.outbox
    assert "汇总单" in message.body and "充值开票没有电子汇总单" in message.body
    assert "汇总单号" not in message.body and "None" not in message.body + message.subject
    assert "电子发票（普通发票） 1 张" in message.body and "价税合计 ¥500.00 元" in message.body
    [(name, content, _mimetype)] = message.attachments
    assert name == f"invoices-{app.pk}.zip"
    assert zipfile.ZipFile(io.BytesIO(content)).namelist() == [
        f"digital-e-invoice-{inv.number}.pdf",
        f"digital-e-invoice-{inv.number}.xml",
    ]
    r = world.user.get(f"/api/v1/app/applications/{app.pk}/zip")
    assert r.status_code == 200 and f'filename="invoices-{app.pk}.zip"' in r["Content-Disposition"]
    _z, names = zip_names(r)
    assert not any(n.startswith("summary") for n in names) and len(names) == 2
    card_no = world.cards[1]["card_no"]
    _z, names = zip_names(world.user.get("/api/v1/app/invoices/zip", {"card_no": card_no, "month": "2026-09"}))
    assert len(names) == 2 and not any(n.startswith("summary") for n in names)
    # the sweep queues no summary sheet for it and finds nothing undelivered
    later = timezone.now() + timedelta(minutes=11)
    assert documents.documents_sweep(now=later) == {"invoices": 0, "summaries": 0, "deliveries": 0, "abandoned": 0}
    assert documents.application_deliver(application_id=app.pk) == "already_sent"


# --- the mail names the documents by kind -----------------------------------------------------------------


@pytest.mark.django_db
def test_the_mail_names_the_documents_by_kind(world, applied):
    app = issue_today(world, applied, email=EMAIL)
    app.refresh_from_db()
    [message] = mail.outbox
    assert "通行费电子票据" in message.subject and "共 3 张" in message.subject
    assert "通行费电子发票" not in message.subject
    body = message.body
    assert "共 3 张（电子发票（普通发票） 2 张、通行费财政电子票据 1 张）" in body
    assert "合计 ¥114.33 元（壹佰壹拾肆元叁角叁分）" in body and "价税合计" not in body
    assert f"汇总单号 {app.summary_no}" in body and "文件名标明票据种类" in body
    assert "政府还贷路段开具通行费财政电子票据" in body
    names = zipfile.ZipFile(io.BytesIO(message.attachments[0][1])).namelist()
    assert len(names) == 7 and f"summary-{app.summary_no}.pdf" in names
    assert sum(n.startswith("fiscal-e-bill-") for n in names) == 2
    assert sum(n.startswith("digital-e-invoice-") for n in names) == 4
