"""A check's two reads as one function of the database (invoices.verification.install_read_function):
the same rows as the two statements, whatever the month; a branch per month of invoices, written
again when a month's partitions are created; and checks that go on when the function is missing
or dropped under a running process."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from invoices import partitions, verification
from invoices.models import Invoice, InvoiceKey
from invoices.services import application_issue, invoice_reverse

from .test_partitions import issue_month, push
from .test_verification import URL, applied, issued, params, redis_cache  # noqa: F401  (fixtures)

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="a function of PostgreSQL")


def definition() -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_functiondef(to_regprocedure(%s))", [f"{verification.read_function_name()}(text, text)"]
        )
        return cursor.fetchone()[0] or ""


def both_ways(code: str, number: str) -> tuple[list[tuple], list[tuple]]:
    """The rows of a check through the function, and through the two plain statements."""
    verification._Prepared.function_on.clear()
    through_function = verification._read(code, number, True)
    assert verification._Prepared.function_on[connection.connection] is True
    return through_function, verification._read(code, number, False)


@pytest.mark.django_db
def test_the_function_reads_what_the_two_statements_read(world):
    partitions.ensure(["2026-08", "2026-09"])
    monthly = issue_month(world, "M", world.when, n=3)
    earlier = issue_month(world, "E", world.when - timedelta(days=31))
    # a month of trips in one invoice a seller: invoices of several lines
    push(world, "W", world.when - timedelta(days=31), n=3)
    r = world.user.post(
        "/api/v1/app/applications",
        {
            "kind": "consumption",
            "card_no": world.card_no,
            "month": (world.when - timedelta(days=31)).strftime("%Y-%m"),
            "mode": "monthly",
            "title_id": earlier.title_id,
        },
        format="json",
    )
    assert r.status_code == 202, r.content
    application_issue(application_id=r.json()["id"])
    invoice = Invoice.objects.filter(application=monthly).order_by("id").first()
    reversal = invoice_reverse(user=world.user.user, invoice_id=invoice.pk)
    application_issue(application_id=reversal.pk)
    [red] = Invoice.objects.filter(application_id=reversal.pk)
    assert red.red and red.original_id == invoice.pk
    checked = [*Invoice.objects.filter(application__in=[monthly, earlier, r.json()["id"]]), red]
    assert {inv.month for inv in checked} == {"2026-08", "2026-09"}
    for inv in checked:
        through_function, plain = both_ways(inv.code, inv.number)
        assert through_function and through_function == plain, inv
    assert any(len(both_ways(inv.code, inv.number)[0]) > 1 for inv in checked)  # an invoice of several lines
    assert both_ways(invoice.code, "99999999") == ([], [])  # no such number: no row either way


@pytest.mark.django_db
def test_each_month_of_invoices_has_its_branch_and_another_month_is_read_too(world, monkeypatch):
    partitions.ensure(["2026-09"])
    app = issue_month(world, "B", world.when)
    invoice = Invoice.objects.filter(application=app).first()
    assert f"IF m = '{invoice.month}' THEN" in definition().replace("ELSIF", "IF")
    # A month's partitions created: the function is written again with that month's branch.
    assert "'2031-05'" not in definition()
    partitions.ensure(["2031-05"])
    assert "IF m = '2031-05' THEN" in definition().replace("ELSIF", "IF")
    # A month without a branch (its invoices in the default partition, or a function written
    # before the month had partitions): the statement with the month as a variable, same rows.
    monkeypatch.setattr(partitions, "partitions_of", lambda cursor, table: [])
    verification.install_read_function()
    assert "IF m =" not in definition() and "RETURN QUERY" in definition()
    through_function, plain = both_ways(invoice.code, invoice.number)
    assert through_function and through_function == plain
    # the key names a month whose rows are gone: no row, as the two statements find none
    InvoiceKey.objects.filter(invoice_id=invoice.pk).update(month="2019-01")
    assert both_ways(invoice.code, invoice.number) == ([], [])


@pytest.mark.django_db
def test_functions_of_earlier_statements_are_dropped_when_it_is_written(world):
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE FUNCTION {verification.READ_FUNCTION_PREFIX}000000000000(p_code text, p_number text)"
            " RETURNS TABLE (c1 bigint) LANGUAGE sql AS 'SELECT 1::bigint'"
        )
    verification.install_read_function()
    with connection.cursor() as cursor:
        cursor.execute("SELECT proname FROM pg_proc WHERE proname LIKE %s", [verification.READ_FUNCTION_PREFIX + "%"])
        assert [row[0] for row in cursor.fetchall()] == [verification.read_function_name()]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_without_the_function_a_check_makes_the_two_reads(api, issued, redis_cache, django_assert_num_queries):  # noqa: F811
    """A database not migrated by this code yet (its function has another name, or none): the
    two statements, and the same answer."""
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP FUNCTION {verification.read_function_name()}(text, text)")
        connection.close()  # a new connection asks again whether the function is there
        with django_assert_num_queries(2):
            r = api.get(URL, params(issued), REMOTE_ADDR="10.72.0.1")
        assert r.status_code == 200 and r.json()["result"] == "genuine"
        assert verification._Prepared.function_on[connection.connection] is False
    finally:
        verification.install_read_function()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_function_dropped_under_a_running_process_costs_no_failed_check(api, issued):  # noqa: F811
    """A deployment of other statements drops this code's function while a process of this code
    still runs: its next check fails on the call, is read again on a new connection, which finds
    the function gone and makes the two reads."""
    try:
        assert api.get(URL, params(issued), REMOTE_ADDR="10.73.0.1").json()["result"] == "genuine"
        assert verification._Prepared.function_on[connection.connection] is True
        before = connection.connection.info.backend_pid
        with connection.cursor() as cursor:
            cursor.execute(f"DROP FUNCTION {verification.read_function_name()}(text, text)")
        r = api.get(URL, params(issued), REMOTE_ADDR="10.73.0.2")
        assert r.status_code == 200 and r.json()["result"] == "genuine"
        assert connection.connection.info.backend_pid != before
        assert verification._Prepared.function_on[connection.connection] is False
    finally:
        verification.install_read_function()


@pytest.mark.django_db
def test_a_check_prepared_before_the_function_was_written_again_reads_the_new_one(api, issued):  # noqa: F811
    """A month's partitions created while the site runs write the function again (dropped and
    created): a connection that prepared its call before goes on calling it, one query a check."""
    assert api.get(URL, params(issued), REMOTE_ADDR="10.74.0.1").json()["result"] == "genuine"
    names = set(verification._Prepared.on[connection.connection])
    partitions.ensure(["2032-02"])
    assert "IF m = '2032-02' THEN" in definition().replace("ELSIF", "IF")
    with CaptureQueriesContext(connection) as captured:
        r = api.get(URL, params(issued), REMOTE_ADDR="10.74.0.2")
    assert r.status_code == 200 and r.json()["result"] == "genuine"
    assert [q["sql"][:7] for q in captured.captured_queries if "verify_" in q["sql"]] == ["EXECUTE"]
    assert set(verification._Prepared.on[connection.connection]) == names  # nothing prepared again
