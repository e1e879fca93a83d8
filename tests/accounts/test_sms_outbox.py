"""The SMS outbox (accounts.services ``sms_*``, accounts.tasks): every SMS is a row first and is
sent by a Celery task, never by the request; a sent one is never sent again, an expired code
never late, a failing gateway retried with Celery's back-off and then given up; the sweep
queues what a lost task left behind. Unit tests run tasks eagerly (inline)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from celery.exceptions import Retry
from django.utils import timezone

from accounts import services
from accounts.models import OutboundSms, SmsCode
from accounts.sms import FileBackend, SmsMessage
from accounts.tasks import sms_send


@pytest.mark.django_db
def test_a_code_is_delivered_by_the_task_and_wiped_from_the_outbox(sms):
    services.sms_code_send(mobile="13700000001", purpose=SmsCode.Purpose.REGISTER)
    row = OutboundSms.objects.get()
    assert row.status == "sent" and row.attempts == 1 and row.sent_at is not None
    assert row.code is None and row.text is None and row.mobile_masked == "137****0001"
    (message,) = sms.messages()
    assert message["mobile"] == "13700000001" and len(message["code"]) == 6


@pytest.mark.django_db
def test_a_sent_message_is_not_sent_again(sms):
    (sms_id,) = services.sms_outbox_add([SmsMessage(mobile="13700000002", text="【票根】测试", purpose="notice")])
    assert services.sms_deliver(sms_id=sms_id) == "sent"
    assert services.sms_deliver(sms_id=sms_id) == "sent"  # a redelivered task
    assert sms_send.delay(sms_id).get() == "sent"
    assert len(sms.messages()) == 1 and OutboundSms.objects.get().attempts == 1


@pytest.mark.django_db
def test_an_expired_code_is_never_sent_late(sms):
    past = timezone.now() - timedelta(seconds=1)
    (sms_id,) = services.sms_outbox_add(
        [SmsMessage(mobile="13700000003", text="验证码123456", purpose="login", code="123456")], expires_at=past
    )
    assert services.sms_deliver(sms_id=sms_id) == "expired"
    row = OutboundSms.objects.get()
    assert row.status == "expired" and row.code is None and sms.messages() == []


@pytest.mark.django_db
def test_a_failing_gateway_is_retried_then_given_up_and_never_fails_the_caller(sms, monkeypatch):
    calls = []

    def refuse(self, message):
        calls.append(message.mobile)
        raise ConnectionError("gateway down")

    monkeypatch.setattr(FileBackend, "send", refuse)
    (sms_id,) = services.sms_outbox_add([SmsMessage(mobile="13700000004", text="通知", purpose="notice")])
    services.sms_queue([sms_id])  # the caller (a request, a partner's push) never sees the failure
    row = OutboundSms.objects.get()
    assert row.status == "pending" and row.attempts >= 1 and row.last_error == "ConnectionError"
    # A try that fails asks Celery for a retry (autoretry_for, with Celery's back-off)…
    with pytest.raises(Retry):
        sms_send.apply(args=[sms_id], throw=False)
    # …and the last allowed try gives the message up.
    last = sms_send.apply(args=[sms_id], retries=sms_send.max_retries, throw=False)
    assert last.get() == "failed"
    row.refresh_from_db()
    assert row.status == "failed" and row.text is None and row.attempts == len(calls)
    assert sms_send.retry_backoff and sms_send.retry_jitter and sms_send.max_retries == 6


@pytest.mark.django_db
def test_the_sweep_queues_pending_messages_a_lost_task_left_and_ends_expired_codes(sms, monkeypatch):
    monkeypatch.setattr(services, "sms_queue", lambda ids: None)  # the broker lost them
    old = services.sms_outbox_add([SmsMessage(mobile="13700000005", text="通知", purpose="notice")])
    stale_code = services.sms_outbox_add(
        [SmsMessage(mobile="13700000006", text="验证码", purpose="login", code="654321")],
        expires_at=timezone.now() + timedelta(seconds=30),
    )
    monkeypatch.undo()
    assert services.sms_sweep() == 0  # too fresh: their tasks may still be on their way
    later = timezone.now() + services.SMS_STALE + timedelta(seconds=1)
    assert services.sms_sweep(now=later) == 1  # the notice; the code expired meanwhile
    assert OutboundSms.objects.get(pk=old[0]).status == "sent"
    assert OutboundSms.objects.get(pk=stale_code[0]).status == "expired"
    assert [m["mobile"] for m in sms.messages()] == ["13700000005"]


@pytest.mark.django_db
def test_many_messages_are_queued_as_a_few_fan_out_messages(sms, monkeypatch):
    from accounts import tasks

    published = []
    monkeypatch.setattr(tasks.sms_fan_out, "delay", lambda ids: published.append(len(ids)))
    monkeypatch.setattr(services, "SMS_FAN_OUT_CHUNK", 4)
    ids = services.sms_outbox_add(
        [SmsMessage(mobile=f"1370000{i:04d}", text="通知", purpose="notice") for i in range(10)]
    )
    services.sms_queue(ids)
    assert published == [4, 4, 2]
