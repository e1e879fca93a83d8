"""批量开票 in the App API (an extension of the contract): preview, submit, progress, ZIP.

``POST batches/preview`` and ``POST batches`` take ``{"month", "mode", "title_id", "card_nos"
(omit for every bound card), "email", "plan_digest"}``; ``GET batches/<id>`` answers the batch
with its per-card applications, ``GET batches/<id>/zip`` every document of it. Owner only: any
other batch is a 404."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts.audiences import AppAPIView
from piaogen.api import ErrorSerializer
from piaogen.renderers import FastJSONRenderer

from .. import batches
from ..documents.responses import batch_zip_response
from ..models import Application
from .documents import FileAPIMixin, _file_schema
from .invoicing import (
    APPLICATION_COLUMNS,
    AcceptedSchema,
    ApplicationSchema,
    PreviewSellerSchema,
    PreviewTitleSchema,
    _body,
    application_row_json,
)

ERRORS = {400: ErrorSerializer, 404: ErrorSerializer}


class BatchRequestSchema(serializers.Serializer):
    month = serializers.CharField(help_text="YYYY-MM")
    mode = serializers.ChoiceField(choices=Application.Mode.values, required=False, help_text="默认 per_trip")
    title_id = serializers.IntegerField()
    card_nos = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="省略则为本账户全部已绑定的ETC卡；最多 500 张"
    )


class BatchCreateSchema(BatchRequestSchema):
    email = serializers.EmailField(required=False, allow_blank=True)
    plan_digest = serializers.CharField(
        required=False,
        help_text="batches/preview 返回的 plan_digest：给出时，任何一张卡的开票内容或跳过的卡与预览不一致则拒绝"
        "（409 plan_changed），什么都不提交",
    )


class SkippedCardSchema(serializers.Serializer):
    card_no = serializers.CharField()
    plate = serializers.CharField()
    code = serializers.ChoiceField(
        choices=["nothing_to_invoice", "already_applied", "basis_locked"],
        help_text="与单张卡开票的拒绝代码相同",
    )
    reason = serializers.CharField()


class BatchCardSchema(serializers.Serializer):
    card_no = serializers.CharField()
    plate = serializers.CharField()
    items = serializers.IntegerField(help_text="待开票的通行次数")
    invoice_count = serializers.IntegerField()
    total = serializers.IntegerField()
    fixes_basis = serializers.BooleanField(help_text="储值卡第一次开票：提交后这张卡固定为按通行开票")
    plan_digest = serializers.CharField(help_text="这张卡这个月的开票内容指纹（与单张卡预览相同）")


class BatchPreviewSchema(serializers.Serializer):
    month = serializers.CharField()
    mode = serializers.CharField()
    all_cards = serializers.BooleanField()
    card_count = serializers.IntegerField(help_text="所选的卡数（含跳过的）")
    items = serializers.IntegerField()
    invoice_count = serializers.IntegerField()
    seller_count = serializers.IntegerField()
    total = serializers.IntegerField()
    sellers = PreviewSellerSchema(many=True)
    title = PreviewTitleSchema()
    cards = BatchCardSchema(many=True)
    skipped = SkippedCardSchema(many=True)
    plan_digest = serializers.CharField()


class BatchProgressSchema(serializers.Serializer):
    applications = serializers.IntegerField()
    submitted = serializers.IntegerField()
    issuing = serializers.IntegerField()
    issued = serializers.IntegerField()
    failed = serializers.IntegerField()


class BatchPlannedSchema(serializers.Serializer):
    invoice_count = serializers.IntegerField()
    total = serializers.IntegerField()


class BatchSchema(serializers.Serializer):
    id = serializers.IntegerField()
    month = serializers.CharField()
    mode = serializers.CharField()
    status = serializers.ChoiceField(choices=list(batches.STATUS_LABELS))
    status_label = serializers.CharField()
    title = PreviewTitleSchema()
    all_cards = serializers.BooleanField()
    card_count = serializers.IntegerField()
    planned = BatchPlannedSchema(help_text="确认时预计的张数与价税合计")
    invoice_count = serializers.IntegerField(help_text="已开出的张数")
    total = serializers.IntegerField(help_text="已开出的价税合计（分）")
    progress = BatchProgressSchema()
    created_at = serializers.DateTimeField()
    skipped = SkippedCardSchema(many=True)
    applications = ApplicationSchema(many=True, help_text="每张卡一个开票申请（不含发票明细，见 applications/<id>）")


def batch_preview_json(plan: batches.BatchPlan) -> dict:
    return {
        "month": plan.month,
        "mode": plan.mode,
        "all_cards": plan.all_cards,
        "card_count": len(plan.cards),
        "items": plan.items,
        "invoice_count": plan.invoice_count,
        "seller_count": plan.seller_count,
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
        "cards": [
            {
                "card_no": p.card.card_no,
                "plate": p.card.plate,
                "items": p.items,
                "invoice_count": p.invoice_count,
                "total": p.total,
                "fixes_basis": p.fixes_basis,
                "plan_digest": p.digest,
            }
            for p in plan.plans
        ],
        "skipped": [s.as_dict() for s in plan.skipped],
        "plan_digest": plan.digest,
    }


def batch_json(batch) -> dict:
    progress = batches.batch_progress(batch)
    rows = Application.objects.filter(batch=batch).order_by("card__card_no", "id").values(*APPLICATION_COLUMNS)
    return {
        "id": batch.pk,
        "month": batch.month,
        "mode": batch.mode,
        "status": progress.status,
        "status_label": progress.status_label,
        "title": {"id": batch.title_id, "name": batch.title.name, "tax_id": batch.title.tax_id},
        "all_cards": batch.all_cards,
        "card_count": batch.card_count,
        "planned": {"invoice_count": batch.invoice_count, "total": batch.total},
        "invoice_count": progress.invoice_count,
        "total": progress.total,
        "progress": {
            "applications": progress.applications,
            "submitted": progress.submitted,
            "issuing": progress.issuing,
            "issued": progress.issued,
            "failed": progress.failed,
        },
        "created_at": timezone.localtime(batch.created_at).isoformat(),
        "skipped": batch.skipped,
        "applications": [application_row_json(r) for r in rows],
    }


def _inputs(request, body: dict) -> dict:
    return {
        "user": request.user,
        "month": body.get("month"),
        "mode": body.get("mode") or Application.Mode.PER_TRIP,
        "title_id": body.get("title_id"),
        "card_nos": body.get("card_nos"),
    }


class BatchPreviewView(AppAPIView):
    @extend_schema(
        operation_id="app_batches_preview",
        request=BatchRequestSchema,
        responses={200: BatchPreviewSchema, **ERRORS},
        summary="批量开票预览：多张卡一个月，将开出几张发票、哪些销售方、合计多少，哪些卡跳过及原因（不提交）",
        description=(
            "拒绝：400 `invalid`（月份、开票方式、抬头、card_nos）、400 `no_cards`（没有已绑定或所选的卡）、"
            "400 `too_many_cards`（超过 500 张）、400 `nothing_to_invoice`（所有卡都没有可开票的记录，"
            "`skipped` 列出每张卡的原因）、404（所选的卡不是本账户绑定的）。"
        ),
    )
    def post(self, request):
        return Response(batch_preview_json(batches.batch_preview(**_inputs(request, _body(request)))))


class BatchesView(AppAPIView):
    @extend_schema(
        operation_id="app_batches_create",
        request=BatchCreateSchema,
        responses={202: AcceptedSchema, **ERRORS, 409: ErrorSerializer},
        summary="提交批量开票：每张有可开票记录的卡一个开票申请，后台开票",
        description="拒绝与预览相同；带 plan_digest 时，内容有变化答 409 `plan_changed`，什么都不提交。",
    )
    def post(self, request):
        body = _body(request)
        digest = body.get("plan_digest") if isinstance(body.get("plan_digest"), str) else ""
        email = body.get("email") if isinstance(body.get("email"), str) else ""
        batch = batches.batch_submit(**_inputs(request, body), email=email, plan_digest=digest)
        return Response({"id": batch.pk, "status": batches.batch_progress(batch).status}, status=202)


class BatchDetailView(AppAPIView):
    renderer_classes = [FastJSONRenderer]

    @extend_schema(
        operation_id="app_batches_retrieve",
        responses={200: BatchSchema, 404: ErrorSerializer},
        summary="批量开票的进度与每张卡的开票申请",
    )
    def get(self, request, pk: int):
        return Response(batch_json(batches.batch_of(request.user, pk)))


class BatchZipView(FileAPIMixin, AppAPIView):
    @_file_schema(
        "app_batches_zip",
        "批量开票的压缩包：每张卡一个文件夹，内有全部发票的 PDF 与 XML 及电子汇总单",
        "application/zip",
    )
    def get(self, request, pk: int):
        return batch_zip_response(batches.batch_of(request.user, pk))
