from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from cards.selectors import binding_for
from piaogen.api import AppAPIView, ErrorSerializer, PartnerAPIView

from .. import ingest, selectors
from ..tax import rate_decimal
from . import serializers as s

PARTNER_ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer, 429: ErrorSerializer}


class OperatorBatchView(PartnerAPIView):
    partner_kinds = ("clearing",)
    batch_write = True  # one transaction: a database error stores nothing of the batch (503)

    @extend_schema(
        operation_id="partner_operators_upsert", request=s.OperatorBatchSerializer,
        responses={200: s.OperatorBatchResultSerializer, **PARTNER_ERRORS},
        summary="推送经营单位及其路段（清分结算中心）",
    )
    def post(self, request):
        return Response(ingest.operator_upsert_batch(partner=self.partner, body=request.data).as_dict())


class TransitBatchView(PartnerAPIView):
    partner_kinds = ("clearing",)
    batch_write = True  # one transaction: a database error stores nothing of the batch (503)

    @extend_schema(
        operation_id="partner_transits_upsert", request=s.TransitBatchSerializer,
        responses={200: s.BatchResultSerializer, **PARTNER_ERRORS},
        summary="推送通行记录及其拆分（清分结算中心）",
    )
    def post(self, request):
        return Response(ingest.transit_upsert_batch(partner=self.partner, body=request.data).as_dict())


class RechargeBatchView(PartnerAPIView):
    partner_kinds = ("issuer",)
    batch_write = True  # one transaction: a database error stores nothing of the batch (503)

    @extend_schema(
        operation_id="partner_recharges_upsert", request=s.RechargeBatchSerializer,
        responses={200: s.BatchResultSerializer, **PARTNER_ERRORS},
        summary="推送储值卡充值记录（发行方）",
    )
    def post(self, request):
        return Response(ingest.recharge_upsert_batch(partner=self.partner, body=request.data).as_dict())


def _rate(percent):
    value = rate_decimal(percent)
    return None if value is None else str(value)


def trip_json(trip) -> dict:
    t = trip.transit
    return {
        "transit_id": t.transit_id,
        "plate": t.plate,
        "entry_station": t.entry_station,
        "entry_time": timezone.localtime(t.entry_time).isoformat(),
        "exit_station": t.exit_station,
        "exit_time": timezone.localtime(t.exit_time).isoformat(),
        "fee": t.fee,
        "segments": [
            {
                "section_code": seg.section_code,
                "section_name": seg.section_name,
                "operator_name": seg.operator_name,
                "fee": seg.fee,
                "rate": _rate(seg.rate),
            }
            for seg in trip.segments
        ],
        "invoice_state": t.state,
        "invoice_count": trip.invoice_count,
        "invoices": [{"seller": name, "rate": _rate(rate)} for name, rate in trip.invoices],
    }


class AppTransitsView(AppAPIView):
    @extend_schema(
        operation_id="app_transits_list",
        parameters=[
            OpenApiParameter("card_no", str, required=True),
            OpenApiParameter("month", str, required=False, description="YYYY-MM，缺省为本月"),
        ],
        responses={200: s.TransitOutSerializer(many=True), 400: ErrorSerializer, 404: ErrorSerializer},
        summary="某张卡某月的通行记录及拆分",
    )
    def get(self, request):
        q = s.TransitQuerySerializer(data=request.query_params)
        q.is_valid(raise_exception=True)
        binding = binding_for(request.user, q.validated_data["card_no"])
        month = q.validated_data.get("month") or timezone.localdate().strftime("%Y-%m")
        trips = selectors.trip_views(selectors.transits_for_card(binding.card_id, month))
        return Response([trip_json(t) for t in trips])


class AppRechargesView(AppAPIView):
    @extend_schema(
        operation_id="app_recharges_list",
        parameters=[OpenApiParameter("card_no", str, required=True), OpenApiParameter("month", str, required=False)],
        responses={200: s.RechargeOutSerializer(many=True), 400: ErrorSerializer, 404: ErrorSerializer},
        summary="储值卡的充值记录",
    )
    def get(self, request):
        q = s.RechargeQuerySerializer(data=request.query_params)
        q.is_valid(raise_exception=True)
        binding = binding_for(request.user, q.validated_data["card_no"])
        rows = selectors.recharges_for_card(binding.card_id, q.validated_data.get("month"))[:500]
        return Response(
            [
                {
                    "recharge_id": r.recharge_id,
                    "amount": r.amount,
                    "recharged_at": timezone.localtime(r.recharged_at).isoformat(),
                    "invoice_state": r.state,
                }
                for r in rows
            ]
        )
