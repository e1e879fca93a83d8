"""Processes of the product that tests start for real: free ports, the test database's URL for
them, and ``celery worker`` in a process group of its own."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.db import connection


def free_port() -> int:
    """A port nothing listens on (closed again once this returns: connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url() -> str:
    """The test database as a ``DATABASE_URL`` for another process: the file for SQLite, the test
    database on PostgreSQL."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    auth = f"{user}:{db['PASSWORD']}@" if db.get("PASSWORD") else (f"{user}@" if user else "")
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


def worker_env(broker: str | None = None, **extra: str) -> dict[str, str]:
    """The environment of a worker (or ``runall``) process on the test settings and database:
    tasks queued, not eager; SMS to the file; the broker ``broker``, else the suite's own when it
    is Redis (else the settings' filesystem transport); then ``extra``."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="piaogen.test_settings",
        DATABASE_URL=database_url(),
        CELERY_TASK_ALWAYS_EAGER="0",
        PIAOGEN_VAR_DIR=str(settings.VAR_DIR),
        SMS_BACKEND="file",
    )
    if broker is None and settings.CELERY_BROKER_URL.startswith("redis"):
        broker = settings.CELERY_BROKER_URL
    if broker is not None:
        env["CELERY_BROKER_URL"] = broker
    env.update(extra)
    return env


class CeleryWorker:
    """``celery -A app worker`` in its own process group with ``env``, its output in a log under
    ``tmp``; returns once the worker says it is ready."""

    def __init__(
        self,
        tmp: Path,
        env: dict[str, str],
        *,
        app: str = "piaogen",
        queues: str = "default",
        concurrency: int = 1,
        name: str = "test",
    ):
        self.log = tmp / f"worker-{time.monotonic_ns()}.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", app, "worker", "--loglevel", "INFO"]
            + ["--queues", queues, "--concurrency", str(concurrency), "--pool", "prefork"]
            + ["--without-heartbeat", "--without-mingle", "--without-gossip"]
            + ["--hostname", f"{name}-{os.getpid()}-{time.monotonic_ns()}@localhost"],
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
            time.sleep(0.1)
        raise RuntimeError(f"worker not ready: {self.log.read_text()[-3000:]}")

    def text(self) -> str:
        return self.log.read_text(errors="replace")

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


def started_workers(make):
    """The body of a worker fixture: yields ``start`` (``make``'s arguments → a started worker,
    remembered) and stops every worker it started once the test is done."""
    started: list[CeleryWorker] = []

    def start(*args, **kwargs) -> CeleryWorker:
        worker = make(*args, **kwargs)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
