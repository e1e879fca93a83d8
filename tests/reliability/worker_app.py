"""The project's Celery app as a worker process loads it (``celery -A tests.reliability.worker_app``),
with two test-only controls taken from the environment:

- ``PIAOGEN_STALL_FILE``: the worker freezes inside the issuing transaction, after the invoice
  numbers are taken and the invoices written, and writes that file to say so. The test then
  kills it with SIGKILL: the kill lands mid-issue every time, on SQLite and PostgreSQL alike.
  Once only: a worker started again with the file already there (restarted by ``runall``'s
  supervisor, say) issues normally.
- ``PIAOGEN_TRANSPORT_OPTIONS``: JSON merged into the broker's transport options (a short Redis
  visibility timeout, so that a killed worker's message comes back within the test).

Nothing else differs from ``celery -A piaogen``.
"""

import json
import os
import time
from pathlib import Path

import django

django.setup()

from piaogen.celery import app  # noqa: E402

extra = os.environ.get("PIAOGEN_TRANSPORT_OPTIONS")
if extra:
    app.conf.broker_transport_options = {**(app.conf.broker_transport_options or {}), **json.loads(extra)}

stall_file = os.environ.get("PIAOGEN_STALL_FILE")
if stall_file:
    from invoices import services

    _write = services._write

    def _write_then_stall(application, plans, today):
        written = _write(application, plans, today)
        if Path(stall_file).exists():
            return written
        Path(stall_file).write_text(f"{application.pk} {len(written)}")
        time.sleep(3600)  # inside the open transaction, until the test kills the process
        return written

    services._write = _write_then_stall


@app.task(name="stress.write", acks_late=True, autoretry_for=(Exception,), retry_backoff=1, max_retries=20)
def stress_write(key: str) -> None:
    """The stress tests' task (tests/e2e/test_broker_stress.py): its effect is one row per
    message key, and a second run of the same message shows as ``runs`` 2."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO stress_effect (msg_key, runs) VALUES (%s, 1) "
            "ON CONFLICT (msg_key) DO UPDATE SET runs = stress_effect.runs + 1",
            [key],
        )


__all__ = ["app"]
