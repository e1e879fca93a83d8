"""Issuing in one process, phase by phase: where an application's time goes, without Celery.

    .venv/bin/python bench/issuing_profile.py [--apps 40] [--trips 50] [--cprofile]

Prepares per-trip applications as ``bench/issuing.py`` does, issues one to warm up (imports, the
URL resolver), then issues the others one after another through ``application_issue`` on one
kept connection, with a timer around each phase: the functions of ``invoices/services.py`` and
``invoices/application_rows.py`` named in ``PHASES`` that exist in the code measured (so that a
checkout from before a change can be measured the same way). Prints, per application: process
CPU and wall time of each phase and of the whole, the statements sent (COPY included) and the
CPU time of the PostgreSQL backend serving this process (``/proc``: the database on this machine).
With ``--cprofile``, the 40 most expensive functions (cumulative CPU) follow.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402

# (module, function): phases that run inside application_issue, outermost first.
PHASES = [
    ("application_rows", "claim"),
    ("services", "_issue"),
    ("services", "_lock_trips"),
    ("services", "_invoice_trips"),
    ("services", "plan_consumption"),
    ("services", "_write"),
    ("services", "_count_months"),
    ("services", "_issued_hooks"),
    ("services", "_summary_no"),
    ("services", "_event"),
    ("application_rows", "mark_issued"),
    ("services", "_after_issue"),
]
NESTED = {"_lock_trips", "_invoice_trips", "plan_consumption", "_write", "_count_months"}  # inside _issue


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--apps", type=int, default=40)
    parser.add_argument("--trips", type=int, default=50)
    parser.add_argument("--cprofile", action="store_true")
    args = parser.parse_args()
    common.ensure_database()
    common.manage("migrate", "--noinput")
    common.setup_django(LOG_LEVEL="WARNING")
    import importlib

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bench.issuing import flush_queue, prepare
    from invoices import services

    cpu: dict[str, float] = defaultdict(float)
    wall: dict[str, float] = defaultdict(float)

    def timed(owner, name: str) -> None:
        function = getattr(owner, name)

        def wrapper(*a, **k):
            w, c = time.perf_counter(), time.process_time()
            try:
                return function(*a, **k)
            finally:
                wall[name] += time.perf_counter() - w
                cpu[name] += time.process_time() - c

        setattr(owner, name, wrapper)

    for module, name in PHASES:
        try:
            owner = importlib.import_module(f"invoices.{module}")
        except ImportError:
            continue
        if hasattr(owner, name):
            timed(owner, name)

    ids = prepare(args.apps + 1, args.trips, "per_trip", f"{time.time_ns() % 10**9}p")
    flush_queue()
    services.application_issue(application_id=ids.pop(0))
    cpu.clear()
    wall.clear()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
        raw_class = type(cursor.cursor)

    def backend_cpu() -> float:
        fields = Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    original_copy = raw_class.copy

    def copy(self, statement, *a, **k):  # COPY goes to the driver, beside Django's log
        connection.queries_log.append({"sql": str(statement), "time": "0"})
        return original_copy(self, statement, *a, **k)

    raw_class.copy = copy
    profile = cProfile.Profile(time.process_time) if args.cprofile else None
    load = os.getloadavg()
    database_before = backend_cpu()
    try:
        with CaptureQueriesContext(connection) as queries:
            w, c = time.perf_counter(), time.process_time()
            if profile:
                profile.enable()
            invoices = sum(services.application_issue(application_id=pk).invoice_count for pk in ids)
            if profile:
                profile.disable()
            total_wall, total_cpu = time.perf_counter() - w, time.process_time() - c
    finally:
        raw_class.copy = original_copy
    database = backend_cpu() - database_before
    flush_queue()
    n = len(ids)
    per = 1000 / n
    print(f"{n} applications, {invoices} invoices, load average before {load[0]:.2f}")
    print(f"  whole: cpu {total_cpu * per:.2f} ms  wall {total_wall * per:.2f} ms  a application")
    print(f"  statements a application: {len(queries.captured_queries) / n:.1f} (COPY included)")
    print(f"  PostgreSQL backend cpu: {database * per:.2f} ms a application")
    outer = [name for _m, name in PHASES if name in cpu and name not in NESTED]
    print(
        f"  outside the phases (the issuing transaction's read of the application, commits): "
        f"cpu {(total_cpu - sum(cpu[k] for k in outer)) * per:.2f} ms  "
        f"wall {(total_wall - sum(wall[k] for k in outer)) * per:.2f} ms"
    )
    for name in sorted(cpu, key=lambda k: -cpu[k]):
        print(f"  {name:18s} cpu {cpu[name] * per:6.2f} ms  wall {wall[name] * per:6.2f} ms")
    common.report(
        "issuing_profile",
        load_average_before=[round(x, 2) for x in load],
        applications=n,
        invoices=invoices,
        ms_per_application={"cpu": round(total_cpu * per, 2), "wall": round(total_wall * per, 2)},
        statements_per_application=round(len(queries.captured_queries) / n, 1),
        database_cpu_ms_per_application=round(database * per, 2),
        phases_cpu_ms={name: round(cpu[name] * per, 2) for name in cpu},
    )
    if profile:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
