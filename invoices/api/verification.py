"""``GET /api/v1/verify``: public invoice verification, no token. Every answer carries
``result`` as api.md names it; errors also carry the usual ``code``, ``message`` and ``errors``."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import AppTokenAuthentication
from piaogen.errors import ServiceError

from .. import verification
from ..verification import VerifyThrottle
from .invoicing import InvoiceSchema

__all__ = ["VerifyThrottle", "VerifyView"]


def seconds_to_midnight() -> int:
    now = timezone.localtime()
    return max(1, int((verification.day_end(now.date()) - now).total_seconds()))


class JSONAnswer(BaseContentNegotiation):
    """Every answer is JSON, whatever the client says it accepts: nothing to negotiate, so no
    Accept header to parse on each check."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class VerifyResultSchema(serializers.Serializer):
    result = serializers.ChoiceField(
        choices=[
            verification.GENUINE,
            verification.NOT_FOUND,
            verification.MISMATCH,
            verification.TOO_MANY,
            verification.MALFORMED,
        ]
    )
    invoice = InvoiceSchema(
        required=False, help_text="result 为 genuine 时返回；status 表示正常（normal）或已红冲（reversed）"
    )
    message = serializers.CharField(required=False)
    code = serializers.CharField(required=False)
    limit = serializers.ChoiceField(
        choices=[verification.LIMIT_INVOICE, verification.LIMIT_INVOICE_TOTAL, verification.LIMIT_CLIENT],
        required=False,
        help_text="too_many_checks 时：invoice 本客户端今天查验这张发票已超过上限；invoice_total 所有人合计已超过上限"
        "（发票所属账户登录或带令牌仍可查验）；client 本客户端每分钟的查验次数超限",
    )
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False)


def app_user(request):
    """The App user whose token the request carries, or None. Verification needs no token and
    a wrong one changes nothing; a right one lets the owner of the invoice check it without
    others' checks counting against them."""
    try:
        found = AppTokenAuthentication().authenticate(request)
    except exceptions.AuthenticationFailed:
        return None
    return found[0] if found else None


class VerifyView(APIView):
    replica_reads = True  # its GETs tolerate replica lag (piaogen/replica.py)
    authentication_classes: list = []
    permission_classes: list = []
    # The client's limit (VerifyThrottle) is applied by verification.check_request, which counts
    # it in the same Redis round trip as the invoice's checks.
    throttle_classes: list = []
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONAnswer

    def throttled(self, request, wait):
        raise ServiceError(
            verification.TOO_MANY,
            _("查验过于频繁，请稍后再试。"),
            status=429,
            extra={"result": verification.TOO_MANY, "limit": "client"},
            retry_after=int(wait or 1),
        )

    @extend_schema(
        operation_id="verify_invoice",
        summary="发票查验（公开，无需令牌）",
        description=(
            "按票据种类填写：增值税电子普通发票 code（12 位）+ number（8 位）+ date + check（校验码后 6 位）；"
            "通行费财政电子票据 code（8 位）+ number（10 位）+ date + check（6 位校验码，数字和 a–f）；"
            "数电发票 number（20 位）+ date + total（价税合计，元，如 97.33；红字发票为负数，如 -97.33）。"
            "document_kind 可省略：按 number 的位数（8/10/20）识别，否则有 total 为数电发票、code 为 8 位为财政电子票据，"
            "其余按增值税电子普通发票。输入有误时 400 malformed，errors 指出每个字段。"
            "同一客户端（网络地址）每天对同一张发票最多查验 VERIFY_MAX_CHECKS_PER_CLIENT_INVOICE 次（默认 5），"
            "所有人合计最多 VERIFY_MAX_CHECKS_PER_INVOICE 次（默认 50）；超过时 429 too_many_checks，limit 为 "
            "invoice（本客户端）或 invoice_total（合计），limit 为 client 表示每分钟的次数超限。"
            "带上发票所属账户的 App 令牌（可选）时，只计该账户自己的查验次数，不受他人查验的影响。"
        ),
        auth=[],
        parameters=[
            OpenApiParameter(
                "document_kind",
                str,
                required=False,
                enum=["vat_e_invoice", "fiscal_e_bill", "digital_e_invoice"],
                description="票据种类；省略时按 number 的位数等识别",
            ),
            OpenApiParameter(
                "code", str, required=False, description="发票代码 12 位（增值税）/ 票据代码 8 位（财政）；数电发票不填"
            ),
            OpenApiParameter("number", str, required=True, description="号码：增值税 8 位，财政 10 位，数电 20 位"),
            OpenApiParameter("date", str, required=True, description="开票日期 YYYYMMDD"),
            OpenApiParameter(
                "check",
                str,
                required=False,
                description="增值税：校验码后 6 位数字；财政：校验码（6 位，数字和 a–f）；数电发票不填",
            ),
            OpenApiParameter(
                "total",
                str,
                required=False,
                description="数电发票的价税合计，元，按票面填写，如 97.33；红字发票为负数，如 -97.33",
            ),
        ],
        responses={200: VerifyResultSchema, 400: VerifyResultSchema, 429: VerifyResultSchema},
    )
    def get(self, request):
        outcome = verification.check_request(request, self, request.query_params, user=app_user(request))
        if outcome.client_wait is not None:
            self.throttled(request, outcome.client_wait)
        if outcome.result == verification.MALFORMED:
            body = {"result": outcome.result, "code": "malformed", "message": outcome.message, "errors": outcome.errors}
            return Response(body, status=400)
        if outcome.result == verification.TOO_MANY:
            body = {
                "result": outcome.result,
                "code": outcome.result,
                "message": outcome.message,
                "errors": {},
                "limit": outcome.limit,
            }
            return Response(body, status=429, headers={"Retry-After": str(seconds_to_midnight())})
        if outcome.result == verification.GENUINE:
            return Response({"result": outcome.result, "invoice": outcome.record.as_json()})
        return Response({"result": outcome.result, "message": outcome.message})
