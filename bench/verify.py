"""Verification: requests a second on GET /api/v1/verify under load from wrk (a second process),
against a trivial JSON view (/bench/trivial, bench/urls.py) of the same gunicorn server in the
same run.

    .venv/bin/python bench/verify.py [--seconds 15] [--connections 16] [--workers 4]

Every request checks a different generated invoice with its right date and check code (a Lua
script walks a list of them), so each answer is ``genuine``, the per-invoice daily counter is
incremented as in production, and no invoice reaches the limit of 5 checks a day. Needs wrk
(Debian package ``wrk``). Throttles are raised for the bench (bench/common.py).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402

LUA = r"""
local paths = {}
for line in io.lines("%(file)s") do paths[#paths + 1] = line end
local i = 0
local thread_count = 0
setup = function(thread)
  thread:set("offset", thread_count)
  thread_count = thread_count + 1
end
init = function(args)
  i = offset * math.floor(#paths / %(threads)d)
end
request = function()
  i = i + 1
  if i > #paths then i = 1 end
  return wrk.format("GET", paths[i])
end
"""


def wrk(url: str, seconds: int, connections: int, threads: int, script: str | None = None) -> dict:
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--latency"]
    if script:
        cmd += ["-s", script]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)

    def latency(p: str) -> str:
        m = re.search(rf"\s{p}%\s+([\d.]+\w+)", out)
        return m.group(1) if m else ""

    return {
        "requests_per_s": round(rate),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(0) if errors else "",
        "p50": latency("50"),
        "p99": latency("99"),
    }


def invoice_paths(limit: int) -> list[str]:
    common.setup_django()
    import random

    from django.db.models import Max

    from invoices.models import Invoice

    # a different slice each run, so that runs on one day do not use up the 5 checks a day
    top = Invoice.objects.aggregate(top=Max("id"))["top"] or 0
    start = random.randrange(max(1, top - limit))
    rows = (
        Invoice.objects.filter(red=False, id__gte=start)
        .order_by("id")
        .values_list("code", "number", "issued_on", "check_code")[:limit]
    )
    return [f"/api/v1/verify?code={c}&number={n}&date={d:%Y%m%d}&check={k[-6:]}" for c, n, d, k in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--invoices", type=int, default=300_000, help="distinct invoices to check")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install wrk")
    common.manage("migrate", "--noinput")
    paths = invoice_paths(args.invoices)
    if not paths:
        raise SystemExit("no invoices in the bench database: run bench/generate.py first")
    # a run of N seconds at up to ~5000/s must not check any invoice more than 5 times today
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "paths.txt"
        listing.write_text("\n".join(paths) + "\n")
        script = Path(tmp) / "verify.lua"
        script.write_text(LUA % {"file": listing, "threads": args.threads})
        with common.server(workers=args.workers) as base:
            with __import__("urllib.request").request.urlopen(base + paths[0]) as r:
                sample = json.loads(r.read())
            assert sample["result"] in ("genuine", "too_many_checks"), sample
            wrk(f"{base}/bench/trivial", 2, args.connections, args.threads)  # warm-up
            trivial = wrk(f"{base}/bench/trivial", args.seconds, args.connections, args.threads)
            wrk(base, 2, args.connections, args.threads, str(script))  # warm-up
            verify = wrk(base, args.seconds, args.connections, args.threads, str(script))
    common.report(
        "verify",
        verify=verify,
        trivial=trivial,
        ratio=round(verify["requests_per_s"] / trivial["requests_per_s"], 3),
        distinct_invoices=len(paths),
        gunicorn_workers=args.workers,
        wrk_connections=args.connections,
        seconds=args.seconds,
        goal_requests_per_s=1500,
        goal_ratio=0.6,
    )


if __name__ == "__main__":
    main()
