"""Abuse limits backed by counters in the cache (Redis in production), not by DRF throttles.

A limit counts events (failed logins, say) per identity in fixed windows: at most ``max``
events in ``window`` seconds. Identities are keyed digests, so neither a mobile nor an
address is written into the cache in clear. ``blocked()`` is asked before the guarded action
and ``hit()`` records a failure; ``reset()`` forgets an identity (a successful login).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from . import addresses, throttling
from .crypto import lookup_digest

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    scope: str
    max: int
    window: int  # seconds

    def _key(self, ident: str, now: float) -> tuple[str, int]:
        start = int(now // self.window) * self.window
        digest = lookup_digest(ident, purpose=f"limit:{self.scope}")[:32]
        return f"limit:{self.scope}:{digest}:{start}", start

    def _counter(self, ident: str, now: float) -> tuple[throttling.Counter, int]:
        key, start = self._key(ident, now)
        return throttling.Counter(key, start + self.window + throttling.EXPIRY_MARGIN_SECONDS), start

    def count(self, ident: str) -> int:
        """Events of the identity in the current window."""
        if not ident:
            return 0
        key, _start = self._key(ident, time.time())
        try:
            return int(cache.get(key, 0))
        except Exception as exc:  # an outage: what this process counted meanwhile
            _outages.get(self.scope).warn(exc)
            return throttling.local_counters.get(key)

    def blocked(self, ident: str) -> int | None:
        """Seconds until the window ends when the identity has used up its events, else None."""
        if not ident or self.max <= 0:
            return None
        now = time.time()
        _key, start = self._key(ident, now)
        if self.count(ident) >= self.max:
            return max(1, math.ceil(start + self.window - now))
        return None

    def hit(self, ident: str) -> int:
        """Counts one event, atomically (one round trip on Redis); returns the count in the
        current window. While the cache is out the event is counted in this process."""
        if not ident:
            return 0
        counter, _start = self._counter(ident, time.time())
        try:
            return throttling.incr(counter)
        except throttling.CounterUnavailable as exc:
            _outages.get(self.scope).warn(exc)
            return throttling.local_counters.incr(counter)

    def reset(self, ident: str) -> None:
        if not ident:
            return
        key, _start = self._key(ident, time.time())
        try:
            cache.delete(key)
        except Exception as exc:
            _outages.get(self.scope).warn(exc)


class _Outages(dict):
    def get(self, scope: str) -> throttling.OutageLog:  # type: ignore[override]
        if scope not in self:
            self[scope] = throttling.OutageLog(f"limit {scope}")
        return self[scope]


_outages = _Outages()


def login_account_limit() -> Limit:
    return Limit("login-account", settings.LOGIN_MAX_FAILURES_PER_ACCOUNT, settings.LOGIN_FAILURE_WINDOW_SECONDS)


def login_client_account_limit() -> Limit:
    """Failures of one client address on one account: what locks a stranger out of someone
    else's account long before the account's own limit locks its owner out."""
    return Limit(
        "login-client-account", settings.LOGIN_MAX_FAILURES_PER_CLIENT_ACCOUNT, settings.LOGIN_FAILURE_WINDOW_SECONDS
    )


def pair(address: str, account_key: str) -> str:
    return f"{address}|{account_key}" if address and account_key else ""


def login_address_limit() -> Limit:
    return Limit("login-address", settings.LOGIN_MAX_FAILURES_PER_ADDRESS, settings.LOGIN_FAILURE_WINDOW_SECONDS)


class LoginLimits:
    """The failed-login counters of one attempt, wherever it is made (the pages and the App
    through ``accounts.services.user_authenticate``, the console's login form): per account,
    per client address, and per (address, account).

    ``blocked()`` before checking the credentials: the first limit used up and the seconds
    until its window ends, or None; ``failed()`` counts a failure on all three; ``succeeded()``
    forgets the account's and the pair's failures (not the address's: one client trying many
    accounts stays counted). A login by SMS code (a proved channel) is held only by the
    address's limit, so the owner of an account that strangers locked still gets in.
    """

    def __init__(self, *, account_key: str, address: str, by_code: bool = False):
        self.account = (login_account_limit(), account_key)
        self.address = (login_address_limit(), address)
        self.pair = (login_client_account_limit(), pair(address, account_key))
        self.by_code = by_code

    def blocked(self) -> tuple[Limit, int] | None:
        held_by = [self.address] if self.by_code else [self.account, self.address, self.pair]
        for limit, key in held_by:
            wait = limit.blocked(key)
            if wait:
                logger.warning("login refused: too many failures scope=%s", limit.scope)
                return limit, wait
        return None

    def failed(self) -> None:
        for limit, key in (self.account, self.address, self.pair):
            limit.hit(key)

    def succeeded(self) -> None:
        for limit, key in (self.account, self.pair):
            limit.reset(key)

    def is_address(self, limit: Limit) -> bool:
        return limit.scope == self.address[0].scope


def client_address(request) -> str:
    """The client's address (``X-Forwarded-For`` believed only from ``TRUSTED_PROXIES``)."""
    return addresses.client_address(request)
