"""我的操作记录: each staff member reads the audit entries of their own actions in Chinese (who,
when, what, why, before → after); supervisors read their team's (the agents') too; agents never
read anyone else's."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cards.services.cap_lift import binding_cap_lift
from invoices import datafix
from support import audit, services

from .conftest import USER_MOBILE

pytestmark = pytest.mark.django_db

URL = "/admin/support/staffaudit/"


def page(client, **params):
    r = client.get(URL, params)
    assert r.status_code == 200, r.status_code
    return r.content.decode()


def entries(body: str) -> list[str]:
    return [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", li)).strip()
        for li in re.findall(r'<li class="audit-entry">(.*?)</li>\s*(?=<li class="audit-entry">|</ol>)', body, re.S)
    ]


@pytest.fixture
def team(world, staff):
    """An agent and a supervisor who each did something to the world's customer, and a data_fix
    operator who corrected an application's title."""
    t = type("Team", (), {})()
    t.agent = staff("agent", name="坐席甲")
    t.agent2 = staff("agent", name="坐席丙")
    t.supervisor = staff("supervisor", name="班长乙")
    t.ticket = services.ticket_open(
        user=world.user,
        channel="hotline",
        category="binding",
        subject="绑卡失败",
        description="来电说明",
        by=t.agent,
    )
    services.ticket_update(ticket=t.ticket, by=t.agent, priority="high")
    services.ticket_assign(ticket=t.ticket, assignee=t.agent, by=t.agent)
    services.ticket_resolve(ticket=t.ticket, by=t.agent)
    services.ticket_reopen(ticket=t.ticket, by=t.supervisor, reason=f"用户 {USER_MOBILE} 复诉")
    now = timezone.now()
    services.call_log(
        agent=t.agent2,
        caller_number="13312345678",
        started_at=now - timedelta(minutes=3),
        ended_at=now,
        category="binding",
        summary="坐席丙的来电",
        user=world.user,
    )
    return t


def test_an_agent_reads_their_own_entries_in_chinese(client, team):
    client.force_login(team.agent)
    body = page(client)
    assert "我的操作记录" in body
    rows = entries(body)
    # Newest first: the resolve, the assignment, the reclassification, the opening.
    assert "标记为已解决" in rows[0] and "修改工单" in rows[0] and team.ticket.ref in rows[0]
    assert "状态：处理中 → 已解决" in rows[0]
    assert any("优先级：普通 → 高" in row and "重新归类" in row for row in rows)
    assert any("处理人：— → 坐席甲" in row for row in rows)
    assert rows[-1].startswith(tuple("0123456789")) and "创建工单" in rows[-1]
    assert all("坐席甲" in row for row in rows)
    # No raw codes, JSON or field names; times to the minute (Asia/Shanghai).
    for raw in ("resolved", "priority", "high", "history_", "{", "assignee"):
        assert raw not in " ".join(rows), raw
    opened = team.ticket.history.order_by("history_date").first().history_date
    local = timezone.localtime(opened).strftime("%Y-%m-%d %H:%M")
    assert local in body and re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}</time>", body)


def test_an_agent_never_reads_anyone_elses(client, team):
    client.force_login(team.agent)
    body = page(client)
    assert "班长乙" not in body and "坐席丙" not in body and "复诉" not in body
    assert 'name="staff"' not in body  # no filter: there is nobody else to choose
    assert client.get(URL, {"staff": team.supervisor.pk}).status_code == 403
    assert client.get(URL, {"staff": team.agent2.pk}).status_code == 403
    assert client.get(URL, {"staff": "x"}).status_code == 404
    assert [u.pk for u in audit.team_of(team.agent)] == [team.agent.pk]


def test_a_supervisor_reads_the_teams_entries_and_filters_by_staff(client, team, staff):
    data_fix = staff("data_fix", name="修正员丁")
    client.force_login(team.supervisor)
    body = page(client)
    assert all(name in body for name in ("坐席甲", "坐席丙", "班长乙"))
    assert "修正员丁" not in body  # data_fix is not the supervisor's team
    assert f'<option value="{team.agent2.pk}"' in body
    mine = page(client, staff=team.supervisor.pk)
    rows = entries(mine)
    assert len(rows) == 1 and "重开：用户 135****0001 复诉" in rows[0] and USER_MOBILE not in mine
    assert "状态：已解决 → 处理中" in rows[0]
    theirs = entries(page(client, staff=team.agent2.pk))
    assert len(theirs) == 1 and "创建来电记录" in theirs[0] and "坐席丙" in theirs[0]
    assert client.get(URL, {"staff": data_fix.pk}).status_code == 403


def test_lifts_reveals_and_data_fixes_are_listed(client, world, staff, settings):
    settings.BINDING_MAX_FAILURES_PER_ACCOUNT = 1
    supervisor = staff("supervisor", name="班长乙")
    binding_cap_lift(staff=supervisor, user=world.user, reason="核实为本人 13512340001")
    ticket = services.ticket_open(user=world.user, channel="web", category="other", subject="问题", description="说明")
    services.text_reveal(by=supervisor, text="ticket_subject", object_id=ticket.pk, reason="核对")
    client.force_login(supervisor)
    rows = entries(page(client))
    assert "查看原文" in rows[0] and "工单主题" in rows[0] and ticket.ref in rows[0] and "原因：核对" in rows[0]
    assert "解除绑卡失败上限" in rows[1] and "账户今日绑卡失败上限" in rows[1]
    assert "解除前计入的失败次数：1 → 0" in rows[1] and "135****0001" in rows[1]
    assert "13512340001" not in " ".join(rows)

    from cards.models import InvoiceTitle
    from invoices.models import Application

    fixer = staff("data_fix", name="修正员丁")
    app = Application.objects.filter(user=world.user).first()
    other = InvoiceTitle.objects.create(user=world.user, kind="personal", name="王小明")
    Application.objects.filter(pk=app.pk).update(status=Application.Status.FAILED)
    datafix.application_correct_title(application_id=app.pk, title_id=other.pk, actor=fixer, reason="用户来电更正")
    client.force_login(fixer)
    [row] = entries(page(client))
    assert "开票前更正抬头" in row and f"开票申请 #{app.pk}" in row and "原因：用户来电更正" in row
    assert "抬头：测试物流公司 → 王小明" in row


def test_the_page_is_paginated_newest_first(client, world, staff):
    agent = staff("agent", name="坐席甲")
    ticket = services.ticket_open(
        user=world.user, channel="hotline", category="binding", subject="绑卡", description="说明", by=agent
    )
    for n in range(audit.PER_PAGE + 3):
        services.ticket_note(ticket=ticket, by=agent, body=f"备注 {n}")
        services.ticket_update(ticket=ticket, by=agent, priority="high" if n % 2 == 0 else "normal")
    client.force_login(agent)
    first = page(client)
    assert len(entries(first)) == audit.PER_PAGE and "较早" in first and "较新" not in first
    second = page(client, page=2)
    assert "较新" in second and len(entries(second)) == audit.PER_PAGE
    assert "创建工单" in entries(page(client, page=3))[-1]


def test_a_page_costs_the_same_queries_however_much_history(client, world, staff, django_assert_max_num_queries):
    agent = staff("agent", name="坐席甲")
    client.force_login(agent)
    ticket = services.ticket_open(
        user=world.user, channel="hotline", category="binding", subject="绑卡", description="说明", by=agent
    )
    for n in range(30):
        services.ticket_update(ticket=ticket, by=agent, priority="high" if n % 2 == 0 else "normal")
    with django_assert_max_num_queries(20):
        assert len(entries(page(client))) == audit.PER_PAGE


def test_a_login_touching_ones_own_account_is_no_entry(client, staff):
    agent = staff("agent", name="坐席甲")
    agent._history_user = agent  # what a console login leaves: the account row saved by its owner
    agent.save()
    client.force_login(agent)
    assert "修改用户" not in page(client) and "还没有操作记录" in page(client)


def test_every_staff_member_has_the_link(client, staff):
    for role in ("agent", "supervisor", "data_fix", "admin"):
        client.force_login(staff(role))
        body = client.get(reverse("admin:index")).content.decode()
        assert f'href="{URL}"' in body and "我的操作记录" in body, role
        assert client.get(URL).status_code == 200


def test_customers_have_no_such_page(client, make_user):
    client.force_login(make_user())
    r = client.get(URL)
    assert r.status_code == 302 and "/admin/login/" in r["Location"]
