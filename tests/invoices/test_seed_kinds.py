"""The demo data holds every kind of document under today's rules, labelled as demo."""

from io import StringIO

import pytest
from django.core.management import call_command

from accounts.seed import demo_user
from invoices.models import Application, Invoice, InvoiceLine, RedLetterConfirmation, Transit
from invoices.regimes import DocumentKind

pytestmark = [pytest.mark.regimes, pytest.mark.django_db]


def test_seed_demo_makes_documents_of_every_kind(sms, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=StringIO())
    user = demo_user()
    invoices = Invoice.objects.filter(user=user)
    assert set(invoices.values_list("document_kind", flat=True)) == set(DocumentKind.values)

    # legacy VAT e-invoices: the trips of June 2019, the loan-repayment share a 不征税 VAT invoice
    legacy = invoices.filter(document_kind=DocumentKind.VAT_E_INVOICE)
    assert legacy.filter(kind="non_taxable").exists() and legacy.filter(kind="taxable").exists()
    days = set(InvoiceLine.objects.filter(invoice__in=legacy).values_list("date_from__year", flat=True))
    assert days == {2019}
    assert all(len(code) == 12 and len(number) == 8 for code, number in legacy.values_list("code", "number"))

    # fiscal e-bills and 数电 invoices for recent trips
    fiscal = invoices.filter(document_kind=DocumentKind.FISCAL_E_BILL)
    assert fiscal.exists() and set(fiscal.values_list("kind", flat=True)) == {"non_taxable"}
    digital = invoices.filter(document_kind=DocumentKind.DIGITAL_E_INVOICE, red=False)
    assert digital.filter(kind="taxable").exists() and not digital.exclude(code="").exists()

    # a red-letter 数电 invoice issued against its 红字确认单, naming the original
    confirmation = RedLetterConfirmation.objects.filter(original__user=user, reason="演示：红冲一张发票").get()
    red = confirmation.red_invoice
    assert red.red and red.document_kind == DocumentKind.DIGITAL_E_INVOICE
    assert confirmation.number in red.remarks and confirmation.original.number in red.remarks

    # a recharge application under today's rules: issued, without a summary sheet
    recharge = Application.objects.get(user=user, kind="recharge")
    assert recharge.status == "issued" and recharge.summary_no is None

    # labelled as demo wherever a person reads it
    assert not Transit.objects.exclude(entry_station__contains="演示").exists()
    tolls = invoices.exclude(application__kind="recharge")  # a recharge invoice's seller is the card's issuer
    assert not tolls.exclude(seller_name__contains="演示").exists()

    # a second run adds nothing
    before = (Invoice.objects.count(), Transit.objects.count(), RedLetterConfirmation.objects.count())
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=StringIO())
    assert (Invoice.objects.count(), Transit.objects.count(), RedLetterConfirmation.objects.count()) == before


def test_seed_demo_turns_on_automatic_invoicing_for_the_demo_company(sms, django_capture_on_commit_callbacks):
    from accounts.seed import demo_enterprise_user
    from cards.autoinvoice import latest_available_month
    from cards.models import AutoInvoiceRun, AutoInvoiceSetting, Binding

    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=out)
    company = demo_enterprise_user()
    [setting] = AutoInvoiceSetting.objects.filter(user=company)
    assert setting.enabled and setting.binding_id is None and setting.email.endswith(".invalid")
    runs = list(AutoInvoiceRun.objects.filter(user=company))
    bound = Binding.objects.filter(user=company, ended_at__isnull=True).count()
    assert len(runs) == bound and {run.month for run in runs} == {latest_available_month()}
    applied = [run for run in runs if run.status == AutoInvoiceRun.Status.APPLIED]
    assert applied and all(run.application.status == Application.Status.ISSUED for run in applied)
    assert "自动开票" in out.getvalue() and "演示" in out.getvalue()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=StringIO())
    assert AutoInvoiceRun.objects.filter(user=company).count() == len(runs)
