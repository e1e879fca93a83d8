"""Growth: the cost of one ingest batch, one issuing and one list page with 10k, 100k and 1M
trips and invoices in the database. Flat means the cost does not grow with the tables.

    .venv/bin/python bench/growth.py [--sizes 10000,100000,1000000] [--repeat 5]

Each size has a database of its own (``piaogen_bench_<size>``; the largest is the main bench
database), generated once by bench/generate.py. In each, in one process against PostgreSQL:
- ingest: ``transit_upsert_batch`` of 5000 new trips of 3 segments (the service the API calls);
- issuing: ``application_issue`` of a per-trip application of 50 trips (150 invoices);
- list page: 通行记录 of the heavy user's card-month and 我的发票, through the test client.
Medians of ``--repeat`` runs are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common, data, generate  # noqa: E402


def measure(repeat: int, batch: int, app_trips: int) -> dict:
    common.setup_django(ALLOWED_HOSTS="testserver")
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from accounts.models import Partner, User, mobile_digest
    from bench import issuing
    from invoices import services
    from invoices.ingest import transit_upsert_batch
    from invoices.models import Application

    clearing = Partner.objects.filter(kind=Partner.Kind.CLEARING, name="bench-clearing").first()
    cards = [data.card_no(n) for n in range(20)]
    ingest_ms, issue_ms, transits_ms, invoices_ms = [], [], [], []
    tag = str(time.time_ns())[-10:]
    for r in range(repeat):
        body = {"transits": data.trips(f"GR{tag}-{r}", cards, batch, seed=r)}
        started = time.perf_counter()
        result = transit_upsert_batch(partner=clearing, body=body)
        ingest_ms.append((time.perf_counter() - started) * 1000)
        assert result.created == batch, result.as_dict()["rejected"][:2]
    ids = issuing.prepare(repeat, app_trips, Application.Mode.PER_TRIP, f"g{tag}")
    invoices = 0
    for app_id in ids:
        started = time.perf_counter()
        app = services.application_issue(application_id=app_id)
        issue_ms.append((time.perf_counter() - started) * 1000)
        invoices = app.invoice_count
    user = User.objects.get(mobile_digest=mobile_digest(generate.HEAVY_MOBILE))
    client = Client()
    client.force_login(user)
    month = generate.months_back(timezone.localdate(), 12)[-4]
    for url, sink in (
        (f"/trips/?card={generate.HEAVY_CARDS[0]}&month={month}", transits_ms),
        ("/invoices/", invoices_ms),
    ):
        client.get(url)
        for _ in range(max(5, repeat)):
            started = time.perf_counter()
            assert client.get(url).status_code == 200
            sink.append((time.perf_counter() - started) * 1000)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM invoices_transit")
        trips = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM invoices_invoice")
        invoice_rows = cursor.fetchone()[0]
    return {
        "trips_in_db": trips,
        "invoices_in_db": invoice_rows,
        "ingest_batch_ms": round(common.median(ingest_ms), 1),
        "issue_ms": round(common.median(issue_ms), 1),
        "issue_invoices": invoices,
        "transits_page_ms": round(common.median(transits_ms), 1),
        "invoices_page_ms": round(common.median(invoices_ms), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--app-trips", type=int, default=50)
    parser.add_argument("--user-trips", type=int, default=5000)
    parser.add_argument("--only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only:
        print(json.dumps(measure(args.repeat, args.batch, args.app_trips)))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    main_url = common.database_url()
    rows = []
    for size in sizes:
        url = main_url if size == max(sizes) else f"{main_url.rsplit('/', 1)[0]}/piaogen_bench_{size}"
        os.environ["BENCH_DATABASE_URL"] = url
        info = generate.ensure(size, size, args.user_trips)
        out = subprocess.run(
            [
                common.PY,
                __file__,
                "--only",
                "--repeat",
                str(args.repeat),
                "--batch",
                str(args.batch),
                "--app-trips",
                str(args.app_trips),
            ],
            env=common.bench_env(LOG_LEVEL="WARNING"),
            capture_output=True,
            text=True,
            cwd=common.ROOT,
        )
        if out.returncode:
            raise RuntimeError(out.stderr[-3000:])
        row = {"size": size, **json.loads(out.stdout.strip().splitlines()[-1]), "generated": info["generated"]}
        rows.append(row)
        print(row, flush=True)
    os.environ["BENCH_DATABASE_URL"] = main_url
    first, last = rows[0], rows[-1]
    common.report(
        "growth",
        sizes=rows,
        largest_over_smallest={
            key: round(last[key] / first[key], 2) if first[key] else None
            for key in ("ingest_batch_ms", "issue_ms", "transits_page_ms", "invoices_page_ms")
        },
        goal="flat",
    )


if __name__ == "__main__":
    main()
