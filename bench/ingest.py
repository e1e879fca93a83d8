"""Ingest: trips a second through POST /api/v1/partner/transits (batches of 5000 trips of 3
segments) against the same rows written with psycopg COPY into plain tables, in one run.

    .venv/bin/python bench/ingest.py [--batches 10] [--size 5000] [--concurrency 2]

The batches go one after another over one connection (the headline figure), then fresh batches
again from ``--concurrency`` connections at once, as several clearing centres push.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common, data  # noqa: E402


def prepare(card_count: int) -> str:
    common.ensure_database()
    common.manage("migrate", "--noinput")
    # The bench's trips travel in September 2026: their month's partition, where trips are
    # partitioned, as the hourly task keeps this month's (a no-op on plain tables).
    common.manage("partitions", "ensure", "--month", "2026-09")
    common.setup_django()
    from accounts.models import Partner
    from accounts.services import partner_create
    from cards.services.registry import card_registry_upsert
    from invoices.ingest import operator_upsert_batch

    clearing, token = partner_create(kind=Partner.Kind.CLEARING, name=f"bench-clearing-{time.time_ns()}")
    operator_upsert_batch(partner=clearing, body=data.operators_body())
    for start in range(0, card_count, 5000):
        card_registry_upsert(partner=None, items=data.cards(start, min(5000, card_count - start)))
    return token


def copy_reference(rows: list[dict]) -> float:
    """The same trips and segments written with COPY into plain tables (no constraints)."""
    import psycopg

    url = os.environ["DATABASE_URL"]
    with psycopg.connect(url) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_copy_segment; DROP TABLE IF EXISTS bench_copy_transit")
        conn.execute(
            "CREATE TABLE bench_copy_transit (id bigserial primary key, transit_id varchar(64), card_no varchar(20),"
            " plate varchar(8), plate_color smallint, vehicle_class varchar(16), entry_station varchar(64),"
            " entry_time timestamptz, exit_station varchar(64), exit_time timestamptz, fee bigint)"
        )
        conn.execute(
            "CREATE TABLE bench_copy_segment (transit_id varchar(64), seq smallint, section_code varchar(32), fee bigint)"
        )
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cur:
            with cur.copy(
                "COPY bench_copy_transit (transit_id, card_no, plate, plate_color, vehicle_class, entry_station,"
                " entry_time, exit_station, exit_time, fee) FROM STDIN"
            ) as copy:
                for t in rows:
                    copy.write_row(
                        (
                            t["transit_id"],
                            t["card_no"],
                            t["plate"],
                            t["plate_color"],
                            t["vehicle_class"],
                            t["entry_station"],
                            t["entry_time"],
                            t["exit_station"],
                            t["exit_time"],
                            t["fee"],
                        )
                    )
            with cur.copy("COPY bench_copy_segment (transit_id, seq, section_code, fee) FROM STDIN") as copy:
                for t in rows:
                    for i, s in enumerate(t["segments"], start=1):
                        copy.write_row((t["transit_id"], i, s["section_code"], s["fee"]))
        conn.commit()
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE bench_copy_segment; DROP TABLE bench_copy_transit")
        conn.commit()
    return elapsed


def encode(batch: list[dict]) -> bytes:
    return json.dumps({"transits": batch}, ensure_ascii=False).encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--size", type=int, default=5000)
    parser.add_argument("--cards", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--concurrency", type=int, default=2, help="also push the batches from this many connections at once"
    )
    args = parser.parse_args()
    token = prepare(args.cards)
    common.analyze()  # the trips of earlier runs counted, as autovacuum would have
    card_numbers = [data.card_no(n) for n in range(args.cards)]
    run = time.time_ns()
    batches = [data.trips(f"B{run}-{b}", card_numbers, args.size, seed=b) for b in range(args.batches)]
    # Encoded before the clock starts, as a partner's system sends UTF-8: the bench's own JSON
    # encoding is not the server's work.
    bodies = [encode(batch) for batch in batches]
    with common.server(workers=args.workers) as base:
        common.post_json(
            f"{base}/api/v1/partner/transits", {"transits": data.trips(f"W{run}", card_numbers, 50)}, token
        )
        started = time.perf_counter()
        for batch, raw in zip(batches, bodies, strict=True):
            status, body = common.post_json(f"{base}/api/v1/partner/transits", raw, token)
            assert status == 200 and body["created"] == len(batch) and not body["rejected"], body
        api_seconds = time.perf_counter() - started
        common.analyze()  # the batches just written, as autovacuum would within a minute
        # The same batches again: all unchanged (the idempotent re-push path)
        started = time.perf_counter()
        for batch, raw in list(zip(batches, bodies, strict=True))[:2]:
            status, body = common.post_json(f"{base}/api/v1/partner/transits", raw, token)
            assert body["unchanged"] == len(batch), body
        repush_seconds = time.perf_counter() - started
        # Fresh batches again, from several connections at once (several clearing centres pushing)
        parallel = [data.trips(f"C{run}-{b}", card_numbers, args.size, seed=b) for b in range(args.batches)]
        parallel = [(len(batch), encode(batch)) for batch in parallel]

        def push(item):
            count, raw = item
            status, body = common.post_json(f"{base}/api/v1/partner/transits", raw, token)
            assert status == 200 and body["created"] == count and not body["rejected"], body

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            list(pool.map(push, parallel))
        parallel_seconds = time.perf_counter() - started
    total = args.batches * args.size
    copy_seconds = copy_reference([t for b in batches for t in b])
    api_rate, copy_rate = total / api_seconds, total / copy_seconds
    common.report(
        "ingest",
        trips=total,
        batch=args.size,
        api_trips_per_s=round(api_rate),
        copy_trips_per_s=round(copy_rate),
        ratio=round(api_rate / copy_rate, 3),
        concurrency=args.concurrency,
        api_trips_per_s_concurrent=round(total / parallel_seconds),
        ratio_concurrent=round(total / parallel_seconds / copy_rate, 3),
        repush_trips_per_s=round(min(2, args.batches) * args.size / repush_seconds),
        goal_ratio=0.25,
    )


if __name__ == "__main__":
    main()
