"""Faults on the real components: a worker killed with SIGKILL in the middle of issuing, the
broker gone while users submit, a task delivered twice, a database error in the middle of a
partner's batch. What must hold every time: exactly the right invoices, no duplicate, no gap
in the numbers, no lost application, no half-stored batch, no 500."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from invoices import services
from invoices.models import Application, ApplicationEvent, Invoice, InvoiceCounter, InvoiceLine, Transit
from invoices.numbering import sequence_of
from invoices.tasks import issue_application

from .conftest import celery_broker, push_trips, submit, title, trip, wait_for

SUCCEEDED = re.compile(r"Task invoices\.tasks\.issue_application\[([0-9a-f-]+)\] succeeded")
FAST_REDELIVERY = {"visibility_timeout": 2, "unacked_restore_interval": 1, "unacked_restore_throttle": 1}


def assert_gap_free(expected: int) -> None:
    """Every series of numbers (a VAT or fiscal e-bill code, a 数电 series) runs 1…n: the worker
    processes issue under the product's regime dates, so today's trips give two kinds."""
    pairs = list(Invoice.objects.values_list("code", "number"))
    assert len(pairs) == expected == len(set(pairs))
    positions = [sequence_of(c, n) for c, n in pairs]
    for series in {s for s, _ in positions}:
        numbers = sorted(n for s, n in positions if s == series)
        assert numbers == list(range(1, len(numbers) + 1)), f"gap or repeat in {series}"


@pytest.mark.worker
def test_a_worker_killed_mid_issue_and_started_again_issues_exactly_once(world, workers, own_redis, tmp_path):
    trips = push_trips(world, 100)  # 100 trips on three operators' roads: 300 invoices
    stall = tmp_path / "stalled"
    with celery_broker(own_redis.url):
        first = workers(own_redis.url, stall_file=stall)
        app_id = submit(world)
        # The worker has claimed the application, taken 300 numbers and written 300 invoices in
        # its open transaction, and is frozen there.
        assert wait_for(lambda: stall.exists() and stall.read_text(), timeout=90) == f"{app_id} 300"
        first.kill()

        # What a dead worker leaves: its claim and its unacknowledged message, nothing else.
        app = Application.objects.get(pk=app_id)
        assert app.status == "issuing" and app.invoice_count == 0
        assert not Invoice.objects.exists() and not InvoiceLine.objects.exists()
        assert not InvoiceCounter.objects.filter(next_number__gt=1).exists()  # the numbers went back
        assert set(Transit.objects.values_list("state", flat=True)) == {"applied"}
        broker = own_redis.client()
        assert broker.hlen("unacked") == 1

        # Beat's sweep finds it 'issuing' past STALE_ISSUING and queues it again; the restarted
        # worker, with a short visibility timeout, also gets the dead worker's message back.
        later = timezone.now() + services.STALE_ISSUING + timedelta(seconds=1)
        assert services.applications_sweep(now=later) == 1
        second = workers(own_redis.url, transport_options=FAST_REDELIVERY)
        restarted = time.monotonic()
        wait_for(lambda: Application.objects.filter(pk=app_id, status="issued").exists(), timeout=120)
        recovered = time.monotonic() - restarted
        # Both deliveries ran (the sweep's and the redelivered one); the second was a no-op.
        wait_for(lambda: len(set(SUCCEEDED.findall(second.text()))) >= 2, timeout=60)
        wait_for(lambda: broker.hlen("unacked") == 0 and broker.llen("default") == 0, timeout=30)

    app = Application.objects.get(pk=app_id)
    assert app.invoice_count == 300
    assert_gap_free(300)
    assert InvoiceLine.objects.count() == 300
    assert set(InvoiceLine.objects.values_list("transit__transit_id", flat=True)) == set(trips)
    assert set(Transit.objects.values_list("state", flat=True)) == {"invoiced"}
    assert ApplicationEvent.objects.filter(application_id=app_id, kind="issued").count() == 1
    print(f"\nkill mid-issue: 300 invoices issued {recovered:.1f}s after the restart, 2 deliveries, 0 duplicates")
    assert app.total == sum(Invoice.objects.values_list("total", flat=True)) == 100 * (9733 + 1200 + 500)


@pytest.mark.worker
def test_a_killed_workers_application_is_issued_within_a_minute_of_a_worker_being_back(
    world, workers, own_redis, tmp_path
):
    """Production settings on Redis: no sweep runs (its claim is 10 minutes away) and the
    visibility timeout is the default 4 hours; the restarted worker queues the claim on start."""
    push_trips(world, 30)
    stall = tmp_path / "stalled"
    with celery_broker(own_redis.url):
        first = workers(own_redis.url, stall_file=stall)
        app_id = submit(world)
        wait_for(lambda: stall.exists(), timeout=90)
        first.kill()
        assert Application.objects.get(pk=app_id).status == "issuing"
        second = workers(own_redis.url)  # returns once the worker says "ready."
        back = time.monotonic()
        wait_for(lambda: Application.objects.filter(pk=app_id, status="issued").exists(), timeout=60)
        recovered = time.monotonic() - back
        assert "1 applications in flight queued again" in second.text()
        assert own_redis.client().hlen("unacked") >= 1  # the dead worker's message still waits its 4 h
    assert Invoice.objects.count() == 90
    assert_gap_free(90)
    assert ApplicationEvent.objects.filter(application_id=app_id, kind="issued").count() == 1
    print(f"\nworker back: the dead worker's application issued {recovered:.1f}s after a worker was ready")


@pytest.mark.worker
def test_the_broker_down_while_users_submit_loses_nothing(world, workers, own_redis, client, settings):
    trips = push_trips(world, 30)
    title(world.user)
    client.force_login(world.user.user)
    # As in production, one Redis is the broker and the cache (the limits' counters).
    settings.CACHES = {"default": {"BACKEND": "piaogen.cache.PooledRedisCache", "LOCATION": own_redis.url}}
    with celery_broker(own_redis.url):
        worker = workers(own_redis.url)
        baseline = submit(world, transit_ids=trips[0:3])
        wait_for(lambda: Application.objects.filter(pk=baseline, status="issued").exists(), timeout=60)

        own_redis.stop()  # the broker crashes; the worker keeps trying to reconnect
        health = client.get("/healthz")
        assert health.status_code == 200
        assert (health.json()["broker"], health.json()["cache"]) == ("unavailable", "unavailable")
        # the App and partner APIs answer as usual: limits count in this process meanwhile
        login = APIClient().post(
            "/api/v1/app/login", {"mobile": world.user.user.mobile, "password": "secret123abc"}, format="json"
        )
        assert login.status_code == 200, login.content
        assert world.user.get("/api/v1/app/cards").status_code == 200
        assert world.clearing.post("/api/v1/partner/transits", {"transits": []}, format="json").status_code == 200
        submitted, slowest = [], 0.0
        for n in range(1, 8):  # seven users submit through the App while the broker is down
            started = time.monotonic()
            submitted.append(submit(world, transit_ids=trips[3 * n : 3 * n + 3]))
            slowest = max(slowest, time.monotonic() - started)
        # and one through the page 我要开票: its confirmation step, then 确认开票
        form = {
            "card": world.card_no,
            "month": "2026-09",
            "transit_ids": trips[24:27],
            "title_id": title(world.user),
            "mode": "per_trip",
        }
        digest = client.post(reverse("invoices:apply"), form).context["plan"].digest
        started = time.monotonic()
        page = client.post(reverse("invoices:apply"), form | {"step": "confirm", "plan_digest": digest})
        slowest = max(slowest, time.monotonic() - started)
        assert page.status_code == 302, page.content.decode()[:500]
        submitted.append(int(page["Location"].rstrip("/").rsplit("/", 1)[1]))
        assert slowest < 5, f"a submit took {slowest:.1f}s with the broker down"
        assert set(Application.objects.filter(pk__in=submitted).values_list("status", flat=True)) == {"submitted"}

        outage = time.monotonic()
        own_redis.start()  # back, empty: nothing of the outage was ever queued
        assert own_redis.client().llen("default") == 0
        later = timezone.now() + services.STALE_SUBMITTED + timedelta(seconds=1)
        assert services.applications_sweep(now=later) == len(submitted) == 8
        wait_for(
            lambda: Application.objects.filter(pk__in=submitted, status="issued").count() == len(submitted),
            timeout=120,
        )
        assert worker.proc.poll() is None  # the same worker, reconnected by itself
        print(f"\nbroker down: 8 submits, slowest {slowest:.2f}s, all issued {time.monotonic() - outage:.1f}s after")

    assert Application.objects.filter(status="issued").count() == 9
    assert_gap_free(27 * 3)
    assert set(Transit.objects.filter(transit_id__in=trips[:27]).values_list("state", flat=True)) == {"invoiced"}


@pytest.mark.worker
def test_a_task_delivered_three_times_at_once_issues_once(world, workers, own_redis):
    push_trips(world, 10)
    with celery_broker(own_redis.url):
        app_id = submit(world)  # the first message, published once the submit commits
        issue_application.delay(app_id)  # and the same delivery twice more, waiting in the queue
        issue_application.delay(app_id)
        assert own_redis.client().llen("default") == 3
        worker = workers(own_redis.url, concurrency=3)  # three processes take them at once
        # (a starting worker also queues what is in flight once more: a fourth delivery)
        wait_for(lambda: len(SUCCEEDED.findall(worker.text())) >= 3, timeout=90)
        time.sleep(3)
        done = len(SUCCEEDED.findall(worker.text()))
        issue_application.delay(app_id)  # a late duplicate, after the issue
        wait_for(lambda: len(SUCCEEDED.findall(worker.text())) == done + 1, timeout=60)
    assert Application.objects.get(pk=app_id).status == "issued"
    assert_gap_free(30)
    assert ApplicationEvent.objects.filter(application_id=app_id, kind="issued").count() == 1


# --- a database error in the middle of a partner's batch -------------------------------------------

FAULT_FEE = 4242


def _install_fault() -> None:
    """A trigger that fails the insert of one segment: a real database error, raised by the
    database in the middle of the batch, after its trips were written."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION reliability_fault() RETURNS trigger AS $$ BEGIN "
                f"IF NEW.fee = {FAULT_FEE} THEN RAISE EXCEPTION 'injected fault' USING ERRCODE = '57P01'; END IF; "
                "RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                "CREATE TRIGGER reliability_fault BEFORE INSERT ON invoices_transitsegment "
                "FOR EACH ROW EXECUTE FUNCTION reliability_fault()"
            )
        else:
            cursor.execute(
                "CREATE TRIGGER reliability_fault BEFORE INSERT ON invoices_transitsegment "
                f"WHEN NEW.fee = {FAULT_FEE} BEGIN SELECT RAISE(ABORT, 'injected fault'); END"
            )


def _remove_fault() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "DROP TRIGGER reliability_fault"
            + (" ON invoices_transitsegment" if connection.vendor == "postgresql" else "")
        )


@pytest.mark.django_db
def test_a_database_error_mid_batch_stores_nothing_and_says_so(world):
    good = [
        trip(f"G{i}", world.card_no, world.when + timedelta(hours=i), [("S-A3", 1000), ("S-B5", 200)])
        for i in range(40)
    ]
    faulty = trip("F1", world.card_no, world.when + timedelta(days=1), [("S-A3", 1000), ("S-B5", FAULT_FEE)])
    bad = trip("B1", "41019999999999999999", world.when, [("S-A3", 1)])  # an unknown card: rejected
    batch = good[:20] + [faulty, bad] + good[20:]
    _install_fault()
    r = world.clearing.post("/api/v1/partner/transits", {"transits": batch}, format="json")
    assert r.status_code == 503
    body = r.json()
    assert body["code"] == "batch_not_stored" and body["stored"] == 0 and "没有任何一项被保存" in body["message"]
    assert int(r["Retry-After"]) > 0
    assert not Transit.objects.exists()  # the 21 trips written before the failing segment are gone too

    _remove_fault()  # the database is healthy again: the same batch, sent again as it is
    r = world.clearing.post("/api/v1/partner/transits", {"transits": batch}, format="json")
    assert r.status_code == 200
    body = r.json()
    assert body["created"] == 41 and [x["index"] for x in body["rejected"]] == [21]
    assert body["created"] + len(body["rejected"]) == len(batch)  # every item stored or reported
    assert Transit.objects.count() == 41
    again = world.clearing.post("/api/v1/partner/transits", {"transits": batch}, format="json").json()
    assert again["unchanged"] == 41 and again["created"] == again["updated"] == 0


@pytest.mark.django_db
def test_a_database_error_in_the_card_registry_push_is_a_503_too(world, monkeypatch):
    from django.db import OperationalError

    from cards.services import registry

    def down(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(registry, "_registry_apply", down)
    item = dict(world.cards[1], card_no="41010000000000000077")
    r = world.issuer.post("/api/v1/partner/cards", {"cards": [item]}, format="json")
    assert r.status_code == 503 and r.json()["code"] == "batch_not_stored"
