"""Every write of the documents: rendering and storing, re-render requests, delivery by mail,
and the sweep that finds what the broker lost.

Rendering happens outside any database transaction, on the ``render`` queue: the invoice is
read, the PDF and XML are made and stored, and only then is the row marked by one UPDATE.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, validate_email
from django.db import connection, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import User
from piaogen.errors import ServiceError
from piaogen.queueing import enqueue

from .. import selectors
from ..models import Application, ApplicationEvent, Invoice, MailResend
from . import archive, layout, mail, rendering, storage
from .xmldoc import invoice_xml

logger = logging.getLogger(__name__)

# The tasks this module queues, by name (piaogen.queueing.task_named): invoices/tasks.py calls
# these services, so this module does not import it.
RENDER_INVOICE = "invoices.tasks.render_invoice"
RENDER_INVOICES = "invoices.tasks.render_invoices"
RENDER_SUMMARY = "invoices.tasks.render_summary"
DELIVER_APPLICATION = "invoices.tasks.deliver_application"
DELIVER_RESEND = "invoices.tasks.deliver_resend"

# An invoice still pending this long after issuing was lost on the way to the render queue.
STALE_PENDING = timedelta(minutes=10)
# Deliveries the sweep looks after: applications issued within this window.
DELIVERY_WINDOW = timedelta(days=2)
DELIVERY_DEDUPE_SECONDS = 600
# A claim on an application's mail older than this with no "emailed" event was abandoned.
ABANDONED_CLAIM = timedelta(minutes=15)
SWEEP_AGAIN_AFTER = 1800  # seconds before the sweep queues the same pending invoice again


class DocumentsNotReady(Exception):
    """Some document of the application is not rendered yet."""


def _refuse_inside_transaction(what: str) -> None:
    # Test cases wrap everything in their own atomic block; any other one means a caller
    # is about to hold row locks through seconds of rendering or network I/O.
    if any(not block._from_testcase for block in connection.atomic_blocks):
        raise RuntimeError(f"{what} must not run inside a database transaction")


def _event(app_id: int, kind: str, *, actor: User | None = None, reason: str = "", **detail) -> None:
    ApplicationEvent.objects.create(application_id=app_id, kind=kind, actor=actor, reason=reason[:300], detail=detail)


# --- rendering ---------------------------------------------------------------------------------


def invoice_render(*, invoice_id: int, force: bool = False) -> Invoice | None:
    """Renders and stores the PDF and XML of an invoice, once. Safe to run twice: a rendered
    invoice whose files are there is left alone unless ``force`` (the console's re-render)."""
    _refuse_inside_transaction("rendering")
    month = selectors.invoice_month(invoice_id)
    inv = selectors.invoice_queryset([month]).filter(pk=invoice_id, month=month).first() if month else None
    if inv is None:
        return None
    if (
        not force
        and inv.render_status == Invoice.RenderStatus.RENDERED
        and storage.exists(inv.pdf_path)
        and storage.exists(inv.xml_path)
    ):
        return inv
    this = Invoice.objects.filter(pk=inv.pk, month=inv.month)
    this.update(render_attempts=F("render_attempts") + 1)
    with translation.override("zh-hans"):  # an invoice prints in Chinese whatever the worker's language
        printed = layout.printed_invoice(inv)
        html = render_to_string(layout.template_name(printed.document_kind), {"inv": printed})
    pdf = rendering.invoice_html_to_pdf(html)  # on its shape's stencil when it is one page
    xml = invoice_xml(printed)
    pdf_path = storage.write(storage.invoice_path(inv, "pdf"), pdf)
    xml_path = storage.write(storage.invoice_path(inv, "xml"), xml)
    this.update(
        render_status=Invoice.RenderStatus.RENDERED,
        render_error="",
        pdf_path=pdf_path,
        xml_path=xml_path,
        pdf_size=len(pdf),
    )
    for name, value in (
        this.values("render_status", "render_error", "render_attempts", "pdf_path", "xml_path", "pdf_size")
        .get()
        .items()
    ):
        setattr(inv, name, value)
    logger.info("%s %s rendered: %d bytes", inv.document_kind, inv.reference, len(pdf))
    return inv


def invoice_render_failed(*, invoice_id: int, error: str, final: bool) -> None:
    """Records a failed attempt; the last one marks the invoice failed for the console."""
    fields = {"render_error": error[:300]}
    if final:
        fields["render_status"] = Invoice.RenderStatus.FAILED
    month = selectors.invoice_month(invoice_id)
    Invoice.objects.filter(pk=invoice_id, month=month).exclude(render_status=Invoice.RenderStatus.RENDERED).update(
        **fields
    )
    logger.warning("invoice %s: render failed%s: %s", invoice_id, " (giving up)" if final else "", error[:300])


def summary_render(*, application_id: int, force: bool = False) -> str | None:
    """Renders and stores an issued application's summary sheet (电子汇总单), once."""
    _refuse_inside_transaction("rendering")
    app = Application.objects.select_related("card", "title").filter(pk=application_id).first()
    if app is None or app.status != Application.Status.ISSUED or not app.summary_no:
        return None
    path = storage.summary_path(app)
    if not force and storage.exists(path):
        return path
    invoices = selectors.application_invoices(app)
    with translation.override("zh-hans"):
        printed = layout.printed_summary(app, invoices)
        html = render_to_string("invoices/documents/summary.html", {"s": printed})
    storage.write(path, rendering.html_to_pdf(html))
    return path


def invoice_rerender(*, invoice_id: int, actor: User, reason: str) -> Invoice:
    """Console action: renders an invoice's documents again (after a failure, or a fix), with
    a reason that goes into the application's audit trail."""
    if not (reason or "").strip():
        raise ServiceError("invalid", _("请填写操作原因。"), errors={"reason": [_("必填。")]})
    month = selectors.invoice_month(invoice_id)
    inv = Invoice.objects.filter(pk=invoice_id, month=month).first() if month else None
    if inv is None:
        raise ServiceError("not_found", _("找不到该发票。"), status=404)
    with transaction.atomic():
        Invoice.objects.filter(pk=inv.pk, month=inv.month).update(
            render_status=Invoice.RenderStatus.PENDING, render_error=""
        )
        _event(
            inv.application_id,
            "rerender_requested",
            actor=actor,
            reason=reason.strip(),
            invoice=inv.reference,
        )
        transaction.on_commit(lambda: _queue_rerender(inv.pk, inv.application_id))
    return inv


def _queue_rerender(invoice_id: int, application_id: int) -> None:
    # The summary: a no-op when it is stored; after a failure, its second chance.
    enqueue(RENDER_SUMMARY, application_id, what=f"application {application_id}: summary sheet")
    enqueue(RENDER_INVOICE, invoice_id, True, what=f"invoice {invoice_id}: re-render")


def deliver_when_complete(*, application_id: int) -> bool:
    """Queues the mail as soon as the last document of an application is stored; the render of
    each document calls this after it is stored, so whichever finishes last queues it (the sweep
    is the safety net). True when it queued."""
    app = (
        Application.objects.filter(pk=application_id)
        .only("status", "email", "emailed_at", "summary_no", "kind", "month", "original_id")
        .first()
    )
    if app is None or app.status != Application.Status.ISSUED or not app.email or app.emailed_at:
        return False
    if (
        Invoice.objects.filter(application_id=application_id, **selectors.application_months(app))
        .exclude(render_status=Invoice.RenderStatus.RENDERED)
        .exists()
    ):
        return False
    if app.summary_no and not storage.exists(storage.summary_path(app)):
        return False  # (an application without a summary sheet waits for its invoices only)
    if not cache.add(f"deliver-queued:{application_id}", 1, DELIVERY_DEDUPE_SECONDS):
        return False  # the summary and the last invoice finished together: one delivery is enough
    return enqueue(DELIVER_APPLICATION, application_id, what=f"application {application_id}: delivery")


# --- after issuing ------------------------------------------------------------------------------


FAN_OUT = 1000  # invoice ids per fan-out message


def on_issued(app_id: int, invoice_ids: list[int]) -> None:
    """What follows an issuing once its transaction has committed (``services._after_issue``):
    queues the documents; the last one stored queues the mail (``deliver_when_complete``). It
    never raises: issuing is done and stays done; what a broker outage keeps from being queued
    here, ``documents_sweep`` queues later."""
    # One message per 1,000 invoices, which a render worker turns into the summary sheet's task
    # (first message only) and one task per invoice: a message per document here cost the
    # issuing worker more than issuing itself (docs/performance.md, Issuing).
    chunks = [invoice_ids[i : i + FAN_OUT] for i in range(0, len(invoice_ids), FAN_OUT)] or [[]]
    for index, chunk in enumerate(chunks):
        enqueue(
            RENDER_INVOICES,
            app_id,
            chunk,
            summary=index == 0,
            what=f"application {app_id}: documents",
            argsrepr=f"({app_id}, [{len(chunk)} invoice ids])",
        )


# --- delivery -------------------------------------------------------------------------------------


def application_documents(app: Application) -> tuple[list[Invoice], list[archive.Member]]:
    """The invoices and ZIP members of an issued application; DocumentsNotReady until every
    document is stored."""
    invoices = selectors.application_invoices(app)
    if any(i.render_status != Invoice.RenderStatus.RENDERED for i in invoices):
        raise DocumentsNotReady
    if app.summary_no and not storage.exists(storage.summary_path(app)):
        raise DocumentsNotReady  # (a recharge application from 2020 on has no summary sheet)
    return invoices, archive.members(app, invoices)


def card_month_documents(user: User, *, card_id: int, month: str) -> tuple[list[Invoice], list[archive.Member]]:
    """The invoices of a card's month and the ZIP's members (every invoice's PDF and XML, the
    summary sheets of their applications); DocumentsNotReady until every one is stored. No
    invoices: an empty list, for the caller to say so."""
    invoices = selectors.card_month_invoices(user, card_id=card_id, month=month)
    if any(i.render_status != Invoice.RenderStatus.RENDERED for i in invoices):
        raise DocumentsNotReady
    summaries = selectors.card_month_summaries(user, invoices) if invoices else []
    if any(app.summary_no and not storage.exists(storage.summary_path(app)) for app in summaries):
        raise DocumentsNotReady
    return invoices, archive.card_month_members(invoices, summaries)


def application_deliver(*, application_id: int) -> str:
    """Mails the ZIP of an issued application to its e-mail address, once. Returns what it did:
    ``sent``, ``no_email``, ``already_sent`` or ``not_issued``; raises DocumentsNotReady while
    documents are missing, and the mail backend's error when sending fails (the task retries both).

    Once across processes: the delivery claims the application by setting ``emailed_at`` with a
    conditional UPDATE before it sends, and gives the claim back if sending fails. A worker killed
    between claim and send leaves a claim with no ``emailed`` event: the sweep gives it back."""
    _refuse_inside_transaction("mail delivery")
    app = Application.objects.select_related("card", "title").filter(pk=application_id).first()
    if app is None or app.status != Application.Status.ISSUED:
        return "not_issued"
    if not app.email:
        return "no_email"
    if app.emailed_at:
        return "already_sent"
    _invoices, items = application_documents(app)
    claimed_at = timezone.now()
    if not Application.objects.filter(pk=app.pk, emailed_at__isnull=True).update(emailed_at=claimed_at):
        return "already_sent"  # another worker claimed it a moment ago
    try:
        message = mail.compose(app, zip_name=archive.filename(app), zip_bytes=archive.as_bytes(items))
        message.send()
    except BaseException:
        Application.objects.filter(pk=app.pk, emailed_at=claimed_at).update(emailed_at=None)
        raise
    _event(app.pk, "emailed", to=mail.mask_email(app.email), invoices=app.invoice_count)
    logger.info("application %s: ZIP mailed to %s", app.pk, mail.mask_email(app.email))
    return "sent"


# --- mailing again, to an address the user chooses -------------------------------------------------


def application_mail_resend(*, user: User, application_id, email) -> MailResend:
    """The user asks for an issued application's ZIP to be mailed again, to ``email``: at most
    ``MAIL_RESENDS_PER_DAY`` times a day per user (Asia/Shanghai), counted under a lock on the
    user's row so that requests at once cannot pass the limit together. The mail goes from a task
    queued once this commits; the application's own address is left as it was."""
    app = Application.objects.filter(pk=application_id, user=user).first() if isinstance(application_id, int) else None
    if app is None:
        raise ServiceError("not_found", _("找不到该开票申请。"), status=404)
    email = email.strip() if isinstance(email, str) else ""
    try:
        validate_email(email)
        MaxLengthValidator(254)(email)  # what the column stores (EmailField)
    except ValidationError:
        raise ServiceError(
            "invalid", _("请填写正确的邮箱地址。"), errors={"email": [_("邮箱地址格式不正确。")]}
        ) from None
    if app.status != Application.Status.ISSUED:
        raise ServiceError("not_issued", _("这个申请还没有开票完成，开票完成后才能发送邮件。"))
    limit = settings.MAIL_RESENDS_PER_DAY
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True).first()
        if MailResend.objects.filter(user=user, requested_at__gte=_day_start()).count() >= limit:
            raise ServiceError(
                "too_many_resends",
                _("今天已重新发送 %(n)s 次邮件，已达每日上限，请明天再试，或在本页直接下载压缩包。") % {"n": limit},
                status=429,
            )
        resend = MailResend.objects.create(application=app, user=user, email=email)
        _event(app.pk, "resend_requested", actor=user, to=mail.mask_email(email), by="user")
        transaction.on_commit(lambda: _queue_resend(resend.pk))
    return resend


def _day_start():
    return timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)


def resends_left_today(user: User) -> int:
    used = MailResend.objects.filter(user=user, requested_at__gte=_day_start()).count()
    return max(0, settings.MAIL_RESENDS_PER_DAY - used)


def _queue_resend(resend_id: int) -> None:
    enqueue(DELIVER_RESEND, resend_id, what=f"mail resend {resend_id}")


def resend_deliver(*, resend_id: int) -> str:
    """Mails the ZIP of a user's resend request, once: ``sent``, ``already_sent`` or ``gone``;
    DocumentsNotReady while a document is missing, the backend's error when sending fails (the
    task retries both). Claimed by a conditional UPDATE before sending, given back on failure."""
    _refuse_inside_transaction("mail delivery")
    resend = MailResend.objects.select_related("application__card").filter(pk=resend_id).first()
    if resend is None or resend.application.status != Application.Status.ISSUED:
        return "gone"
    if resend.sent_at:
        return "already_sent"
    app = resend.application
    _invoices, items = application_documents(app)
    claimed_at = timezone.now()
    if not MailResend.objects.filter(pk=resend.pk, sent_at__isnull=True).update(sent_at=claimed_at):
        return "already_sent"
    try:
        message = mail.compose(app, zip_name=archive.filename(app), zip_bytes=archive.as_bytes(items), to=resend.email)
        message.send()
    except BaseException:
        MailResend.objects.filter(pk=resend.pk, sent_at=claimed_at).update(sent_at=None)
        raise
    _event(app.pk, "emailed", to=mail.mask_email(resend.email), invoices=app.invoice_count, resend=resend.pk)
    logger.info("application %s: ZIP mailed again to %s", app.pk, mail.mask_email(resend.email))
    return "sent"


def delivery_failed(*, application_id: int, error: str, final: bool) -> None:
    _event(application_id, "email_gave_up" if final else "email_failed", reason=error[:300])


def delivery_waited_too_long(*, application_id: int) -> None:
    """The documents were not ready within the delivery's retries: the mail goes when the last
    one is stored (``deliver_when_complete``, or the sweep)."""
    _event(application_id, "email_waiting", reason="documents not rendered yet")


# --- the sweep ---------------------------------------------------------------------------------------


def documents_sweep(*, now=None) -> dict[str, int]:
    """Queues again what the broker lost: invoices pending for too long, the summary sheets of
    recent applications, and deliveries that never happened (issued with an e-mail address, every
    document stored, not mailed, no mail failure in the last hours and no final one), after giving
    back the claims of deliveries whose worker died between claim and send."""
    now = now or timezone.now()
    pending = list(
        Invoice.objects.filter(render_status=Invoice.RenderStatus.PENDING, issued_at__lt=now - STALE_PENDING)
        .order_by("id")
        .values_list("id", "application_id")[:500]
    )
    requeued = 0
    for invoice_id, _app_id in pending:
        # Once per half hour at most: a long backlog must not be queued again on every sweep.
        if cache.add(f"render-swept:{invoice_id}", 1, SWEEP_AGAIN_AFTER):
            requeued += enqueue(RENDER_INVOICE, invoice_id, what=f"invoice {invoice_id}: render (sweep)")
    recent = Application.objects.filter(
        status=Application.Status.ISSUED, issued_at__gte=now - DELIVERY_WINDOW, issued_at__lt=now - STALE_PENDING
    ).select_related("card")
    summaries = 0
    for app in recent.filter(summary_no__isnull=False).only("id", "summary_no", "card_id")[:500]:
        if not storage.exists(storage.summary_path(app)):
            summaries += enqueue(RENDER_SUMMARY, app.pk, what=f"application {app.pk}: summary sheet (sweep)")
    emailed = ApplicationEvent.objects.filter(kind="emailed").values("application_id")
    abandoned = recent.filter(emailed_at__lt=now - ABANDONED_CLAIM).exclude(id__in=emailed).update(emailed_at=None)
    troubled = ApplicationEvent.objects.filter(
        Q(kind="email_gave_up") | Q(kind="email_failed", at__gte=now - timedelta(hours=3))
    ).values("application_id")
    incomplete = Invoice.objects.exclude(render_status=Invoice.RenderStatus.RENDERED).values("application_id")
    undelivered = list(
        recent.exclude(email="")
        .filter(emailed_at__isnull=True)
        .exclude(id__in=troubled)
        .exclude(id__in=incomplete)
        .values_list("id", flat=True)[:500]
    )
    delivered = sum(
        enqueue(DELIVER_APPLICATION, app_id, what=f"application {app_id}: delivery (sweep)") for app_id in undelivered
    )
    counts = {"invoices": requeued, "summaries": summaries, "deliveries": delivered, "abandoned": abandoned}
    if any(counts.values()):
        logger.info("documents sweep re-queued %s", counts)
    return counts
