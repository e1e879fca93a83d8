"""What issuing one application costs in statements, and the application's own rows written by
one statement each (``invoices/application_rows.py``) exactly as the ORM wrote them."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime

import pytest
from django.db import connection, transaction
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from simple_history.models import HistoricalRecords

from invoices import application_rows, services
from invoices.models import Application, ApplicationEvent, Invoice, InvoiceLine, Transit

from .test_issuing_faults import push, submit

only_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the one-statement writes are PostgreSQL's; elsewhere the ORM's"
)


def _plain(row: dict) -> dict:
    """A row with its times reduced to whether they are set (two runs never share a clock)."""
    return {k: (v is not None) if isinstance(v, datetime) else v for k, v in row.items()}


def written(app_id: int) -> dict:
    """Everything issuing writes for an application, ids and clocks aside."""
    app = Application.objects.filter(pk=app_id).values().get()
    history = Application.history.model.objects.filter(id=app_id).order_by("history_id").values()
    return {
        "application": _plain(app),
        "history": [_plain({k: v for k, v in h.items() if k != "history_id"}) for h in history],
        "events": list(
            ApplicationEvent.objects.filter(application_id=app_id)
            .order_by("at", "id")
            .values_list("kind", "actor_id", "reason", "detail")
        ),
        "invoices": list(
            Invoice.objects.filter(application_id=app_id)
            .order_by("code", "number")
            .values_list("code", "number", "check_code", "document_kind", "kind", "total", "buyer_name", "operator_id")
        ),
        "lines": InvoiceLine.objects.filter(invoice__application_id=app_id).count(),
        "trips": sorted(Transit.objects.values_list("transit_id", "state")),
        "messages": _messages(app_id),
    }


def _messages(app_id: int) -> list:
    from support.models import Notification

    return list(Notification.objects.filter(application_id=app_id).values_list("kind", "title", "body", "link"))


@contextmanager
def _as_request_of(user):
    """A save made now is recorded as this user's (simple-history's request middleware)."""
    if user is None:
        yield
        return
    request = RequestFactory().post("/")
    request.user = user
    HistoricalRecords.context.request = request
    try:
        yield
    finally:
        del HistoricalRecords.context.request


@only_postgresql
@pytest.mark.django_db
@pytest.mark.parametrize("in_request", [False, True])
def test_the_application_rows_are_those_the_orm_wrote(world, monkeypatch, in_request):
    """Issued with the ORM's three writes per step (then rolled back), and issued again with one
    statement per step: the same application row, history rows (same user), events, invoices,
    trips and message."""
    push(world, 3)
    app_id = submit(world)
    user = world.user.user if in_request else None

    class Undo(Exception):
        pass

    one_statement = application_rows._one_statement
    monkeypatch.setattr(application_rows, "_one_statement", lambda: False)
    with pytest.raises(Undo), transaction.atomic(), _as_request_of(user):
        services.application_issue(application_id=app_id)
        before = written(app_id)
        raise Undo
    assert Application.objects.get(pk=app_id).status == Application.Status.SUBMITTED
    monkeypatch.setattr(application_rows, "_one_statement", one_statement)
    with CaptureQueriesContext(connection) as queries, _as_request_of(user):
        services.application_issue(application_id=app_id)
    after = written(app_id)
    assert after == before
    assert [h["status"] for h in after["history"]] == ["submitted", "issuing", "issued"]
    assert {h["history_user_id"] for h in after["history"][1:]} == {user.pk if user else None}
    assert [e[0] for e in after["events"]] == ["submitted", "issuing", "issued"]
    assert after["events"][1][3] == {"attempt": 1} and after["events"][2][3]["invoices"] == 9
    # each step one statement: no history or event INSERT of its own
    sql = [q["sql"] for q in queries.captured_queries]
    assert not [s for s in sql if "historicalapplication" in s and not s.startswith("WITH app AS")]
    assert not [s for s in sql if s.startswith('INSERT INTO "invoices_applicationevent"')]


@only_postgresql
@pytest.mark.django_db
def test_a_claim_records_each_attempt_and_leaves_other_states_alone(world):
    """The claim counts an attempt of a submitted application, and of one already issuing (a
    run cut short: its worker died, or a task retried after a database error); one issued is
    left as is, and a second delivery of an issued one is a no-op."""
    push(world, 1)
    app_id = submit(world)
    assert application_rows.claim(app_id, services.timezone.now()) == 1
    app = Application.objects.get(pk=app_id)
    assert (app.status, app.attempts) == ("issuing", 1) and app.started_at is not None
    assert application_rows.claim(app_id, services.timezone.now()) == 2  # run again: another attempt
    assert services.application_issue(application_id=app_id).status == "issued"
    assert application_rows.claim(app_id, services.timezone.now()) is None  # issued: nothing
    services.application_issue(application_id=app_id)  # a second delivery: a no-op
    app = Application.objects.get(pk=app_id)
    assert (app.status, app.attempts) == ("issued", 3)
    assert list(app.events.order_by("at", "id").values_list("kind", flat=True)) == [
        "submitted",
        "issuing",
        "issuing",
        "issuing",
        "issued",
    ]
    assert services.application_issue(application_id=app_id + 1000) is None


def test_an_application_run_again_and_again_without_finishing_is_given_up(world, settings):
    """A worker that dies under an application every time (the task delivered again each time)
    must not be killed for ever: past ISSUE_MAX_ATTEMPTS runs the application fails with the
    retries' message, its trips are released and nothing is issued."""
    settings.ISSUE_MAX_ATTEMPTS = 3
    push(world, 1)
    app_id = submit(world)
    for _ in range(3):  # three runs cut short: claimed, then the worker gone
        application_rows.claim(app_id, services.timezone.now())
    app = services.application_issue(application_id=app_id)
    assert (app.status, app.attempts, app.failure_reason) == ("failed", 4, services.GAVE_UP)
    assert not Invoice.objects.filter(application_id=app_id).exists()
    assert set(Transit.objects.filter(application_items__application_id=app_id).values_list("state", flat=True)) == {
        "open"
    }
    # a user applies again: a new application, issued
    again = submit(world)
    assert services.application_issue(application_id=again).status == "issued"


def _synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


@only_postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_only_the_claims_own_transaction_commits_without_waiting_for_the_disk(world, no_queue):
    """Outside a transaction the claim is one of its own, committed at once without waiting for
    the WAL's flush (the issuing commit that follows waits for both); inside a caller's
    transaction it leaves that transaction's commit as it is. The session keeps its setting."""
    import psycopg

    push(world, 1)
    first = submit(world)
    push(world, 1, prefix="U")
    second = submit(world)
    with CaptureQueriesContext(connection) as queries:
        application_rows.claim(first, services.timezone.now())
    [claim] = [q["sql"] for q in queries.captured_queries]
    assert "set_config('synchronous_commit', 'off', true)" in claim
    assert _synchronous_commit() == "on"
    with psycopg.connect(**connection.get_connection_params()) as other:  # committed: seen elsewhere
        status = other.execute("SELECT status FROM invoices_application WHERE id = %s", [first]).fetchone()
    assert status == ("issuing",)
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        application_rows.claim(second, services.timezone.now())
        assert _synchronous_commit() == "on"
    assert "synchronous_commit" not in queries.captured_queries[0]["sql"]
    assert Application.objects.get(pk=second).status == "issuing"


def test_the_documents_message_counts_its_invoices_instead_of_listing_them(monkeypatch):
    """Celery's repr of 150 ids, for logs and monitoring, cost the issuing worker nearly as much
    as sending the message: the message says how many it carries."""
    from invoices.documents import services as documents
    from piaogen.queueing import task_named

    sent = []
    task = task_named(documents.RENDER_INVOICES)
    monkeypatch.setattr(task, "apply_async", lambda args, kwargs, **options: sent.append((args, kwargs, options)))
    documents.on_issued(5, list(range(1, 151)))
    assert sent == [((5, list(range(1, 151))), {"summary": True}, {"argsrepr": "(5, [150 invoice ids])"})]


# --- statements an application costs ----------------------------------------------------------

# What issuing a per-trip application of this world (three sellers of one province: one block of
# numbers; a personal title: no buyer's month counts) sends to PostgreSQL, whatever its number of
# trips. It was 29 before the claim, the trips' lock and mark, and the application's row,
# history row and event were each written by one statement (docs/performance.md, Issuing).
STATEMENTS = [
    "claim: the application, its history row and event (a transaction of its own)",
    "BEGIN",
    "the application, locked, with its title, card, issuer and user",
    "the trips locked and marked invoiced",
    "the trips' segments, sections and operators (planning)",
    "the shares live invoices cover (planning)",
    "the month's partitions",
    "a block of numbers: the counter stays locked from here to the commit",
    "ids for the invoices",
    "COPY of the invoices",
    "COPY of their keys",
    "the card's month counts",
    "the issue day",
    "COPY of the lines",
    "SAVEPOINT of the message hook",
    "the message (in the user's language, read with the application)",
    "RELEASE SAVEPOINT",
    "the summary sheet's number",
    "the application issued, its history row and event",
    "COMMIT",
]


@contextmanager
def statements():
    """Every statement sent on the connection in order, COPY included (which goes to the driver
    beside Django's log: it is logged here too)."""
    with connection.cursor() as cursor:
        raw_class = type(cursor.cursor)
    original = raw_class.copy

    def copy(self, statement, *args, **kwargs):
        connection.queries_log.append({"sql": str(statement), "time": "0"})
        return original(self, statement, *args, **kwargs)

    raw_class.copy = copy
    sent: list[str] = []
    try:
        with CaptureQueriesContext(connection) as queries:
            yield sent
    finally:
        raw_class.copy = original
    sent.extend(q["sql"] for q in queries.captured_queries)


@only_postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("trips", [1, 20])
def test_an_application_costs_a_fixed_number_of_statements(world, no_queue, monkeypatch, trips):
    """The count is asserted so that it cannot grow back unnoticed: 20 statements, a
    transaction for the claim and one for the issuing, however many trips."""
    push(world, 1, prefix="W")
    services.application_issue(application_id=submit(world))  # the counters exist from now on
    push(world, trips)
    app_id = submit(world)  # the month's trips still open: the new ones
    monkeypatch.setattr(services, "_after_issue", lambda *args: None)  # the queue is not the database
    with statements() as sent:
        app = services.application_issue(application_id=app_id)
    assert app.status == "issued" and app.invoice_count == 3 * trips
    assert len(sent) == len(STATEMENTS), "\n".join(s[:120] for s in sent)
    assert sent[0].startswith("WITH app AS (UPDATE") and sent[-2].startswith("WITH app AS (UPDATE")
    assert "pg_inherits" in sent[6] and sent[7].startswith("UPDATE invoices_invoicecounter")
    assert [i for i, s in enumerate(sent) if s.startswith("COPY")] == [9, 10, 13]
