"""Documents of the new kinds through a real worker process: a recharge application under
today's rules has no summary sheet, and its mail still goes once its one 数电 invoice is stored
(the last document stored sends the mail; there is no summary sheet to wait for)."""

import io
import zipfile

import pytest

from invoices.models import Application, ApplicationEvent, Invoice
from tests.helpers.waiting import wait_for

from ..invoices.test_invoicing import title

pytestmark = [pytest.mark.worker, pytest.mark.regimes]


@pytest.fixture
def stored_value(world) -> dict:
    """The user's stored-value card, bound before the worker starts (its SMS code is sent eagerly)."""
    world.bind(world.user, world.cards[1])
    return world.cards[1]


def test_a_worker_mails_a_recharge_application_that_has_no_summary_sheet(world, stored_value, real_worker):
    body = {
        "recharges": [
            {
                "recharge_id": "RW1",
                "card_no": stored_value["card_no"],
                "amount": 30000,
                "recharged_at": "2026-09-02T10:00:00+08:00",
            }
        ]
    }
    assert world.issuer.post("/api/v1/partner/recharges", body, format="json").json()["created"] == 1
    real_worker(concurrency=1)
    r = world.user.post(
        "/api/v1/app/applications",
        {
            "kind": "recharge",
            "card_no": stored_value["card_no"],
            "recharge_ids": ["RW1"],
            "title_id": title(world.user),
            "email": "finance@example.com",
        },
        format="json",
    )
    assert r.status_code == 202, r.content
    app_id = r.json()["id"]
    wait_for(lambda: ApplicationEvent.objects.filter(application_id=app_id, kind="emailed").exists(), timeout=240)
    app = Application.objects.get(pk=app_id)
    assert app.status == "issued" and app.summary_no is None and app.emailed_at is not None
    [inv] = Invoice.objects.filter(application=app)
    assert inv.document_kind == "digital_e_invoice" and inv.render_status == "rendered"
    assert inv.pdf_path.endswith(f"/digital-e-invoice-{inv.number}.pdf")
    response = world.user.get(f"/api/v1/app/applications/{app.pk}/zip")
    assert response.status_code == 200 and f'filename="invoices-{app.pk}.zip"' in response["Content-Disposition"]
    names = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))).namelist()
    assert names == [f"digital-e-invoice-{inv.number}.pdf", f"digital-e-invoice-{inv.number}.xml"]
