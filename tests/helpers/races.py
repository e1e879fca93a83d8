"""Races between database connections: several threads, each with a connection of its own."""

from __future__ import annotations

import threading

from django.db import connection


def issue_at_once(application_ids, *, barrier: bool = False) -> list[Exception]:
    """Issues each of ``application_ids`` in a thread of its own, all started together (with
    ``barrier``, each also waits for the others before issuing); returns what they raised."""
    from invoices import services

    errors: list[Exception] = []
    start = threading.Barrier(len(application_ids)) if barrier else None

    def issue(app_id) -> None:
        try:
            if start is not None:
                start.wait(10)
            services.application_issue(application_id=app_id)
        except Exception as exc:  # reported to the test, which asserts there were none
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=issue, args=(app_id,)) for app_id in application_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return errors
