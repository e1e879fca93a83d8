"""The App's applications and invoices, and the enterprise partners' invoice feed."""

from __future__ import annotations

from datetime import datetime

from django.db.models import OuterRef, Subquery
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts.audiences import AppAPIView, PartnerAPIView
from cards.selectors import binding_for
from piaogen import api_paging as paging
from piaogen.api import ErrorSerializer
from piaogen.cursors import decode_cursor, encode_cursor
from piaogen.errors import ServiceError
from piaogen.renderers import FastJSONRenderer

from .. import selectors, services
from ..documents import services as documents_services
from ..models import Application, Invoice, InvoiceLine, RedLetterConfirmation, Transit
from ..regimes import DocumentKind
from ..shapes import (
    APPLICATION_HEAD,
    INVOICE_HEAD,
    application_shape,
    day_text,
    document_kind_label,
    invoice_shape,
    line_shape,
)

ERRORS = {400: ErrorSerializer, 404: ErrorSerializer}
DIGITAL = DocumentKind.DIGITAL_E_INVOICE.value


def red_confirmation_json(inv: Invoice) -> dict | None:
    """``{"number"}`` of the 红字确认 record a red-letter 数电 invoice was issued against; None for
    every other document (one query, for red 数电 invoices only)."""
    if not (inv.red and inv.document_kind == DocumentKind.DIGITAL_E_INVOICE):
        return None
    number = RedLetterConfirmation.objects.filter(red_invoice_id=inv.pk).values_list("number", flat=True).first()
    return {"number": number} if number else None


def invoice_json(inv: Invoice) -> dict:
    """The Invoice of api.md from a model instance (its lines, their trips and recharges, and
    its original read through the instance's relations)."""
    days: dict = {}
    lines = [
        line_shape(
            line.item,
            line.plate,
            line.vehicle_class,
            day_text(line.date_from, days),
            day_text(line.date_to, days),
            line.net,
            line.rate,
            line.tax,
            line.transit.transit_id if line.transit_id else None,
            line.recharge.recharge_id if line.recharge_id else None,
        )
        for line in inv.lines.all()
    ]
    return invoice_shape(
        {name: getattr(inv, name) for name in INVOICE_HEAD},
        lines,
        original={"code": inv.original.code, "number": inv.original.number} if inv.original_id else None,
        red_confirmation=red_confirmation_json(inv),
    )


# The same JSON from plain rows: the lists and an application's detail read the invoices' columns
# and their lines' in two queries (``.values()``), without model instances; a test holds the two
# builders to the same output, field by field.
INVOICE_COLUMNS = (
    *INVOICE_HEAD,
    "issued_at",  # the lists' cursor
    "original_code",  # these three by ``invoice_values``' subqueries and join
    "original_number",
    "confirmation_of_red__number",
)
DETAIL_COLUMNS = tuple(c for c in INVOICE_COLUMNS if c != "issued_at")  # issued_at: the lists' cursor only
_LINE_COLUMNS = (
    "invoice_id",
    "item",
    "plate",
    "vehicle_class",
    "date_from",
    "date_to",
    "net",
    "rate",
    "tax",
    "trip_no",
    "recharge__recharge_id",
)


def invoice_values(qs, columns=INVOICE_COLUMNS):
    """``qs`` as dicts of ``columns``. A red-letter invoice's original is read by subquery in
    the month both bill (not joined across every month's partition)."""
    original = Invoice.objects.filter(pk=OuterRef("original_id"), month=OuterRef("month"))
    return qs.annotate(
        original_code=Subquery(original.values("code")[:1]),
        original_number=Subquery(original.values("number")[:1]),
    ).values(*columns)


def invoice_rows_json(rows: list[dict], *, application_id: int | None = None) -> list[dict]:
    """Invoice JSON of ``rows`` (dicts of ``INVOICE_COLUMNS``), in their order, with their lines
    read in one more query: by invoice id, or, when ``rows`` are all the invoices of an
    application, by ``application_id`` (no list of hundreds of ids to send)."""
    out: list[dict] = []
    lines_of: dict[int, list] = {}
    labels = {kind: document_kind_label(kind) for kind in DocumentKind.values}
    for r in rows:
        lines: list[dict] = []
        lines_of[r["id"]] = lines
        kind = r["document_kind"]
        out.append(
            invoice_shape(
                r,
                lines,
                original=({"code": r["original_code"], "number": r["original_number"]} if r["original_id"] else None),
                red_confirmation=(
                    {"number": r["confirmation_of_red__number"]}
                    if r["red"] and r["confirmation_of_red__number"] and kind == DIGITAL
                    else None
                ),
                label=labels.get(kind),
            )
        )
    if not lines_of:
        return out
    days: dict = {}
    # Lines bill their invoice's month: only those months' partitions are read.
    months = sorted({r["month"] for r in rows})
    if application_id is not None:
        lines = InvoiceLine.objects.filter(
            invoice__application_id=application_id, invoice__month__in=months, month__in=months
        )
    else:
        lines = InvoiceLine.objects.filter(invoice_id__in=list(lines_of), month__in=months)
    # A line's trip bills the same month: its national id read in that month's partition.
    lines = lines.annotate(
        trip_no=Subquery(
            Transit.objects.filter(pk=OuterRef("transit_id"), month=OuterRef("month")).values("transit_id")[:1]
        )
    )
    for (
        invoice_id,
        item,
        plate,
        vehicle_class,
        date_from,
        date_to,
        net,
        rate,
        tax,
        transit_id,
        recharge_id,
    ) in lines.order_by("invoice_id", "seq").values_list(*_LINE_COLUMNS):
        lines_of[invoice_id].append(
            line_shape(
                item,
                plate,
                vehicle_class,
                day_text(date_from, days),
                day_text(date_to, days),
                net,
                rate,
                tax,
                transit_id,
                recharge_id,
            )
        )
    return out


APPLICATION_COLUMNS = APPLICATION_HEAD


def application_row_json(r: dict) -> dict:
    """``application_json`` of a row of ``APPLICATION_COLUMNS``, without its invoices."""
    return application_shape(r)


def application_json(app: Application, invoices: list[Invoice] | None) -> dict:
    body = application_shape(
        {name: getattr(app, name) for name in APPLICATION_HEAD if name != "card__card_no"}
        | {"card__card_no": app.card.card_no}
    )
    if invoices is not None:
        body["invoices"] = [invoice_json(i) for i in invoices]
    return body


# --- schema shapes ---------------------------------------------------------------------------


class LineSchema(serializers.Serializer):
    item = serializers.CharField()
    plate = serializers.CharField()
    vehicle_class = serializers.CharField()
    date_from = serializers.CharField(help_text="YYYYMMDD")
    date_to = serializers.CharField(help_text="YYYYMMDD")
    net = serializers.IntegerField()
    rate = serializers.CharField(allow_null=True)
    tax = serializers.IntegerField()
    transit_id = serializers.CharField(allow_null=True)
    recharge_id = serializers.CharField(allow_null=True)


class PartySchema(serializers.Serializer):
    name = serializers.CharField()
    tax_id = serializers.CharField()


class CodeNumberSchema(serializers.Serializer):
    code = serializers.CharField()
    number = serializers.CharField()


class RedConfirmationSchema(serializers.Serializer):
    number = serializers.CharField(help_text="红字确认单编号，20 位")


class InvoiceSchema(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField(
        allow_blank=True, help_text="增值税电子普通发票 12 位；财政电子票据 8 位（票据代码）；数电发票为空字符串"
    )
    number = serializers.CharField(help_text="增值税电子普通发票 8 位；财政电子票据 10 位；数电发票 20 位")
    issued_on = serializers.DateField()
    check_code = serializers.CharField(
        allow_blank=True, help_text="增值税电子普通发票 20 位数字；财政电子票据 6 位（数字和 a–f）；数电发票为空字符串"
    )
    kind = serializers.ChoiceField(choices=Invoice.Kind.values)
    red = serializers.BooleanField()
    status = serializers.ChoiceField(choices=Invoice.Status.values)
    month = serializers.CharField()
    plate = serializers.CharField()
    seller = PartySchema()
    buyer = PartySchema()
    lines = LineSchema(many=True)
    total_net = serializers.IntegerField()
    total_tax = serializers.IntegerField()
    total = serializers.IntegerField()
    original = CodeNumberSchema(allow_null=True)
    document_kind = serializers.ChoiceField(
        choices=DocumentKind.values,
        help_text="票据种类：vat_e_invoice 增值税电子普通发票（通行费）；fiscal_e_bill 通行费财政电子票据；"
        "digital_e_invoice 电子发票（普通发票，数电）",
    )
    document_kind_label = serializers.CharField(help_text="票据种类的名称（按请求的语言）")
    red_confirmation = RedConfirmationSchema(
        allow_null=True, help_text="红字数电发票所依据的红字确认单；其他票据为 null"
    )


class ApplicationSchema(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Application.Kind.values)
    status = serializers.ChoiceField(choices=Application.Status.values)
    failure_reason = serializers.CharField(allow_null=True)
    summary_no = serializers.CharField(allow_null=True)
    card_no = serializers.CharField()
    mode = serializers.CharField(allow_null=True)
    month = serializers.CharField(allow_null=True)
    invoice_count = serializers.IntegerField()
    total = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    issued_at = serializers.DateTimeField(allow_null=True)
    original_id = serializers.IntegerField(allow_null=True)
    invoices = InvoiceSchema(many=True, required=False, help_text="详情接口返回；列表接口省略")


class PreviewRequestSchema(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["consumption", "recharge"])
    card_no = serializers.CharField()
    month = serializers.CharField(required=False, help_text="YYYY-MM（通行费开票）")
    transit_ids = serializers.ListField(child=serializers.CharField(), required=False, help_text="省略则整月开票")
    recharge_ids = serializers.ListField(child=serializers.CharField(), required=False)
    mode = serializers.ChoiceField(choices=Application.Mode.values, required=False)
    title_id = serializers.IntegerField()


class ApplicationCreateSchema(PreviewRequestSchema):
    """What a preview takes, and where the documents go and what the preview showed."""

    email = serializers.EmailField(required=False, allow_blank=True)
    plan_digest = serializers.CharField(
        required=False,
        help_text="applications/preview 返回的 plan_digest：给出时，开票内容与预览不一致则拒绝（409 plan_changed），不开票",
    )


class PreviewSellerSchema(serializers.Serializer):
    name = serializers.CharField()
    tax_id = serializers.CharField()
    kind = serializers.ChoiceField(choices=Invoice.Kind.values)
    document_kind = serializers.ChoiceField(choices=DocumentKind.values, help_text="这些票据的种类")
    document_kind_label = serializers.CharField()
    invoices = serializers.IntegerField()
    total = serializers.IntegerField()


class PreviewTitleSchema(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    tax_id = serializers.CharField()


class PreviewSchema(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["consumption", "recharge"])
    card_no = serializers.CharField()
    month = serializers.CharField()
    mode = serializers.CharField(allow_null=True)
    whole_month = serializers.BooleanField()
    items = serializers.IntegerField(help_text="通行记录或充值记录的条数")
    invoice_count = serializers.IntegerField()
    total = serializers.IntegerField()
    sellers = PreviewSellerSchema(many=True)
    title = PreviewTitleSchema()
    fixes_basis = serializers.BooleanField(help_text="储值卡第一次开票：提交后这张卡的开票方式固定，不能再改")
    plan_digest = serializers.CharField()


def preview_json(plan: services.ApplicationPlan) -> dict:
    return {
        "kind": plan.kind,
        "card_no": plan.card.card_no,
        "month": plan.month,
        "mode": plan.mode or None,
        "whole_month": plan.whole_month,
        "items": plan.items,
        "invoice_count": plan.invoice_count,
        "total": plan.total,
        "sellers": [
            {
                "name": s.name,
                "tax_id": s.tax_id,
                "kind": s.kind,
                "document_kind": s.document_kind,
                "document_kind_label": str(s.document_kind_label),
                "invoices": s.invoices,
                "total": s.total,
            }
            for s in plan.sellers
        ],
        "title": {"id": plan.title.pk, "name": plan.title.name, "tax_id": plan.title.tax_id},
        "fixes_basis": plan.fixes_basis,
        "plan_digest": plan.digest,
    }


class AcceptedSchema(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()


class TitleChangeSchema(serializers.Serializer):
    title_id = serializers.IntegerField()
    email = serializers.EmailField(required=False, allow_blank=True)


class ResendSchema(serializers.Serializer):
    email = serializers.EmailField(help_text="发送到的邮箱；不改变申请上登记的收票邮箱")


class ResendAcceptedSchema(serializers.Serializer):
    id = serializers.IntegerField(help_text="这次重发的编号")
    application_id = serializers.IntegerField()
    email = serializers.EmailField()
    status = serializers.ChoiceField(choices=["queued"])
    remaining_today = serializers.IntegerField(help_text="今天（北京时间）还可重发的次数")


class FeedSchema(serializers.Serializer):
    results = InvoiceSchema(many=True)
    next = serializers.CharField(allow_null=True)


# --- App views -------------------------------------------------------------------------------


def _body(request) -> dict:
    if not isinstance(request.data, dict):
        raise ServiceError("invalid", _("请求体须为 JSON 对象。"))
    return request.data


APPLICATIONS_DEFAULT_LIMIT = APPLICATIONS_MAX_LIMIT = 100
INVOICES_DEFAULT_LIMIT = 500  # as before pages were offered: an App that never follows Link loses nothing it had
INVOICES_MAX_LIMIT = 500


class ApplicationsView(AppAPIView):
    replica_reads = True  # its GETs tolerate replica lag (piaogen/replica.py)
    renderer_classes = [FastJSONRenderer]

    @extend_schema(
        operation_id="app_applications_list",
        parameters=[*paging.parameters(APPLICATIONS_DEFAULT_LIMIT, APPLICATIONS_MAX_LIMIT), paging.LINK_HEADER],
        responses={200: ApplicationSchema(many=True), 400: ErrorSerializer},
        summary="我的开票申请（最新在前）",
    )
    def get(self, request):
        limit, after = paging.page_request(
            request,
            default=APPLICATIONS_DEFAULT_LIMIT,
            maximum=APPLICATIONS_MAX_LIMIT,
            kinds=selectors.APPLICATION_CURSOR,
        )
        qs = Application.objects.filter(user=request.user).values(*APPLICATION_COLUMNS)
        page = selectors.keyset_page(
            qs, selectors.APPLICATION_ORDER, descending=True, after=after, size=limit, restart=False
        )
        return paging.paged_response(request, [application_row_json(r) for r in page.rows], page, limit)

    @extend_schema(
        operation_id="app_applications_create",
        request=ApplicationCreateSchema,
        responses={202: AcceptedSchema, **ERRORS, 409: ErrorSerializer},
        summary="提交开票申请（通行费或充值）",
    )
    def post(self, request):
        body = _body(request)
        kind = body.get("kind")
        digest = body.get("plan_digest") if isinstance(body.get("plan_digest"), str) else ""
        email = body.get("email") if isinstance(body.get("email"), str) else ""
        if kind == "consumption":
            app = services.application_submit_consumption(
                **_consumption_inputs(request, body), email=email, plan_digest=digest
            )
        elif kind == "recharge":
            app = services.application_submit_recharge(
                **_recharge_inputs(request, body), email=email, plan_digest=digest
            )
        else:
            raise ServiceError("invalid", _("kind 须为 consumption 或 recharge。"), errors={"kind": [_("取值无效。")]})
        return Response({"id": app.pk, "status": app.status}, status=202)


def _consumption_inputs(request, body: dict) -> dict:
    return {
        "user": request.user,
        "card_no": str(body.get("card_no", ""))[:32],
        "month": body.get("month"),
        "title_id": body.get("title_id"),
        "mode": body.get("mode") or Application.Mode.PER_TRIP,
        "transit_ids": body.get("transit_ids"),
    }


def _recharge_inputs(request, body: dict) -> dict:
    return {
        "user": request.user,
        "card_no": str(body.get("card_no", ""))[:32],
        "recharge_ids": body.get("recharge_ids"),
        "title_id": body.get("title_id"),
    }


class ApplicationPreviewView(AppAPIView):
    @extend_schema(
        operation_id="app_applications_preview",
        request=PreviewRequestSchema,
        responses={200: PreviewSchema, **ERRORS},
        summary="开票预览：将开出几张发票、哪些销售方、合计多少（不提交、不开票）",
    )
    def post(self, request):
        body = _body(request)
        kind = body.get("kind")
        if kind == "consumption":
            plan = services.application_preview_consumption(**_consumption_inputs(request, body))
        elif kind == "recharge":
            plan = services.application_preview_recharge(**_recharge_inputs(request, body))
        else:
            raise ServiceError("invalid", _("kind 须为 consumption 或 recharge。"), errors={"kind": [_("取值无效。")]})
        return Response(preview_json(plan))


class ApplicationDetailView(AppAPIView):
    replica_reads = True  # its GETs tolerate replica lag (piaogen/replica.py)
    renderer_classes = [FastJSONRenderer]

    @extend_schema(
        operation_id="app_applications_retrieve",
        responses={200: ApplicationSchema, 404: ErrorSerializer},
        summary="开票申请进度与发票",
    )
    def get(self, request, pk: int):
        row = Application.objects.filter(user=request.user, pk=pk).values(*APPLICATION_COLUMNS).first()
        if row is None:
            raise Http404
        body = application_row_json(row)
        month = selectors.application_months(
            Application(pk=row["id"], kind=row["kind"], month=row["month"], original_id=row["original_id"])
        )
        invoices = invoice_values(
            Invoice.objects.filter(application_id=row["id"], **month).order_by("id"), DETAIL_COLUMNS
        )
        body["invoices"] = invoice_rows_json(list(invoices), application_id=row["id"])
        return Response(body)


class TitleChangeView(AppAPIView):
    @extend_schema(
        operation_id="app_applications_title_change",
        request=TitleChangeSchema,
        responses={202: AcceptedSchema, **ERRORS},
        summary="换票：红冲原发票并按新抬头重开",
    )
    def post(self, request, pk: int):
        body = _body(request)
        app = services.application_title_change(
            user=request.user,
            application_id=pk,
            title_id=body.get("title_id"),
            email=body.get("email") if isinstance(body.get("email"), str) else "",
        )
        return Response({"id": app.pk, "status": app.status}, status=202)


class ResendView(AppAPIView):
    @extend_schema(
        operation_id="app_applications_resend",
        request=ResendSchema,
        responses={202: ResendAcceptedSchema, 429: ErrorSerializer, **ERRORS},
        summary="把已开票申请的压缩包重新发送到指定邮箱（每日限次）",
        description=(
            "邮件由后台任务发送，本接口只登记。拒绝：400 `invalid`（邮箱格式）、400 `not_issued`（尚未开票完成）、"
            "429 `too_many_resends`（超过每日次数）、404（不是本人的申请）。"
        ),
    )
    def post(self, request, pk: int):
        body = _body(request)
        resend = documents_services.application_mail_resend(
            user=request.user, application_id=pk, email=body.get("email")
        )
        return Response(
            {
                "id": resend.pk,
                "application_id": pk,
                "email": resend.email,
                "status": "queued",
                "remaining_today": documents_services.resends_left_today(request.user),
            },
            status=202,
        )


class InvoicesView(AppAPIView):
    replica_reads = True  # its GETs tolerate replica lag (piaogen/replica.py)
    renderer_classes = [FastJSONRenderer]

    @extend_schema(
        operation_id="app_invoices_list",
        parameters=[
            OpenApiParameter("card_no", str, required=False),
            OpenApiParameter("month", str, required=False),
            *paging.parameters(INVOICES_DEFAULT_LIMIT, INVOICES_MAX_LIMIT),
            paging.LINK_HEADER,
        ],
        responses={200: InvoiceSchema(many=True), **ERRORS},
        summary="我的发票（最新在前）",
    )
    def get(self, request):
        card_no = request.query_params.get("card_no")
        month = request.query_params.get("month")
        if month and not services.MONTH_RE.match(month):
            raise ServiceError("invalid", _("月份格式应为 YYYY-MM。"), errors={"month": [_("格式应为 YYYY-MM。")]})
        limit, after = paging.page_request(
            request, default=INVOICES_DEFAULT_LIMIT, maximum=INVOICES_MAX_LIMIT, kinds=selectors.INVOICE_CURSOR
        )
        card_id = None
        if card_no:
            from invoices.models import InvoiceMonth

            # The card among the user's cards with invoices (no invoice partition is read).
            held = InvoiceMonth.objects.filter(user=request.user, card__card_no=card_no[:20])
            card_id = (held.filter(month=month) if month else held).values_list("card_id", flat=True).first()
            if card_id is None and month and held.exists():
                return Response([])  # a card of the user's invoices, none of them that month
            if card_id is None:
                binding_for(request.user, card_no)  # 404 unless it is the user's card
                return Response([])
        base = selectors.user_invoices(request.user, card_id=card_id, month=month)
        if not month:  # newest first across months: the months this page can hold, alone
            base = base.filter(month__in=selectors.page_months(request.user, card_id=card_id, after=after, size=limit))
        page = selectors.keyset_page(
            invoice_values(base), selectors.INVOICE_ORDER, descending=True, after=after, size=limit, restart=False
        )
        return paging.paged_response(request, invoice_rows_json(page.rows), page, limit)


class InvoiceDetailView(AppAPIView):
    replica_reads = True  # its GETs tolerate replica lag (piaogen/replica.py)
    renderer_classes = [FastJSONRenderer]

    @extend_schema(
        operation_id="app_invoices_retrieve", responses={200: InvoiceSchema, 404: ErrorSerializer}, summary="发票详情"
    )
    def get(self, request, pk: int):
        return Response(invoice_json(selectors.invoice_of(request.user, pk)))


class InvoiceReverseView(AppAPIView):
    @extend_schema(
        operation_id="app_invoices_reverse",
        request=None,
        responses={202: AcceptedSchema, **ERRORS},
        summary="红冲一张发票",
    )
    def post(self, request, pk: int):
        app = services.invoice_reverse(user=request.user, invoice_id=pk)
        return Response({"id": app.pk, "status": app.status}, status=202)


# --- enterprise feed --------------------------------------------------------------------------

# The feed's cursors of before the one format (piaogen.cursors) were signed with this salt.
LEGACY_CURSOR_SALT = "invoices.feed"


def _decode_cursor(value: str) -> tuple:
    try:
        return decode_cursor(value, (datetime, int), signed_salt=LEGACY_CURSOR_SALT)
    except ValueError:
        raise ServiceError(
            "invalid", _("cursor 无效，请使用上一页返回的 next。"), errors={"cursor": [_("无效。")]}
        ) from None


class PartnerInvoiceFeedView(PartnerAPIView):
    partner_kinds = ("enterprise",)

    @extend_schema(
        operation_id="partner_invoices_list",
        parameters=[
            OpenApiParameter("since", str, required=False, description="ISO 8601 时间，只返回此后开具的发票"),
            OpenApiParameter("cursor", str, required=False),
            OpenApiParameter("limit", int, required=False, description="每页条数，1–500，默认 100"),
        ],
        responses={200: FeedSchema, 400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer},
        summary="企业拉取以本企业为购买方的发票（按开票时间升序）",
    )
    def get(self, request):
        since = request.query_params.get("since")
        since_at = None
        if since:
            try:
                since_at = datetime.fromisoformat(since.replace(" ", "+"))
                if since_at.tzinfo is None:
                    raise ValueError
            except ValueError:
                raise ServiceError(
                    "invalid", _("since 须为带时区的 ISO 8601 时间。"), errors={"since": [_("格式无效。")]}
                ) from None
        cursor = request.query_params.get("cursor")
        after = _decode_cursor(cursor) if cursor else None
        try:
            limit = max(1, min(500, int(request.query_params.get("limit", 100))))
        except ValueError:
            raise ServiceError("invalid", _("limit 须为 1–500 的整数。"), errors={"limit": [_("格式无效。")]}) from None
        rows = selectors.buyer_feed(self.partner.tax_id, since=since_at, after=after, limit=limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return Response(
            {
                "results": [invoice_json(i) for i in rows],
                "next": encode_cursor((rows[-1].issued_at, rows[-1].pk)) if more else None,
            }
        )
