"""The indexes and constraints of the tables that grow by millions a day, as the migrations leave
them: what issuing and the ingest pay for on every row is exactly what the queries use."""

import pytest
from django.db import connection

from invoices.models import Invoice, InvoiceKey, InvoiceLine, Transit, TransitKey, TransitSegment


def constraints(model) -> dict:
    with connection.cursor() as cursor:
        return connection.introspection.get_constraints(cursor, model._meta.db_table)


@pytest.mark.django_db
def test_the_indexes_the_queries_use_are_there():
    invoice = constraints(Invoice)
    assert invoice["invoice_user_recent"]["columns"] == ["user_id", "issued_at", "id"]
    assert invoice["invoice_user_card_month"]["columns"] == ["user_id", "card_id", "month"]
    assert invoice["invoice_buyer_feed"]["columns"] == ["buyer_tax_id", "issued_at", "id"]
    assert "invoice_render_pending" in invoice
    # An invoice's code and number are unique through its key table, across all months; the
    # (partitioned) invoices keep a plain index for lookups once the key has named the month.
    assert any(c["unique"] and c["columns"] == ["code", "number"] for c in constraints(InvoiceKey).values())
    assert invoice["invoice_code_number"]["columns"] == ["code", "number"]
    assert not invoice["invoice_code_number"]["unique"]
    assert "invoice_line_recharge" in constraints(InvoiceLine)
    transit = constraints(Transit)
    # The national trip id is unique through its key table, not an index of the (partitioned) trips.
    assert not any(c["columns"] == ["transit_id"] for c in transit.values())
    assert any(c["primary_key"] and c["columns"] == ["transit_id"] for c in constraints(TransitKey).values())
    assert transit["transit_card_month"]["columns"] == ["card_id", "month", "exit_time"]
    # On PostgreSQL every unique key of a partitioned table carries the month.
    month = ["month"] if connection.vendor == "postgresql" else []
    assert any(c["primary_key"] and c["columns"] == ["id", *month] for c in transit.values())
    segment = constraints(TransitSegment)
    assert any(c["unique"] and c["columns"] == ["transit_id", "seq", *month] for c in segment.values())
    assert any(c["primary_key"] and c["columns"] == ["id", *month] for c in invoice.values())
    line = constraints(InvoiceLine)
    assert any(c["unique"] and c["columns"] == ["invoice_id", "seq", *month] for c in line.values())


@pytest.mark.django_db
def test_no_index_repeats_the_start_of_another_on_the_big_tables():
    for model, columns in (
        (Invoice, ["user_id"]),
        (Invoice, ["month"]),
        (Invoice, ["buyer_tax_id"]),
        (InvoiceLine, ["invoice_id"]),
        (TransitSegment, ["transit_id"]),
        (TransitSegment, ["section_id"]),
        (TransitSegment, ["operator_id"]),
        (Transit, ["card_id"]),
        (Transit, ["pushed_by_id"]),
    ):
        found = [n for n, c in constraints(model).items() if c["index"] and not c["unique"] and c["columns"] == columns]
        assert not found, (model.__name__, columns, found)


@pytest.mark.django_db
def test_segments_carry_no_foreign_keys_and_everything_else_keeps_its_own():
    segment = {tuple(c["columns"]): c for c in constraints(TransitSegment).values() if c["foreign_key"]}
    assert segment == {}
    transit = [c["foreign_key"] for c in constraints(Transit).values() if c["foreign_key"]]
    assert transit == [("cards_card", "id")]
    invoice = sorted(c["foreign_key"][0] for c in constraints(Invoice).values() if c["foreign_key"])
    # References into trips and invoices carry no constraint (the red-letter link among them): a
    # partitioned table is referenced only by a key with its month in it.
    assert invoice == sorted(["invoices_application", "accounts_user", "cards_card", "invoices_operator"])
    line = sorted(c["foreign_key"][0] for c in constraints(InvoiceLine).values() if c["foreign_key"])
    assert line == ["invoices_recharge"]
