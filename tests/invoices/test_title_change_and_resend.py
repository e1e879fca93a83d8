"""换票 to the title the invoices already carry is refused; the pages say what a title change and
a reversal changed; a failed application offers one-step 重新申请; users mail an application's
ZIP again to an address they choose, from the page and the App, a few times a day."""

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from invoices import services
from invoices.documents import services as documents
from invoices.models import Application, ApplicationEvent, Invoice, MailResend, Operator, Transit
from piaogen.errors import ServiceError

from . import test_datafix, test_invoicing
from .test_invoicing import COMPANY_TAX_ID, THREE, push, title

applied = test_invoicing.applied  # the fixture that submits and issues through the App API

ADDRESS = "caiwu@example.com"


# --- 换票 ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_title_change_to_the_title_already_on_the_invoices_is_refused_everywhere(world, applied, client):
    push(world, [("T1", THREE)])
    tid = title(world.user, name="张三")
    twin = title(world.user, name="张三")  # another row, the same buyer block: changes nothing either
    other = title(world.user, kind="enterprise", name="演示公司", tax_id=COMPANY_TAX_ID)
    app_id = applied(title_id=tid).json()["id"]
    for same in (tid, twin):
        r = world.user.post(f"/api/v1/app/applications/{app_id}/title-change", {"title_id": same}, format="json")
        assert r.status_code == 400 and r.json()["code"] == "same_title" and "title_id" in r.json()["errors"]
        with pytest.raises(ServiceError) as exc:
            services.application_title_change(user=world.user.user, application_id=app_id, title_id=same)
        assert exc.value.code == "same_title"
    assert not Application.objects.filter(kind="title_change").exists()
    assert set(Invoice.objects.values_list("status", flat=True)) == {"normal"}

    client.force_login(world.user.user)
    page = client.get(reverse("invoices:title_change", args=[app_id])).content.decode()
    assert f"申请 #{app_id} 的 3 张发票" in page and "当前抬头：张三" in page
    assert f'<option value="{other}">' in page
    assert f'<option value="{tid}">' not in page and f'<option value="{twin}">' not in page
    # a forged post of the current title gets the refusal, not a new application
    r = client.post(reverse("invoices:title_change", args=[app_id]), {"title_id": str(tid), "confirm": "yes"})
    assert r.status_code == 200 and "换票不会改变任何内容" in r.content.decode()


@pytest.mark.django_db
def test_a_corrected_title_row_can_be_used_for_the_title_change(world, applied):
    push(world, [("T1", THREE)])
    tid = title(world.user, kind="enterprise", name="演示公司", tax_id=COMPANY_TAX_ID)
    app_id = applied(title_id=tid).json()["id"]
    r = world.user.patch(f"/api/v1/app/titles/{tid}", {"address": "北京市演示路1号"}, format="json")
    assert r.status_code == 200, r.content
    r = world.user.post(f"/api/v1/app/applications/{app_id}/title-change", {"title_id": tid}, format="json")
    assert r.status_code == 202


@pytest.mark.django_db
def test_the_title_change_page_with_no_other_title_says_what_to_do(world, applied, client):
    push(world, [("T1", THREE)])
    app_id = applied(title_id=title(world.user)).json()["id"]
    client.force_login(world.user.user)
    page = client.get(reverse("invoices:title_change", args=[app_id])).content.decode()
    assert "您还没有其他发票抬头" in page and 'name="title_id"' not in page


@pytest.mark.django_db
def test_after_a_title_change_the_page_says_what_changed(world, applied, client, django_capture_on_commit_callbacks):
    push(world, [("T1", THREE)])
    app_id = applied(title_id=title(world.user, name="张三")).json()["id"]
    new = title(world.user, kind="enterprise", name="演示公司", tax_id=COMPANY_TAX_ID)
    client.force_login(world.user.user)
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(reverse("invoices:title_change", args=[app_id]), {"title_id": str(new), "confirm": "yes"})
    change = Application.objects.get(kind="title_change")
    assert r.status_code == 302 and change.status == "issued"
    page = client.get(reverse("invoices:application", args=[change.pk])).content.decode()
    assert "换票完成：抬头由“张三”改为“演示公司”，3 张发票已红冲并按新抬头重新开具。" in page
    assert "价税合计 ¥0.00" not in page
    # the original application's page has no live invoice left to change
    page = client.get(reverse("invoices:title_change", args=[app_id])).content.decode()
    assert "都已红冲" in page and 'name="title_id"' not in page


# --- 红冲 pages ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_reverse_page_warns_then_shows_no_form_once_reversed(
    world, applied, client, django_capture_on_commit_callbacks
):
    push(world, [("T1", THREE)])
    applied(title_id=title(world.user))
    b = Invoice.objects.get(seller_name="乙一级公路公司")
    client.force_login(world.user.user)
    page = client.get(reverse("invoices:reverse", args=[b.pk])).content.decode()
    assert "由“乙一级公路公司”收取的部分（¥12.00）会重新变为可开票" in page and "确认红冲" in page
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(reverse("invoices:reverse", args=[b.pk]), {"confirm": "yes"})
    reversal = Application.objects.get(kind="reversal")
    assert r.url == reverse("invoices:application", args=[reversal.pk])
    page = client.get(r.url).content.decode()
    link = reverse("invoices:invoice", args=[b.pk])
    assert f'发票 <a href="{link}">{b.code} {b.number}</a>（乙一级公路公司，¥12.00）已红冲作废。' in page
    assert "已可重新开票" in page and "month=2026-09" in page
    for url in (reverse("invoices:reverse", args=[b.pk]), reverse("invoices:invoice", args=[b.pk])):
        page = client.get(url).content.decode()
        assert "确认红冲" not in page and 'href="' + reverse("invoices:reverse", args=[b.pk]) not in page
    assert "已红冲作废" in client.get(reverse("invoices:reverse", args=[b.pk])).content.decode()
    red = Invoice.objects.get(red=True)
    page = client.get(reverse("invoices:invoice", args=[b.pk])).content.decode()
    assert f'对应的红字发票：<a href="{reverse("invoices:invoice", args=[red.pk])}">{red.code} {red.number}</a>' in page
    assert "不能再红冲" in client.get(reverse("invoices:reverse", args=[red.pk])).content.decode()


@pytest.mark.django_db
def test_a_pending_reversal_hides_the_form(world, applied, client):
    push(world, [("T1", THREE)])
    applied(title_id=title(world.user))
    b = Invoice.objects.get(seller_name="乙一级公路公司")
    services.invoice_reverse(user=world.user.user, invoice_id=b.pk)  # queued, not issued (no on_commit here)
    client.force_login(world.user.user)
    page = client.get(reverse("invoices:reverse", args=[b.pk])).content.decode()
    assert "正在处理中" in page and "确认红冲" not in page


# --- a failed application: the way forward ---------------------------------------------------------------


def fail_on_seller(world, applied, tid):
    Operator.objects.filter(code="OP-B").update(tax_id="")
    app_id = applied(title_id=tid).json()["id"]
    app = Application.objects.get(pk=app_id)
    assert app.status == "failed" and "缺少纳税人识别号" in app.failure_reason
    return app


@pytest.mark.django_db
def test_a_failed_application_offers_the_title_fix_and_one_step_reapply(
    world, applied, client, django_capture_on_commit_callbacks
):
    push(world, [("T1", THREE), ("T2", [("S-A3", 1000)])])
    tid = title(world.user)
    failed = fail_on_seller(world, applied, tid)
    client.force_login(world.user.user)
    page = client.get(reverse("invoices:application", args=[failed.pk])).content.decode()
    assert reverse("cards:title_edit", args=[tid]) in page
    assert "这个申请的 2 次通行（¥124.33）已释放" in page and "重新申请开票" in page
    Operator.objects.filter(code="OP-B").update(tax_id=Operator.objects.get(code="OP-A").tax_id)
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(reverse("invoices:application_reapply", args=[failed.pk]), {"title_id": str(tid)})
    again = Application.objects.exclude(pk=failed.pk).get()
    assert r.url == reverse("invoices:application", args=[again.pk])
    assert again.status == "issued" and again.invoice_count == 4 and again.mode == failed.mode
    assert set(Transit.objects.values_list("state", flat=True)) == {"invoiced"}
    # done once: the failed application has nothing left to apply for
    page = client.get(reverse("invoices:application", args=[failed.pk])).content.decode()
    assert "已重新申请或已开票" in page and "重新申请开票" not in page
    r = client.post(reverse("invoices:application_reapply", args=[failed.pk]), {"title_id": str(tid)}, follow=True)
    assert "无需再申请" in r.content.decode() and Application.objects.count() == 2


@pytest.mark.django_db
def test_reapply_refusals(world, applied, app_client):
    push(world, [("T1", THREE)])
    tid = title(world.user)
    issued = applied(title_id=tid).json()["id"]
    with pytest.raises(ServiceError) as exc:
        services.application_reapply(user=world.user.user, application_id=issued)
    assert exc.value.code == "invalid"
    other = app_client()
    with pytest.raises(ServiceError) as exc:
        services.application_reapply(user=other.user, application_id=issued)
    assert exc.value.status == 404


# --- mailing again to an address the user chooses ---------------------------------------------------------


@pytest.fixture
def issued(world, applied, django_capture_on_commit_callbacks):
    push(world, [("T1", THREE)])
    app_id = applied(title_id=title(world.user)).json()["id"]  # no address on the application
    assert mail.outbox == []
    return Application.objects.get(pk=app_id)


staff = test_datafix.staff  # a staff member of the data_fix group

# A well-formed address longer than the 254 characters its column stores.
LONG_ADDRESS = "a" * 64 + "@" + "b" * 63 + "." + ("c" * 63 + ".") * 2 + "cn"


def resend(user, capture, app_id, email):
    with capture(execute=True):
        return user.post(f"/api/v1/app/applications/{app_id}/resend", {"email": email}, format="json")


@pytest.mark.documents
@pytest.mark.django_db
def test_the_app_resends_the_zip_to_the_address_given_from_a_task(world, issued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        r = world.user.post(f"/api/v1/app/applications/{issued.pk}/resend", {"email": ADDRESS}, format="json")
    assert r.status_code == 202, r.content
    body = r.json()
    assert body["status"] == "queued" and body["email"] == ADDRESS and body["remaining_today"] == 4
    assert mail.outbox == [] and len(callbacks) == 1  # nothing sent inside the request: queued on commit
    callbacks[0]()
    [message] = mail.outbox
    assert message.to == [ADDRESS] and "共 3 张" in message.subject
    [(name, _content, mimetype)] = message.attachments
    assert name == f"invoices-{issued.summary_no}.zip" and mimetype == "application/zip"
    issued.refresh_from_db()
    assert issued.email == ""  # the application's own address is left as it was
    assert MailResend.objects.get().sent_at is not None
    events = ApplicationEvent.objects.filter(application=issued, kind__in=["resend_requested", "emailed"])
    assert {e.kind for e in events} == {"resend_requested", "emailed"}
    assert all(e.detail["to"] == "c***@example.com" for e in events) and ADDRESS not in str([e.detail for e in events])
    assert documents.resend_deliver(resend_id=MailResend.objects.get().pk) == "already_sent" and len(mail.outbox) == 1


@pytest.mark.documents
@pytest.mark.django_db
def test_resend_refusals(world, issued, applied, app_client, settings, django_capture_on_commit_callbacks):
    for bad in ("not-an-address", "", None, 42, "a@b", LONG_ADDRESS):
        r = resend(world.user, django_capture_on_commit_callbacks, issued.pk, bad)
        assert r.status_code == 400 and r.json()["code"] == "invalid" and "email" in r.json()["errors"], bad
    r = world.user.post(f"/api/v1/app/applications/{issued.pk}/resend", ["x"], format="json")
    assert r.status_code == 400
    other = app_client()
    r = resend(other, django_capture_on_commit_callbacks, issued.pk, ADDRESS)
    assert r.status_code == 404
    assert resend(world.user, django_capture_on_commit_callbacks, 99999999, ADDRESS).status_code == 404
    # not issued yet
    push(world, [("T9", THREE)])
    pending = services.application_submit_consumption(
        user=world.user.user, card_no=world.card_no, month="2026-09", title_id=title(world.user)
    )
    r = resend(world.user, django_capture_on_commit_callbacks, pending.pk, ADDRESS)
    assert r.status_code == 400 and r.json()["code"] == "not_issued"
    assert MailResend.objects.count() == 0 and mail.outbox == []
    # the daily limit, per user and Asia/Shanghai day
    settings.MAIL_RESENDS_PER_DAY = 2
    assert resend(world.user, django_capture_on_commit_callbacks, issued.pk, ADDRESS).status_code == 202
    assert resend(world.user, django_capture_on_commit_callbacks, issued.pk, "b@example.com").status_code == 202
    r = resend(world.user, django_capture_on_commit_callbacks, issued.pk, ADDRESS)
    assert r.status_code == 429 and r.json()["code"] == "too_many_resends" and "明天" in r.json()["message"]
    assert len(mail.outbox) == 2
    # yesterday's requests do not count today
    MailResend.objects.update(requested_at=timezone.now() - timedelta(days=1, hours=1))
    assert resend(world.user, django_capture_on_commit_callbacks, issued.pk, ADDRESS).status_code == 202


@pytest.mark.documents
@pytest.mark.django_db
def test_the_page_resends_to_a_typed_address(world, issued, client, settings, django_capture_on_commit_callbacks):
    client.force_login(world.user.user)
    page = client.get(reverse("invoices:application", args=[issued.pk])).content.decode()
    assert "重新发送邮件" in page and 'id="rs-email"' in page
    url = reverse("invoices:application_resend", args=[issued.pk])
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(url, {"email": ADDRESS}, follow=True)
    assert f"发票压缩包将发送至 {ADDRESS}" in r.content.decode()
    assert f"正在发送至 {ADDRESS}" in r.content.decode()  # the page answers before the task has run
    assert [m.to for m in mail.outbox] == [[ADDRESS]]
    r = client.post(url, {"email": "nope"}, follow=True)
    assert "请填写正确的邮箱地址" in r.content.decode() and len(mail.outbox) == 1
    settings.MAIL_RESENDS_PER_DAY = 1
    r = client.post(url, {"email": ADDRESS}, follow=True)
    assert "已达每日上限" in r.content.decode() and len(mail.outbox) == 1


def test_the_schema_documents_the_resend_endpoint(db):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    op = schema["paths"]["/api/v1/app/applications/{id}/resend"]["post"]
    assert op["operationId"] == "app_applications_resend"
    assert {"202", "400", "404", "429"} <= set(op["responses"])
    transit = schema["components"]["schemas"]["TransitOut"]["properties"]
    assert {"partly_invoiced", "invoiced"} <= set(transit)


@pytest.mark.django_db
def test_an_address_longer_than_its_column_is_refused_on_applying_and_by_staff(world, staff):
    from invoices import datafix
    from piaogen.errors import ServiceError

    assert len(LONG_ADDRESS) > 254
    push(world, [("T7", THREE)])
    with pytest.raises(ServiceError) as refused:
        services.application_submit_consumption(
            user=world.user.user, card_no=world.card_no, month="2026-09", title_id=title(world.user), email=LONG_ADDRESS
        )
    assert refused.value.code == "invalid" and "email" in refused.value.errors
    assert not Application.objects.exists()
    app = services.application_submit_consumption(
        user=world.user.user, card_no=world.card_no, month="2026-09", title_id=title(world.user)
    )
    with pytest.raises(ServiceError) as refused:
        datafix.application_resend(application_id=app.pk, actor=staff, reason="用户更正邮箱", email=LONG_ADDRESS)
    assert refused.value.code == "invalid" and "email" in refused.value.errors
    app.refresh_from_db()
    assert app.email != LONG_ADDRESS
