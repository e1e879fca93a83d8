"""Binding asks for the holder name (开户人名称, the 2020 toll e-bill rules): compared, once
normalised, with the name the issuer reserved; a mismatch is a counted failure that names the
item and the issuer; the App may leave it out unless the platform requires it; the name typed
is never echoed, logged or kept (a proof-first attempt keeps its keyed digest only)."""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from accounts.roles import AGENT
from cards import identity
from cards.models import Binding, BindingAttempt
from cards.services.binding import binding_confirm, binding_start
from cards.services.shared import holder_name_digest
from piaogen.errors import ServiceError
from tests.conftest import age_sms_codes

from .conftest import CARD_NO, COMPANY_MOBILE, COMPANY_USCC, OTHER_ID, PERSON_ID, RESERVED, card_item, company_item

URL = "/api/v1/app/cards"
COMPANY_CARD = "11010000000000000009"
COMPANY_NAME = "演示物流（北京）有限公司"
WRONG_NAME = "错名测试人"


def body(**overrides) -> dict:
    return {"card_no": CARD_NO, "id_type": "resident_id", "id_number": PERSON_ID, "mobile": RESERVED, **overrides}


def post(client, **overrides):
    age_sms_codes()
    return client.post(URL, body(**overrides), format="json")


@pytest.fixture
def client_(app_client, registry):
    registry(card_item())
    return app_client()


# --- the rule of comparison ------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed, reserved",
    [
        ("演示物流(北京)有限公司", "演示物流（北京）有限公司"),  # half-width brackets for full-width ones
        ("演示物流 （北京） 有限公司", "演示物流(北京)有限公司"),  # spaces around them
        (" 张  三 ", "张三"),  # spaces at the ends and inside a Chinese name
        ("张\u3000三", "张三"),  # a full-width space
        ("张\u200b三", "张三"),  # a zero-width space pasted along
        ("ZHANG  SAN", "Zhang San"),  # case and doubled spaces of a passport name
        ("ＺＨＡＮＧ　ＳＡＮ", "zhang san"),  # full-width letters
        ("阿卜杜・热合曼", "阿卜杜·热合曼"),  # the middle dot typed as a katakana dot
        ("买买提•艾力", "买买提·艾力"),  # … or as a bullet
        ("测试用户１２", "测试用户12"),  # full-width digits
    ],
)
def test_names_that_are_one_name_match(typed, reserved):
    assert identity.holder_names_match(typed, reserved)


@pytest.mark.parametrize(
    "typed, reserved",
    [
        ("张三", "张四"),
        ("张三丰", "张三"),
        ("ZHANGSAN", "ZHANG SAN"),  # the space between two Latin words is kept
        ("演示物流有限公司", "演示物流（北京）有限公司"),
        ("", "张三"),
    ],
)
def test_different_names_do_not(typed, reserved):
    assert not identity.holder_names_match(typed, reserved)


# --- the App API -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_right_name_in_another_form_binds(client_, sms):
    r = post(client_, holder_name=" 演示 持卡人 ")
    assert r.status_code == 202, r.content
    assert r.json()["details_checked"] is True
    code = sms.last_code(RESERVED, "bind")
    r = client_.post(f"{URL}/confirm", {"binding_id": r.json()["binding_id"], "code": code}, format="json")
    assert r.status_code == 201


@pytest.mark.django_db
def test_a_company_card_matches_whatever_the_brackets(make_user, app_client, registry, sms):
    registry(company_item(holder_name=COMPANY_NAME))
    contact = app_client(
        make_user(account_type="enterprise", name=COMPANY_NAME, tax_id=COMPANY_USCC, mobile=COMPANY_MOBILE)
    )
    age_sms_codes()
    r = contact.post(
        URL,
        {
            "card_no": COMPANY_CARD,
            "id_type": "uscc",
            "id_number": COMPANY_USCC,
            "mobile": COMPANY_MOBILE,
            "holder_name": "演示物流(北京)有限公司",
        },
        format="json",
    )
    assert r.status_code == 202, r.content
    age_sms_codes()
    r = contact.post(
        URL,
        {
            "card_no": COMPANY_CARD,
            "id_type": "uscc",
            "id_number": COMPANY_USCC,
            "mobile": COMPANY_MOBILE,
            "holder_name": "演示物流有限公司",  # the name without its bracketed place
        },
        format="json",
    )
    assert r.status_code == 400 and r.json()["code"] == "holder_name_mismatch"


@pytest.mark.django_db
def test_a_wrong_name_is_refused_naming_the_item_and_the_issuer(client_, sms):
    r = post(client_, holder_name=WRONG_NAME)
    assert r.status_code == 400
    answer = r.json()
    assert answer["code"] == "holder_name_mismatch"
    assert answer["issuer"]["name"] == "江苏苏通卡" and answer["issuer"]["hotline"] == "96777"
    for text in ("开户人名称", "江苏苏通卡", "江苏", "96777", "不一致", "核对或更新", "重新绑定", "还可尝试 4 次"):
        assert text in answer["message"], text
    assert WRONG_NAME not in r.content.decode() and "演示持卡人" not in r.content.decode()
    assert not [m for m in sms.messages() if m["purpose"] == "bind"]  # no code went out
    attempt = BindingAttempt.objects.get()
    assert attempt.outcome == "holder_name_mismatch" and attempt.message == answer["message"]
    assert WRONG_NAME not in attempt.message and attempt.holder_name_digest == ""


@pytest.mark.django_db
def test_a_wrong_name_counts_towards_the_cap(client_, settings):
    settings.BINDING_MAX_FAILURES_PER_ACCOUNT = 2
    assert post(client_, holder_name=WRONG_NAME).json()["code"] == "holder_name_mismatch"
    last = post(client_, holder_name="另一个错名")
    assert last.json()["code"] == "holder_name_mismatch" and "今日尝试次数已用完" in last.json()["message"]
    r = post(client_, holder_name="演示持卡人")  # right at last: nothing is compared any more
    assert r.status_code == 400 and r.json()["code"] == "too_many_attempts"
    assert not Binding.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "overrides, code",
    [
        ({"id_number": OTHER_ID, "holder_name": WRONG_NAME}, "id_mismatch"),  # the ID is named first
        ({"holder_name": WRONG_NAME, "mobile": "13900000000"}, "holder_name_mismatch"),  # then the name
        ({"holder_name": "演示持卡人", "mobile": "13900000000"}, "mobile_mismatch"),
    ],
)
def test_which_item_is_named_when_several_differ(client_, overrides, code):
    assert post(client_, **overrides).json()["code"] == code


@pytest.mark.django_db
@pytest.mark.parametrize("sent", [{}, {"holder_name": None}, {"holder_name": ""}, {"holder_name": "   "}])
def test_without_a_name_the_app_binds_as_before(client_, sent):
    r = post(client_, **sent)
    assert r.status_code == 202, r.content


@pytest.mark.django_db
@pytest.mark.parametrize("sent", [{}, {"holder_name": None}, {"holder_name": ""}])
def test_when_the_platform_requires_the_name_it_is_refused_without_it(client_, settings, sent):
    settings.BINDING_HOLDER_NAME_REQUIRED = True
    r = post(client_, **sent)
    assert r.status_code == 400
    answer = r.json()
    assert answer["code"] == "invalid" and "开户人名称" in answer["errors"]["holder_name"][0]
    attempt = BindingAttempt.objects.get()
    assert attempt.outcome == "invalid"  # recorded, not counted
    assert post(client_, holder_name="演示持卡人").status_code == 202


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["名" * 101, "张\x1b三", "\x07"])
def test_a_malformed_name_is_invalid_not_a_mismatch(client_, name):
    r = post(client_, holder_name=name)
    assert r.status_code == 400 and r.json()["code"] == "invalid" and "holder_name" in r.json()["errors"]
    assert not BindingAttempt.objects.filter(outcome__in=BindingAttempt.FAILURES).exists()


@pytest.mark.django_db
def test_the_name_typed_is_never_logged(client_, caplog):
    caplog.set_level(logging.DEBUG)
    post(client_, holder_name=WRONG_NAME)
    post(client_, holder_name="演示持卡人")
    assert caplog.records
    for record in caplog.records:
        assert WRONG_NAME not in record.getMessage() and "演示持卡人" not in record.getMessage()


# --- past the card's ceiling: the name too is compared after the code ------------------------


def _reach_ceiling(app_client, n: int) -> None:
    for i in range(n):
        age_sms_codes()
        r = app_client().post(URL, body(id_number=OTHER_ID), format="json", REMOTE_ADDR=f"10.60.{i}.1")
        assert r.json()["code"] == "id_mismatch"


@pytest.mark.django_db
def test_at_the_ceiling_a_wrong_name_is_told_only_after_the_code(app_client, registry, settings, sms):
    registry(card_item())
    settings.BINDING_MAX_FAILURES_PER_CARD = 2
    _reach_ceiling(app_client, 2)
    holder = app_client()
    age_sms_codes()
    wrong = holder.post(URL, body(holder_name=WRONG_NAME), format="json", REMOTE_ADDR="10.61.0.1")
    wrong_code = sms.last_code(RESERVED, "bind")  # on the holder's phone
    age_sms_codes()
    right = app_client().post(URL, body(holder_name="演示持卡人"), format="json", REMOTE_ADDR="10.61.0.2")
    # The same answer for the right and a wrong name: a stranger learns nothing of it.
    assert wrong.status_code == right.status_code == 202
    assert wrong.json()["details_checked"] is right.json()["details_checked"] is False
    attempt = BindingAttempt.objects.get(public_id=wrong.json()["binding_id"])
    assert attempt.proof_first and attempt.holder_name_digest == holder_name_digest(WRONG_NAME)
    assert WRONG_NAME not in attempt.message and "开户人名称" in attempt.message
    r = holder.post(f"{URL}/confirm", {"binding_id": wrong.json()["binding_id"], "code": wrong_code}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "holder_name_mismatch"
    assert "江苏苏通卡" in r.json()["message"] and r.json()["issuer"]["hotline"] == "96777"
    assert BindingAttempt.objects.get(pk=attempt.pk).outcome == "holder_name_mismatch"  # counted
    assert not Binding.objects.exists()


@pytest.mark.django_db
def test_at_the_ceiling_the_right_name_in_another_form_binds(app_client, registry, settings, sms):
    registry(card_item(holder_name="演示物流（北京）有限公司"))
    settings.BINDING_MAX_FAILURES_PER_CARD = 1
    _reach_ceiling(app_client, 1)
    holder = app_client()
    age_sms_codes()
    r = holder.post(URL, body(holder_name="演示物流(北京)有限公司"), format="json", REMOTE_ADDR="10.62.0.1")
    assert r.status_code == 202 and r.json()["details_checked"] is False
    code = sms.last_code(RESERVED, "bind")
    r = holder.post(f"{URL}/confirm", {"binding_id": r.json()["binding_id"], "code": code}, format="json")
    assert r.status_code == 201, r.content


@pytest.mark.django_db
def test_at_the_ceiling_a_wrong_id_is_still_named_before_the_name(app_client, registry, settings, sms, make_user):
    registry(card_item())
    settings.BINDING_MAX_FAILURES_PER_CARD = 1
    _reach_ceiling(app_client, 1)
    user = make_user()
    age_sms_codes()
    attempt = binding_start(
        user=user,
        card_no=CARD_NO,
        id_type="resident_id",
        id_number=OTHER_ID,
        mobile=RESERVED,
        holder_name=WRONG_NAME,
        address="10.63.0.1",
    )
    with pytest.raises(ServiceError) as refused:
        binding_confirm(user=user, binding_id=attempt.public_id, code=sms.last_code(RESERVED, "bind"))
    assert refused.value.code == "id_mismatch"


# --- the page ----------------------------------------------------------------------------------


def form(**overrides) -> dict:
    return {"card_no": CARD_NO, "id_type": "resident_id", "id_number": PERSON_ID, "mobile": RESERVED, **overrides}


@pytest.mark.django_db
def test_the_page_asks_for_the_name_beside_the_reserved_details(client, person):
    page = client.get(reverse("cards:bind")).content.decode()
    assert 'name="holder_name"' in page and "开户人名称" in page and "单位全称" in page
    # placed after the card number, with the ID and the mobile
    assert page.index('name="card_no"') < page.index('name="holder_name"') < page.index('name="id_type"')
    assert page.index('name="id_type"') < page.index('name="id_number"') < page.index('name="mobile"')
    assert 'id="id_holder_name_help"' in page


@pytest.mark.django_db
def test_the_page_refuses_a_missing_name_before_comparing_anything(client, person):
    r = client.post(reverse("cards:bind"), form(holder_name=""))
    assert r.status_code == 200
    assert "请填写开户人名称" in r.content.decode()
    assert not BindingAttempt.objects.exists()


@pytest.mark.django_db
def test_the_page_says_the_name_differs_and_does_not_echo_it(client, person):
    r = client.post(reverse("cards:bind"), form(holder_name=WRONG_NAME))
    assert r.status_code == 200
    page = r.content.decode()
    assert "开户人名称与" in page and "江苏苏通卡" in page and "96777" in page and "请联系发卡的发行方" in page
    assert WRONG_NAME not in page and PERSON_ID not in page and RESERVED not in page
    assert BindingAttempt.objects.get().outcome == "holder_name_mismatch"


@pytest.mark.django_db
def test_the_page_binds_with_the_name_in_full_width(client, person, sms):
    r = client.post(reverse("cards:bind"), form(holder_name="演示持卡人\u3000"))
    assert r.status_code == 302
    r = client.post(r["Location"], {"code": sms.last_code(RESERVED, "bind"), "confirm": "1"})
    assert r.status_code == 302 and Binding.objects.get().user == person


# --- the console -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_agents_see_the_cause_with_its_label(client, make_user, app_client, registry):
    registry(card_item())
    customer = app_client(make_user(mobile="13612345678", name="演示客户"))
    post(customer, holder_name=WRONG_NAME)
    agent = make_user(mobile="13900000001")
    agent.is_staff = True
    agent.save()
    agent.groups.add(Group.objects.get(name=AGENT))
    client.force_login(agent)
    attempts = client.get(reverse("admin:cards_bindingattempt_changelist")).content.decode()
    assert "开户人名称不符" in attempts and WRONG_NAME not in attempts
    filtered = client.get(reverse("admin:cards_bindingattempt_changelist"), {"outcome__exact": "holder_name_mismatch"})
    assert filtered.status_code == 200 and CARD_NO in filtered.content.decode()
    attempt = BindingAttempt.objects.get()
    detail = client.get(reverse("admin:cards_bindingattempt_change", args=[attempt.pk])).content.decode()
    assert "开户人名称不符" in detail and WRONG_NAME not in detail
    view = client.get(reverse("admin:support_customer_view", args=[customer.user.pk])).content.decode()
    assert "开户人名称不符" in view and "96777" in view and WRONG_NAME not in view


@pytest.mark.django_db
def test_the_page_at_the_ceiling_says_the_name_differs_once_the_code_is_typed(
    client, person, app_client, settings, sms
):
    settings.BINDING_MAX_FAILURES_PER_CARD = 1
    _reach_ceiling(app_client, 1)
    age_sms_codes()
    r = client.post(reverse("cards:bind"), form(holder_name=WRONG_NAME), REMOTE_ADDR="10.64.0.1")
    assert r.status_code == 302  # the second step, as for the right name
    step2 = client.get(r["Location"]).content.decode()
    assert "验证码通过后再核对您填写的证件信息和开户人名称" in step2 and WRONG_NAME not in step2
    page = client.post(r["Location"], {"code": sms.last_code(RESERVED, "bind"), "confirm": "1"}).content.decode()
    assert "开户人名称与" in page and "96777" in page and "重新填写并绑定" in page
    # the attempt is over: its page no longer asks for a code
    assert "请输入收到的6位验证码" not in page and 'id="proof-first"' not in page and 'name="code"' not in page
    assert WRONG_NAME not in page and not Binding.objects.exists()
