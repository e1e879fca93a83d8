"""``manage.py runall`` as ``make run`` starts it: the worker is killed with SIGKILL in the middle
of issuing; supervisord starts it again, the site answers /healthz throughout, the restarted
worker queues the application the dead one held and issues it exactly once; Ctrl-C then stops
everything and leaves no process behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
from django.conf import settings

from invoices.models import Application, Invoice
from invoices.numbering import sequence_of
from tests.helpers.processes import free_port, worker_env
from tests.helpers.waiting import wait_for
from tests.reliability.conftest import push_trips, submit

SPAWNED = re.compile(rb"spawned: 'worker' with pid (\d+)")


def _descendants(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        parent = todo.pop()
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(parent)], capture_output=True, text=True).stdout
        for child in map(int, out.split()):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True).stdout
    return bool(status.strip()) and not status.strip().startswith("Z")


class HealthProbe(threading.Thread):
    """Asks /healthz every 0.2 s and counts the answers that are not 200."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url, self.ok, self.bad, self.stop = url, 0, [], threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                with urllib.request.urlopen(self.url, timeout=5) as r:
                    self.ok += r.status == 200
                    if r.status != 200:
                        self.bad.append(r.status)
            except Exception as exc:  # connection refused, a 5xx
                self.bad.append(repr(exc))
            time.sleep(0.2)


@pytest.mark.worker
def test_runall_restarts_a_killed_worker_keeps_serving_and_stops_cleanly(world, real_worker, tmp_path):
    trips = push_trips(world, 60)  # 180 invoices on three operators' roads
    stall = tmp_path / "stalled"
    port = free_port()
    log = tmp_path / "runall.log"
    env = worker_env(PIAOGEN_STALL_FILE=str(stall))
    proc = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "runall",
            "--port",
            str(port),
            "--web-workers",
            "1",
            "--celery-app",
            "tests.reliability.worker_app",
        ],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    probe = HealthProbe(f"http://127.0.0.1:{port}/healthz")
    try:
        wait_for(lambda: b" ready." in log.read_bytes(), timeout=120)
        wait_for(lambda: _get(f"http://127.0.0.1:{port}/healthz") == 200, timeout=60)
        probe.start()
        app_id = submit(world)
        # The worker has written the 180 invoices in its open transaction and is frozen there.
        wait_for(lambda: stall.exists(), timeout=120)
        worker_pid = int(SPAWNED.findall(log.read_bytes())[-1])
        os.killpg(worker_pid, signal.SIGKILL)
        killed = time.monotonic()
        assert Application.objects.get(pk=app_id).status == "issuing" and not Invoice.objects.exists()

        # supervisord starts the worker again; on start it queues the application still 'issuing'.
        wait_for(lambda: len(SPAWNED.findall(log.read_bytes())) >= 2, timeout=60)
        wait_for(lambda: Application.objects.filter(pk=app_id, status="issued").exists(), timeout=120)
        recovered = time.monotonic() - killed
        text = log.read_text(errors="replace")
        assert "exited: worker (terminated by SIGKILL; not expected)" in text
        assert "applications in flight queued again" in text
        assert Invoice.objects.count() == 180
        assert len(set(Invoice.objects.values_list("code", "number"))) == 180
        positions = [sequence_of(c, n) for c, n in Invoice.objects.values_list("code", "number")]
        for series in {s for s, _ in positions}:  # today's trips: fiscal e-bills and 数电 invoices
            numbers = sorted(n for s, n in positions if s == series)
            assert numbers == list(range(1, len(numbers) + 1)), series
        assert set(Invoice.objects.values_list("lines__transit__transit_id", flat=True)) == set(trips)
        probe.stop.set()
        probe.join(timeout=10)
        assert probe.bad == [] and probe.ok > 10, probe.bad  # the site answered throughout
        print(
            f"\nrunall: worker SIGKILLed mid-issue, restarted; issued {recovered:.1f}s after the kill; "
            f"/healthz answered 200 {probe.ok} times, 0 failures"
        )

        tree = {proc.pid} | _descendants(proc.pid)
        assert len(tree) >= 5  # supervisord, gunicorn and its worker, celery and its pool, beat
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        stopped = time.monotonic()
        assert proc.wait(timeout=90) == 0
        wait_for(lambda: not [p for p in tree if _alive(p)], timeout=15)
        print(f"runall: Ctrl-C stopped {len(tree)} processes in {time.monotonic() - stopped:.1f}s, none left")
    finally:
        probe.stop.set()
        if proc.poll() is None:
            for pid in _descendants(proc.pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            proc.kill()
            proc.wait(timeout=10)


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status
    except Exception:
        return 0
