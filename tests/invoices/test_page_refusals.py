"""What the forms of 换票, 红冲, 重新发送邮件, 重新申请 and 我要开票's kind refuse (invoices/forms.py):
the same words the services use, on the page that was sent, nothing stored, never a 500."""

import pytest
from django.urls import reverse

from invoices.models import Application, ApplicationEvent, Invoice, MailResend, Operator, Transit

from . import test_apply_pages, test_invoicing
from .test_invoicing import COMPANY_TAX_ID, THREE, push, title
from .test_title_change_and_resend import fail_on_seller

applied = test_invoicing.applied  # submits through the App API and issues
stored = test_apply_pages.stored  # a stored-value card with two recharges, R1 and R2

# a well-formed address longer than the 254 characters one is stored with
LONG_ADDRESS = "a" * 64 + "@" + ".".join(["b" * 63, "c" * 63, "d" * 63, "com"])


@pytest.fixture
def person(client, world):
    client.force_login(world.user.user)
    return client


@pytest.fixture
def issued(world, applied):
    push(world, [("T1", THREE)])
    tid = title(world.user)
    return Application.objects.get(pk=applied(title_id=tid).json()["id"])


@pytest.mark.django_db
def test_title_change_refuses_an_unticked_box_before_anything_else(world, issued, person):
    other = title(world.user, kind="enterprise", name="演示公司", tax_id=COMPANY_TAX_ID)
    url = reverse("invoices:title_change", args=[issued.pk])
    for sent in ({"title_id": str(other)}, {"title_id": str(other), "confirm": "no"}, {"title_id": "abc"}):
        r = person.post(url, sent)
        assert r.status_code == 200 and "请勾选确认：原发票将全部红冲作废。" in r.content.decode(), sent
        assert "请选择您自己的一个发票抬头" not in r.content.decode()
    assert not Application.objects.filter(kind="title_change").exists()


@pytest.mark.django_db
def test_title_change_refuses_a_title_id_that_is_no_title(world, issued, person):
    url = reverse("invoices:title_change", args=[issued.pk])
    for bad in ("", "abc", "0", "-3", "1.5", "9" * 40):
        r = person.post(url, {"title_id": bad, "confirm": "yes"})
        assert r.status_code == 200 and "请选择您自己的一个发票抬头。" in r.content.decode(), bad
    r = person.post(url, {"confirm": "yes"})
    assert r.status_code == 200 and "请选择您自己的一个发票抬头。" in r.content.decode()
    assert not Application.objects.filter(kind="title_change").exists()
    assert set(Invoice.objects.values_list("status", flat=True)) == {"normal"}


@pytest.mark.django_db
def test_reversal_refuses_an_unticked_box_and_keeps_the_reason_as_typed(
    world, issued, person, django_capture_on_commit_callbacks
):
    inv = Invoice.objects.filter(application=issued).first()
    url = reverse("invoices:reverse", args=[inv.pk])
    for sent in ({}, {"confirm": "no"}, {"confirm": "YES"}, {"confirm": "", "reason": "开错了"}):
        r = person.post(url, sent)
        assert r.status_code == 200 and "请勾选确认后再提交。" in r.content.decode(), sent
    assert not Application.objects.filter(kind="reversal").exists()
    with django_capture_on_commit_callbacks(execute=True):
        r = person.post(url, {"confirm": "yes", "reason": "  开错了 "})
    reversal = Application.objects.get(kind="reversal")
    assert r.status_code == 302 and r["Location"] == reverse("invoices:application", args=[reversal.pk])
    assert ApplicationEvent.objects.get(application=reversal, kind="submitted").reason == "  开错了 "


@pytest.mark.django_db
def test_resend_refuses_what_is_no_mail_address(world, issued, person):
    url = reverse("invoices:application_resend", args=[issued.pk])
    for bad in ({}, {"email": ""}, {"email": "   "}, {"email": "nope"}, {"email": "a@b"}, {"email": LONG_ADDRESS}):
        r = person.post(url, bad, follow=True)
        assert r.status_code == 200 and "请填写正确的邮箱地址。" in r.content.decode(), bad
    assert MailResend.objects.count() == 0


@pytest.mark.django_db
def test_reapply_takes_a_title_that_is_no_number_as_the_failed_applications_own(
    world, applied, person, app_client, django_capture_on_commit_callbacks
):
    push(world, [("T1", THREE)])
    tid = title(world.user)
    failed = fail_on_seller(world, applied, tid)
    Operator.objects.filter(code="OP-B").update(tax_id=Operator.objects.get(code="OP-A").tax_id)
    url = reverse("invoices:application_reapply", args=[failed.pk])
    # a number that is not one of the user's titles is the service's refusal, said on the page
    for bad in (str(title(app_client())), "0", "9" * 40):
        r = person.post(url, {"title_id": bad}, follow=True)
        assert "请选择您自己的一个发票抬头" in r.content.decode(), bad
    assert Application.objects.count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        r = person.post(url, {"title_id": "abc"})
    again = Application.objects.exclude(pk=failed.pk).get()
    assert r.url == reverse("invoices:application", args=[again.pk])
    assert again.title_id == failed.title_id and again.status == "issued"
    assert set(Transit.objects.values_list("state", flat=True)) == {"invoiced"}


@pytest.mark.django_db
def test_apply_shows_the_kind_sent_again_with_the_refusal(world, person, stored):
    # a stored-value card that has not chosen: the form sent for recharges, refused for its
    # missing title, comes back as the recharge form with the ticks kept
    data = {"card": stored, "month": "2026-08", "kind": "recharge", "recharge_ids": ["R1"]}
    r = person.post(reverse("invoices:apply"), data)
    body = r.content.decode()
    assert r.status_code == 200 and "请选择发票抬头。" in body
    assert 'name="recharge_ids"' in body and 'value="R1" checked' in body
    assert "请选择这张储值卡的开票方式" not in body
    # a kind that is none: refused, and the page asks for the choice again
    r = person.post(reverse("invoices:apply"), data | {"kind": "bogus", "title_id": str(title(world.user))})
    body = r.content.decode()
    assert r.status_code == 200 and "请选择这张储值卡的开票方式" in body and not Application.objects.exists()
