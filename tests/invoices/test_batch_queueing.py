"""A batch's issuing is queued in one publish: after the submit commits, one fan-out message
(``invoices.tasks.issue_fan_out``) carries every application of the batch, and a worker turns
it into one issuing task each. A broker that refuses, in the request or in
the worker, answers nothing but the usual 202 and leaves the applications to the sweep.

The messages are caught where Celery hands them to the broker (``amqp.send_task_message``),
with eager mode off, so that what is counted is what would be published."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError

from invoices import batches, services, tasks
from invoices.models import Application, Batch

from .test_batches import BATCHES, MONTH, body, fleet  # noqa: F401  (fixture)


class Broker:
    """What reaches the broker: (task name, args) a message; refuses from the
    ``refuse_from``-th message on (0: every one), as kombu does when Redis is gone."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list]] = []
        self.refuse_from: int | None = None
        self.attempts = 0  # messages offered, refused ones included

    def send(self, producer, name, message, **options):
        self.attempts += 1
        if self.refuse_from is not None and len(self.sent) >= self.refuse_from:
            raise OperationalError("[Errno 111] Connection refused")
        self.sent.append((message.headers["task"], list(message.body[0])))

    def names(self) -> list[str]:
        return [name for name, _args in self.sent]


@pytest.fixture
def broker(monkeypatch, settings):
    from piaogen.celery import app

    caught = Broker()
    eager = app.conf.task_always_eager  # read through to the settings: before they change
    settings.CELERY_TASK_ALWAYS_EAGER = app.conf.task_always_eager = False
    monkeypatch.setattr(app.amqp, "send_task_message", caught.send)
    yield caught
    app.conf.task_always_eager = eager


def submitted(batch_id: int) -> list[int]:
    return list(
        Application.objects.filter(batch_id=batch_id, status="submitted").order_by("pk").values_list("pk", flat=True)
    )


@pytest.mark.django_db
def test_the_submit_publishes_once_and_the_fan_out_queues_each_application(fleet, broker):  # noqa: F811
    with TestCase.captureOnCommitCallbacks(execute=True):
        r = fleet.user.post(BATCHES, body(fleet), format="json")
        assert r.status_code == 202, r.content
        assert broker.sent == []  # nothing before the commit
    batch_apps = submitted(r.json()["id"])
    assert len(batch_apps) == 3
    # one message for the batch, carrying each of its applications
    assert broker.names() == ["invoices.tasks.issue_fan_out"]
    assert broker.sent[0][1] == [batch_apps]

    # the worker's side: one issuing task for each application
    assert tasks.issue_fan_out.apply(args=[batch_apps]).get() == 3
    issuing = broker.sent[1:]
    assert [name for name, _args in issuing] == ["invoices.tasks.issue_application"] * 3
    assert [args for _name, args in issuing] == [[pk] for pk in batch_apps]

    # a fan-out delivered again queues only what is still waiting
    Application.objects.filter(pk=batch_apps[0]).update(status="issued")
    del broker.sent[:]
    assert tasks.issue_fan_out.apply(args=[batch_apps]).get() == 2
    assert [args for _name, args in broker.sent] == [[pk] for pk in batch_apps[1:]]


@pytest.mark.django_db
def test_a_single_card_batch_and_many_chunks(fleet, broker, monkeypatch):  # noqa: F811
    """One card-month is queued as a single application is; more applications than a fan-out
    message carries take one message per chunk."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        r = fleet.user.post(BATCHES, body(fleet, card_nos=fleet.fleet[:1]), format="json")
    assert r.status_code == 202, r.content
    [app_id] = submitted(r.json()["id"])
    assert broker.sent == [("invoices.tasks.issue_application", [app_id])]

    del broker.sent[:]
    monkeypatch.setattr(services, "ISSUE_FAN_OUT_CHUNK", 2)
    assert services.enqueue_issue_each([11, 12, 13, 14, 15]) is True
    assert broker.sent == [("invoices.tasks.issue_fan_out", [ids]) for ids in ([11, 12], [13, 14], [15])]


@pytest.mark.django_db
@pytest.mark.parametrize("where", ["api", "page"])
def test_a_broker_that_refuses_the_fan_out_leaves_the_batch_to_the_sweep(fleet, broker, client, caplog, where):  # noqa: F811
    broker.refuse_from = 0
    with caplog.at_level(logging.WARNING, logger="piaogen.queueing"), TestCase.captureOnCommitCallbacks(execute=True):
        if where == "api":
            r = fleet.user.post(BATCHES, body(fleet), format="json")
            assert r.status_code == 202, r.content
            batch_id = r.json()["id"]
        else:
            client.force_login(fleet.user.user)
            digest = batches.batch_preview(
                user=fleet.user.user, month=MONTH, mode="per_trip", title_id=fleet.company
            ).digest
            form = {"month": MONTH, "mode": "per_trip", "scope": "all", "title_id": fleet.company}
            r = client.post(reverse("invoices:batch_apply"), form | {"step": "confirm", "plan_digest": digest})
            batch_id = Batch.objects.get().pk
            assert r.status_code == 302 and r["Location"] == reverse("invoices:batch", args=[batch_id])
    waiting = submitted(batch_id)
    assert len(waiting) == 3 and broker.sent == []
    [record] = caplog.records
    assert f"applications {waiting[0]}…{waiting[-1]} (3): issuing could not be queued" in record.getMessage()
    assert "the sweep will" in record.getMessage()

    # the broker is back: the sweep queues each of them once they have waited long enough
    broker.refuse_from = None
    assert services.applications_sweep() == 0  # too fresh: their message may be on its way
    later = timezone.now() + services.STALE_SUBMITTED + timedelta(seconds=1)
    assert services.applications_sweep(now=later) == 3
    assert broker.names() == ["invoices.tasks.issue_application"] * 3
    assert sorted(args[0] for _name, args in broker.sent) == waiting


@pytest.mark.django_db
def test_a_broker_that_fails_while_the_worker_fans_out_leaves_the_rest_to_the_sweep(fleet, broker, caplog):  # noqa: F811
    with TestCase.captureOnCommitCallbacks(execute=True):
        r = fleet.user.post(BATCHES, body(fleet), format="json")
    batch_apps = submitted(r.json()["id"])
    broker.refuse_from = 2  # the fan-out and the first application's issuing go through
    with caplog.at_level(logging.WARNING, logger="piaogen.queueing"):
        assert tasks.issue_fan_out.apply(args=[batch_apps]).get() == 1
    assert "3 applications: issuing: 2 of 3 could not be queued (OperationalError" in caplog.text
    assert [args for _name, args in broker.sent[1:]] == [[batch_apps[0]]]

    broker.refuse_from = None
    del broker.sent[:]
    later = timezone.now() + services.STALE_SUBMITTED + timedelta(seconds=1)
    assert services.applications_sweep(now=later) == 3  # every one still waiting; issuing is once
    assert sorted(args[0] for _name, args in broker.sent) == batch_apps


@pytest.mark.django_db
def test_eager_the_fan_out_issues_every_application_of_the_batch(fleet):  # noqa: F811
    """With eager Celery (``make run`` without a worker, the suite), the fan-out runs inline and
    each application is issued."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        r = fleet.user.post(BATCHES, body(fleet), format="json")
    assert r.status_code == 202, r.content
    statuses = Application.objects.filter(batch_id=r.json()["id"]).values_list("status", flat=True)
    assert list(statuses) == ["issued"] * 3


@pytest.mark.django_db
def test_a_broker_that_fails_during_the_sweep_is_not_asked_again_for_each_application(fleet, broker, caplog):  # noqa: F811
    """The sweep re-queues up to 1,000 applications a run: once the broker refuses one, the
    rest are left for the next run, instead of each waiting out the publish retries in turn."""
    broker.refuse_from = 0
    with TestCase.captureOnCommitCallbacks(execute=True):
        r = fleet.user.post(BATCHES, body(fleet), format="json")
    waiting = submitted(r.json()["id"])
    assert len(waiting) == 3 and broker.sent == []

    broker.refuse_from, broker.attempts = 1, 0  # the broker takes one message, then goes away
    later = timezone.now() + services.STALE_SUBMITTED + timedelta(seconds=1)
    with caplog.at_level(logging.WARNING, logger="piaogen.queueing"):
        assert services.applications_sweep(now=later) == 1
    assert broker.attempts == 2  # the one taken and the one refused; the third was not offered
    assert [args for _name, args in broker.sent] == [[waiting[0]]]
    assert "sweep: 3 applications: issuing: 2 of 3 could not be queued" in caplog.text
    assert submitted(r.json()["id"]) == waiting  # nothing lost: the next run takes them

    broker.refuse_from = None
    del broker.sent[:]
    assert services.applications_sweep(now=later + services.STALE_SUBMITTED) == 3
    assert sorted(args[0] for _name, args in broker.sent) == waiting
