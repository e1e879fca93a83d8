from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from cards.models import Card, Issuer
from invoices.models import Application, Invoice, Operator, Transit
from piaogen.errors import ServiceError
from support import selectors, services
from support.models import Call, SlaPolicy, Ticket, TicketMessage

pytestmark = pytest.mark.django_db


def open_ticket(user, **extra):
    fields = {"channel": "web", "category": "binding", "subject": "绑卡失败", "description": "提示预留手机号不一致"}
    return services.ticket_open(user=user, **(fields | extra))


def refused(code, service, *args, **kwargs):
    with pytest.raises(ServiceError) as exc:
        service(*args, **kwargs)
    assert exc.value.code == code, exc.value.message
    return exc.value


@pytest.fixture
def people(make_user, staff):
    class P:
        pass

    p = P()
    p.user = make_user(name="王小明")
    p.other = make_user(name="李四")
    p.agent = staff("agent")
    p.agent2 = staff("agent")
    p.supervisor = staff("supervisor")
    p.datafix = staff("data_fix")
    return p


# --- opening -----------------------------------------------------------------------------


def test_open_files_the_ticket_in_its_queue_with_a_due_time_from_the_sla(people):
    SlaPolicy.objects.filter(category="binding").update(hours=10)
    before = timezone.now()
    ticket = open_ticket(people.user)
    assert ticket.status == "new" and ticket.group == "binding" and ticket.priority == "normal"
    assert timedelta(hours=10) <= ticket.due_at - before < timedelta(hours=10, minutes=1)
    [message] = ticket.messages.all()
    assert message.kind == "customer" and message.author == people.user and message.body == "提示预留手机号不一致"
    assert ticket.history.count() == 1


@pytest.mark.parametrize(
    "extra, field",
    [
        ({"category": "weather"}, "category"),
        ({"channel": "fax"}, "channel"),
        ({"subject": "  "}, "subject"),
        ({"subject": "长" * 121}, "subject"),
        ({"description": ""}, "description"),
        ({"priority": "urgent"}, "priority"),  # customers do not set priority
    ],
)
def test_open_refuses_invalid_input(people, extra, field):
    exc = refused("invalid", open_ticket, people.user, **extra)
    assert field in exc.errors
    assert not Ticket.objects.exists()


def test_open_refuses_someone_elses_card_trip_application_or_invoice(world):
    other_card = Card.objects.get(card_no="41010000000000000103")
    other_transit = Transit.objects.get(transit_id="SUP-T9")
    other_application = Application.objects.get(pk=world.other_application["id"])
    other_invoice = Invoice.objects.filter(user=world.other).first()
    for field, value in [
        ("card", other_card),
        ("transit", other_transit),
        ("application", other_application),
        ("invoice", other_invoice),
    ]:
        exc = refused("invalid", open_ticket, world.user, **{field: value})
        assert field in exc.errors
    own = open_ticket(
        world.user,
        card=Card.objects.get(card_no=world.card_no),
        transit=Transit.objects.get(transit_id="SUP-T1"),
        application=Application.objects.get(pk=world.application["id"]),
        invoice=Invoice.objects.filter(user=world.user).first(),
    )
    assert own.card.card_no == world.card_no and own.transit.transit_id == "SUP-T1"


def test_open_caps_tickets_per_account_and_day(people):
    for _ in range(services.OPEN_TICKETS_PER_DAY):
        open_ticket(people.user)
    exc = refused("too_many_tickets", open_ticket, people.user)
    assert exc.status == 429
    open_ticket(people.user, by=people.agent, channel="hotline")  # staff opening for a caller is not capped


def test_staff_may_set_priority_and_it_shortens_the_due_time(people):
    urgent = open_ticket(people.user, by=people.agent, priority="urgent", channel="hotline")
    normal = open_ticket(people.user)
    assert urgent.due_at - urgent.created_at == (normal.due_at - normal.created_at) / 4


# --- replies, notes, customer messages -------------------------------------------------------


def test_reply_tells_the_customer_by_sms_after_commit_and_waits_for_them(
    people, sms, django_capture_on_commit_callbacks
):
    ticket = open_ticket(people.user)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.ticket_reply(ticket=ticket, by=people.agent, body="请联系发行方更新预留手机号。")
    assert not [m for m in sms.messages() if m["purpose"] == "ticket_reply"]  # nothing before commit
    for callback in callbacks:
        callback()
    [notice] = [m for m in sms.messages() if m["purpose"] == "ticket_reply"]
    assert notice["mobile"] == people.user.mobile and ticket.ref in notice["text"]
    ticket.refresh_from_db()
    assert ticket.status == "waiting_customer" and ticket.assignee == people.agent
    assert selectors.unseen_replies(people.user) == [ticket.pk]
    services.ticket_mark_seen(ticket=ticket, user=people.user)
    assert selectors.unseen_replies(people.user) == []


def test_replies_and_notes_are_for_staff_only(people):
    ticket = open_ticket(people.user)
    refused("forbidden", services.ticket_reply, ticket=ticket, by=people.user, body="我自己回复")
    refused("forbidden", services.ticket_note, ticket=ticket, by=people.other, body="备注")
    refused("invalid", services.ticket_reply, ticket=ticket, by=people.agent, body="   ")


def test_internal_notes_never_reach_the_customer(people):
    ticket = open_ticket(people.user)
    services.ticket_note(ticket=ticket, by=people.agent, body="用户情绪激动，注意安抚")
    services.ticket_reply(ticket=ticket, by=people.agent, body="您好，已为您查询。", notify=False)
    thread = [m.body for m in selectors.public_messages(ticket)]
    assert thread == ["提示预留手机号不一致", "您好，已为您查询。"]
    assert TicketMessage.objects.filter(ticket=ticket, kind="internal_note").count() == 1


def test_customer_message_reopens_the_conversation_but_not_someone_elses_ticket(people):
    ticket = open_ticket(people.user)
    services.ticket_reply(ticket=ticket, by=people.agent, body="请提供卡号。", notify=False)
    exc = refused("not_found", services.ticket_customer_message, ticket=ticket, user=people.other, body="插话")
    assert exc.status == 404
    services.ticket_customer_message(ticket=ticket, user=people.user, body="卡号是 4101…")
    ticket.refresh_from_db()
    assert ticket.status == "open"


def test_no_replies_on_resolved_or_closed_tickets(people):
    ticket = open_ticket(people.user)
    services.ticket_resolve(ticket=ticket, by=people.agent)
    refused("ticket_resolved", services.ticket_reply, ticket=ticket, by=people.agent, body="补充")
    refused("ticket_resolved", services.ticket_customer_message, ticket=ticket, user=people.user, body="还有问题")
    services.ticket_close(ticket=ticket, by=people.agent)
    refused("ticket_closed", services.ticket_reply, ticket=ticket, by=people.agent, body="补充")
    refused("ticket_closed", services.ticket_update, ticket=ticket, by=people.agent, priority="high")


# --- assignment, hand-off, resolution ------------------------------------------------------


def test_agents_take_tickets_and_supervisors_assign_them(people):
    ticket = open_ticket(people.user)
    refused("forbidden", services.ticket_assign, ticket=ticket, assignee=people.agent2, by=people.agent)
    refused("forbidden", services.ticket_assign, ticket=ticket, assignee=people.datafix, by=people.datafix)
    services.ticket_assign(ticket=ticket, assignee=people.agent, by=people.agent)
    refused("already_assigned", services.ticket_assign, ticket=ticket, assignee=people.agent, by=people.agent)
    refused("invalid", services.ticket_assign, ticket=ticket, assignee=people.user, by=people.supervisor)
    refused("invalid", services.ticket_assign, ticket=ticket, assignee=people.datafix, by=people.supervisor)
    services.ticket_assign(ticket=ticket, assignee=people.agent2, by=people.supervisor)
    ticket.refresh_from_db()
    assert ticket.assignee == people.agent2 and ticket.status == "open"
    services.ticket_resolve(ticket=ticket, by=people.agent2)
    refused("ticket_resolved", services.ticket_assign, ticket=ticket, assignee=people.agent, by=people.agent)


def test_hand_off_names_the_party_and_its_reference(people, world):
    ticket = open_ticket(people.user)
    issuer = Issuer.objects.get(code="guangdong")
    operator = Operator.objects.get(code="SUP-OP-A")
    refused("invalid", services.ticket_hand_off, ticket=ticket, by=people.agent, reference="R1")
    refused(
        "invalid",
        services.ticket_hand_off,
        ticket=ticket,
        by=people.agent,
        issuer=issuer,
        operator=operator,
        reference="R1",
    )
    refused("invalid", services.ticket_hand_off, ticket=ticket, by=people.agent, issuer=issuer, reference=" ")
    refused("forbidden", services.ticket_hand_off, ticket=ticket, by=people.user, issuer=issuer, reference="R1")
    services.ticket_hand_off(ticket=ticket, by=people.agent, issuer=issuer, reference="YT-2026-88")
    ticket.refresh_from_db()
    assert (ticket.status, ticket.handoff_party, ticket.handoff_to, ticket.handoff_reference) == (
        "handed_off",
        "issuer",
        "广东粤通卡",
        "YT-2026-88",
    )
    assert ticket.handoff_issuer == issuer
    refused(
        "already_handed_off",
        services.ticket_hand_off,
        ticket=ticket,
        by=people.agent,
        operator=operator,
        reference="R2",
    )
    # A staff reply while handed off keeps it with the other party.
    services.ticket_reply(ticket=ticket, by=people.agent, body="已转交发行方。", notify=False)
    ticket.refresh_from_db()
    assert ticket.status == "handed_off"


def test_resolve_and_close(people):
    ticket = open_ticket(people.user)
    refused("not_resolved", services.ticket_close, ticket=ticket, by=people.agent)
    services.ticket_resolve(ticket=ticket, by=people.agent, reply="已为您处理。", notify=False)
    ticket.refresh_from_db()
    assert ticket.status == "resolved" and ticket.resolved_at and ticket.assignee == people.agent
    refused("ticket_resolved", services.ticket_resolve, ticket=ticket, by=people.agent)
    services.ticket_close(ticket=ticket, by=people.agent)
    refused("ticket_closed", services.ticket_close, ticket=ticket, by=people.agent)


def test_update_moves_the_due_time_with_priority_and_is_audited(people):
    ticket = open_ticket(people.user)
    services.ticket_update(ticket=ticket, by=people.agent, priority="high", group="escalation")
    ticket.refresh_from_db()
    assert ticket.priority == "high" and ticket.group == "escalation"
    assert ticket.due_at - ticket.created_at == timedelta(hours=12)  # binding: 24 h, high: half
    assert ticket.history.count() >= 2
    refused("invalid", services.ticket_update, ticket=ticket, by=people.agent, group="nowhere")
    refused("forbidden", services.ticket_update, ticket=ticket, by=people.datafix, priority="low")


# --- reopening and rating ---------------------------------------------------------------------


def test_customer_reopens_within_the_window_only(people):
    ticket = open_ticket(people.user)
    refused("not_resolved", services.ticket_reopen, ticket=ticket, by=people.user, reason="没解决")
    services.ticket_resolve(ticket=ticket, by=people.agent)
    refused("invalid", services.ticket_reopen, ticket=ticket, by=people.user, reason="")
    refused("not_found", services.ticket_rate, ticket=ticket, user=people.other, rating=5)
    Ticket.objects.filter(pk=ticket.pk).update(resolved_at=timezone.now() - timedelta(days=services.REOPEN_DAYS + 1))
    refused("reopen_expired", services.ticket_reopen, ticket=ticket, by=people.user, reason="还是不行")
    Ticket.objects.filter(pk=ticket.pk).update(resolved_at=timezone.now() - timedelta(days=1))
    services.ticket_reopen(ticket=ticket, by=people.user, reason="还是不行")
    ticket.refresh_from_db()
    assert ticket.status == "open" and ticket.reopened_count == 1 and ticket.resolved_at is None
    assert "还是不行" in [m.body for m in ticket.messages.filter(kind="customer")]


def test_closed_tickets_reopen_only_by_a_supervisor(people):
    ticket = open_ticket(people.user)
    services.ticket_resolve(ticket=ticket, by=people.agent)
    services.ticket_close(ticket=ticket, by=people.agent)
    refused("ticket_closed", services.ticket_reopen, ticket=ticket, by=people.user, reason="再看看")
    refused("forbidden", services.ticket_reopen, ticket=ticket, by=people.agent, reason="再看看")
    services.ticket_reopen(ticket=ticket, by=people.supervisor, reason="用户来电复诉")
    ticket.refresh_from_db()
    assert ticket.status == "open" and ticket.closed_at is None and ticket.due_at > timezone.now()
    assert any("用户来电复诉" in m.body for m in ticket.messages.filter(kind="internal_note"))


def test_rating_only_after_resolution_and_once(people):
    ticket = open_ticket(people.user)
    refused("not_resolved", services.ticket_rate, ticket=ticket, user=people.user, rating=5)
    services.ticket_resolve(ticket=ticket, by=people.agent)
    for bad in (0, 6, "five", None):
        refused("invalid", services.ticket_rate, ticket=ticket, user=people.user, rating=bad)
    refused("invalid", services.ticket_rate, ticket=ticket, user=people.user, rating=4, comment="长" * 301)
    services.ticket_rate(ticket=ticket, user=people.user, rating=4, comment="很快")
    refused("already_rated", services.ticket_rate, ticket=ticket, user=people.user, rating=5)
    ticket.refresh_from_db()
    assert (ticket.rating, ticket.rating_comment) == (4, "很快")


# --- calls -----------------------------------------------------------------------------------


def call_fields(**extra):
    now = timezone.now()
    return {
        "caller_number": "135 1234 9999",
        "started_at": now - timedelta(minutes=5),
        "ended_at": now,
        "category": "binding",
        "summary": "来电咨询绑卡失败\n已告知联系发行方",
    } | extra


def test_a_call_is_stored_encrypted_and_finds_the_callers_account(people, make_user):
    caller = make_user("13512349999", name="来电人")
    call = services.call_log(agent=people.agent, **call_fields())
    assert call.user == caller and call.caller_masked == "135****9999"
    with connection.cursor() as cursor:
        cursor.execute("SELECT caller_number FROM support_call WHERE id = %s", [call.pk])
        stored = cursor.fetchone()[0]
    assert "13512349999" not in stored
    assert Call.objects.get(pk=call.pk).caller_number == "13512349999"
    assert call.history.first().history_type == "+"


@pytest.mark.parametrize(
    "extra, field",
    [
        ({"caller_number": "12ab"}, "caller_number"),
        ({"ended_at": timezone.now() - timedelta(hours=1)}, "ended_at"),
        (
            {"started_at": timezone.now() + timedelta(hours=1), "ended_at": timezone.now() + timedelta(hours=2)},
            "started_at",
        ),
        ({"category": "nope"}, "category"),
        ({"summary": ""}, "summary"),
    ],
)
def test_call_refusals(people, extra, field):
    exc = refused("invalid", services.call_log, agent=people.agent, **call_fields(**extra))
    assert field in exc.errors


def test_only_staff_who_handle_calls_log_them(people):
    refused("forbidden", services.call_log, agent=people.user, **call_fields())
    refused("forbidden", services.call_log, agent=people.datafix, **call_fields())


def test_a_call_becomes_a_ticket_in_one_action_once(people):
    anonymous = services.call_log(agent=people.agent, **call_fields(caller_number="01088886666"))
    refused("no_account", services.call_to_ticket, call=anonymous, by=people.agent)
    call = services.call_log(agent=people.agent, user=people.user, **call_fields())
    ticket = services.call_to_ticket(call=call, by=people.agent)
    assert (ticket.channel, ticket.category, ticket.user, ticket.subject) == (
        "hotline",
        "binding",
        people.user,
        "来电咨询：绑卡与解绑",
    )
    assert ticket.assignee == people.agent and ticket.status == "open"
    call.refresh_from_db()
    assert call.ticket == ticket
    refused("already_ticketed", services.call_to_ticket, call=call, by=people.agent)
    other_ticket = open_ticket(people.other)
    refused("invalid", services.call_log, agent=people.agent, user=people.user, ticket=other_ticket, **call_fields())


def test_the_remaining_refusals(people):
    ticket = open_ticket(people.user)
    refused("forbidden", open_ticket, people.user, by=people.other)
    refused("invalid", services.ticket_note, ticket=ticket, by=people.agent, body="")
    refused("invalid", services.ticket_customer_message, ticket=ticket, user=people.user, body=" ")
    refused("forbidden", services.ticket_resolve, ticket=ticket, by=people.datafix)
    refused("invalid", services.ticket_update, ticket=ticket, by=people.agent, category="weather")
    refused("invalid", services.ticket_update, ticket=ticket, by=people.agent, priority="asap")
    services.ticket_resolve(ticket=ticket, by=people.agent)
    refused("forbidden", services.ticket_close, ticket=ticket, by=people.user)
    call = services.call_log(agent=people.agent, **call_fields(caller_number="01088886666"))
    refused("forbidden", services.call_to_ticket, call=call, by=people.datafix)
    refused("forbidden", services.call_update, call=call, by=people.datafix, category="tax", summary="改")
    refused("invalid", services.call_update, call=call, by=people.agent, category="tax", summary="")
    refused("invalid", services.call_update, call=call, by=people.agent, category="nope", summary="改")
    refused(
        "invalid",
        services.call_update,
        call=call,
        by=people.agent,
        category="tax",
        summary="改",
        user=people.other,
        ticket=ticket,
    )
    updated = services.call_update(call=call, by=people.agent, category="tax", summary="改为咨询抵扣", ticket=ticket)
    assert (updated.category, updated.user, updated.ticket) == ("tax", people.user, ticket)
    assert updated.history.count() == 2


def test_a_call_summary_stays_an_internal_note(people):
    """The agent's summary is their note: the customer sees a subject made from the category and
    no message of it; a ticket staff open for a caller keeps its description internal too."""
    summary = "来电称…身份证110101199001010015，手机13800000001"
    call = services.call_log(agent=people.agent, user=people.user, **call_fields(summary=summary))
    ticket = services.call_to_ticket(call=call, by=people.agent)
    assert ticket.subject == "来电咨询：绑卡与解绑" and "1101" not in ticket.subject
    [message] = ticket.messages.all()
    assert (message.kind, message.author, message.body) == ("internal_note", people.agent, summary)
    assert not ticket.messages.filter(kind__in=TicketMessage.PUBLIC).exists()
    opened = open_ticket(people.user, by=people.agent)
    assert [m.kind for m in opened.messages.all()] == ["internal_note"]
