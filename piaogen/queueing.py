"""Queueing a Celery task from the web or a worker without ever failing what was done.

Every task the product queues works from rows already committed (an application in its outbox,
an invoice ``pending`` render, an SMS in the outbox, a resend request): the database says what is
still to do, and a beat sweep queues again whatever was not taken. So a broker that refuses a
message is logged and left to the sweep, never raised into the request or the issuing that
succeeded. Publishing gives up within about a second (``CELERY_TASK_PUBLISH_RETRY_POLICY``).
"""

from __future__ import annotations

import importlib
import logging

from django.db import transaction

logger = logging.getLogger(__name__)


def task_named(name: str):
    """The Celery task registered as ``name`` (its module and function, e.g.
    ``invoices.tasks.issue_application``). Services queue their tasks by name, so that no
    service module imports a tasks module: tasks call services, never the reverse. An unknown
    name raises KeyError at once, never a warning left to a sweep."""
    from celery import current_app

    importlib.import_module(name.rpartition(".")[0])  # registers the module's tasks (a no-op once imported)
    return current_app.tasks[name]


def enqueue(task, *args, what: str, argsrepr: str | None = None, **kwargs) -> bool:
    """``task.delay(*args, **kwargs)``, ``task`` a task or its registered name (``task_named``);
    False, with a warning naming ``what``, when the broker could not take it (kombu's
    OperationalError, a refused connection, a timeout…). ``argsrepr``: what the message shows
    of its arguments (logs, monitoring) instead of Celery's own repr of them, which for a list
    of a thousand ids costs more than sending the message."""
    if isinstance(task, str):
        task = task_named(task)
    try:
        if argsrepr is None:
            task.delay(*args, **kwargs)
        else:
            task.apply_async(args, kwargs, argsrepr=argsrepr)
    except Exception as exc:
        logger.warning("%s could not be queued (%s: %s); the sweep will", what, type(exc).__name__, exc)
        return False
    return True


def enqueue_each(task, args_list: list[tuple], *, what: str) -> int:
    """``enqueue`` of one message per item of ``args_list``, for a worker that queues hundreds
    of tasks at once (a fan-out). Stops at the first message the broker refuses, with one
    warning naming ``what`` and how many were left: those are left to the sweep as a single
    refused one is, instead of each waiting out the publish retries in turn. Returns how many
    were queued."""
    if isinstance(task, str):
        task = task_named(task)
    queued = 0
    try:
        for args in args_list:
            task.delay(*args)
            queued += 1
    except Exception as exc:
        logger.warning(
            "%s: %d of %d could not be queued (%s: %s); the sweep will",
            what,
            len(args_list) - queued,
            len(args_list),
            type(exc).__name__,
            exc,
        )
    return queued


def enqueue_on_commit(task, *args, what: str, **kwargs) -> None:
    """``enqueue`` once the current transaction commits (at once outside one): a worker never
    looks for rows that are not there yet."""
    transaction.on_commit(lambda: enqueue(task, *args, what=what, **kwargs))
