"""Monthly partitions of trips, segments, invoices and lines on PostgreSQL (invoices/partitions.py,
docs/scaling.md).

The test database is migrated like a new installation, so those tables are partitioned by month. These tests prove the shape, that the ingest writes into the right month, that the
daily maintenance drains the default partition, and — with EXPLAIN on the very statements the
pages, the App and issuing run — that each touches only the partitions of the month it shows.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from invoices import partitions, verification
from invoices.models import Application, Invoice, InvoiceState, Transit, TransitKey, TransitSegment
from invoices.services import application_issue

from .conftest import trip

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="monthly partitions are PostgreSQL's")

THREE = [("S-A3", 9733), ("S-B5", 1200), ("S-C0", 500)]
TABLES = partitions.TABLES
DEBUG = False  # True prints each statement with the partitions it reads


def rows_in(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{table}"')
        return cursor.fetchone()[0]


def push(world, prefix: str, when, n: int = 1) -> None:
    items = [trip(f"{prefix}{i}", world.card_no, when + timedelta(hours=i), THREE) for i in range(n)]
    r = world.clearing.post("/api/v1/partner/transits", {"transits": items}, format="json")
    assert r.status_code == 200 and r.json()["created"] == n, r.content


TABLE_NAMES = "|".join(partitions.TABLES)
PARTITION = re.compile(rf"^({TABLE_NAMES})_(\d{{4}}_\d{{2}}|default)$")


def partitions_touched(captured) -> set[str]:
    """The partitions of trips, segments, invoices and lines each captured statement's plan
    reads: EXPLAIN of the statement as it was run; a read-only statement is run again with
    ANALYZE, so that partitions pruned while it runs (the month read from a key by a subquery)
    count as untouched."""
    touched: set[str] = set()

    def walk(node, analyzed):
        name = node.get("Relation Name", "")
        # the parent itself names a ModifyTable or LockRows node; its partitions are what is read
        if PARTITION.match(name) and (not analyzed or node.get("Actual Loops", 1) > 0):
            touched.add(name)
        for child in node.get("Plans", []):
            walk(child, analyzed)

    with connection.cursor() as cursor:
        for q in captured:
            sql = q["sql"]
            verb = sql.lstrip().split(None, 1)[0].upper()
            if verb != "EXECUTE" and not any(t in sql for t in partitions.TABLES):
                continue  # (a prepared statement, EXECUTE, names no table: explained anyway)
            if verb not in ("SELECT", "UPDATE", "DELETE", "EXECUTE"):
                continue
            analyzed = verb in ("SELECT", "EXECUTE") and "FOR UPDATE" not in sql and "FOR SHARE" not in sql
            cursor.execute(("EXPLAIN (ANALYZE, FORMAT JSON) " if analyzed else "EXPLAIN (FORMAT JSON) ") + sql)
            plan = cursor.fetchone()[0]
            before = set(touched)
            walk((json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"], analyzed)
            if DEBUG:
                print(sorted(touched - before), sql[:300], "|||", sql[-500:])
    return touched


@pytest.mark.django_db
def test_a_new_database_has_monthly_partitions_and_a_default_one():
    for table in TABLES:
        assert partitions.is_partitioned(table)
        with connection.cursor() as cursor:
            names = set(partitions.partitions_of(cursor, table))
        assert partitions.default_name(table) in names
        assert {partitions.partition_name(table, m) for m in partitions.months_around()} <= names
    # ids still come from a sequence the ORM and COPY find
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence('invoices_transit', 'id')")
        assert cursor.fetchone()[0] == "public.invoices_transit_id_seq"


def test_months_around_crosses_years():
    assert partitions.months_around(date(2027, 1, 15), behind=2, ahead=2) == [
        "2026-11",
        "2026-12",
        "2027-01",
        "2027-02",
        "2027-03",
    ]


@pytest.mark.django_db
def test_trips_and_segments_land_in_their_months_partition_with_their_key(world):
    partitions.ensure(["2026-08", "2026-09"])
    push(world, "P", world.when, n=3)
    assert rows_in("invoices_transit_2026_09") == 3
    assert rows_in("invoices_transitsegment_2026_09") == 9
    assert rows_in("invoices_transit_default") == rows_in("invoices_transitsegment_default") == 0
    keys = dict(TransitKey.objects.filter(transit_id__startswith="P").values_list("transit_id", "month"))
    assert keys == {"P0": "2026-09", "P1": "2026-09", "P2": "2026-09"}

    # A corrected exit time in another month: the trip moves partition, its key and segments follow.
    moved = trip("P1", world.card_no, world.when - timedelta(days=20), [("S-A3", 100), ("S-B5", 200)])
    r = world.clearing.post("/api/v1/partner/transits", {"transits": [moved]}, format="json")
    assert r.json()["updated"] == 1
    assert rows_in("invoices_transit_2026_09") == 2 and rows_in("invoices_transit_2026_08") == 1
    assert rows_in("invoices_transitsegment_2026_08") == 2 and rows_in("invoices_transitsegment_2026_09") == 6
    assert TransitKey.objects.get(transit_id="P1").month == "2026-08"
    assert Transit.objects.filter(transit_id="P1").count() == 1

    # The same push again: one trip, unchanged, found through its key in its new month.
    r = world.clearing.post("/api/v1/partner/transits", {"transits": [moved]}, format="json")
    assert r.json()["unchanged"] == 1 and r.json()["created"] == 0
    assert Transit.objects.filter(transit_id="P1").count() == 1


@pytest.mark.django_db
def test_a_trip_id_is_one_trip_whatever_the_month(world):
    partitions.ensure(["2026-09"])
    push(world, "K", world.when)
    again = trip("K0", world.card_no, world.when + timedelta(days=40), THREE)  # another month, same id
    r = world.clearing.post("/api/v1/partner/transits", {"transits": [again]}, format="json")
    assert r.json()["created"] == 0 and r.json()["updated"] == 1
    assert Transit.objects.filter(transit_id="K0").count() == 1
    assert TransitKey.objects.filter(transit_id="K0").count() == 1


@pytest.mark.django_db
def test_maintenance_drains_the_default_partition_into_a_month_of_its_own(world):
    month = "2026-09"
    assert partitions.partition_name("invoices_transit", month) not in partitions.partitions_of(
        connection.cursor(), "invoices_transit"
    )
    push(world, "D", world.when, n=4)
    assert rows_in("invoices_transit_default") == 4 and rows_in("invoices_transitsegment_default") == 12
    [st] = [s for s in partitions.status() if s.table == "invoices_transit"]
    assert st.default_rows == 4 and st.default_months == [month]
    before = world.user.get("/api/v1/app/transits", {"card_no": world.card_no, "month": month}).json()

    result = partitions.maintain()

    assert result["created"]["invoices_transit"] == [month] and result["default_rows"] == {}
    assert rows_in("invoices_transit_default") == rows_in("invoices_transitsegment_default") == 0
    assert rows_in("invoices_transit_2026_09") == 4 and rows_in("invoices_transitsegment_2026_09") == 12
    after = world.user.get("/api/v1/app/transits", {"card_no": world.card_no, "month": month}).json()
    assert after == before and len(after) == 4
    # nothing left to do the next time
    assert partitions.maintain()["created"] == {}


@pytest.mark.django_db
def test_maintenance_logs_rows_it_cannot_place(world, caplog):
    push(world, "B", world.when)
    with connection.cursor() as cursor:  # a month no trip can have: only a hand-written row could
        cursor.execute("UPDATE invoices_transit SET month = 'bad' WHERE transit_id = 'B0'")
    result = partitions.maintain()
    assert result["default_rows"] == {"invoices_transit": 1}
    assert "rows left in default partitions" in caplog.text


@pytest.mark.django_db
def test_the_trip_pages_and_lists_read_only_the_months_partitions(world, client):
    partitions.ensure(["2026-07", "2026-08", "2026-09"])
    push(world, "A", world.when, n=3)  # September
    push(world, "E", world.when - timedelta(days=31), n=2)  # August
    push(world, "J", world.when - timedelta(days=62), n=2)  # July

    with CaptureQueriesContext(connection) as app_list:
        r = world.user.get("/api/v1/app/transits", {"card_no": world.card_no, "month": "2026-09"})
    assert [t["transit_id"] for t in r.json()] == ["A0", "A1", "A2"]
    touched = partitions_touched(app_list.captured_queries)
    assert {"invoices_transit_2026_09", "invoices_transitsegment_2026_09"} <= touched
    assert all(name.endswith("2026_09") for name in touched), touched  # invoice lines of its trips too

    with CaptureQueriesContext(connection) as paged:
        r = world.user.get("/api/v1/app/transits", {"card_no": world.card_no, "month": "2026-08", "limit": 1})
    assert [t["transit_id"] for t in r.json()] == ["E0"]
    touched = partitions_touched(paged.captured_queries)
    assert {"invoices_transit_2026_08", "invoices_transitsegment_2026_08"} <= touched
    assert all(name.endswith("2026_08") for name in touched), touched

    client.force_login(world.user.user)
    with CaptureQueriesContext(connection) as page:
        r = client.get("/trips/", {"card": world.card_no, "month": "2026-07"})
    assert r.status_code == 200
    assert "本月共 2 次通行" in r.content.decode()  # July's two trips, not September's three
    touched = partitions_touched(page.captured_queries)
    assert touched and all(name.endswith("2026_07") for name in touched), touched


@pytest.mark.django_db
def test_applying_and_issuing_read_only_the_months_partitions(world):
    partitions.ensure(["2026-08", "2026-09"])
    push(world, "I", world.when, n=2)
    push(world, "O", world.when - timedelta(days=31), n=2)
    r = world.user.post("/api/v1/app/titles", {"kind": "personal", "name": "张三"}, format="json")
    title_id = r.json()["id"]
    with CaptureQueriesContext(connection) as submit:
        r = world.user.post(
            "/api/v1/app/applications",
            {
                "kind": "consumption",
                "card_no": world.card_no,
                "month": "2026-09",
                "mode": "per_trip",
                "title_id": title_id,
            },
            format="json",
        )
    assert r.status_code == 202, r.content
    app_id = r.json()["id"]
    with CaptureQueriesContext(connection) as issuing:
        application_issue(application_id=app_id)
    assert Application.objects.get(pk=app_id).status == Application.Status.ISSUED
    assert Invoice.objects.filter(application_id=app_id).count() == 6  # two trips, three sellers each
    assert set(Transit.objects.filter(month="2026-09").values_list("state", flat=True)) == {InvoiceState.INVOICED}
    assert set(Transit.objects.filter(month="2026-08").values_list("state", flat=True)) == {InvoiceState.OPEN}
    for captured in (submit.captured_queries, issuing.captured_queries):
        touched = partitions_touched(captured)
        assert touched and all(name.endswith("2026_09") for name in touched), touched
    assert TransitSegment.objects.filter(month="2026-09").count() == 6


@pytest.mark.django_db
def test_reversing_and_failing_read_only_the_months_partitions(world):
    from invoices.services import application_fail, invoice_reverse

    partitions.ensure(["2026-08", "2026-09"])
    push(world, "R", world.when, n=2)
    push(world, "Q", world.when - timedelta(days=31), n=1)
    title_id = world.user.post("/api/v1/app/titles", {"kind": "personal", "name": "张三"}, format="json").json()["id"]
    body = {"kind": "consumption", "card_no": world.card_no, "month": "2026-09", "mode": "per_trip"}
    first = world.user.post(
        "/api/v1/app/applications", {**body, "transit_ids": ["R0"], "title_id": title_id}, format="json"
    )
    application_issue(application_id=first.json()["id"])
    invoice = Invoice.objects.filter(application_id=first.json()["id"]).order_by("id").first()

    with CaptureQueriesContext(connection) as reversing:
        red = invoice_reverse(user=world.user.user, invoice_id=invoice.pk)
        application_issue(application_id=red.pk)
    assert Application.objects.get(pk=red.pk).status == Application.Status.ISSUED
    assert Transit.objects.get(transit_id="R0").state == InvoiceState.OPEN  # its share is open again

    second = world.user.post(
        "/api/v1/app/applications", {**body, "transit_ids": ["R1"], "title_id": title_id}, format="json"
    )
    with CaptureQueriesContext(connection) as failing:
        application_fail(application_id=second.json()["id"], reason="测试")
    assert Transit.objects.get(transit_id="R1").state == InvoiceState.OPEN
    for captured in (reversing.captured_queries, failing.captured_queries):
        touched = partitions_touched(captured)
        assert touched and all(name.endswith("2026_09") for name in touched), touched


@pytest.mark.django_db
def test_a_batch_across_cards_reads_only_the_months_partitions(world):
    """批量开票: the preview, the submit and the issuing of every card-month of the batch read
    the trips and segments of the batch's month alone, however many cards it spans."""
    from invoices.models import Batch

    from .test_batches import add_cards

    partitions.ensure(["2026-08", "2026-09"])
    [second] = add_cards(world, [51])
    push(world, "BA", world.when, n=2)
    push(world, "BO", world.when - timedelta(days=31), n=2)
    items = [trip(f"BB{i}", second, world.when + timedelta(hours=i), THREE) for i in range(2)]
    items.append(trip("BBO", second, world.when - timedelta(days=31), THREE))
    assert world.clearing.post("/api/v1/partner/transits", {"transits": items}, format="json").json()["created"] == 3
    title_id = world.user.post("/api/v1/app/titles", {"kind": "personal", "name": "张三"}, format="json").json()["id"]
    body = {"month": "2026-09", "mode": "monthly", "title_id": title_id}
    with CaptureQueriesContext(connection) as preview:
        plan = world.user.post("/api/v1/app/batches/preview", body, format="json").json()
    assert plan["invoice_count"] == 6 and len(plan["cards"]) == 2
    with CaptureQueriesContext(connection) as submit:
        r = world.user.post("/api/v1/app/batches", body | {"plan_digest": plan["plan_digest"]}, format="json")
    assert r.status_code == 202, r.content
    batch = Batch.objects.get(pk=r.json()["id"])
    with CaptureQueriesContext(connection) as issuing:
        for app in Application.objects.filter(batch=batch).order_by("id"):
            application_issue(application_id=app.pk)
    assert Invoice.objects.filter(application__batch=batch).count() == 6
    assert set(Transit.objects.filter(month="2026-08").values_list("state", flat=True)) == {InvoiceState.OPEN}
    for captured in (preview.captured_queries, submit.captured_queries, issuing.captured_queries):
        touched = partitions_touched(captured)
        assert touched and all(name.endswith("2026_09") for name in touched), touched


# --- invoices and lines ----------------------------------------------------------------------


def issue_month(world, prefix: str, when, n: int = 1, title_id=None) -> Application:
    """Trips of one month pushed, applied for per trip and issued: three invoices a trip."""
    push(world, prefix, when, n=n)
    if title_id is None:
        title_id = world.user.post("/api/v1/app/titles", {"kind": "personal", "name": "张三"}, format="json").json()[
            "id"
        ]
    month = when.strftime("%Y-%m")
    r = world.user.post(
        "/api/v1/app/applications",
        {"kind": "consumption", "card_no": world.card_no, "month": month, "mode": "per_trip", "title_id": title_id},
        format="json",
    )
    assert r.status_code == 202, r.content
    application_issue(application_id=r.json()["id"])
    app = Application.objects.get(pk=r.json()["id"])
    assert app.status == Application.Status.ISSUED
    return app


@pytest.mark.django_db
def test_invoices_lines_and_keys_land_in_their_months_partition(world):
    from django.db import IntegrityError, transaction

    from invoices.models import InvoiceKey, InvoiceLine

    partitions.ensure(["2026-08", "2026-09"])
    september = issue_month(world, "V", world.when, n=2)
    august = issue_month(world, "W", world.when - timedelta(days=31))
    assert rows_in("invoices_invoice_2026_09") == 6 and rows_in("invoices_invoiceline_2026_09") == 6
    assert rows_in("invoices_invoice_2026_08") == 3 and rows_in("invoices_invoiceline_2026_08") == 3
    assert rows_in("invoices_invoice_default") == rows_in("invoices_invoiceline_default") == 0
    for app, month in ((september, "2026-09"), (august, "2026-08")):
        invoices = Invoice.objects.filter(application=app)
        keys = dict(InvoiceKey.objects.filter(invoice_id__in=invoices.values("id")).values_list("invoice_id", "month"))
        assert keys == {pk: month for pk in invoices.values_list("id", flat=True)}
        assert set(InvoiceLine.objects.filter(invoice__application=app).values_list("month", flat=True)) == {month}
    # (code, number) is unique across months through the key: a second key of an August
    # invoice's code and number in September cannot be written.
    taken = Invoice.objects.filter(application=august).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        InvoiceKey.objects.create(invoice_id=10**12, code=taken.code, number=taken.number, month="2026-09")


@pytest.mark.django_db
def test_invoice_pages_documents_and_verification_read_only_the_months_partitions(world, client, api):
    """An invoice by its id (page, App, PDF), an application (page, App), a card-month of
    我的发票 and a public check by code and number: each reads the invoices and lines of the
    month it shows alone, though other months hold invoices of the same user and card."""
    partitions.ensure(["2026-07", "2026-08", "2026-09"])
    app = issue_month(world, "X", world.when, n=2)
    issue_month(world, "Y", world.when - timedelta(days=31))
    issue_month(world, "Z", world.when - timedelta(days=62))
    invoice = Invoice.objects.filter(application=app).order_by("id").first()
    client.force_login(world.user.user)

    reads = {}
    with CaptureQueriesContext(connection) as reads["invoice page"]:
        r = client.get(f"/invoices/{invoice.pk}/")
    assert r.status_code == 200 and invoice.number in r.content.decode()
    with CaptureQueriesContext(connection) as reads["App invoice"]:
        r = world.user.get(f"/api/v1/app/invoices/{invoice.pk}")
    assert r.status_code == 200 and r.json()["number"] == invoice.number and len(r.json()["lines"]) == 1
    with CaptureQueriesContext(connection) as reads["application page"]:
        r = client.get(f"/applications/{app.pk}/")
    assert r.status_code == 200
    with CaptureQueriesContext(connection) as reads["App application"]:
        r = world.user.get(f"/api/v1/app/applications/{app.pk}")
    assert r.status_code == 200 and len(r.json()["invoices"]) == 6
    with CaptureQueriesContext(connection) as reads["我的发票 of a card-month"]:
        r = world.user.get("/api/v1/app/invoices", {"card_no": world.card_no, "month": "2026-09"})
    assert r.status_code == 200 and len(r.json()) == 6
    with CaptureQueriesContext(connection) as reads["check"]:
        r = api.get(
            "/api/v1/verify",
            {
                "code": invoice.code,
                "number": invoice.number,
                "date": invoice.issued_on.strftime("%Y%m%d"),
                "check": invoice.check_code[-6:],
            },
        )
    assert r.status_code == 200 and r.json()["result"] == "genuine"
    for what, captured in reads.items():
        if what == "check":
            continue  # one call of the read function, below
        touched = partitions_touched(captured.captured_queries)
        assert touched and all(name.endswith("2026_09") for name in touched), (what, touched)
    # The check's statement names its month: its plan (the generic one too, the plan a prepared
    # statement settles on) holds that month's partitions alone, so PostgreSQL neither opens nor
    # locks another month's on a check, where pruning at run time opened every one of them.
    # The check is one call of the database's read function, whose branch for the month runs
    # that month's statement: the statement of that branch is the one planned here.
    assert [q["sql"] for q in reads["check"].captured_queries if q["sql"].startswith("EXECUTE")] == [
        q["sql"] for q in reads["check"].captured_queries if "verify_" in q["sql"]
    ]
    sql, roles = verification._lookup_sql("postgresql")
    branch = verification._with_values(sql, roles, ("p_code", "p_number", "'2026-09'"))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_functiondef(%s::regprocedure)", [f"{verification.read_function_name()}(text, text)"]
        )
        assert f"IF m = '2026-09' THEN\n    RETURN QUERY {branch};" in cursor.fetchone()[0].replace("ELSIF", "IF")
    planned: set[str] = set()
    name, prepare = verification._statement(sql, roles, "2026-09")
    name, prepare = f"t_{name}", prepare.replace(f"PREPARE {name}", f"PREPARE t_{name}", 1)  # not the check's own
    with connection.cursor() as cursor:
        cursor.execute(prepare)
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute(f"EXPLAIN (FORMAT JSON) EXECUTE {name}(%s, %s)", [invoice.code, invoice.number])
        plan = cursor.fetchone()[0]
        planned |= set(re.findall(r'"Relation Name": "([a-z_0-9]+)"', json.dumps(plan)))
        cursor.execute(f"DEALLOCATE {name}")
    planned = {name for name in planned if PARTITION.match(name)}
    assert planned and all(name.endswith("2026_09") for name in planned), planned
    # An id no invoice has: 404, read from no partition at all.
    with CaptureQueriesContext(connection) as missing:
        assert client.get("/invoices/999999999/").status_code == 404
    assert partitions_touched(missing.captured_queries) == set()
    # Nor does a check of a code and number no invoice has.
    with CaptureQueriesContext(connection) as missing:
        r = api.get(
            "/api/v1/verify", {"code": invoice.code, "number": "99999997", "date": "20260901", "check": "000000"}
        )
    assert r.json()["result"] == "not_found" and partitions_touched(missing.captured_queries) == set()


@pytest.mark.django_db
def test_reversing_an_invoice_writes_and_reads_only_its_months_partitions(world):
    from invoices.services import invoice_reverse

    partitions.ensure(["2026-08", "2026-09"])
    app = issue_month(world, "U", world.when)
    issue_month(world, "T", world.when - timedelta(days=31))
    invoice = Invoice.objects.filter(application=app).order_by("id").first()
    with CaptureQueriesContext(connection) as reversing:
        red = invoice_reverse(user=world.user.user, invoice_id=invoice.pk)
        application_issue(application_id=red.pk)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.REVERSED
    [red_invoice] = Invoice.objects.filter(application_id=red.pk)
    assert red_invoice.red and red_invoice.original_id == invoice.pk and red_invoice.month == "2026-09"
    touched = partitions_touched(reversing.captured_queries)
    assert {"invoices_invoice_2026_09", "invoices_invoiceline_2026_09"} <= touched
    assert all(name.endswith("2026_09") for name in touched), touched


@pytest.mark.django_db
def test_lists_across_months_read_only_the_months_on_their_page(world, client, monkeypatch):
    """我的发票 newest first with no month chosen (the App's list, by card too, and the home
    page's newest invoices) reads the partitions of the months its page holds, chosen from the
    user's ``InvoiceMonth`` rows; 按卡按月下载 reads those rows and no invoice partition."""
    from django.utils import timezone

    from invoices import selectors

    partitions.ensure(["2026-07", "2026-08", "2026-09"])
    real, at = timezone.now, {"shift": timedelta(hours=-2)}
    monkeypatch.setattr(timezone, "now", lambda: real() + at["shift"])
    issue_month(world, "Z", world.when - timedelta(days=62))  # issued two hours ago
    at["shift"] = timedelta(hours=-1)
    issue_month(world, "Y", world.when - timedelta(days=31))  # an hour ago
    at["shift"] = timedelta(0)
    issue_month(world, "X", world.when, n=2)  # now: six invoices of September
    client.force_login(world.user.user)

    reads = {}
    with CaptureQueriesContext(connection) as reads["App list"]:
        r = world.user.get("/api/v1/app/invoices", {"limit": 4})
    assert r.status_code == 200 and [row["month"] for row in r.json()] == ["2026-09"] * 4 and r.get("Link")
    first_link = r.get("Link")
    with CaptureQueriesContext(connection) as reads["App list of a card"]:
        r = world.user.get("/api/v1/app/invoices", {"limit": 5, "card_no": world.card_no})
    assert r.status_code == 200 and len(r.json()) == 5
    with CaptureQueriesContext(connection) as reads["home page"]:
        r = client.get("/")
    assert r.status_code == 200
    assert len(selectors.newest_invoices(world.user.user)) == selectors.HOME_ROWS
    for what, captured in reads.items():
        touched = partitions_touched(captured.captured_queries)
        assert touched and all(name.endswith("2026_09") for name in touched), (what, touched)
    # The next App page reaches back into August. The month its cursor falls in is not counted
    # (how many of its rows lie beyond the cursor is not kept), so it may read one month more
    # than it shows: July here, never a month the rows counted so far rule out.
    r = world.user.get(re.match(r"<([^>]+)>", first_link).group(1))
    assert [row["month"] for row in r.json()] == ["2026-09", "2026-09", "2026-08", "2026-08"]
    with CaptureQueriesContext(connection) as card_months:
        rows = selectors.invoice_card_months(world.user.user)
    assert [(row["month"], row["count"]) for row in rows] == [("2026-09", 6), ("2026-08", 3), ("2026-07", 3)]
    assert partitions_touched(card_months.captured_queries) == set()


@pytest.mark.django_db
def test_the_newest_trips_are_read_in_the_newest_band_of_months(world, client):
    """Where the trip and apply pages open (the card's newest month), and the console's and the
    diagnosis page's latest trips, read the partitions of the last three months when those
    months answer them, and go back a band only for what they still lack."""
    from datetime import datetime

    from django.utils import timezone

    from cards.models import Card
    from invoices import selectors

    from .conftest import SHANGHAI

    recent = selectors.recent_months(12, timezone.localdate())
    last, older = recent[1], recent[6]  # last month, and half a year ago (the second band)
    partitions.ensure([last, older])
    push(world, "NEW", datetime(int(last[:4]), int(last[5:]), 2, 8, tzinfo=SHANGHAI), n=2)
    push(world, "OLD", datetime(int(older[:4]), int(older[5:]), 2, 8, tzinfo=SHANGHAI), n=2)
    card_id = Card.objects.get(card_no=world.card_no).pk
    trips = Transit.objects.filter(card_id=card_id)

    client.force_login(world.user.user)
    with CaptureQueriesContext(connection) as newest:
        assert selectors.newest_trip_month(card_id) == last
        assert selectors.newest_trip_month(card_id, open_only=True) == last
        assert [t.transit_id for t in selectors.newest_trips(trips, 2)] == ["NEW1", "NEW0"]
        r = client.get("/trips/", {"card": world.card_no})  # opens on the newest month
    assert r.status_code == 200 and "本月共 2 次通行" in r.content.decode()
    touched = partitions_touched(newest.captured_queries)
    # the last three months and those after (partitions made ahead, empty: a trip's exit is not
    # refused for being in the future, so the band has no upper end), and the default one
    band_start = recent[2].replace("-", "_")
    assert touched and all(name.endswith("default") or name[-7:] >= band_start for name in touched), touched
    assert not any(name.endswith(older.replace("-", "_")) for name in touched)
    # three trips: the newest band holds two, the third comes from the band before, in order
    with CaptureQueriesContext(connection) as longer:
        assert [t.transit_id for t in selectors.newest_trips(trips, 3)] == ["NEW1", "NEW0", "OLD1"]
    assert any(name.endswith(older.replace("-", "_")) for name in partitions_touched(longer.captured_queries))


@pytest.mark.django_db
def test_the_buyer_feed_and_a_periods_ledger_read_only_their_months(world, partner_client, monkeypatch):
    """The enterprise feed (oldest first, by issue time) reads the months ``BuyerMonth`` says its
    page can hold; the ledger of a period (by the months invoices bill) reads those months."""
    from django.utils import timezone

    from invoices import ledger
    from piaogen.demo import demo_uscc

    tax_id = demo_uscc("91110000MA01DEM00")
    title = world.user.post(
        "/api/v1/app/titles", {"kind": "enterprise", "name": "演示公司", "tax_id": tax_id}, format="json"
    ).json()["id"]
    partitions.ensure(["2026-07", "2026-08", "2026-09"])
    real, at = timezone.now, {"shift": timedelta(hours=-2)}
    monkeypatch.setattr(timezone, "now", lambda: real() + at["shift"])
    issue_month(world, "Z", world.when - timedelta(days=62), title_id=title)  # July, two hours ago
    at["shift"] = timedelta(hours=-1)
    issue_month(world, "Y", world.when - timedelta(days=31), title_id=title)  # August, an hour ago
    at["shift"] = timedelta(0)
    issue_month(world, "X", world.when, title_id=title)  # September, now
    company = partner_client("enterprise", name="演示公司", tax_id=tax_id)

    reads, answers = {}, {}
    for what, query in {
        "first page": {"limit": 1},
        "since half an hour ago": {"since": (real() - timedelta(minutes=30)).isoformat()},
    }.items():
        with CaptureQueriesContext(connection) as reads[what]:
            r = company.get("/api/v1/partner/invoices", query)
        assert r.status_code == 200, r.content
        answers[what] = {row["month"] for row in r.json()["results"]}
    assert answers == {"first page": {"2026-07"}, "since half an hour ago": {"2026-09"}}
    month_of = {"first page": "2026_07", "since half an hour ago": "2026_09"}
    for what, captured in reads.items():
        touched = partitions_touched(captured.captured_queries)
        assert touched and all(name.endswith(month_of[what]) for name in touched), (what, touched)

    with CaptureQueriesContext(connection) as period:
        f = ledger.period_filter(world.user.user, month_from="2026-08", month_to="2026-09")
        rows = list(ledger.rows(world.user.user, f))
    assert sorted({row.month for row in rows}) == ["2026-08", "2026-09"] and len(rows) == 6
    touched = partitions_touched(period.captured_queries)
    assert touched and {name[-7:] for name in touched} == {"2026_08", "2026_09"}, touched


@pytest.mark.django_db
def test_a_recharge_applications_invoices_are_read_in_its_recharges_months(world, client):
    """A recharge application's invoices bill its recharges' months (one invoice a month): its
    App answer and its page read those months' partitions and no other."""
    partitions.ensure(["2026-07", "2026-08", "2026-09"])
    stored = world.cards[1]
    world.bind(world.user, stored)
    items = [
        {"recharge_id": f"R{i}", "card_no": stored["card_no"], "amount": 50000, "recharged_at": at}
        for i, at in enumerate(["2026-08-20T10:00:00+08:00", "2026-09-02T10:00:00+08:00"])
    ]
    r = world.issuer.post("/api/v1/partner/recharges", {"recharges": items}, format="json")
    assert r.json()["created"] == 2, r.content
    title_id = world.user.post("/api/v1/app/titles", {"kind": "personal", "name": "张三"}, format="json").json()["id"]
    r = world.user.post(
        "/api/v1/app/applications",
        {"kind": "recharge", "card_no": stored["card_no"], "recharge_ids": ["R0", "R1"], "title_id": title_id},
        format="json",
    )
    assert r.status_code == 202, r.content
    application_issue(application_id=r.json()["id"])
    client.force_login(world.user.user)
    reads = {}
    with CaptureQueriesContext(connection) as reads["App answer"]:
        answer = world.user.get(f"/api/v1/app/applications/{r.json()['id']}").json()
    assert answer["status"] == "issued" and sorted(i["month"] for i in answer["invoices"]) == ["2026-08", "2026-09"]
    with CaptureQueriesContext(connection) as reads["page"]:
        page = client.get(f"/applications/{r.json()['id']}/")
    assert page.status_code == 200
    for what, captured in reads.items():
        touched = partitions_touched(captured.captured_queries)
        assert touched and {name[-7:] for name in touched} == {"2026_08", "2026_09"}, (what, touched)


@pytest.mark.django_db
def test_issuing_writes_straight_into_the_months_partition_or_through_the_parent(world, monkeypatch):
    """An application's invoices and lines (one month) are copied straight into that month's
    partitions when they exist (``partitions.month_partitions``); a month without its own
    partition is written through the parent, into the default partition, as before."""
    from invoices import services

    partitions.ensure(["2026-09"])
    assert partitions.month_partitions(services.TABLES_WRITTEN, "2026-09") == {
        "invoices_invoice": "invoices_invoice_2026_09",
        "invoices_invoiceline": "invoices_invoiceline_2026_09",
    }
    assert partitions.month_partitions(services.TABLES_WRITTEN, "1999-01") == {}
    targets = []
    real = services.insert_rows

    def spy(model, columns, rows, **kw):
        targets.append((model._meta.db_table, kw.get("into")))
        return real(model, columns, rows, **kw)

    monkeypatch.setattr(services, "insert_rows", spy)
    issue_month(world, "D", world.when)
    assert ("invoices_invoiceline", "invoices_invoiceline_2026_09") in targets
    assert rows_in("invoices_invoice_2026_09") == rows_in("invoices_invoiceline_2026_09") == 3
    # a month whose partition is missing: the rows reach the default partition through the parent
    partitions.ensure(["2026-08"])
    with connection.cursor() as cursor:  # August's lines lose their partition
        cursor.execute("ALTER TABLE invoices_invoiceline DETACH PARTITION invoices_invoiceline_2026_08")
    targets.clear()
    issue_month(world, "E", world.when - timedelta(days=31))
    assert ("invoices_invoiceline", None) in targets
    assert rows_in("invoices_invoice_2026_08") == 3 and rows_in("invoices_invoiceline_default") == 3


@pytest.mark.django_db
def test_the_dashboards_invoices_of_the_last_days_read_only_their_months(world, monkeypatch):
    """The supervisors' dashboard counts the invoices issued in its last days; ``IssueDay``
    (written by issuing) names the months they bill, and only those partitions are read."""
    from django.db.models import Count
    from django.utils import timezone

    from invoices.models import IssueDay
    from support.selectors import DASHBOARD_DAYS, dashboard

    partitions.ensure(["2026-07", "2026-08", "2026-09"])
    real = timezone.now
    monkeypatch.setattr(timezone, "now", lambda: real() - timedelta(days=DASHBOARD_DAYS + 5))
    issue_month(world, "Z", world.when - timedelta(days=62))  # July's, issued before the window
    monkeypatch.setattr(timezone, "now", real)
    issue_month(world, "Y", world.when - timedelta(days=31))  # August's, issued today
    pairs = set(Invoice.objects.values_list("issued_on", "month").distinct())
    assert set(IssueDay.objects.values_list("issued_on", "month")) == pairs and len(pairs) == 2
    with CaptureQueriesContext(connection) as captured:
        board = dashboard()
    today = timezone.localdate().strftime("%m-%d")
    [bar] = [b for b in board["invoices_by_day"] if b.label == today]
    issued_today = Invoice.objects.filter(issued_on=timezone.localdate(), red=False).aggregate(n=Count("id"))["n"]
    assert bar.value == issued_today == 3
    touched = {name for name in partitions_touched(captured.captured_queries) if name.startswith("invoices_invoice")}
    assert touched == {"invoices_invoice_2026_08"}, touched


@pytest.mark.django_db
def test_a_pushed_trip_writes_no_index_that_nothing_reads():
    """Every index of the tables a push writes costs each new trip an entry: the trips' key table
    keeps its primary key alone (no pattern index for prefix searches nobody runs), trips and
    segments no pattern index either."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, indexname FROM pg_indexes WHERE tablename IN"
            " ('invoices_transitkey', 'invoices_transit', 'invoices_transitsegment')"
        )
        found = cursor.fetchall()
    assert [name for table, name in found if table == "invoices_transitkey"] == ["invoices_transitkey_pkey"]
    assert not [name for _table, name in found if name.endswith("_like")]
