"""Every figure of docs/performance.md in one go: ``make bench`` (full sizes, writes
bench/out/<figure>.json) or ``make bench-smoke`` (tiny sizes, a database of its own that is
dropped afterwards, output under bench/out/smoke-*.json; it checks that every bench runs, it
measures nothing worth reading).

    .venv/bin/python bench/run.py [--smoke] [--only ingest,issuing,...]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common, generate  # noqa: E402

FULL = {
    "generate": ["generate.py", "--trips", "1000000", "--invoices", "1000000", "--user-trips", "5000"],
    "ingest": ["ingest.py", "--batches", "10", "--size", "5000"],
    "segments_array": ["segments_array.py", "--batches", "8"],
    "ingest_profile": ["ingest_profile.py"],
    "issuing": ["issuing.py"],
    "issuing_profile": ["issuing_profile.py"],
    "render_pdf": ["render_pdf.py", "--n", "200", "--variants", "ours,noto-default"],
    "render_memory": ["render_pdf.py", "--n", "5000", "--variants", "ours"],
    "pages": ["pages.py", "--n", "60", "--empty-too"],
    "verify": ["verify.py", "--seconds", "15"],
    "verify_inprocess": ["verify_inprocess.py"],
    "cti": ["cti.py", "--rate", "200", "--seconds", "30"],
    "growth": ["growth.py", "--sizes", "10000,100000,1000000"],
    "partitions": ["partitions.py", "--rounds", "3"],
    "fleet": ["fleet.py", "--cards", "500", "--trips", "30000", "--zip-cards", "50"],
}
SMOKE = {
    "generate": ["generate.py", "--trips", "2000", "--invoices", "2000", "--user-trips", "100"],
    "ingest": ["ingest.py", "--batches", "2", "--size", "200", "--cards", "50", "--workers", "1"],
    "segments_array": ["segments_array.py", "--batches", "1", "--size", "100"],
    "ingest_profile": ["ingest_profile.py", "--batches", "1", "--size", "100", "--cards", "50"],
    "issuing": ["issuing.py", "--apps", "2", "--trips", "4", "--monthly-apps", "1", "--monthly-trips", "8"],
    "issuing_profile": ["issuing_profile.py", "--apps", "2", "--trips", "4"],
    "render_pdf": ["render_pdf.py", "--n", "3", "--variants", "ours,noto-default"],
    "pages": ["pages.py", "--n", "2", "--trips", "2000", "--invoices", "2000", "--user-trips", "100"],
    "verify": ["verify.py", "--seconds", "1", "--invoices", "2000", "--workers", "1", "--connections", "2"],
    "verify_inprocess": ["verify_inprocess.py", "--slices", "1", "--slice", "20", "--reads", "30"],
    "cti": ["cti.py", "--rate", "20", "--seconds", "3", "--agents", "3", "--senders", "2"],
    "growth": [
        "growth.py",
        "--sizes",
        "500,2000",
        "--repeat",
        "1",
        "--batch",
        "100",
        "--app-trips",
        "3",
        "--user-trips",
        "100",
    ],
    "fleet": ["fleet.py", "--cards", "3", "--trips", "30", "--zip-cards", "1", "--n", "1", "--size", "2000"],
}
SMOKE_DB = "piaogen_bench_smoke"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    plan = SMOKE if args.smoke else FULL
    if args.only:
        plan = {k: v for k, v in plan.items() if k in args.only.split(",")}
    env = dict(os.environ)
    base = common.database_url().rsplit("/", 1)[0]
    if args.smoke:
        env["BENCH_DATABASE_URL"] = f"{base}/{SMOKE_DB}"
        env["BENCH_OUT_PREFIX"] = "smoke-"
    failed = []
    try:
        for name, argv in plan.items():
            if name == "verify" and not shutil.which("wrk"):
                print("verify: wrk is not installed (apt-get install wrk; make bench installs it)", flush=True)
                failed.append(name)
                continue
            started = time.perf_counter()
            print(f"== {name}: {' '.join(argv)}", flush=True)
            out = subprocess.run([common.PY, str(common.ROOT / "bench" / argv[0]), *argv[1:]], env=env, cwd=common.ROOT)
            print(f"== {name}: exit {out.returncode} in {time.perf_counter() - started:.0f} s", flush=True)
            if out.returncode:
                failed.append(name)
    finally:
        if args.smoke:
            for db in (SMOKE_DB, "piaogen_bench_500"):
                generate.drop_database(f"{base}/{db}")
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
