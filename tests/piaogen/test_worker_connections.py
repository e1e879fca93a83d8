"""A worker keeps its database connection from one task to the next, as the site keeps it from
one request to the next (``CONN_MAX_AGE``), instead of Celery's default of a new connection for
every task; an old or broken one is closed all the same, and a task run eagerly never touches
its caller's connection."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from celery.fixups.django import DjangoWorkerFixup
from celery.signals import task_postrun, task_prerun
from django.db import connection, transaction

from piaogen.celery import app


class _Task:
    def __init__(self, *, eager: bool):
        self.request = SimpleNamespace(is_eager=eager)


def _around_task(eager: bool = False) -> None:
    task = _Task(eager=eager)
    task_prerun.send(sender=task, task_id="t", task=task, args=(), kwargs={})
    task_postrun.send(sender=task, task_id="t", task=task, args=(), kwargs={}, retval=None, state="SUCCESS")


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_celerys_fixup_no_longer_closes_the_connections_around_every_task():
    fixup = DjangoWorkerFixup(app)
    assert fixup.db_reuse_max and fixup.db_reuse_max >= 100
    closed = []
    fixup._close_database = lambda *a, **k: closed.append(1)
    for _ in range(50):
        fixup.close_database()
    assert closed == []


@pytest.fixture
def kept_connections():
    """A fresh connection that may live 60 s (CONN_MAX_AGE), as in production."""
    connection.close()
    before = connection.settings_dict["CONN_MAX_AGE"]
    connection.settings_dict["CONN_MAX_AGE"] = 60
    yield
    connection.settings_dict["CONN_MAX_AGE"] = before


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_healthy_connection_serves_the_next_task(kept_connections):
    first = _backend_pid()
    _around_task()
    assert _backend_pid() == first
    _around_task()
    assert _backend_pid() == first


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_old_or_broken_connection_is_closed_between_tasks(kept_connections):
    first = _backend_pid()
    connection.close_at = time.monotonic() - 1  # older than CONN_MAX_AGE
    _around_task()
    assert connection.connection is None
    second = _backend_pid()
    assert second != first
    connection.errors_occurred = True
    connection.connection.close()  # the server went away meanwhile
    _around_task()
    assert _backend_pid() not in (first, second)


@pytest.mark.django_db
def test_an_eager_task_leaves_its_callers_transaction_alone():
    with transaction.atomic():
        connection.ensure_connection()
        raw = connection.connection
        _around_task(eager=True)
        assert connection.connection is raw and connection.in_atomic_block
