from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.seed import demo_enterprise_user, demo_user
from cards.models import Binding, BindingAttempt
from invoices.models import Application
from support import selectors
from support.models import Call, Notification, Ticket, TicketMessage

pytestmark = pytest.mark.django_db


def counts() -> tuple:
    return (
        Ticket.objects.count(),
        TicketMessage.objects.count(),
        Call.objects.count(),
        Notification.objects.count(),
        Binding.objects.count(),
        Application.objects.count(),
        BindingAttempt.objects.count(),
        Ticket.history.count(),
    )


def test_seed_demo_makes_every_state_once(sms, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=StringIO())
    demo = [demo_user(), demo_enterprise_user()]
    tickets = list(Ticket.objects.filter(user__in=demo))

    # Every status there is, read from the choices.
    assert {t.status for t in tickets} >= set(Ticket.Status.values)
    assert any(t.rating for t in tickets if t.status == Ticket.Status.RESOLVED)
    assert any(t.rating for t in tickets if t.status == Ticket.Status.CLOSED)
    assert any(t.handoff_reference and t.status == Ticket.Status.HANDED_OFF for t in tickets)
    assert any(t.reopened_count and t.is_active for t in tickets)
    now = timezone.now()
    assert any(t.is_active and t.due_at < now for t in tickets)  # overdue now
    assert any(t.resolved_at and t.resolved_at > t.due_at for t in tickets)  # resolved late
    assert TicketMessage.objects.filter(ticket__in=tickets, kind="internal_note").exists()
    dashboard = selectors.dashboard()
    assert dashboard["sla"]["overdue_open"] >= 1 and dashboard["sla"]["late_resolved"] >= 1
    # Failed bindings for the chart by issuer, none of them today (no cap of the demo users is spent).
    assert len(dashboard["binding_failures"]["bars"]) >= 3
    failed = BindingAttempt.objects.filter(user__in=demo).exclude(outcome__in=("pending", "bound"))
    assert failed.count() >= 5 and not failed.filter(created_at__date=timezone.localdate()).exists()

    # Calls: linked to a ticket opened before, turned into a ticket, account only, no account.
    calls = list(Call.objects.select_related("ticket"))
    linked = [c for c in calls if c.ticket_id and c.ticket.created_at < c.created_at]
    converted = [c for c in calls if c.ticket_id and c.ticket.created_at >= c.created_at]
    assert linked and converted
    assert converted[0].ticket.channel == Ticket.Channel.HOTLINE
    assert [c for c in calls if c.user_id and not c.ticket_id]
    assert [c for c in calls if c.user_id is None and c.ticket_id is None]

    # The message centre: a message of every kind, some read, some not.
    notices = Notification.objects.filter(user__in=demo)
    assert set(notices.values_list("kind", flat=True)) == set(Notification.Kind.values)
    assert notices.filter(read_at__isnull=True).exists() and notices.filter(read_at__isnull=False).exists()
    issued = Application.objects.filter(user__in=demo, status="issued")
    assert notices.filter(kind="invoices_issued").count() == issued.count()

    # Every text written for the demo says so.
    # A ticket made from a call is titled by its category; the summary stays an internal note.
    assert all("（演示）" in t.subject or t.subject.startswith("来电咨询：") for t in tickets)
    assert all("（演示）" in m.body for m in TicketMessage.objects.filter(ticket__in=tickets))
    assert all("（演示）" in c.summary for c in calls if c.summary)  # a missed call has no text
    # Calls as the switch reported them: answered and wrapped up, abandoned, missed.
    switch = {c.switch_call_id: c for c in calls if c.switch_call_id}
    assert [switch[k].outcome for k in ("DEMO-1", "DEMO-2", "DEMO-3")] == ["answered", "abandoned", "missed"]
    assert switch["DEMO-1"].wrapped_at and switch["DEMO-1"].agent.switch_extension.extension == "8001"
    assert all("（演示）" in t.rating_comment for t in tickets if t.rating)
    assert not [m for m in sms.messages() if m["purpose"] == "ticket_reply"]  # demo replies send no SMS

    before = counts()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=StringIO())
    assert counts() == before
