"""Issuing through a real worker process, with the commit happening before the task runs."""

from datetime import timedelta

import pytest

from invoices.models import Application, Invoice
from tests.helpers.waiting import wait_for

from ..invoices.conftest import trip
from ..invoices.test_batches import BATCHES, body, fleet  # noqa: F401  (fixture)
from ..invoices.test_invoicing import THREE, title

# The worker process runs under the product's regime dates: today's trips give fiscal e-bills
# for the loan-repayment share and 数电 invoices for the rest.
pytestmark = [pytest.mark.worker, pytest.mark.regimes]


def test_a_worker_process_issues_a_submitted_application(world, real_worker):
    items = [trip(f"T{i}", world.card_no, world.when + timedelta(hours=i), THREE) for i in range(5)]
    assert world.clearing.post("/api/v1/partner/transits", {"transits": items}, format="json").json()["created"] == 5
    real_worker()
    r = world.user.post(
        "/api/v1/app/applications",
        {"kind": "consumption", "card_no": world.card_no, "month": "2026-09", "title_id": title(world.user)},
        format="json",
    )
    assert r.status_code == 202
    app = wait_for(lambda: Application.objects.filter(pk=r.json()["id"], status="issued").first(), timeout=60)
    assert app.invoice_count == 15 == Invoice.objects.count()
    for kind, count, sequence in (("fiscal_e_bill", 5, slice(None)), ("digital_e_invoice", 10, slice(5, None))):
        numbers = sorted(
            int(n[sequence]) for n in Invoice.objects.filter(document_kind=kind).values_list("number", flat=True)
        )
        assert numbers == list(range(numbers[0], numbers[0] + count)), kind  # consecutive, each kind its own series


def test_a_worker_process_issues_every_application_of_a_batch_from_its_one_message(fleet, real_worker):  # noqa: F811
    """批量开票 queues its card-months' issuing as one fan-out message after the commit; the
    worker turns it into one issuing task each, and each card-month is issued."""
    real_worker()
    r = fleet.user.post(BATCHES, body(fleet, mode="monthly"), format="json")
    assert r.status_code == 202, r.content
    apps = Application.objects.filter(batch_id=r.json()["id"])
    assert apps.count() == 3
    wait_for(lambda: apps.filter(status="issued").count() == 3, timeout=90)
    assert Invoice.objects.filter(application__batch_id=r.json()["id"]).count() == sum(a.invoice_count for a in apps)
