"""The console opens on a workspace: the customer search and the staff member's queue."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from support import services
from support.models import Ticket

ID = "110101199001010015"


@pytest.fixture
def desk(make_user, staff):
    class Desk:
        pass

    d = Desk()
    d.user = make_user(name="王小明")
    d.agent, d.other, d.datafix = staff("agent"), staff("agent"), staff("data_fix")
    open_ = lambda subject: services.ticket_open(  # noqa: E731
        user=d.user, channel="web", category="binding", subject=subject, description="说明"
    )
    d.mine = open_(f"我的 证件{ID}")
    services.ticket_assign(ticket=d.mine, assignee=d.agent, by=d.agent)
    d.late = open_("超时的")
    services.ticket_assign(ticket=d.late, assignee=d.agent, by=d.agent)
    Ticket.objects.filter(pk=d.late.pk).update(due_at=timezone.now() - timedelta(hours=1))
    d.theirs = open_("别人的")
    services.ticket_assign(ticket=d.theirs, assignee=d.other, by=d.other)
    d.free = open_("待领取的")
    return d


def test_an_agent_lands_on_search_and_their_queue(client, desk, django_assert_max_num_queries):
    client.force_login(desk.agent)
    with django_assert_max_num_queries(20):
        r = client.get(reverse("admin:index"))
    body = r.content.decode()
    assert r.status_code == 200 and 'action="/admin/support/customer/"' in body and 'name="q"' in body
    assert "我的工单（2）" in body and "1 个已超时" in body and "待领取（1）" in body
    assert desk.mine.ref in body and desk.late.ref in body and desk.free.ref in body
    assert desk.theirs.ref not in body
    assert ID not in body and "1101**********0015" in body
    assert body.index('name="q"') < body.index("我的工单") < body.index("全部功能")


def test_a_role_without_tickets_gets_the_search_and_the_list_of_pages(client, desk):
    client.force_login(desk.datafix)
    body = client.get(reverse("admin:index")).content.decode()
    assert 'name="q"' in body and "我的工单" not in body and "全部功能" in body
    assert "记录来电" not in body  # no link the role cannot use
