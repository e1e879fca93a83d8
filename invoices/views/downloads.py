"""Pages' downloads: an invoice's PDF or XML, an application's ZIP, a card-month's ZIP, a batch's
ZIP, the finance ledger (the list's filters, or a period across every card). The same files and
rules as the App API (``invoices.documents.responses``, which both import); a document not
rendered yet gets a friendly page that refreshes itself, never a render inside the request."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import render
from django.urls import reverse
from django.views import View

from piaogen.errors import ServiceError

from .. import batches, selectors
from ..documents.responses import (
    batch_zip_response,
    card_month_zip_response,
    document_response,
    ledger_response,
    period_ledger_response,
    zip_response,
)


def _pending_page(request, exc: ServiceError, back_url: str, *, refresh: bool | None = None):
    """What a page shows instead of a file: the message, a way back and, while the file is being
    rendered (``not_ready``), a refresh."""
    return render(
        request,
        "invoices/document_pending.html",
        {
            "message": exc.message,
            "back_url": back_url,
            "refresh": exc.code == "not_ready" if refresh is None else refresh,
        },
        status=exc.status,
    )


class InvoiceDocumentView(LoginRequiredMixin, View):
    kind = "pdf"

    def get(self, request, pk: int):
        inv = selectors.invoice_of(request.user, pk)  # 404 unless it is theirs
        try:
            return document_response(inv, self.kind)
        except ServiceError as exc:
            return _pending_page(request, exc, reverse("invoices:invoice", args=[inv.pk]))


class ApplicationZipView(LoginRequiredMixin, View):
    def get(self, request, pk: int):
        app = selectors.application_of(request.user, pk)
        try:
            return zip_response(app)
        except ServiceError as exc:
            return _pending_page(request, exc, reverse("invoices:application", args=[app.pk]))


class CardMonthZipView(LoginRequiredMixin, View):
    """我的发票 → 按卡按月下载: one card's invoices of one month in a ZIP."""

    def get(self, request):
        card_no, month = request.GET.get("card", ""), request.GET.get("month", "")
        try:
            return card_month_zip_response(request.user, card_no=card_no, month=month)
        except ServiceError as exc:
            back = reverse("invoices:list")
            if exc.code != "invalid":
                back += f"?{urlencode({'card': card_no, 'month': month})}"
            return _pending_page(request, exc, back)


class BatchZipView(LoginRequiredMixin, View):
    """批量开票 → 下载全部发票: every card-month of a batch in one ZIP."""

    def get(self, request, pk: int):
        batch = batches.batch_of(request.user, pk)
        try:
            return batch_zip_response(batch)
        except ServiceError as exc:
            return _pending_page(request, exc, reverse("invoices:batch", args=[batch.pk]))


class LedgerExportView(LoginRequiredMixin, View):
    """我的发票 → 导出台账: the list's own filters (card, month) or one application."""

    def get(self, request):
        params = request.GET
        try:
            return ledger_response(
                request.user,
                fmt=params.get("format", "csv"),
                card_no=params.get("card", ""),
                month=params.get("month", ""),
                application_id=params.get("application") or None,
            )
        except ServiceError as exc:
            return _pending_page(request, exc, reverse("invoices:list"), refresh=False)


class PeriodLedgerView(LoginRequiredMixin, View):
    """我的发票 → 财务台账: a period of months across every card of the account."""

    def get(self, request):
        params = request.GET
        try:
            return period_ledger_response(
                request.user,
                fmt=params.get("format", "csv"),
                month_from=params.get("from", ""),
                month_to=params.get("to", ""),
            )
        except ServiceError as exc:
            return _pending_page(request, exc, reverse("invoices:list"), refresh=False)
