"""Invoice titles: several per user, personal and enterprise (USCC checked), a default per card."""

import pytest
from django.urls import reverse

from cards.models import Binding, InvoiceTitle

from .conftest import CARD_NO, card_item

URL = "/api/v1/app/titles"
COMPANY = {
    "kind": "enterprise",
    "name": "演示物流有限公司",
    "tax_id": "91110000ma01dem005",
    "address": "北京市东城区演示路1号",
    "phone": "010-00000000",
    "bank": "演示银行",
    "bank_account": "0000000000000001",
    "email": "finance@example.invalid",
}


@pytest.mark.django_db
def test_titles_crud_through_the_app_api(app_client):
    client = app_client()
    r = client.post(URL, {"kind": "personal", "name": "张三", "tax_id": "ignored"}, format="json")
    assert r.status_code == 201, r.content
    personal = r.json()
    assert personal["name"] == "张三" and personal["tax_id"] == ""  # a personal title is a name
    r = client.post(URL, COMPANY, format="json")
    assert r.status_code == 201
    company = r.json()
    assert company["tax_id"] == "91110000MA01DEM005"
    assert set(company) == {"id", "kind", "name", "tax_id", "address", "phone", "bank", "bank_account", "email"}
    assert [t["id"] for t in client.get(URL).json()] == [company["id"], personal["id"]]
    r = client.patch(f"{URL}/{company['id']}", {"phone": "010-11111111"}, format="json")
    assert r.status_code == 200 and r.json()["phone"] == "010-11111111" and r.json()["name"] == COMPANY["name"]
    assert client.get(f"{URL}/{company['id']}").json()["phone"] == "010-11111111"
    assert client.delete(f"{URL}/{personal['id']}").status_code == 204
    assert [t["id"] for t in client.get(URL).json()] == [company["id"]]
    assert InvoiceTitle.objects.get(pk=personal["id"]).deleted_at is not None  # soft delete
    assert client.delete(f"{URL}/{personal['id']}").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body, field",
    [
        ({**COMPANY, "tax_id": "91110000MA01DEM006"}, "tax_id"),
        ({**COMPANY, "tax_id": ""}, "tax_id"),
        ({**COMPANY, "email": "not-an-email"}, "email"),
        ({"kind": "personal", "name": ""}, "name"),
        ({"kind": "company", "name": "x"}, "kind"),
        ({"kind": "personal", "name": "x" * 101}, "name"),
        ({"kind": "personal", "name": ["x"]}, "name"),
    ],
)
def test_title_refusals(app_client, body, field):
    r = app_client().post(URL, body, format="json")
    assert r.status_code == 400 and field in r.json()["errors"]
    assert not InvoiceTitle.objects.exists()


@pytest.mark.django_db
def test_patch_is_validated_as_a_whole(app_client):
    client = app_client()
    title = client.post(URL, COMPANY, format="json").json()
    r = client.patch(f"{URL}/{title['id']}", {"tax_id": "91110000MA01DEM006"}, format="json")
    assert r.status_code == 400 and "tax_id" in r.json()["errors"]
    r = client.patch(f"{URL}/{title['id']}", {"kind": "personal"}, format="json")
    assert r.status_code == 200 and r.json()["tax_id"] == ""


@pytest.mark.django_db
def test_a_user_keeps_at_most_twenty_titles(app_client):
    client = app_client()
    for i in range(20):
        assert client.post(URL, {"kind": "personal", "name": f"名{i}"}, format="json").status_code == 201
    r = client.post(URL, {"kind": "personal", "name": "多一个"}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "too_many_titles"


@pytest.mark.django_db
def test_another_users_title_is_404(app_client):
    owner, other = app_client(), app_client()
    title = owner.post(URL, COMPANY, format="json").json()
    assert other.get(f"{URL}/{title['id']}").status_code == 404
    assert other.patch(f"{URL}/{title['id']}", {"name": "抢"}, format="json").status_code == 404
    assert other.delete(f"{URL}/{title['id']}").status_code == 404
    assert other.get(f"{URL}/99999999999999999999").status_code == 404
    assert InvoiceTitle.objects.get().name == COMPANY["name"] and InvoiceTitle.objects.get().deleted_at is None


@pytest.mark.django_db
def test_default_title_per_card(app_client, registry, bind):
    registry(card_item(), card_item(card_no="32010000000000000002", plate="苏A22222"))
    client, other = app_client(), app_client()
    bind(client.user)
    bind(client.user, card_no="32010000000000000002")
    title = client.post(URL, COMPANY, format="json").json()
    foreign = other.post(URL, {"kind": "personal", "name": "别人"}, format="json").json()
    r = client.put(f"/api/v1/app/cards/{CARD_NO}/default-title", {"title_id": title["id"]}, format="json")
    assert r.status_code == 200 and r.json()["default_title_id"] == title["id"]
    cards = {c["card_no"]: c["default_title_id"] for c in client.get("/api/v1/app/cards").json()["results"]}
    assert cards == {CARD_NO: title["id"], "32010000000000000002": None}
    r = client.put(f"/api/v1/app/cards/{CARD_NO}/default-title", {"title_id": foreign["id"]}, format="json")
    assert r.status_code == 400 and "title_id" in r.json()["errors"]
    r = client.put(f"/api/v1/app/cards/{CARD_NO}/default-title", {"title_id": "x"}, format="json")
    assert r.status_code == 400
    # deleting the title clears it as a default
    client.delete(f"{URL}/{title['id']}")
    assert Binding.objects.get(card__card_no=CARD_NO).default_title is None
    r = client.put(f"/api/v1/app/cards/{CARD_NO}/default-title", {"title_id": None}, format="json")
    assert r.status_code == 200 and r.json()["default_title_id"] is None


@pytest.mark.django_db
def test_a_users_only_title_becomes_the_default_of_a_new_card(app_client, registry, bind):
    registry(card_item())
    client = app_client()
    title = client.post(URL, {"kind": "personal", "name": "张三"}, format="json").json()
    assert bind(client.user).default_title_id == title["id"]


@pytest.mark.django_db
def test_titles_pages(client, make_user):
    user = make_user()
    client.force_login(user)
    assert "还没有发票抬头" in client.get(reverse("cards:titles")).content.decode()
    r = client.post(reverse("cards:title_new"), {**COMPANY, "tax_id": "91110000MA01DEM006"})
    assert r.status_code == 200 and "GB 32100" in r.content.decode()
    r = client.post(reverse("cards:title_new"), COMPANY)
    assert r.status_code == 302
    title = InvoiceTitle.objects.get()
    page = client.get(reverse("cards:titles")).content.decode()
    assert "演示物流有限公司" in page and "91110000MA01DEM005" in page
    edit = reverse("cards:title_edit", args=[title.pk])
    assert 'value="演示物流有限公司"' in client.get(edit).content.decode()
    assert client.post(edit, {**COMPANY, "name": "演示物流（北京）有限公司"}).status_code == 302
    title.refresh_from_db()
    assert title.name == "演示物流（北京）有限公司"
    delete = reverse("cards:title_delete", args=[title.pk])
    assert "确认删除" in client.get(delete).content.decode()
    assert client.post(delete).status_code == 302
    assert "还没有发票抬头" in client.get(reverse("cards:titles")).content.decode()
    assert client.get(edit).status_code == 404


@pytest.mark.django_db
def test_titles_pages_are_scoped_to_the_user(client, make_user):
    owner, other = make_user(), make_user()
    from cards.services.titles import invoice_title_create

    title = invoice_title_create(user=owner, kind="personal", name="张三")
    client.force_login(other)
    assert client.get(reverse("cards:title_edit", args=[title.pk])).status_code == 404
    assert client.post(reverse("cards:title_delete", args=[title.pk])).status_code == 404
    assert InvoiceTitle.objects.get().deleted_at is None


@pytest.mark.django_db
def test_titles_list_query_budget(client, make_user, django_assert_max_num_queries):
    from cards.services.titles import invoice_title_create

    user = make_user()
    for i in range(6):
        invoice_title_create(user=user, kind="personal", name=f"名{i}")
    client.force_login(user)
    with django_assert_max_num_queries(6):
        r = client.get(reverse("cards:titles"))
    assert r.content.decode().count("/edit/") == 6


@pytest.mark.django_db
def test_titles_endpoint_query_budget(app_client, django_assert_max_num_queries):
    from cards.services.titles import invoice_title_create

    client = app_client()
    for i in range(6):
        invoice_title_create(user=client.user, kind="personal", name=f"名{i}")
    with django_assert_max_num_queries(3):
        r = client.get(URL)
    assert len(r.json()) == 6
