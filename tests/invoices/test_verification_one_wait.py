"""On Redis a check waits once: its counters are sent, the invoice is read while Redis counts,
then the counts are read, and only then is anything of the invoice answered. What can go wrong
between (Redis forgot the script, the connection broke, the read failed) changes no answer and
no count; a client refused in its window is refused again without a round trip or a read."""

from __future__ import annotations

import pytest
from django.db import DatabaseError

from invoices import verification
from invoices.api.verification import VerifyThrottle
from piaogen import throttling

from . import test_verification
from .test_verification import URL, params, wrong_check

# the fixtures of the verification tests: an issued invoice, Redis as the cache
applied = test_verification.applied
issued = test_verification.issued
redis_cache = test_verification.redis_cache


def _count(cache, inv, client: str = "") -> int | None:
    key = verification.checks_counter(inv.code, inv.number, verification.timezone.localdate(), client).key
    return cache.get(key)


@pytest.mark.django_db
def test_the_counters_are_sent_before_the_read_and_read_after_it(api, issued, redis_cache, monkeypatch):
    order: list[str] = []
    real_init, real_counts, real_find = throttling.Sent.__init__, throttling.Sent.counts, verification.find

    def init(self, *args, **kwargs):
        order.append("sent")
        real_init(self, *args, **kwargs)

    def counts(self):
        order.append("counts")
        return real_counts(self)

    def find(code, number):
        order.append("read")
        return real_find(code, number)

    monkeypatch.setattr(throttling.Sent, "__init__", init)
    monkeypatch.setattr(throttling.Sent, "counts", counts)
    monkeypatch.setattr(verification, "find", find)
    assert api.get(URL, params(issued)).json()["result"] == "genuine"
    assert order == ["sent", "read", "counts"]
    assert _count(redis_cache, issued) == 1


@pytest.mark.django_db
def test_a_redis_that_forgot_the_script_still_counts_once(api, issued, redis_cache):
    client = redis_cache._cache.get_client(write=True)
    assert api.get(URL, params(issued)).json()["result"] == "genuine"
    client.script_flush()  # as after a restart of Redis without persistence
    assert api.get(URL, params(issued)).json()["result"] == "genuine"
    assert _count(redis_cache, issued) == 2
    assert api.get(URL, params(issued)).json()["result"] == "genuine"
    assert _count(redis_cache, issued) == 3


@pytest.mark.django_db
def test_a_broken_connection_is_counted_again_the_plain_way(api, issued, redis_cache, monkeypatch):
    """The reply cannot be read (the connection dropped after Redis ran the script): the chain
    is counted once more on a new connection, and the pool is not left with the broken one. A
    lost reply is counted twice: a limit against guessing errs on the side of counting."""
    real_read = throttling.Sent._read
    broken = []

    def read(self):
        self._conn.disconnect()  # the reply is lost with the connection
        broken.append(True)
        return real_read(self)

    monkeypatch.setattr(throttling.Sent, "_read", read)
    assert api.get(URL, params(issued)).json()["result"] == "genuine"
    assert broken and _count(redis_cache, issued) == 2
    monkeypatch.setattr(throttling.Sent, "_read", real_read)
    assert api.get(URL, params(issued)).json()["result"] == "genuine"
    assert _count(redis_cache, issued) == 3


@pytest.mark.django_db
def test_a_failed_read_still_reads_the_counts_and_answers_503(api, issued, redis_cache, monkeypatch):
    """The database fails while Redis counts: the check is counted as before, the pooled
    connection gets its reply read (the next check on it is answered right), the client gets 503."""

    def fail(code, number):
        raise DatabaseError("the database is restarting")

    with monkeypatch.context() as patched:
        patched.setattr(verification, "find", fail)
        r = api.get(URL, params(issued))
    assert r.status_code == 503
    assert _count(redis_cache, issued) == 1
    for _ in range(3):  # the pool's connections carry no unread reply
        assert api.get(URL, params(issued)).json()["result"] == "genuine"
    assert _count(redis_cache, issued) == 4


@pytest.mark.django_db
def test_a_refused_client_is_refused_again_without_a_round_trip_or_a_read(
    api,
    issued,
    redis_cache,
    monkeypatch,
    django_assert_num_queries,
):
    monkeypatch.setattr(VerifyThrottle, "rate", "2/min", raising=False)
    assert [api.get(URL, wrong_check(issued)).status_code for _ in range(2)] == [200, 200]
    r = api.get(URL, params(issued))  # the third in the minute: counted, refused
    assert r.status_code == 429 and r.json()["limit"] == "client"

    def no_round_trip(*args, **kwargs):
        raise AssertionError("sent to Redis")

    monkeypatch.setattr(throttling.Sent, "__init__", no_round_trip)
    with django_assert_num_queries(0):
        r = api.get(URL, params(issued))
    assert r.status_code == 429 and r.json()["limit"] == "client"
    assert 0 < int(r["Retry-After"]) <= 60
    assert _count(redis_cache, issued) == 2  # refused checks count for nobody's invoice
    # another address is another window
    monkeypatch.undo()
    other = api.get(URL, params(issued), REMOTE_ADDR="10.9.0.7")
    assert other.status_code == 200 and other.json()["result"] == "genuine"


@pytest.mark.django_db
def test_without_redis_nothing_is_sent_and_the_database_counts(api, issued, settings, monkeypatch):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

    def no_round_trip(*args, **kwargs):
        raise AssertionError("sent to Redis")

    monkeypatch.setattr(throttling.Sent, "__init__", no_round_trip)
    assert api.get(URL, params(issued)).json()["result"] == "genuine"
    assert verification.VerificationCounter.objects.get(invoice=issued, client="").count == 1
