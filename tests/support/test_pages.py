from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cards.models import Card
from invoices.models import Invoice
from support import services
from support.models import Ticket

from .conftest import OTHER_MOBILE, RESERVED_A, RESERVED_B, USER_MOBILE

pytestmark = pytest.mark.django_db


@pytest.fixture
def user_client(client, world):
    client.force_login(world.user)
    return client


def new_ticket(user, **extra):
    fields = {"channel": "web", "category": "binding", "subject": "绑卡失败", "description": "提示不一致"}
    return services.ticket_open(user=user, **(fields | extra))


def test_ticket_pages_need_a_login(client):
    for name in ("support:tickets", "support:ticket_new", "support:diagnose"):
        r = client.get(reverse(name))
        assert r.status_code == 302 and reverse("accounts:login") in r["Location"]


def test_new_ticket_shows_matching_answers_before_it_sends(user_client, world):
    form = {
        "category": "binding",
        "subject": "绑卡 失败 手机号 不对",
        "description": "换了手机号以后绑不上",
        "preview": "1",
    }
    r = user_client.post(reverse("support:ticket_new"), form)
    assert r.status_code == 200
    body = r.content.decode()
    assert "预留手机号不一致" in body and 'name="confirm"' in body
    assert not Ticket.objects.exists()  # a preview sends nothing
    card = Card.objects.get(card_no=world.card_no)
    r = user_client.post(reverse("support:ticket_new"), form | {"confirm": "1", "card": str(card.pk)})
    ticket = Ticket.objects.get()
    assert r.status_code == 302 and r["Location"] == reverse("support:ticket", args=[ticket.pk])
    assert (ticket.channel, ticket.card, ticket.user) == ("web", card, world.user)


def test_new_ticket_offers_only_the_users_own_things(user_client, world):
    page = user_client.get(reverse("support:ticket_new") + "?transit=x&category=trips").content.decode()
    assert "41010000000000000101" in page and "41010000000000000103" not in page
    other_card = Card.objects.get(card_no="41010000000000000103")
    other_invoice = Invoice.objects.filter(user=world.other).first()
    form = {"category": "binding", "subject": "绑卡", "description": "说明", "confirm": "1"}
    for field, value in [("card", other_card.pk), ("invoice", other_invoice.pk), ("card", "abc")]:
        r = user_client.post(reverse("support:ticket_new"), form | {field: str(value)})
        assert r.status_code == 200 and "has-error" in r.content.decode()
    assert not Ticket.objects.exists()


def test_new_ticket_is_prefilled_from_an_answer(user_client):
    from support.models import Faq

    faq = Faq.objects.get(question__contains="红冲")
    body = user_client.get(reverse("support:ticket_new"), {"faq": faq.pk}).content.decode()
    assert faq.question in body and 'value="title" selected' in body


def test_thread_shows_public_replies_only_and_marks_them_read(user_client, world, staff):
    agent = staff("agent")
    ticket = new_ticket(world.user)
    services.ticket_note(ticket=ticket, by=agent, body="内部：用户曾三次来电")
    services.ticket_reply(ticket=ticket, by=agent, body="您好，请联系河南发行方。", notify=False)
    home = user_client.get(reverse("home")).content.decode()
    assert "有新的客服回复" in home and ticket.ref in home  # the notice on the next visit
    body = user_client.get(reverse("support:ticket", args=[ticket.pk])).content.decode()
    assert "您好，请联系河南发行方。" in body and "内部：用户曾三次来电" not in body
    assert "有新的客服回复" not in user_client.get(reverse("home")).content.decode()
    listing = user_client.get(reverse("support:tickets")).content.decode()
    assert ticket.subject in listing and "有新回复" not in listing


def test_someone_elses_ticket_is_404_everywhere(user_client, world):
    ticket = new_ticket(world.other)
    assert user_client.get(reverse("support:ticket", args=[ticket.pk])).status_code == 404
    for name, data in [
        ("support:ticket_message", {"body": "x"}),
        ("support:ticket_reopen", {"reason": "x"}),
        ("support:ticket_rate", {"rating": "5"}),
    ]:
        assert user_client.post(reverse(name, args=[ticket.pk]), data).status_code == 404
    assert user_client.get("/help/tickets/99999999999999999999/").status_code == 404
    assert ticket.messages.count() == 1


def test_customer_replies_reopens_and_rates(user_client, world, staff):
    agent = staff("agent")
    ticket = new_ticket(world.user)
    r = user_client.post(reverse("support:ticket_message", args=[ticket.pk]), {"body": "补充：卡号尾号0101"})
    assert r.status_code == 302
    r = user_client.post(reverse("support:ticket_rate", args=[ticket.pk]), {"rating": "5"})
    assert r.status_code == 400 and "解决后才能评价" in r.content.decode()
    services.ticket_resolve(ticket=ticket, by=agent, reply="已处理", notify=False)
    page = user_client.get(reverse("support:ticket", args=[ticket.pk])).content.decode()
    assert "重新打开工单" in page and "提交评价" in page
    r = user_client.post(reverse("support:ticket_rate", args=[ticket.pk]), {"rating": "4", "comment": "不错"})
    assert r.status_code == 302
    r = user_client.post(reverse("support:ticket_rate", args=[ticket.pk]), {"rating": "5"})
    assert r.status_code == 400 and "已经评价过" in r.content.decode()
    r = user_client.post(reverse("support:ticket_reopen", args=[ticket.pk]), {"reason": ""})
    assert r.status_code == 400
    r = user_client.post(reverse("support:ticket_reopen", args=[ticket.pk]), {"reason": "问题又出现了"})
    ticket.refresh_from_db()
    assert r.status_code == 302 and ticket.status == "open" and ticket.rating == 4


def test_ticket_pages_never_show_a_full_mobile(user_client, world, staff):
    ticket = new_ticket(world.user, card=Card.objects.get(card_no=world.card_no))
    services.ticket_reply(ticket=ticket, by=staff("agent"), body="已查询", notify=False)
    pages = [
        reverse("support:tickets"),
        reverse("support:ticket", args=[ticket.pk]),
        reverse("support:ticket_new"),
        reverse("support:diagnose"),
    ]
    for url in pages:
        body = user_client.get(url).content.decode()
        for mobile in (USER_MOBILE, OTHER_MOBILE, RESERVED_A, RESERVED_B):
            assert mobile not in body, (url, mobile)


# --- self-service diagnosis -------------------------------------------------------------------


def test_diagnosis_names_the_failed_binding_and_whom_to_call(user_client):
    body = user_client.get(reverse("support:diagnose")).content.decode()
    assert "预留手机号不符" in body and "41010000000000000102" in body
    assert "河南中原通" in body and "000-4101（演示）" in body


def test_diagnosis_of_a_holder_name_mismatch_says_what_to_type_and_whom_to_call(user_client, world):
    from cards.models import BindingAttempt

    attempt = BindingAttempt.objects.filter(user=world.user, outcome="mobile_mismatch").latest("pk")
    BindingAttempt.objects.filter(pk=attempt.pk).update(outcome=BindingAttempt.Outcome.HOLDER_NAME_MISMATCH)
    body = user_client.get(reverse("support:diagnose")).content.decode()
    assert "开户人名称不符" in body and "单位全称（含括号里的地名）" in body
    assert "河南中原通" in body and "000-4101（演示）" in body


def test_diagnosis_of_a_trip_and_an_invoice_and_an_application(user_client, world):
    r = user_client.get(reverse("support:diagnose"), {"transit": "SUP-T1"})
    body = r.content.decode()
    assert "会开出 2 张发票" in body and "测试甲高速公司" in body and "测试丙还贷中心" in body
    taxable = Invoice.objects.filter(user=world.user, kind="taxable").first()
    body = user_client.get(reverse("support:diagnose"), {"invoice": taxable.pk}).content.decode()
    assert "征税发票" in body and "可以抵扣" in body and "3%" in body
    non_taxable = Invoice.objects.filter(user=world.user, kind="non_taxable").first()
    body = user_client.get(reverse("support:diagnose"), {"invoice": non_taxable.pk}).content.decode()
    assert "不征税发票" in body and "不能抵扣" in body
    body = user_client.get(reverse("support:diagnose"), {"application": world.application["id"]}).content.decode()
    assert "状态：已开票" in body


def test_diagnosis_of_when_a_trip_appears(user_client, settings):
    settings.TRANSIT_AVAILABLE_AFTER_DAYS = 10
    today = timezone.localdate()
    body = user_client.get(reverse("support:diagnose"), {"date": today.isoformat()}).content.decode()
    assert (today + timedelta(days=10)).isoformat() in body
    old = date(2026, 1, 1)
    body = user_client.get(reverse("support:diagnose"), {"date": old.isoformat()}).content.decode()
    assert "应已可查" in body
    r = user_client.get(reverse("support:diagnose"), {"date": "2026-13-45"})
    assert r.status_code == 200 and "has-error" in r.content.decode()


@pytest.mark.parametrize("param", ["transit", "invoice", "application"])
def test_diagnosis_of_someone_elses_records_is_404(user_client, world, param):
    other = {
        "transit": "SUP-T9",
        "invoice": Invoice.objects.filter(user=world.other).first().pk,
        "application": world.other_application["id"],
    }[param]
    assert user_client.get(reverse("support:diagnose"), {param: other}).status_code == 404
    assert user_client.get(reverse("support:diagnose"), {param: "not-a-number'"}).status_code == 404


def test_list_pages_run_a_fixed_number_of_queries(user_client, world, staff, django_assert_max_num_queries):
    agent = staff("agent")
    user_client.get(reverse("support:tickets"))
    with django_assert_max_num_queries(14) as few:  # each page: one of them the message centre's badge
        user_client.get(reverse("support:tickets"))
        user_client.get(reverse("support:help"))
    budget = len(few.captured_queries)
    for i in range(8):
        ticket = new_ticket(world.user, subject=f"问题{i}", by=agent, channel="hotline")
        services.ticket_reply(ticket=ticket, by=agent, body="答复", notify=False)
    with django_assert_max_num_queries(budget):
        r = user_client.get(reverse("support:tickets"))
        user_client.get(reverse("support:help"))
    assert "问题7" in r.content.decode()
