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
