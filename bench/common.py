"""Shared pieces of the benchmarks: a bench database, the production-style server, timing.

Benchmarks run against PostgreSQL (``BENCH_DATABASE_URL``, default a ``piaogen_bench`` database
on 127.0.0.1) and Redis, with the site served the production way (gunicorn, several workers,
DEBUG off). They print one JSON line per figure and never assert timings.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/piaogen_bench"


def database_url() -> str:
    """The bench database: ``BENCH_DATABASE_URL``, never the suite's or the site's DATABASE_URL."""
    return os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)


def bench_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["DATABASE_URL"] = database_url()
    env["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")
    env["CELERY_BROKER_URL"] = env["REDIS_URL"]
    env["CELERY_TASK_ALWAYS_EAGER"] = "0"
    env["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    # TLS ends at the proxy in front of gunicorn in production; the bench talks plain HTTP to
    # gunicorn directly, as that proxy does.
    env["SECURE_SSL_REDIRECT"] = "0"
    env.setdefault("SECRET_KEY", "bench-secret-key-not-for-production")
    env.setdefault("DEBUG", "0")
    env.setdefault("PIAOGEN_VAR_DIR", str(ROOT / "bench" / "out" / "var"))
    env.setdefault("SMS_BACKEND", "file")
    env.setdefault("THROTTLE_PARTNER_BURST", "100000/min")
    env.setdefault("THROTTLE_PARTNER_SUSTAINED", "100000000/day")
    env.setdefault("THROTTLE_APP", "1000000/min")
    env.setdefault("THROTTLE_ANON_AUTH", "1000000/min")
    env.setdefault("THROTTLE_VERIFY", "1000000/min")
    env.setdefault("DEMO_MODE", "1")
    env.update(extra)
    return env


def setup_django(**extra: str) -> None:
    """Configures Django in this process for the bench database."""
    os.environ.update(bench_env(**extra))
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def ensure_database(url: str | None = None) -> None:
    """Creates the bench database when it is missing (trust auth on 127.0.0.1)."""
    import psycopg

    url = url or database_url()
    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def manage(*args: str, **extra: str) -> str:
    out = subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=bench_env(**extra), capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
    return out.stdout


@contextmanager
def server(port: int = 8765, workers: int = 2, threads: int = 1):
    """gunicorn the production way; yields the base URL and stops it afterwards."""
    proc = subprocess.Popen(
        [
            str(Path(PY).parent / "gunicorn"),
            "piaogen.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--log-level",
            "warning",
            "--timeout",
            "120",
        ],
        cwd=ROOT,
        env=bench_env(CONN_MAX_AGE="600", ALLOWED_HOSTS="127.0.0.1,localhost"),
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.3)
        else:
            raise RuntimeError("server did not start")
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def post_json(url: str, body, token: str | None = None, timeout: float = 120):
    """POSTs ``body`` (an object, or bytes already encoded so that encoding stays out of a
    timing) and returns the status and the decoded answer."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, json.loads(r.read())


OUT = ROOT / "bench" / "out"


WRITTEN_TABLES = ("invoices_transit", "invoices_transitsegment", "invoices_invoice", "invoices_invoiceline")


def analyze(url: str | None = None) -> None:
    """What autovacuum does within a minute of a tenth of a table's rows changing: fresh
    statistics of the tables the benches write (trips, segments, invoices, lines; each month's
    partition). The bench machines run PostgreSQL with autovacuum off, and the bench databases
    grow from run to run: without this, plans are made for partitions as they were when they
    were empty (a scan of every invoice of a month, for each card, in the check of the shares
    invoices cover)."""
    import psycopg

    with psycopg.connect(url or database_url(), autocommit=True) as conn:
        for table in WRITTEN_TABLES:
            conn.execute(f"ANALYZE {table}")


def report(name: str, **figures) -> dict:
    """Prints one figure as a JSON line and appends it to bench/out/<name>.json."""
    line = {"figure": name, "at": time.strftime("%Y-%m-%dT%H:%M:%S"), "cpus": os.cpu_count(), **figures}
    print(json.dumps(line, ensure_ascii=False), flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    target = OUT / f"{os.environ.get('BENCH_OUT_PREFIX', '')}{name}.json"
    rows = json.loads(target.read_text()) if target.exists() else []
    rows.append(line)
    target.write_text(json.dumps(rows, ensure_ascii=False, indent=1))
    return line


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(p / 100 * (len(values) - 1))))
    return values[k]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0
