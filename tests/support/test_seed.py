from io import StringIO

import pytest
from django.core.management import call_command

from accounts.seed import demo_user
from support.models import Call, Ticket, TicketMessage

pytestmark = pytest.mark.django_db


def test_seed_demo_adds_tickets_and_calls_once(sms, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=StringIO())
    user = demo_user()
    tickets = Ticket.objects.filter(user=user)
    assert {t.status for t in tickets} == {"handed_off", "waiting_customer", "resolved"}
    assert tickets.get(status="resolved").rating == 5
    assert TicketMessage.objects.filter(ticket__user=user, kind="internal_note").exists()
    assert Call.objects.filter(user=user).count() == 2
    assert all("（演示）" in t.subject for t in tickets)
    assert not [m for m in sms.messages() if m["purpose"] == "ticket_reply"]  # demo replies send no SMS
    counts = (Ticket.objects.count(), TicketMessage.objects.count(), Call.objects.count())
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=StringIO())
    assert (Ticket.objects.count(), TicketMessage.objects.count(), Call.objects.count()) == counts
