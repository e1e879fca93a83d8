"""What a document prints, field by field, built once and shared by the PDF and its XML twin,
so the two can never disagree. Pure: takes loaded rows, touches no database."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from .. import numbering
from ..models import Application, Invoice, RedLetterConfirmation
from ..regimes import DocumentKind
from ..tax import rate_label
from . import qr
from .capitals import capitals, yuan

# GB/T 2260 province codes (first two digits of a seller's 4-digit code), and the cities with
# their own tax bureau, whose invoices carry the city's name.
PROVINCES = {
    "11": "北京", "12": "天津", "13": "河北", "14": "山西", "15": "内蒙古", "21": "辽宁", "22": "吉林",
    "23": "黑龙江", "31": "上海", "32": "江苏", "33": "浙江", "34": "安徽", "35": "福建", "36": "江西",
    "37": "山东", "41": "河南", "42": "湖北", "43": "湖南", "44": "广东", "45": "广西", "46": "海南",
    "50": "重庆", "51": "四川", "52": "贵州", "53": "云南", "54": "西藏", "61": "陕西", "62": "甘肃",
    "63": "青海", "64": "宁夏", "65": "新疆",
}  # fmt: skip
SEPARATE_CITIES = {"2102": "大连", "3302": "宁波", "3502": "厦门", "3702": "青岛", "4403": "深圳"}
# The printed words of the legal form are fixed Chinese, never translated (templates render under
# translation.override("zh-hans") for the same reason).
TITLE_SUFFIX = "增值税电子普通发票"
TOLL_MARK = "通行费"
NO_TAX = "***"  # what the tax column of a 不征税 line prints
FISCAL_TITLE = "通行费财政电子票据"
FISCAL_HEADER = "全国统一财政电子票据"
DIGITAL_TITLE = "电子发票（普通发票）"
# A fiscal e-bill is no tax invoice: its 项目名称 is the non-tax revenue item, not the tax
# classification the stored line carries for invoices (*经营租赁*通行费).
FISCAL_ITEM = "车辆通行费"
TOLL_ITEM = "*经营租赁*通行费"
# The mark a red-letter document prints: 销项负数 on invoices (VAT and 数电), 冲红 on fiscal e-bills.
RED_MARKS = {DocumentKind.FISCAL_E_BILL: "冲红票据"}
RED_MARK = "销项负数"
# One template per kind; each prints at the statutory size of the VAT e-invoice, 240 × 140 mm
# (docs/regimes.md, Documents per kind: no public reference the project holds gives another
# size for fiscal e-bills or 数电 invoices).
TEMPLATES = {
    DocumentKind.VAT_E_INVOICE: "invoices/documents/invoice.html",
    DocumentKind.FISCAL_E_BILL: "invoices/documents/fiscal_e_bill.html",
    DocumentKind.DIGITAL_E_INVOICE: "invoices/documents/digital_e_invoice.html",
}
# What a person calls each kind in a list (the summary sheet, the mail): short and unambiguous.
FULL_LABELS = {
    DocumentKind.VAT_E_INVOICE: "增值税电子普通发票（通行费）",
    DocumentKind.FISCAL_E_BILL: FISCAL_TITLE,
    DocumentKind.DIGITAL_E_INVOICE: DIGITAL_TITLE,
}
SHORT_LABELS = {
    DocumentKind.VAT_E_INVOICE: "增值税电子普通发票",
    DocumentKind.FISCAL_E_BILL: "财政电子票据",
    DocumentKind.DIGITAL_E_INVOICE: "数电发票",
}


# the order kinds are counted in, wherever a count per kind is printed
KIND_ORDER = [DocumentKind.VAT_E_INVOICE, DocumentKind.DIGITAL_E_INVOICE, DocumentKind.FISCAL_E_BILL]


def template_name(document_kind: str) -> str:
    return TEMPLATES.get(document_kind, TEMPLATES[DocumentKind.VAT_E_INVOICE])


def region_name(code4: str) -> str:
    return SEPARATE_CITIES.get(code4) or PROVINCES.get(code4[:2], "")


@dataclass
class PrintedLine:
    item: str
    plate: str
    vehicle_class: str
    date_from: str  # YYYYMMDD
    date_to: str
    net: str
    rate: str  # 3% or 不征税
    tax: str  # *** when 不征税
    net_fen: int
    tax_fen: int
    rate_percent: int | None


@dataclass
class PrintedInvoice:
    title: str
    toll_mark: str  # 通行费 on taxable invoices, empty otherwise
    kind: str
    kind_label: str
    red: bool
    code: str
    number: str
    issued_on: str  # 2026年09月05日
    issued_on_iso: str
    check_code: str
    check_code_groups: str
    machine_no: str
    buyer_name: str
    buyer_tax_id: str
    buyer_address_phone: str
    buyer_bank_account: str
    seller_name: str
    seller_tax_id: str
    seller_address_phone: str
    seller_bank_account: str
    lines: list[PrintedLine]
    total_net: str
    total_tax: str
    total: str
    total_capitals: str
    total_net_fen: int
    total_tax_fen: int
    total_fen: int
    remarks: str
    payee: str
    reviewer: str
    drawer: str
    original_code: str
    original_number: str
    qr_text: str
    demo: bool
    qr_svg: str = ""
    filler_mm: float = 0
    # A recharge invoice (a stored-value card's): its lines' dates are recharge dates, printed
    # under 充值日期 instead of 通行日期起/止.
    recharge: bool = False
    # More lines than the form holds: the form prints one line （详见销货清单） with the totals, and
    # the lines follow on these list pages (销货清单), each naming the invoice's code and number.
    list_pages: list[ListPage] = field(default_factory=list)
    list_rate: str = ""  # the rate on the form's one line: the lines' rate when they share one
    # The kind of document (invoices.regimes.DocumentKind) and what it decides: the template, the
    # labels of its fields, the red mark. Defaults: a VAT e-invoice, as before kinds existed.
    document_kind: str = DocumentKind.VAT_E_INVOICE
    document_label: str = "增值税电子普通发票（通行费）"
    red_mark: str = RED_MARK
    header: str = ""  # the line above a fiscal e-bill's title (全国统一财政电子票据)
    reference: str = ""  # code and number, or the number alone (数电)
    red_confirmation_no: str = ""  # a red 数电 invoice's 红字发票信息确认单编号


@dataclass
class ListPage:
    """One page of an invoice's 销货清单: its lines (with their 序号), its subtotals, and on the
    last page the invoice's totals."""

    number: int  # 第 N 页
    count: int  # 共 M 页
    rows: list[tuple[int, PrintedLine]]
    subtotal_net: str
    subtotal_tax: str
    last: bool


LINE_AREA_ROWS = 5  # blank height under few lines, as the printed form keeps its line area
LINE_HEIGHT_MM = 4.6
# The lines the 240 × 140 mm form holds (as the paper VAT invoice: 8). More, and they continue
# on list pages of the same size, LIST_ROWS a page.
FORM_LINES = 8
LIST_ROWS = 15


def list_pages(lines: list[PrintedLine], *, taxable: bool) -> list[ListPage]:
    """The 销货清单 of an invoice with more than ``FORM_LINES`` lines, else no pages."""
    if len(lines) <= FORM_LINES:
        return []
    chunks = [lines[i : i + LIST_ROWS] for i in range(0, len(lines), LIST_ROWS)]
    pages = []
    for index, chunk in enumerate(chunks):
        first_seq = index * LIST_ROWS + 1
        pages.append(
            ListPage(
                number=index + 1,
                count=len(chunks),
                rows=list(enumerate(chunk, start=first_seq)),
                subtotal_net=yuan(sum(line.net_fen for line in chunk)),
                subtotal_tax=yuan(sum(line.tax_fen for line in chunk)) if taxable else NO_TAX,
                last=index == len(chunks) - 1,
            )
        )
    return pages


def printed_invoice(inv: Invoice, *, with_qr: bool = True) -> PrintedInvoice:
    """Every printed field of ``inv`` (lines and ``original`` loaded by the caller)."""
    taxable = inv.kind == Invoice.Kind.TAXABLE
    document_kind = inv.document_kind or DocumentKind.VAT_E_INVOICE
    fiscal = document_kind == DocumentKind.FISCAL_E_BILL
    digital = document_kind == DocumentKind.DIGITAL_E_INVOICE
    lines = []
    recharge = False
    for line in inv.lines.all():
        recharge = recharge or line.recharge_id is not None
        lines.append(
            PrintedLine(
                item=FISCAL_ITEM if fiscal and line.item == TOLL_ITEM else line.item,
                plate=line.plate,
                vehicle_class=line.vehicle_class,
                date_from=line.date_from.strftime("%Y%m%d"),
                date_to=line.date_to.strftime("%Y%m%d"),
                net=yuan(line.net),
                rate=rate_label(line.rate),
                tax=yuan(line.tax) if line.rate is not None else NO_TAX,
                net_fen=line.net,
                tax_fen=line.tax,
                rate_percent=line.rate,
            )
        )
    qr_text = qr.payload_for(
        document_kind,
        code=inv.code,
        number=inv.number,
        total_net=inv.total_net,
        total=inv.total,
        issued_on=inv.issued_on,
        check_code=inv.check_code,
    )
    original = inv.original if inv.original_id else None
    if fiscal:
        title, toll_mark = FISCAL_TITLE, ""
    elif digital:
        # the special-business mark 通行费 (特定业务): on toll invoices, not on a recharge's
        title, toll_mark = DIGITAL_TITLE, "" if recharge else TOLL_MARK
    else:
        title, toll_mark = f"{region_name(inv.code[1:5])}{TITLE_SUFFIX}", TOLL_MARK if taxable else ""
    confirmation_no = ""
    if digital and inv.red:
        confirmation_no = (
            RedLetterConfirmation.objects.filter(red_invoice_id=inv.pk).values_list("number", flat=True).first() or ""
        )
    printed = PrintedInvoice(
        title=title,
        toll_mark=toll_mark,
        kind=inv.kind,
        kind_label="征税" if taxable else "不征税",
        red=inv.red,
        code=inv.code,
        number=inv.number,
        issued_on=inv.issued_on.strftime("%Y年%m月%d日"),
        issued_on_iso=inv.issued_on.isoformat(),
        check_code=inv.check_code,
        check_code_groups=numbering.check_code_groups(inv.check_code) if not (fiscal or digital) else inv.check_code,
        machine_no=inv.machine_no,
        buyer_name=inv.buyer_name,
        buyer_tax_id=inv.buyer_tax_id,
        buyer_address_phone=inv.buyer_address_phone,
        buyer_bank_account=inv.buyer_bank_account,
        seller_name=inv.seller_name,
        seller_tax_id=inv.seller_tax_id,
        seller_address_phone=inv.seller_address_phone,
        seller_bank_account=inv.seller_bank_account,
        lines=lines,
        total_net=yuan(inv.total_net),
        total_tax=yuan(inv.total_tax) if taxable else NO_TAX,
        total=yuan(inv.total),
        total_capitals=capitals(inv.total),
        total_net_fen=inv.total_net,
        total_tax_fen=inv.total_tax,
        total_fen=inv.total,
        remarks=inv.remarks,
        payee=inv.payee,
        reviewer=inv.reviewer,
        drawer=inv.drawer,
        original_code=original.code if original else "",
        original_number=original.number if original else "",
        qr_text=qr_text,
        demo=settings.DEMO_MODE,
        recharge=recharge,
        document_kind=document_kind,
        document_label=FULL_LABELS.get(document_kind, ""),
        red_mark=RED_MARKS.get(document_kind, RED_MARK),
        header=FISCAL_HEADER if fiscal else "",
        reference=inv.reference,
        red_confirmation_no=confirmation_no,
    )
    printed.list_pages = list_pages(lines, taxable=taxable)
    if printed.list_pages:
        rates = {line.rate for line in lines}
        printed.list_rate = rates.pop() if len(rates) == 1 else ""
    form_rows = 1 if printed.list_pages else len(lines)
    printed.filler_mm = round(max(0, LINE_AREA_ROWS - form_rows) * LINE_HEIGHT_MM, 1)
    if with_qr:
        printed.qr_svg = qr.svg(qr_text)
    return printed


# --- the summary sheet (电子汇总单) ----------------------------------------------------------


@dataclass
class SummaryInvoiceRef:
    code: str
    number: str
    seller_name: str
    kind_label: str
    red: bool
    amount: str  # this item's share on that invoice (tax included)
    document_kind: str = DocumentKind.VAT_E_INVOICE
    document_label: str = ""  # 增值税电子普通发票 / 财政电子票据 / 数电发票
    reference: str = ""  # code and number, or the number alone


@dataclass
class SummaryItem:
    seq: int
    ref: str  # transit id or recharge id
    label: str  # 郑州站 → 安阳站, or 充值
    when_from: str
    when_to: str
    fee: str
    invoices: list[SummaryInvoiceRef] = field(default_factory=list)


@dataclass
class PrintedSummary:
    title: str
    summary_no: str
    kind_label: str
    mode_label: str
    month: str
    plate: str
    card_no: str
    buyer_name: str
    buyer_tax_id: str
    issued_on: str
    items: list[SummaryItem]
    invoices: list[Invoice]
    invoice_rows: list[dict]
    invoice_count: int
    total: str
    total_capitals: str
    demo: bool
    # how many documents of each kind the sheet binds: [(short label, count)], in a fixed order
    kind_counts: list[tuple[str, int]] = field(default_factory=list)
    has_fiscal: bool = False
    only_vat: bool = True  # every document a VAT e-invoice: the sheet words them 发票, as always


def _local(dt) -> str:
    return timezone.localtime(dt).strftime("%Y-%m-%d %H:%M")


def printed_summary(app: Application, invoices: list[Invoice]) -> PrintedSummary:
    """The summary sheet of an issued application: every trip (or recharge), the invoices each
    produced, and the totals. ``invoices`` come from ``selectors.application_invoices``."""
    items: OrderedDict[str, SummaryItem] = OrderedDict()
    for inv in invoices:
        for line in inv.lines.all():
            if line.transit_id:
                t = line.transit
                key = f"t{t.pk}"
                item = items.get(key) or SummaryItem(
                    seq=0,
                    ref=t.transit_id,
                    label=f"{t.entry_station} → {t.exit_station}",
                    when_from=_local(t.entry_time),
                    when_to=_local(t.exit_time),
                    fee=yuan(t.fee),
                )
            elif line.recharge_id:
                r = line.recharge
                key = f"r{r.pk}"
                item = items.get(key) or SummaryItem(
                    seq=0,
                    ref=r.recharge_id,
                    label="ETC卡充值",
                    when_from=_local(r.recharged_at),
                    when_to="",
                    fee=yuan(r.amount),
                )
            else:
                key = f"i{inv.pk}"
                item = items.get(key) or SummaryItem(seq=0, ref="", label=line.item, when_from="", when_to="", fee="")
            items[key] = item
            item.invoices.append(
                SummaryInvoiceRef(
                    code=inv.code,
                    number=inv.number,
                    seller_name=inv.seller_name,
                    kind_label="不征税" if inv.kind == Invoice.Kind.NON_TAXABLE else "征税",
                    red=inv.red,
                    amount=yuan(line.net + line.tax),
                    document_kind=inv.document_kind,
                    document_label=SHORT_LABELS.get(inv.document_kind, ""),
                    reference=inv.reference,
                )
            )
    ordered = sorted(items.values(), key=lambda i: (i.when_from, i.ref))
    for seq, item in enumerate(ordered, start=1):
        item.seq = seq
    total = sum(i.total for i in invoices)
    issued = (
        timezone.localtime(app.issued_at).date()
        if app.issued_at
        else (invoices[0].issued_on if invoices else timezone.localdate())
    )
    counts = {kind: sum(1 for i in invoices if i.document_kind == kind) for kind in KIND_ORDER}
    only_vat = counts[DocumentKind.FISCAL_E_BILL] == counts[DocumentKind.DIGITAL_E_INVOICE] == 0
    return PrintedSummary(
        # 电子汇总单: of invoices while they were all it bound; of 票据 once fiscal e-bills and
        # 数电 invoices stand side by side on it
        title="通行费电子发票汇总单" if only_vat else "通行费电子票据汇总单",
        summary_no=app.summary_no or "",
        kind_label=app.get_kind_display(),
        mode_label=app.get_mode_display() if app.mode else "",
        month=app.month,
        plate=app.card.plate,
        card_no=app.card.card_no,
        buyer_name=invoices[0].buyer_name if invoices else app.title.name,
        buyer_tax_id=invoices[0].buyer_tax_id if invoices else app.title.tax_id,
        issued_on=issued.strftime("%Y年%m月%d日"),
        items=ordered,
        invoices=invoices,
        invoice_rows=[
            {
                "code": i.code,
                "number": i.number,
                "document_kind": i.document_kind,
                "document_label": SHORT_LABELS.get(i.document_kind, ""),
                "seller_name": i.seller_name,
                "red": i.red,
                "kind_label": "不征税" if i.kind == Invoice.Kind.NON_TAXABLE else "征税",
                "total_net": yuan(i.total_net),
                "total_tax": "—" if i.document_kind == DocumentKind.FISCAL_E_BILL else yuan(i.total_tax),
                "total": yuan(i.total),
            }
            for i in invoices
        ],
        invoice_count=len(invoices),
        total=yuan(total),
        total_capitals=capitals(total),
        demo=settings.DEMO_MODE,
        kind_counts=[(SHORT_LABELS[kind], n) for kind, n in counts.items() if n],
        has_fiscal=counts[DocumentKind.FISCAL_E_BILL] > 0,
        only_vat=only_vat,
    )
