"""The broker under load with real processes (no eager mode): 10,000 task messages published by
4 producer processes at once while a worker consumes, with undecodable messages injected among
them. Counted by effect: one row per message key (``stress_effect``), ``runs`` 2 if a message ran
twice. On the embedded default (filesystem) and, with CELERY_BROKER_URL=redis://…, on Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from piaogen.models import SetAsideMessage
from tests.helpers.processes import worker_env
from tests.helpers.waiting import wait_for

PRODUCERS = 4
PER_PRODUCER = int(os.environ.get("STRESS_PER_PRODUCER", "2500"))
INJECTED = 5


def _inject_garbage(n: int) -> None:
    """What the old filesystem transport let a reader see (an empty file, half a message), and
    garbage on a Redis list."""
    if settings.CELERY_BROKER_URL.startswith("redis"):
        import redis

        client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
        for i in range(n):
            client.lpush("stress", b"" if i % 2 == 0 else b'{"body": "eyJ')
        return
    queue = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
    for i in range(n):
        (queue / f"000000000000{i:03d}_{uuid.uuid4()}.stress.msg").write_bytes(b"" if i % 2 == 0 else b'{"body": "eyJ')


@pytest.mark.worker
def test_ten_thousand_messages_from_four_producers_each_run_exactly_once(real_worker, tmp_path):
    from tests.reliability.conftest import Worker

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE stress_effect (msg_key varchar(40) PRIMARY KEY, runs integer NOT NULL)")
    broker = settings.CELERY_BROKER_URL
    worker = Worker(tmp_path, broker, concurrency=2, queues="stress")
    env = worker_env(broker)
    started = time.monotonic()
    producers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.e2e.stress_producer", f"p{n}", str(PER_PRODUCER)],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for n in range(PRODUCERS)
    ]
    _inject_garbage(INJECTED)
    outputs = [p.communicate(timeout=300)[0].decode() for p in producers]
    assert [p.returncode for p in producers] == [0] * PRODUCERS, outputs
    published = time.monotonic() - started
    _inject_garbage(INJECTED)  # also behind the last messages

    total = PRODUCERS * PER_PRODUCER

    def rows() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM stress_effect")
            return cursor.fetchone()[0]

    try:
        wait_for(lambda: rows() == total, timeout=600, interval=1)
        consumed = time.monotonic() - started
        time.sleep(2)  # anything running twice would show now
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*), SUM(runs), MAX(runs) FROM stress_effect")
            count, runs, most = cursor.fetchone()
        assert (count, runs, most) == (total, total, 1)  # every message once: none lost, none twice
        wait_for(lambda: SetAsideMessage.objects.count() == 2 * INJECTED, timeout=30)
        assert worker.proc.poll() is None  # 0 worker crashes
        log = worker.text()
        assert "Unrecoverable error" not in log and log.count("set aside") == 2 * INJECTED
        name = "redis" if broker.startswith("redis") else "filesystem"
        print(
            f"\nstress on {name}: {total} messages from {PRODUCERS} producers published in {published:.1f}s, "
            f"all executed once in {consumed:.1f}s ({total / consumed:.0f}/s, worker concurrency 2); "
            f"{2 * INJECTED} undecodable messages set aside; 0 worker crashes"
        )
    finally:
        worker.stop()
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE stress_effect")
