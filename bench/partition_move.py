"""The online move into monthly partitions on the bench database (``manage.py partitions move``,
invoices/partitions.py): rows counted and answers taken before and after, the move timed.

    PARTITION_ON_MIGRATE=0 .venv/bin/python bench/generate.py --trips 1000000 --invoices 1000000 --user-trips 5000
    .venv/bin/python bench/partition_move.py [--users 20] [--batch 50000]

The bench database must still have plain tables (generated with ``PARTITION_ON_MIGRATE=0``, or
generated before invoices were partitioned: then trips are partitioned and invoices and lines
are moved). The answers are what a person reads: the App's trip list and the 通行记录 page of
every card-month of the heavy user and of ``--users`` other users, the App's invoice list of each
card-month with the first 5 of its invoices one by one, and the App's invoice list of each.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402
from bench.generate import HEAVY_MOBILE  # noqa: E402


def answers(user_count: int) -> dict[str, str]:
    """A digest of each answer (the answers of the heavy user run to megabytes)."""
    from django.test import Client

    from accounts.models import User, mobile_digest
    from accounts.services import app_token_issue
    from cards.models import Binding
    from invoices import selectors

    heavy = User.objects.get(mobile_digest=mobile_digest(HEAVY_MOBILE))
    users = list(
        User.objects.filter(is_staff=False, bindings__ended_at__isnull=True).distinct().order_by("id")[:user_count]
    )
    if heavy not in users:
        users.append(heavy)
    out = {}
    for user in users:
        app = Client(HTTP_AUTHORIZATION=f"Bearer {app_token_issue(user=user)}")
        page = Client()
        page.force_login(user)
        r = app.get("/api/v1/app/invoices")
        out[f"{user.pk} invoices"] = hashlib.sha256(r.content).hexdigest()
        for card_no, card_id in Binding.objects.filter(user=user, ended_at__isnull=True).values_list(
            "card__card_no", "card_id"
        ):
            for month in selectors.months_with_transits(card_id):
                r = app.get("/api/v1/app/transits", {"card_no": card_no, "month": month})
                assert r.status_code == 200, r.content[:300]
                html = page.get("/trips/", {"card": card_no, "month": month}).content.decode()
                html = re.sub(r'(csrfmiddlewaretoken" value=|nonce=)"[^"]*"', "", html)
                html = re.sub(r"\s+", " ", re.sub(r'<div class="notice [^"]*" role="status">.*?</div>', "", html))
                out[f"{user.pk} {card_no} {month}"] = hashlib.sha256(r.content + html.encode()).hexdigest()
                r = app.get("/api/v1/app/invoices", {"card_no": card_no, "month": month})
                assert r.status_code == 200, r.content[:300]
                details = b"".join(app.get(f"/api/v1/app/invoices/{i['id']}").content for i in r.json()[:5])
                out[f"{user.pk} {card_no} {month} invoices"] = hashlib.sha256(r.content + details).hexdigest()
    return out


def counts() -> dict[str, int]:
    from django.db import connection

    from invoices import partitions

    with connection.cursor() as cursor:
        result = {}
        for table in (*partitions.TABLES, "invoices_transitkey", "invoices_invoicekey"):
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - our names
            result[table] = cursor.fetchone()[0]
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--batch", type=int, default=50_000)
    args = parser.parse_args()
    common.setup_django()
    from django.db import connection

    from invoices import partitions

    if all(partitions.is_partitioned(table) for table in partitions.TABLES):
        raise SystemExit("The bench database is partitioned already: generate it with PARTITION_ON_MIGRATE=0.")
    # the first page a user opens may tell a one-time notice: open them all once
    answers(args.users)
    before_rows, before = counts(), answers(args.users)
    connection.close()
    started = time.perf_counter()
    out = common.manage("partitions", "move", "--batch", str(args.batch))
    seconds = time.perf_counter() - started
    after_rows, after = counts(), answers(args.users)
    differing = sorted(k for k in before if before[k] != after.get(k))
    common.report(
        "partition_move",
        rows_before=before_rows,
        rows_after=after_rows,
        answers=len(before),
        answers_differing=differing[:20],
        move_seconds=round(seconds, 1),
        move_output=out.strip().splitlines()[-4:],
    )
    if before_rows != after_rows or differing:
        raise SystemExit("rows or answers differ after the move")


if __name__ == "__main__":
    main()
