"""Passive unbinding: the issuer changes a verification item; the user is told and can rebind."""

import pytest
from django.urls import reverse

from cards.models import Binding
from support.models import Notification

from .conftest import CARD_NO, card_item

NEW_MOBILE = "13700001111"


@pytest.fixture
def bound(registry, bind, make_user):
    registry(card_item())
    user = make_user()
    return bind(user)


@pytest.mark.django_db
def test_a_changed_mobile_unbinds_and_the_user_is_told_once_on_the_next_page(bound, registry, client, sms):
    result = registry(card_item(mobile=NEW_MOBILE))
    assert result["unbound"] == 1
    binding = Binding.objects.get()
    assert binding.end_kind == "passive" and binding.end_reason == "发行方更新了预留手机号"
    # an SMS to the account's own mobile, sent after the commit
    texts = [m["text"] for m in sms.messages() if m["purpose"] == "notice" and m["mobile"] == bound.user.mobile]
    assert len(texts) == 1 and "自动解绑" in texts[0] and "发行方更新了预留手机号" in texts[0]
    # the next page visit shows the notice, once
    client.force_login(bound.user)
    page = client.get(reverse("cards:list")).content.decode()
    assert "已解绑" in page and "发行方更新了预留手机号" in page and "96777" in page and "苏A12345" in page
    assert Notification.objects.get(binding=binding).shown_at is not None
    assert "发行方更新了预留手机号" not in client.get(reverse("cards:list")).content.decode()


@pytest.mark.django_db
def test_the_notice_shows_on_any_page_but_not_on_api_calls(bound, registry, client, app_client):
    registry(card_item(status="cancelled"))
    api = app_client(bound.user)
    assert api.get("/api/v1/app/me").status_code == 200
    assert Notification.objects.get().shown_at is None  # an API call elsewhere spends nothing
    client.force_login(bound.user)
    assert "发行方已注销该卡" in client.get("/").content.decode()


@pytest.mark.django_db
def test_the_app_gets_the_notice_in_its_cards_answer(bound, registry, app_client):
    registry(card_item(holder_name="新持卡人"))
    api = app_client(bound.user)
    body = api.get("/api/v1/app/cards").json()
    assert body["results"] == []
    [notice] = body["notices"]
    assert notice["card_no"] == CARD_NO and notice["end_kind"] == "passive"
    assert notice["reason"] == "发行方更新了持卡人姓名" and "96777" in notice["message"]
    assert api.get("/api/v1/app/cards").json()["notices"] == []


@pytest.mark.django_db
def test_rebinding_after_a_passive_unbinding(bound, registry, bind, sms):
    registry(card_item(mobile=NEW_MOBILE))
    binding = bind(bound.user, mobile=NEW_MOBILE)
    assert binding.is_active and binding.pk != bound.pk
    assert Binding.objects.count() == 2
    history = list(Binding.objects.order_by("pk").values_list("end_kind", flat=True))
    assert history == ["passive", ""]


@pytest.mark.django_db
def test_the_old_details_no_longer_bind(bound, registry, start):
    from piaogen.errors import ServiceError

    registry(card_item(mobile=NEW_MOBILE))
    with pytest.raises(ServiceError) as refused:
        start(bound.user)
    assert refused.value.code == "mobile_mismatch"


@pytest.mark.django_db
def test_binding_history_is_audited(bound, registry):
    registry(card_item(mobile=NEW_MOBILE))
    binding = Binding.objects.get()
    kinds = list(binding.history.order_by("history_id").values_list("history_type", "end_kind"))
    assert kinds == [("+", ""), ("~", "passive")]


@pytest.mark.django_db
def test_the_push_only_queues_the_unbinding_sms_and_a_broker_that_refuses_loses_none(bound, registry, sms, monkeypatch):
    from accounts import tasks
    from accounts.models import OutboundSms

    def refuse(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.sms_send, "delay", refuse)
    monkeypatch.setattr(tasks.sms_fan_out, "delay", refuse)
    before = len(sms.messages())
    result = registry(card_item(mobile=NEW_MOBILE))
    assert result["unbound"] == 1
    # Nothing was sent in the push; the notice waits in the outbox for the sweep.
    assert len(sms.messages()) == before
    notice = OutboundSms.objects.get(purpose="notice")
    assert notice.status == "pending" and notice.mobile == bound.user.mobile and "自动解绑" in notice.text
