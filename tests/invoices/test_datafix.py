import pytest

from invoices import datafix
from invoices.models import Application, ApplicationEvent
from piaogen.errors import ServiceError

from .test_invoicing import THREE, push, title


@pytest.fixture
def staff(django_user_model):
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user("13900009999", "console2026", is_staff=True, name="修正员")
    user.groups.add(Group.objects.get(name="data_fix"))
    return user


@pytest.fixture
def submitted(world, monkeypatch):
    """An application waiting in the outbox (its task kept off)."""
    from invoices import tasks

    monkeypatch.setattr(tasks.issue_application, "delay", lambda *a, **k: None)
    push(world, [("T1", THREE)])
    r = world.user.post(
        "/api/v1/app/applications",
        {"kind": "consumption", "card_no": world.card_no, "month": "2026-09", "title_id": title(world.user)},
        format="json",
    )
    return Application.objects.get(pk=r.json()["id"])


@pytest.mark.django_db
def test_correct_title_before_issuing_is_audited(world, submitted, staff):
    other_title = title(world.user, name="李四")
    datafix.application_correct_title(
        application_id=submitted.pk, title_id=other_title, actor=staff, reason="来电更正姓名"
    )
    submitted.refresh_from_db()
    assert submitted.title_id == other_title
    event = ApplicationEvent.objects.get(application=submitted, kind="title_corrected")
    assert event.actor == staff and event.reason == "来电更正姓名"


@pytest.mark.django_db
def test_correct_title_refusals(world, submitted, staff, app_client):
    stranger_title = title(app_client())
    with pytest.raises(ServiceError) as exc:
        datafix.application_correct_title(application_id=submitted.pk, title_id=stranger_title, actor=staff, reason="x")
    assert "自己的发票抬头" in exc.value.message
    with pytest.raises(ServiceError) as exc:
        datafix.application_correct_title(
            application_id=submitted.pk, title_id=submitted.title_id, actor=staff, reason=" "
        )
    assert "原因" in exc.value.message
    from invoices import services

    services.application_issue(application_id=submitted.pk)
    with pytest.raises(ServiceError) as exc:
        datafix.application_correct_title(
            application_id=submitted.pk, title_id=submitted.title_id, actor=staff, reason="x"
        )
    assert "换票" in exc.value.message


@pytest.mark.django_db
def test_resend_queues_the_mail_again(world, submitted, staff, monkeypatch, django_capture_on_commit_callbacks):
    from invoices import services, tasks

    queued = []
    monkeypatch.setattr(tasks.deliver_application, "delay", lambda app_id: queued.append(app_id))
    with pytest.raises(ServiceError):  # not issued yet
        datafix.application_resend(application_id=submitted.pk, actor=staff, reason="用户没收到")
    services.application_issue(application_id=submitted.pk)
    with pytest.raises(ServiceError) as exc:  # no address on the application
        datafix.application_resend(application_id=submitted.pk, actor=staff, reason="用户没收到")
    assert "邮箱" in exc.value.message
    with pytest.raises(ServiceError):
        datafix.application_resend(application_id=submitted.pk, actor=staff, reason="x", email="not-an-email")
    with django_capture_on_commit_callbacks(execute=True):
        datafix.application_resend(application_id=submitted.pk, actor=staff, reason="用户没收到", email="a@example.com")
    submitted.refresh_from_db()
    assert submitted.email == "a@example.com" and submitted.emailed_at is None and queued == [submitted.pk]
    assert ApplicationEvent.objects.filter(application=submitted, kind="resend_requested", actor=staff).exists()


@pytest.mark.django_db
def test_console_action_asks_for_a_reason_then_corrects(client, world, submitted, staff):
    client.force_login(staff)
    other_title = title(world.user, name="王五")
    url = "/admin/invoices/application/"
    page = client.post(url, {"action": "correct_title", "_selected_action": [submitted.pk]})
    assert page.status_code == 200 and "操作原因" in page.content.decode()
    r = client.post(
        url,
        {
            "action": "correct_title",
            "_selected_action": [submitted.pk],
            "reason": "来电更正",
            "title": str(other_title),
        },
    )
    assert r.status_code == 302
    submitted.refresh_from_db()
    assert submitted.title_id == other_title


@pytest.mark.django_db
def test_correct_title_in_the_console_picks_from_the_users_titles(world, submitted, staff, client):
    """The action lists the user's titles by name (the current one marked), refuses the same
    title and says what happened."""
    from django.urls import reverse

    other = title(world.user, name="李四")
    client.force_login(staff)
    url = reverse("admin:invoices_application_changelist")
    base = {"action": "correct_title", "_selected_action": [submitted.pk]}
    form = client.post(url, base).content.decode()
    assert "李四" in form and "（当前抬头）" in form and 'name="title_id"' not in form
    same = client.post(url, base | {"title": submitted.title_id, "reason": "来电更正"}).content.decode()
    assert "新抬头与申请当前的抬头相同" in same
    submitted.refresh_from_db()
    assert submitted.title_id != other
    done = client.post(url, base | {"title": other, "reason": "来电更正"}, follow=True).content.decode()
    submitted.refresh_from_db()
    assert submitted.title_id == other and "更正为“李四”" in done
    with pytest.raises(ServiceError) as exc:
        datafix.application_correct_title(application_id=submitted.pk, title_id=other, actor=staff, reason="再改")
    assert exc.value.code == "same_title"
