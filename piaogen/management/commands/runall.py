"""Runs the whole product in the foreground under supervisord: the web server (gunicorn), a
Celery worker (issuing, documents, mail, and SMS when it is free), a one-process Celery worker
for SMS alone (a code never waits behind a backlog of PDFs) and Celery beat, each in a process
group of its own.

A child that dies is started again (supervisord logs ``exited: worker (… not expected)`` and
``spawned: 'worker' with pid …``; one that dies again within ``startsecs`` is retried after 1,
2, 3… seconds); the others keep serving meanwhile. Ctrl-C (SIGINT) or SIGTERM stops all of
them: each program's main process gets SIGTERM (Celery and gunicorn stop their own pool
processes; a SIGTERM to the whole group would kill the pool under a worker still shutting down
and leave it waiting), then its whole process group SIGKILL after ``stopwaitsecs``, so no pool
process and no beat is left behind. supervisord's own lines go to the terminal (``nodaemon``)."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

# A child that keeps dying at once is retried this many times (1 s, 2 s, 3 s… apart, about
# 30 minutes in all) before supervisord gives it up (state FATAL, logged).
START_RETRIES = 60


def _program(name: str, command: list[str], *, stopwaitsecs: int, priority: int) -> str:
    return f"""
[program:{name}]
command={shlex.join(command)}
directory={settings.BASE_DIR}
priority={priority}
autostart=true
autorestart=true
startsecs=3
startretries={START_RETRIES}
stopsignal=TERM
stopwaitsecs={stopwaitsecs}
stopasgroup=false
killasgroup=true
redirect_stderr=true
stdout_logfile=/dev/stdout
stdout_logfile_maxbytes=0
"""


class Command(BaseCommand):
    help = "Serves the site, the admin and the APIs with a background worker and its scheduler, in the foreground."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--web-workers", type=int, default=int(os.environ.get("WEB_WORKERS", "2")))
        parser.add_argument("--worker-concurrency", type=int, default=int(os.environ.get("WORKER_CONCURRENCY", "2")))
        parser.add_argument("--print-config", action="store_true", help="Print supervisord's configuration and exit.")
        # The Celery app module of the worker and beat (tests load the project's app with test hooks).
        parser.add_argument("--celery-app", default=os.environ.get("CELERY_APP_MODULE", "piaogen"))

    def config(self, *, port: int, host: str, web_workers: int, worker_concurrency: int, celery_app: str) -> str:
        bindir = os.path.dirname(sys.executable)
        var = Path(settings.VAR_DIR)
        web = [
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
        ]
        worker = [
            os.path.join(bindir, "celery"),
            "-A",
            celery_app,
            "worker",
            "--loglevel",
            "INFO",
            "--queues",
            "default,render,mail,sms",
            "--concurrency",
            str(worker_concurrency),
            "--hostname",
            f"piaogen@{host}",
        ]
        sms_worker = [
            os.path.join(bindir, "celery"),
            "-A",
            celery_app,
            "worker",
            "--loglevel",
            "INFO",
            "--queues",
            "sms",
            "--concurrency",
            "1",
            "--hostname",
            f"sms@{host}",
        ]
        beat = [
            os.path.join(bindir, "celery"),
            "-A",
            celery_app,
            "beat",
            "--loglevel",
            "INFO",
            "--schedule",
            settings.CELERY_BEAT_SCHEDULE_FILENAME,
            "--pidfile",
            str(var / "celerybeat.pid"),
        ]
        return (
            f"""[supervisord]
nodaemon=true
logfile=/dev/null
logfile_maxbytes=0
loglevel=info
pidfile={var / "supervisord.pid"}
childlogdir={var}
"""
            # One priority: supervisord stops the three at once rather than one after another. The
            # worker gets time to finish its tasks (acks_late: an unfinished one is redelivered).
            + _program("worker", worker, stopwaitsecs=30, priority=100)
            # SMS codes never wait behind a backlog of PDFs: a worker of their own (one process).
            + _program("sms", sms_worker, stopwaitsecs=10, priority=100)
            + _program("beat", beat, stopwaitsecs=10, priority=100)
            + _program("web", web, stopwaitsecs=15, priority=100)
        )

    def handle(self, *args, port, host, web_workers, worker_concurrency, print_config, celery_app, **options):
        text = self.config(
            port=port, host=host, web_workers=web_workers, worker_concurrency=worker_concurrency, celery_app=celery_app
        )
        if print_config:
            self.stdout.write(text)
            return
        var = Path(settings.VAR_DIR)
        var.mkdir(parents=True, exist_ok=True)
        path = var / "supervisord.conf"
        path.write_text(text)
        self.stdout.write(
            f"Serving on http://{host}:{port}/  (admin: /admin/, API docs: /api/docs/). Ctrl-C stops all."
        )
        self.stdout.flush()
        supervisord = os.path.join(os.path.dirname(sys.executable), "supervisord")
        # supervisord takes this process's place: Ctrl-C and SIGTERM reach it directly.
        os.execv(supervisord, [supervisord, "--nodaemon", "--configuration", str(path)])
