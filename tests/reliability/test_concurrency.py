"""Concurrency on the real components: several worker processes issuing for the same sellers at
once never give two invoices one number; two confirmations of one card at once bind it once."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from cards.models import Binding, BindingAttempt
from cards.services.binding import binding_confirm, binding_start
from invoices.models import Application, DocumentCounter, Invoice, InvoiceCounter
from invoices.numbering import sequence_of
from tests.conftest import age_sms_codes

from .conftest import celery_broker, push_trips, submit, wait_for
from .test_faults import assert_gap_free

APPLICATIONS = 24
TRIPS_EACH = 5  # three operators a trip: 15 invoices an application, 360 in all, one seller province


@pytest.mark.worker
def test_four_worker_processes_issuing_for_one_seller_never_share_a_number(world, workers, own_redis):
    trips = push_trips(world, APPLICATIONS * TRIPS_EACH)
    with celery_broker(own_redis.url):
        # Two worker processes with two pool processes each: four issuers of the same counter row.
        pool = [workers(own_redis.url, concurrency=2) for _ in range(2)]
        started = time.monotonic()
        ids = [submit(world, transit_ids=trips[i * TRIPS_EACH : (i + 1) * TRIPS_EACH]) for i in range(APPLICATIONS)]
        wait_for(lambda: Application.objects.filter(pk__in=ids, status="issued").count() == APPLICATIONS, timeout=180)
        elapsed = time.monotonic() - started
    assert not Application.objects.filter(status="failed").exists()
    assert_gap_free(APPLICATIONS * TRIPS_EACH * 3)
    # Today's trips: a fiscal e-bill series (the loan-repayment share) and a 数电 series.
    series = {sequence_of(c, n)[0] for c, n in Invoice.objects.values_list("code", "number")}
    assert len(series) == 2 == DocumentCounter.objects.count() and not InvoiceCounter.objects.exists()
    per_app = {a: Invoice.objects.filter(application_id=a).count() for a in ids}
    assert set(per_app.values()) == {TRIPS_EACH * 3}
    # Each application's numbers form one block: taken with one UPDATE … RETURNING.
    for app_id in ids:
        pairs = Invoice.objects.filter(application_id=app_id).values_list("code", "number")
        positions = [sequence_of(c, n) for c, n in pairs]
        for one in series:
            numbers = sorted(n for s, n in positions if s == one)
            assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    # The work really was shared: every worker process issued some of it.
    for worker in pool:
        assert "issue_application" in worker.text()
    print(f"\n{APPLICATIONS} applications, {APPLICATIONS * TRIPS_EACH * 3} invoices by 4 processes in {elapsed:.1f}s")


def _confirm(user, binding_id, code, barrier, outcomes):
    try:
        barrier.wait(10)
        binding_confirm(user=user, binding_id=binding_id, code=code)
        outcomes.append("bound")
    except Exception as exc:  # the refusal is the point: its code is recorded and asserted
        outcomes.append(getattr(exc, "code", type(exc).__name__))
    finally:
        connection.close()


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_confirmations_of_one_card_at_once_bind_it_once(world, make_user, sms):
    card = world.cards[1]  # not bound yet
    users = [make_user(), make_user()]
    attempts, codes = [], []
    for user in users:  # both typed the right reserved details and got a code on the reserved mobile
        age_sms_codes()
        attempts.append(
            binding_start(
                user=user,
                card_no=card["card_no"],
                id_type="resident_id",
                id_number=card["id_number"],
                mobile=card["mobile"],
            )
        )
        codes.append(sms.last_code(card["mobile"], "bind"))
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    threads = [
        threading.Thread(target=_confirm, args=(u, a.public_id, c, barrier, outcomes))
        for u, a, c in zip(users, attempts, codes, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["already_bound", "bound"], outcomes
    assert Binding.objects.filter(card__card_no=card["card_no"], ended_at__isnull=True).count() == 1
    assert BindingAttempt.objects.filter(card__card_no=card["card_no"], outcome="bound").count() == 1


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_one_confirmation_sent_twice_at_once_binds_once(world, sms):
    card = world.cards[1]
    user = world.user.user
    age_sms_codes()
    attempt = binding_start(
        user=user, card_no=card["card_no"], id_type="resident_id", id_number=card["id_number"], mobile=card["mobile"]
    )
    code = sms.last_code(card["mobile"], "bind")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    threads = [
        threading.Thread(target=_confirm, args=(user, attempt.public_id, code, barrier, outcomes)) for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert outcomes.count("bound") == 1 and len(outcomes) == 2, outcomes
    assert Binding.objects.filter(card__card_no=card["card_no"], ended_at__isnull=True).count() == 1
