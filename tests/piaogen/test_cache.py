"""The Redis cache backend keeps one client per connection pool (piaogen/cache.py)."""

from __future__ import annotations

import os
import uuid
from concurrent.futures import ThreadPoolExecutor

from django.core.cache.backends.redis import RedisCache

from piaogen.cache import PooledRedisCache

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/9"


def make() -> PooledRedisCache:
    return PooledRedisCache(REDIS_URL, {"KEY_PREFIX": f"t{uuid.uuid4().hex[:8]}"})


def test_one_client_serves_every_call_of_the_pool():
    cache = make()
    first = cache._cache.get_client(write=True)
    assert cache._cache.get_client(write=True) is first
    assert cache._cache.get_client() is first  # one server: reads and writes share the pool
    # Django's own client makes a new one each time: what the backend is for.
    plain = RedisCache(REDIS_URL, {})
    assert plain._cache.get_client() is not plain._cache.get_client()


def test_the_shared_client_answers_many_threads_each_their_own_value():
    cache = make()

    def roundtrip(n: int) -> int:
        cache.set(f"k{n}", n, 30)
        cache.add(f"c{n % 4}", 0, 30)
        cache.incr(f"c{n % 4}")
        return cache.get(f"k{n}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(roundtrip, range(200)))
    assert got == list(range(200))
    assert sum(cache.get(f"c{i}") for i in range(4)) == 200
    assert len(cache._cache._clients) == 1


def test_threads_meeting_at_the_first_call_share_one_pool_and_client(monkeypatch):
    """Django makes a pool on first use without a lock; threads arriving together (made to
    overlap here by a slow pool) must still end with one pool and one client."""
    import time

    cache = make()
    client = cache._cache
    real = client._pool_class.from_url

    def slow(*args, **kwargs):
        time.sleep(0.05)
        return real(*args, **kwargs)

    monkeypatch.setattr(client._pool_class, "from_url", slow)
    with ThreadPoolExecutor(max_workers=8) as pool:
        clients = list(pool.map(lambda _n: client.get_client(write=True), range(8)))
    assert len({id(c) for c in clients}) == 1
    assert len(client._pools) == 1 and len(client._clients) == 1
