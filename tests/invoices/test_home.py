"""首页: the introduction for a visitor; a signed-in user's cards, open applications and newest
invoices, in the same handful of queries whatever the account holds."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from invoices import services
from invoices.models import Application, Invoice

from . import test_invoicing
from .test_invoicing import title
from .test_lists import push_trips

applied = test_invoicing.applied

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_documents(monkeypatch):
    monkeypatch.setattr(services.documents, "on_issued", lambda app_id, invoice_ids: None)


def test_a_visitor_sees_the_introduction(client):
    body = client.get(reverse("home")).content.decode()
    assert "全国收费公路通行费电子发票服务平台" in body and "开票三步" in body
    assert reverse("accounts:register") in body and "我的ETC卡" in body  # the navigation only
    assert "最新发票" not in body


@pytest.mark.regimes
def test_the_home_page_tells_the_days_of_the_regime_in_force_today(client):
    from invoices.regimes import regime_on

    days = regime_on(timezone.localdate()).available_after_days
    body = client.get(reverse("home")).content.decode()
    assert f"通行记录一般在通行后第{days}个自然日起可查" in body
    assert "通行后第个自然日" not in body  # never an empty number


def test_a_new_user_is_asked_to_bind_a_card(client, make_user):
    client.force_login(make_user())
    body = client.get(reverse("home")).content.decode()
    assert "您还没有绑定ETC卡" in body and f'href="{reverse("cards:bind")}"' in body
    assert "还没有发票" in body and "开票三步" not in body


def test_the_signed_in_home_shows_cards_open_applications_and_newest_invoices(client, world, applied, make_user):
    push_trips(world, 3)
    done = Application.objects.get(pk=applied(title_id=title(world.user)).json()["id"])
    push_trips(world, 1, prefix="F", start=world.when + timedelta(days=3))
    failed = Application.objects.get(pk=applied(title_id=title(world.user, name="李四")).json()["id"])
    Application.objects.filter(pk=failed.pk).update(
        status="failed", failure_reason="演示：发票号码段已用完，请稍后重试。"
    )
    old = Application.objects.create(
        user=world.user.user,
        card=failed.card,
        kind=failed.kind,
        title=failed.title,
        status="failed",
        failure_reason="很久以前的失败",
        created_at=timezone.now() - timedelta(days=40),
    )
    client.force_login(world.user.user)
    body = client.get(reverse("home")).content.decode()
    assert "豫A12345" in body and world.card_no in body and "河南中原通" in body
    assert f"{reverse('invoices:apply')}?card={world.card_no}" in body
    # open: the failed one with its reason; not the issued one, nor a failure of long ago
    assert f'href="{reverse("invoices:application", args=[failed.pk])}"' in body and "发票号码段已用完" in body
    assert f'href="{reverse("invoices:application", args=[done.pk])}"' not in body
    assert old.failure_reason not in body
    newest = Invoice.objects.filter(user=world.user.user).order_by("-issued_at", "-id")
    shown = re.findall(r'<a href="/invoices/\d+/">\d{12}<br>(\d{8})</a>', body)
    assert shown == [inv.number for inv in newest[:5]] and newest.count() == 12
    assert f'href="{reverse("invoices:list")}"' in body
    # another user sees none of it
    client.force_login(make_user())
    other = client.get(reverse("home")).content.decode()
    assert world.card_no not in other and newest[0].number not in other


def test_the_home_page_keeps_a_handful_of_queries(client, world, applied, django_assert_max_num_queries):
    push_trips(world, 1)
    applied(title_id=title(world.user))
    client.force_login(world.user.user)
    with django_assert_max_num_queries(9) as few:
        client.get(reverse("home"))
    budget = len(few.captured_queries)
    push_trips(world, 20, prefix="U", start=world.when + timedelta(days=2))
    applied(title_id=title(world.user, name="李四"))
    world.bind(world.user, world.cards[1])
    assert Invoice.objects.filter(user=world.user.user).count() == 63
    with django_assert_max_num_queries(budget):
        body = client.get(reverse("home")).content.decode()
    assert body.count('class="panel home-card"') == 2
