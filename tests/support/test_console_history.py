"""History pages read as people write: labels, choice names, local times, no raw codes."""

from __future__ import annotations

import re

from django.urls import reverse

from support import services


def test_ticket_history_is_readable(client, make_user, staff):
    user, supervisor = make_user(name="王小明"), staff("supervisor")
    ticket = services.ticket_open(user=user, channel="web", category="binding", subject="绑卡失败", description="说明")
    services.ticket_assign(ticket=ticket, assignee=supervisor, by=supervisor)
    services.ticket_resolve(ticket=ticket, by=supervisor)
    services.ticket_close(ticket=ticket, by=supervisor)
    services.ticket_reopen(ticket=ticket, by=supervisor, reason="用户 13800000001 复诉")
    client.force_login(supervisor)
    body = client.get(reverse("admin:support_ticket_history", args=[ticket.pk])).content.decode()
    assert "已关闭 → 处理中" in body and "新建 → 处理中" in body
    assert "closed" not in body and "pk=None" not in body and "Deleted" not in body
    assert "状态" in body and "处理人" in body and ">Changes<" not in body and ">Changed by<" not in body
    assert "13800000001" not in body and "138****0001" in body
    assert supervisor.name in body and "操作人" in body
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}</a>", body)  # to the minute, no seconds
    assert "— → " in body  # an empty link before, not "Deleted 用户"


def test_no_link_a_role_cannot_use(client, make_user, staff):
    """An agent reads an account but cannot reset its password: no 重置密码 link leads to a 403."""
    user = make_user(name="王小明")
    url = reverse("admin:accounts_user_change", args=[user.pk])
    client.force_login(staff("agent"))
    body = client.get(url).content.decode()
    assert "王小明" in body and "password/" not in body
    assert client.get(reverse("admin:auth_user_password_change", args=[user.pk])).status_code in (403, 404)
    client.force_login(staff("admin"))
    assert "password/" in client.get(url).content.decode()


def test_every_console_label_is_chinese():
    """Labels come from verbose names: none of the models staff see keeps an English one."""
    from django.apps import apps
    from django.contrib import admin

    hidden = {"invoices.invoicecounter", "invoices.summarycounter", "support.faq"}  # never shown as fields
    english = []
    for model in admin.site._registry:
        label = model._meta.label_lower
        if model._meta.app_label not in {"accounts", "cards", "invoices", "support"} or label in hidden:
            continue
        if not re.search(r"[\u4e00-\u9fff]", str(model._meta.verbose_name)):
            english.append(label)
        for field in model._meta.concrete_fields:
            if field.auto_created or field.name in {"password", "last_login", "is_superuser", "groups"}:
                continue
            if not re.search(r"[\u4e00-\u9fff]", str(field.verbose_name)):
                english.append(f"{label}.{field.name}")
    assert not english, english
    assert apps.get_model("cards", "BindingAttempt")._meta.get_field("confirmed_at").verbose_name == "确认时间"
