"""The Invoice and Application shapes of api.md have one builder each (invoices/shapes.py); the
OpenAPI schema describes them separately, so a test holds the two together: a field added to
one and not the other fails here."""

from __future__ import annotations

from datetime import UTC, date, datetime

from django.utils import timezone

from invoices import shapes
from invoices.api.invoicing import ApplicationSchema, InvoiceSchema, LineSchema


def invoice_head(**change) -> dict:
    head = {name: f"v-{name}" for name in shapes.INVOICE_HEAD}
    head |= {"issued_on": date(2026, 11, 3), "red": 0, "document_kind": "vat_e_invoice", "original_id": None}
    return head | change


def test_the_invoice_schema_lists_exactly_the_fields_the_builder_writes():
    line = shapes.line_shape("通行费", "豫A12345", "passenger", "20261101", "20261101", 100, 9, 9, "T-1", None)
    body = shapes.invoice_shape(invoice_head(), [line], original=None, red_confirmation=None)
    assert set(body) == set(InvoiceSchema().fields)
    assert set(line) == set(LineSchema().fields)


def test_the_application_schema_lists_the_builder_s_fields_and_the_detail_s_invoices():
    head = {name: None for name in shapes.APPLICATION_HEAD} | {"created_at": timezone.now()}
    body = shapes.application_shape(head)
    assert set(body) | {"invoices"} == set(ApplicationSchema().fields)


def test_the_builders_format_what_api_md_says():
    body = shapes.invoice_shape(
        invoice_head(red=1),
        [],
        original={"code": "c", "number": "n"},
        red_confirmation=None,
    )
    assert body["issued_on"] == "2026-11-03" and body["red"] is True
    assert body["document_kind_label"] == "增值税电子普通发票（通行费）"
    assert (
        shapes.invoice_shape(invoice_head(), [], original=None, red_confirmation=None, label="L")["document_kind_label"]
        == "L"
    )
    assert body["original"] == {"code": "c", "number": "n"}
    line = shapes.line_shape("x", "p", "passenger", "a", "b", 1, None, 0, None, "R-1")
    assert line["rate"] is None and line["recharge_id"] == "R-1"
    assert shapes.line_shape("x", "p", "passenger", "a", "b", 1, 13, 0, None, None)["rate"] == "0.13"
    memo: dict = {}
    assert shapes.day_text(date(2026, 1, 2), memo) == "20260102" and memo == {date(2026, 1, 2): "20260102"}
    issued = datetime(2026, 11, 2, 17, 30, tzinfo=UTC)
    app = shapes.application_shape(
        {name: "" for name in shapes.APPLICATION_HEAD}
        | {"created_at": issued, "issued_at": None, "card__card_no": "4101"}
    )
    assert app["card_no"] == "4101" and app["failure_reason"] is None and app["mode"] is None
    assert app["issued_at"] is None and app["created_at"] == "2026-11-03T01:30:00+08:00"
