"""The contact centre's console: issuers, registry (masked), bindings with history, attempts."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from accounts.roles import AGENT
from cards.models import Binding, Issuer

from .conftest import CARD_NO, OTHER_ID, PERSON_ID, RESERVED, card_item


@pytest.fixture
def agent_client(client, make_user):
    agent = make_user(mobile="13900000001")
    agent.is_staff = True
    agent.save()
    agent.groups.add(Group.objects.get(name=AGENT))
    client.force_login(agent)
    return client


@pytest.fixture
def bound(registry, bind, make_user, start):
    registry(card_item(), card_item(card_no="32010000000000000002", plate="苏B77777", mobile="13911112222"))
    user = make_user(mobile="13612345678", name="演示客户")
    binding = bind(user)
    from piaogen.errors import ServiceError

    with pytest.raises(ServiceError):
        start(user, card_no="32010000000000000002", id_number=OTHER_ID, mobile="13911112222")
    return binding


@pytest.mark.django_db
def test_issuers_are_loaded_for_every_province_with_toll_roads():
    provinces = set(Issuer.objects.values_list("province_code", flat=True))
    assert len(provinces) == 30  # 29 provinces and the national centre
    assert "46" not in provinces and "54" not in provinces  # Hainan and Tibet have no toll roads
    codes = {i.province_code: [n.code for n in i.network_codes.all()] for i in Issuer.objects.all()}
    assert codes["11"] == ["1101"] and codes["52"] == ["5201"] and codes["61"] == ["6101"] and codes["99"] == ["9901"]
    assert Issuer.objects.get(province_code="44").hotline == "96533"
    assert Issuer.objects.get(province_code="32").hotline == "96777"
    assert all(i.is_demo and i.hotline_label.endswith("（演示）") for i in Issuer.objects.all())


@pytest.mark.django_db
def test_admin_edits_an_issuer(admin_client):
    issuer = Issuer.objects.get(code="beijing")
    url = reverse("admin:cards_issuer_change", args=[issuer.pk])
    page = admin_client.get(url)
    assert page.status_code == 200 and "1101" in page.content.decode()
    form = {
        "code": "beijing",
        "name": "北京速通卡",
        "brand": "速通卡",
        "province": "北京",
        "province_code": "11",
        "hotline": "96011",
        "is_demo": "on",
        "network_codes-TOTAL_FORMS": "1",
        "network_codes-INITIAL_FORMS": "1",
        "network_codes-MIN_NUM_FORMS": "0",
        "network_codes-MAX_NUM_FORMS": "1000",
        "network_codes-0-id": str(issuer.network_codes.get().pk),
        "network_codes-0-issuer": str(issuer.pk),
        "network_codes-0-code": "1101",
    }
    r = admin_client.post(url, form)
    assert r.status_code == 302, r.content.decode()[:2000]
    issuer.refresh_from_db()
    assert issuer.hotline == "96011" and issuer.history.count() >= 1


@pytest.mark.django_db
def test_changelists_show_masked_numbers_only(agent_client, bound):
    for name in ("cards_issuer", "cards_card", "cards_binding", "cards_bindingattempt", "cards_invoicetitle"):
        r = agent_client.get(reverse(f"admin:{name}_changelist"))
        assert r.status_code == 200, name
        body = r.content.decode()
        assert PERSON_ID not in body and RESERVED not in body and "13612345678" not in body, name
    cards = agent_client.get(reverse("admin:cards_card_changelist")).content.decode()
    assert "3201**********0037" in cards and "139****5678" in cards and "演****" in cards
    attempts = agent_client.get(reverse("admin:cards_bindingattempt_changelist")).content.decode()
    assert "证件信息不符" in attempts and "绑定成功" in attempts


@pytest.mark.django_db
def test_change_pages_show_masked_numbers_only(agent_client, bound):
    for url in (
        reverse("admin:cards_card_change", args=[bound.card.pk]),
        reverse("admin:cards_binding_change", args=[bound.pk]),
        reverse("admin:cards_card_history", args=[bound.card.pk]),
        reverse("admin:cards_binding_history", args=[bound.pk]),
    ):
        r = agent_client.get(url)
        assert r.status_code == 200, url
        body = r.content.decode()
        assert PERSON_ID not in body and RESERVED not in body and "13612345678" not in body, url


@pytest.mark.django_db
@pytest.mark.parametrize(
    "q, shows, hides",
    [
        (CARD_NO, "苏A12345", "苏B77777"),
        ("苏B77777", "苏B77777", "苏A12345"),
        ("139****2222", "苏B77777", "苏A12345"),
        ("13911112222", "苏B77777", "苏A12345"),  # a full mobile finds its card by digest
        ("139 1111 2222", "苏B77777", "苏A12345"),
    ],
)
def test_registry_search(agent_client, bound, q, shows, hides):
    body = agent_client.get(reverse("admin:cards_card_changelist"), {"q": q}).content.decode()
    assert shows in body and hides not in body


@pytest.mark.django_db
def test_registry_search_by_full_id_number(agent_client, registry):
    registry(card_item(), card_item(card_no="32010000000000000002", plate="苏B77777", id_number=OTHER_ID))
    body = agent_client.get(reverse("admin:cards_card_changelist"), {"q": OTHER_ID}).content.decode()
    assert "苏B77777" in body and "苏A12345" not in body
    # only the staff member's own search term is echoed (search box and sort links)
    for echo in (f'value="{OTHER_ID}"', f"q={OTHER_ID}", f"q%3D{OTHER_ID}"):
        body = body.replace(echo, "")
    assert OTHER_ID not in body


@pytest.mark.django_db
def test_binding_and_attempt_search(agent_client, bound):
    body = agent_client.get(reverse("admin:cards_binding_changelist"), {"q": "13612345678"}).content.decode()
    assert CARD_NO in body
    body = agent_client.get(reverse("admin:cards_binding_changelist"), {"q": "136****5678"}).content.decode()
    assert CARD_NO in body
    body = agent_client.get(reverse("admin:cards_bindingattempt_changelist"), {"q": "32010000000000000002"})
    rows = body.content.decode().split("<tbody>")[1].split("</tbody>")[0]
    assert "证件信息不符" in rows and "绑定成功" not in rows and CARD_NO not in rows
    body = agent_client.get(reverse("admin:cards_binding_changelist"), {"state": "ended"}).content.decode()
    assert CARD_NO not in body


@pytest.mark.django_db
def test_agents_read_but_do_not_change(agent_client, bound):
    r = agent_client.post(reverse("admin:cards_card_change", args=[bound.card.pk]), {"plate": "苏C00000"})
    assert r.status_code == 403
    r = agent_client.post(
        reverse("admin:cards_binding_changelist"),
        {"action": "end_by_staff", "_selected_action": [bound.pk], "apply": "1", "reason": "x"},
    )
    assert Binding.objects.get(pk=bound.pk).is_active


@pytest.mark.django_db
def test_staff_unbinding_asks_for_a_reason_and_tells_the_user(admin_client, bound, client):
    url = reverse("admin:cards_binding_changelist")
    r = admin_client.post(url, {"action": "end_by_staff", "_selected_action": [bound.pk]})
    assert r.status_code == 200 and "解绑原因" in r.content.decode()
    r = admin_client.post(url, {"action": "end_by_staff", "_selected_action": [bound.pk], "apply": "1", "reason": ""})
    assert Binding.objects.get(pk=bound.pk).is_active
    r = admin_client.post(
        url, {"action": "end_by_staff", "_selected_action": [bound.pk], "apply": "1", "reason": "持卡人来电要求解绑"}
    )
    assert r.status_code == 302
    binding = Binding.objects.get(pk=bound.pk)
    assert binding.end_kind == "staff" and binding.end_reason == "持卡人来电要求解绑"
    assert binding.history.first().history_change_reason == "持卡人来电要求解绑"
    client.force_login(binding.user)
    assert "持卡人来电要求解绑" in client.get(reverse("cards:list")).content.decode()


@pytest.mark.django_db
def test_title_correction_needs_a_reason_and_a_valid_uscc(admin_client, make_user):
    from cards.services.titles import invoice_title_create

    title = invoice_title_create(
        user=make_user(), kind="enterprise", name="演示物流有限公司", tax_id="91110000MA01DEM005"
    )
    url = reverse("admin:cards_invoicetitle_change", args=[title.pk])
    form = {
        "kind": "enterprise",
        "name": "演示物流有限公司",
        "tax_id": "91110000MA01DEM006",
        "change_reason": "来电更正",
    }
    r = admin_client.post(url, form)
    assert r.status_code == 200 and "GB 32100" in r.content.decode()
    r = admin_client.post(url, {**form, "tax_id": "91110000MA01DEM005", "name": "演示物流（北京）有限公司"})
    assert r.status_code == 302
    title.refresh_from_db()
    assert title.name == "演示物流（北京）有限公司"
    assert title.history.first().history_change_reason == "来电更正"


@pytest.mark.django_db
def test_registry_changelist_query_budget(agent_client, registry, django_assert_max_num_queries):
    registry(*[card_item(card_no=f"3201000000000000030{i}", plate=f"苏A3000{i}") for i in range(8)])
    with django_assert_max_num_queries(14):
        r = agent_client.get(reverse("admin:cards_card_changelist"))
    assert r.content.decode().count("3201**********0037") == 8
