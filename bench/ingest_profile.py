"""A partner's batch of trips in one process, phase by phase: batches of new trips POSTed through
Django's WSGI handler called directly (no server, no network), and the CPU and wall time of the
ingest's phases (checking each trip, its fingerprint, the lookups, the COPYs), a batch.

    .venv/bin/python bench/ingest_profile.py [--batches 6] [--size 5000] [--cards 2000]

Uses the ingest bench's setup (bench/ingest.py: its operators, cards and a clearing partner) on
the bench database. The phases are timed by wrapping the ingest's functions; the wrapping costs
about 2 µs a call, so the per-trip phases (checking, fingerprint) read a little high.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common, data  # noqa: E402
from bench import ingest as ingest_bench  # noqa: E402

PHASES = {
    "invoices.ingest": (
        "transit_upsert_batch",
        "_fast_transit",
        "_transit_fingerprint",
        "_by_keys",
        "_existing_trips",
        "_copy_new_transits",
    ),
    "piaogen.bulk": ("reserve_ids", "copy_lines"),
}


def timed(spent: dict, name: str, function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        cpu, wall = time.process_time(), time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            phase = spent.setdefault(name, [0.0, 0.0, 0])
            phase[0] += time.process_time() - cpu
            phase[1] += time.perf_counter() - wall
            phase[2] += 1

    return wrapper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--size", type=int, default=5000)
    parser.add_argument("--cards", type=int, default=2000)
    args = parser.parse_args()
    token = ingest_bench.prepare(args.cards)
    common.setup_django()
    import importlib

    from django.core.handlers.wsgi import WSGIHandler

    spent: dict[str, list] = {}
    for module_name, names in PHASES.items():
        module = importlib.import_module(module_name)
        for name in names:
            setattr(module, name, timed(spent, name, getattr(module, name)))
    handler = WSGIHandler()
    cards = [data.card_no(n) for n in range(args.cards)]
    run = time.time_ns()
    bodies = [ingest_bench.encode(data.trips(f"P{run}-{b}", cards, args.size, seed=b)) for b in range(args.batches + 1)]

    def post(raw: bytes) -> dict:
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/api/v1/partner/transits",
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "HTTP_HOST": "127.0.0.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(raw),
            "CONTENT_LENGTH": str(len(raw)),
            "CONTENT_TYPE": "application/json",
            "HTTP_AUTHORIZATION": f"Bearer {token}",
            "REMOTE_ADDR": "127.0.0.1",
        }
        status: list[str] = []
        response = handler(environ, lambda s, headers: status.append(s))
        body = b"".join(response)
        response.close()
        if not status[0].startswith("200"):
            raise SystemExit(f"ingest_profile: {status[0]}: {body[:300]!r}")
        return json.loads(body)

    post(bodies[0])  # warm: the first batch pays the process's first queries and imports
    spent.clear()
    load = os.getloadavg()
    cpu, wall = time.process_time(), time.perf_counter()
    for raw in bodies[1:]:
        answer = post(raw)
        if answer["created"] != args.size:
            raise SystemExit(f"ingest_profile: {answer['created']} of {args.size} created: {answer['rejected'][:3]}")
    n = args.batches
    common.report(
        "ingest_profile",
        load_average_before=[round(x, 2) for x in load],
        batch=args.size,
        batches=n,
        ms_a_batch={
            "cpu": round((time.process_time() - cpu) / n * 1000, 1),
            "wall": round((time.perf_counter() - wall) / n * 1000, 1),
        },
        phases_ms_a_batch={
            name: {"cpu": round(c / n * 1000, 1), "wall": round(w / n * 1000, 1), "calls": k // n}
            for name, (c, w, k) in spent.items()
        },
    )


if __name__ == "__main__":
    main()
