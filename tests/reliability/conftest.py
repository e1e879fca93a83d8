"""Fixtures of the reliability suite: the invoicing world, real worker processes, and a Redis
server of the test's own that it may stop and start (never the machine's shared one)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings

from tests.e2e.conftest import real_worker  # noqa: F401  (the fixture)
from tests.helpers.processes import CeleryWorker, free_port, started_workers, worker_env
from tests.helpers.waiting import wait_for
from tests.invoices.conftest import trip, world  # noqa: F401
from tests.invoices.test_invoicing import THREE, title

__all__ = ["THREE", "free_port", "push_trips", "submit", "title", "trip", "wait_for"]


def push_trips(w, n: int, prefix: str = "T", card_no: str | None = None, month_start=None) -> list[str]:
    """Pushes ``n`` trips of three operators each (three invoices a trip in per-trip mode)."""
    card_no = card_no or w.card_no
    start = month_start or w.when
    ids = [f"{prefix}{i}" for i in range(n)]
    for first in range(0, n, 2000):
        items = [trip(t, card_no, start + timedelta(minutes=10 * i), THREE) for i, t in enumerate(ids)][
            first : first + 2000
        ]
        r = w.clearing.post("/api/v1/partner/transits", {"transits": items}, format="json")
        assert r.status_code == 200 and r.json()["created"] == len(items), r.content
    return ids


def submit(w, client=None, card_no=None, month="2026-09", **extra) -> int:
    client = client or w.user
    if getattr(client, "title_id", None) is None:
        client.title_id = title(client)
    body = {"kind": "consumption", "card_no": card_no or w.card_no, "month": month, "title_id": client.title_id}
    r = client.post("/api/v1/app/applications", body | extra, format="json")
    assert r.status_code == 202, r.content
    return r.json()["id"]


class RedisServer:
    """A redis-server process of this test alone, on a free port, without persistence: stopping
    it loses whatever it held, as a crashed broker would."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.binary = shutil.which("redis-server") or "/usr/bin/redis-server"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
                "--logfile",
                str(self.folder / "redis.log"),
                "--daemonize",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    return
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)  # a crash: nothing saved, connections cut
            self.proc.wait(timeout=10)
        self.proc = None

    def client(self):
        import redis

        return redis.Redis(port=self.port)


@contextmanager
def celery_broker(url: str, transport_options: dict | None = None):
    """Points this process's Celery app at ``url`` (publishing from the test and the views)."""
    from piaogen.celery import app

    saved = (app.conf.broker_url, app.conf.broker_transport_options, settings.CELERY_BROKER_URL)
    saved_env = os.environ.get("CELERY_BROKER_URL")

    def switch(broker, options):
        # Celery prefers the CELERY_BROKER_URL environment variable to its configuration.
        if broker and broker != saved[0]:
            os.environ["CELERY_BROKER_URL"] = broker
        elif saved_env is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = saved_env
        app.conf.broker_url = broker
        app.conf.broker_transport_options = options
        # Forget, never close: kombu keeps its pools in a registry by URL, and a closed pool found
        # there again later would refuse every publish.
        app._pool = None
        app.amqp._producer_pool = None

    switch(url, transport_options or {"visibility_timeout": 3600})
    settings.CELERY_BROKER_URL = url
    try:
        yield app
    finally:
        switch(saved[0], saved[1])
        settings.CELERY_BROKER_URL = saved[2]


@pytest.fixture
def own_redis(tmp_path):
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


class Worker(CeleryWorker):
    """``celery worker`` in its own process group against the test database and ``broker``;
    ``stall_file`` makes it freeze mid-issue (tests/reliability/worker_app.py)."""

    def __init__(
        self,
        tmp: Path,
        broker: str,
        *,
        concurrency: int = 1,
        stall_file: Path | None = None,
        transport_options: dict | None = None,
        queues: str = "default",
    ):
        env = worker_env(broker, PIAOGEN_TRANSPORT_OPTIONS=json.dumps(transport_options or {}))
        env.pop("PIAOGEN_STALL_FILE", None)
        if stall_file is not None:
            env["PIAOGEN_STALL_FILE"] = str(stall_file)
        super().__init__(
            tmp,
            env,
            app="tests.reliability.worker_app",
            queues=queues,
            concurrency=concurrency,
            name="rel",
        )


@pytest.fixture
def workers(real_worker, tmp_path):  # noqa: F811  (the fixture imported above)
    """Starts reliability workers on demand (against a broker the test names); each is stopped
    at the end. ``real_worker`` makes the database transactional and turns eager mode off."""
    yield from started_workers(lambda broker, **kwargs: Worker(tmp_path, broker, **kwargs))
