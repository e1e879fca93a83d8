"""Where documents live: Django's default storage, under paths that name them.

- ``invoices/<yyyy>/<mm>/<name>.pdf`` and ``.xml`` (issue date's year and month), the name
  saying the document's kind and reference (``document_name``);
- ``summaries/<yyyy>/<mm>/<summary_no>.pdf`` (the summary number carries its year and month);
  an application without a summary sheet (a recharge from 2020 on) has no path.

A document is written by the render worker once and served from here ever after; a request
never renders. The invoice row's ``render_status`` says whether its files are complete: a file
without ``rendered`` on its row (a worker killed mid-write) is written again.
"""

from __future__ import annotations

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from ..models import Application, Invoice
from ..regimes import DocumentKind

# The name of a document's files, in storage and in every ZIP: ASCII (every unzip tool shows it
# right), the kind first where it is not a VAT e-invoice, then the reference. A VAT e-invoice
# keeps the name it always had, code and number.
NAME_PREFIXES = {
    DocumentKind.VAT_E_INVOICE: "",
    DocumentKind.FISCAL_E_BILL: "fiscal-e-bill-",
    DocumentKind.DIGITAL_E_INVOICE: "digital-e-invoice-",
}


def document_name(inv: Invoice, ext: str) -> str:
    """``041002600112-00000001.pdf`` (VAT e-invoice: code-number),
    ``fiscal-e-bill-41029926-0000000001.pdf`` (fiscal e-bill: code-number),
    ``digital-e-invoice-26411000000000000001.pdf`` (数电 invoice: the number alone)."""
    prefix = NAME_PREFIXES.get(inv.document_kind, "")
    reference = f"{inv.code}-{inv.number}" if inv.code else inv.number
    return f"{prefix}{reference}.{ext}"


def invoice_path(inv: Invoice, ext: str) -> str:
    return f"invoices/{inv.issued_on:%Y}/{inv.issued_on:%m}/{document_name(inv, ext)}"


def summary_path(app: Application) -> str:
    """Where the summary sheet is stored; "" when the application has none."""
    no = app.summary_no
    if not no:
        return ""
    return f"summaries/{no[2:6]}/{no[6:8]}/{no}.pdf"


def write(path: str, content: bytes) -> str:
    """Stores ``content`` at exactly ``path``, replacing an incomplete earlier write."""
    if default_storage.exists(path):
        default_storage.delete(path)
    saved = default_storage.save(path, ContentFile(content))
    if saved != path:  # a concurrent render wrote the same document a moment ago: keep that one
        default_storage.delete(saved)
    return path


def exists(path: str) -> bool:
    return bool(path) and default_storage.exists(path)


def open_file(path: str):
    return default_storage.open(path, "rb")


def size(path: str) -> int:
    return default_storage.size(path)
