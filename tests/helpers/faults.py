"""Faults injected into the product's own code paths."""

from __future__ import annotations

from django.db import DatabaseError


def fail_line_writes(monkeypatch):
    """Makes issuing's write of invoice lines fail, as a full disk would, after the invoices' own
    write succeeded; returns ``heal``, which lets the writes through again."""
    from invoices import services
    from invoices.models import InvoiceLine

    original = services.insert_rows

    def boom(model, *args, **kwargs):
        if model is InvoiceLine:
            raise DatabaseError("disk full")
        return original(model, *args, **kwargs)

    monkeypatch.setattr(services, "insert_rows", boom)
    return lambda: monkeypatch.setattr(services, "insert_rows", original)
