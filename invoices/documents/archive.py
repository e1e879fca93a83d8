"""The ZIPs: an application's (every document's PDF and XML, of every kind, and the summary
sheet when it has one) and a card's month (every document of that card and month, PDF and XML,
and the summary sheets of the applications they came from), made from stored files only
(nothing is rendered here) and streamed in constant memory. Members are named by kind and
reference (``storage.document_name``)."""

from __future__ import annotations

import time
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ..models import Application, Invoice
from . import storage

CHUNK = 64 * 1024


@dataclass(frozen=True)
class Member:
    name: str  # the name inside the ZIP: ASCII, so every unzip tool shows it right
    path: str  # where it is stored


def invoice_members(invoices: Iterable[Invoice]) -> list[Member]:
    out = []
    for inv in invoices:
        out.append(Member(storage.document_name(inv, "pdf"), inv.pdf_path))
        out.append(Member(storage.document_name(inv, "xml"), inv.xml_path))
    return out


def summary_member(app: Application) -> Member | None:
    """The summary sheet's member; None for an application without one."""
    if not app.summary_no:
        return None
    return Member(f"summary-{app.summary_no}.pdf", storage.summary_path(app))


def members(app: Application, invoices: list[Invoice]) -> list[Member]:
    summary = summary_member(app)
    return [*invoice_members(invoices), *([summary] if summary else [])]


def card_month_members(invoices: list[Invoice], summaries: list[Application]) -> list[Member]:
    sheets = [summary_member(app) for app in summaries]
    return [*invoice_members(invoices), *(m for m in sheets if m)]


def filename(app: Application) -> str:
    return f"invoices-{app.summary_no or app.pk}.zip"


def card_month_filename(card_no: str, month: str) -> str:
    return f"invoices-{card_no}-{month}.zip"


class _Sink:
    """A write-only, unseekable file for ``zipfile``: what is written is handed out in pieces."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0

    def write(self, data) -> int:
        data = bytes(data)
        self.parts.append(data)
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts = []
        return out


def stream(items: Iterable[Member]) -> Iterator[bytes]:
    """The ZIP's bytes, a member at a time. PDFs are stored as they are (already compressed);
    XML is deflated."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w") as archive:  # type: ignore[arg-type]
        for member in items:
            compress = zipfile.ZIP_STORED if member.name.endswith(".pdf") else zipfile.ZIP_DEFLATED
            info = zipfile.ZipInfo(member.name, date_time=time.localtime()[:6])
            info.compress_type = compress
            with storage.open_file(member.path) as source, archive.open(info, "w") as target:
                while chunk := source.read(CHUNK):
                    target.write(chunk)
                    if sink.position and len(sink.parts) > 16:
                        yield sink.take()
            yield sink.take()
    yield sink.take()


def as_bytes(items: Iterable[Member]) -> bytes:
    return b"".join(stream(items))
