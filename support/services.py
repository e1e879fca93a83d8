"""Every write of the contact centre: tickets, their messages, hand-offs, ratings, calls.

Keyword-only, atomic, refusals as ``ServiceError``. Status flow of a ticket:

    new ──assign/staff reply──▶ open ◀──customer message── waiting_customer
     │                           │  ▲                          ▲
     │                           │  └──── staff reply ─────────┘ (public reply → waiting_customer)
     └──────────── hand off ─────┴──▶ handed_off ──staff reply / customer message──▶ …
    any active ──resolve──▶ resolved ──close──▶ closed
    resolved ──reopen (customer, within REOPEN_DAYS; or supervisor)──▶ open
    closed ──reopen (supervisor only)──▶ open

A public reply tells the customer three ways: a notice on their next page (the reply stays
unseen until they read the ticket), a message in their message centre (``notifications``) and
an SMS sent after the transaction commits.

Every change staff make leaves a history row (django-simple-history) naming who made it and
why: the action, and the reason or reference staff gave with it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, cast

from django.conf import settings
from django.db import transaction
from django.db.models import Field
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts import services as account_services
from accounts.identity import normalize_mobile
from accounts.models import User, mobile_digest
from accounts.sms import SmsMessage
from cards.models import Binding, Card, Issuer
from invoices.models import Application, Invoice, Operator, Transit
from piaogen.errors import ServiceError
from piaogen.i18n import speaking_to
from piaogen.masking import mask_mobile, mask_text

from . import notifications
from .models import CATEGORY_QUEUE, Call, Category, Queue, Reveal, SlaPolicy, Ticket, TicketMessage

logger = logging.getLogger(__name__)

REOPEN_DAYS = 7  # a customer may reopen a resolved ticket within this many days
OPEN_TICKETS_PER_DAY = 10  # tickets one account may open in a day (abuse guard)
SUBJECT_MAX = 120
BODY_MAX = 4000
CALL_SUBJECT = gettext_lazy("来电咨询：%(category)s")
TICKET_SMS = gettext_lazy("【票根】您的工单{ref}有新的客服回复，请登录票根网站或App的“客服中心”查看。")

PERM_ASSIGN = "support.assign"
PERM_REOPEN = "support.reopen"
PERM_CHANGE = "support.change_ticket"
PERM_CALL = "support.add_call"
PERM_REVEAL = "support.reveal"


# --- helpers -----------------------------------------------------------------------------


def _invalid(field: str, message: str) -> ServiceError:
    return ServiceError("invalid", message, errors={field: [message]})


def _require_staff(by: User, perm: str) -> None:
    if not (by.is_active and by.is_staff and by.has_perm(perm)):
        raise ServiceError("forbidden", _("您没有执行此操作的权限。"), status=403)


def _clean_text(value: str, *, field: str, max_length: int, label: str) -> str:
    value = (value or "").strip()
    if not value:
        raise _invalid(field, _("请填写%(label)s。") % {"label": label})
    if len(value) > max_length:
        raise _invalid(field, _("%(label)s不能超过 %(n)s 个字。") % {"label": label, "n": max_length})
    return value


def _locked(ticket: Ticket) -> Ticket:
    return Ticket.objects.select_for_update().get(pk=ticket.pk)


def _audit(obj, by: User | None, why: str) -> None:
    """Who and why, for the history row the next save writes (outside a request too). The
    reason may quote what staff typed: any personal number in it is masked."""
    if by is not None:
        obj._history_user = by
    obj._change_reason = mask_text(why)[:100]


def _touch(ticket: Ticket, *fields: str, by: User | None = None, why: str = "") -> None:
    ticket.updated_at = timezone.now()
    _audit(ticket, by, why)
    ticket.save(update_fields=[*fields, "updated_at"])


def _staff_name(user: User) -> str:
    return user.name or user.mobile_masked


def _refuse_if_done(ticket: Ticket) -> None:
    if ticket.status == Ticket.Status.CLOSED:
        raise ServiceError("ticket_closed", _("工单已关闭，如有新问题请提交新的工单。"))
    if ticket.status == Ticket.Status.RESOLVED:
        raise ServiceError("ticket_resolved", _("工单已解决；问题仍未解决的，请先重新打开工单。"))


def _attachments_of(
    user: User,
    *,
    card: Card | None,
    transit: Transit | None,
    invoice: Invoice | None,
    application: Application | None,
) -> None:
    """Refuses anything attached that is not the user's own."""
    bound_cards = set(Binding.objects.filter(user=user).values_list("card_id", flat=True))
    if card is not None and card.pk not in bound_cards:
        raise _invalid("card", _("只能附上您绑定过的ETC卡。"))
    active = set(Binding.objects.filter(user=user, ended_at__isnull=True).values_list("card_id", flat=True))
    if transit is not None and transit.card_id not in active:
        raise _invalid("transit", _("只能附上您已绑定的卡的通行记录。"))
    if invoice is not None and invoice.user_id != user.pk:
        raise _invalid("invoice", _("只能附上您自己的发票。"))
    if application is not None and application.user_id != user.pk:
        raise _invalid("application", _("只能附上您自己的开票申请。"))


def _notify_reply(ticket: Ticket) -> None:
    """SMS to the customer: written to the outbox with the reply, sent by a task once it is
    committed; a failed SMS never undoes the reply."""
    user = User.objects.filter(pk=ticket.user_id).first()
    if user is None or not user.mobile:
        return
    ids = account_services.sms_outbox_add(
        [SmsMessage(mobile=user.mobile, text=str(TICKET_SMS).format(ref=ticket.ref), purpose="ticket_reply")]
    )
    transaction.on_commit(lambda: account_services.sms_queue(ids))


# --- tickets -----------------------------------------------------------------------------


@transaction.atomic
def ticket_open(
    *,
    user: User,
    channel: str,
    category: str,
    subject: str,
    description: str,
    priority: str = Ticket.Priority.NORMAL,
    card: Card | None = None,
    transit: Transit | None = None,
    invoice: Invoice | None = None,
    application: Application | None = None,
    by: User | None = None,
) -> Ticket:
    """Opens a ticket for ``user``; ``by`` is the agent when staff open it for a caller."""
    if channel not in Ticket.Channel.values:
        raise _invalid("channel", _("渠道无效。"))
    if category not in Category.values:
        raise _invalid("category", _("请选择问题分类。"))
    if priority not in Ticket.Priority.values:
        raise _invalid("priority", _("优先级无效。"))
    subject = _clean_text(subject, field="subject", max_length=SUBJECT_MAX, label=_("主题"))
    description = _clean_text(description, field="description", max_length=BODY_MAX, label=_("问题描述"))
    if by is not None:
        _require_staff(by, "support.add_ticket")
    elif priority != Ticket.Priority.NORMAL:
        raise _invalid("priority", _("优先级由客服设定。"))
    _attachments_of(user, card=card, transit=transit, invoice=invoice, application=application)
    now = timezone.now()
    User.objects.select_for_update().filter(pk=user.pk).first()  # serialise one account's openings
    if by is None:
        today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
        if Ticket.objects.filter(user=user, created_at__gte=today).count() >= OPEN_TICKETS_PER_DAY:
            raise ServiceError(
                "too_many_tickets",
                _("您今天提交的工单已达 %(n)s 个，请在已有工单中补充说明，或拨打客服热线 %(hotline)s。")
                % {"n": OPEN_TICKETS_PER_DAY, "hotline": settings.SUPPORT_HOTLINE},
                status=429,
            )
    ticket = Ticket(
        user=user,
        channel=channel,
        category=category,
        subject=subject,
        priority=priority,
        # CATEGORY_QUEUE is keyed by Category members, which a plain str finds (they are strs).
        group=CATEGORY_QUEUE.get(category, Queue.FRONTLINE),  # type: ignore[call-overload]
        due_at=SlaPolicy.due_at(category=category, priority=priority, start=now),
        card=card,
        transit=transit,
        invoice=invoice,
        application=application,
        created_at=now,
        updated_at=now,
    )
    if by is not None:
        _audit(ticket, by, _("客服代用户提交（%(channel)s）") % {"channel": ticket.get_channel_display()})
    else:
        _audit(ticket, user, _("用户提交（%(channel)s）") % {"channel": ticket.get_channel_display()})
    ticket.save(force_insert=True)
    # What staff write when opening a ticket for a caller is their note of the case, not the
    # customer's words: it stays inside the centre.
    TicketMessage.objects.create(
        ticket=ticket,
        author=by or user,
        kind=TicketMessage.Kind.INTERNAL_NOTE if by is not None else TicketMessage.Kind.CUSTOMER,
        body=description,
        created_at=now,
    )
    logger.info("ticket opened id=%s user=%s channel=%s category=%s", ticket.pk, user.pk, channel, category)
    return ticket


@transaction.atomic
def ticket_update(
    *, ticket: Ticket, by: User, category: str | None = None, priority: str | None = None, group: str | None = None
) -> Ticket:
    """Staff re-file a ticket; a new category or priority moves its due time."""
    _require_staff(by, PERM_CHANGE)
    ticket = _locked(ticket)
    if ticket.status == Ticket.Status.CLOSED:
        raise ServiceError("ticket_closed", _("工单已关闭，不能修改。"))
    fields = []
    if category is not None and category != ticket.category:
        if category not in Category.values:
            raise _invalid("category", _("分类无效。"))
        ticket.category = category
        fields.append("category")
    if priority is not None and priority != ticket.priority:
        if priority not in Ticket.Priority.values:
            raise _invalid("priority", _("优先级无效。"))
        ticket.priority = priority
        fields.append("priority")
    if group is not None and group != ticket.group:
        if group not in Queue.values:
            raise _invalid("group", _("队列无效。"))
        ticket.group = group
        fields.append("group")
    if {"category", "priority"} & set(fields):
        ticket.due_at = SlaPolicy.due_at(category=ticket.category, priority=ticket.priority, start=ticket.created_at)
        fields.append("due_at")
    if fields:
        changed = "、".join(
            str(cast("Field[Any, Any]", Ticket._meta.get_field(f)).verbose_name) for f in fields if f != "due_at"
        )
        _touch(ticket, *fields, by=by, why=_("重新归类：%(fields)s") % {"fields": changed})
    return ticket


@transaction.atomic
def ticket_reply(*, ticket: Ticket, by: User, body: str, notify: bool = True) -> TicketMessage:
    """A public reply of staff: the customer sees it and is told (notice and SMS)."""
    _require_staff(by, PERM_CHANGE)
    body = _clean_text(body, field="body", max_length=BODY_MAX, label=_("回复内容"))
    ticket = _locked(ticket)
    _refuse_if_done(ticket)
    message = TicketMessage.objects.create(ticket=ticket, author=by, kind=TicketMessage.Kind.PUBLIC_REPLY, body=body)
    fields = []
    if ticket.status != Ticket.Status.HANDED_OFF:
        ticket.status = Ticket.Status.WAITING_CUSTOMER
        fields.append("status")
    if ticket.assignee_id is None:
        ticket.assignee = by
        fields.append("assignee")
    _touch(ticket, *fields, by=by, why=_("回复用户"))
    notifications.notify_ticket_reply(ticket=ticket, message=message)
    if notify:
        _notify_reply(ticket)
    return message


@transaction.atomic
def ticket_note(*, ticket: Ticket, by: User, body: str) -> TicketMessage:
    """An internal note: staff only, never shown to the customer."""
    _require_staff(by, PERM_CHANGE)
    body = _clean_text(body, field="body", max_length=BODY_MAX, label=_("备注内容"))
    ticket = _locked(ticket)
    message = TicketMessage.objects.create(ticket=ticket, author=by, kind=TicketMessage.Kind.INTERNAL_NOTE, body=body)
    _touch(ticket, by=by, why=_("内部备注"))
    return message


@transaction.atomic
def ticket_customer_message(*, ticket: Ticket, user: User, body: str) -> TicketMessage:
    """The customer adds to their own ticket (the caller scoped ``ticket`` to ``user``)."""
    if ticket.user_id != user.pk:
        raise ServiceError("not_found", _("找不到该工单。"), status=404)
    body = _clean_text(body, field="body", max_length=BODY_MAX, label=_("留言内容"))
    ticket = _locked(ticket)
    _refuse_if_done(ticket)
    message = TicketMessage.objects.create(ticket=ticket, author=user, kind=TicketMessage.Kind.CUSTOMER, body=body)
    fields = []
    if ticket.status == Ticket.Status.WAITING_CUSTOMER:
        ticket.status = Ticket.Status.OPEN
        fields.append("status")
    _touch(ticket, *fields, by=user, why=_("用户补充说明"))
    return message


@transaction.atomic
def ticket_mark_seen(*, ticket: Ticket, user: User) -> int:
    """The customer read their ticket: its replies stop being announced, and their messages in
    the message centre are read."""
    if ticket.user_id != user.pk:
        return 0
    notifications.notifications_mark_ticket_read(user=user, ticket=ticket)
    return TicketMessage.objects.filter(
        ticket=ticket, kind=TicketMessage.Kind.PUBLIC_REPLY, seen_by_customer_at__isnull=True
    ).update(seen_by_customer_at=timezone.now())


@transaction.atomic
def ticket_assign(*, ticket: Ticket, assignee: User, by: User) -> Ticket:
    """Anyone handling tickets may take one; giving it to someone else needs ``support.assign``."""
    _require_staff(by, PERM_CHANGE if assignee.pk == by.pk else PERM_ASSIGN)
    if not (assignee.is_active and assignee.is_staff and assignee.has_perm(PERM_CHANGE)):
        raise _invalid("assignee", _("只能指派给可以处理工单的在岗客服。"))
    ticket = _locked(ticket)
    _refuse_if_done(ticket)
    if ticket.assignee_id == assignee.pk:
        raise ServiceError("already_assigned", _("工单已由该客服处理。"))
    ticket.assignee = assignee
    fields = ["assignee"]
    if ticket.status == Ticket.Status.NEW:
        ticket.status = Ticket.Status.OPEN
        fields.append("status")
    why = _("接手工单") if assignee.pk == by.pk else _("指派给 %(name)s") % {"name": _staff_name(assignee)}
    _touch(ticket, *fields, by=by, why=why)
    return ticket


@transaction.atomic
def ticket_hand_off(
    *,
    ticket: Ticket,
    by: User,
    issuer: Issuer | None = None,
    operator: Operator | None = None,
    reference: str,
    note: str = "",
) -> Ticket:
    """Passes the case to the card's issuer or a road operator, with their reference number."""
    _require_staff(by, PERM_CHANGE)
    if (issuer is None) == (operator is None):
        raise _invalid("handoff_to", _("请选择转交的发行方或路段经营单位（二选一）。"))
    reference = _clean_text(reference, field="handoff_reference", max_length=64, label=_("对方受理编号"))
    ticket = _locked(ticket)
    _refuse_if_done(ticket)
    if ticket.status == Ticket.Status.HANDED_OFF:
        raise ServiceError("already_handed_off", _("工单已转交，等待对方处理。"))
    if issuer is not None:
        ticket.handoff_party = Ticket.HandoffParty.ISSUER
        ticket.handoff_to = issuer.name
    elif operator is not None:  # exactly one of the two, checked above
        ticket.handoff_party = Ticket.HandoffParty.OPERATOR
        ticket.handoff_to = operator.name
    ticket.handoff_issuer, ticket.handoff_operator = issuer, operator
    ticket.handoff_reference = reference
    ticket.handed_off_at = timezone.now()
    ticket.status = Ticket.Status.HANDED_OFF
    _touch(
        ticket,
        "handoff_party",
        "handoff_to",
        "handoff_issuer",
        "handoff_operator",
        "handoff_reference",
        "handed_off_at",
        "status",
        by=by,
        why=_("转交 %(to)s，受理编号 %(ref)s") % {"to": ticket.handoff_to, "ref": reference},
    )
    text = _("已转交 %(to)s 处理，对方受理编号 %(ref)s。") % {"to": ticket.handoff_to, "ref": reference}
    TicketMessage.objects.create(
        ticket=ticket, author=by, kind=TicketMessage.Kind.INTERNAL_NOTE, body=f"{text}\n{note}".strip()
    )
    return ticket


@transaction.atomic
def ticket_resolve(*, ticket: Ticket, by: User, reply: str = "", notify: bool = True) -> Ticket:
    """Marks a ticket solved, optionally with a last public reply."""
    _require_staff(by, PERM_CHANGE)
    ticket = _locked(ticket)
    _refuse_if_done(ticket)
    if reply.strip():
        body = _clean_text(reply, field="body", max_length=BODY_MAX, label=_("回复内容"))
        message = TicketMessage.objects.create(
            ticket=ticket, author=by, kind=TicketMessage.Kind.PUBLIC_REPLY, body=body
        )
        notifications.notify_ticket_reply(ticket=ticket, message=message)
        if notify:
            _notify_reply(ticket)
    ticket.status = Ticket.Status.RESOLVED
    ticket.resolved_at = timezone.now()
    fields = ["status", "resolved_at"]
    if ticket.assignee_id is None:
        ticket.assignee = by
        fields.append("assignee")
    _touch(ticket, *fields, by=by, why=_("标记为已解决并回复用户") if reply.strip() else _("标记为已解决"))
    return ticket


@transaction.atomic
def ticket_close(*, ticket: Ticket, by: User) -> Ticket:
    _require_staff(by, PERM_CHANGE)
    ticket = _locked(ticket)
    if ticket.status == Ticket.Status.CLOSED:
        raise ServiceError("ticket_closed", _("工单已关闭。"))
    if ticket.status != Ticket.Status.RESOLVED:
        raise ServiceError("not_resolved", _("只能关闭已解决的工单。"))
    ticket.status = Ticket.Status.CLOSED
    ticket.closed_at = timezone.now()
    _touch(ticket, "status", "closed_at", by=by, why=_("关闭工单"))
    return ticket


@transaction.atomic
def ticket_reopen(*, ticket: Ticket, by: User, reason: str) -> Ticket:
    """The customer reopens their resolved ticket within REOPEN_DAYS; a supervisor
    (``support.reopen``) reopens a resolved or closed one at any time."""
    reason = _clean_text(reason, field="reason", max_length=BODY_MAX, label=_("重开原因"))
    ticket = _locked(ticket)
    is_customer = ticket.user_id == by.pk
    if not is_customer:
        _require_staff(by, PERM_REOPEN)
    if ticket.status not in Ticket.DONE:
        raise ServiceError("not_resolved", _("工单尚未解决，无需重新打开。"))
    if is_customer:
        if ticket.status == Ticket.Status.CLOSED:
            raise ServiceError("ticket_closed", _("工单已关闭，不能重新打开；如有新问题请提交新的工单。"))
        if ticket.resolved_at and timezone.now() - ticket.resolved_at > timedelta(days=REOPEN_DAYS):
            raise ServiceError(
                "reopen_expired",
                _("工单解决已超过 %(days)s 天，不能重新打开；请提交新的工单。") % {"days": REOPEN_DAYS},
            )
    kind = TicketMessage.Kind.CUSTOMER if is_customer else TicketMessage.Kind.INTERNAL_NOTE
    prefix = "" if is_customer else _("重开原因：")
    TicketMessage.objects.create(ticket=ticket, author=by, kind=kind, body=f"{prefix}{reason}")
    now = timezone.now()
    ticket.status = Ticket.Status.OPEN
    ticket.reopened_count += 1
    ticket.resolved_at = None
    ticket.closed_at = None
    ticket.due_at = SlaPolicy.due_at(category=ticket.category, priority=ticket.priority, start=now)
    why = _("用户重开：%(reason)s") if is_customer else _("重开：%(reason)s")
    _touch(
        ticket,
        "status",
        "reopened_count",
        "resolved_at",
        "closed_at",
        "due_at",
        by=by,
        why=why % {"reason": notifications.clip(reason, 80)},
    )
    return ticket


@transaction.atomic
def ticket_rate(*, ticket: Ticket, user: User, rating, comment: str = "") -> Ticket:
    """The customer rates the service once, after the ticket is resolved."""
    if ticket.user_id != user.pk:
        raise ServiceError("not_found", _("找不到该工单。"), status=404)
    try:
        rating = int(rating)
    except (TypeError, ValueError):
        rating = 0
    if not 1 <= rating <= 5:
        raise _invalid("rating", _("评分须为 1 到 5 分。"))
    comment = (comment or "").strip()
    if len(comment) > 300:
        raise _invalid("comment", _("评价不能超过 300 个字。"))
    ticket = _locked(ticket)
    if ticket.status not in Ticket.DONE:
        raise ServiceError("not_resolved", _("工单解决后才能评价。"))
    if ticket.rating is not None:
        raise ServiceError("already_rated", _("您已经评价过这个工单，谢谢！"))
    ticket.rating, ticket.rating_comment, ticket.rated_at = rating, comment, timezone.now()
    _touch(ticket, "rating", "rating_comment", "rated_at", by=user, why=_("用户评价 %(n)s 分") % {"n": rating})
    return ticket


# --- calls -------------------------------------------------------------------------------


def _clean_caller(number: str) -> str:
    number = normalize_mobile(number).replace("(", "").replace(")", "")
    if not (number.isdigit() and 5 <= len(number) <= 20):
        raise _invalid("caller_number", _("来电号码须为 5 到 20 位数字。"))
    return number


@transaction.atomic
def call_log(
    *,
    agent: User,
    caller_number: str,
    started_at: datetime,
    ended_at: datetime,
    category: str,
    summary: str,
    user: User | None = None,
    ticket: Ticket | None = None,
) -> Call:
    """Logs a hotline call. A caller whose number is a registered mobile is linked to that
    account when no account is given."""
    _require_staff(agent, PERM_CALL)
    number = _clean_caller(caller_number)
    if started_at is None or ended_at is None:
        raise _invalid("started_at", _("请填写通话开始和结束时间。"))
    if ended_at < started_at:
        raise _invalid("ended_at", _("结束时间不能早于开始时间。"))
    if started_at > timezone.now() + timedelta(minutes=5):
        raise _invalid("started_at", _("开始时间不能晚于现在。"))
    if category not in Category.values:
        raise _invalid("category", _("请选择分类。"))
    summary = _clean_text(summary, field="summary", max_length=BODY_MAX, label=_("通话摘要"))
    digest = mobile_digest(number)
    if user is None:
        user = User.objects.filter(mobile_digest=digest, is_staff=False).first()
    if ticket is not None and user is not None and ticket.user_id != user.pk:
        raise _invalid("ticket", _("关联的工单不属于该账户。"))
    if ticket is not None and user is None:
        user = ticket.user
    call = Call(
        caller_number=number,
        caller_digest=digest,
        caller_masked=mask_mobile(number),
        agent=agent,
        started_at=started_at,
        ended_at=ended_at,
        category=category,
        summary=summary,
        user=user,
        ticket=ticket,
        source=Call.Source.CONSOLE,
        answered_at=started_at,
        wrapped_at=timezone.now(),
    )
    call.settle()
    _audit(call, agent, _("记录来电"))
    call.save(force_insert=True)
    logger.info("call logged id=%s agent=%s from=%s", call.pk, agent.pk, call.caller_masked)
    return call


@transaction.atomic
def call_update(
    *,
    call: Call,
    by: User,
    category: str,
    summary: str | None = None,
    user: User | None = None,
    ticket: Ticket | None = None,
) -> Call:
    """Staff correct a logged call: its category, account and ticket, and its summary when
    given (the console shows the summary masked and keeps it as written)."""
    _require_staff(by, "support.change_call")
    if category not in Category.values:
        raise _invalid("category", _("请选择分类。"))
    if summary is not None:
        summary = _clean_text(summary, field="summary", max_length=BODY_MAX, label=_("通话摘要"))
    if ticket is not None and user is not None and ticket.user_id != user.pk:
        raise _invalid("ticket", _("关联的工单不属于该账户。"))
    if ticket is not None and user is None:
        user = ticket.user
    call = Call.objects.select_for_update().get(pk=call.pk)
    call.category, call.user, call.ticket = category, user, ticket
    fields = ["category", "user", "ticket"]
    if summary is not None:
        call.summary = summary
        fields.append("summary")
    _audit(call, by, _("更正来电记录"))
    call.save(update_fields=fields)
    return call


@transaction.atomic
def call_to_ticket(*, call: Call, by: User, priority: str = Ticket.Priority.NORMAL) -> Ticket:
    """Turns a logged call into a ticket in one action: the caller's account, the call's
    category, and its summary as an internal note. The customer sees a subject made from the
    category (``来电咨询：绑卡与解绑``) and only what staff later reply."""
    _require_staff(by, "support.add_ticket")
    call = Call.objects.select_for_update().get(pk=call.pk)
    if call.ticket is not None:
        raise ServiceError("already_ticketed", _("这通来电已关联工单 %(ref)s。") % {"ref": call.ticket.ref})
    if call.user is None:
        raise ServiceError("no_account", _("这通来电没有关联账户，请先关联来电人的票根账户。"))
    # The subject is the customer's to read: written in their language, not the agent's.
    with speaking_to(call.user_id):
        subject = str(CALL_SUBJECT) % {"category": call.get_category_display()}
    ticket = ticket_open(
        user=call.user,
        channel=Ticket.Channel.HOTLINE,
        category=call.category,
        subject=subject,
        description=call.summary,
        priority=priority,
        by=by,
    )
    if ticket.assignee_id is None:
        ticket.assignee = by
        ticket.status = Ticket.Status.OPEN
        _audit(ticket, by, _("由来电创建并接手"))
        ticket.save(update_fields=["assignee", "status"])
    call.ticket = ticket
    _audit(call, by, _("由来电创建工单 %(ref)s") % {"ref": ticket.ref})
    call.save(update_fields=["ticket"])
    return ticket


PERM_CALLBACK = "support.callback"


@transaction.atomic
def call_wrap_up(
    *,
    call: Call,
    by: User,
    category: str,
    summary: str,
    user: User | None = None,
    ticket: Ticket | None = None,
    open_ticket: bool = False,
) -> Call:
    """The agent's wrap-up of a call from the switch: its category, the internal summary, the
    caller's account when it was not recognised, and the ticket it belongs to (an open one of
    the account, or a new one opened from the call). Only the agent who answered, or a
    supervisor, wraps a call up; a second wrap-up corrects the first."""
    _require_staff(by, "support.change_call")
    call = Call.objects.select_for_update().get(pk=call.pk)
    if call.agent_id != by.pk and not by.has_perm(PERM_ASSIGN):
        raise ServiceError("forbidden", _("只有接听的坐席或班长可以填写这通来电的小结。"), status=403)
    if category not in Category.values:
        raise _invalid("category", _("请选择分类。"))
    summary = _clean_text(summary, field="summary", max_length=BODY_MAX, label=_("通话摘要"))
    user = user or call.user
    if user is not None and user.is_staff:
        raise _invalid("user", _("请选择客户的票根账户。"))
    if ticket is not None and (user is None or ticket.user_id != user.pk):
        raise _invalid("ticket", _("关联的工单不属于该账户。"))
    if open_ticket and user is None:
        raise _invalid("ticket", _("这通来电没有关联账户，请先关联来电人的票根账户。"))
    call.category, call.summary, call.user = category, summary, user
    if ticket is not None:
        call.ticket = ticket
    call.wrapped_at = timezone.now()
    _audit(call, by, _("填写来电小结"))
    call.save(update_fields=["category", "summary", "user", "ticket", "wrapped_at"])
    if open_ticket and call.ticket_id is None:
        call_to_ticket(call=call, by=by)
        call.refresh_from_db(fields=["ticket"])
    from .cti import notice_changed

    notice_changed(call.agent_id)
    return call


@transaction.atomic
def call_callback(*, call: Call, by: User, reached: bool, category: str = "", summary: str = "") -> Call:
    """Logs a callback to a missed or abandoned call, as a call of its own (outbound, the same
    caller and account) pointing back at it. A callback that reached the caller takes the call
    off the callback list; one that did not leaves it there, counted."""
    _require_staff(by, PERM_CALLBACK)
    original = Call.objects.select_for_update().get(pk=call.pk)
    if original.outcome not in Call.UNANSWERED or original.direction != Call.Direction.INBOUND:
        raise ServiceError("not_missed", _("只能回拨未接或放弃的来电。"))
    if original.called_back_at is not None:
        raise ServiceError("already_called_back", _("这通来电已回拨接通，无需再回拨。"))
    if not original.caller_number:
        raise ServiceError("no_number", _("这通来电没有显示号码，无法回拨。"))
    if reached:
        if category not in Category.values:
            raise _invalid("category", _("请选择分类。"))
        summary = _clean_text(summary, field="summary", max_length=BODY_MAX, label=_("通话摘要"))
    else:
        category = category if category in Category.values else ""
        summary = (summary or "").strip()[:BODY_MAX]
    now = timezone.now()
    callback = Call(
        source=Call.Source.CALLBACK,
        direction=Call.Direction.OUTBOUND,
        callback_of=original,
        caller_number=original.caller_number,
        caller_digest=original.caller_digest,
        caller_masked=original.caller_masked,
        line=original.line,
        queue=original.queue,
        user=original.user,
        agent=by,
        started_at=now,
        answered_at=now if reached else None,
        ended_at=now,
        hangup_cause="" if reached else "noAnswer",
        category=category,
        summary=summary,
        wrapped_at=now,
    )
    callback.settle()
    _audit(callback, by, _("回拨来电 #%(id)s") % {"id": original.pk})
    callback.save(force_insert=True)
    if reached:
        original.called_back_at = now
        _audit(original, by, _("已回拨接通"))
        original.save(update_fields=["called_back_at"])
    logger.info("callback call=%s of=%s agent=%s reached=%s", callback.pk, original.pk, by.pk, reached)
    return callback


@transaction.atomic
def caller_number_for_callback(*, call: Call, by: User) -> str:
    """The full number of a missed call, for the agent who calls back; every showing is
    recorded (``Reveal``, 完整来电号码（回拨）)."""
    _require_staff(by, PERM_CALLBACK)
    if call.outcome not in Call.UNANSWERED or not call.caller_number:
        raise ServiceError("no_number", _("这通来电没有可回拨的号码。"))
    Reveal.objects.create(
        staff=by, text=Reveal.Text.CALLER_NUMBER, object_id=call.pk, call=call, reason=str(_("回拨未接来电"))
    )
    return call.caller_number


# --- the originals of masked texts ---------------------------------------------------------


REVEAL_REASON_MAX = 100


@transaction.atomic
def text_reveal(*, by: User, text: str, object_id: int, reason: str) -> tuple[str, Reveal]:
    """Gives staff with ``support.reveal`` the original of a text the console shows masked (a
    ticket's subject, a message, a call's summary), and records who opened which and why."""
    _require_staff(by, PERM_REVEAL)
    reason = _clean_text(reason, field="reason", max_length=REVEAL_REASON_MAX, label=_("查看原因"))
    ticket = call = None
    if text == Reveal.Text.TICKET_SUBJECT:
        ticket = Ticket.objects.filter(pk=object_id).first()
        original = ticket.subject if ticket else None
    elif text == Reveal.Text.TICKET_MESSAGE:
        message = TicketMessage.objects.select_related("ticket").filter(pk=object_id).first()
        ticket = message.ticket if message else None
        original = message.body if message else None
    elif text == Reveal.Text.CALL_SUMMARY:
        call = Call.objects.defer("caller_number").filter(pk=object_id).first()
        original = call.summary if call else None
    else:
        raise _invalid("text", _("无法查看该内容。"))
    if original is None:
        raise ServiceError("not_found", _("找不到该内容。"), status=404)
    reveal = Reveal.objects.create(
        staff=by, text=text, object_id=object_id, ticket=ticket, call=call, reason=mask_text(reason)
    )
    logger.info("text revealed text=%s id=%s staff=%s", text, object_id, by.pk)
    return original, reveal
