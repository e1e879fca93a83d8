"""Shapes of the contact centre's App API."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..models import Category, Notification, Ticket
from ..services import BODY_MAX, SUBJECT_MAX


class TicketInSerializer(serializers.Serializer):
    category = serializers.ChoiceField(choices=Category.values)
    subject = serializers.CharField(max_length=SUBJECT_MAX)
    description = serializers.CharField(max_length=BODY_MAX)
    card_no = serializers.CharField(max_length=32, required=False, allow_blank=True, help_text="您绑定过的ETC卡")
    transit_id = serializers.CharField(
        max_length=64, required=False, allow_blank=True, help_text="您已绑定的卡的通行记录"
    )
    application_id = serializers.IntegerField(required=False, min_value=1, max_value=2**62)
    invoice_id = serializers.IntegerField(required=False, min_value=1, max_value=2**62)


class MessageInSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=BODY_MAX)


class RateInSerializer(serializers.Serializer):
    rating = serializers.IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class ReopenInSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=BODY_MAX)


class FaqQuerySerializer(serializers.Serializer):
    q = serializers.CharField(max_length=200, required=False, allow_blank=True)


class HandoffSerializer(serializers.Serializer):
    to = serializers.CharField()
    reference = serializers.CharField()


class AttachmentsSerializer(serializers.Serializer):
    card_no = serializers.CharField(allow_null=True)
    transit_id = serializers.CharField(allow_null=True)
    application_id = serializers.IntegerField(allow_null=True)
    invoice_id = serializers.IntegerField(allow_null=True)


class TicketOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    ref = serializers.CharField(help_text="工单号，如 T00000012")
    channel = serializers.ChoiceField(choices=Ticket.Channel.choices)
    category = serializers.ChoiceField(choices=Category.values)
    category_label = serializers.CharField(source="get_category_display")
    subject = serializers.CharField()
    status = serializers.ChoiceField(choices=Ticket.Status.choices)
    status_label = serializers.CharField(source="get_status_display")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    due_at = serializers.DateTimeField(help_text="预计解决时间（按分类的服务时限）")
    resolved_at = serializers.DateTimeField(allow_null=True)
    unread = serializers.SerializerMethodField(help_text="有未读的客服回复")
    handoff = serializers.SerializerMethodField()
    attachments = serializers.SerializerMethodField()
    rating = serializers.IntegerField(allow_null=True)
    rating_comment = serializers.CharField()
    can_reopen = serializers.SerializerMethodField()
    can_rate = serializers.SerializerMethodField()

    @extend_schema_field(serializers.BooleanField())
    def get_unread(self, obj) -> bool:
        return bool(getattr(obj, "has_unread", False))

    @extend_schema_field(HandoffSerializer(allow_null=True))
    def get_handoff(self, obj):
        if not obj.handoff_to:
            return None
        return {"to": obj.handoff_to, "reference": obj.handoff_reference}

    @extend_schema_field(AttachmentsSerializer())
    def get_attachments(self, obj):
        return {
            "card_no": obj.card.card_no if obj.card_id else None,
            "transit_id": obj.transit.transit_id if obj.transit_id else None,
            "application_id": obj.application_id,
            "invoice_id": obj.invoice_id,
        }

    @extend_schema_field(serializers.BooleanField())
    def get_can_reopen(self, obj) -> bool:
        return obj.status == Ticket.Status.RESOLVED

    @extend_schema_field(serializers.BooleanField())
    def get_can_rate(self, obj) -> bool:
        return obj.status in Ticket.DONE and obj.rating is None


class MessageOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(
        choices=["customer", "public_reply"], help_text="customer 用户留言；public_reply 客服回复"
    )
    body = serializers.CharField()
    created_at = serializers.DateTimeField()


class TicketDetailOutSerializer(TicketOutSerializer):
    messages = MessageOutSerializer(many=True, source="thread")


class FaqLinkSerializer(serializers.Serializer):
    url = serializers.CharField()
    label = serializers.CharField()


class FaqOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    category = serializers.CharField(source="category.code")
    category_name = serializers.CharField(source="category.name")
    question = serializers.CharField()
    answer = serializers.CharField(source="rendered_answer")
    link = serializers.SerializerMethodField()

    @extend_schema_field(FaqLinkSerializer(allow_null=True))
    def get_link(self, obj):
        return {"url": obj.link_url, "label": obj.link_label} if obj.link_url else None


# --- the message centre ---------------------------------------------------------------------


class NotificationQuerySerializer(serializers.Serializer):
    unread = serializers.BooleanField(required=False, default=False)
    cursor = serializers.CharField(max_length=200, required=False, allow_blank=True)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=100, default=20)


class NotificationOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(
        choices=Notification.Kind.choices,
        help_text="binding_ended ETC卡解绑；invoices_issued 发票已开具；application_failed 开票失败；ticket_reply 工单回复；cap_lifted 绑卡限制已解除",
    )
    kind_label = serializers.CharField(source="get_kind_display")
    title = serializers.CharField()
    body = serializers.CharField()
    link = serializers.CharField(help_text="网站上的相关页面路径，如 /applications/12/")
    application_id = serializers.IntegerField(allow_null=True, help_text="相关开票申请（GET applications/<id>）")
    ticket_id = serializers.IntegerField(allow_null=True, help_text="相关工单（GET tickets/<id>）")
    created_at = serializers.DateTimeField()
    read_at = serializers.DateTimeField(allow_null=True)
    read = serializers.BooleanField(source="is_read")


class NotificationPageSerializer(serializers.Serializer):
    results = NotificationOutSerializer(many=True)
    next = serializers.CharField(allow_null=True, help_text="下一页的 cursor；没有更多时为 null")
    unread_count = serializers.IntegerField(help_text="未读消息数（最多计到 100）")


class NotificationsReadAllSerializer(serializers.Serializer):
    updated = serializers.IntegerField(help_text="本次标为已读的消息数")
    unread_count = serializers.IntegerField()
