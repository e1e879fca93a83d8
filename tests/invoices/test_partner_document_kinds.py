"""The buyer enterprise downloads its fiscal e-bills (code and number) and 数电 invoices (the
20-digit number alone) through the partner API, like its VAT e-invoices."""

import pytest

from invoices.documents import storage
from invoices.models import Invoice
from piaogen.demo import demo_uscc

from .test_documents import issue
from .test_invoicing import COMPANY_TAX_ID, applied  # noqa: F401  (fixture)

pytestmark = [pytest.mark.regimes, pytest.mark.documents]


def stored(path: str) -> bytes:
    with storage.open_file(path) as f:
        return f.read()


@pytest.mark.django_db
def test_the_buyer_downloads_its_fiscal_e_bills_and_digital_invoices(world, applied, partner_client):  # noqa: F811
    app = issue(world, applied)
    fiscal = Invoice.objects.get(application=app, document_kind="fiscal_e_bill")
    digital = Invoice.objects.filter(application=app, document_kind="digital_e_invoice").first()
    company = partner_client("enterprise", name="演示科技有限公司", tax_id=COMPANY_TAX_ID)
    r = company.get(f"/api/v1/partner/invoices/{fiscal.code}/{fiscal.number}/pdf")
    assert r.status_code == 200 and b"".join(r.streaming_content) == stored(fiscal.pdf_path)
    r = company.get(f"/api/v1/partner/invoices/{digital.number}/pdf")
    assert r.status_code == 200 and b"".join(r.streaming_content) == stored(digital.pdf_path)
    assert f"digital-e-invoice-{digital.number}.pdf" in r["Content-Disposition"]
    r = company.get(f"/api/v1/partner/invoices/{digital.number}/xml")
    assert r.status_code == 200 and digital.number in b"".join(r.streaming_content).decode()
    # refusals: another buyer, a number of the wrong shape, a 数电 number with a code, other partners
    stranger = partner_client("enterprise", name="别家", tax_id=demo_uscc("91110000MA01DEM01"))
    assert stranger.get(f"/api/v1/partner/invoices/{digital.number}/pdf").status_code == 404
    assert company.get(f"/api/v1/partner/invoices/{digital.number[:-1]}/pdf").status_code == 404
    assert company.get(f"/api/v1/partner/invoices/{fiscal.code}/{digital.number}/pdf").status_code == 404
    assert company.get(f"/api/v1/partner/invoices/{fiscal.code}/{fiscal.number[:-2]}/pdf").status_code == 404
    assert world.clearing.get(f"/api/v1/partner/invoices/{digital.number}/pdf").status_code == 403
