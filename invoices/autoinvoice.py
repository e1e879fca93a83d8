"""自动开票, the job: each card-month that became available is applied for once, by itself.

The settings are the user's (``cards.autoinvoice``); this module acts on them. An hourly beat
task (``invoices.tasks.run_auto_invoices``) finds the bindings whose setting is on and not paused
and whose card has no settled run for the latest available month, and queues one task per card
(``auto_invoice_card``). The card task locks the card row, looks for the card-month's run (the
unique (card, month) row of ``AutoInvoiceRun``) and, when there is none, plans the card-month
with the batch planner (``batches._plan``: the whole month's open trips, refused as a single
application would be) and submits it with the single application's writer
(``services.consumption_create``) under the card's default title, the mail address of the
setting (else the title's). The run row is written in the same transaction as the application,
so a second run, concurrent or later, finds it and does nothing: at most one automatic
application per card-month.

What the user is told: an application issued or failed, as any other (message centre; the ZIP
mailed by the documents' delivery). A card-month that cannot be applied for because the user must
act (no default title) is ``refused``: told once, by a message and an SMS to the account's
mobile, and tried again on each run until it can be applied for. An automatic application that
fails to issue is told by SMS too (the message is the usual one).
"""

from __future__ import annotations

import logging
from datetime import date

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts import services as account_services
from accounts.models import User
from accounts.sms import SmsMessage
from cards import autoinvoice as settings_rules
from cards.models import AutoInvoiceRun, AutoInvoiceSetting, Binding, Card
from piaogen.errors import ServiceError
from piaogen.masking import mask_mobile
from piaogen.queueing import enqueue

from . import batches, services

logger = logging.getLogger(__name__)

SMS_PURPOSE = "auto_invoice"

# Callables (run) run inside the transaction that records a refused card-month, the first time:
# the message centre registers one (support/apps.py). Database writes only.
REFUSED_HOOKS: list = []


def _month_label(month: str) -> str:
    return _("%(y)s年%(m)s月") % {"y": month[:4], "m": int(month[5:7])}


def due_bindings(month: str) -> list[int]:
    """Active bindings whose setting is on and not paused and whose card has nothing settled for
    ``month`` yet (no run, or a refused one to try again), by id. One query."""
    card_rows = AutoInvoiceSetting.objects.filter(binding__isnull=False, binding__ended_at__isnull=True)
    on_by_card = card_rows.filter(enabled=True, paused_at__isnull=True).values("binding_id")
    on_by_account = AutoInvoiceSetting.objects.filter(
        binding__isnull=True, enabled=True, paused_at__isnull=True
    ).values("user_id")
    settled = AutoInvoiceRun.objects.filter(month=month).exclude(status=AutoInvoiceRun.Status.REFUSED).values("card_id")
    return list(
        Binding.objects.filter(ended_at__isnull=True)
        .filter(Q(pk__in=on_by_card) | (Q(user_id__in=on_by_account) & ~Q(pk__in=card_rows.values("binding_id"))))
        .exclude(card_id__in=settled)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def auto_invoice_sweep(*, today: date | None = None, inline: bool = False) -> int:
    """Queues (``inline``: runs here) the card task of every due binding for the latest month
    available ``today``; returns how many. Safe to run at any time and any number of times."""
    today = today or timezone.localdate()
    month = settings_rules.latest_available_month(today)
    ids = due_bindings(month)
    if inline:
        for binding_id in ids:
            auto_invoice_card(binding_id=binding_id, month=month, today=today)
    else:
        for binding_id in ids:
            enqueue(
                "invoices.tasks.auto_invoice_card",
                binding_id,
                month,
                what=f"binding {binding_id}: automatic invoicing of {month}",
            )
    if ids:
        logger.info("automatic invoicing of %s: %d cards due", month, len(ids))
    return len(ids)


def _refusal_no_title(card: Card) -> ServiceError:
    return ServiceError(
        "no_default_title",
        _(
            "ETC卡 %(plate)s 没有默认发票抬头，无法自动开票。请在“我的ETC卡”为它设置默认抬头，下次自动运行时会为该月申请。"
        )
        % {"plate": card.plate},
    )


def auto_invoice_card(*, binding_id: int, month: str, today: date | None = None) -> AutoInvoiceRun | None:
    """Applies for ``month`` of the binding's card once, if its setting is on and the month is
    available; records what was done. Returns the run (None when nothing is to be done)."""
    today = today or timezone.localdate()
    if settings_rules.available_on(month) > today:
        return None  # the month's trips are not all there yet
    try:
        with transaction.atomic():
            return _card_month(binding_id, month)
    except IntegrityError:
        # Another run recorded this card-month between our look and our write: it stands.
        return AutoInvoiceRun.objects.filter(card__bindings__pk=binding_id, month=month).first()


def _card_month(binding_id: int, month: str) -> AutoInvoiceRun | None:
    binding = Binding.objects.select_related("default_title").filter(pk=binding_id, ended_at__isnull=True).first()
    if binding is None:
        return None
    card = (
        Card.objects.select_for_update(of=("self",))
        .select_related("issuer")
        .defer("id_number", "mobile")
        .get(pk=binding.card_id)
    )
    eff = settings_rules.effective_for_binding(binding)  # read under the lock: a pause a moment ago holds
    if not eff.active:
        return None
    run = AutoInvoiceRun.objects.select_for_update().filter(card=card, month=month).first()
    if run is not None and run.status != AutoInvoiceRun.Status.REFUSED:
        return run
    now = timezone.now()
    if run is None:
        run = AutoInvoiceRun(user_id=binding.user_id, card=card, month=month, created_at=now)
    run.mode, run.updated_at = eff.mode, now
    title = binding.default_title
    if title is None or title.deleted_at is not None or title.user_id != binding.user_id:
        refusal = _refusal_no_title(card)
        first_time = run.told_at is None
        run.status, run.code, run.message = AutoInvoiceRun.Status.REFUSED, refusal.code, refusal.message[:300]
        if first_time:
            run.told_at = now
        run.save()
        if first_time:
            _tell_refused(run, card)
        return run
    plan = batches._plan(month=month, mode=eff.mode, title=title, cards=[card], all_cards=False, lock=True)
    if not plan.plans:
        left = plan.skipped[0]
        run.status, run.code, run.message = AutoInvoiceRun.Status.SKIPPED, left.code, str(left.reason)[:300]
        run.save()
        return run
    try:
        email = services._email(eff.email, title)
    except ServiceError:  # a title's address that no longer passes: the ZIP stays downloadable
        email = ""
    app = services.consumption_create(
        user=User.objects.get(pk=binding.user_id),
        card=card,
        month=month,
        mode=eff.mode,
        title=title,
        email=email,
        trip_ids=plan.trip_ids[card.pk],
        whole_month=True,
    )
    run.status, run.code, run.message, run.application = AutoInvoiceRun.Status.APPLIED, "", "", app
    run.save()
    logger.info("automatic invoicing: card %s month %s applied, application %s", card.pk, month, app.pk)
    return run


def _sms(user: User, text: str, what: str) -> None:
    """One SMS to the account's mobile, through the outbox, queued once committed."""
    if not user.mobile:
        return
    ids = account_services.sms_outbox_add([SmsMessage(mobile=user.mobile, text=text, purpose=SMS_PURPOSE)])
    transaction.on_commit(lambda: account_services.sms_queue(ids))
    logger.info("automatic invoicing: %s; sms to=%s", what, mask_mobile(user.mobile))


def refused_sms_text(run: AutoInvoiceRun, card: Card) -> str:
    return _(
        "【票根】您的ETC卡 %(plate)s %(month)s的自动开票未能申请：没有默认发票抬头。请登录票根网站或App，"
        "在“我的ETC卡”设置默认抬头；详情见“消息中心”。"
    ) % {"plate": card.plate, "month": _month_label(run.month)}


def failed_sms_text(run: AutoInvoiceRun, card: Card) -> str:
    return _(
        "【票根】您的ETC卡 %(plate)s %(month)s的自动开票申请未能开具，通行记录已释放。请登录票根网站或App查看"
        "“消息中心”中的原因后重新申请。"
    ) % {"plate": card.plate, "month": _month_label(run.month)}


def _tell_refused(run: AutoInvoiceRun, card: Card) -> None:
    for hook in REFUSED_HOOKS:
        hook(run)
    user = User.objects.get(pk=run.user_id)
    with translation.override("zh-hans"):  # SMS texts are the filed Chinese ones (docs/i18n.md)
        text = refused_sms_text(run, card)
    _sms(user, text, f"card {card.pk} month {run.month} refused ({run.code})")


def on_application_failed(app_id: int, reason: str) -> None:
    """``services.AFTER_FAIL_HOOKS``: an automatic application that failed to issue is told by
    SMS as well (the message centre's notice is written by its own hook). Never raises."""
    try:
        with transaction.atomic():
            run = (
                AutoInvoiceRun.objects.select_for_update(of=("self",))
                .select_related("card")
                .defer("card__id_number", "card__mobile")
                .filter(application_id=app_id)
                .first()
            )
            if run is None:
                return
            run.told_at = timezone.now()
            run.save(update_fields=["told_at"])
            with translation.override("zh-hans"):
                text = failed_sms_text(run, run.card)
            _sms(User.objects.get(pk=run.user_id), text, f"application {app_id} failed")
    except Exception:
        logger.exception("application %s: the automatic invoicing SMS could not be written", app_id)
