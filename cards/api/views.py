"""The cards slice of the API: the issuers' registry push, and the App's cards, binding and titles."""

from datetime import datetime

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response

from accounts.audiences import AppAPIView, PartnerAPIView
from piaogen import api_paging as paging
from piaogen.api import ErrorSerializer
from piaogen.bulk import batch_items
from piaogen.limits import client_address
from piaogen.paging import keyset_page
from piaogen.renderers import FastJSONRenderer

from .. import selectors
from ..services.binding import binding_confirm, binding_start
from ..services.bulk_binding import bulk_binding_confirm, bulk_binding_start
from ..services.registry import card_registry_upsert
from ..services.titles import (
    binding_set_default_title,
    invoice_title_create,
    invoice_title_delete,
    invoice_title_update,
)
from ..services.unbinding import binding_end, binding_notices_take, notice_text
from . import serializers as s

APP_ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 404: ErrorSerializer}
PARTNER_ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer, 429: ErrorSerializer}


def notice_json(binding) -> dict:
    return {
        "card_no": binding.card.card_no,
        "plate": binding.card.plate,
        "ended_at": binding.ended_at,
        "end_kind": binding.end_kind,
        "reason": binding.end_reason,
        "message": notice_text(binding),
    }


# --- Partner -----------------------------------------------------------------------------------


class RegistryPushView(PartnerAPIView):
    partner_kinds = ("issuer",)
    batch_write = True  # one transaction: a database error stores nothing of the batch (503)

    @extend_schema(
        operation_id="partner_cards_upsert",
        request=s.RegistryPushSerializer,
        responses={200: s.RegistryResultSerializer, **PARTNER_ERRORS},
        summary="发行方推送ETC卡登记信息（批量、幂等）",
        description=(
            "按卡号新增或更新，至多 5000 张一批；同一批再次推送全部计为 unchanged。"
            "持卡人姓名、证件类型、证件号码、预留手机号变更或卡注销时，该卡自动解绑并短信通知用户（计入 unbound）。"
            "逐项拒绝：invalid、foreign_network_code（非本发行方的卡片网络编号）、unknown_network_code、"
            "duplicate_in_batch。"
        ),
        examples=[
            OpenApiExample(
                "一张储值卡",
                value={
                    "cards": [
                        {
                            "card_no": "32010000000000000001",
                            "card_type": "stored_value",
                            "plate": "苏A12345",
                            "plate_color": 0,
                            "vehicle_class": "passenger",
                            "holder_name": "演示持卡人",
                            "id_type": "resident_id",
                            "id_number": "320102199001010037",
                            "mobile": "13800000001",
                            "status": "active",
                        }
                    ]
                },
                request_only=True,
            )
        ],
    )
    def post(self, request):
        return Response(card_registry_upsert(partner=self.partner, items=batch_items(request.data, "cards")))


# --- App: cards --------------------------------------------------------------------------------


CARDS_MAX_LIMIT = 500
CARD_CURSOR = (datetime, int)


class CardsView(AppAPIView):
    renderer_classes = [FastJSONRenderer]

    @extend_schema(
        operation_id="app_cards_list",
        parameters=[*paging.parameters(None, CARDS_MAX_LIMIT), paging.LINK_HEADER],
        responses={200: s.CardListSerializer, 400: ErrorSerializer, 401: ErrorSerializer},
        summary="我的ETC卡（已绑定）与解绑通知",
        description=(
            "不带参数时返回全部已绑定的卡（最近绑定的在前）。可选分页：limit 为每页条数，"
            '下一页的链接在响应头 Link rel="next" 中（带 cursor），没有更多时不返回；results 的形状不变。'
            "notices 每次调用都返回尚未看到的解绑通知（返回后即视为已读）。"
        ),
    )
    def get(self, request):
        limit, after = paging.page_request(request, default=None, maximum=CARDS_MAX_LIMIT, kinds=CARD_CURSOR)
        rows = selectors.bound_card_values(request.user)
        page = None
        if limit is None:  # every bound card, as the contract has it: one query of plain values
            cards = s.bound_cards_json(rows)
        else:
            page = keyset_page(
                rows, selectors.BOUND_CARD_ORDER, descending=True, after=after, size=limit, restart=False
            )
            cards = s.bound_cards_json(page.rows)
        notices = binding_notices_take(user=request.user)
        body = {
            "results": cards,
            "notices": s.UnbindingNoticeSerializer([notice_json(b) for b in notices], many=True).data,
        }
        return paging.paged_response(request, body, page, limit)

    @extend_schema(
        operation_id="app_cards_bind",
        request=s.BindStartSerializer,
        responses={
            202: s.BindStartedSerializer,
            400: s.BindRefusalSerializer,
            401: ErrorSerializer,
            429: ErrorSerializer,
        },
        summary="绑卡第一步：核对预留信息并向预留手机号发送验证码",
    )
    def post(self, request):
        body = s.BindStartSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        attempt = binding_start(user=request.user, **body.validated_data, address=client_address(request))
        return Response(
            {
                "binding_id": str(attempt.public_id),
                "masked_mobile": attempt.card.mobile_masked,
                "expires_in": settings.SMS_CODE_TTL_SECONDS,
                "details_checked": not attempt.proof_first,
            },
            status=status.HTTP_202_ACCEPTED,
        )


class CardConfirmView(AppAPIView):
    @extend_schema(
        operation_id="app_cards_confirm",
        request=s.BindConfirmSerializer,
        responses={201: s.BoundCardSerializer, 400: s.BindRefusalSerializer, 401: ErrorSerializer},
        summary="绑卡第二步：提交预留手机号收到的验证码",
    )
    def post(self, request):
        body = s.BindConfirmSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        binding = binding_confirm(user=request.user, **body.validated_data)
        return Response(s.BoundCardSerializer(binding).data, status=status.HTTP_201_CREATED)


class CardBulkView(AppAPIView):
    @extend_schema(
        operation_id="app_cards_bulk",
        request=s.BulkStartSerializer,
        responses={
            202: s.BulkStartedSerializer,
            400: s.BulkRefusalSerializer,
            401: ErrorSerializer,
            429: ErrorSerializer,
        },
        summary="批量绑卡第一步：单位账户提交卡号列表，向单位联系人手机号发送一个验证码",
        description=(
            "仅限单位账户。持卡人证件为本单位统一社会信用代码、预留手机号为本账户登录手机号的卡可以绑定，"
            "其余每张卡列出原因（代码与单张绑卡相同）与发行方热线。至多 500 张；失败计入与单张绑卡相同的每日上限。"
        ),
    )
    def post(self, request):
        # The list is judged by the service, line by line (its cap answers ``too_many_items``).
        data = request.data if isinstance(request.data, dict) else {}
        bulk = bulk_binding_start(user=request.user, card_nos=data.get("card_nos"), address=client_address(request))
        return Response(
            {
                "bulk_id": str(bulk.public_id),
                "masked_mobile": request.user.mobile_masked,
                "expires_in": settings.SMS_CODE_TTL_SECONDS,
                "message": bulk.message,
                "eligible": s.BulkCardSerializer(selectors.bulk_attempts(bulk, outcome="pending"), many=True).data,
                "refused": bulk.refused,
            },
            status=status.HTTP_202_ACCEPTED,
        )


class CardBulkConfirmView(AppAPIView):
    @extend_schema(
        operation_id="app_cards_bulk_confirm",
        request=s.BulkConfirmSerializer,
        responses={201: s.BulkBoundSerializer, 400: s.BulkRefusalSerializer, 401: ErrorSerializer},
        summary="批量绑卡第二步：提交单位联系人手机号收到的验证码，一次绑定本批全部可绑定的卡",
    )
    def post(self, request):
        body = s.BulkConfirmSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        bindings = bulk_binding_confirm(user=request.user, **body.validated_data)
        return Response(
            {"bulk_id": body.validated_data["bulk_id"], "results": s.BoundCardSerializer(bindings, many=True).data},
            status=status.HTTP_201_CREATED,
        )


class CardDetailView(AppAPIView):
    @extend_schema(operation_id="app_cards_retrieve", responses={200: s.BoundCardSerializer, **APP_ERRORS})
    def get(self, request, card_no):
        return Response(s.BoundCardSerializer(selectors.binding_for(request.user, card_no)).data)

    @extend_schema(
        operation_id="app_cards_unbind",
        responses={204: OpenApiResponse(description="已解绑"), **APP_ERRORS},
        summary="解绑ETC卡",
    )
    def delete(self, request, card_no):
        binding_end(user=request.user, card_no=card_no)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CardDefaultTitleView(AppAPIView):
    @extend_schema(
        operation_id="app_cards_default_title",
        request=s.DefaultTitleSerializer,
        responses={200: s.BoundCardSerializer, **APP_ERRORS},
        summary="设置该卡的默认发票抬头",
    )
    def put(self, request, card_no):
        body = s.DefaultTitleSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        binding = binding_set_default_title(
            user=request.user, card_no=card_no, title_id=body.validated_data["title_id"]
        )
        return Response(s.BoundCardSerializer(binding).data)


# --- App: invoice titles ----------------------------------------------------------------------


class TitlesView(AppAPIView):
    @extend_schema(
        operation_id="app_titles_list",
        responses={200: s.InvoiceTitleSerializer(many=True), 401: ErrorSerializer},
        summary="我的发票抬头",
    )
    def get(self, request):
        return Response(s.InvoiceTitleSerializer(selectors.titles(request.user), many=True).data)

    @extend_schema(
        operation_id="app_titles_create",
        request=s.InvoiceTitleInputSerializer,
        responses={201: s.InvoiceTitleSerializer, **APP_ERRORS},
        summary="新增发票抬头",
    )
    def post(self, request):
        body = s.InvoiceTitleInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        title = invoice_title_create(user=request.user, **body.validated_data)
        return Response(s.InvoiceTitleSerializer(title).data, status=status.HTTP_201_CREATED)


class TitleDetailView(AppAPIView):
    @extend_schema(operation_id="app_titles_retrieve", responses={200: s.InvoiceTitleSerializer, **APP_ERRORS})
    def get(self, request, id):
        return Response(s.InvoiceTitleSerializer(selectors.title_for(request.user, id)).data)

    @extend_schema(
        operation_id="app_titles_update",
        request=s.InvoiceTitleInputSerializer(partial=True),
        responses={200: s.InvoiceTitleSerializer, **APP_ERRORS},
        summary="修改发票抬头",
    )
    def patch(self, request, id):
        body = s.InvoiceTitleInputSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        title = invoice_title_update(user=request.user, title_id=id, **body.validated_data)
        return Response(s.InvoiceTitleSerializer(title).data)

    @extend_schema(
        operation_id="app_titles_delete",
        responses={204: OpenApiResponse(description="已删除"), **APP_ERRORS},
        summary="删除发票抬头",
    )
    def delete(self, request, id):
        invoice_title_delete(user=request.user, title_id=id)
        return Response(status=status.HTTP_204_NO_CONTENT)
