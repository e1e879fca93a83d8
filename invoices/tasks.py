"""Thin Celery wrappers: load by id, call a service. The database is the source of truth:
every task is safe to run twice (acks_late + reject_on_worker_lost redeliver after a crash)."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_ready
from celery.utils.time import get_exponential_backoff_interval
from django.db import DatabaseError

from piaogen.queueing import enqueue

from . import services
from .documents import rendering
from .documents import services as documents

logger = logging.getLogger(__name__)
GAVE_UP = services.GAVE_UP


def backoff(task) -> int:
    """The pause before the next try, from the task's own Celery options (``retry_backoff``,
    ``retry_backoff_max``, ``retry_jitter``) and Celery's formula, for tasks that record each
    failure before retrying and so call ``retry`` themselves rather than ``autoretry_for``."""
    return get_exponential_backoff_interval(
        factor=int(task.retry_backoff),
        retries=task.request.retries,
        maximum=task.retry_backoff_max,
        full_jitter=task.retry_jitter,
    )


@shared_task(
    bind=True,
    acks_late=True,
    max_retries=8,
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=False,
    soft_time_limit=120,
    time_limit=150,
)
def issue_application(self, application_id: int) -> None:
    try:
        services.application_issue(application_id=application_id)
    except DatabaseError as exc:
        if self.request.retries >= self.max_retries:
            logger.exception("application %s: giving up after %d retries", application_id, self.request.retries)
            services.application_fail(application_id=application_id, reason=GAVE_UP)
            return
        raise self.retry(exc=exc, countdown=backoff(self)) from exc


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=60, time_limit=90)
def issue_fan_out(application_ids: list[int]) -> int:
    """One message for a batch's applications: one issuing task queued for each."""
    return services.applications_queue(application_ids=application_ids)


@shared_task(ignore_result=True, soft_time_limit=60, time_limit=90)
def sweep_applications() -> int:
    return services.applications_sweep()


def _consumes_default_queue(sender) -> bool:
    """Whether the starting worker takes issuing tasks (the SMS worker of ``runall`` does not)."""
    consumer = getattr(sender, "task_consumer", None)
    queues = getattr(consumer, "queues", None)
    if not queues:
        return True
    return any(q.name == "default" for q in queues)


@worker_ready.connect
def resume_in_flight(sender=None, **_) -> None:
    """A worker that starts queues at once what a dead worker left in flight: applications
    claimed (``issuing``) or waiting (``submitted``), whatever their age, instead of waiting
    for the sweep's 2 and 10 minutes. Issuing is exactly once by the row lock and the status,
    so a second message for an application that another worker is issuing is a no-op."""
    if sender is not None and not _consumes_default_queue(sender):
        return
    try:
        queued = services.applications_sweep(stale_submitted=timedelta(0), stale_issuing=timedelta(0))
        logger.info("worker ready: %d applications in flight queued again", queued)
    except Exception:
        logger.exception("worker ready: applications in flight could not be queued; the sweep will")


# --- documents and mail (queues "render" and "mail", see CELERY_TASK_ROUTES) ----------------------

RENDER_SOFT_LIMIT = 60  # seconds; an invoice renders in about 50 ms, a long monthly one in a second or two
RENDER_HARD_LIMIT = 90


@shared_task(
    bind=True,
    acks_late=True,
    max_retries=5,
    retry_backoff=30,
    retry_backoff_max=1800,
    retry_jitter=False,
    soft_time_limit=RENDER_SOFT_LIMIT,
    time_limit=RENDER_HARD_LIMIT,
)
def render_invoice(self, invoice_id: int, force: bool = False) -> None:
    try:
        invoice = documents.invoice_render(invoice_id=invoice_id, force=force)
    except rendering.RenderingUnavailable as exc:
        # A missing system package: retrying cannot help until the machine is fixed.
        documents.invoice_render_failed(invoice_id=invoice_id, error=str(exc), final=True)
    except Exception as exc:  # SoftTimeLimitExceeded included
        final = self.request.retries >= self.max_retries
        error = "rendering took too long" if isinstance(exc, SoftTimeLimitExceeded) else f"{type(exc).__name__}: {exc}"
        documents.invoice_render_failed(invoice_id=invoice_id, error=error, final=final)
        if final:
            return
        raise self.retry(exc=exc, countdown=backoff(self)) from exc
    else:
        if invoice is not None:
            documents.deliver_when_complete(application_id=invoice.application_id)


@shared_task(ignore_result=True, soft_time_limit=60, time_limit=90)
def render_invoices(application_id: int, invoice_ids: list[int], summary: bool = False) -> None:
    """Fan-out, on the render queue: the summary sheet's task (when ``summary``; the summary
    goes first, it needs only the database and the last document stored sends the mail) and
    one render task per invoice of an issued application. A message lost here is made good by
    ``sweep_documents``, as any lost render task is."""
    if summary:
        enqueue(render_summary, application_id, what=f"application {application_id}: summary sheet")
    for invoice_id in invoice_ids:
        enqueue(render_invoice, invoice_id, what=f"application {application_id}: invoice {invoice_id}")


@shared_task(
    bind=True,
    acks_late=True,
    max_retries=5,
    retry_backoff=30,
    retry_backoff_max=1800,
    retry_jitter=False,
    soft_time_limit=RENDER_SOFT_LIMIT * 4,
    time_limit=RENDER_HARD_LIMIT * 4,
)
def render_summary(self, application_id: int, force: bool = False) -> None:
    try:
        if documents.summary_render(application_id=application_id, force=force):
            documents.deliver_when_complete(application_id=application_id)
    except rendering.RenderingUnavailable:
        logger.exception("application %s: summary sheet cannot be rendered here", application_id)
    except Exception as exc:  # SoftTimeLimitExceeded included
        if self.request.retries >= self.max_retries:
            logger.exception(
                "application %s: summary sheet failed after %d retries", application_id, self.request.retries
            )
            return
        raise self.retry(exc=exc, countdown=backoff(self)) from exc


# Waiting for documents retries from 20 s up to 15 minutes; a failed send from 60 s (below).
@shared_task(
    bind=True,
    acks_late=True,
    max_retries=8,
    retry_backoff=20,
    retry_backoff_max=900,
    retry_jitter=False,
    soft_time_limit=300,
    time_limit=360,
)
def deliver_application(self, application_id: int) -> str:
    """Mails the application's ZIP once its documents are rendered. Waiting and failures are
    retried with growing pauses; issuing never waits for any of it."""
    try:
        return documents.application_deliver(application_id=application_id)
    except documents.DocumentsNotReady as exc:
        if self.request.retries >= self.max_retries:
            documents.delivery_waited_too_long(application_id=application_id)
            return "waiting"
        raise self.retry(exc=exc, countdown=backoff(self)) from exc
    except Exception as exc:  # SoftTimeLimitExceeded included
        final = self.request.retries >= self.max_retries
        documents.delivery_failed(application_id=application_id, error=f"{type(exc).__name__}: {exc}", final=final)
        if final:
            return "gave_up"
        raise self.retry(
            exc=exc, countdown=get_exponential_backoff_interval(60, self.request.retries, 3600, False)
        ) from exc


@shared_task(
    bind=True,
    acks_late=True,
    max_retries=8,
    retry_backoff=20,
    retry_backoff_max=900,
    retry_jitter=False,
    soft_time_limit=300,
    time_limit=360,
)
def deliver_resend(self, resend_id: int) -> str:
    """Mails an application's ZIP again to the address the user chose; retried like the first."""
    try:
        return documents.resend_deliver(resend_id=resend_id)
    except documents.DocumentsNotReady as exc:
        if self.request.retries >= self.max_retries:
            return "waiting"
        raise self.retry(exc=exc, countdown=backoff(self)) from exc
    except Exception as exc:  # SoftTimeLimitExceeded included
        if self.request.retries >= self.max_retries:
            logger.exception("mail resend %s: gave up after %d retries", resend_id, self.request.retries)
            return "gave_up"
        raise self.retry(
            exc=exc, countdown=get_exponential_backoff_interval(60, self.request.retries, 3600, False)
        ) from exc


@shared_task(ignore_result=True, soft_time_limit=120, time_limit=150)
def sweep_documents() -> dict:
    return documents.documents_sweep()


@shared_task(ignore_result=True, soft_time_limit=600, time_limit=660)
def maintain_partitions() -> dict:
    from . import partitions

    return partitions.maintain()


# --- automatic invoicing (自动开票, invoices/autoinvoice.py) ------------------------------------


@shared_task(ignore_result=True, soft_time_limit=120, time_limit=150)
def run_auto_invoices() -> int:
    """Hourly: queues the card task of every card whose latest available month is due."""
    from . import autoinvoice

    return autoinvoice.auto_invoice_sweep()


@shared_task(
    bind=True,
    acks_late=True,
    max_retries=5,
    retry_backoff=30,
    retry_backoff_max=900,
    retry_jitter=False,
    soft_time_limit=120,
    time_limit=150,
)
def auto_invoice_card(self, binding_id: int, month: str) -> None:
    """One card-month; exactly once by the run row (a second message does nothing)."""
    from . import autoinvoice

    try:
        autoinvoice.auto_invoice_card(binding_id=binding_id, month=month)
    except DatabaseError as exc:
        if self.request.retries >= self.max_retries:
            logger.exception(
                "automatic invoicing of binding %s, %s: gave up; the next run tries again", binding_id, month
            )
            return
        raise self.retry(exc=exc, countdown=backoff(self)) from exc
