"""The production settings with two additions: a trivial JSON view at /api/v1/bench/trivial
(bench/urls.py), the reference the verification figure is measured against on the same server;
and the cache keys prefixed with ``BENCH_CACHE_PREFIX`` (bench/verify.py: the bench database's
identity), so that counters kept in Redis for one generated database do not count for another."""

import os

from piaogen.settings import *  # noqa: F403
from piaogen.settings import CACHES

ROOT_URLCONF = "bench.urls"
CACHES["default"]["KEY_PREFIX"] = os.environ.get("BENCH_CACHE_PREFIX", "")
