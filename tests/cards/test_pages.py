"""Pages: 我的ETC卡, 绑定ETC卡 (two steps), 解绑."""

import pytest
from django.urls import reverse

from cards.models import Binding, BindingAttempt
from cards.services.titles import invoice_title_create
from tests.conftest import age_sms_codes

from .conftest import CARD_NO, OTHER_ID, PERSON_ID, RESERVED, card_item


def details(**overrides) -> dict:
    return {
        "card_no": CARD_NO,
        "holder_name": "演示持卡人",
        "id_type": "resident_id",
        "id_number": PERSON_ID,
        "mobile": RESERVED,
        **overrides,
    }


@pytest.mark.django_db
def test_pages_need_login(client):
    for name in ("cards:list", "cards:bind", "cards:titles", "cards:title_new"):
        r = client.get(reverse(name))
        assert r.status_code == 302 and "/accounts/login/" in r["Location"]


@pytest.mark.django_db
def test_binding_in_the_browser(client, person, sms):
    page = client.get(reverse("cards:list")).content.decode()
    assert "您还没有绑定ETC卡" in page
    assert "核对预留信息" in client.get(reverse("cards:bind")).content.decode()
    r = client.post(reverse("cards:bind"), details())
    assert r.status_code == 302
    attempt = BindingAttempt.objects.get()
    assert r["Location"] == reverse("cards:bind_confirm", args=[attempt.public_id])
    step2 = client.get(r["Location"]).content.decode()
    assert "139****5678" in step2 and RESERVED not in step2 and "苏A12345" in step2
    code = sms.last_code(RESERVED, "bind")
    r = client.post(r["Location"], {"code": code, "confirm": "1"})
    assert r.status_code == 302 and r["Location"] == reverse("cards:list")
    page = client.get(reverse("cards:list")).content.decode()
    assert "绑定成功" in page and "苏A12345" in page and CARD_NO in page
    assert "江苏苏通卡" in page and "96777（演示）" in page and "储值卡" in page
    assert Binding.objects.get().user == person
    # the finished step cannot be used again
    r = client.get(reverse("cards:bind_confirm", args=[attempt.public_id]))
    assert r.status_code == 302 and r["Location"] == reverse("cards:bind")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"id_number": OTHER_ID}, ["证件类型或证件号码", "江苏苏通卡", "江苏", "96777", "核对或更新"]),
        ({"mobile": "13900000000"}, ["预留的手机号不一致", "江苏苏通卡", "96777"]),
        ({"card_no": "11010000000000000077"}, ["未找到卡号", "北京速通卡", "北京", "000-1101（演示）"]),
        ({"id_number": "320102199001010038"}, ["校验码"]),
    ],
)
def test_refusals_are_shown_with_the_issuer_and_what_to_do(client, person, overrides, expected):
    r = client.post(reverse("cards:bind"), details(**overrides))
    assert r.status_code == 200
    body = r.content.decode()
    for text in expected:
        assert text in body
    # the reserved details typed are not echoed back into the page
    assert PERSON_ID not in body and RESERVED not in body and OTHER_ID not in body
    assert not Binding.objects.exists()


@pytest.mark.django_db
def test_mismatch_page_has_the_issuer_panel(client, person):
    body = client.post(reverse("cards:bind"), details(mobile="13900000000")).content.decode()
    assert "请联系发卡的发行方" in body and 'href="tel:96777"' in body


@pytest.mark.django_db
def test_wrong_code_and_resend_on_the_second_step(client, person, sms):
    r = client.post(reverse("cards:bind"), details())
    step2 = r["Location"]
    code = sms.last_code(RESERVED, "bind")
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    body = client.post(step2, {"code": wrong, "confirm": "1"}).content.decode()
    assert "验证码错误" in body
    body = client.post(step2, {"resend": "1"}).content.decode()
    assert "验证码发送过于频繁" in body  # within 60 s
    age_sms_codes()
    body = client.post(step2, {"resend": "1"}).content.decode()
    assert "已重新发送" in body
    new_code = sms.last_code(RESERVED, "bind")
    assert client.post(step2, {"code": new_code, "confirm": "1"}).status_code == 302
    assert Binding.objects.filter(user=person).exists()


@pytest.mark.django_db
def test_someone_elses_second_step_is_not_theirs(client, person, make_user):
    r = client.post(reverse("cards:bind"), details())
    step2 = r["Location"]
    client.force_login(make_user())
    r = client.get(step2)
    assert r.status_code == 302 and r["Location"] == reverse("cards:bind")


@pytest.mark.django_db
def test_unbinding_asks_first(client, person, bind):
    bind(person)
    url = reverse("cards:unbind", args=[CARD_NO])
    page = client.get(url).content.decode()
    assert "确认解绑" in page and "苏A12345" in page
    assert Binding.objects.get().is_active  # looking is not unbinding
    r = client.post(url)
    assert r.status_code == 302
    assert not Binding.objects.get().is_active
    assert "已解绑" in client.get(reverse("cards:list")).content.decode()
    assert client.get(url).status_code == 404


@pytest.mark.django_db
def test_another_users_card_pages_are_404(client, person, bind, make_user):
    bind(make_user())
    assert client.get(reverse("cards:unbind", args=[CARD_NO])).status_code == 404
    assert client.post(reverse("cards:unbind", args=[CARD_NO])).status_code == 404
    assert client.post(reverse("cards:default_title", args=[CARD_NO]), {"title_id": ""}).status_code == 404
    assert Binding.objects.get().is_active


@pytest.mark.django_db
def test_default_title_chooser(client, person, bind):
    bind(person)
    title = invoice_title_create(user=person, kind="personal", name="张三")
    r = client.post(reverse("cards:default_title", args=[CARD_NO]), {"title_id": title.pk})
    assert r.status_code == 302
    assert Binding.objects.get().default_title == title
    page = client.get(reverse("cards:list")).content.decode()
    assert f'<option value="{title.pk}" selected>' in page and "默认发票抬头已设为" in page
    r = client.post(reverse("cards:default_title", args=[CARD_NO]), {"title_id": "999999"})
    assert "请选择您自己的发票抬头" in client.get(reverse("cards:list")).content.decode()
    client.post(reverse("cards:default_title", args=[CARD_NO]), {"title_id": ""})
    assert Binding.objects.get().default_title is None


@pytest.mark.django_db
def test_cards_page_query_budget(client, make_user, registry, bind, django_assert_max_num_queries):
    user = make_user()
    items = [card_item(card_no=f"3201000000000000020{i}", plate=f"苏A2000{i}") for i in range(5)]
    registry(*items)
    for item in items:
        bind(user, card_no=item["card_no"])
    for i in range(3):
        invoice_title_create(user=user, kind="personal", name=f"名{i}")
    client.force_login(user)
    with django_assert_max_num_queries(8):
        r = client.get(reverse("cards:list"))
    assert r.content.decode().count("解绑</a>") == 5


@pytest.mark.django_db
def test_enterprise_refusal_on_the_page(client, person, registry):
    from .conftest import COMPANY_MOBILE, COMPANY_USCC, company_item

    registry(company_item())
    r = client.post(
        reverse("cards:bind"),
        details(card_no="11010000000000000009", id_type="uscc", id_number=COMPANY_USCC, mobile=COMPANY_MOBILE),
    )
    assert "只能由单位账户绑定" in r.content.decode()
