"""The read replica's rules that need no second server (the real standby: tests/e2e/test_replica.py)."""

from __future__ import annotations

from django.db import connections

from accounts.models import User
from invoices.models import Invoice
from piaogen import replica


def test_a_replica_that_is_not_postgresql_is_refused_at_start():
    pg = {"ENGINE": "django.db.backends.postgresql"}
    [error] = replica.replica_errors({"default": pg, "replica": {"ENGINE": "django.db.backends.sqlite3"}})
    assert error.id == "piaogen.E010" and "PostgreSQL" in error.msg
    assert replica.replica_errors({"default": {"ENGINE": "django.db.backends.sqlite3"}, "replica": pg})
    assert replica.replica_errors({"default": pg, "replica": pg}) == []
    assert replica.replica_errors({"default": pg}) == []  # no replica: nothing to check


def test_wal_positions_compare_as_numbers():
    assert replica._lsn("0/3000060") < replica._lsn("0/30000A0") < replica._lsn("1/0")
    assert replica._lsn("") is None and replica._lsn(None) is None


class FakeRequest:
    method = "GET"

    class user:
        is_authenticated = False


def test_the_router_sends_only_tolerant_reads_of_listed_apps_outside_transactions(settings, monkeypatch):
    settings.REPLICA_APPS = ["invoices"]
    router = replica.ReplicaRouter()
    monkeypatch.setattr(replica, "_decide", lambda state: True)  # the replica answers and has caught up
    state = replica._Request(FakeRequest())
    token = replica._current.set(state)
    try:
        assert router.db_for_read(Invoice) == "default"  # the view did not say it tolerates lag
        state.tolerant = True
        assert router.db_for_read(Invoice) == "replica"
        assert router.db_for_read(User) == "default"  # accounts stay on the primary
        # Inside a transaction (no query needed to tell: the connection knows it is in one).
        monkeypatch.setattr(connections["default"], "in_atomic_block", True)
        assert router.db_for_read(Invoice) == "default"
        monkeypatch.setattr(connections["default"], "in_atomic_block", False)
        assert router.db_for_write(Invoice) == "default"
        assert router.allow_migrate("replica", "invoices") is False and router.allow_migrate("default", "invoices")
    finally:
        replica._current.reset(token)
    assert router.db_for_read(Invoice) == "default"  # no request: a worker or a command
