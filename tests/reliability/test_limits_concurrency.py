"""Limits hold under concurrency: the API's throttles and the abuse limits count with one atomic
round trip on Redis, so 16 clients at once never get more than the limit between them."""

from __future__ import annotations

import os
import threading
import time
from types import SimpleNamespace

import pytest
from django.core.cache import caches

from accounts.audiences import AppThrottle
from accounts.models import User
from piaogen import throttling
from piaogen.limits import Limit

REDIS = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/4").rsplit("/", 1)[0] + "/5"


@pytest.fixture
def redis_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "piaogen.cache.PooledRedisCache", "LOCATION": REDIS}}
    try:
        caches["default"].get("probe")
    except Exception:
        pytest.skip("no Redis at " + REDIS)
    yield caches["default"]
    caches["default"].clear()  # db 5 is this suite's own


def _hammer(call, threads: int = 16, each: int = 100) -> int:
    allowed, lock, start = [0], threading.Lock(), threading.Barrier(threads)

    def run():
        start.wait()
        mine = sum(1 for _ in range(each) if call())
        with lock:
            allowed[0] += mine

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return allowed[0]


def test_1600_concurrent_app_calls_pass_a_600_a_minute_limit_600_times(redis_cache, monkeypatch):
    monkeypatch.setattr(AppThrottle, "rate", "600/min", raising=False)
    user = User(pk=987654)
    request = SimpleNamespace(user=user, META={"REMOTE_ADDR": "198.51.100.1"})
    throttle = AppThrottle()
    throttle.rate = "600/min"
    throttle.num_requests, throttle.duration = throttle.parse_rate("600/min")
    now = time.time()
    monkeypatch.setattr(throttling, "time", SimpleNamespace(time=lambda: now, monotonic=time.monotonic))
    passed = _hammer(lambda: AppThrottle.allow_request(throttle, request, None))  # 1,600 calls
    assert passed == 600


def test_abuse_limit_counts_every_concurrent_event(redis_cache):
    limit = Limit("concurrency-test", 50, 3600)
    _hammer(lambda: limit.hit("someone") and False, threads=16, each=25)
    assert limit.count("someone") == 400
