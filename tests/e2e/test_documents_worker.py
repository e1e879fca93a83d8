"""Documents and mail through a real worker process: rendering runs after the issuing commit,
outside any transaction, under the render task's time limits, and the mail follows."""

import io
import zipfile
from datetime import timedelta

import pytest

from invoices.models import Application, ApplicationEvent, Invoice
from tests.helpers.waiting import wait_for

from ..invoices.conftest import trip
from ..invoices.test_invoicing import THREE, title

pytestmark = pytest.mark.worker


def test_a_worker_renders_every_document_and_mails_the_zip(world, real_worker):
    items = [trip(f"D{i}", world.card_no, world.when + timedelta(hours=i), THREE) for i in range(2)]
    assert world.clearing.post("/api/v1/partner/transits", {"transits": items}, format="json").json()["created"] == 2
    real_worker(concurrency=2)
    r = world.user.post(
        "/api/v1/app/applications",
        {
            "kind": "consumption",
            "card_no": world.card_no,
            "month": "2026-09",
            "title_id": title(world.user),
            "email": "finance@example.com",
        },
        format="json",
    )
    assert r.status_code == 202
    app_id = r.json()["id"]
    wait_for(lambda: ApplicationEvent.objects.filter(application_id=app_id, kind="emailed").exists(), timeout=240)
    app = Application.objects.get(pk=app_id)
    assert app.emailed_at is not None
    invoices = list(Invoice.objects.filter(application=app))
    assert len(invoices) == 6 and {i.render_status for i in invoices} == {"rendered"}
    assert all(i.render_attempts == 1 and i.pdf_size > 0 for i in invoices)
    assert ApplicationEvent.objects.filter(application=app, kind="emailed").count() == 1
    response = world.user.get(f"/api/v1/app/applications/{app.pk}/zip")
    assert response.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))).namelist()
    assert len(names) == 13 and f"summary-{app.summary_no}.pdf" in names
