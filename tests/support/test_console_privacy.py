"""What the console shows of free text: personal numbers masked for every role, the original
stored encrypted and opened only by roles with ``support.reveal``, each opening recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from support import services
from support.models import Call, Reveal, Ticket, TicketMessage

ID = "110101199001010015"
MOBILE = "13800000001"
ID_MASKED = "1101**********0015"
MOBILE_MASKED = "138****0001"
DESCRIPTION = f"{MOBILE} / {ID}"


@pytest.fixture
def case(make_user, staff):
    class Case:
        pass

    c = Case()
    c.user = make_user(name="王小明")
    c.agent, c.supervisor, c.datafix = staff("agent"), staff("supervisor"), staff("data_fix")
    c.ticket = services.ticket_open(
        user=c.user, channel="web", category="binding", subject=f"绑卡失败 证件{ID}", description=DESCRIPTION
    )
    now = timezone.now()
    c.call = services.call_log(
        agent=c.agent,
        caller_number=c.user.mobile,
        started_at=now - timedelta(minutes=3),
        ended_at=now,
        category="binding",
        summary=f"来电称…身份证{ID}，手机{MOBILE}",
    )
    return c


def page(client, user, url, **kw):
    client.force_login(user)
    r = client.get(url, **kw)
    assert r.status_code == 200, r.status_code
    return r.content.decode()


def raw(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608 (names are ours)
        return cursor.fetchone()[0]


def test_texts_are_stored_as_written_and_encrypted_at_rest(case):
    message = case.ticket.messages.get()
    assert message.body == DESCRIPTION and Ticket.objects.get(pk=case.ticket.pk).subject == f"绑卡失败 证件{ID}"
    for table, column, pk in (
        ("support_ticketmessage", "body", message.pk),
        ("support_ticket", "subject", case.ticket.pk),
        ("support_call", "summary", case.call.pk),
    ):
        stored = raw(table, column, pk)
        assert ID not in stored and MOBILE not in stored and "证件" not in stored, table
    assert raw("support_ticket", "subject_masked", case.ticket.pk) == f"绑卡失败 证件{ID_MASKED}"
    assert ID_MASKED in raw("support_call", "summary_masked", case.call.pk)


@pytest.mark.parametrize("role", ["agent", "supervisor", "datafix"])
def test_every_role_sees_free_text_masked(client, case, role):
    staff = getattr(case, role)
    for url in (
        reverse("admin:support_ticket_change", args=[case.ticket.pk]),
        reverse("admin:support_ticket_changelist"),
        reverse("admin:support_call_change", args=[case.call.pk]),
        reverse("admin:support_ticket_history", args=[case.ticket.pk]),
        reverse("admin:support_call_history", args=[case.call.pk]),
        reverse("admin:support_customer_view", args=[case.user.pk]),
    ):
        body = page(client, staff, url)
        assert ID not in body and MOBILE not in body, url
    ticket_page = page(client, staff, reverse("admin:support_ticket_change", args=[case.ticket.pk]))
    assert f"{MOBILE_MASKED} / {ID_MASKED}" in ticket_page
    reveal_link = reverse("admin:support_reveal", args=["ticket_message", case.ticket.messages.get().pk])
    assert (reveal_link in ticket_page) == (role != "agent")  # no link a role cannot use


def test_an_agent_cannot_open_an_original(client, case):
    client.force_login(case.agent)
    message = case.ticket.messages.get()
    url = reverse("admin:support_reveal", args=["ticket_message", message.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"reason": "看看"}).status_code == 403
    assert not Reveal.objects.exists()


def test_a_supervisor_opens_an_original_with_a_reason_and_it_is_recorded(client, case):
    client.force_login(case.supervisor)
    message = case.ticket.messages.get()
    url = reverse("admin:support_reveal", args=["ticket_message", message.pk])
    form = client.get(url)
    assert form.status_code == 200 and ID not in form.content.decode() and "查看原因" in form.content.decode()
    refused = client.post(url, {"reason": "  "})
    assert refused.status_code == 200 and ID not in refused.content.decode() and not Reveal.objects.exists()
    shown = client.post(url, {"reason": f"核对证件号码 {ID}"})
    body = shown.content.decode()
    assert shown.status_code == 200 and DESCRIPTION in body and "no-store" in shown["Cache-Control"]
    [reveal] = Reveal.objects.all()
    assert (reveal.staff, reveal.text, reveal.object_id, reveal.ticket) == (
        case.supervisor,
        "ticket_message",
        message.pk,
        case.ticket,
    )
    assert reveal.reason == f"核对证件号码 {ID_MASKED}"  # the reason itself is kept masked
    listing = page(client, case.supervisor, reverse("admin:support_reveal_changelist"))
    assert case.ticket.ref in listing and "工单消息" in listing and ID not in listing


@pytest.mark.parametrize(
    "text, attr", [("ticket_subject", "ticket"), ("call_summary", "call")], ids=["subject", "summary"]
)
def test_data_fix_opens_subjects_and_summaries(client, case, text, attr):
    obj = getattr(case, attr)
    client.force_login(case.datafix)
    r = client.post(reverse("admin:support_reveal", args=[text, obj.pk]), {"reason": "核对"})
    assert r.status_code == 200 and ID in r.content.decode()
    assert Reveal.objects.get().text == text
    # data_fix does not read the record of openings; supervisors do.
    assert client.get(reverse("admin:support_reveal_changelist")).status_code == 403


@pytest.mark.parametrize(
    "text, object_id, status", [("nonsense", 1, 404), ("ticket_message", 999999, 404), ("call_summary", 0, 404)]
)
def test_reveal_refuses_what_does_not_exist(client, case, text, object_id, status):
    client.force_login(case.supervisor)
    r = client.post(reverse("admin:support_reveal", args=[text, object_id]), {"reason": "核对"})
    assert r.status_code == status and not Reveal.objects.exists()


def test_the_reveal_service_refuses_roles_without_the_need(case):
    from piaogen.errors import ServiceError

    with pytest.raises(ServiceError) as exc:
        services.text_reveal(by=case.agent, text="call_summary", object_id=case.call.pk, reason="看")
    assert exc.value.code == "forbidden"


def test_search_uses_the_masked_copy(client, case):
    client.force_login(case.agent)
    url = reverse("admin:support_ticket_changelist")
    assert client.get(url, {"q": "绑卡失败"}).context["cl"].result_count == 1
    assert client.get(url, {"q": "不存在的主题"}).context["cl"].result_count == 0
    calls = reverse("admin:support_call_changelist")
    assert client.get(calls, {"q": "来电称"}).context["cl"].result_count == 1


def test_a_call_logged_from_the_customer_view_is_theirs(client, case):
    """记录来电 from the customer view carries the customer: with no number typed, the caller is
    the account's registered mobile, and the call is linked to it."""
    client.force_login(case.agent)
    add = reverse("admin:support_call_add")
    form = client.get(add, {"user": case.user.pk})
    assert form.context["adminform"].form.initial["user"] == str(case.user.pk)
    now = timezone.localtime().replace(second=0, microsecond=0)
    data = {
        "caller_input": "",
        "started_at_0": now.strftime("%Y-%m-%d"),
        "started_at_1": (now - timedelta(minutes=2)).strftime("%H:%M:%S"),
        "ended_at_0": now.strftime("%Y-%m-%d"),
        "ended_at_1": now.strftime("%H:%M:%S"),
        "category": "trips",
        "summary": "问通行记录",
        "user": case.user.pk,
        "ticket": "",
    }
    assert client.post(add, data).status_code == 302
    call = Call.objects.order_by("-pk").first()
    assert call.user == case.user and call.caller_digest == case.user.mobile_digest
    refused = client.post(add, data | {"user": ""})
    assert refused.status_code == 200 and "请填写来电号码，或选择关联账户" in refused.content.decode()


def test_the_card_page_masks_the_holder_name(client, case):
    from cards.admin import CardAdmin

    assert "holder_name" not in CardAdmin.fields and "holder_masked" in CardAdmin.fields


def test_history_reasons_are_masked(case):
    services.ticket_resolve(ticket=case.ticket, by=case.supervisor)
    services.ticket_reopen(ticket=case.ticket, by=case.supervisor, reason=f"用户 {MOBILE} 复诉")
    reasons = [h.history_change_reason or "" for h in case.ticket.history.all()]
    assert any(MOBILE_MASKED in r for r in reasons) and not any(MOBILE in r for r in reasons)
    assert TicketMessage.objects.filter(ticket=case.ticket, kind="internal_note").count() == 1
