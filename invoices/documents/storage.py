"""Where documents live: Django's default storage, under paths that name them.

- ``invoices/<yyyy>/<mm>/<code>-<number>.pdf`` and ``.xml`` (issue date's year and month);
- ``summaries/<yyyy>/<mm>/<summary_no>.pdf`` (the summary number carries its year and month).

A document is written by the render worker once and served from here ever after; a request
never renders. The invoice row's ``render_status`` says whether its files are complete: a file
without ``rendered`` on its row (a worker killed mid-write) is written again.
"""

from __future__ import annotations

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from ..models import Application, Invoice


def invoice_path(inv: Invoice, ext: str) -> str:
    return f"invoices/{inv.issued_on:%Y}/{inv.issued_on:%m}/{inv.code}-{inv.number}.{ext}"


def summary_path(app: Application) -> str:
    no = app.summary_no or ""
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
