from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from accounts.audiences import AppAPIView, PartnerAPIView
from cards.selectors import binding_for
from piaogen import api_paging as paging
from piaogen.api import ErrorSerializer
from piaogen.renderers import FastJSONRenderer

from .. import ingest, selectors
from ..tax import rate_text
from . import serializers as s

PARTNER_ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer, 429: ErrorSerializer}


class OperatorBatchView(PartnerAPIView):
    partner_kinds = ("clearing",)
    batch_write = True  # one transaction: a database error stores nothing of the batch (503)

    @extend_schema(
        operation_id="partner_operators_upsert",
        request=s.OperatorBatchSerializer,
        responses={200: s.OperatorBatchResultSerializer, **PARTNER_ERRORS},
        summary="推送经营单位及其路段（清分结算中心）",
    )
    def post(self, request):
        return Response(ingest.operator_upsert_batch(partner=self.partner, body=request.data).as_dict())


class TransitBatchView(PartnerAPIView):
    partner_kinds = ("clearing",)
    batch_write = True  # one transaction: a database error stores nothing of the batch (503)

    @extend_schema(
        operation_id="partner_transits_upsert",
        request=s.TransitBatchSerializer,
        responses={200: s.BatchResultSerializer, **PARTNER_ERRORS},
        summary="推送通行记录及其拆分（清分结算中心）",
    )
    def post(self, request):
        return Response(ingest.transit_upsert_batch(partner=self.partner, body=request.data).as_dict())


class RechargeBatchView(PartnerAPIView):
    partner_kinds = ("issuer",)
    batch_write = True  # one transaction: a database error stores nothing of the batch (503)

    @extend_schema(
        operation_id="partner_recharges_upsert",
        request=s.RechargeBatchSerializer,
        responses={200: s.BatchResultSerializer, **PARTNER_ERRORS},
        summary="推送储值卡充值记录（发行方）",
    )
    def post(self, request):
        return Response(ingest.recharge_upsert_batch(partner=self.partner, body=request.data).as_dict())


TRANSITS_MAX_LIMIT = 500


def trip_json(trip: selectors.TripRow) -> dict:
    return {
        "transit_id": trip.transit_id,
        "plate": trip.plate,
        "entry_station": trip.entry_station,
        "entry_time": timezone.localtime(trip.entry_time).isoformat(),
        "exit_station": trip.exit_station,
        "exit_time": timezone.localtime(trip.exit_time).isoformat(),
        "fee": trip.fee,
        "segments": [
            {
                "section_code": seg.section_code,
                "section_name": seg.section_name,
                "operator_name": seg.operator_name,
                "fee": seg.fee,
                "rate": rate_text(seg.rate),
            }
            for seg in trip.segments
        ],
        "invoice_state": trip.state,
        "invoice_count": trip.invoice_count,
        "invoices": [{"seller": name, "rate": rate_text(rate)} for name, rate in trip.invoices],
        "partly_invoiced": trip.partly_invoiced,
        "invoiced": [{"seller": name, "rate": rate_text(rate)} for name, rate in trip.invoiced],
    }


class AppTransitsView(AppAPIView):
    replica_reads = True  # its GETs tolerate replica lag (piaogen/replica.py)
    renderer_classes = [FastJSONRenderer]

    @extend_schema(
        operation_id="app_transits_list",
        parameters=[
            OpenApiParameter("card_no", str, required=True),
            OpenApiParameter("month", str, required=False, description="YYYY-MM，缺省为本月"),
            *paging.parameters(None, TRANSITS_MAX_LIMIT),
            paging.LINK_HEADER,
        ],
        responses={200: s.TransitOutSerializer(many=True), 400: ErrorSerializer, 404: ErrorSerializer},
        summary="某张卡某月的通行记录及拆分（按出口时间升序）",
    )
    def get(self, request):
        q = s.TransitQuerySerializer(data=request.query_params)
        q.is_valid(raise_exception=True)
        limit, after = paging.page_request(
            request, default=None, maximum=TRANSITS_MAX_LIMIT, kinds=selectors.TRIP_CURSOR
        )
        binding = binding_for(request.user, q.validated_data["card_no"])
        month = q.validated_data.get("month") or timezone.localdate().strftime("%Y-%m")
        rows = selectors.card_month_trips(binding.card_id, month)
        if limit is None:  # the whole month, as the contract has it
            page = None
            trips = selectors.trip_rows(list(rows.order_by(*selectors.TRIP_ORDER)))
        else:
            page = selectors.keyset_page(rows, selectors.TRIP_ORDER, after=after, size=limit, restart=False)
            trips = selectors.trip_rows(page.rows)
        return paging.paged_response(request, [trip_json(t) for t in trips], page, limit)


class AppRechargesView(AppAPIView):
    replica_reads = True  # its GETs tolerate replica lag (piaogen/replica.py)
    renderer_classes = [FastJSONRenderer]

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
