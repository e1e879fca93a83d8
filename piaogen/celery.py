"""The Celery application. Configuration comes from Django settings (``CELERY_*``)."""

import os
from pathlib import Path

from celery import Celery
from celery.signals import task_postrun, task_prerun
from kombu.transport import TRANSPORT_ALIASES

# The broker URL's scheme picks the transport; these two schemes get the project's classes
# (piaogen/broker.py), whichever URL a process is given, also when a test switches it.
TRANSPORT_ALIASES.update(
    {
        "filesystem": "piaogen.broker:FilesystemTransport",
        "redis": "piaogen.broker:RedisTransport",
        "rediss": "piaogen.broker:RedisTransport",
    }
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "piaogen.settings")

app = Celery("piaogen")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def close_old_connections(sender=None, **_) -> None:
    """A worker's database connections are handled around a task as Django handles them around
    a request (closed at its start and end when too old or unusable): kept across tasks while
    ``CONN_MAX_AGE`` allows, so that a worker does not connect anew for every task
    (``CELERY_DB_REUSE_MAX``). Not for a task run eagerly: it runs inside its caller, whose
    transaction may be open."""
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    from django.db import close_old_connections as close

    close()


def ensure_broker_dirs() -> None:
    """The filesystem transport needs its folders before the first message."""
    from django.conf import settings

    for key in (
        "data_folder_in",
        "data_folder_out",
        "control_folder",
        "tmp_folder",
        "claim_folder",
        "set_aside_folder",
    ):
        folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get(key)
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
