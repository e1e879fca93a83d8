"""Real Celery worker processes against the test database and the configured broker.

Eager mode hides the run-before-commit race, so issuing is also proved here with a worker in
its own process, reading the same database (a file for SQLite, the test database on
PostgreSQL) and the same broker (Redis in CI, the filesystem transport on a laptop).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.invoices.conftest import world  # noqa: F401  (the same world of partners, cards and a user)


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    auth = f"{user}:{db['PASSWORD']}@" if db.get("PASSWORD") else (f"{user}@" if user else "")
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


class Worker:
    def __init__(self, tmp: Path, concurrency: int = 1, queues: str = "default,render,mail,sms"):
        self.log = tmp / f"worker-{time.monotonic_ns()}.log"
        env = dict(os.environ)
        env.update(
            DJANGO_SETTINGS_MODULE="piaogen.test_settings",
            DATABASE_URL=_database_url(),
            CELERY_TASK_ALWAYS_EAGER="0",
            PIAOGEN_VAR_DIR=str(settings.VAR_DIR),
            SMS_BACKEND="file",
        )
        if settings.CELERY_BROKER_URL.startswith("redis"):
            env["CELERY_BROKER_URL"] = settings.CELERY_BROKER_URL
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "piaogen",
                "worker",
                "--loglevel",
                "INFO",
                "--queues",
                queues,
                "--concurrency",
                str(concurrency),
                "--pool",
                "prefork",
                "--without-heartbeat",
                "--without-mingle",
                "--without-gossip",
                "--hostname",
                f"test-{os.getpid()}-{time.monotonic_ns()}@localhost",
            ],
            env=env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            cwd=settings.BASE_DIR,
            start_new_session=True,
        )
        self.wait_ready()

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited: {self.log.read_text()[-3000:]}")
            if b"ready." in self.log.read_bytes():
                return
            time.sleep(0.2)
        raise RuntimeError(f"worker not ready: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the whole process group: the main process and its pool children."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                self.kill()


@pytest.fixture
def real_worker(transactional_db, django_db_serialized_rollback, settings, tmp_path):
    """Starts worker processes on demand; every one is stopped at the end of the test."""
    from piaogen.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.task_always_eager = False
    started: list[Worker] = []

    def start(**kwargs) -> Worker:
        worker = Worker(tmp_path, **kwargs)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
    app.conf.task_always_eager = True
    _purge(app)


def _purge(app) -> None:
    try:
        app.control.purge()
    except Exception:  # a broker that is already gone has nothing left to purge
        pass


def wait_for(predicate, timeout: float = 60, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


@contextmanager
def gunicorn(env: dict, log: Path, *, workers: int = 2, threads: int = 4):
    """The site served as in production, gunicorn on a free port with ``env``, its output in
    ``log``; yields its base URL once /healthz answers, and stops it afterwards."""
    from tests.reliability.conftest import free_port

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "piaogen.wsgi", "--bind", f"127.0.0.1:{port}"]
        + ["--workers", str(workers), "--threads", str(threads), "--access-logfile", "-"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    try:
        wait_for(healthy, timeout=60)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
