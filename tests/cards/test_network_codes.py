"""Who owns a card network code: the issuer (``IssuerNetworkCode``), and the issuer's partner
account may push the code's cards and recharges. One record, read by both kinds of push."""

import pytest

from accounts.services import partner_create
from cards.models import Card, Issuer
from piaogen.errors import ServiceError

from .conftest import CARD_NO, card_item

pytestmark = pytest.mark.django_db

RECHARGE = {"recharge_id": "R-1", "card_no": CARD_NO, "amount": 10000, "recharged_at": "2026-09-01T08:00:00+08:00"}


def push_card(client, **overrides):
    return client.post("/api/v1/partner/cards", {"cards": [card_item(**overrides)]}, format="json").json()


def push_recharge(client, **overrides):
    return client.post("/api/v1/partner/recharges", {"recharges": [RECHARGE | overrides]}, format="json").json()


def test_a_code_registered_once_is_honoured_by_card_and_recharge_pushes(partner_client):
    jiangsu = partner_client("issuer", name="演示江苏苏通卡", network_codes=["3201"])
    beijing = partner_client("issuer", name="演示北京速通卡", network_codes=["1101"])
    issuer = Issuer.objects.get(network_codes__code="3201")
    assert issuer.partner == jiangsu.partner and jiangsu.partner.network_code_list == ["3201"]

    assert push_card(jiangsu)["created"] == 1
    assert push_recharge(jiangsu)["created"] == 1
    # Another issuer's account may push neither.
    assert [r["code"] for r in push_card(beijing, plate="苏B54321")["rejected"]] == ["foreign_network_code"]
    assert [r["code"] for r in push_recharge(beijing, recharge_id="R-2")["rejected"]] == ["foreign_network_code"]

    # The code changes hands in one place, and both pushes follow.
    issuer.partner = beijing.partner
    issuer.save()
    assert push_card(beijing, plate="苏B54321")["updated"] == 1
    assert push_recharge(beijing, recharge_id="R-2")["created"] == 1
    assert [r["code"] for r in push_card(jiangsu, plate="苏C00001")["rejected"]] == ["foreign_network_code"]
    assert [r["code"] for r in push_recharge(jiangsu, recharge_id="R-3")["rejected"]] == ["foreign_network_code"]
    assert Card.objects.get().plate == "苏B54321"


def test_a_code_no_issuer_owns_is_refused_when_the_partner_is_made():
    with pytest.raises(ServiceError) as refused:
        partner_create(kind="issuer", name="未配置的发行方", network_codes=["8801"])
    assert refused.value.code == "invalid" and "8801" in refused.value.errors["network_codes"][0]
    assert "平台尚未配置" in refused.value.message


def test_a_partner_acts_for_every_code_of_its_issuer(partner_client):
    from cards.models import IssuerNetworkCode

    jiangsu_issuer = Issuer.objects.get(network_codes__code="3201")
    IssuerNetworkCode.objects.create(issuer=jiangsu_issuer, code="3202")
    jiangsu = partner_client("issuer", name="演示江苏苏通卡", network_codes=["3201"])
    assert jiangsu.partner.network_code_list == ["3201", "3202"]
    assert push_card(jiangsu, card_no="32020000000000000001")["created"] == 1


def test_the_console_shows_the_issuers_and_codes_of_a_partner(partner_client, admin_client):
    jiangsu = partner_client("issuer", name="苏通卡接口账户", network_codes=["3201"])
    page = admin_client.get(f"/admin/accounts/partner/{jiangsu.partner.pk}/change/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "江苏苏通卡" in body and "3201" in body
    found = admin_client.get("/admin/accounts/partner/", {"q": "3201"}).content.decode()
    assert "苏通卡接口账户" in found
