"""Exactly once, with gap-free numbers: a failure in the middle of issuing, and two issuers
at the same application or the same seller at once."""

from datetime import timedelta

import pytest
from django.db import DatabaseError

from invoices import services
from invoices.models import Application, Invoice, InvoiceCounter
from tests.helpers.faults import fail_line_writes
from tests.helpers.races import issue_at_once

from .conftest import trip
from .test_invoicing import THREE, title


def submit(world, month="2026-09", **extra):
    body = {"kind": "consumption", "card_no": world.card_no, "month": month, "title_id": title(world.user)} | extra
    r = world.user.post("/api/v1/app/applications", body, format="json")
    assert r.status_code == 202, r.content
    return r.json()["id"]


def push(world, n, prefix="T", start=None):
    start = start or world.when
    items = [trip(f"{prefix}{i}", world.card_no, start + timedelta(hours=i), THREE) for i in range(n)]
    assert world.clearing.post("/api/v1/partner/transits", {"transits": items}, format="json").json()["created"] == n


@pytest.mark.django_db
def test_a_failure_mid_issue_leaves_nothing_and_no_gap(world, monkeypatch):
    push(world, 4)
    app_id = submit(world)  # eager task did not run: on_commit never fires inside the test transaction
    heal = fail_line_writes(monkeypatch)  # the lines' write fails after the invoices' succeeded
    with pytest.raises(DatabaseError):
        services.application_issue(application_id=app_id)
    # invoices were written and numbers taken before the failure: all of it rolled back
    assert not Invoice.objects.exists()
    assert not InvoiceCounter.objects.filter(next_number__gt=1).exists()
    assert Application.objects.get().status == "issuing"
    heal()
    services.application_issue(application_id=app_id)
    numbers = sorted(int(n) for n in Invoice.objects.values_list("number", flat=True))
    assert numbers == list(range(1, 13))
    assert Application.objects.get().status == "issued"


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_issuers_of_one_application_at_once_issue_it_once(world, no_queue):
    push(world, 20)
    app_id = submit(world)
    assert Application.objects.get().status == "submitted"
    assert issue_at_once([app_id] * 3) == []
    assert Application.objects.get().status == "issued"
    assert Invoice.objects.count() == 60
    pairs = list(Invoice.objects.values_list("code", "number"))
    assert len(set(pairs)) == 60


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_issuers_of_one_seller_at_once_never_share_a_number(world, no_queue):
    push(world, 10, prefix="A")
    first = submit(world)
    world.bind(world.user, world.cards[1])
    items = [trip(f"B{i}", world.cards[1]["card_no"], world.when + timedelta(hours=i), THREE) for i in range(10)]
    world.clearing.post("/api/v1/partner/transits", {"transits": items}, format="json")
    second = submit(world, card_no=world.cards[1]["card_no"])
    assert issue_at_once([first, second, first, second]) == []
    assert set(Application.objects.values_list("status", flat=True)) == {"issued"}
    numbers = sorted(int(n) for n in Invoice.objects.values_list("number", flat=True))
    assert numbers == list(range(1, 61))  # one counter, both applications: no gap, no repeat


@pytest.mark.django_db
def test_a_failing_issuing_hook_is_undone_alone_and_the_invoices_stand(world, monkeypatch):
    from support.models import Notification

    push(world, 2)
    app_id = submit(world)
    seen = []

    def broken(app, invoices):
        seen.append(len(invoices))
        Notification.objects.create(user_id=app.user_id, kind="invoices_issued", title="x", body="x")
        raise RuntimeError("a bug in a hook")

    monkeypatch.setattr(services, "ISSUED_HOOKS", [broken, *services.ISSUED_HOOKS])
    services.application_issue(application_id=app_id)
    app = Application.objects.get(pk=app_id)
    assert app.status == "issued" and app.invoice_count == 6 == seen[0]
    # the broken hook's write was rolled back to its savepoint; the message centre's own hook ran
    [notice] = Notification.objects.filter(user_id=app.user_id)
    assert notice.application_id == app_id and "共 6 张" in notice.body


@pytest.mark.django_db
def test_the_issued_message_commits_with_the_invoices_or_not_at_all(world, monkeypatch):
    from support.models import Notification

    push(world, 2)
    app_id = submit(world)

    def down(*args, **kwargs):
        raise DatabaseError("connection lost")

    original = services.numbering.summary_number
    monkeypatch.setattr(services.numbering, "summary_number", down)  # fails after the hooks wrote
    with pytest.raises(DatabaseError):
        services.application_issue(application_id=app_id)
    assert not Invoice.objects.exists() and not Notification.objects.exists()
    monkeypatch.setattr(services.numbering, "summary_number", original)
    services.application_issue(application_id=app_id)
    assert Notification.objects.filter(application_id=app_id).count() == 1
