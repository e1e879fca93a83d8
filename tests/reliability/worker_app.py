"""The project's Celery app as a worker process loads it (``celery -A tests.reliability.worker_app``),
with two test-only controls taken from the environment:

- ``PIAOGEN_STALL_FILE``: the worker freezes inside the issuing transaction, after the invoice
  numbers are taken and the invoices written, and writes that file to say so. The test then
  kills it with SIGKILL: the kill lands mid-issue every time, on SQLite and PostgreSQL alike.
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
        Path(stall_file).write_text(f"{application.pk} {len(written)}")
        time.sleep(3600)  # inside the open transaction, until the test kills the process
        return written

    services._write = _write_then_stall

__all__ = ["app"]
