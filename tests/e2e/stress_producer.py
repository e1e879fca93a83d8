"""One producer of the broker stress test (tests/e2e/test_broker_stress.py), in a process of its
own: ``python -m tests.e2e.stress_producer PREFIX COUNT`` publishes COUNT ``stress.write``
messages keyed PREFIX-0 … PREFIX-(COUNT-1) through the project's Celery app and broker settings."""

import sys
import time

import django

django.setup()

from piaogen.celery import app  # noqa: E402

prefix, count = sys.argv[1], int(sys.argv[2])
started = time.monotonic()
with app.producer_or_acquire() as producer:
    for n in range(count):
        app.send_task("stress.write", args=[f"{prefix}-{n}"], queue="stress", producer=producer)
print(f"published {count} in {time.monotonic() - started:.2f}s")
