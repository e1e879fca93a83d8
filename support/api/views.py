"""The contact centre's App endpoints: the user's tickets, the FAQ search and the message centre."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response

from accounts.audiences import AppAPIView
from cards.identity import normalize_card_no
from cards.models import Card
from invoices.models import Application, Invoice, Transit
from invoices.selectors import by_transit_ids, invoice_month
from piaogen.api import ErrorSerializer
from piaogen.cursors import decode_cursor, encode_cursor
from piaogen.errors import ServiceError

from .. import notifications, selectors, services
from ..models import Ticket, TicketMessage
from ..views import render_answer
from . import serializers as s

ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 404: ErrorSerializer, 429: ErrorSerializer}


def _tickets(user):
    unread = TicketMessage.objects.filter(
        ticket=OuterRef("pk"), kind=TicketMessage.Kind.PUBLIC_REPLY, seen_by_customer_at__isnull=True
    )
    return (
        selectors.tickets_of(user)
        .select_related("card", "transit")
        .defer("card__id_number", "card__mobile")
        .annotate(has_unread=Exists(unread))
    )


def _detail(ticket: Ticket, user) -> dict:
    ticket.thread = list(selectors.public_messages(ticket))
    services.ticket_mark_seen(ticket=ticket, user=user)
    return s.TicketDetailOutSerializer(ticket).data


def _own(model_qs, field: str, value, message: str):
    obj = model_qs.first() if value not in (None, "") else None
    if value not in (None, "") and obj is None:
        raise ServiceError("invalid", message, errors={field: [message]})
    return obj


class TicketsView(AppAPIView):
    @extend_schema(
        operation_id="app_support_tickets_list",
        responses={200: s.TicketOutSerializer(many=True), 401: ErrorSerializer},
        summary="我的工单（最近 100 个）",
    )
    def get(self, request):
        return Response(s.TicketOutSerializer(_tickets(request.user)[:100], many=True).data)

    @extend_schema(
        operation_id="app_support_tickets_create",
        request=s.TicketInSerializer,
        responses={201: s.TicketDetailOutSerializer, **ERRORS},
        summary="提交工单（App 在线客服）；提交前可用 GET faq?q= 展示相关解答",
    )
    def post(self, request):
        body = s.TicketInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        d = body.validated_data
        user = request.user
        card_no = normalize_card_no(d.get("card_no") or "")
        card = _own(
            Card.objects.filter(card_no=card_no, bindings__user=user).defer("id_number", "mobile"),
            "card_no",
            card_no,
            _("只能附上您绑定过的ETC卡。"),
        )
        transit = _own(
            Transit.objects.filter(
                by_transit_ids([d.get("transit_id")]), card__bindings__user=user, card__bindings__ended_at__isnull=True
            ),
            "transit_id",
            d.get("transit_id"),
            _("只能附上您已绑定的卡的通行记录。"),
        )
        application = _own(
            Application.objects.filter(pk=d.get("application_id") or 0, user=user),
            "application_id",
            d.get("application_id"),
            _("只能附上您自己的开票申请。"),
        )
        invoice = _own(
            Invoice.objects.filter(
                pk=d.get("invoice_id") or 0, user=user, month=invoice_month(d.get("invoice_id") or 0)
            ),
            "invoice_id",
            d.get("invoice_id"),
            _("只能附上您自己的发票。"),
        )
        ticket = services.ticket_open(
            user=user,
            channel=Ticket.Channel.APP_CHAT,
            category=d["category"],
            subject=d["subject"],
            description=d["description"],
            card=card,
            transit=transit,
            application=application,
            invoice=invoice,
        )
        return Response(_detail(_tickets(user).get(pk=ticket.pk), user), status=status.HTTP_201_CREATED)


class TicketView(AppAPIView):
    @extend_schema(
        operation_id="app_support_ticket_detail",
        responses={200: s.TicketDetailOutSerializer, 401: ErrorSerializer, 404: ErrorSerializer},
        summary="工单详情与沟通记录（查看即标记客服回复为已读）",
    )
    def get(self, request, pk: int):
        ticket = selectors.ticket_of(request.user, pk)
        ticket = _tickets(request.user).get(pk=ticket.pk)
        return Response(_detail(ticket, request.user))


class TicketMessagesView(AppAPIView):
    @extend_schema(
        operation_id="app_support_ticket_messages_create",
        request=s.MessageInSerializer,
        responses={201: s.MessageOutSerializer, **ERRORS},
        summary="补充说明",
    )
    def post(self, request, pk: int):
        ticket = selectors.ticket_of(request.user, pk)
        body = s.MessageInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        message = services.ticket_customer_message(ticket=ticket, user=request.user, body=body.validated_data["body"])
        return Response(s.MessageOutSerializer(message).data, status=status.HTTP_201_CREATED)


class TicketRateView(AppAPIView):
    @extend_schema(
        operation_id="app_support_ticket_rate",
        request=s.RateInSerializer,
        responses={200: s.TicketOutSerializer, **ERRORS},
        summary="评价已解决的工单（每个工单一次）",
    )
    def post(self, request, pk: int):
        ticket = selectors.ticket_of(request.user, pk)
        body = s.RateInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.ticket_rate(ticket=ticket, user=request.user, **body.validated_data)
        return Response(s.TicketOutSerializer(_tickets(request.user).get(pk=ticket.pk)).data)


class TicketReopenView(AppAPIView):
    @extend_schema(
        operation_id="app_support_ticket_reopen",
        request=s.ReopenInSerializer,
        responses={200: s.TicketOutSerializer, **ERRORS},
        summary="重新打开已解决的工单（解决后 7 天内）",
    )
    def post(self, request, pk: int):
        ticket = selectors.ticket_of(request.user, pk)
        body = s.ReopenInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.ticket_reopen(ticket=ticket, by=request.user, reason=body.validated_data["reason"])
        return Response(s.TicketOutSerializer(_tickets(request.user).get(pk=ticket.pk)).data)


class FaqView(AppAPIView):
    @extend_schema(
        operation_id="app_support_faq_search",
        parameters=[OpenApiParameter("q", str, required=False, description="问题，中文分词检索；缺省返回全部")],
        responses={200: s.FaqOutSerializer(many=True), 400: ErrorSerializer, 401: ErrorSerializer},
        summary="常见问题（可检索）",
    )
    def get(self, request):
        q = s.FaqQuerySerializer(data=request.query_params)
        q.is_valid(raise_exception=True)
        query = q.validated_data.get("q", "").strip()
        faqs = (
            selectors.faq_search(query)
            if query
            else list(selectors.published_faqs().order_by("category__ordering", "ordering", "id")[:100])
        )
        for faq in faqs:
            faq.rendered_answer = render_answer(faq.answer)
            faq.link_url = selectors.faq_link(faq)
        return Response(s.FaqOutSerializer(faqs, many=True).data)


# --- the message centre -------------------------------------------------------------------------

# The message centre's cursors of before the one format (piaogen.cursors) were signed with this salt.
LEGACY_CURSOR_SALT = "support.notifications"


def _decode_cursor(value: str) -> tuple[datetime, int]:
    try:
        at, pk = decode_cursor(value, (datetime, int), signed_salt=LEGACY_CURSOR_SALT)
    except ValueError:
        message = _("cursor 无效，请使用上一页返回的 next。")
        raise ServiceError("invalid", message, errors={"cursor": [message]}) from None
    return at, pk


class NotificationsView(AppAPIView):
    @extend_schema(
        operation_id="app_support_notifications_list",
        parameters=[
            OpenApiParameter("unread", bool, required=False, description="1 只返回未读消息"),
            OpenApiParameter("cursor", str, required=False, description="上一页返回的 next"),
            OpenApiParameter("limit", int, required=False, description="每页条数，1–100，默认 20"),
        ],
        responses={200: s.NotificationPageSerializer, 400: ErrorSerializer, 401: ErrorSerializer},
        summary="消息中心：我的站内消息（新的在前，分页）",
    )
    def get(self, request):
        q = s.NotificationQuerySerializer(data=request.query_params)
        q.is_valid(raise_exception=True)
        d = q.validated_data
        found = selectors.notifications_of(request.user, unread=d["unread"])
        if d.get("cursor"):
            at, pk = _decode_cursor(d["cursor"])
            found = found.filter(Q(created_at__lt=at) | Q(created_at=at, pk__lt=pk))
        rows = list(found[: d["limit"] + 1])
        more = len(rows) > d["limit"]
        rows = rows[: d["limit"]]
        return Response(
            {
                "results": s.NotificationOutSerializer(rows, many=True).data,
                "next": encode_cursor((rows[-1].created_at, rows[-1].pk)) if more else None,
                "unread_count": selectors.unread_notification_count(request.user),
            }
        )


class NotificationReadView(AppAPIView):
    @extend_schema(
        operation_id="app_support_notification_read",
        request=None,
        responses={200: s.NotificationOutSerializer, 401: ErrorSerializer, 404: ErrorSerializer},
        summary="把一条消息标为已读（重复调用不变）",
    )
    def post(self, request, pk: int):
        notification = notifications.notification_mark_read(user=request.user, notification_id=pk)
        return Response(s.NotificationOutSerializer(notification).data)


class NotificationsReadAllView(AppAPIView):
    @extend_schema(
        operation_id="app_support_notifications_read_all",
        request=None,
        responses={200: s.NotificationsReadAllSerializer, 401: ErrorSerializer},
        summary="全部标为已读",
    )
    def post(self, request):
        updated = notifications.notification_mark_all_read(user=request.user)
        return Response({"updated": updated, "unread_count": 0})
