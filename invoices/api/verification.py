"""``GET /api/v1/verify``: public invoice verification, no token. Every answer carries
``result`` as api.md names it; errors also carry the usual ``code``, ``message`` and ``errors``."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from piaogen.errors import ServiceError

from .. import verification
from .invoicing import InvoiceSchema, invoice_json


class VerifyThrottle(SimpleRateThrottle):
    """Checks per client address (any invoice), beside the per-invoice daily limit that the
    database keeps."""

    scope = "verify"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def seconds_to_midnight() -> int:
    now = timezone.localtime()
    midnight = timezone.make_aware(datetime.combine(now.date() + timedelta(days=1), time.min))
    return max(1, int((midnight - now).total_seconds()))


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
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False)


class VerifyView(APIView):
    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes = [VerifyThrottle]

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
        auth=[],
        parameters=[
            OpenApiParameter("code", str, required=True, description="发票代码，12 位"),
            OpenApiParameter("number", str, required=True, description="发票号码，8 位"),
            OpenApiParameter("date", str, required=True, description="开票日期 YYYYMMDD"),
            OpenApiParameter("check", str, required=True, description="校验码后 6 位"),
        ],
        responses={200: VerifyResultSchema, 400: VerifyResultSchema, 429: VerifyResultSchema},
    )
    def get(self, request):
        outcome = verification.verify_params(request.query_params)
        if outcome.result == verification.MALFORMED:
            body = {"result": outcome.result, "code": "malformed", "message": outcome.message, "errors": outcome.errors}
            return Response(body, status=400)
        if outcome.result == verification.TOO_MANY:
            body = {
                "result": outcome.result,
                "code": outcome.result,
                "message": outcome.message,
                "errors": {},
                "limit": "invoice",
            }
            return Response(body, status=429, headers={"Retry-After": str(seconds_to_midnight())})
        if outcome.result == verification.GENUINE:
            return Response({"result": outcome.result, "invoice": invoice_json(outcome.invoice)})
        return Response({"result": outcome.result, "message": outcome.message})
