"""The console (Django admin) shows every kind of document: the kind as a column and a filter,
each kind's reference, and the 红字确认单 of reversed 数电 invoices, read-only."""

import re

import pytest
from django.urls import reverse

from invoices.models import Invoice, RedLetterConfirmation
from invoices.regimes import DocumentKind

from . import test_regimes
from .test_invoicing import THREE, title
from .test_regimes import push

pytestmark = [pytest.mark.regimes, pytest.mark.django_db]
applied = test_regimes.applied  # the fixture: submits through the App API and issues


@pytest.fixture
def reversed_digital(world, applied, django_capture_on_commit_callbacks):
    push(world, [("T1", world.when, THREE)])
    app = applied(title_id=title(world.user))
    blue = app.invoices.filter(document_kind=DocumentKind.DIGITAL_E_INVOICE).first()
    with django_capture_on_commit_callbacks(execute=True):
        assert world.user.post(f"/api/v1/app/invoices/{blue.pk}/reverse").status_code == 202
    return RedLetterConfirmation.objects.get(original=blue)


def rows(body: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "|", row) for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)[1:]]


def test_invoices_list_shows_the_kind_and_each_kinds_reference_and_filters_by_kind(agent, reversed_digital):
    url = reverse("admin:invoices_invoice_changelist")
    body = agent.get(url).content.decode()
    assert "票据种类" in body and "代码/号码" in body
    fiscal = Invoice.objects.get(document_kind=DocumentKind.FISCAL_E_BILL)
    assert f"{fiscal.code} {fiscal.number}" in body and "通行费财政电子票据" in body
    for inv in Invoice.objects.filter(document_kind=DocumentKind.DIGITAL_E_INVOICE):
        assert any(f"|{inv.number}|" in row and "电子发票（普通发票）" in row for row in rows(body)), inv.number
    only = agent.get(url, {"document_kind__exact": DocumentKind.FISCAL_E_BILL}).content.decode()
    assert fiscal.number in only and reversed_digital.original.number not in only


def test_searching_a_digital_number_or_a_fiscal_code_and_number_finds_the_document(agent, reversed_digital):
    url = reverse("admin:invoices_invoice_changelist")
    blue = reversed_digital.original
    body = agent.get(url, {"q": blue.number}).content.decode()
    assert blue.number in body
    assert reversed_digital.red_invoice.number not in body
    fiscal = Invoice.objects.get(document_kind=DocumentKind.FISCAL_E_BILL)
    body = agent.get(url, {"q": f"{fiscal.code}{fiscal.number}"}).content.decode()
    assert fiscal.number in body and blue.number not in body


def test_red_letter_confirmations_are_listed_read_only(agent, reversed_digital):
    url = reverse("admin:invoices_redletterconfirmation_changelist")
    body = agent.get(url).content.decode()
    c = reversed_digital
    [row] = [r for r in rows(body) if c.number in r]
    for text in (
        c.original.number,
        c.red_invoice.number,
        f"{c.total_net / 100:,.2f}",
        f"{c.total_tax / 100:.2f}",
        "申请红冲",
    ):
        assert text in row, text
    page = agent.get(reverse("admin:invoices_redletterconfirmation_change", args=[c.pk])).content.decode()
    assert c.number in page and 'name="_save"' not in page
    assert agent.get(reverse("admin:invoices_redletterconfirmation_add")).status_code == 403
    r = agent.post(reverse("admin:invoices_redletterconfirmation_change", args=[c.pk]), {"reason": "改"})
    assert r.status_code == 403
    c.refresh_from_db()
    assert c.reason == "申请红冲"
