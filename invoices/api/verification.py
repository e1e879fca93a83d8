"""``GET /api/v1/verify``: public invoice verification, no token. Every answer carries
``result`` as api.md names it; errors also carry the usual ``code``, ``message`` and ``errors``.

A GET is answered by ``verify_get``, a plain function of the request, through the lean route
(piaogen.middleware.LeanGetMiddleware): no DRF dispatch, no content negotiation, none of the
page middleware. ``VerifyView`` is the same endpoint for DRF: it describes it in the schema and
answers HEAD and OPTIONS (and a GET whenever the lean route is not in the middleware). Both
build their answer with ``answer``, so status codes, bodies and headers are the same."""

from __future__ import annotations

from django.db import DatabaseError
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import AppTokenAuthentication
from piaogen.api import database_unavailable
from piaogen.errors import ServiceError

from .. import verification
from ..verification import VerifyThrottle
from .invoicing import InvoiceSchema

__all__ = ["VerifyThrottle", "VerifyView", "answer", "verify_get"]


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
        status, body, headers = answer(outcome)
        return Response(body, status=status, headers=headers)


# DRF's Allow header of VerifyView, which verify_get answers too.
ALLOW = "GET, HEAD, OPTIONS"
_renderer = JSONRenderer()


def answer(outcome: verification.Outcome) -> tuple[int, dict, dict[str, str]]:
    """The status, body and extra headers of a check's answer (api.md)."""
    if outcome.client_wait is not None:
        refusal = ServiceError(
            verification.TOO_MANY,
            _("查验过于频繁，请稍后再试。"),
            status=429,
            extra={"result": verification.TOO_MANY, "limit": "client"},
            retry_after=int(outcome.client_wait or 1),
        )
        return refusal.status, refusal.as_dict(), {"Retry-After": str(refusal.retry_after)}
    if outcome.result == verification.MALFORMED:
        body = {"result": outcome.result, "code": "malformed", "message": outcome.message, "errors": outcome.errors}
        return 400, body, {}
    if outcome.result == verification.TOO_MANY:
        body = {
            "result": outcome.result,
            "code": outcome.result,
            "message": outcome.message,
            "errors": {},
            "limit": outcome.limit,
        }
        return 429, body, {"Retry-After": str(seconds_to_midnight())}
    if outcome.result == verification.GENUINE:
        return 200, {"result": outcome.result, "invoice": outcome.record.as_json()}, {}
    return 200, {"result": outcome.result, "message": outcome.message}, {}


def _json(status: int, body: dict, headers: dict[str, str]) -> HttpResponse:
    response = HttpResponse(_renderer.render(body), content_type=_renderer.media_type, status=status)
    response["Allow"] = ALLOW
    for name, value in headers.items():
        response[name] = value
    return response


def verify_get(request) -> HttpResponse:
    """``GET /api/v1/verify`` as VerifyView answers it, for the lean route: the same check
    (verification.check_request: the client's limit and the invoice's in one Redis round
    trip, then one query), the same answer, rendered by the same JSON renderer; a database
    error is the API's 503, as DRF's exception handler makes it."""
    try:
        outcome = verification.check_request(request, None, request.GET, user=app_user(request))
        return _json(*answer(outcome))
    except DatabaseError as exc:
        refusal = database_unavailable(exc, {"view": VerifyView()})
        return _json(refusal.status_code, refusal.data, {"Retry-After": refusal["Retry-After"]})


VerifyView.lean_get = staticmethod(verify_get)
