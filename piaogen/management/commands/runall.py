"""Runs the whole product in the foreground: the web server (gunicorn), a Celery worker
with its beat scheduler. Ctrl-C (or SIGTERM) stops all of them; if one dies, the others are
stopped too and the exit code says so."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serves the site, the admin and the APIs with a background worker, in the foreground."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--web-workers", type=int, default=int(os.environ.get("WEB_WORKERS", "2")))
        parser.add_argument("--worker-concurrency", type=int, default=int(os.environ.get("WORKER_CONCURRENCY", "2")))

    def handle(self, *args, port, host, web_workers, worker_concurrency, **options):
        bindir = os.path.dirname(sys.executable)
        beat_schedule = settings.CELERY_BEAT_SCHEDULE_FILENAME
        commands = {
            "web": [
                os.path.join(bindir, "gunicorn"),
                "piaogen.wsgi:application",
                "--bind",
                f"{host}:{port}",
                "--workers",
                str(web_workers),
                "--threads",
                "4",
                "--access-logfile",
                "-",
                "--graceful-timeout",
                "10",
                "--timeout",
                "60",
            ],
            "worker": [
                os.path.join(bindir, "celery"),
                "-A",
                "piaogen",
                "worker",
                "--beat",
                "--schedule",
                beat_schedule,
                "--loglevel",
                "INFO",
                "--queues",
                "default,render,mail",
                "--concurrency",
                str(worker_concurrency),
                "--hostname",
                f"piaogen@{host}",
            ],
        }
        procs: dict[str, subprocess.Popen] = {}
        stopping = False

        def stop(*_):
            nonlocal stopping
            if stopping:
                return
            stopping = True
            self.stdout.write("Stopping…")
            for proc in procs.values():
                if proc.poll() is None:
                    proc.terminate()

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        for name, cmd in commands.items():
            # Own process groups: Ctrl-C reaches us once, and we stop the children in order.
            procs[name] = subprocess.Popen(cmd, start_new_session=True)
            self.stdout.write(f"started {name} (pid {procs[name].pid})")
        self.stdout.write(
            f"Serving on http://{host}:{port}/  (admin: /admin/, API docs: /api/docs/). Ctrl-C stops all."
        )
        code = 0
        while True:
            for name, proc in procs.items():
                ret = proc.poll()
                if ret is not None and not stopping:
                    self.stderr.write(f"{name} exited with {ret}; stopping the rest")
                    code = ret or 1
                    stop()
            if stopping:
                deadline = time.monotonic() + 20
                for proc in procs.values():
                    try:
                        proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                    except subprocess.TimeoutExpired:
                        proc.kill()
                break
            time.sleep(0.5)
        sys.exit(code)
