"""The answers of the document downloads, shared by the pages (``invoices.views.downloads``) and
the App and partner API (``invoices.api.documents``): an invoice's PDF or XML, an application's
ZIP, a card-month's ZIP, a batch's ZIP, the finance ledger. Files come from the documents'
storage; a document not rendered yet is a ServiceError ``not_ready`` (409), which the API answers
as JSON and a page as a friendly page that refreshes itself — a request never renders."""

from __future__ import annotations

from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.utils.translation import gettext as _

from piaogen.errors import ServiceError

from .. import ledger
from ..models import Application, Invoice
from . import archive, storage
from .services import DocumentsNotReady, application_documents, card_month_documents

CONTENT_TYPES = {"pdf": "application/pdf", "xml": "application/xml"}


def not_ready(message: str | None = None) -> ServiceError:
    return ServiceError("not_ready", message or _("发票文件正在生成，请稍后再试（通常不超过一分钟）。"), status=409)


def document_response(inv: Invoice, kind: str) -> HttpResponse:
    """The stored PDF or XML of ``inv`` (streamed, or a redirect to the storage's short-lived URL);
    ServiceError 409 while it is not rendered."""
    path = inv.pdf_path if kind == "pdf" else inv.xml_path
    if inv.render_status != Invoice.RenderStatus.RENDERED or not storage.exists(path):
        if inv.render_status == Invoice.RenderStatus.FAILED:
            raise not_ready(_("发票文件生成失败，平台正在处理；如急需请联系客服。"))
        raise not_ready()
    return storage.download_response(path, filename=storage.document_name(inv, kind), content_type=CONTENT_TYPES[kind])


def zip_response(app: Application) -> StreamingHttpResponse:
    if app.status != Application.Status.ISSUED:
        raise not_ready(_("这个申请还没有开票完成，完成后即可下载。"))
    try:
        _invoices, items = application_documents(app)
    except DocumentsNotReady:
        raise not_ready() from None
    response = StreamingHttpResponse(archive.stream(items), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{archive.filename(app)}"'
    return response


def card_month_zip_response(user, *, card_no: str, month: str) -> StreamingHttpResponse:
    """Every invoice of one of the user's cards in one month, PDF and XML, with the summary
    sheets of their applications. A card that is not theirs (bound now, or the card of invoices
    they got) is a 404; a month without invoices a 404 ``no_invoices`` that says so."""
    errors = {}
    if not (card_no or "").strip():
        errors["card_no"] = [_("必填。")]
    if not (month or "").strip():
        errors["month"] = [_("必填。")]
    if errors:
        raise ServiceError("invalid", _("请选择ETC卡和月份。"), errors=errors)
    f = ledger.ledger_filter(user, card_no=card_no, month=month)
    try:
        invoices, items = card_month_documents(user, card_id=f.card_id, month=f.month)
    except DocumentsNotReady:
        raise not_ready() from None
    if not invoices:
        raise ServiceError(
            "no_invoices",
            _("这张卡 %(month)s 没有发票，没有可下载的压缩包。") % {"month": f.month},
            status=404,
        )
    response = StreamingHttpResponse(archive.stream(items), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{archive.card_month_filename(f.card_no, f.month)}"'
    return response


def batch_zip_response(batch) -> StreamingHttpResponse:
    """Every invoice of a batch (PDF and XML) and the summary sheets of its applications, a
    folder per card, streamed an application at a time. 409 ``not_ready`` while an application
    is issuing or a document is not stored; 404 ``no_invoices`` when none was issued."""
    from .. import batches

    try:
        count, items = batches.zip_members(batch)
    except batches.NotReady:
        raise not_ready(_("这次批量开票还没有全部完成，或发票文件正在生成，请稍后再试。")) from None
    if not count:
        raise ServiceError("no_invoices", _("这次批量开票没有开出发票，没有可下载的压缩包。"), status=404)
    response = StreamingHttpResponse(archive.stream(items), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{batches.zip_filename(batch)}"'
    return response


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _ledger_format(fmt: str) -> None:
    if fmt not in ("csv", "xlsx"):
        raise ServiceError("invalid", _("format 须为 csv 或 xlsx。"), errors={"format": [_("取值无效。")]})


def ledger_response(user, *, fmt: str, card_no: str, month: str, application_id):
    _ledger_format(fmt)
    f = ledger.ledger_filter(user, card_no=card_no, month=month, application_id=application_id)
    return _ledger_file(user, f, fmt)


def period_ledger_response(user, *, fmt: str, month_from: str, month_to: str):
    """The ledger of a period (from month to month) across every card of the account, with
    per-seller and per-rate subtotals: CSV streamed, XLSX written to a temporary file."""
    _ledger_format(fmt)
    return _ledger_file(user, ledger.period_filter(user, month_from=month_from, month_to=month_to), fmt)


def _ledger_file(user, f, fmt: str):
    if fmt == "xlsx":
        return FileResponse(
            ledger.xlsx_file(user, f), as_attachment=True, filename=ledger.filename(f, "xlsx"), content_type=XLSX
        )
    response = StreamingHttpResponse(ledger.csv_stream(user, f), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{ledger.filename(f, "csv")}"'
    return response
