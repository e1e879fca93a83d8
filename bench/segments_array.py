"""What the segments as an array column of the trip would save the database: batches of new trips
written by COPY as the ingest writes them (the trips, then their segments, one row a segment)
against the same trips with their segments as three array columns of the trip row (sections,
operators, fees), one row a trip, alternately in one run.

    .venv/bin/python bench/segments_array.py [--batches 8] [--size 5000] [--month 2026-09]

Scratch tables copied from the month's trip and segment partitions as the ingest bench leaves
them (``LIKE … INCLUDING ALL``: the same columns, defaults, checks and indexes, with their rows),
dropped afterwards; run bench/ingest.py first so that they hold a month of trips. Only the
database's side is measured: each batch's COPY text is made before its clock starts.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402

TRIP_COLUMNS = (
    "id, transit_id, card_id, plate, plate_color, vehicle_class, entry_station, entry_time, exit_station,"
    " exit_time, fee, month, travel_date, state, fingerprint, pushed_by_id, created_at, updated_at"
)
SEGMENT_COLUMNS = "id, transit_id, seq, section_id, operator_id, fee, month"
SCRATCH = ("bench_seg_trip", "bench_seg_segment", "bench_seg_trip_arrays")


def source(conn, table: str, month: str) -> str:
    """The month's partition of ``table`` where the table is partitioned, else the table."""
    partition = f"{table}_{month.replace('-', '_')}"
    found = conn.execute("SELECT to_regclass(%s)", [partition]).fetchone()[0]
    return partition if found else table


def prepare(conn, month: str) -> int:
    trips, segments = source(conn, "invoices_transit", month), source(conn, "invoices_transitsegment", month)
    conn.execute(f"DROP TABLE IF EXISTS {', '.join(SCRATCH)}")
    conn.execute(f"CREATE TABLE bench_seg_trip (LIKE {trips} INCLUDING ALL)")
    conn.execute(f"CREATE TABLE bench_seg_segment (LIKE {segments} INCLUDING ALL)")
    conn.execute(f"CREATE TABLE bench_seg_trip_arrays (LIKE {trips} INCLUDING ALL)")
    conn.execute(
        "ALTER TABLE bench_seg_trip_arrays ADD COLUMN segment_sections bigint[] NOT NULL DEFAULT '{}',"
        " ADD COLUMN segment_operators bigint[] NOT NULL DEFAULT '{}', ADD COLUMN segment_fees bigint[] NOT NULL"
        " DEFAULT '{}'"
    )
    conn.execute(f"INSERT INTO bench_seg_trip SELECT * FROM {trips} WHERE month = %s", [month])
    conn.execute(f"INSERT INTO bench_seg_segment SELECT * FROM {segments} WHERE month = %s", [month])
    conn.execute(
        f"INSERT INTO bench_seg_trip_arrays SELECT t.*, array_agg(s.section_id ORDER BY s.seq),"  # noqa: S608
        f" array_agg(s.operator_id ORDER BY s.seq), array_agg(s.fee ORDER BY s.seq)"
        f" FROM {trips} t JOIN {segments} s ON s.transit_id = t.id AND s.month = t.month"
        f" WHERE t.month = %s GROUP BY t.id, t.month",
        [month],
    )
    conn.commit()
    return conn.execute("SELECT count(*) FROM bench_seg_trip").fetchone()[0]


def trip_line(pk: int, month: str) -> str:
    day = f"{month}-10"
    return (
        f"{pk}\tBENCH-SEG-{pk}\t1\t京A{pk % 100000:05d}\t0\t1\tS{pk % 50}\t{day}T08:00:00+08:00\tS{(pk + 7) % 50}\t"
        f"{day}T09:00:00+08:00\t3000\t{month}\t{day}\topen\t{'0' * 40}\t\\N\t2026-12-05T00:00:00+08:00\t"
        "2026-12-05T00:00:00+08:00"
    )


def write(conn, shape: str, first: int, size: int, month: str) -> float:
    ids = range(first, first + size)
    if shape == "rows":
        trips = "".join(trip_line(pk, month) + "\n" for pk in ids)
        segments = "".join(
            f"{pk * 3 + seq}\t{pk}\t{seq}\t{seq}\t{seq}\t1000\t{month}\n" for pk in ids for seq in (1, 2, 3)
        )
    else:
        trips = "".join(trip_line(pk, month) + "\t{1,2,3}\t{1,2,3}\t{1000,1000,1000}\n" for pk in ids)
    started = time.perf_counter()
    with conn.cursor() as cursor:
        if shape == "rows":
            with cursor.copy(f"COPY bench_seg_trip ({TRIP_COLUMNS}) FROM STDIN") as copy:
                copy.write(trips)
            with cursor.copy(f"COPY bench_seg_segment ({SEGMENT_COLUMNS}) FROM STDIN") as copy:
                copy.write(segments)
        else:
            columns = f"{TRIP_COLUMNS}, segment_sections, segment_operators, segment_fees"
            with cursor.copy(f"COPY bench_seg_trip_arrays ({columns}) FROM STDIN") as copy:
                copy.write(trips)
    conn.commit()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--size", type=int, default=5000)
    parser.add_argument("--month", default="2026-09", help="the month of trips the ingest bench pushes")
    args = parser.parse_args()
    import psycopg

    with psycopg.connect(common.database_url()) as conn:
        try:
            rows = prepare(conn, args.month)
            first = 10**12  # ids far from the copied rows'
            spent: dict[str, list[float]] = {"rows": [], "arrays": []}
            for _ in range(args.batches):
                for shape in spent:
                    spent[shape].append(write(conn, shape, first, args.size, args.month))
                    first += args.size
        finally:
            conn.rollback()
            conn.execute(f"DROP TABLE IF EXISTS {', '.join(SCRATCH)}")
            conn.commit()
    ms = {shape: round(common.median(values) * 1000, 1) for shape, values in spent.items()}
    common.report(
        "segments_array",
        trips_before=rows,
        batch=args.size,
        batches=args.batches,
        ms_a_batch_segment_rows=ms["rows"],
        ms_a_batch_segment_arrays=ms["arrays"],
        saved=round(1 - ms["arrays"] / ms["rows"], 3) if ms["rows"] else None,
    )


if __name__ == "__main__":
    main()
