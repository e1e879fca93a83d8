"""An application's own rows as issuing changes them: the application row, its history row
(django-simple-history) and its event, written by one statement on PostgreSQL where the ORM
took three statements and three model instances (docs/performance.md, Issuing). Elsewhere
(SQLite) the ORM writes them, as it always did.

The history row is the one simple-history's ``post_save`` writes: every column of the
application after the change, ``history_type`` "~", no change reason, the signed-in user of the
request in progress (``HistoryRequestMiddleware``; none in a worker), nothing when
``SIMPLE_HISTORY_ENABLED`` is off. Its ``pre_``/``post_create_historical_record`` signals are
not sent: nothing in the project listens to them, and a bulk write with history skips them too.
``tests/invoices/test_issuing_statements.py`` compares these rows with the ORM's.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache

from django.conf import settings
from django.db import connection, transaction
from simple_history.models import HistoricalRecords

from .models import Application, ApplicationEvent

# What a run of the issuing task claims: an application waiting, or one whose earlier run was
# cut short (its worker died) and is run again.
CLAIMABLE = (Application.Status.SUBMITTED, Application.Status.ISSUING)

# The history row's own columns; every other column of the history table is the application's.
_HISTORY_OWN = ("history_id", "history_date", "history_change_reason", "history_type", "history_user_id")


def _one_statement() -> bool:
    """Whether the database takes a statement that updates one table and inserts into two
    (PostgreSQL's data-modifying WITH)."""
    return connection.vendor == "postgresql"


def history_user_id() -> int | None:
    """The user simple-history would record for a save made now (``get_history_user``)."""
    request = getattr(HistoricalRecords.context, "request", None)
    user = getattr(request, "user", None)
    return user.pk if user is not None and user.is_authenticated else None


@cache
def _history_columns() -> tuple[str, ...]:
    model = Application.history.model  # type: ignore[attr-defined]
    return tuple(f.column for f in model._meta.concrete_fields if f.column not in _HISTORY_OWN)


def _statement(assign: str, where: str, event_detail: str, answer: str = "id") -> str:
    """UPDATE the application (``assign``, ``where``) and, from the row it returns, INSERT its
    history row and its event: one statement, whose answer (``answer``, from the row) has no
    row when ``where`` matched nothing, and then nothing is written."""
    columns = _history_columns()
    history = Application.history.model._meta.db_table  # type: ignore[attr-defined]
    history_part = ""
    if getattr(settings, "SIMPLE_HISTORY_ENABLED", True):
        history_part = (
            f", history AS (INSERT INTO {history} ({', '.join(columns)}, history_date,"
            " history_change_reason, history_type, history_user_id)"
            f" SELECT {', '.join(columns)}, %(now)s, NULL, '~', %(history_user)s FROM app)"
        )
    return (
        f"WITH app AS (UPDATE {Application._meta.db_table} SET {assign} WHERE {where} RETURNING *)"
        f"{history_part}"
        f", event AS (INSERT INTO {ApplicationEvent._meta.db_table}"
        " (application_id, at, kind, actor_id, reason, detail)"
        f" SELECT id, %(now)s, %(event)s, NULL, '', {event_detail} FROM app)"
        f" SELECT {answer} FROM app"
    )


def claim(application_id: int, now: datetime) -> int | None:
    """``submitted`` → ``issuing``: ``started_at`` now, one more attempt, the history row and
    the event ``issuing`` (the attempt's number), committed at once; the same for a run of an
    application already ``issuing`` (a task delivered again after its worker died: another
    attempt, so that an application that kills its worker every time is given up, not tried
    for ever). Returns the application's attempts, None when it is neither (issued, failed,
    gone). Committed on its own, before the issuing transaction
    begins, because what it records must outlive that transaction: the user's and the batch's
    progress show 开票中 while issuing runs, the attempt and its event stand in the console even
    when the worker dies mid-issue, and the sweep tells a claimed application left behind
    (``started_at``, STALE_ISSUING) from one never taken. On PostgreSQL one statement, which
    outside a transaction is one of its own (one round trip, one commit); the row lock it takes
    waits for an issuer of the same application to finish, as ``select_for_update`` did, and
    then finds it no longer ``submitted``.

    Its commit does not wait for the WAL to reach the disk (``synchronous_commit`` off for that
    transaction alone, about 1–3 ms here): a worker that dies after it returns cannot undo it,
    which is what the claim is for; only PostgreSQL itself crashing within a fraction of a
    second could lose it, and then nothing was issued either, since the issuing transaction
    that follows commits synchronously and so writes every earlier commit to disk before its
    own: the application is ``submitted`` again, one attempt fewer counted, and the sweep
    queues it. Inside a caller's transaction (a test, an eager task) it changes nothing of how
    that transaction commits."""
    if not _one_statement():
        with transaction.atomic():
            app = Application.objects.select_for_update().filter(pk=application_id).first()
            if app is None or app.status not in CLAIMABLE:
                return None
            app.status = Application.Status.ISSUING
            app.started_at = now
            app.attempts += 1
            app.save(update_fields=["status", "started_at", "attempts"])
            ApplicationEvent.objects.create(application=app, at=now, kind="issuing", detail={"attempt": app.attempts})
        return app.attempts
    sql = _statement(
        "status = %(issuing)s, started_at = %(now)s, attempts = attempts + 1",
        "id = %(id)s AND status IN (%(submitted)s, %(issuing)s)",
        "jsonb_build_object('attempt', attempts)",
        # set for this statement's own transaction only (is_local), when it has one of its own
        "attempts" if connection.in_atomic_block else "attempts, set_config('synchronous_commit', 'off', true)",
    )
    params = {
        "id": application_id,
        "now": now,
        "issuing": Application.Status.ISSUING.value,
        "submitted": Application.Status.SUBMITTED.value,
        "event": "issuing",
        "history_user": history_user_id(),
    }
    with connection.cursor() as cursor:  # outside a transaction (a worker's): its own, committed here
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return row[0] if row else None


FINISHED = ("status", "issued_at", "invoice_count", "total", "summary_no")


def mark_issued(app: Application, *, invoices: int, now: datetime) -> None:
    """Writes what the issuing transaction set on ``app`` (``FINISHED``), its history row and
    the event ``issued`` (how many invoices, what total), inside that transaction."""
    if not _one_statement():
        app.save(update_fields=list(FINISHED))
        ApplicationEvent.objects.create(
            application=app, at=now, kind="issued", detail={"invoices": invoices, "total": app.total}
        )
        return
    sql = _statement(
        ", ".join(f"{name} = %({name})s" for name in FINISHED),
        "id = %(id)s",
        "%(detail)s::jsonb",
    )
    params = {name: getattr(app, name) for name in FINISHED}
    params.update(
        id=app.pk,
        now=now,
        event="issued",
        detail=json.dumps({"invoices": invoices, "total": app.total}),
        history_user=history_user_id(),
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
