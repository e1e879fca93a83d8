"""The read replica against a real streaming replica (piaogen/replica.py, docs/scaling.md).

The fixture makes two PostgreSQL clusters of the machine's PostgreSQL on free ports: a primary
(``initdb``) and a hot standby copied from it with ``pg_basebackup -R`` and streaming from it, both
logging every statement. The product is migrated and seeded on the primary (the standby follows)
and served as in production by gunicorn (two processes) with ``DATABASE_URL`` on the primary and
``DATABASE_REPLICA_URL`` on the standby. The journeys are the App's: the demo customer logs in and
reads their lists, applies for a trip and follows the application, while the standby is paused,
lagging, stopped and started again. Each cluster's log tells which one served what.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

from tests.e2e.conftest import gunicorn
from tests.helpers.processes import free_port
from tests.helpers.waiting import wait_for

pytestmark = pytest.mark.worker

DEMO_MOBILE, DEMO_PASSWORD = "13800000001", "piaogen2026"  # accounts/seed.py
OTHER_DEMO_MOBILE = "13800000002"
INVOICES_READ = 'FROM "invoices_invoice"'
APPLICATIONS_READ = 'FROM "invoices_application"'


def _pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    assert initdb, "PostgreSQL's server programs (initdb, pg_ctl, pg_basebackup) are needed"
    return Path(initdb).parent


def _as_postgres(*cmd: str) -> None:
    """Runs a server program as the postgres user when we are root (the server refuses root)."""
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run([*prefix, *cmd], check=True, capture_output=True, timeout=120, cwd="/")


class Cluster:
    def __init__(self, root: Path, name: str, port: int):
        self.dir, self.port = root / name, port
        self.log = root / f"{name}.log"
        self.url = f"postgres://postgres@127.0.0.1:{port}/piaogen"

    def start(self) -> None:
        _as_postgres(str(_pg_bin() / "pg_ctl"), "-D", str(self.dir), "-l", str(self.log), "-w", "start")

    def stop(self) -> None:
        _as_postgres(str(_pg_bin() / "pg_ctl"), "-D", str(self.dir), "-m", "immediate", "-w", "stop")

    def sql(self, statement: str, params=None, dbname: str = "piaogen"):
        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=dbname, autocommit=True) as c:
            cur = c.execute(statement, params)
            return cur.fetchall() if cur.description else None

    def mark(self) -> int:
        return self.log.stat().st_size

    def since(self, mark: int) -> str:
        with self.log.open("rb") as f:
            f.seek(mark)
            return f.read().decode(errors="replace")


@pytest.fixture(scope="module")
def clusters():
    root = Path(tempfile.mkdtemp(prefix="piaogen-replica-"))
    root.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    primary, replica = Cluster(root, "primary", free_port()), Cluster(root, "replica", free_port())
    bindir = _pg_bin()
    _as_postgres(str(bindir / "initdb"), "-D", str(primary.dir), "-U", "postgres", "-A", "trust", "--no-instructions")
    logging = "log_statement = 'all'\nlog_line_prefix = '%m [%p] %d '\nfsync = off\n"
    with (primary.dir / "postgresql.conf").open("a") as conf:
        conf.write(f"port = {primary.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{root}'\n")
        conf.write(logging)
    primary.start()
    try:
        _as_postgres(
            str(bindir / "pg_basebackup"),
            *("-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"),
            *("-D", str(replica.dir), "-R", "-X", "stream", "-c", "fast"),
        )
        with (replica.dir / "postgresql.conf").open("a") as conf:
            conf.write(f"port = {replica.port}\n")
        replica.start()
        assert replica.sql("SELECT pg_is_in_recovery()", dbname="postgres") == [(True,)]
        primary.sql("CREATE DATABASE piaogen", dbname="postgres")
        yield primary, replica, root
    finally:
        for cluster in (replica, primary):
            try:
                cluster.stop()
            except subprocess.CalledProcessError:
                pass
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def site(clusters):
    primary, replica, root = clusters
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "PIAOGEN_VAR_DIR")
    }
    var = root / "var"  # the file cache and broker of `make run`: shared by every process here
    env.update(
        DJANGO_SETTINGS_MODULE="piaogen.settings",
        DEBUG="0",
        SECURE_SSL_REDIRECT="0",
        SECRET_KEY="replica-journeys-secret-key",
        PIAOGEN_VAR_DIR=str(var),
        DATABASE_URL=primary.url,
        DATABASE_REPLICA_URL=replica.url,
        REPLICA_RETRY_SECONDS="1",
        PYTHONUNBUFFERED="1",
    )
    for command in (["migrate", "--noinput"], ["seed_demo"]):
        done = subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-3000:]
    log = root / "gunicorn.log"
    with gunicorn(env, log, workers=2, threads=2) as url:
        yield type("Site", (), {"url": url, "api": f"{url}/api/v1/app", "log": log})


def _call(method: str, url: str, body=None, token: str | None = None) -> tuple[int, object]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            raw = r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        raw, status = e.read(), e.code
    except OSError as e:
        return 0, repr(e)
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def _login(site, mobile: str) -> str:
    status, answer = _call("POST", f"{site.api}/login", {"mobile": mobile, "password": DEMO_PASSWORD})
    assert status == 200, answer
    return answer["token"]


def _results(answer):
    return answer["results"] if isinstance(answer, dict) and "results" in answer else answer


def test_lists_are_read_on_the_replica_and_writes_never_go_there(site, clusters):
    primary, replica, _root = clusters
    token = _login(site, DEMO_MOBILE)
    p, r = primary.mark(), replica.mark()
    status, answer = _call("GET", f"{site.api}/invoices", token=token)
    assert status == 200 and len(_results(answer)) > 0
    assert INVOICES_READ in replica.since(r)  # the list came from the standby
    assert INVOICES_READ not in primary.since(p)  # and not from the primary
    # The help centre, anonymous: its questions from the standby too.
    r = replica.mark()
    status, page = _call("GET", f"{site.url}/help/")
    assert status == 200 and 'FROM "support_faq' in replica.since(r)
    # A login, the token and the session are the primary's business alone.
    assert 'FROM "accounts_' not in replica.since(0)
    assert not any(word in replica.since(0) for word in ("INSERT INTO", "UPDATE ", "read-only transaction"))


def test_a_person_reads_their_own_write_while_the_replica_lags(site, clusters):
    primary, replica, _root = clusters
    token = _login(site, DEMO_MOBILE)
    status, cards = _call("GET", f"{site.api}/cards", token=token)
    assert status == 200
    status, titles = _call("GET", f"{site.api}/titles", token=token)
    title_id = _results(titles)[0]["id"]
    # Trips still to invoice, the oldest first (a trip of the last few days is not yet available).
    candidates = [
        (card["card_no"], month, trip["transit_id"])
        for card in _results(cards)
        for month, trip in _transits(site, token, card["card_no"])
        if trip["invoice_state"] == "open"
    ]
    assert candidates, "the demo data holds trips still to invoice"

    # The standby stops replaying: from here on it lags the primary.
    replica.sql("SELECT pg_wal_replay_pause()")
    try:
        for card_no, month, transit_id in candidates:
            body = {"kind": "consumption", "card_no": card_no, "month": month, "transit_ids": [transit_id]}
            status, made = _call(
                "POST", f"{site.api}/applications", {**body, "mode": "per_trip", "title_id": title_id}, token=token
            )
            if status == 202:
                break
        assert status == 202, made
        app_id = made["id"]
        assert replica.sql("SELECT count(*) FROM invoices_application WHERE id = %s", [app_id]) == [(0,)]
        # What the progress page polls finds it at once, from both processes, on the primary.
        for _ in range(6):
            p = primary.mark()
            status, app = _call("GET", f"{site.api}/applications/{app_id}", token=token)
            assert status == 200 and app["id"] == app_id and app["status"] in ("submitted", "issuing", "issued")
            assert APPLICATIONS_READ in primary.since(p)
        # Someone else, who wrote nothing, still reads the lagging standby.
        other = _login(site, OTHER_DEMO_MOBILE)
        r = replica.mark()
        status, _apps = _call("GET", f"{site.api}/applications", token=other)
        assert status == 200 and APPLICATIONS_READ in replica.since(r)
    finally:
        replica.sql("SELECT pg_wal_replay_resume()")
    # Once the standby has replayed the write, the person's reads go back to it.
    wait_for(lambda: replica.sql("SELECT count(*) FROM invoices_application WHERE id = %s", [app_id]) == [(1,)], 30)
    r = replica.mark()
    status, app = _call("GET", f"{site.api}/applications/{app_id}", token=token)
    assert status == 200 and app["id"] == app_id and APPLICATIONS_READ in replica.since(r)


def _transits(site, token: str, card_no: str) -> list[tuple[str, dict]]:
    """The card's trips of the last four months, the oldest month first."""
    today = time.localtime()
    trips = []
    for back in (3, 2, 1, 0):
        y, m = divmod(today.tm_year * 12 + today.tm_mon - 1 - back, 12)
        month = f"{y}-{m + 1:02d}"
        status, answer = _call("GET", f"{site.api}/transits?card_no={card_no}&month={month}", token=token)
        assert status == 200, answer
        trips.extend((month, trip) for trip in _results(answer))
    return trips


def test_the_site_keeps_serving_reads_when_the_replica_stops(site, clusters):
    primary, replica, _root = clusters
    token = _login(site, DEMO_MOBILE)
    status, before = _call("GET", f"{site.api}/invoices", token=token)
    assert status == 200
    replica.stop()
    try:
        p = primary.mark()
        for _ in range(6):  # both processes, each with a connection to the stopped standby
            status, during = _call("GET", f"{site.api}/invoices", token=token)
            assert status == 200 and during == before
        assert INVOICES_READ in primary.since(p)
        assert _call("GET", f"{site.url}/help/")[0] == 200
    finally:
        replica.start()

    # Started again, the standby serves the lists once the retry delay has passed.
    def back() -> bool:
        r = replica.mark()
        ok = _call("GET", f"{site.api}/invoices", token=token)[0] == 200
        return ok and INVOICES_READ in replica.since(r)

    wait_for(back, timeout=30, interval=0.5)
    assert "replica: not answering" in site.log.read_text(errors="replace")
