"""Real Celery worker processes against the test database and the configured broker.

Eager mode hides the run-before-commit race, so issuing is also proved here with a worker in
its own process, reading the same database (a file for SQLite, the test database on
PostgreSQL) and the same broker (Redis in CI, the filesystem transport on a laptop).
"""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings

from tests.helpers.processes import CeleryWorker, free_port, started_workers, worker_env
from tests.helpers.waiting import wait_for
from tests.invoices.conftest import world  # noqa: F401  (the same world of partners, cards and a user)

__all__ = ["Worker", "gunicorn", "real_worker", "wait_for", "world"]


class Worker(CeleryWorker):
    """A worker of the product's Celery app on the suite's broker."""

    def __init__(self, tmp: Path, concurrency: int = 1, queues: str = "default,render,mail,sms"):
        super().__init__(tmp, worker_env(), queues=queues, concurrency=concurrency)


@pytest.fixture
def real_worker(transactional_db, django_db_serialized_rollback, settings, tmp_path):
    """Starts worker processes on demand; every one is stopped at the end of the test."""
    from piaogen.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.task_always_eager = False
    yield from started_workers(lambda **kwargs: Worker(tmp_path, **kwargs))
    app.conf.task_always_eager = True
    _purge(app)


def _purge(app) -> None:
    try:
        app.control.purge()
    except Exception:  # a broker that is already gone has nothing left to purge
        pass


@contextmanager
def gunicorn(env: dict, log: Path, *, workers: int = 2, threads: int = 4):
    """The site served as in production, gunicorn on a free port with ``env``, its output in
    ``log``; yields its base URL once /healthz answers, and stops it afterwards."""
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
