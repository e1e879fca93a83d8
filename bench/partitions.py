"""Plain tables against monthly partitions, side by side in one run: the ingest and issuing
benches (bench/ingest.py, bench/issuing.py) run alternately on two databases migrated the same
way but for ``PARTITION_ON_MIGRATE`` (``piaogen_bench_plain`` and ``piaogen_bench_partitioned``),
``--rounds`` times each, so that the machine's load falls on both alike.

    .venv/bin/python bench/partitions.py [--rounds 3] [--batches 6] [--apps 20]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402

SHAPES = {"plain": "0", "partitioned": "1"}


def run(script: str, shape: str, *args: str) -> dict:
    base = common.database_url().rsplit("/", 1)[0]
    env = {
        **os.environ,
        "BENCH_DATABASE_URL": f"{base}/piaogen_bench_{shape}",
        "PARTITION_ON_MIGRATE": SHAPES[shape],
        "BENCH_OUT_PREFIX": f"partitions-{shape}-",
    }
    done = subprocess.run(
        [sys.executable, str(common.ROOT / "bench" / script), *args],
        cwd=common.ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise SystemExit(f"{script} on {shape} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return json.loads([line for line in done.stdout.splitlines() if line.startswith('{"figure"')][-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batches", type=int, default=6, help="ingest batches of 5000 trips per run")
    parser.add_argument("--apps", type=int, default=20, help="per-trip applications of 50 trips per issuing run")
    args = parser.parse_args()
    rows: dict[str, list] = {shape: [] for shape in SHAPES}
    for round_no in range(args.rounds):
        for shape in SHAPES if round_no % 2 == 0 else reversed(list(SHAPES)):
            ingest = run("ingest.py", shape, "--batches", str(args.batches), "--concurrency", "2")
            issuing = run("issuing.py", shape, "--apps", str(args.apps), "--monthly-apps", "4")
            row = {
                "load": round(os.getloadavg()[0], 2),
                "ingest_trips_per_s": ingest["api_trips_per_s"],
                "ingest_concurrent_trips_per_s": ingest["api_trips_per_s_concurrent"],
                "ingest_over_copy": ingest["ratio"],
                "repush_trips_per_s": ingest["repush_trips_per_s"],
                "issuing_invoices_per_s": issuing["per_trip_one_process"]["invoices_per_s"],
                "issuing_over_floor": issuing["per_trip_over_floor"],
                "monthly_lines_per_s": issuing["monthly_one_process"].get("lines_per_s"),
            }
            rows[shape].append(row)
            print(shape, row, flush=True)
    common.report("partitions", rounds=rows)


if __name__ == "__main__":
    main()
