"""Every change staff make in the contact centre leaves a history row with who and why."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cards.models import Issuer
from support import services
from support.models import Call, Faq, SlaPolicy

from .conftest import USER_MOBILE

pytestmark = pytest.mark.django_db


def latest(obj):
    return obj.history.order_by("-history_date", "-history_id").first()


def test_every_staff_action_on_a_ticket_names_who_and_why(world, staff):
    agent, supervisor = staff("agent", name="坐席甲"), staff("supervisor", name="班长乙")
    agent2 = staff("agent", name="坐席丙")
    ticket = services.ticket_open(
        user=world.user, channel="hotline", category="binding", subject="绑卡", description="说明", by=agent
    )
    steps = [
        (lambda: services.ticket_update(ticket=ticket, by=agent, priority="high"), agent, "重新归类：优先级"),
        (lambda: services.ticket_assign(ticket=ticket, assignee=agent, by=agent), agent, "接手工单"),
        (lambda: services.ticket_note(ticket=ticket, by=agent, body="内部"), agent, "内部备注"),
        (lambda: services.ticket_reply(ticket=ticket, by=agent, body="答复", notify=False), agent, "回复用户"),
        (
            lambda: services.ticket_hand_off(
                ticket=ticket, by=agent, issuer=Issuer.objects.get(code="henan"), reference="ZY-9"
            ),
            agent,
            "受理编号 ZY-9",
        ),
        (lambda: services.ticket_resolve(ticket=ticket, by=agent), agent, "标记为已解决"),
        (lambda: services.ticket_reopen(ticket=ticket, by=supervisor, reason="用户复诉"), supervisor, "重开：用户复诉"),
        (lambda: services.ticket_assign(ticket=ticket, assignee=agent2, by=supervisor), supervisor, "指派给 坐席丙"),
        (
            lambda: services.ticket_resolve(ticket=ticket, by=supervisor, reply="已解决", notify=False),
            supervisor,
            "已解决",
        ),
        (lambda: services.ticket_close(ticket=ticket, by=supervisor), supervisor, "关闭工单"),
    ]
    first = latest(ticket)
    assert first.history_user == agent and "客服代用户提交" in first.history_change_reason
    for act, who, why in steps:
        act()
        row = latest(ticket)
        assert row.history_user == who, why
        assert row.history_change_reason and why in row.history_change_reason, (why, row.history_change_reason)


def test_the_customers_own_changes_are_recorded_as_theirs(world, staff):
    agent = staff("agent")
    ticket = services.ticket_open(user=world.user, channel="web", category="other", subject="问", description="答")
    assert latest(ticket).history_user == world.user and "用户提交" in latest(ticket).history_change_reason
    services.ticket_resolve(ticket=ticket, by=agent)
    services.ticket_rate(ticket=ticket, user=world.user, rating=4)
    assert latest(ticket).history_user == world.user and latest(ticket).history_change_reason == "用户评价 4 分"


def test_calls_name_who_logged_and_who_corrected_them(world, staff):
    agent, other = staff("agent"), staff("agent")
    now = timezone.now()
    call = services.call_log(
        agent=agent,
        caller_number=USER_MOBILE,
        started_at=now - timedelta(minutes=3),
        ended_at=now,
        category="trips",
        summary="查不到通行记录",
    )
    assert (latest(call).history_user, latest(call).history_change_reason) == (agent, "记录来电")
    services.call_update(call=call, by=other, category="invoicing", summary="开票问题", user=world.user)
    assert (latest(call).history_user, latest(call).history_change_reason) == (other, "更正来电记录")
    ticket = services.call_to_ticket(call=Call.objects.get(pk=call.pk), by=other)
    assert latest(Call.objects.get(pk=call.pk)).history_change_reason == f"由来电创建工单 {ticket.ref}"
    assert latest(ticket).history_user == other


def test_faq_and_sla_edits_in_the_console_ask_for_a_reason(world, staff, client):
    client.force_login(staff("admin"))
    faq = Faq.objects.order_by("pk").first()
    url = reverse("admin:support_faq_change", args=[faq.pk])
    data = {
        "category": faq.category_id,
        "question": faq.question,
        "answer": faq.answer + "（补充）",
        "link_url_name": faq.link_url_name,
        "link_label": faq.link_label,
        "keywords": faq.keywords,
        "extra": faq.extra,
        "ordering": faq.ordering,
        "published": "on",
    }
    r = client.post(url, data)
    assert r.status_code == 200 and "change_reason" in r.context["adminform"].form.errors
    faq.refresh_from_db()
    assert not faq.answer.endswith("（补充）")
    assert client.post(url, data | {"change_reason": "补充说明"}).status_code == 302
    row = latest(faq)
    assert row.answer.endswith("（补充）") and row.history_change_reason == "补充说明"
    assert row.history_user.is_staff
    # The list page's columns save too, with what was done there as the reason.
    changelist = reverse("admin:support_faq_changelist")
    page = client.get(changelist)
    formset = page.context["cl"].formset
    post = {
        "form-TOTAL_FORMS": formset.total_form_count(),
        "form-INITIAL_FORMS": formset.initial_form_count(),
        "_save": "保存",
    }
    for i, form in enumerate(formset.forms):
        post[f"form-{i}-id"] = form.instance.pk
        post[f"form-{i}-ordering"] = form.instance.ordering + (1 if form.instance.pk == faq.pk else 0)
        if form.instance.published:
            post[f"form-{i}-published"] = "on"
    assert client.post(changelist, post).status_code == 302
    assert latest(Faq.objects.get(pk=faq.pk)).history_change_reason == "在列表中修改排序或发布状态"
    sla, _ = SlaPolicy.objects.get_or_create(category="tax", defaults={"hours": 48})
    url = reverse("admin:support_slapolicy_change", args=[sla.pk])
    assert client.post(url, {"category": "tax", "hours": 36}).status_code == 200
    assert client.post(url, {"category": "tax", "hours": 36, "change_reason": "新规定"}).status_code == 302
    assert latest(SlaPolicy.objects.get(pk=sla.pk)).history_change_reason == "新规定"
