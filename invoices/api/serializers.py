"""Shapes of the invoices app's API. Partner bulk bodies are validated item by item in
``invoices.ingest`` (fast plain-Python checks); these serializers describe them for the
OpenAPI schema and shape the App's answers."""

from rest_framework import serializers

from cards.models import PlateColor, VehicleClass

from ..models import InvoiceState, RoadSection


class BatchRejectionSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    id = serializers.CharField()
    code = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class BatchResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    not_owner = serializers.IntegerField(
        help_text="Items refused because the id names another partner's row (code `not_owner`, also listed in `rejected`)."
    )
    rejected = BatchRejectionSerializer(many=True)


class OperatorBatchResultSerializer(BatchResultSerializer):
    sections_created = serializers.IntegerField()
    sections_updated = serializers.IntegerField()


class SectionInSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=32)
    name = serializers.CharField(max_length=100)
    grade = serializers.ChoiceField(choices=RoadSection.Grade.values)
    property = serializers.ChoiceField(choices=RoadSection.Property.values)
    construction_start = serializers.DateField()
    simplified_method = serializers.BooleanField(default=True)


class OperatorInSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=32)
    name = serializers.CharField(max_length=100)
    tax_id = serializers.CharField(max_length=18, help_text="统一社会信用代码")
    address = serializers.CharField(max_length=200, required=False)
    phone = serializers.CharField(max_length=32, required=False)
    bank = serializers.CharField(max_length=100, required=False)
    bank_account = serializers.CharField(max_length=40, required=False)
    province_code = serializers.CharField(min_length=4, max_length=4)
    machine_no = serializers.CharField(min_length=12, max_length=12)
    sections = SectionInSerializer(many=True)


class OperatorBatchSerializer(serializers.Serializer):
    operators = OperatorInSerializer(many=True, max_length=5000)


class SegmentInSerializer(serializers.Serializer):
    section_code = serializers.CharField(max_length=32)
    fee = serializers.IntegerField(min_value=0, help_text="分")


class TransitInSerializer(serializers.Serializer):
    transit_id = serializers.CharField(max_length=64)
    card_no = serializers.CharField(min_length=20, max_length=20)
    plate = serializers.CharField(max_length=8)
    plate_color = serializers.ChoiceField(choices=PlateColor.values)
    vehicle_class = serializers.ChoiceField(choices=VehicleClass.values)
    entry_station = serializers.CharField(max_length=64)
    entry_time = serializers.DateTimeField()
    exit_station = serializers.CharField(max_length=64)
    exit_time = serializers.DateTimeField()
    fee = serializers.IntegerField(min_value=0, help_text="分；须等于各路段金额之和")
    segments = SegmentInSerializer(many=True)


class TransitBatchSerializer(serializers.Serializer):
    transits = TransitInSerializer(many=True, max_length=5000)


class RechargeInSerializer(serializers.Serializer):
    recharge_id = serializers.CharField(max_length=64)
    card_no = serializers.CharField(min_length=20, max_length=20)
    amount = serializers.IntegerField(min_value=1, help_text="分")
    recharged_at = serializers.DateTimeField()


class RechargeBatchSerializer(serializers.Serializer):
    recharges = RechargeInSerializer(many=True, max_length=5000)


# --- App answers -------------------------------------------------------------------------


class SegmentOutSerializer(serializers.Serializer):
    section_code = serializers.CharField()
    section_name = serializers.CharField()
    operator_name = serializers.CharField()
    fee = serializers.IntegerField()
    rate = serializers.CharField(allow_null=True, help_text='如 "0.09"；null 表示不征税')


class FutureInvoiceSerializer(serializers.Serializer):
    seller = serializers.CharField()
    rate = serializers.CharField(allow_null=True)


class TransitOutSerializer(serializers.Serializer):
    transit_id = serializers.CharField()
    plate = serializers.CharField()
    entry_station = serializers.CharField()
    entry_time = serializers.DateTimeField()
    exit_station = serializers.CharField()
    exit_time = serializers.DateTimeField()
    fee = serializers.IntegerField()
    segments = SegmentOutSerializer(many=True)
    invoice_state = serializers.ChoiceField(choices=InvoiceState.values)
    invoice_count = serializers.IntegerField(help_text="开票后将产生的发票张数：每个经营单位（及征税/不征税）各一张")
    invoices = FutureInvoiceSerializer(many=True)
    partly_invoiced = serializers.BooleanField(
        help_text="invoice_state 为 open，但有发票仍然有效（这次通行的另一张发票被红冲）：invoices 只列出待开的部分"
    )
    invoiced = FutureInvoiceSerializer(many=True, help_text="partly_invoiced 时仍然有效、不会重复开具的发票；否则为空")


class RechargeOutSerializer(serializers.Serializer):
    recharge_id = serializers.CharField()
    amount = serializers.IntegerField()
    recharged_at = serializers.DateTimeField()
    invoice_state = serializers.ChoiceField(choices=InvoiceState.values)


class TransitQuerySerializer(serializers.Serializer):
    card_no = serializers.CharField(max_length=20)
    month = serializers.RegexField(r"^\d{4}-(0[1-9]|1[0-2])$", required=False, help_text="YYYY-MM；缺省为本月")


class RechargeQuerySerializer(serializers.Serializer):
    card_no = serializers.CharField(max_length=20)
    month = serializers.RegexField(r"^\d{4}-(0[1-9]|1[0-2])$", required=False)
