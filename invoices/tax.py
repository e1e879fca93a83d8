"""Tax rules of toll invoices: the rate of a road section on a travel date, and the split of
a tax-inclusive amount into net and tax. Pure functions on integers (fen) — no I/O.

Rate by section and travel date (domain.md):
- 政府还贷 loan-repayment: 不征税 (``None``).
- operating, construction started on or before 2016-04-30, simplified method: 3% for an
  expressway, 5% for a class-1/class-2 road or a bridge/tunnel.
- otherwise (started later, or opted out of the simplified method) the general rate of the
  travel date: 11% before 2018-05-01, 10% from 2018-05-01, 9% from 2019-04-01.

Split of a tax-inclusive amount T at rate r: net = round_half_up(T / (1 + r)) to the fen,
tax = T − net. Never round(net × r): 97.33 at 3% is 94.50 + 2.83, not 2.84.
"""

from __future__ import annotations

import functools
from datetime import date
from decimal import Decimal

SIMPLIFIED_CUTOFF = date(2016, 4, 30)  # construction started on or before: the old-project rules
GENERAL_RATES = (  # (from travel date, percent), newest first
    (date(2019, 4, 1), 9),
    (date(2018, 5, 1), 10),
    (date.min, 11),
)

EXPRESSWAY = "expressway"
OPERATING = "operating"
LOAN_REPAYMENT = "loan_repayment"


def rate_percent(
    *, grade: str, property: str, construction_start: date, simplified_method: bool, travel_date: date
) -> int | None:
    """The rate in percent, or ``None`` for 不征税."""
    if property == LOAN_REPAYMENT:
        return None
    if construction_start <= SIMPLIFIED_CUTOFF and simplified_method:
        return 3 if grade == EXPRESSWAY else 5
    for start, percent in GENERAL_RATES:
        if travel_date >= start:
            return percent
    raise AssertionError("unreachable: date.min covers every travel date")


def rate_for_section(section, travel_date: date) -> int | None:
    return rate_percent(
        grade=section.grade,
        property=section.property,
        construction_start=section.construction_start,
        simplified_method=section.simplified_method,
        travel_date=travel_date,
    )


def split(total: int, percent: int | None) -> tuple[int, int]:
    """(net, tax) of a tax-inclusive ``total`` in fen. Negative totals (red-letter invoices)
    split as the mirror image of their positive, so a reversal cancels its original exactly."""
    if percent is None:
        return total, 0
    if total < 0:
        net, tax = split(-total, percent)
        return -net, -tax
    numerator = total * 100
    denominator = 100 + percent
    net = (2 * numerator + denominator) // (2 * denominator)  # round half up, in integers
    return net, total - net


@functools.cache
def rate_text(percent: int | None) -> str | None:
    """A rate as the API writes it: "0.09", or None for 不征税 (cached: lists write it per line)."""
    return None if percent is None else str(rate_decimal(percent))


def rate_decimal(percent: int | None) -> Decimal | None:
    """The API's form of a rate: Decimal('0.09'), or None for 不征税."""
    return None if percent is None else (Decimal(percent) / 100).quantize(Decimal("0.01"))


def rate_label(percent: int | None) -> str:
    """How the rate column prints: 9% or 不征税."""
    return "不征税" if percent is None else f"{percent}%"


# Whether a document's tax is deductible input VAT (domain.md, the FAQ): only a taxable (征税)
# VAT or 数电 invoice whose title is an enterprise's, i.e. carries a taxpayer id (USCC). A fiscal
# e-bill (the loan-repayment share under the 2020 rules and later) is no VAT invoice and never is;
# a 不征税 invoice never is, and neither is a personal title (a name only). A red-letter document
# copies kind, document kind and buyer from its original, so it takes back exactly what its
# original counted.
DEDUCTIBLE = "deductible"
NOT_DEDUCTIBLE_FISCAL = "fiscal_e_bill"
NOT_DEDUCTIBLE_NON_TAXABLE = "non_taxable"
NOT_DEDUCTIBLE_PERSONAL_TITLE = "personal_title"

FISCAL_E_BILL = "fiscal_e_bill"  # regimes.DocumentKind.FISCAL_E_BILL (this module stays free of models)


def deductibility(*, taxable: bool, buyer_tax_id: str, document_kind: str = "") -> str:
    """``DEDUCTIBLE``, or why not: ``NOT_DEDUCTIBLE_FISCAL`` (a fiscal e-bill, whatever else),
    ``NOT_DEDUCTIBLE_NON_TAXABLE`` or ``NOT_DEDUCTIBLE_PERSONAL_TITLE``. ``document_kind`` is the
    document's ``Invoice.document_kind``; empty reads as a VAT e-invoice."""
    if document_kind == FISCAL_E_BILL:
        return NOT_DEDUCTIBLE_FISCAL
    if not taxable:
        return NOT_DEDUCTIBLE_NON_TAXABLE
    if not (buyer_tax_id or "").strip():
        return NOT_DEDUCTIBLE_PERSONAL_TITLE
    return DEDUCTIBLE
