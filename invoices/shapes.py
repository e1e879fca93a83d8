"""The JSON shapes of api.md built in one place: the Invoice (with its lines) and the Application.

The App's lists and details, the enterprise feed and public verification all answer these
shapes, from different reads: model instances (a detail, the feed), rows of ``.values()`` (the
lists) and the rows of verification's prepared statement. Each caller turns what it read into
the names of ``INVOICE_HEAD`` / ``APPLICATION_HEAD`` and the builders here write the shape, so
a field is added, renamed or formatted once. The OpenAPI description of the same shapes is
``invoices.api.invoicing.InvoiceSchema`` / ``ApplicationSchema``; a test holds their field
lists to these builders' keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from django.utils import timezone

from .regimes import DocumentKind
from .tax import rate_text

# The invoice's own values a shape needs, named as the Invoice model's columns.
INVOICE_HEAD = (
    "id",
    "code",
    "number",
    "issued_on",
    "check_code",
    "kind",
    "red",
    "status",
    "month",
    "plate",
    "seller_name",
    "seller_tax_id",
    "buyer_name",
    "buyer_tax_id",
    "total_net",
    "total_tax",
    "total",
    "original_id",
    "document_kind",
)

# An application's values, named as the ORM reads them (``card__card_no`` through its card).
APPLICATION_HEAD = (
    "id",
    "kind",
    "status",
    "failure_reason",
    "summary_no",
    "card__card_no",
    "mode",
    "month",
    "invoice_count",
    "total",
    "created_at",
    "issued_at",
    "original_id",
)


def document_kind_label(kind: str) -> str:
    """The kind's name as printed on the document, in the active language."""
    return str(DocumentKind(kind).label)


def day_text(day: date, memo: dict | None = None) -> str:
    """A line's date as api.md writes it (``YYYYMMDD``); ``memo`` keeps the ones already written
    (a list's lines share a handful of days)."""
    if memo is None:
        return day.strftime("%Y%m%d")
    if (text := memo.get(day)) is None:
        text = memo[day] = day.strftime("%Y%m%d")
    return text


def line_shape(
    item: str,
    plate: str,
    vehicle_class: str,
    date_from: str,
    date_to: str,
    net: int,
    rate: int | None,
    tax: int,
    transit_id: str | None,
    recharge_id: str | None,
) -> dict[str, Any]:
    """A line of the Invoice shape; the dates already as ``day_text`` writes them, the rate in
    percent as stored (None: 不征税)."""
    return {
        "item": item,
        "plate": plate,
        "vehicle_class": vehicle_class,
        "date_from": date_from,
        "date_to": date_to,
        "net": net,
        "rate": rate_text(rate),
        "tax": tax,
        "transit_id": transit_id,
        "recharge_id": recharge_id,
    }


def invoice_shape(
    head: Mapping[str, Any],
    lines: list[dict[str, Any]],
    *,
    original: dict | None,
    red_confirmation: dict | None,
    label: str | None = None,
) -> dict[str, Any]:
    """The Invoice of api.md: ``head`` holds the names of ``INVOICE_HEAD``; ``lines`` are
    ``line_shape``'s (the list is used as it is, so a caller may fill it afterwards);
    ``original`` the ``{"code", "number"}`` of the invoice a red-letter one cancels;
    ``red_confirmation`` the ``{"number"}`` of a red 数电 invoice's 红字确认 record; ``label`` the
    document kind's printed name when the caller already has it."""
    kind = head["document_kind"]
    return {
        "id": head["id"],
        "code": head["code"],
        "number": head["number"],
        "issued_on": head["issued_on"].isoformat(),
        "check_code": head["check_code"],
        "kind": head["kind"],
        "red": bool(head["red"]),
        "status": head["status"],
        "month": head["month"],
        "plate": head["plate"],
        "seller": {"name": head["seller_name"], "tax_id": head["seller_tax_id"]},
        "buyer": {"name": head["buyer_name"], "tax_id": head["buyer_tax_id"]},
        "lines": lines,
        "total_net": head["total_net"],
        "total_tax": head["total_tax"],
        "total": head["total"],
        "original": original,
        "document_kind": kind,
        "document_kind_label": label if label is not None else document_kind_label(kind),
        "red_confirmation": red_confirmation,
    }


def application_shape(head: Mapping[str, Any]) -> dict[str, Any]:
    """The Application of api.md without its invoices: ``head`` holds the names of
    ``APPLICATION_HEAD``."""
    issued_at = head["issued_at"]
    return {
        "id": head["id"],
        "kind": head["kind"],
        "status": head["status"],
        "failure_reason": head["failure_reason"] or None,
        "summary_no": head["summary_no"],
        "card_no": head["card__card_no"],
        "mode": head["mode"] or None,
        "month": head["month"] or None,
        "invoice_count": head["invoice_count"],
        "total": head["total"],
        "created_at": timezone.localtime(head["created_at"]).isoformat(),
        "issued_at": timezone.localtime(issued_at).isoformat() if issued_at else None,
        "original_id": head["original_id"],
    }
