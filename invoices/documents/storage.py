"""Where documents live: the storage ``STORAGES["documents"]`` (files under MEDIA_ROOT by default,
S3-compatible object storage by configuration), under names that say what they are.

- ``invoices/<yyyy>/<mm>/<name>.pdf`` and ``.xml`` (issue date's year and month), the name
  saying the document's kind and reference (``document_name``);
- ``summaries/<yyyy>/<mm>/<summary_no>.pdf`` (the summary number carries its year and month);
  an application without a summary sheet (a recharge from 2020 on) has no path.

A document is written by the render worker once and served from here ever after; a request
never renders. The invoice row's ``render_status`` says whether its files are complete: a file
without ``rendered`` on its row (a worker killed mid-write) is written again. Everything goes
through Django's storage API: rows keep the storage's names (``pdf_path`` and ``xml_path`` are
names in this storage, not paths on a disk), and nothing here opens a file by itself.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages

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


def documents():
    """The documents' storage (looked up each time: tests and settings may swap it)."""
    return storages["documents"]


def write(path: str, content: bytes) -> str:
    """Stores ``content`` at exactly ``path``, replacing an incomplete earlier write."""
    store = documents()
    if store.exists(path):
        store.delete(path)
    saved = store.save(path, ContentFile(content))
    if saved != path:  # a concurrent render wrote the same document a moment ago: keep that one
        store.delete(saved)
    return path


def exists(path: str) -> bool:
    return bool(path) and documents().exists(path)


def open_file(path: str):
    return documents().open(path, "rb")


def size(path: str) -> int:
    return documents().size(path)


def download_url(path: str, *, filename: str, content_type: str) -> str | None:
    """A URL of the storage for this document, valid ``DOCUMENTS_REDIRECT_SECONDS``, that
    downloads it under ``filename``; None when redirects are off or the backend makes no such
    URLs (then the site streams the file itself).

    A backend makes them when its ``url()`` takes ``expire`` and ``parameters`` (django-storages'
    S3 backend: a presigned GET whose response headers name the file)."""
    seconds = settings.DOCUMENTS_REDIRECT_SECONDS
    if seconds <= 0:
        return None
    store = documents()
    try:
        url = store.url(
            path,
            parameters={
                "ResponseContentDisposition": f'attachment; filename="{filename}"',
                "ResponseContentType": content_type,
            },
            expire=seconds,
        )
    except TypeError:  # a url() without expiry or parameters: no short-lived URL to give
        return None
    return url if url.startswith(("https://", "http://")) else None


def download_response(path: str, *, filename: str, content_type: str):
    """The answer to a download of a stored document: a redirect to the storage's short-lived
    URL where there is one (``download_url``), else the file streamed from the storage."""
    from django.http import FileResponse, HttpResponseRedirect

    url = download_url(path, filename=filename, content_type=content_type)
    if url is not None:
        response = HttpResponseRedirect(url)
        response["Cache-Control"] = "private, no-store"  # the URL expires: never cache the redirect
        return response
    return FileResponse(open_file(path), as_attachment=True, filename=filename, content_type=content_type)
