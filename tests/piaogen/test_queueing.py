"""Queueing never fails what was done: a refused message is logged and left to the sweep."""

from __future__ import annotations

import logging

import pytest
from kombu.exceptions import OperationalError

from piaogen.queueing import enqueue, enqueue_each, enqueue_on_commit


class Task:
    def __init__(self, fails: bool = False, takes: int | None = None):
        self.fails, self.takes, self.sent = fails, takes, []
        self.calls = 0

    def delay(self, *args, **kwargs):
        self.calls += 1
        if self.fails or (self.takes is not None and len(self.sent) >= self.takes):
            raise OperationalError("[Errno 111] Connection refused")
        self.sent.append((args, kwargs))

    def apply_async(self, args, kwargs, **options):
        self.delay(*args, **kwargs)
        self.options = options


def test_a_message_the_broker_takes_is_sent_as_given():
    task = Task()
    assert enqueue(task, 7, [1, 2], summary=True, what="application 7: documents") is True
    assert task.sent == [((7, [1, 2]), {"summary": True})]


def test_a_message_may_say_what_it_carries_instead_of_listing_it():
    task = Task()
    ids = list(range(1000))
    assert enqueue(task, 7, ids, summary=True, what="application 7: documents", argsrepr="(7, [1000 invoice ids])")
    assert task.sent == [((7, ids), {"summary": True})] and task.options == {"argsrepr": "(7, [1000 invoice ids])"}


def test_a_refused_message_is_logged_for_the_sweep_and_raises_nothing(caplog):
    with caplog.at_level(logging.WARNING, logger="piaogen.queueing"):
        assert enqueue(Task(fails=True), 7, what="application 7: issuing") is False
    [record] = caplog.records
    assert "application 7: issuing could not be queued (OperationalError" in record.getMessage()
    assert "the sweep will" in record.getMessage()


@pytest.mark.django_db
def test_on_commit_it_waits_for_the_commit_and_a_refusal_still_raises_nothing(django_capture_on_commit_callbacks):
    task, refusing = Task(), Task(fails=True)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        enqueue_on_commit(task, 1, what="application 1: delivery")
        enqueue_on_commit(refusing, 2, what="application 2: delivery")
        assert task.sent == []  # not before the commit
    assert len(callbacks) == 2 and task.sent == [((1,), {})] and refusing.sent == []


def test_many_messages_are_sent_in_order_and_counted():
    task = Task()
    assert enqueue_each(task, [(1,), (2,), (3,)], what="3 applications: issuing") == 3
    assert task.sent == [((1,), {}), ((2,), {}), ((3,), {})]


def test_many_messages_stop_at_the_first_refusal_with_one_warning(caplog):
    task = Task(takes=2)
    with caplog.at_level(logging.WARNING, logger="piaogen.queueing"):
        assert enqueue_each(task, [(n,) for n in range(5)], what="5 applications: issuing") == 2
    assert task.calls == 3  # the rest are not tried: each would wait out the same refusal
    [record] = caplog.records
    assert "5 applications: issuing: 3 of 5 could not be queued (OperationalError" in record.getMessage()
    assert "the sweep will" in record.getMessage()
