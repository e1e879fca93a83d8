"""A public check's cost without a server around it: the CPU of this process for a check through
Django's WSGI handler called directly, beside the trivial view's (bench/urls.py), and the ways of
reading an invoice for a check on one connection, with the PostgreSQL backend's CPU read from /proc.

    .venv/bin/python bench/verify_inprocess.py [--slices 5] [--slice 2000] [--reads 3000]

Needs a generated bench database (bench/generate.py) on this machine (the backend's /proc).
Reads compared (client CPU, backend CPU, wall, a check):

- ``function``: the check's read as built, one call of the database's read function
  (``invoices.verification.install_read_function``: a branch per month);
- ``two_statements``: the month from the key, then the month's statement, each prepared (the
  path taken where the function is missing);
- ``dynamic``: a function that writes the month's statement and has it planned on every call
  (``EXECUTE format(...)``), the shape measured and not kept.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402


def environ(path: str, n: int) -> dict:
    route, _sep, query = path.partition("?")
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": route,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "HTTP_HOST": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        # a client address a check: a check is counted for its client as in production
        "REMOTE_ADDR": f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}",
    }


def served_in_process(paths: list[str], slices: int, size: int) -> dict:
    from django.core.handlers.wsgi import WSGIHandler

    from bench.urls import TRIVIAL_PATH

    handler = WSGIHandler()
    statuses: dict[str, int] = {}

    def start_response(status, headers):
        statuses[status] = statuses.get(status, 0) + 1

    def one(path: str, n: int) -> None:
        response = handler(environ(path, n), start_response)
        b"".join(response)
        response.close()

    warm = min(300, len(paths) // 10)
    for n, path in enumerate(paths[:warm]):
        one(path, n)
    checks = []
    for k in range(slices):
        chunk = paths[warm + k * size : warm + (k + 1) * size]
        started = time.process_time()
        for n, path in enumerate(chunk):
            one(path, 100_000 + k * size + n)
        checks.append((time.process_time() - started) / max(1, len(chunk)) * 1e6)
    started = time.process_time()
    for n in range(size):
        one(TRIVIAL_PATH, n)
    trivial = (time.process_time() - started) / size * 1e6
    return {
        "check_cpu_us_slices": [round(x) for x in checks],
        "check_cpu_us": round(common.median(checks)),
        "trivial_cpu_us": round(trivial),
        "answers": statuses,
    }


def backend_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


SHAPES = ("function", "two_statements", "dynamic")
ROUNDS, WARM = 3, 50


def reads_needed(count: int) -> int:
    """Invoices the reads use: each shape reads ``count`` over ``ROUNDS`` rounds, after a warm-up."""
    return len(SHAPES) * ROUNDS * (WARM + count // ROUNDS)


def reads_on_one_connection(queries: list, count: int) -> dict:
    """Each way of reading a check's invoice, ``count`` different invoices each, alternately."""
    from django.db import connection

    from invoices import verification

    connection.ensure_connection()
    raw = connection.connection
    sql, roles = verification._lookup_sql("postgresql")
    template = verification._with_values(sql, roles, ("$1", "$2", "%1$L")).replace("%", "%%").replace("%%1$L", "%1$L")
    with raw.cursor() as cursor:
        key_sql, key_roles = verification._key_sql("postgresql")
        key = verification._with_values(key_sql, key_roles, ("p_code", "p_number"))
        cursor.execute(
            f"SELECT * FROM {verification.read_function_name()}(NULL, NULL) LIMIT 0"  # the columns' types
        )
        oids = [column.type_code for column in cursor.description]
        cursor.execute("SELECT format_type(t, NULL) FROM unnest(%s::oid[]) WITH ORDINALITY u(t, n) ORDER BY n", [oids])
        columns = ", ".join(f"c{i} {row[0]}" for i, row in enumerate(cursor.fetchall(), start=1))
        cursor.execute(
            f"CREATE FUNCTION pg_temp.bench_verify_dynamic(p_code text, p_number text) RETURNS TABLE ({columns})"
            " LANGUAGE plpgsql STABLE AS $read$ DECLARE m text; BEGIN"
            f" m := ({key}); IF m IS NULL THEN RETURN; END IF;"
            f" RETURN QUERY EXECUTE format($q${template}$q$, m) USING p_code, p_number; END $read$"
        )
    dynamic_name, dynamic_prepare = (
        "bench_verify_dynamic_call",
        ("PREPARE bench_verify_dynamic_call AS SELECT * FROM pg_temp.bench_verify_dynamic($1, $2)"),
    )
    with raw.cursor() as cursor:
        cursor.execute(dynamic_prepare)

    def read(shape: str, query) -> None:
        if shape == "dynamic":
            with connection.cursor() as cursor:
                cursor.execute(f"EXECUTE {dynamic_name}(%s, %s)", [query.code, query.number])
                cursor.fetchall()
            return
        verification._Prepared.function_on[raw] = shape == "function"
        verification._read(query.code, query.number, True)

    spent = {shape: [0.0, 0.0, 0.0] for shape in SHAPES}
    pid = raw.info.backend_pid
    queue = iter(queries)
    for _round in range(ROUNDS):
        for shape in SHAPES:
            for _ in range(WARM):  # prepared and warm
                read(shape, next(queue))
            client, backend, wall = time.process_time(), backend_cpu(pid), time.perf_counter()
            for _ in range(count // ROUNDS):
                read(shape, next(queue))
            spent[shape][0] += time.process_time() - client
            spent[shape][1] += backend_cpu(pid) - backend
            spent[shape][2] += time.perf_counter() - wall
    verification._Prepared.function_on.pop(raw, None)
    n = count // ROUNDS * ROUNDS
    return {
        shape: {
            "client_cpu_us": round(c / n * 1e6),
            "backend_cpu_us": round(b / n * 1e6),
            "wall_us": round(w / n * 1e6),
        }
        for shape, (c, b, w) in spent.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slices", type=int, default=5, help="slices of checks through the handler")
    parser.add_argument("--slice", type=int, default=2000, help="checks a slice")
    parser.add_argument("--reads", type=int, default=3000, help="reads a way of reading, on one connection")
    args = parser.parse_args()
    common.setup_django()
    from urllib.parse import parse_qsl, urlsplit

    from bench.verify import invoice_paths
    from invoices import verification

    wanted = 300 + args.slices * args.slice
    total = wanted + reads_needed(args.reads)
    paths = invoice_paths(total)
    if not paths:
        raise SystemExit(f"verify_inprocess: nothing to verify in {common.database_url()}: run bench/generate.py")
    random.shuffle(paths)
    # a smaller database than a run needs is checked again: the day's limits then answer 429
    paths = (paths * (1 + total // len(paths)))[:total]
    load = os.getloadavg()
    served = served_in_process(paths[:wanted], args.slices, args.slice)
    queries = [verification.parse(dict(parse_qsl(urlsplit(p).query))) for p in paths[wanted:]]
    reads = reads_on_one_connection([q for q in queries if isinstance(q, verification.Query)], args.reads)
    common.report(
        "verify_inprocess",
        load_average_before=[round(x, 2) for x in load],
        load_average_after=[round(x, 2) for x in os.getloadavg()],
        **served,
        reads=reads,
    )


if __name__ == "__main__":
    main()
