"""The message centre (消息中心): every write of ``Notification``, and the hooks that write them.

What a user is told, and by whom:

- a card unbound by its issuer (a changed reserved item, a cancellation) or by staff: written in
  the transaction that ends the binding (``cards.services.unbinding.BINDING_ENDED_HOOKS``), and
  announced once besides, on the next page or in the App's cards answer (``binding_notices_take``);
- an application issued: written inside the issuing transaction (``invoices.services.ISSUED_HOOKS``,
  in a savepoint of its own), naming the plate, the month or date, the number of invoices and the
  total: it commits with the invoices or not at all;
- an application failed: written once the failure commits (``invoices.services.AFTER_FAIL_HOOKS``);
- a supervisor lifted today's cap on failed binding attempts of the account or of one of its
  cards: written in the lift's transaction (``cards.services.cap_lift.CAP_LIFTED_HOOKS``);
- a staff reply to a ticket: written in the reply's transaction (``support.services``); while an
  earlier reply of the same ticket is unread, that message is brought up to date instead.

Texts are composed in the language the user chose (``User.language``; zh-hans when none, see
``piaogen/i18n.py``) and never hold a full mobile or ID
number: anything typed by a person passes through ``mask_text``. The hooks run by issuing never
raise: issuing is done and stays done whatever happens here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import User
from piaogen.errors import ServiceError
from piaogen.i18n import languages_of, speaking, speaking_to
from piaogen.masking import mask_text
from piaogen.templatetags.money import fen_to_yuan

from .models import Notification, Ticket, TicketMessage

logger = logging.getLogger(__name__)

Kind = Notification.Kind
EXCERPT = 80  # characters of a reply quoted in its notice


def clip(text: str, limit: int) -> str:
    text = " ".join(mask_text(str(text or "")).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _month_label(month: str) -> str:
    """``2026-09`` → ``2026年9月``."""
    try:
        year, mon = month.split("-")
        return _("%(y)s年%(m)s月") % {"y": year, "m": int(mon)}
    except ValueError:
        return month


def _date_label(when) -> str:
    day = timezone.localdate(when) if when else timezone.localdate()
    return _("%(y)s年%(m)s月%(d)s日") % {"y": day.year, "m": day.month, "d": day.day}


def _build(*, user_id: int, kind: str, title: str, body: str, link: str = "", **about) -> Notification:
    return Notification(
        user_id=user_id,
        kind=kind,
        title=clip(title, 100),
        body=clip(body, 500),
        link=link[:200],
        created_at=timezone.now(),
        **about,
    )


# --- reading (the user's own only) -----------------------------------------------------------


def _not_found() -> ServiceError:
    return ServiceError("not_found", _("找不到该消息。"), status=404)


@transaction.atomic
def notification_mark_read(*, user: User, notification_id) -> Notification:
    """Marks one of the user's messages read (a second time changes nothing). Someone else's
    message, or none, is ``not_found``."""
    try:
        pk = int(str(notification_id))
    except (TypeError, ValueError):
        raise _not_found() from None
    if not 0 < pk < 2**62:
        raise _not_found()
    notification = Notification.objects.select_for_update().filter(pk=pk, user=user).first()
    if notification is None:
        raise _not_found()
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


@transaction.atomic
def notification_mark_all_read(*, user: User) -> int:
    """Marks every unread message of the user read, in one statement; returns how many. The
    staff replies of the user's tickets count as seen too, as when a ticket is opened, so the
    pages stop announcing them ("您有 N 个工单有新的客服回复")."""
    now = timezone.now()
    count = Notification.objects.filter(user=user, read_at__isnull=True).update(read_at=now)
    TicketMessage.objects.filter(
        ticket__user=user, kind=TicketMessage.Kind.PUBLIC_REPLY, seen_by_customer_at__isnull=True
    ).update(seen_by_customer_at=now)
    return count


def notifications_mark_ticket_read(*, user: User, ticket: Ticket) -> int:
    """The user read their ticket: its reply notices are read too."""
    return Notification.objects.filter(user=user, kind=Kind.TICKET_REPLY, ticket=ticket, read_at__isnull=True).update(
        read_at=timezone.now()
    )


# --- cards: bindings ended by the issuer or by staff -------------------------------------------


def on_bindings_ended(bindings: Iterable) -> None:
    """``cards.services.unbinding.BINDING_ENDED_HOOKS``: one message per binding ended passively
    or by staff, in the transaction that ends them; each binding comes with its card and issuer."""
    from cards.models import Binding
    from cards.services.unbinding import notice_text

    rows = []
    told = [b for b in bindings if b.end_kind in (Binding.EndKind.PASSIVE, Binding.EndKind.STAFF)]
    languages = languages_of(b.user_id for b in told)
    for binding in told:
        with translation.override(languages.get(binding.user_id, settings.LANGUAGE_CODE)):
            card = binding.card
            passive = binding.end_kind == Binding.EndKind.PASSIVE
            rows.append(
                _build(
                    user_id=binding.user_id,
                    kind=Kind.BINDING_ENDED,
                    title=_("ETC卡 %(plate)s 已解绑") % {"plate": card.plate},
                    body=notice_text(binding),
                    link=reverse("cards:bind" if passive else "cards:list"),
                    binding=binding,
                )
            )
    if rows:
        # A binding is told once: a second call for the same binding adds nothing.
        Notification.objects.bulk_create(rows, ignore_conflicts=True)


def binding_notices_take(user: User, binding_ids: Iterable[int] | None = None) -> list:
    """The unbindings the user has not been shown yet, oldest first, each binding with its card
    and issuer, and marks them shown: announced once, on the next page (``context_processors``,
    which found ``binding_ids`` already) or in the App's cards answer (``cards.services.unbinding.
    BINDING_NOTICE_SOURCES``), whichever comes first. The message stays unread in the centre."""
    from cards.models import Binding
    from cards.selectors import SENSITIVE_CARD_FIELDS

    due = Notification.objects.filter(user=user, kind=Kind.BINDING_ENDED, shown_at__isnull=True)
    ids = list(due.values_list("binding_id", flat=True) if binding_ids is None else binding_ids)
    if not ids:
        return []
    due.filter(binding_id__in=ids).update(shown_at=timezone.now())
    return list(
        Binding.objects.filter(pk__in=ids, user=user)
        .select_related("card", "card__issuer")
        .defer(*SENSITIVE_CARD_FIELDS)
        .order_by("ended_at", "pk")
    )


# --- cards: a supervisor lifted today's binding cap --------------------------------------------


def on_cap_lifted(lift) -> None:
    """``cards.services.cap_lift.CAP_LIFTED_HOOKS``: the customer's message, in the lift's
    transaction. The supervisor's reason is not quoted: it is the centre's audit, not a message to
    the user."""
    from cards.services.cap_lift import cap_lift_what

    with speaking_to(lift.user_id):
        values = {
            "what": cap_lift_what(lift),
            "at": timezone.localtime(lift.created_at).strftime("%H:%M"),
            "hotline": settings.SUPPORT_HOTLINE,
        }
        row = _build(
            user_id=lift.user_id,
            kind=Kind.CAP_LIFTED,
            title=_("绑卡限制已解除"),
            body=_(
                "客服已于今日 %(at)s 解除%(what)s今日的绑卡验证失败次数限制，您现在可以重新绑定ETC卡。"
                "请核对卡号、证件号码和办卡时预留的手机号后再试，新的失败仍会计入每日上限；"
                "如有疑问请拨打客服热线 %(hotline)s。"
            )
            % values,
            link=reverse("cards:bind"),
        )
    row.save()


# --- invoices: an application issued or failed --------------------------------------------------


def _application(app_id: int):
    from invoices.models import Application

    return Application.objects.select_related("card").defer("card__id_number", "card__mobile").filter(pk=app_id).first()


def issued_text(app, *, count: int, total: int, reversed_count: int = 0) -> tuple[str, str]:
    """The title and body of an issued application's message."""
    from invoices.models import Application

    values = {
        "plate": app.card.plate,
        "month": _month_label(app.month) if app.month else "",
        "date": _date_label(app.issued_at),
        "count": count,
        "total": fen_to_yuan(total),
        "reversed": reversed_count,
    }
    kind = app.kind
    if kind == Application.Kind.CONSUMPTION:
        title = _("%(plate)s %(month)s通行费发票已开具") % values
        body = (
            _("您为车牌 %(plate)s 申请的%(month)s通行费发票已于%(date)s开具，共 %(count)s 张，价税合计 ¥%(total)s。")
            % values
        )
    elif kind == Application.Kind.RECHARGE:
        title = _("%(plate)s 充值发票已开具") % values
        body = _("您为车牌 %(plate)s 申请的充值发票已于%(date)s开具，共 %(count)s 张，合计 ¥%(total)s。") % values
    elif kind == Application.Kind.TITLE_CHANGE:
        title = _("%(plate)s 换票已完成") % values
        body = (
            _(
                "车牌 %(plate)s 的换票已于%(date)s完成：红冲原发票 %(reversed)s 张，按新抬头重新开具 %(count)s 张，价税合计 ¥%(total)s。"
            )
            % values
        )
    else:
        values["total"] = fen_to_yuan(abs(total))
        title = _("%(plate)s 发票已红冲") % values
        body = (
            _("车牌 %(plate)s 的发票已于%(date)s红冲：开具红字发票 %(reversed)s 张，冲减价税合计 ¥%(total)s。") % values
        )
    return title, body


def notify_application_issued(app_id: int, invoice_ids: list[int]) -> Notification | None:
    """Writes the message of an issued application from the database (once: a second call adds
    nothing). Issuing writes it itself (``on_issued``); this serves the demo data and backfills."""
    from invoices.models import Application, Invoice

    app = _application(app_id)
    if app is None or app.status != Application.Status.ISSUED:
        return None
    from invoices.selectors import application_months

    sums = Invoice.objects.filter(application_id=app_id, **application_months(app)).aggregate(
        normal_count=Count("id", filter=Q(red=False)),
        normal_total=Sum("total", filter=Q(red=False)),
        red_count=Count("id", filter=Q(red=True)),
        red_total=Sum("total", filter=Q(red=True)),
    )
    with speaking_to(app.user_id):
        if app.kind == Application.Kind.REVERSAL:
            title, body = issued_text(app, count=0, total=sums["red_total"] or 0, reversed_count=sums["red_count"])
        else:
            title, body = issued_text(
                app, count=sums["normal_count"], total=sums["normal_total"] or 0, reversed_count=sums["red_count"]
            )
        row = _build(
            user_id=app.user_id,
            kind=Kind.INVOICES_ISSUED,
            title=title,
            body=body,
            link=reverse("invoices:application", kwargs={"pk": app.pk}),
            application=app,
        )
    row.created_at = app.issued_at or row.created_at
    Notification.objects.bulk_create([row], ignore_conflicts=True)
    return row


def on_issued(app, invoices: list[dict]) -> None:
    """``invoices.services.ISSUED_HOOKS``: the message of an issued application, written in the
    issuing transaction from the invoices just written (no query to count them, no commit of its
    own). A failure here is undone alone; the issuing stands."""
    from invoices.models import Application

    normal = [i["total"] for i in invoices if not i["red"]]
    red = [i["total"] for i in invoices if i["red"]]
    # issuing reads the user with the application: their language without a query of its own
    with speaking(app.user) if Application.user.is_cached(app) else speaking_to(app.user_id):
        if app.kind == Application.Kind.REVERSAL:
            title, body = issued_text(app, count=0, total=sum(red), reversed_count=len(red))
        else:
            title, body = issued_text(app, count=len(normal), total=sum(normal), reversed_count=len(red))
        row = _build(
            user_id=app.user_id,
            kind=Kind.INVOICES_ISSUED,
            title=title,
            body=body,
            link=reverse("invoices:application", kwargs={"pk": app.pk}),
            application=app,
        )
    row.created_at = app.issued_at or row.created_at
    Notification.objects.bulk_create([row], ignore_conflicts=True)


def notify_application_failed(app_id: int, reason: str) -> Notification | None:

    app = _application(app_id)
    if app is None:
        return None
    with speaking_to(app.user_id):
        values = {
            "plate": app.card.plate,
            "kind": app.get_kind_display(),
            "when": _month_label(app.month) if app.month else _date_label(app.created_at),
            "reason": (reason or "").rstrip("。.；; ") or _("未知原因"),
            "hotline": settings.SUPPORT_HOTLINE,
        }
        row = _build(
            user_id=app.user_id,
            kind=Kind.APPLICATION_FAILED,
            title=_("%(plate)s %(kind)s失败") % values,
            body=_(
                "您为车牌 %(plate)s 提交的%(kind)s申请（%(when)s）未能开具：%(reason)s。"
                "请按提示处理后重新申请；如有疑问请拨打客服热线 %(hotline)s。"
            )
            % values,
            link=reverse("invoices:application", kwargs={"pk": app.pk}),
            application=app,
        )
    row.save()
    return row


def on_application_failed(app_id: int, reason: str) -> None:
    """``invoices.services.AFTER_FAIL_HOOKS``: run once a failure has committed. Never raises."""
    try:
        notify_application_failed(app_id, reason)
    except Exception:
        logger.exception("application %s: the failure notice could not be written", app_id)


# --- invoices: automatic invoicing could not apply for a card-month ------------------------------


def on_auto_invoice_refused(run) -> None:
    """``invoices.autoinvoice.REFUSED_HOOKS``: the message of a card-month that automatic
    invoicing could not apply for (no default title), in the transaction that records it, once."""
    from cards.models import Card

    card = Card.objects.only("card_no", "plate").get(pk=run.card_id)
    with speaking_to(run.user_id):
        values = {"plate": card.plate, "month": _month_label(run.month), "hotline": settings.SUPPORT_HOTLINE}
        row = _build(
            user_id=run.user_id,
            kind=Kind.APPLICATION_FAILED,
            title=_("%(plate)s %(month)s自动开票未能申请") % values,
            body=_(
                "车牌 %(plate)s 的%(month)s通行费没有自动申请开票：这张卡没有默认发票抬头。请在“我的ETC卡”为它设置"
                "默认抬头，下次自动运行（每小时一次）时会为该月申请；如有疑问请拨打客服热线 %(hotline)s。"
            )
            % values,
            link=reverse("cards:card_auto_invoice", kwargs={"card_no": card.card_no}),
        )
    row.save()


# --- support: staff replies ------------------------------------------------------------------


def notify_ticket_reply(*, ticket: Ticket, message: TicketMessage) -> Notification:
    """The customer's message about a public reply, written in the reply's transaction. While
    an earlier reply of the ticket is unread, that message is updated and moved to the top."""
    with speaking_to(ticket.user_id):
        title = _("工单 %(ref)s 有新的客服回复") % {"ref": ticket.ref}
        body = _("%(subject)s：%(reply)s") % {"subject": ticket.subject, "reply": clip(message.body, EXCERPT)}
    row = _build(
        user_id=ticket.user_id,
        kind=Kind.TICKET_REPLY,
        title=title,
        body=body,
        link=reverse("support:ticket", kwargs={"pk": ticket.pk}),
        ticket=ticket,
    )
    unread = (
        Notification.objects.select_for_update()
        .filter(user_id=ticket.user_id, kind=Kind.TICKET_REPLY, ticket=ticket, read_at__isnull=True)
        .first()
    )
    if unread is not None:
        unread.title, unread.body, unread.created_at = row.title, row.body, row.created_at
        unread.save(update_fields=["title", "body", "created_at"])
        return unread
    row.save()
    return row
