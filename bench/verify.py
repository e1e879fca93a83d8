"""Verification: requests a second on GET /api/v1/verify under load from wrk (a second process),
against a trivial JSON view (/api/v1/bench/trivial, bench/urls.py) of the same gunicorn server
in the same run.

    .venv/bin/python bench/verify.py [--seconds 15] [--rounds 3] [--connections 16]
                                     [--workers 2] [--worker-threads 4]

Every request checks a different generated invoice with its right date and check code (a Lua
script walks a list of them, written for each run), so each answer is ``genuine``, both daily
counters are incremented as in production, and no invoice reaches the limit of 5 checks a day
(given ``--invoices`` enough for the run). Needs wrk (Debian package ``wrk``). Throttles are
raised for the bench (bench/common.py); gunicorn runs gthread workers (``--worker-threads``).

The two views take turns: ``--rounds`` rounds of ``seconds / rounds`` each, so that a change in
what else the machine runs weighs on both alike. Besides requests a second, the figure gives the
CPU time per request of the server's processes (gunicorn, the PostgreSQL backends of the bench
database, redis-server, read from /proc) and of wrk: on a shared machine that moves less than
the rate.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402

TRIVIAL = "/api/v1/bench/trivial"
MAX_RATE = 5000  # requests a second a verify run is given distinct invoices for

# Each wrk thread walks its own part of the list; the requests are written once, at start, so
# that wrk spends per request no more than it does on a plain URL (formatting each request in
# Lua took wrk about a fifth of the machine).
LUA = r"""
local paths = {}
for line in io.lines("%(file)s") do paths[#paths + 1] = line end
local thread_count = 0
setup = function(thread)
  thread:set("offset", thread_count)
  thread_count = thread_count + 1
end
local requests = {}
local i = 0
init = function(args)
  -- a share of its own for each thread; all of the list for each when it is shorter than that
  local share = math.floor(#paths / %(threads)d)
  local first = offset * share
  if share == 0 then share, first = #paths, 0 end
  for k = 1, share do requests[k] = wrk.format("GET", paths[first + k]) end
  paths = nil
end
request = function()
  i = i + 1
  if i > #requests then i = 1 end
  return requests[i]
end
"""


def wrk(url: str, seconds: int, connections: int, threads: int, script: str | None = None) -> dict:
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--latency"]
    if script:
        cmd += ["-s", script]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)

    def latency(p: str) -> str:
        m = re.search(rf"\s{p}%\s+([\d.]+\w+)", out)
        return m.group(1) if m else ""

    return {
        "requests_per_s": round(rate),
        "requests": total,
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(0) if errors else "",
        "p50": latency("50"),
        "p99": latency("99"),
        "wrk_cpu_s": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
    }


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(server_pgid: int, database: str) -> dict[str, float]:
    """CPU time so far (user + system) of the server's processes, by kind."""
    out = {"gunicorn": 0.0, "postgres": 0.0, "redis": 0.0}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        spent = (int(fields[11]) + int(fields[12])) / TICKS
        if int(fields[2]) == server_pgid:
            out["gunicorn"] += spent
        elif cmd.startswith("postgres:") and f" {database} " in cmd:
            out["postgres"] += spent
        elif cmd.startswith("redis-server"):
            out["redis"] += spent
    return out


def server_group(base: str) -> int:
    """The process group of the gunicorn serving ``base`` (common.server starts it in its own)."""
    bind = base.removeprefix("http://")
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().split(b"\0")
        except OSError:
            continue
        if any(part.endswith(b"gunicorn") for part in cmd) and bind.encode() in cmd:
            return os.getpgid(int(pid))
    raise RuntimeError(f"no gunicorn found for {base}")


def database_oid() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT oid FROM pg_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def invoice_paths(limit: int) -> list[str]:
    common.setup_django()
    from django.db.models import Max

    from invoices.models import Invoice

    # a different slice each run, so that runs on one day do not use up the 5 checks a day
    top = Invoice.objects.aggregate(top=Max("id"))["top"] or 0
    start = random.randrange(max(1, top - limit))
    rows = (
        Invoice.objects.filter(red=False, id__gte=start)
        .order_by("id")
        .values_list("document_kind", "code", "number", "issued_on", "check_code", "total")[:limit]
    )
    return [verify_path(*row) for row in rows]


def verify_path(kind: str, code: str, number: str, issued_on, check: str, total: int) -> str:
    """The query a person types for this document, by its kind (docs/regimes.md): the generated
    history is VAT e-invoices, but the bench's heavy user was issued under today's rules (数电
    invoices and fiscal e-bills), and a run's slice may end among those."""
    date = f"{issued_on:%Y%m%d}"
    if kind == "digital_e_invoice":
        sign = "-" if total < 0 else ""
        return f"/api/v1/verify?number={number}&date={date}&total={sign}{abs(total) // 100}.{abs(total) % 100:02d}"
    return f"/api/v1/verify?code={code}&number={number}&date={date}&check={check[-6:]}"


def free_port() -> int:
    """A port nobody listens on: the bench's server must not meet another engineer's (a server
    already on the port would answer instead, from its own database)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


SAMPLES = 24  # requests that check, before the run, that the server verifies the listed invoices


def sample_answers(base: str, paths: list[str]) -> dict[str, list[str]]:
    """The server's answers to a sample of ``paths`` spread over the list, both ends among them
    (the generated history, and the heavy user's documents of today's kinds): result → paths."""
    step = max(1, (len(paths) - 1) // max(1, SAMPLES - 1))
    picks = sorted(set(range(0, len(paths), step)) | {len(paths) - 1})[:SAMPLES]
    answers: dict[str, list[str]] = {}
    for i in picks:
        try:
            with urllib.request.urlopen(base + paths[i], timeout=30) as r:
                result = json.loads(r.read())["result"]
        except urllib.error.HTTPError as exc:  # 429: checked too often today; 400: a bug of this bench
            result = json.loads(exc.read()).get("result", f"HTTP {exc.code}")
        answers.setdefault(result, []).append(paths[i])
    return answers


def checked_paths(base: str, paths: list[str], limit: int) -> list[str]:
    """``paths`` once a sample of them is verified by the server. An invoice it does not find is
    looked up in this process too: if the bench database holds it, the server reads another
    database and the bench stops, saying so; if not (the database was generated again since
    the list was made), the list is made again from what the database holds now. Stops with a
    clear message when there is nothing to verify."""
    from urllib.parse import parse_qsl, urlsplit

    from invoices import verification

    for _attempt in range(2):
        if not paths:
            break
        answers = sample_answers(base, paths)
        unexpected = sorted(set(answers) - {"genuine", "too_many_checks", "not_found"})
        if unexpected:
            raise SystemExit(f"verify: unexpected answers {unexpected}: {answers[unexpected[0]][:2]}")
        missing = answers.get("not_found", [])
        if not missing:
            return paths
        for path in missing:
            query = verification.parse(dict(parse_qsl(urlsplit(path).query)))
            if verification.find(query.code, query.number) is not None:
                raise SystemExit(
                    f"verify: the server at {base} answers not_found for {path}, which is in "
                    f"{common.database_url()}: it reads another database"
                )
        print(f"verify: {len(missing)} sampled invoices are no longer in the database; listing again", flush=True)
        paths = invoice_paths(limit)
    raise SystemExit(f"verify: nothing to verify in {common.database_url()}: run bench/generate.py first")


def summarise(rounds: list[dict], cpu: dict[str, float]) -> dict:
    requests = sum(r["requests"] for r in rounds)
    seconds = sum(r["seconds"] for r in rounds)
    return {
        "requests_per_s": round(requests / seconds),
        "rounds_requests_per_s": [r["requests_per_s"] for r in rounds],
        "non_2xx": sum(r["non_2xx"] for r in rounds),
        "socket_errors": "; ".join(r["socket_errors"] for r in rounds if r["socket_errors"]),
        "p50": [r["p50"] for r in rounds],
        "p99": [r["p99"] for r in rounds],
        "cpu_us_per_request": {k: round(v / max(1, requests) * 1e6) for k, v in cpu.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=15, help="per view, over all rounds")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--worker-threads", type=int, default=4, help="gunicorn threads a worker (gthread)")
    parser.add_argument("--invoices", type=int, default=300_000, help="distinct invoices to check")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install wrk")
    common.manage("migrate", "--noinput")
    paths = invoice_paths(args.invoices)
    if not paths:
        raise SystemExit("no invoices in the bench database: run bench/generate.py first")
    database = common.database_url().rsplit("/", 1)[1]
    # The daily counters are keyed by invoice code and number, which every generated database
    # repeats: the server's cache keys carry this database's identity (bench/settings.py), so
    # that a smoke run, or a database generated anew, starts from counters of its own.
    os.environ["BENCH_CACHE_PREFIX"] = f"{database}-{database_oid()}"
    per_round = max(1, args.seconds // max(1, args.rounds))
    load_before = os.getloadavg()
    # Each verify run gets invoices of its own, as many as it could check at MAX_RATE, taken in
    # turn from the list from a random place of it (the list is a random slice of a large
    # database, but all of a database smaller than --invoices): no invoice is checked twice in
    # a run, and runs on one day spread over the list instead of all beginning with its first
    # invoices, which would reach their 5 checks a day after five runs.
    cursor = 0

    def next_paths(seconds: int) -> list[str]:
        need = min(len(paths), MAX_RATE * seconds)
        return (paths[cursor:] + paths[:cursor])[:need]

    def advance(chunk: int, made: int) -> None:
        nonlocal cursor
        # past the whole chunk when the list is long enough, else past what was checked
        cursor = (cursor + (chunk if chunk < len(paths) else made)) % len(paths)

    with tempfile.TemporaryDirectory() as tmp:

        def script_for(seconds: int) -> tuple[str, int]:
            chunk = next_paths(seconds)
            listing = Path(tmp) / "paths.txt"
            listing.write_text("\n".join(chunk) + "\n")
            script = Path(tmp) / "verify.lua"
            script.write_text(LUA % {"file": listing, "threads": args.threads})
            return str(script), len(chunk)

        with common.server(port=free_port(), workers=args.workers, threads=args.worker_threads) as base:
            paths = checked_paths(base, paths, args.invoices)
            cursor = random.randrange(len(paths))
            if len(paths) < MAX_RATE * per_round:
                print(
                    f"verify: only {len(paths)} invoices to check: each is checked several times a run, and "
                    "past 5 checks a day they answer 429 (non_2xx); generate more for a figure",
                    file=sys.stderr,
                    flush=True,
                )
            pgid = server_group(base)
            runs = {"trivial": ([], {}), "verify": ([], {})}
            targets = {"trivial": base + TRIVIAL, "verify": base}
            wrk(targets["trivial"], 2, args.connections, args.threads)  # warm-up: connections, caches
            lua, chunk = script_for(2)
            advance(chunk, wrk(targets["verify"], 2, args.connections, args.threads, lua)["requests"])
            for _ in range(max(1, args.rounds)):
                for name, url in targets.items():
                    lua, chunk = script_for(per_round) if name == "verify" else (None, 0)
                    before = cpu_seconds(pgid, database)
                    result = wrk(url, per_round, args.connections, args.threads, lua)
                    after = cpu_seconds(pgid, database)
                    if lua:
                        advance(chunk, result["requests"])
                    result["seconds"] = per_round
                    rounds, cpu = runs[name]
                    rounds.append(result)
                    for kind in after:
                        cpu[kind] = cpu.get(kind, 0.0) + after[kind] - before.get(kind, 0.0)
                    cpu["wrk"] = cpu.get("wrk", 0.0) + result["wrk_cpu_s"]
    trivial = summarise(*runs["trivial"])
    verify = summarise(*runs["verify"])
    common.report(
        "verify",
        verify=verify,
        trivial=trivial,
        ratio=round(verify["requests_per_s"] / trivial["requests_per_s"], 3),
        load_average_before=[round(x, 2) for x in load_before],
        load_average_after=[round(x, 2) for x in os.getloadavg()],
        invoices_available=len(paths),
        gunicorn_workers=args.workers,
        gunicorn_threads=args.worker_threads,
        wrk_connections=args.connections,
        seconds=per_round * max(1, args.rounds),
        rounds=max(1, args.rounds),
        goal_requests_per_s=1500,
        goal_ratio=0.6,
    )


if __name__ == "__main__":
    main()
