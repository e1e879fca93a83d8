"""The finance department's ledger (发票台账): a user's documents by card, month or application,
with code, number, date, seller, buyer, net, rate and tax, and the deductible input tax —
the tax of taxable (征税) VAT and 数电 invoices with an enterprise title (a taxpayer id) only;
fiscal e-bills, 不征税 and personal-titled invoices count 0 and say why in 抵扣说明, and red-letter
documents take back what the ones they reverse counted (``tax.deductibility``). The last column
names the kind of each document (票据种类); it was added after the others, so that a sheet
reading the columns by position reads them as before.

Exports: CSV (UTF-8 with a byte-order mark, which is what Excel needs to read Chinese) and
XLSX (openpyxl, write-only). Amounts are yuan in the files; the totals come from integer fen.
Rows are read in chunks, so a fleet's year of invoices does not sit in memory at once.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import Sum
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from cards.identity import normalize_card_no
from piaogen.errors import ServiceError

from . import tax as tax_rules
from .models import Application, Invoice, InvoiceLine
from .regimes import DocumentKind
from .tax import rate_label

MONTH_RE = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
CHUNK = 2000
MAX_ROWS = 100_000

HEADER = [
    gettext_lazy("发票代码"), gettext_lazy("发票号码"), gettext_lazy("开票日期"), gettext_lazy("销售方名称"), gettext_lazy("销售方纳税人识别号"), gettext_lazy("购买方名称"),
    gettext_lazy("购买方纳税人识别号"), gettext_lazy("类型"), gettext_lazy("红字"), gettext_lazy("状态"), gettext_lazy("金额"), gettext_lazy("税率"), gettext_lazy("税额"), gettext_lazy("价税合计"),
    gettext_lazy("可抵扣税额"), gettext_lazy("车牌号"), gettext_lazy("所属月份"), gettext_lazy("抵扣说明"), gettext_lazy("票据种类"),
]  # fmt: skip
DEDUCTIBLE_COLUMN = 14
NOTE_COLUMN = 17
KIND_COLUMN = 18

# The 抵扣说明 column, by tax.deductibility's answer; a red-letter invoice says so first.
NOTES = {
    tax_rules.DEDUCTIBLE: gettext_lazy("征税发票，单位抬头：可抵扣"),
    tax_rules.NOT_DEDUCTIBLE_FISCAL: gettext_lazy("财政电子票据：不可抵扣"),
    tax_rules.NOT_DEDUCTIBLE_NON_TAXABLE: gettext_lazy("不征税发票：不可抵扣"),
    tax_rules.NOT_DEDUCTIBLE_PERSONAL_TITLE: gettext_lazy("个人抬头（无纳税人识别号）：不可抵扣"),
}
RED_NOTES = {
    tax_rules.DEDUCTIBLE: gettext_lazy("红字发票：冲减原发票的可抵扣税额"),
    tax_rules.NOT_DEDUCTIBLE_FISCAL: gettext_lazy("红字财政电子票据：不可抵扣"),
    tax_rules.NOT_DEDUCTIBLE_NON_TAXABLE: gettext_lazy("红字发票，原发票为不征税发票：不可抵扣"),
    tax_rules.NOT_DEDUCTIBLE_PERSONAL_TITLE: gettext_lazy("红字发票，原发票为个人抬头：不可抵扣"),
}


def header() -> list[str]:
    return [str(h) for h in HEADER]


@dataclass
class LedgerFilter:
    card_id: int | None = None
    card_no: str = ""
    month: str = ""
    application_id: int | None = None
    # A period of months (every card of the account): its ledger adds per-seller and per-rate
    # subtotals before the totals.
    month_from: str = ""
    month_to: str = ""

    @property
    def period(self) -> bool:
        return bool(self.month_from)

    def describe(self) -> str:
        if self.period:
            return f"{self.month_from}_{self.month_to}"
        parts = []
        if self.card_no:
            parts.append(self.card_no)
        if self.month:
            parts.append(self.month)
        if self.application_id:
            parts.append(f"app{self.application_id}")
        return "-".join(parts) or "all"


@dataclass
class LedgerRow:
    code: str
    number: str
    issued_on: date
    seller_name: str
    seller_tax_id: str
    buyer_name: str
    buyer_tax_id: str
    kind: str
    red: bool
    status: str
    net: int
    rate: str
    tax: int
    total: int
    deductible: int  # the tax when taxable with an enterprise title (negative when red), else 0
    plate: str
    month: str
    deductibility: str  # tax.DEDUCTIBLE or why not (tax.NOT_DEDUCTIBLE_*)
    document_kind: str = DocumentKind.VAT_E_INVOICE.value
    # (rate, net, tax) of its lines summed by rate: the invoice's totals split by rate
    shares: tuple[tuple[int | None, int, int], ...] = ()

    @property
    def document_kind_label(self) -> str:
        return str(DocumentKind(self.document_kind).label)

    @property
    def note(self) -> str:
        return str((RED_NOTES if self.red else NOTES)[self.deductibility])


@dataclass
class LedgerTotals:
    count: int = 0
    net: int = 0
    tax: int = 0
    total: int = 0
    deductible: int = 0
    by_kind: dict[str, LedgerTotals] = field(default_factory=dict)  # the same sums per kind of document
    # a period's ledger: the same sums per seller (name, taxpayer id), and per rate from the lines
    by_seller: dict[tuple[str, str], LedgerTotals] = field(default_factory=dict)
    by_rate: dict[int | None, LedgerTotals] = field(default_factory=dict)

    def add(self, row: LedgerRow, *, per_kind: bool = True) -> None:
        if per_kind:
            self.by_kind.setdefault(row.document_kind, LedgerTotals()).add(row, per_kind=False)
            self.by_seller.setdefault((row.seller_name, row.seller_tax_id), LedgerTotals()).add(row, per_kind=False)
            for rate, net, tax in row.shares:
                part = self.by_rate.setdefault(rate, LedgerTotals())
                part.count += 1  # documents with lines at this rate
                part.net += net
                part.tax += tax
                part.total += net + tax
                # the deductible tax follows the document's rule, line by line
                part.deductible += tax if row.deductibility == tax_rules.DEDUCTIBLE else 0
        self.count += 1
        self.net += row.net
        self.tax += row.tax
        self.total += row.total
        self.deductible += row.deductible


def ledger_filter(user: User, *, card_no: str = "", month: str = "", application_id=None) -> LedgerFilter:
    """Validates the filters against the user's own data: a card or application that is not
    theirs is a 404, a malformed month or id a 400."""
    f = LedgerFilter()
    month = (month or "").strip()
    if month:
        if not MONTH_RE.fullmatch(month):
            raise ServiceError("invalid", _("月份格式应为 YYYY-MM。"), errors={"month": [_("格式应为 YYYY-MM。")]})
        f.month = month
    card_no = (card_no or "").strip()
    if card_no:
        normalized = normalize_card_no(card_no[:32])
        card_id = Invoice.objects.filter(user=user, card__card_no=normalized).values_list("card_id", flat=True).first()
        if card_id is None:
            from cards.selectors import binding_for

            card_id = binding_for(user, normalized).card_id  # 404 unless it is the user's card
        f.card_id, f.card_no = card_id, normalized
    if application_id not in (None, ""):
        try:
            app_id = int(application_id)
        except (TypeError, ValueError):
            raise ServiceError(
                "invalid", _("application_id 须为整数。"), errors={"application_id": [_("格式无效。")]}
            ) from None
        if not 0 < app_id < 2**63 or not Application.objects.filter(pk=app_id, user=user).exists():
            raise Http404
        f.application_id = app_id
    return f


PERIOD_MAX_MONTHS = 24


def _month_index(month: str) -> int:
    return int(month[:4]) * 12 + int(month[5:7]) - 1


def period_months(month_from: str, month_to: str) -> list[str]:
    """Every month from ``month_from`` to ``month_to``, both included."""
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(_month_index(month_from), _month_index(month_to) + 1)]


def period_filter(user: User, *, month_from: str, month_to: str) -> LedgerFilter:
    """A period of months across every card of the account: both ends ``YYYY-MM``, the first
    not after the last, at most ``PERIOD_MAX_MONTHS`` months, at most ``MAX_ROWS`` documents
    (a longer ledger is refused, never cut short: its subtotals would not be the period's)."""
    month_from, month_to = (month_from or "").strip(), (month_to or "").strip()
    errors = {}
    for name, value in (("from", month_from), ("to", month_to)):
        if not MONTH_RE.fullmatch(value):
            errors[name] = [_("格式应为 YYYY-MM。")]
    if errors:
        raise ServiceError("invalid", _("请选择起止月份（YYYY-MM）。"), errors=errors)
    if month_from > month_to:
        raise ServiceError("invalid", _("起始月份不能晚于结束月份。"), errors={"from": [_("不能晚于结束月份。")]})
    if _month_index(month_to) - _month_index(month_from) >= PERIOD_MAX_MONTHS:
        raise ServiceError(
            "invalid",
            _("一次最多导出 %(n)s 个月的台账。") % {"n": PERIOD_MAX_MONTHS},
            errors={"to": [_("超过 %(n)s 个月。") % {"n": PERIOD_MAX_MONTHS}]},
        )
    f = LedgerFilter(month_from=month_from, month_to=month_to)
    if _queryset(user, f).count() > MAX_ROWS:
        raise ServiceError(
            "too_many_rows",
            _("这段时间的票据超过 %(n)s 张，请缩短起止月份后分段导出。") % {"n": MAX_ROWS},
            errors={"to": [_("票据过多。")]},
        )
    return f


def _queryset(user: User, f: LedgerFilter):
    qs = Invoice.objects.filter(user=user)
    if f.period:
        # the months named one by one (at most PERIOD_MAX_MONTHS): a range would also read the
        # default partition, which holds whatever is not a month's
        qs = qs.filter(month__in=period_months(f.month_from, f.month_to))
    if f.card_id is not None:
        qs = qs.filter(card_id=f.card_id)
    if f.month:
        qs = qs.filter(month=f.month)
    if f.application_id is not None:
        qs = qs.filter(application_id=f.application_id)
    return qs.order_by("issued_on", "code", "number")


def _row(inv: Invoice, shares: list[tuple[int | None, int, int]]) -> LedgerRow:
    rates = [r for r, _net, _tax in shares]
    deductibility = tax_rules.deductibility(
        taxable=inv.kind == Invoice.Kind.TAXABLE, buyer_tax_id=inv.buyer_tax_id, document_kind=inv.document_kind
    )
    labels = [rate_label(r) for r in sorted(set(rates), key=lambda r: -1 if r is None else r)]
    return LedgerRow(
        code=inv.code,
        number=inv.number,
        issued_on=inv.issued_on,
        seller_name=inv.seller_name,
        seller_tax_id=inv.seller_tax_id,
        buyer_name=inv.buyer_name,
        buyer_tax_id=inv.buyer_tax_id,
        kind=str(Invoice.Kind(inv.kind).label),
        red=inv.red,
        status=str(Invoice.Status(inv.status).label),
        net=inv.total_net,
        rate="、".join(labels) or rate_label(None),
        tax=inv.total_tax,
        total=inv.total,
        deductible=inv.total_tax if deductibility == tax_rules.DEDUCTIBLE else 0,
        plate=inv.plate,
        month=inv.month,
        deductibility=deductibility,
        document_kind=inv.document_kind,
        shares=tuple(shares),
    )


def rows(user: User, f: LedgerFilter) -> Iterator[LedgerRow]:
    """The ledger's rows, oldest first: one query for the invoices and one for their rates per
    chunk of 2000."""
    fields = (
        "id", "code", "number", "issued_on", "seller_name", "seller_tax_id", "buyer_name", "buyer_tax_id", "kind",
        "red", "status", "total_net", "total_tax", "total", "plate", "month", "document_kind",
    )  # fmt: skip
    chunk: list[Invoice] = []
    for inv in _queryset(user, f).only(*fields)[:MAX_ROWS].iterator(chunk_size=CHUNK):
        chunk.append(inv)
        if len(chunk) == CHUNK:
            yield from _with_rates(chunk)
            chunk = []
    if chunk:
        yield from _with_rates(chunk)


def _with_rates(chunk: list[Invoice]) -> Iterator[LedgerRow]:
    shares: dict[int, list[tuple[int | None, int, int]]] = {}
    for invoice_id, rate, net, tax in (
        # lines bill their invoice's month: only those months' partitions are read
        InvoiceLine.objects.filter(invoice_id__in=[i.pk for i in chunk], month__in={i.month for i in chunk})
        .values_list("invoice_id", "rate")
        .annotate(Sum("net"), Sum("tax"))
        .order_by()
    ):
        shares.setdefault(invoice_id, []).append((rate, net, tax))
    for inv in chunk:
        yield _row(inv, shares.get(inv.pk, []))


def collect(user: User, f: LedgerFilter) -> tuple[list[LedgerRow], LedgerTotals]:
    out, totals = [], LedgerTotals()
    for row in rows(user, f):
        out.append(row)
        totals.add(row)
    return out, totals


# --- files ---------------------------------------------------------------------------------------


def _yuan(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(Decimal("0.01"))


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_text(text: str) -> str:
    """Text a spreadsheet must never run as a formula (a buyer name can be anything)."""
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def _values(row: LedgerRow) -> list:
    return [
        row.code, row.number, row.issued_on.isoformat(), safe_text(row.seller_name), row.seller_tax_id,
        safe_text(row.buyer_name), row.buyer_tax_id, row.kind, _("是") if row.red else _("否"), row.status,
        _yuan(row.net), row.rate, _yuan(row.tax), _yuan(row.total), _yuan(row.deductible), row.plate, row.month,
        row.note, row.document_kind_label,
    ]  # fmt: skip


def _total_lines(totals: LedgerTotals, *, period: bool = False) -> list[list]:
    blank = [""] * len(HEADER)
    line = list(blank)
    line[0], line[1] = _("合计"), _("%(n)s 张") % {"n": totals.count}
    line[10], line[12], line[13], line[DEDUCTIBLE_COLUMN] = (
        _yuan(totals.net),
        _yuan(totals.tax),
        _yuan(totals.total),
        _yuan(totals.deductible),
    )
    deductible = list(blank)
    deductible[0] = _("可抵扣税额合计（单位抬头的征税发票，红字发票已冲减）")
    deductible[DEDUCTIBLE_COLUMN] = _yuan(totals.deductible)
    deductible[NOTE_COLUMN] = _("财政电子票据、不征税发票和个人抬头的发票不可抵扣")
    breakdown = [*_seller_lines(totals), *_rate_lines(totals)] if period else []
    return [*breakdown, *_kind_lines(totals), line, deductible]


def _amounts(line: list, part: LedgerTotals) -> None:
    line[10], line[12], line[13], line[DEDUCTIBLE_COLUMN] = (
        _yuan(part.net),
        _yuan(part.tax),
        _yuan(part.total),
        _yuan(part.deductible),
    )


def _seller_lines(totals: LedgerTotals) -> list[list]:
    """A subtotal per seller (销售方), by name and taxpayer id: they add up to the totals."""
    out = []
    for (name, tax_id), part in sorted(totals.by_seller.items()):
        line = [""] * len(HEADER)
        line[0], line[1] = _("小计（销售方）"), _("%(n)s 张") % {"n": part.count}
        line[3], line[4] = safe_text(name), tax_id
        _amounts(line, part)
        out.append(line)
    return out


def _rate_lines(totals: LedgerTotals) -> list[list]:
    """A subtotal per rate, from the invoice lines (a document may carry several rates): 金额,
    税额 and 价税合计 of the lines at that rate, and the deductible tax among them."""
    out = []
    for rate, part in sorted(totals.by_rate.items(), key=lambda kv: -1 if kv[0] is None else kv[0]):
        line = [""] * len(HEADER)
        line[0], line[1] = _("小计（税率）"), _("%(n)s 张") % {"n": part.count}
        line[11] = rate_label(rate)
        _amounts(line, part)
        out.append(line)
    return out


def _kind_lines(totals: LedgerTotals) -> list[list]:
    """A subtotal per kind of document, when the ledger holds more than one kind: in the
    table's order, before the totals (which they add up to, to the fen)."""
    if len(totals.by_kind) < 2:
        return []
    out = []
    for kind in DocumentKind.values:
        part = totals.by_kind.get(kind)
        if part is None:
            continue
        line = [""] * len(HEADER)
        line[0], line[1] = _("小计：%(kind)s") % {"kind": DocumentKind(kind).label}, _("%(n)s 张") % {"n": part.count}
        line[10], line[12], line[13], line[DEDUCTIBLE_COLUMN] = (
            _yuan(part.net),
            _yuan(part.tax),
            _yuan(part.total),
            _yuan(part.deductible),
        )
        line[KIND_COLUMN] = str(DocumentKind(kind).label)
        out.append(line)
    return out


def csv_stream(user: User, f: LedgerFilter) -> Iterator[bytes]:
    """The ledger as CSV, streamed: UTF-8 with BOM, a header, the rows, then the totals."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(header())
    totals = LedgerTotals()
    for n, row in enumerate(rows(user, f), start=1):
        totals.add(row)
        writer.writerow(_values(row))
        if n % 500 == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    for line in _total_lines(totals, period=f.period):
        writer.writerow(line)
    yield buffer.getvalue().encode("utf-8")


def xlsx_file(user: User, f: LedgerFilter):
    """The ledger as an XLSX workbook in a temporary file (rewound), for a FileResponse."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=_("发票台账"))
    widths = [14, 22, 12, 30, 22, 30, 22, 8, 6, 8, 12, 10, 12, 12, 12, 11, 10, 36, 26]  # one per HEADER column
    for i, width in enumerate(widths):
        sheet.column_dimensions[chr(ord("A") + i)].width = width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)

    def styled(values, *, font=None) -> list:
        out = []
        for value in values:
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, Decimal):
                cell.number_format = "0.00"
            if font is not None:
                cell.font = font
            out.append(cell)
        return out

    sheet.append(styled(header(), font=bold))
    totals = LedgerTotals()
    for row in rows(user, f):
        totals.add(row)
        sheet.append(styled(_values(row)))
    for line in _total_lines(totals, period=f.period):
        sheet.append(styled(line, font=bold))
    out = tempfile.TemporaryFile()
    workbook.save(out)
    out.seek(0)
    return out


def filename(f: LedgerFilter, ext: str) -> str:
    return f"ledger-{f.describe()}.{ext}"
