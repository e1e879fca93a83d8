"""Polling for what another process or thread does."""

from __future__ import annotations

import time


def wait_for(predicate, timeout: float = 30, interval: float = 0.2, *, what: str = "condition"):
    """Calls ``predicate`` every ``interval`` seconds until it returns something true, and returns
    that; fails the test if it has not within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not met within {timeout:.0f} s")
        time.sleep(interval)
