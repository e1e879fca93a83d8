"""Downloads: an invoice's PDF or XML, an application's ZIP, a card-month's ZIP, the finance
ledger (App API), and
the buyer enterprise's PDF and XML (partner API). Files come from storage; a document not
rendered yet answers 409 ``not_ready`` — a request never renders."""

from __future__ import annotations

import re

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer

from accounts.audiences import AppAPIView, PartnerAPIView
from piaogen.api import ErrorSerializer

from .. import selectors
from ..documents.responses import (
    card_month_zip_response,
    document_response,
    ledger_response,
    period_ledger_response,
    zip_response,
)
from ..models import Invoice

CODE_RE = re.compile(r"[0-9]{12}")
NUMBER_RE = re.compile(r"[0-9]{8}")


class FilesNegotiation(BaseContentNegotiation):
    """These endpoints answer files, or JSON errors; ``?format=`` is theirs, not DRF's."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class FileAPIMixin:
    content_negotiation_class = FilesNegotiation
    renderer_classes = [JSONRenderer]


FILE_ERRORS = {401: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer}


def _file_schema(operation_id: str, summary: str, media: str):
    return extend_schema(
        operation_id=operation_id,
        summary=summary,
        responses={(200, media): OpenApiResponse(OpenApiTypes.BINARY), **FILE_ERRORS},
    )


class InvoicePdfView(FileAPIMixin, AppAPIView):
    @_file_schema("app_invoices_pdf", "发票 PDF 版式文件", "application/pdf")
    def get(self, request, pk: int):
        return document_response(selectors.invoice_of(request.user, pk), "pdf")


class InvoiceXmlView(FileAPIMixin, AppAPIView):
    @_file_schema("app_invoices_xml", "发票 XML 数据文件", "application/xml")
    def get(self, request, pk: int):
        return document_response(selectors.invoice_of(request.user, pk), "xml")


class ApplicationZipView(FileAPIMixin, AppAPIView):
    @_file_schema("app_applications_zip", "开票申请的压缩包：全部发票的 PDF 与 XML 及电子汇总单", "application/zip")
    def get(self, request, pk: int):
        return zip_response(selectors.application_of(request.user, pk))


class CardMonthZipView(FileAPIMixin, AppAPIView):
    @extend_schema(
        operation_id="app_invoices_zip",
        summary="一张卡一个月的全部发票压缩包：PDF 与 XML 及所属开票申请的电子汇总单",
        parameters=[
            OpenApiParameter("card_no", str, required=True),
            OpenApiParameter("month", str, required=True, description="YYYY-MM"),
        ],
        responses={(200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY), 400: ErrorSerializer, **FILE_ERRORS},
    )
    def get(self, request):
        params = request.query_params
        return card_month_zip_response(request.user, card_no=params.get("card_no", ""), month=params.get("month", ""))


class LedgerView(FileAPIMixin, AppAPIView):
    @extend_schema(
        operation_id="app_invoices_ledger",
        summary="发票台账导出（CSV 或 Excel），按卡、月份或开票申请",
        parameters=[
            OpenApiParameter("format", str, enum=["csv", "xlsx"], required=False, description="默认 csv"),
            OpenApiParameter("card_no", str, required=False),
            OpenApiParameter("month", str, required=False, description="YYYY-MM"),
            OpenApiParameter("application_id", int, required=False),
        ],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY),
            (200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"): OpenApiResponse(
                OpenApiTypes.BINARY
            ),
            400: ErrorSerializer,
            401: ErrorSerializer,
            404: ErrorSerializer,
        },
    )
    def get(self, request):
        params = request.query_params
        return ledger_response(
            request.user,
            fmt=params.get("format", "csv"),
            card_no=params.get("card_no", ""),
            month=params.get("month", ""),
            application_id=params.get("application_id"),
        )


class PeriodLedgerView(FileAPIMixin, AppAPIView):
    @extend_schema(
        operation_id="app_ledger",
        summary="财务台账：一段月份内本账户全部ETC卡的票据，含可抵扣税额及按销售方、按税率的小计（CSV 或 Excel）",
        parameters=[
            OpenApiParameter("from", str, required=True, description="起始月份 YYYY-MM"),
            OpenApiParameter("to", str, required=True, description="结束月份 YYYY-MM（含），最多 24 个月"),
            OpenApiParameter("format", str, enum=["csv", "xlsx"], required=False, description="默认 csv"),
        ],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY),
            (200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"): OpenApiResponse(
                OpenApiTypes.BINARY
            ),
            400: ErrorSerializer,
            401: ErrorSerializer,
        },
    )
    def get(self, request):
        params = request.query_params
        return period_ledger_response(
            request.user,
            fmt=params.get("format", "csv"),
            month_from=params.get("from", ""),
            month_to=params.get("to", ""),
        )


# --- enterprise partners ------------------------------------------------------------------------------


FISCAL_CODE_RE = re.compile(r"[0-9]{8}")
FISCAL_NUMBER_RE = re.compile(r"[0-9]{10}")
DIGITAL_NUMBER_RE = re.compile(r"[0-9]{20}")


def _well_formed(code: str, number: str) -> bool:
    """A VAT e-invoice (12-digit code, 8-digit number), a fiscal e-bill (8 and 10) or a 数电
    invoice (no code, 20-digit number)."""
    if not code:
        return bool(DIGITAL_NUMBER_RE.fullmatch(number))
    return bool(
        (CODE_RE.fullmatch(code) and NUMBER_RE.fullmatch(number))
        or (FISCAL_CODE_RE.fullmatch(code) and FISCAL_NUMBER_RE.fullmatch(number))
    )


def buyer_invoice(partner, code: str, number: str) -> Invoice:
    """A document whose buyer is this enterprise partner; 404 for anything else."""
    if not _well_formed(code, number) or not partner.tax_id:
        raise Http404
    month = selectors.invoice_month_of(code, number)
    inv = (
        Invoice.objects.filter(code=code, number=number, month=month, buyer_tax_id=partner.tax_id).first()
        if month
        else None
    )
    if inv is None:
        raise Http404
    return inv


class PartnerInvoicePdfView(FileAPIMixin, PartnerAPIView):
    partner_kinds = ("enterprise",)

    @_file_schema("partner_invoices_pdf", "企业下载以本企业为购买方的发票 PDF", "application/pdf")
    def get(self, request, code: str, number: str):
        return document_response(buyer_invoice(self.partner, code, number), "pdf")


class PartnerInvoiceXmlView(FileAPIMixin, PartnerAPIView):
    partner_kinds = ("enterprise",)

    @_file_schema("partner_invoices_xml", "企业下载以本企业为购买方的发票 XML", "application/xml")
    def get(self, request, code: str, number: str):
        return document_response(buyer_invoice(self.partner, code, number), "xml")


class PartnerDigitalInvoicePdfView(FileAPIMixin, PartnerAPIView):
    """A 数电 invoice has a number and no code: ``invoices/<number>/pdf``."""

    partner_kinds = ("enterprise",)

    @_file_schema(
        "partner_digital_invoices_pdf", "企业下载以本企业为购买方的数电发票 PDF（20位号码）", "application/pdf"
    )
    def get(self, request, number: str):
        return document_response(buyer_invoice(self.partner, "", number), "pdf")


class PartnerDigitalInvoiceXmlView(FileAPIMixin, PartnerAPIView):
    partner_kinds = ("enterprise",)

    @_file_schema(
        "partner_digital_invoices_xml", "企业下载以本企业为购买方的数电发票 XML（20位号码）", "application/xml"
    )
    def get(self, request, number: str):
        return document_response(buyer_invoice(self.partner, "", number), "xml")
