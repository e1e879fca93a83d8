"""A supervisor lifts today's cap on failed binding attempts of an account or of a card, with a
reason: the earlier failures stop counting, new ones count again, the user is told by SMS and
in their message centre, and the lift is recorded. Agents cannot lift a cap."""

from __future__ import annotations

import logging

import pytest
from django.urls import reverse

from accounts.models import OutboundSms
from cards.models import BindingCapLift
from cards.selectors import binding_cap_status
from cards.services.cap_lift import binding_cap_lift
from piaogen.errors import ServiceError
from support.models import Notification
from tests.conftest import age_sms_codes

from .conftest import CARD_A, CARD_B, RESERVED_B, USER_MOBILE, resident_id

pytestmark = pytest.mark.django_db


def bind_b(world, mobile=RESERVED_B):
    age_sms_codes()
    return world.app.post(
        "/api/v1/app/cards",
        {"card_no": CARD_B, "id_type": "resident_id", "id_number": resident_id(2), "mobile": mobile},
        format="json",
    )


@pytest.fixture
def account_capped(world, settings):
    """The world's user has one failure today (card B, mobile mismatch): the account's cap is 1."""
    settings.BINDING_MAX_FAILURES_PER_ACCOUNT = 1
    settings.BINDING_MAX_FAILURES_PER_CARD = 5
    r = bind_b(world)
    assert r.status_code == 400 and r.json()["code"] == "too_many_attempts", r.content
    return world


@pytest.fixture
def card_capped(world, settings):
    settings.BINDING_MAX_FAILURES_PER_ACCOUNT = 5
    settings.BINDING_MAX_FAILURES_PER_CLIENT_CARD = 1  # the card is stopped for this client
    r = bind_b(world)
    assert r.status_code == 400 and r.json()["code"] == "too_many_attempts", r.content
    return world


# --- the service -------------------------------------------------------------------------------


def test_a_supervisor_lifts_the_accounts_cap_and_the_user_binds_again(
    account_capped, staff, django_capture_on_commit_callbacks, sms, caplog
):
    world = account_capped
    supervisor = staff("supervisor", name="班长乙")
    caplog.set_level(logging.INFO)
    with django_capture_on_commit_callbacks(execute=True):
        lift = binding_cap_lift(staff=supervisor, user=world.user, reason="来电核实为本人，已更正手机号")
    assert (lift.scope, lift.card_no, lift.failures, lift.staff, lift.user) == (
        "account",
        "",
        1,
        supervisor,
        world.user,
    )
    assert lift.reason == "来电核实为本人，已更正手机号" and lift.created_at is not None
    status = binding_cap_status(world.user)
    assert status.account_failures == 0 and not status.account_reached and status.lifts == [lift]

    # Told by SMS (to the account's mobile, after the commit) and in the message centre.
    [text] = [m["text"] for m in sms.messages() if m["mobile"] == USER_MOBILE and m["purpose"] == "notice"]
    assert "已解除您账户今日的绑卡验证失败次数限制" in text and "95022" in text
    assert OutboundSms.objects.filter(purpose="notice", mobile_masked="135****0001").exists()
    [notice] = Notification.objects.filter(user=world.user, kind="cap_lifted")
    assert notice.title == "绑卡限制已解除" and "您账户今日的绑卡验证失败次数限制" in notice.body
    assert notice.link == reverse("cards:bind") and "来电核实" not in notice.body  # the reason stays inside
    assert USER_MOBILE not in caplog.text

    # The user binds again: the details match, the code goes to the reserved mobile.
    r = bind_b(world)
    assert r.status_code == 202, r.content


def test_the_protection_stays_after_a_lift(account_capped, staff):
    world = account_capped
    binding_cap_lift(staff=staff("supervisor"), user=world.user, reason="核实为本人")
    r = bind_b(world, mobile="13699997777")  # a new failure counts
    assert r.status_code == 400 and r.json()["code"] == "mobile_mismatch"
    status = binding_cap_status(world.user)
    assert status.account_reached and status.account_failures == 1
    assert [a.card_no for a in status.counted] == [CARD_B]  # only the failure after the lift
    r = bind_b(world)
    assert r.status_code == 400 and r.json()["code"] == "too_many_attempts"


def test_a_supervisor_lifts_a_cards_cap(card_capped, staff, django_capture_on_commit_callbacks, sms):
    world = card_capped
    status = binding_cap_status(world.user)
    assert status.cards_blocked == [(CARD_B, 1)] and status.cards_liftable == [(CARD_B, 1)]
    with django_capture_on_commit_callbacks(execute=True):
        lift = binding_cap_lift(
            staff=staff("supervisor"), user=world.user, reason="发行方已更正预留手机号", card_no=CARD_B
        )
    assert (lift.scope, lift.card_no, lift.failures) == ("card", CARD_B, 1)
    assert binding_cap_status(world.user).cards_liftable == []
    [text] = [m["text"] for m in sms.messages() if m["mobile"] == USER_MOBILE and m["purpose"] == "notice"]
    assert "卡号尾号0102的ETC卡" in text
    assert "卡号尾号0102的ETC卡" in Notification.objects.get(user=world.user, kind="cap_lifted").body
    assert bind_b(world).status_code == 202


@pytest.mark.parametrize("role", ["agent", "data_fix"])
def test_only_supervisors_lift_a_cap(account_capped, staff, role):
    with pytest.raises(ServiceError) as refused:
        binding_cap_lift(staff=staff(role), user=account_capped.user, reason="想帮用户")
    assert refused.value.code == "forbidden" and refused.value.status == 403
    assert not BindingCapLift.objects.exists() and not Notification.objects.filter(kind="cap_lifted").exists()


def test_a_lift_needs_a_reason(account_capped, staff):
    for reason in ("", "   ", "长" * 201):
        with pytest.raises(ServiceError) as refused:
            binding_cap_lift(staff=staff("supervisor"), user=account_capped.user, reason=reason)
        assert refused.value.code == "invalid" and "reason" in refused.value.errors
    assert not BindingCapLift.objects.exists()


def test_a_cap_not_reached_is_not_lifted(world, staff, settings):
    settings.BINDING_MAX_FAILURES_PER_ACCOUNT = 5
    settings.BINDING_MAX_FAILURES_PER_CARD = 5
    supervisor = staff("supervisor")
    with pytest.raises(ServiceError) as refused:
        binding_cap_lift(staff=supervisor, user=world.user, reason="核实")
    assert refused.value.code == "cap_not_reached"
    assert "未达上限（5 次），无需解除" in refused.value.message and "1 次" in refused.value.message
    with pytest.raises(ServiceError) as refused:
        binding_cap_lift(staff=supervisor, user=world.user, reason="核实", card_no=CARD_B)
    assert refused.value.code == "cap_not_reached" and f"卡 {CARD_B}" in refused.value.message
    assert not BindingCapLift.objects.exists() and not OutboundSms.objects.filter(purpose="notice").exists()


def test_a_lifted_cap_is_not_lifted_twice(account_capped, staff):
    supervisor = staff("supervisor")
    binding_cap_lift(staff=supervisor, user=account_capped.user, reason="核实")
    with pytest.raises(ServiceError) as refused:
        binding_cap_lift(staff=supervisor, user=account_capped.user, reason="再来一次")
    assert refused.value.code == "cap_not_reached"
    assert BindingCapLift.objects.count() == 1


def test_only_a_card_the_account_tried_today(card_capped, staff):
    with pytest.raises(ServiceError) as refused:
        binding_cap_lift(staff=staff("supervisor"), user=card_capped.user, reason="核实", card_no=CARD_A)
    assert refused.value.code == "invalid" and "今日没有绑定卡" in refused.value.message
    with pytest.raises(ServiceError) as refused:  # a staff account is no customer
        binding_cap_lift(staff=staff("supervisor"), user=staff("agent"), reason="核实")
    assert refused.value.code == "not_found"


# --- the console ---------------------------------------------------------------------------------


def lift_url(user):
    return reverse("admin:support_customer_lift_cap", args=[user.pk])


def customer_url(user):
    return reverse("admin:support_customer_view", args=[user.pk])


def test_a_supervisor_lifts_the_cap_from_the_customer_view(client, account_capped, staff):
    world = account_capped
    supervisor = staff("supervisor", name="班长乙")
    client.force_login(supervisor)
    body = client.get(customer_url(world.user)).content.decode()
    assert "解除账户今日上限" in body and lift_url(world.user) in body
    # The button opens the form; nothing is lifted before the reason is confirmed.
    page = client.post(lift_url(world.user), {"card_no": ""})
    assert page.status_code == 200 and "解除原因" in page.content.decode()
    assert not BindingCapLift.objects.exists()
    empty = client.post(lift_url(world.user), {"card_no": "", "confirm": "1", "reason": ""})
    assert empty.status_code == 200 and not BindingCapLift.objects.exists()
    done = client.post(
        lift_url(world.user), {"card_no": "", "confirm": "1", "reason": "来电核实为本人 13512340001"}, follow=True
    )
    body = done.content.decode()
    assert "已解除账户今日绑卡失败上限" in body and "已短信和站内消息通知用户" in body
    assert "班长乙 解除了账户今日绑卡失败上限（此前计入 1 次）" in body
    assert "135****0001" in body and "13512340001" not in body  # the reason is shown masked
    assert "今日计入账户上限的失败：0 / 1 次" in body and "解除账户今日上限" not in body
    assert BindingCapLift.objects.get().staff == supervisor


def test_a_supervisor_lifts_a_cards_cap_from_the_customer_view(client, card_capped, staff):
    client.force_login(staff("supervisor"))
    body = client.get(customer_url(card_capped.user)).content.decode()
    assert f"解除卡 {CARD_B} 今日上限" in body and "解除账户今日上限" not in body
    page = client.post(lift_url(card_capped.user), {"card_no": CARD_B}).content.decode()
    assert f"解除卡 {CARD_B} 今日的绑卡失败上限" in page
    client.post(lift_url(card_capped.user), {"card_no": CARD_B, "confirm": "1", "reason": "发行方已更正"})
    assert BindingCapLift.objects.get().card_no == CARD_B


def test_lifting_a_cap_not_reached_says_why(client, world, staff, settings):
    settings.BINDING_MAX_FAILURES_PER_ACCOUNT = 5
    client.force_login(staff("supervisor"))
    assert "解除账户今日上限" not in client.get(customer_url(world.user)).content.decode()
    page = client.post(lift_url(world.user), {"card_no": "", "confirm": "1", "reason": "核实"})
    assert page.status_code == 200 and "未达上限（5 次），无需解除" in page.content.decode()
    assert not BindingCapLift.objects.exists()


@pytest.mark.parametrize("role", ["agent", "data_fix"])
def test_others_see_no_lift_button_and_cannot_post_one(client, account_capped, staff, role):
    client.force_login(staff(role))
    body = client.get(customer_url(account_capped.user)).content.decode()
    assert "账户今日已达上限" in body and "解除账户今日上限" not in body and lift_url(account_capped.user) not in body
    assert client.post(lift_url(account_capped.user), {"card_no": ""}).status_code == 403
    r = client.post(lift_url(account_capped.user), {"card_no": "", "confirm": "1", "reason": "想帮用户"})
    assert r.status_code == 403
    assert not BindingCapLift.objects.exists()


def test_the_lift_page_takes_no_get_and_no_stranger(client, account_capped, staff):
    client.force_login(staff("supervisor"))
    r = client.get(lift_url(account_capped.user))
    assert r.status_code == 302 and r["Location"] == customer_url(account_capped.user)
    assert client.post(reverse("admin:support_customer_lift_cap", args=[99999999]), {}).status_code == 404


def test_a_card_at_the_ceiling_of_all_clients_is_liftable_and_the_lift_ends_the_proof_first_step(
    world, settings, staff
):
    """Failures at a card from all clients together reach the ceiling: the card is not refused
    but the reserved mobile proves the code first; a supervisor's lift of the card ends that."""
    settings.BINDING_MAX_FAILURES_PER_CARD = 1
    r = bind_b(world)
    assert r.status_code == 202 and r.json()["details_checked"] is False
    status = binding_cap_status(world.user)
    assert status.cards_reached == [(CARD_B, 1)] and status.cards_blocked == []
    assert status.cards_liftable == [(CARD_B, 1)]
    lift = binding_cap_lift(staff=staff("supervisor"), user=world.user, reason="核实为本人", card_no=CARD_B)
    assert lift.failures == 1 and binding_cap_status(world.user).cards_liftable == []
    r = bind_b(world)
    assert r.status_code == 202 and r.json()["details_checked"] is True
