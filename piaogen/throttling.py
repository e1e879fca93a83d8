"""Counters in the cache for limits that every request of a hot path meets.

A ``Counter`` is a cache key that expires at a given moment. ``incr()`` adds one to a counter and
returns the new count: on Redis one command and one round trip (a Lua script of ``INCR`` and
``EXPIREAT``, atomic, so concurrent requests in any number of processes each get their own
count), on other caches ``add`` then ``incr``. ``incr_chain()`` adds one to a first counter
and, while each stays within its limit, to the next ones, in the same round trip on Redis.

``FixedWindowThrottle`` is a DRF throttle on such a counter: N requests a client address in a
fixed window. DRF's ``SimpleRateThrottle`` reads a list of timestamps and writes it back (a get,
a set and the list's pickling every request); this is one ``INCR``, and it can carry the count
of what the request goes on to do (``allow_and_count``).
"""

from __future__ import annotations

import logging
import math
import threading
import time
import weakref
from dataclasses import dataclass

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.throttling import SimpleRateThrottle

from . import addresses

logger = logging.getLogger(__name__)

# Beyond the moment a counter stops mattering, for clocks that disagree a little (the key
# names its window or day, so a counter kept a little longer changes no answer).
EXPIRY_MARGIN_SECONDS = 60


class CounterUnavailable(Exception):
    """The cache could not be reached: the caller decides whether to fall back or let through."""


@dataclass(frozen=True)
class Counter:
    key: str
    expire_at: float  # Unix time


def default_cache():
    return caches["default"]


def is_redis(cache=None) -> bool:
    """Whether ``cache`` (a backend, by default the default cache) is Redis."""
    return isinstance(cache if cache is not None else default_cache(), RedisCache)


# A chain of counters: KEYS[1] is always counted, and each next key only while the one before
# stayed within its limit (ARGV[i] is KEYS[i]'s expiry, ARGV[#KEYS + i] its limit). Returns every
# count, 0 for a key not counted.
INCR_SCRIPT = """
local n = #KEYS
local counts = {}
for i = 1, n do counts[i] = 0 end
for i = 1, n do
  counts[i] = redis.call('INCR', KEYS[i])
  redis.call('EXPIREAT', KEYS[i], ARGV[i])
  if counts[i] > tonumber(ARGV[n + i]) then
    return counts
  end
end
return counts
"""

# One redis-py client and script per Django cache backend (one per thread): redis-py builds a
# table of ~170 response callbacks for every client and pipeline it makes, which Django's
# RedisCache does on every call and which costs more than the round trip itself.
_scripts: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _script(cache: RedisCache):
    backend = cache._cache  # Django's RedisCacheClient: the client and pool the cache uses
    script = _scripts.get(backend)
    if script is None:
        client = backend.get_client(write=True)  # writes always go to the first server
        script = _scripts[backend] = client.register_script(INCR_SCRIPT)
    return script


def _script_args(cache: RedisCache, chain: list[tuple[Counter, int]]) -> tuple[list[str], list[int]]:
    keys = [cache.make_and_validate_key(counter.key) for counter, _limit in chain]
    args = [math.ceil(counter.expire_at) for counter, _limit in chain] + [limit for _counter, limit in chain]
    return keys, args


def _run(cache: RedisCache, chain: list[tuple[Counter, int]]) -> list[int]:
    keys, args = _script_args(cache, chain)
    try:
        counts = _script(cache)(keys=keys, args=args)
    except Exception as exc:
        raise CounterUnavailable(str(exc)) from exc
    return [int(c) for c in counts]


class Sent:
    """A chain of counters sent to Redis whose reply is read later (``counts``), so that the
    caller can make its other wait, a database read, while Redis answers: one wait a request
    instead of two. The command goes out on a connection of the cache's pool, as ``EVALSHA``
    of the counting script (loaded when Redis does not know it yet); any trouble on that
    connection (Redis restarted, a timeout) makes the chain be counted once more the plain
    way (``incr_chain``), which raises CounterUnavailable when Redis is out. ``counts`` must
    be called once the other work is done, also when it failed: the connection goes back to
    its pool only with its reply read."""

    def __init__(self, cache: RedisCache, chain: list[tuple[Counter, int]]):
        self.cache, self.chain = cache, chain
        self._counts: list[int] | None = None
        script = _script(cache)
        self._script = script
        self._pool = script.registered_client.connection_pool
        self._keys, self._args = _script_args(cache, chain)
        self._conn = None
        try:
            self._conn = self._pool.get_connection()
            self._conn.send_command("EVALSHA", script.sha, len(self._keys), *self._keys, *self._args)
        except Exception:
            self._give_back(broken=True)

    def _give_back(self, *, broken: bool) -> None:
        if self._conn is not None:
            if broken:
                self._conn.disconnect()
            self._pool.release(self._conn)
            self._conn = None

    def _read(self) -> list[int] | None:
        from redis.exceptions import NoScriptError

        conn = self._conn
        if conn is None:
            return None
        try:
            try:
                reply = conn.read_response()
            except NoScriptError:  # a Redis that has not seen the script yet (new, or flushed)
                conn.send_command("SCRIPT", "LOAD", self._script.script)
                conn.read_response()
                conn.send_command("EVALSHA", self._script.sha, len(self._keys), *self._keys, *self._args)
                reply = conn.read_response()
        except Exception:
            self._give_back(broken=True)
            return None
        self._give_back(broken=False)
        return [int(c) for c in reply]

    def counts(self) -> list[int | None]:
        """The chain's counts as ``incr_chain`` gives them. Raises CounterUnavailable."""
        if self._counts is None:
            counts = self._read()
            self._counts = counts if counts is not None else _run(self.cache, self.chain)
        return [c or None for c in self._counts]


# The limit of a chain's last counter: nothing comes after it.
NO_LIMIT = 2**62


def _add_and_incr(cache, counter: Counter) -> int:
    timeout = max(1, math.ceil(counter.expire_at - time.time()))
    try:
        cache.add(counter.key, 0, timeout=timeout)
        return cache.incr(counter.key)
    except ValueError:  # expired between add and incr
        cache.set(counter.key, 1, timeout=timeout)
        return 1
    except Exception as exc:
        raise CounterUnavailable(str(exc)) from exc


def incr(counter: Counter, *, cache=None) -> int:
    """Adds one to ``counter`` (created at 0); returns the count including this one. Raises
    CounterUnavailable when the cache cannot be reached."""
    cache = cache if cache is not None else default_cache()
    if isinstance(cache, RedisCache):
        return _run(cache, [(counter, NO_LIMIT)])[0]
    return _add_and_incr(cache, counter)


def incr_chain(chain: list[tuple[Counter, int]], *, cache=None) -> list[int | None]:
    """Adds one to the first counter of ``chain`` and to each next one while the one before
    stayed within its limit: on Redis in one round trip. Returns the counts; None for a counter
    not counted here (one before it was over its limit, or, on a cache other than Redis, every
    counter but the first, which the caller keeps elsewhere)."""
    cache = cache if cache is not None else default_cache()
    if isinstance(cache, RedisCache):
        return [c or None for c in _run(cache, chain)]
    return [_add_and_incr(cache, chain[0][0])] + [None] * (len(chain) - 1)


def incr_guarded(first: Counter, limit: int, second: Counter, *, cache=None) -> tuple[int, int | None]:
    """Adds one to ``first`` and, when its count is at most ``limit``, to ``second`` (a chain
    of two)."""
    a, b = incr_chain([(first, limit), (second, NO_LIMIT)], cache=cache)
    return a or 0, b


class LocalCounters:
    """Counters in this process's memory: what limits count while the cache cannot be reached.
    A limit then holds per process (a client spread over N processes gets up to N times it)
    instead of not at all, and nobody is locked out by an outage. Bounded: past ``max_keys``
    the expired counters are dropped, and if that is not enough, all of them."""

    def __init__(self, max_keys: int = 100_000):
        self.max_keys = max_keys
        self._counts: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def incr(self, counter: Counter) -> int:
        now = time.time()
        with self._lock:
            count, expire_at = self._counts.get(counter.key, (0, 0.0))
            if expire_at <= now:
                count = 0
            count += 1
            self._counts[counter.key] = (count, counter.expire_at)
            if len(self._counts) > self.max_keys:
                self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
                if len(self._counts) > self.max_keys:
                    self._counts.clear()
            return count

    def get(self, key: str) -> int:
        with self._lock:
            count, expire_at = self._counts.get(key, (0, 0.0))
            return count if expire_at > time.time() else 0

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()


local_counters = LocalCounters()


class OutageLog:
    """Logs a cache outage at most once a minute per process, not once per request."""

    def __init__(self, what: str, interval: float = 60.0):
        self.what = what
        self.interval = interval
        self.last = -math.inf

    def warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            logger.warning("%s: cache unavailable (%s)", self.what, exc)


# The windows (counter keys) in which this process refused a client: its next requests in the
# window are refused without a round trip (``count_later``).
refusals = LocalCounters(max_keys=10_000)


class Later:
    """What ``FixedWindowThrottle.count_later`` sent, read by ``result``."""

    def __init__(self, throttle, window, allowed=True, counted=None, *, sent: Sent | None = None):
        self.throttle, self.window, self.sent = throttle, window, sent
        self._result = (allowed, counted)

    def result(self) -> tuple[bool, list[int | None]]:
        if self.sent is None:
            return self._result  # type: ignore[return-value]
        sent, self.sent = self.sent, None
        try:
            count, *counted = sent.counts()
        except CounterUnavailable as exc:
            self.throttle.outage.warn(exc)
            allowed = local_counters.incr(self.window) <= self.throttle.num_requests
            counted = [None] * (len(sent.chain) - 1)
        else:
            allowed = (count or 0) <= self.throttle.num_requests
        if not allowed:
            refusals.incr(self.window)
        self._result = (allowed, counted)
        return self._result


class FixedWindowThrottle(SimpleRateThrottle):
    """At most ``num_requests`` a client address in each fixed window of ``duration`` seconds
    (windows start at multiples of the duration). The rate is the scope's entry of
    ``DEFAULT_THROTTLE_RATES``, or the class's ``rate``. Across a window's end a client can get
    up to twice the rate in a short while: the limit is against floods, and limits that must be
    exact keep counters of their own. While the cache cannot be reached the window is counted in
    this process (``local_counters``, logged once a minute): the limit holds per process and
    nobody is locked out by the outage."""

    cache = None  # the default cache, looked up at each request (tests change it)
    outage: OutageLog

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.outage = OutageLog(f"throttle {getattr(cls, 'scope', cls.__name__)}")

    def get_ident(self, request):
        # DRF's own reads X-Forwarded-For from anyone; this believes it only from our proxies.
        return addresses.client_address(request)

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def _window(self, request, view) -> Counter | None:
        if self.rate is None:
            return None
        ident = self.get_cache_key(request, view)
        if ident is None:
            return None
        self.now = time.time()
        start = int(self.now // self.duration) * self.duration
        self.window_end = start + self.duration
        return Counter(f"{ident}:{start}", self.window_end + EXPIRY_MARGIN_SECONDS)

    def allow_request(self, request, view) -> bool:
        window = self._window(request, view)
        if window is None:
            return True
        try:
            count = incr(window, cache=self.cache)
        except CounterUnavailable as exc:
            self.outage.warn(exc)
            count = local_counters.incr(window)
        return count <= self.num_requests

    def allow_and_count(self, request, view, *chain: tuple[Counter, int]) -> tuple[bool, list[int | None]]:
        """``allow_request`` that, when the request is allowed, also counts the chain of
        ``(counter, limit)`` after it (each only while the one before stayed within its limit),
        in the same round trip on Redis. Returns whether allowed and the chain's counts, None
        for a counter not counted here (not reached, a cache other than Redis, or an outage)."""
        window = self._window(request, view)
        if window is None:
            if not is_redis(self.cache):
                return True, [None] * len(chain)
            try:
                return True, incr_chain(list(chain), cache=self.cache)
            except CounterUnavailable as exc:
                self.outage.warn(exc)
                return True, [None] * len(chain)
        try:
            count, *counted = incr_chain([(window, self.num_requests), *chain], cache=self.cache)
        except CounterUnavailable as exc:
            self.outage.warn(exc)
            return local_counters.incr(window) <= self.num_requests, [None] * len(chain)
        return (count or 0) <= self.num_requests, counted

    def count_later(self, request, view, *chain: tuple[Counter, int]) -> Later:
        """``allow_and_count`` in two halves: the counters are sent now, and ``Later.result()``
        gives what ``allow_and_count`` returns once the caller has done its other wait (on
        Redis; elsewhere all is counted now). A client already refused in this window by this
        process is refused again at once, with nothing sent."""
        window = self._window(request, view)
        if window is None or not is_redis(self.cache):
            return Later(self, window, *self.allow_and_count(request, view, *chain))
        if refusals.get(window.key):
            return Later(self, window, False, [None] * len(chain))
        return Later(
            self,
            window,
            sent=Sent(self.cache if self.cache is not None else default_cache(), [(window, self.num_requests), *chain]),
        )

    def wait(self) -> float:
        return max(1, math.ceil(self.window_end - self.now))
