"""Issuing: invoices a second by Celery worker processes, from the first application a worker
takes to the last one issued, for per-trip and monthly applications, with one worker process
and with two.

    .venv/bin/python bench/issuing.py [--apps 40] [--trips 50] [--monthly-apps 8] [--monthly-trips 300]

Applications are submitted through the service (which queues them on the bench broker) while no
worker runs; then ``celery worker -Q default -c N`` starts and the bench polls the database until
every application is issued. The rate is invoices / (last ``issued_at`` − first ``started_at``).
The documents each issuing queues (render queue) are not consumed and are dropped afterwards.

The floor, measured in the same run after the one-process per-trip figure: the same invoices and
lines written again the leanest way, in this process, one transaction per application: ids
reserved by one ``nextval`` over the block, a COPY of its invoices, a COPY of its lines (each
straight into the month's partition where the tables are partitioned, as issuing writes), a COPY
of their keys (code and number → id and month, where their uniqueness lives), one counter
UPDATE, commit. It pays for what any issuing must write and nothing else (no planning,
no tax, no reading of trips, no task machinery); its rows are deleted afterwards. The worker's
rate is reported as a share of it.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common, data  # noqa: E402


def prepare(n_apps: int, trips_per_app: int, mode: str, tag: str):
    """A user with ``n_apps`` cards, each with ``trips_per_app`` open trips in one month, and one
    submitted application per card."""
    from accounts.models import Partner, User
    from cards.models import Binding, Card, InvoiceTitle
    from cards.services.registry import card_registry_upsert
    from invoices import services
    from invoices.ingest import transit_upsert_batch

    clearing = Partner.objects.filter(kind=Partner.Kind.CLEARING, name="bench-clearing").first()
    base = 800_000_000 + (int(time.time()) % 100_000) * 1000
    items = data.cards(base, n_apps)
    assert not card_registry_upsert(partner=None, items=items)["rejected"]
    user = User(name=f"基准开票{tag}")
    user.set_mobile(f"136{time.time_ns() % 10**8:08d}")
    user.set_unusable_password()
    user.save()
    title = InvoiceTitle.objects.create(
        user=user, kind="enterprise", name="基准开票有限公司", tax_id="91410100MA0000001X"
    )
    cards = list(Card.objects.filter(card_no__in=[c["card_no"] for c in items]))
    Binding.objects.bulk_create([Binding(user=user, card=c, default_title=title) for c in cards])
    start = datetime.now(tz=data.SHANGHAI).replace(day=1, hour=6, minute=0, second=0, microsecond=0) - timedelta(
        days=20
    )
    start = start.replace(day=1)
    month = start.strftime("%Y-%m")
    trips = data.trips(f"I{tag}", [c.card_no for c in cards], n_apps * trips_per_app, seed=3, start=start)
    for t in trips:  # keep every trip inside the month
        exit_at = datetime.fromisoformat(t["exit_time"])
        if exit_at.strftime("%Y-%m") != month:
            t["exit_time"] = start.replace(day=27).isoformat()
            t["entry_time"] = (start.replace(day=27) - timedelta(minutes=40)).isoformat()
    for i in range(0, len(trips), 5000):
        result = transit_upsert_batch(partner=clearing, body={"transits": trips[i : i + 5000]})
        assert not result.rejected, result.rejected[:2]
    common.analyze()  # as autovacuum would, before the applications are planned
    ids = []
    for c in cards:
        app = services.application_submit_consumption(
            user=user, card_no=c.card_no, month=month, title_id=title.pk, mode=mode
        )
        ids.append(app.pk)
    return ids


def worker(concurrency: int):
    return subprocess.Popen(
        [
            str(Path(common.PY).parent / "celery"),
            "-A",
            "piaogen",
            "worker",
            "-Q",
            "default",
            "-c",
            str(concurrency),
            "--pool",
            "prefork",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "warning",
        ],
        cwd=common.ROOT,
        env=common.bench_env(LOG_LEVEL="WARNING"),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
    )


def run(ids: list[int], concurrency: int, timeout: float = 900) -> dict:
    from django.db.models import Count, Max, Min, Sum

    from invoices.models import Application, InvoiceLine

    proc = worker(concurrency)
    started = time.perf_counter()
    try:
        while time.perf_counter() - started < timeout:
            left = Application.objects.filter(id__in=ids).exclude(status__in=["issued", "failed"]).count()
            if not left:
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("issuing did not finish")
    finally:
        proc.terminate()  # warm shutdown of the main process: the pool finishes and exits
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    agg = Application.objects.filter(id__in=ids).aggregate(
        first=Min("started_at"), last=Max("issued_at"), invoices=Sum("invoice_count"), failed=Count("id", filter=None)
    )
    failed = Application.objects.filter(id__in=ids, status="failed").count()
    lines = InvoiceLine.objects.filter(invoice__application_id__in=ids).count()
    seconds = (agg["last"] - agg["first"]).total_seconds()
    return {
        "workers": concurrency,
        "applications": len(ids),
        "failed": failed,
        "invoices": agg["invoices"],
        "lines": lines,
        "seconds": round(seconds, 3),
        "invoices_per_s": round(agg["invoices"] / seconds) if seconds else None,
        "lines_per_s": round(lines / seconds) if seconds else None,
    }


def floor(ids: list[int]) -> dict:
    """What writing the invoices and lines of these applications costs at the least (see the
    module's docstring): their rows are read back first, then written again, timed."""
    from django.db import connection, transaction

    from invoices import partitions
    from invoices.models import DocumentCounter, Invoice, InvoiceLine

    TABLES = ("invoices_invoice", "invoices_invoiceline")
    inv_fields = [f for f in Invoice._meta.concrete_fields if not f.primary_key]
    line_fields = [f for f in InvoiceLine._meta.concrete_fields if not f.primary_key]
    code_at = [f.name for f in inv_fields].index("code")
    number_at = [f.name for f in inv_fields].index("number")
    month_at = [f.name for f in inv_fields].index("month")
    invoice_at = [f.name for f in line_fields].index("invoice")
    per_app = []
    with connection.cursor() as cursor:
        for app_id in ids:
            cursor.execute(
                "SELECT id, {} FROM invoices_invoice WHERE application_id = %s ORDER BY id".format(
                    ", ".join(f.column for f in inv_fields)
                ),
                [app_id],
            )
            invoices = cursor.fetchall()
            cursor.execute(
                "SELECT {} FROM invoices_invoiceline WHERE invoice_id = ANY(%s) ORDER BY id".format(
                    ", ".join(f.column for f in line_fields)
                ),
                [[row[0] for row in invoices]],
            )
            per_app.append((invoices, cursor.fetchall()))
    DocumentCounter.objects.get_or_create(series="bench-floor")
    inv_columns = ", ".join(f.column for f in inv_fields)
    line_columns = ", ".join(f.column for f in line_fields)
    key_copy = "COPY invoices_invoicekey (invoice_id, code, number, month) FROM STDIN"
    # Into each application's month's partitions where they exist, as issuing writes (the names
    # looked up before the clock starts: the floor is the leanest write there is).
    targets = []
    for invoices, _lines in per_app:
        into = partitions.month_partitions(TABLES, invoices[0][1 + month_at]) if invoices else {}
        targets.append(
            (
                f"COPY {into.get('invoices_invoice', 'invoices_invoice')} (id, {inv_columns}) FROM STDIN",
                f"COPY {into.get('invoices_invoiceline', 'invoices_invoiceline')} ({line_columns}) FROM STDIN",
            )
        )
    written = lines = 0
    started = time.perf_counter()
    for (invoices, app_lines), (inv_copy, line_copy) in zip(per_app, targets, strict=True):
        with transaction.atomic(), connection.cursor() as cursor:
            raw = cursor.cursor
            raw.execute("SELECT nextval('invoices_invoice_id_seq') FROM generate_series(1, %s)", [len(invoices)])
            new_ids = {old[0]: new for old, (new,) in zip(invoices, raw.fetchall(), strict=True)}
            keys: list[tuple] = []
            with raw.copy(inv_copy) as copy:
                for row in invoices:
                    values = list(row[1:])
                    values[code_at] = "F" + values[code_at][1:] if values[code_at] else "F"
                    copy.write_row([new_ids[row[0]], *values])
                    keys.append((new_ids[row[0]], values[code_at], values[number_at], values[month_at]))
            # Each invoice's global key, as issuing writes it (the unique (code, number) lives there).
            with raw.copy(key_copy) as copy:
                for key in keys:
                    copy.write_row(key)
            with raw.copy(line_copy) as copy:
                for row in app_lines:
                    values = list(row)
                    values[invoice_at] = new_ids[values[invoice_at]]
                    copy.write_row(values)
            raw.execute(
                "UPDATE invoices_documentcounter SET next_number = next_number + %s WHERE series = 'bench-floor'",
                [len(invoices)],
            )
        written += len(invoices)
        lines += len(app_lines)
    seconds = time.perf_counter() - started
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM invoices_invoiceline WHERE invoice_id IN "
            "(SELECT id FROM invoices_invoice WHERE application_id = ANY(%s) AND code LIKE 'F%%')",
            [ids],
        )
        cursor.execute(
            "DELETE FROM invoices_invoicekey WHERE invoice_id IN "
            "(SELECT id FROM invoices_invoice WHERE application_id = ANY(%s) AND code LIKE 'F%%')",
            [ids],
        )
        cursor.execute("DELETE FROM invoices_invoice WHERE application_id = ANY(%s) AND code LIKE 'F%%'", [ids])
    return {
        "applications": len(ids),
        "invoices": written,
        "lines": lines,
        "seconds": round(seconds, 3),
        "invoices_per_s": round(written / seconds) if seconds else None,
    }


def flush_queue() -> None:
    import redis

    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--apps", type=int, default=40, help="per-trip applications per run")
    parser.add_argument("--trips", type=int, default=50, help="trips per per-trip application (3 invoices each)")
    parser.add_argument("--monthly-apps", type=int, default=8)
    parser.add_argument("--monthly-trips", type=int, default=300)
    args = parser.parse_args()
    common.ensure_database()
    common.manage("migrate", "--noinput")
    common.setup_django()
    from invoices.models import Application

    flush_queue()
    load_before = os.getloadavg()
    results = {}
    tag = str(time.time_ns())[-9:]
    for name, n_apps, n_trips, mode, conc in (
        ("per_trip_1", args.apps, args.trips, Application.Mode.PER_TRIP, 1),
        ("monthly_1", args.monthly_apps, args.monthly_trips, Application.Mode.MONTHLY, 1),
        ("per_trip_2", args.apps, args.trips, Application.Mode.PER_TRIP, 2),
    ):
        ids = prepare(n_apps, n_trips, mode, f"{tag}{name[0]}{conc}")
        results[name] = run(ids, conc)
        flush_queue()
        print(name, results[name], flush=True)
        if name == "per_trip_1":
            results["floor"] = floor(ids)
            print("floor", results["floor"], flush=True)
    one, two = results["per_trip_1"]["invoices_per_s"], results["per_trip_2"]["invoices_per_s"]
    reference = results["floor"]["invoices_per_s"]
    common.report(
        "issuing",
        load_average_before=[round(x, 2) for x in load_before],
        floor_one_process=results["floor"],
        per_trip_over_floor=round(one / reference, 3) if one and reference else None,
        goal_over_floor=0.6,
        per_trip_one_process=results["per_trip_1"],
        monthly_one_process=results["monthly_1"],
        per_trip_two_processes=results["per_trip_2"],
        scaling_two_over_one=round(two / one, 2) if one else None,
        goal_invoices_per_s_per_process=3000,
        goal_scaling=1.6,
        load_average_after=[round(x, 2) for x in os.getloadavg()],
    )


if __name__ == "__main__":
    main()
