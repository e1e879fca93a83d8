"""The online move of populated plain tables into monthly partitions (`manage.py partitions move`,
invoices/partitions.py), with real processes on a database of its own.

A database is migrated the way an installation that predates partitions is (plain tables:
``PARTITION_ON_MIGRATE=0``) and seeded with the demo data. The answers a person gets — every
card-month's App trip list and 通行记录 page of every demo customer — are taken. Then the move runs
while a partner keeps pushing: new trips, and changed splits of trips pushed a moment earlier (an
UPDATE and a DELETE and INSERT of segments mirrored while the history is copied). Afterwards the
tables are partitioned, nothing is lost or doubled, every row is in its month's partition, and
every answer taken before is the same.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection

pytestmark = [
    pytest.mark.worker,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="monthly partitions are PostgreSQL's"),
]

ROOT = Path(settings.BASE_DIR)

ANSWERS = r"""
import json, re
from django.test import Client
from accounts.models import User
from accounts.services import app_token_issue
from cards.models import Binding
from invoices.models import Transit

out = {}
for user in User.objects.filter(is_staff=False).order_by("id"):
    cards = list(Binding.objects.filter(user=user, ended_at__isnull=True).values_list("card__card_no", "card_id"))
    if not cards:
        continue
    token = app_token_issue(user=user)
    app = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    page = Client()
    page.force_login(user)
    for card_no, card_id in cards:
        months = sorted(set(Transit.objects.filter(card_id=card_id).values_list("month", flat=True)))
        for month in months:
            r = app.get("/api/v1/app/transits", {"card_no": card_no, "month": month})
            assert r.status_code == 200, r.content
            html = page.get("/trips/", {"card": card_no, "month": month}).content.decode()
            html = re.sub(r'(csrfmiddlewaretoken" value=|nonce=)"[^"]*"', "", html)
            # one-time notices (an unbinding told once) are shown by the first page a person opens
            html = re.sub(r"\s+", " ", re.sub(r'<div class="notice [^"]*" role="status">.*?</div>', "", html))
            invoices = app.get("/api/v1/app/invoices", {"card_no": card_no, "month": month})
            assert invoices.status_code == 200, invoices.content
            details = [app.get(f"/api/v1/app/invoices/{i['id']}").json() for i in invoices.json()]
            out[f"{user.pk} {card_no} {month}"] = {
                "app": r.json(), "page": html, "invoices": invoices.json(), "details": details
            }
print("ANSWERS" + json.dumps(out, ensure_ascii=False, sort_keys=True))
"""

WRITER = r"""
import json, os, time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo
from accounts.models import Partner
from cards.models import Binding, Card
from invoices.ingest import transit_upsert_batch
from invoices.models import RoadSection

partner = Partner.objects.filter(kind="clearing").order_by("id").first()
# a card nobody has bound: the answers taken before and after are those of the bound cards
bound = Binding.objects.filter(ended_at__isnull=True).values("card_id")
card_no = Card.objects.exclude(id__in=bound).order_by("id").values_list("card_no", flat=True).first()
codes = list(RoadSection.objects.filter(operator__pushed_by=partner).order_by("code").values_list("code", flat=True)[:3])
base = datetime(2025, 3, 2, 8, tzinfo=ZoneInfo("Asia/Shanghai"))
stop = os.environ["WRITER_STOP"]

def item(n, fees):
    exit_at = base + timedelta(minutes=7 * n)
    return {
        "transit_id": f"MOVE-{n:06d}", "card_no": card_no, "plate": "豫A00000", "plate_color": 0,
        "vehicle_class": "passenger", "entry_station": "演示入口站",
        "entry_time": (exit_at - timedelta(hours=1)).isoformat(), "exit_station": "演示出口站",
        "exit_time": exit_at.isoformat(), "fee": sum(fees),
        "segments": [{"section_code": c, "fee": f} for c, f in zip(codes, fees)],
    }

pushed, changed, n, rounds = {}, 0, 0, 0
while not os.path.exists(stop) or rounds < 5:
    batch = [item(n + i, [100, 200, 300]) for i in range(20)]
    r = transit_upsert_batch(partner=partner, body={"transits": batch})
    assert r.created == 20 and not r.rejected, (r.created, r.rejected)
    for it in batch:
        pushed[it["transit_id"]] = 3
    # the previous batch's trips get a corrected split of two segments
    if n:
        again = [item(n - 20 + i, [250, 350]) for i in range(0, 20, 2)]
        r = transit_upsert_batch(partner=partner, body={"transits": again})
        assert r.updated == 10 and not r.rejected, (r.updated, r.rejected)
        for it in again:
            pushed[it["transit_id"]] = 2
        changed += 10
    n += 20
    rounds += 1
    time.sleep(0.05)
print("WRITER" + json.dumps({"pushed": pushed, "changed": changed, "rounds": rounds}))
"""


def _base_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db.get('USER') or 'postgres'}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}"


def _marked(output: str, mark: str):
    line = next(x for x in output.splitlines() if x.startswith(mark))
    return json.loads(line[len(mark) :])


@pytest.fixture
def plain_database():
    name = f"piaogen_move_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(_base_url() + "/postgres", autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{_base_url()}/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _run(env: dict, *args: str, timeout: float = 300) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def _counts(url: str) -> dict:
    with psycopg.connect(url) as c:
        q = lambda sql: c.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "trips": q("SELECT count(*) FROM invoices_transit"),
            "segments": q("SELECT count(*) FROM invoices_transitsegment"),
            "keys": q("SELECT count(*) FROM invoices_transitkey"),
            "distinct_ids": q("SELECT count(DISTINCT transit_id) FROM invoices_transit"),
            "trips_without_key": q(
                "SELECT count(*) FROM invoices_transit t LEFT JOIN invoices_transitkey k"
                " ON k.trip_id = t.id AND k.month = t.month WHERE k.transit_id IS NULL"
            ),
            "segments_off_month": q(
                "SELECT count(*) FROM invoices_transitsegment s JOIN invoices_transit t ON t.id = s.transit_id"
                " WHERE s.month <> t.month"
            ),
            "invoices": q("SELECT count(*) FROM invoices_invoice"),
            "lines": q("SELECT count(*) FROM invoices_invoiceline"),
            "invoice_keys": q("SELECT count(*) FROM invoices_invoicekey"),
            "invoices_without_key": q(
                "SELECT count(*) FROM invoices_invoice i LEFT JOIN invoices_invoicekey k ON k.invoice_id = i.id"
                " AND k.month = i.month AND k.code = i.code AND k.number = i.number WHERE k.invoice_id IS NULL"
            ),
            "lines_off_month": q(
                "SELECT count(*) FROM invoices_invoiceline l JOIN invoices_invoice i ON i.id = l.invoice_id"
                " WHERE l.month <> i.month"
            ),
        }


def test_populated_plain_tables_move_into_monthly_partitions_while_partners_push(plain_database, tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": plain_database,
        "PARTITION_ON_MIGRATE": "0",
        "CELERY_TASK_ALWAYS_EAGER": "1",
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "partition-move-test-key-" + "x" * 40),
        "MEDIA_ROOT": str(tmp_path / "media"),
    }
    _run(env, "migrate", "--noinput")
    _run(env, "seed_demo")
    assert "plain table" in _run(env, "partitions", "status")
    before = _counts(plain_database)
    answers_before = _marked(_run(env, "shell", "-c", ANSWERS), "ANSWERS")
    assert len(answers_before) >= 4 and before["trips"] >= 50

    stop = tmp_path / "stop"
    writer = subprocess.Popen(
        [sys.executable, "manage.py", "shell", "-c", WRITER],
        cwd=ROOT,
        env={**env, "WRITER_STOP": str(stop)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.5)  # the partner is pushing before the move starts
        moved = _run(env, "partitions", "move", "--batch", "10")
    finally:
        stop.touch()
        out, err = writer.communicate(timeout=120)
    assert writer.returncode == 0, err[-3000:]
    written = _marked(out, "WRITER")
    assert written["rounds"] >= 5 and written["changed"] >= 40

    assert re.search(r"invoices_transit: \d+ rows before, \d+ after", moved)
    assert re.search(r"invoices_invoiceline: \d+ rows before, \d+ after", moved)
    status = _run(env, "partitions", "status")
    assert "invoices_transit: " in status and "plain table" not in status and "holds 0 rows" in status
    after = _counts(plain_database)
    pushed = written["pushed"]
    assert after["trips"] == before["trips"] + len(pushed)
    assert after["keys"] == after["trips"] == after["distinct_ids"]
    assert after["segments"] == before["segments"] + sum(pushed.values())
    assert after["trips_without_key"] == 0 and after["segments_off_month"] == 0
    # invoices and lines moved too: none lost, each with its key, each line in its invoice's month
    assert before["invoices"] > 0 and before["lines"] >= before["invoices"]
    assert (after["invoices"], after["lines"]) == (before["invoices"], before["lines"])
    assert after["invoice_keys"] == after["invoices"] and after["invoices_without_key"] == 0
    assert after["lines_off_month"] == 0
    with psycopg.connect(plain_database) as c:
        # each trip's segments are exactly what was last pushed
        got = dict(
            c.execute(
                "SELECT t.transit_id, count(s.id) FROM invoices_transit t JOIN invoices_transitsegment s"
                " ON s.transit_id = t.id WHERE t.transit_id LIKE 'MOVE-%%' GROUP BY 1"
            ).fetchall()
        )
        assert got == pushed
        # every row sits in its own month's partition
        for table in ("invoices_transit", "invoices_transitsegment", "invoices_invoice", "invoices_invoiceline"):
            wrong = c.execute(
                f"SELECT count(*) FROM {table} WHERE tableoid::regclass::text <> '{table}_' || replace(month, '-', '_')"
            ).fetchone()[0]
            assert wrong == 0, table
            assert c.execute(f"SELECT count(*) FROM {table}_premove").fetchone()[0] > 0  # kept until dropped
            kind = c.execute(
                "SELECT c.relkind FROM pg_class c WHERE c.relname = %s AND c.relnamespace = 'public'::regnamespace",
                [table],
            ).fetchone()[0]
            assert kind == "p"

    answers_after = _marked(_run(env, "shell", "-c", ANSWERS), "ANSWERS")
    assert answers_after == answers_before

    # new trips after the swap go to their partitions; the kept plain tables can then go
    _run(env, "partitions", "drop-premove")
    with psycopg.connect(plain_database) as c:
        assert c.execute("SELECT to_regclass('invoices_transit_premove')").fetchone()[0] is None
