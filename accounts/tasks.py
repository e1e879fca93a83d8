"""SMS delivery tasks (queue "sms", see CELERY_TASK_ROUTES): thin wrappers over the outbox
services. Each delivery is safe to run twice: a sent row is not sent again."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(services.SmsNotSent,),
    max_retries=6,
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    soft_time_limit=20,  # the gateway's own timeout is 10 s
    time_limit=30,
)
def sms_send(self, sms_id: int) -> str:
    try:
        return services.sms_deliver(sms_id=sms_id)
    except services.SmsNotSent:
        if self.request.retries >= self.max_retries:
            services.sms_give_up(sms_id=sms_id)
            return "failed"
        raise


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def sms_fan_out(sms_ids: list[int]) -> int:
    """One message per outbox row, so that each has its own retries and time limit."""
    for sms_id in sms_ids:
        sms_send.delay(sms_id)
    return len(sms_ids)


@shared_task(soft_time_limit=60, time_limit=90)
def sweep_sms() -> int:
    return services.sms_sweep()
