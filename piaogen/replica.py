"""Reads that tolerate a little lag go to a streaming replica; everything else to the primary.

With ``DATABASE_REPLICA_URL`` set (a PostgreSQL hot standby of ``DATABASE_URL``), the database
alias ``replica`` exists and ``ReplicaRouter`` decides per query:

- only inside a request whose view says it tolerates lag (``replica_reads = True`` on the view
  class, or ``@replica_reads`` on a function), and only for its GET and HEAD: the lists and pages
  a person reads (通行记录, 我的发票, an invoice, an application and the status its progress page
  polls, the help centre), the App's lists and the verification page (the verification API's
  GET is answered by piaogen.middleware.LeanGetMiddleware before this router's middleware, and
  reads the primary);
- only for the apps named in ``REPLICA_APPS`` (trips, invoices, the help centre): accounts,
  sessions, tokens and limits are always read on the primary;
- never inside a transaction (a read there may be followed by a write that depends on it), and
  never from Celery workers or management commands (no request);
- never when the person has written and the replica has not replayed their write yet: after a
  request of theirs that could write (any method but GET, HEAD, OPTIONS), the primary's WAL
  position is kept in the cache under their account (``replica:pin:<id>``, ``REPLICA_PIN_SECONDS``);
  a tolerant request of theirs reads the replica only once its replayed position has reached it
  (read-your-writes: the application just submitted is on its progress page at once);
- never while the replica does not answer: the first replica read of each request asks the
  replica for its replayed position (one round trip, which also proves the connection); if that
  fails, the process reads on the primary for ``REPLICA_RETRY_SECONDS`` and then tries again.

Writes always go to the primary, and migrations run only there. docs/scaling.md has the set-up.
"""

from __future__ import annotations

import contextvars
import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.core import checks
from django.core.cache import cache
from django.db import DatabaseError, connections

logger = logging.getLogger(__name__)

REPLICA = "replica"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
PIN_KEY = "replica:pin:%s"


def enabled() -> bool:
    return REPLICA in settings.DATABASES


@checks.register()
def check_replica(app_configs=None, **kwargs):
    return replica_errors(settings.DATABASES)


def replica_errors(databases: dict) -> list:
    """A replica is a PostgreSQL hot standby of a PostgreSQL primary (it is asked for its WAL
    position); anything else is refused at start, not at the first read."""
    if REPLICA not in databases:
        return []
    engines = {alias: databases[alias]["ENGINE"] for alias in ("default", REPLICA)}
    if any(not engine.endswith("postgresql") for engine in engines.values()):
        return [
            checks.Error(
                f"DATABASE_REPLICA_URL needs PostgreSQL on both sides, not {engines}.",
                hint="Unset DATABASE_REPLICA_URL, or point both URLs at PostgreSQL (docs/scaling.md).",
                id="piaogen.E010",
            )
        ]
    return []


def replica_reads(view):
    """Marks a function view (or a class, like the attribute) as tolerant of replica lag."""
    view.replica_reads = True
    return view


@dataclass
class _Request:
    request: object
    tolerant: bool = False
    decided: bool = False
    use_replica: bool = False
    deciding: bool = False


_current: contextvars.ContextVar[_Request | None] = contextvars.ContextVar("piaogen_replica_request", default=None)


class _Health:
    """Process-wide: until when the replica is left alone after it failed to answer."""

    down_until = 0.0


def _lsn(text: str | None) -> int | None:
    if not text:
        return None
    high, _, low = str(text).partition("/")
    return (int(high, 16) << 32) + int(low, 16)


def _user_id(request) -> int | None:
    user = getattr(request, "user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return user.pk


def _decide(state: _Request) -> bool:
    """Whether this request reads on the replica: it answers, and it has replayed the person's
    last write. Asked once per request, at its first replica-eligible read."""
    if time.monotonic() < _Health.down_until:
        return False
    state.deciding = True
    try:
        uid = _user_id(state.request)
        pinned = None
        if uid is not None:
            try:
                pinned = _lsn(cache.get(PIN_KEY % uid))
            except Exception:  # the cache is out: not knowing, read what the person wrote
                logger.warning("replica: pin unavailable", exc_info=True)
                return False
        try:
            with connections[REPLICA].cursor() as cursor:
                cursor.execute("SELECT pg_last_wal_replay_lsn()")
                replayed = _lsn(cursor.fetchone()[0])
        except DatabaseError:
            _Health.down_until = time.monotonic() + settings.REPLICA_RETRY_SECONDS
            logger.warning(
                "replica: not answering; reads go to the primary for %ss", settings.REPLICA_RETRY_SECONDS, exc_info=True
            )
            try:
                connections[REPLICA].close()
            except DatabaseError:
                pass
            return False
        if pinned is not None and (replayed is None or replayed < pinned):
            return False  # the person's own write is not on the replica yet
        return True
    finally:
        state.deciding = False


class ReplicaRouter:
    def db_for_read(self, model, **hints):
        state = _current.get()
        if state is None or not state.tolerant or state.deciding:
            return "default"
        if model._meta.app_label not in settings.REPLICA_APPS:
            return "default"
        if connections["default"].in_atomic_block:
            return "default"
        if not state.decided:
            state.use_replica = _decide(state)
            state.decided = True
        return REPLICA if state.use_replica else "default"

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the replica holds the same rows

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"


class ReplicaMiddleware:
    """Gives the router the request it serves; after a request that could write, pins the
    person to the primary until the replica has replayed that write."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not enabled():
            return self.get_response(request)
        token = _current.set(_Request(request))
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        if request.method not in SAFE_METHODS:
            self._pin(request)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        state = _current.get()
        if state is not None and request.method in ("GET", "HEAD"):
            view_class = getattr(view_func, "view_class", None) or getattr(view_func, "cls", None)
            state.tolerant = bool(
                getattr(view_func, "replica_reads", False) or getattr(view_class, "replica_reads", False)
            )
        return None

    @staticmethod
    def _pin(request) -> None:
        uid = _user_id(request)
        if uid is None:
            return
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute("SELECT pg_current_wal_lsn()")
                position = cursor.fetchone()[0]
            cache.set(PIN_KEY % uid, str(position), settings.REPLICA_PIN_SECONDS)
        except Exception:
            logger.warning("replica: the write of account %s could not be pinned", uid, exc_info=True)
