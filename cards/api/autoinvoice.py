"""App API of 自动开票 (an extension of the contract): the account's setting and one card's.

``GET|PUT auto-invoice`` and ``GET|PUT|DELETE cards/<card_no>/auto-invoice``; the services
judge (``cards.autoinvoice``), as on the pages."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts.audiences import AppAPIView
from piaogen.api import ErrorSerializer

from .. import autoinvoice, selectors
from ..models import AutoInvoiceMode, AutoInvoiceRun

ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 404: ErrorSerializer}


class AutoInvoiceInputSerializer(serializers.Serializer):
    enabled = serializers.BooleanField(required=False, help_text=_("开启或关闭；不传则不变"))
    mode = serializers.ChoiceField(
        choices=AutoInvoiceMode.values, required=False, help_text=_("per_trip 按次 | monthly 按月汇总；不传则不变")
    )
    email = serializers.CharField(
        required=False, allow_blank=True, max_length=254, help_text=_("收票邮箱；空字符串表示使用默认抬头的收票邮箱")
    )
    paused = serializers.BooleanField(required=False, help_text=_("暂停（true）或恢复（false），仅在开启时有效"))


class AutoInvoiceNextRunSerializer(serializers.Serializer):
    month = serializers.CharField(help_text="YYYY-MM")
    date = serializers.DateField(help_text=_("该月通行记录全部可查、自动申请的日期"))
    due = serializers.BooleanField(help_text=_("true：已可申请，将在下次运行（每小时）时申请"))


class AutoInvoiceRunSerializer(serializers.Serializer):
    card_no = serializers.CharField(source="card.card_no")
    plate = serializers.CharField(source="card.plate")
    month = serializers.CharField()
    status = serializers.ChoiceField(
        choices=AutoInvoiceRun.Status.choices,
        help_text=_(
            "applied 已提交申请（开票状态见 application_status）| skipped 无需开票 | refused 未能申请（需用户处理）"
        ),
    )
    code = serializers.CharField(help_text=_("skipped、refused 的原因代码，如 nothing_to_invoice、no_default_title"))
    message = serializers.CharField()
    mode = serializers.CharField()
    application_id = serializers.IntegerField(allow_null=True)
    application_status = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_application_status(self, run) -> str | None:
        return run.application.status if run.application_id else None


class AutoInvoiceCardStateSerializer(serializers.Serializer):
    card_no = serializers.CharField()
    plate = serializers.CharField()
    source = serializers.ChoiceField(
        choices=["card", "account", "none"], help_text=_("card 这张卡单独设置 | account 跟随账户 | none 未设置")
    )
    enabled = serializers.BooleanField()
    paused = serializers.BooleanField()
    mode = serializers.CharField()
    email = serializers.CharField()
    default_title_id = serializers.IntegerField(allow_null=True, help_text=_("为空时不能自动开票"))
    next_run = AutoInvoiceNextRunSerializer(allow_null=True)


class AutoInvoiceCardSerializer(AutoInvoiceCardStateSerializer):
    runs = AutoInvoiceRunSerializer(many=True)


class AutoInvoiceAccountSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()
    paused = serializers.BooleanField()
    paused_at = serializers.DateTimeField(allow_null=True)
    mode = serializers.CharField()
    email = serializers.CharField()
    next_run = AutoInvoiceNextRunSerializer(allow_null=True)
    cards = AutoInvoiceCardStateSerializer(many=True)
    runs = AutoInvoiceRunSerializer(many=True)


def _next(next_run) -> dict | None:
    return None if next_run is None else {"month": next_run.month, "date": next_run.on, "due": next_run.due}


def _card_state(binding, eff, settled: set[str]) -> dict:
    title = binding.default_title
    return {
        "card_no": binding.card.card_no,
        "plate": binding.card.plate,
        "source": eff.source,
        "enabled": eff.enabled,
        "paused": eff.paused,
        "mode": eff.mode,
        "email": eff.email,
        "default_title_id": title.pk if title is not None and title.deleted_at is None else None,
        "next_run": _next(autoinvoice.next_run(eff, settled)),
    }


def account_json(user) -> dict:
    account, per_card = autoinvoice.settings_of(user)
    runs = autoinvoice.runs_of(user)
    settled: dict[int, set[str]] = {}
    for run in runs:
        if run.status != AutoInvoiceRun.Status.REFUSED:
            settled.setdefault(run.card_id, set()).add(run.month)
    eff = autoinvoice.Effective(account, "account")
    return {
        "enabled": eff.enabled,
        "paused": eff.paused,
        "paused_at": account.paused_at if account else None,
        "mode": eff.mode,
        "email": eff.email,
        "next_run": _next(autoinvoice.account_next_run(account)),
        "cards": [
            _card_state(b, autoinvoice.effective(b.pk, account, per_card), settled.get(b.card_id, set()))
            for b in selectors.bound_cards(user)
        ],
        "runs": AutoInvoiceRunSerializer(runs, many=True).data,
    }


def card_json(user, card_no: str) -> dict:
    binding = selectors.binding_for(user, card_no)
    account, per_card = autoinvoice.settings_of(user)
    runs = autoinvoice.runs_of(user, card_id=binding.card_id)
    eff = autoinvoice.effective(binding.pk, account, per_card)
    return {
        **_card_state(binding, eff, autoinvoice.settled_months(runs)),
        "runs": AutoInvoiceRunSerializer(runs, many=True).data,
    }


def _body(request) -> dict:
    body = AutoInvoiceInputSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    return dict(body.validated_data)


class AutoInvoiceView(AppAPIView):
    @extend_schema(
        operation_id="app_auto_invoice_retrieve",
        responses={200: AutoInvoiceAccountSerializer, 401: ErrorSerializer},
        summary="自动开票：账户设置、每张卡的状态与最近的自动开票记录",
    )
    def get(self, request):
        return Response(account_json(request.user))

    @extend_schema(
        operation_id="app_auto_invoice_update",
        request=AutoInvoiceInputSerializer,
        responses={200: AutoInvoiceAccountSerializer, **ERRORS},
        summary="自动开票：开启、关闭、暂停或恢复全部ETC卡的自动开票，设置开票方式与收票邮箱",
        description=(
            "每月在该月通行记录全部可查之日（月末后第 N 个自然日，N 为通行日所适用规则的天数），用每张卡的默认抬头为该月"
            "尚未申请的通行记录整月申请开票，开具后将压缩包发到收票邮箱。单独设置过的卡按其自己的设置。"
        ),
    )
    def put(self, request):
        autoinvoice.auto_invoice_set(user=request.user, **_body(request))
        return Response(account_json(request.user))


class CardAutoInvoiceView(AppAPIView):
    @extend_schema(
        operation_id="app_cards_auto_invoice_retrieve",
        responses={200: AutoInvoiceCardSerializer, **ERRORS},
        summary="这张卡的自动开票状态、下次自动申请与自动开票记录",
    )
    def get(self, request, card_no):
        return Response(card_json(request.user, card_no))

    @extend_schema(
        operation_id="app_cards_auto_invoice_update",
        request=AutoInvoiceInputSerializer,
        responses={200: AutoInvoiceCardSerializer, **ERRORS},
        summary="为这张卡单独设置自动开票（覆盖账户设置）",
    )
    def put(self, request, card_no):
        autoinvoice.auto_invoice_set(user=request.user, card_no=card_no, **_body(request))
        return Response(card_json(request.user, card_no))

    @extend_schema(
        operation_id="app_cards_auto_invoice_follow_account",
        responses={200: AutoInvoiceCardSerializer, **ERRORS},
        summary="取消这张卡的单独设置，改为跟随账户设置",
    )
    def delete(self, request, card_no):
        autoinvoice.auto_invoice_follow_account(user=request.user, card_no=card_no)
        return Response(card_json(request.user, card_no))
