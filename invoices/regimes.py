"""The rules of toll documents by effective date (domain.md, Regimes).

A regime says, for the shares of trips and recharges that took place while it was in force:
which kind of document each share gets, from which natural day after travel trips appear,
whether a recharge application gets a summary sheet, and whether binding asks for the holder's
name. Issuing asks :func:`regime_on` for each share by the day the toll was paid (the trip's
travel date, the day of the recharge), as tax follows the travel date; a document keeps the kind
it was issued with forever, whatever the table says later.

The table is data: three regimes whose start dates come from settings. The dates of the switch
to fiscal e-bills (2020 four-department notice) and of the switch to 数电 invoices for tolls are
not confirmed by any source the project holds; the defaults below are documented in docs/configuration.md and
docs/regimes.md and are configuration (``TOLL_REGIME_2020_FROM``, ``TOLL_REGIME_DIGITAL_FROM``).

=================  ==============  ========================  =======================  =====
regime             in force from   loan-repayment share      taxable share, recharge  trips
=================  ==============  ========================  =======================  =====
2018               always before   VAT e-invoice 不征税      VAT e-invoice            10th
2020               2020-01-01      fiscal e-bill             VAT e-invoice            7th
digital            2025-01-01      fiscal e-bill             数电 invoice             7th
=================  ==============  ========================  =======================  =====
"""

from __future__ import annotations

import bisect
import functools
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.core.checks import Error, register
from django.db import models
from django.utils.translation import gettext_lazy as _


class DocumentKind(models.TextChoices):
    """The kind of document a share gets; stored on each invoice forever."""

    VAT_E_INVOICE = "vat_e_invoice", _("增值税电子普通发票（通行费）")
    FISCAL_E_BILL = "fiscal_e_bill", _("通行费财政电子票据")
    DIGITAL_E_INVOICE = "digital_e_invoice", _("电子发票（普通发票）")


@dataclass(frozen=True)
class Regime:
    name: str
    label: object  # lazily translated
    starts: date
    loan_share: str  # document kind of the 政府还贷 (不征税) share of a trip
    taxable_share: str  # document kind of an operating (征税) share
    recharge: str  # document kind of a stored-value card's recharge invoice (不征税, by the issuer)
    available_after_days: int  # trips appear from this natural day after travel
    recharge_summary: bool  # a recharge application gets a summary sheet (电子汇总单)
    asks_holder_name: bool  # binding asks for the holder's name (开户人名称)

    def document_kind(self, *, taxable: bool) -> str:
        return self.taxable_share if taxable else self.loan_share


def _date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


@functools.cache
def _table(fiscal_from: str, digital_from: str, days_2018: int, days_2020: int) -> tuple[Regime, ...]:
    fiscal, digital = _date(fiscal_from), _date(digital_from)
    return (
        Regime(
            "2018",
            _("2018 年规则（增值税电子普通发票）"),
            date.min,
            DocumentKind.VAT_E_INVOICE,
            DocumentKind.VAT_E_INVOICE,
            DocumentKind.VAT_E_INVOICE,
            days_2018,
            recharge_summary=True,
            asks_holder_name=False,
        ),
        Regime(
            "2020",
            _("2020 年规则（政府还贷部分开具财政电子票据）"),
            fiscal,
            DocumentKind.FISCAL_E_BILL,
            DocumentKind.VAT_E_INVOICE,
            DocumentKind.VAT_E_INVOICE,
            days_2020,
            recharge_summary=False,
            asks_holder_name=True,
        ),
        Regime(
            "digital",
            _("数电发票规则（征税部分开具数电发票）"),
            digital,
            DocumentKind.FISCAL_E_BILL,
            DocumentKind.DIGITAL_E_INVOICE,
            DocumentKind.DIGITAL_E_INVOICE,
            days_2020,
            recharge_summary=False,
            asks_holder_name=True,
        ),
    )


def regimes() -> tuple[Regime, ...]:
    """The table, oldest first, with the start dates of the settings in force."""
    return _table(
        str(settings.TOLL_REGIME_2020_FROM),
        str(settings.TOLL_REGIME_DIGITAL_FROM),
        settings.TRANSIT_AVAILABLE_AFTER_DAYS,
        settings.TRANSIT_AVAILABLE_AFTER_DAYS_2020,
    )


def regime_on(day: date) -> Regime:
    """The regime in force on ``day``: the last one that started on or before it."""
    table = regimes()
    starts = [r.starts for r in table]
    return table[bisect.bisect_right(starts, day) - 1]


def document_kind(*, day: date, taxable: bool) -> str:
    """The kind of document a trip share paid on ``day`` gets."""
    return regime_on(day).document_kind(taxable=taxable)


def recharge_document_kind(day: date) -> str:
    return regime_on(day).recharge


@register()
def check_regime_dates(app_configs, **kwargs):
    errors = []
    try:
        fiscal, digital = _date(settings.TOLL_REGIME_2020_FROM), _date(settings.TOLL_REGIME_DIGITAL_FROM)
    except ValueError as exc:
        return [Error(f"TOLL_REGIME_*_FROM must be dates (YYYY-MM-DD): {exc}", id="invoices.E001")]
    if digital < fiscal:
        errors.append(
            Error(
                "TOLL_REGIME_DIGITAL_FROM is earlier than TOLL_REGIME_2020_FROM; the regimes follow each other.",
                id="invoices.E002",
            )
        )
    return errors
