"""Binding: the two steps, every refusal code of the contract, caps, the enterprise rule."""

import pytest

from cards.models import Binding, BindingAttempt
from cards.services.binding import binding_confirm
from piaogen.errors import ServiceError
from support.models import Notification
from tests.conftest import age_sms_codes

from .conftest import CARD_NO, COMPANY_MOBILE, COMPANY_USCC, OTHER_ID, PERSON_ID, RESERVED, card_item, company_item

URL = "/api/v1/app/cards"


def bind_body(**overrides) -> dict:
    return {"card_no": CARD_NO, "id_type": "resident_id", "id_number": PERSON_ID, "mobile": RESERVED, **overrides}


@pytest.fixture
def client_(app_client, registry):
    registry(card_item())
    return app_client()


@pytest.mark.django_db
def test_binding_through_the_app_api(client_, sms):
    age_sms_codes()
    r = client_.post(URL, bind_body(card_no="3201 0000 0000 0000 0001"), format="json")
    assert r.status_code == 202, r.content
    body = r.json()
    assert body["masked_mobile"] == "139****5678" and body["expires_in"] == 300
    message = sms.messages()[-1]
    assert message["mobile"] == RESERVED and message["purpose"] == "bind"
    r = client_.post(f"{URL}/confirm", {"binding_id": body["binding_id"], "code": message["code"]}, format="json")
    assert r.status_code == 201, r.content
    card = r.json()
    assert card["card_no"] == CARD_NO and card["plate"] == "苏A12345" and card["plate_color"] == 0
    assert card["card_type"] == "stored_value" and card["vehicle_class"] == "passenger"
    assert card["issuer"]["name"] == "江苏苏通卡" and card["issuer"]["hotline"] == "96777"
    assert card["holder_name_masked"] == "演****" and card["default_title_id"] is None
    listed = client_.get(URL).json()
    assert [c["card_no"] for c in listed["results"]] == [CARD_NO] and listed["notices"] == []
    assert PERSON_ID not in str(listed) and RESERVED not in str(listed)
    attempt = BindingAttempt.objects.get()
    assert attempt.outcome == BindingAttempt.Outcome.BOUND and attempt.confirmed_at is not None
    assert client_.get(f"{URL}/{CARD_NO}").json()["card_no"] == CARD_NO


def _refusal(client, **overrides):
    age_sms_codes()
    r = client.post(URL, bind_body(**overrides), format="json")
    assert r.status_code == 400, r.content
    return r.json()


@pytest.mark.django_db
def test_id_mismatch_names_the_issuer_province_and_hotline(client_):
    body = _refusal(client_, id_number=OTHER_ID)
    assert body["code"] == "id_mismatch"
    assert body["issuer"]["name"] == "江苏苏通卡" and body["issuer"]["province"] == "江苏"
    assert body["issuer"]["hotline"] == "96777"
    for text in ("江苏苏通卡", "江苏", "96777", "核对或更新", "重新绑定", "还可尝试 4 次"):
        assert text in body["message"]


@pytest.mark.django_db
def test_mobile_mismatch_names_the_issuer_province_and_hotline(client_):
    body = _refusal(client_, mobile="13900000000")
    assert body["code"] == "mobile_mismatch"
    assert body["issuer"] == {
        "name": "江苏苏通卡",
        "province": "江苏",
        "hotline": "96777",
        "hotline_label": "96777（演示）",
        "is_demo": True,
    }
    for text in ("江苏苏通卡", "江苏", "96777", "预留手机号", "重新绑定"):
        assert text in body["message"]


@pytest.mark.django_db
def test_both_wrong_is_reported_as_an_id_mismatch(client_):
    assert _refusal(client_, id_number=OTHER_ID, mobile="13900000000")["code"] == "id_mismatch"


@pytest.mark.django_db
def test_id_type_must_match_too(client_):
    body = _refusal(client_, id_type="other", id_number=PERSON_ID)
    assert body["code"] == "id_mismatch"


@pytest.mark.django_db
def test_card_not_found_points_to_the_issuer_of_the_network_code(client_, beijing):
    body = _refusal(client_, card_no="11010000000000000042")
    assert body["code"] == "card_not_found"
    assert "11010000000000000042" in body["message"]
    assert beijing.name in body["message"] and "北京" in body["message"]
    assert beijing.hotline_label in body["message"] and "（演示）" in body["message"]
    assert body["issuer"]["hotline"] == beijing.hotline


@pytest.mark.django_db
def test_card_cancelled_names_the_issuer(client_, registry):
    registry(card_item(status="cancelled"))
    body = _refusal(client_)
    assert body["code"] == "card_cancelled"
    assert "96777" in body["message"] and "江苏" in body["message"] and "已注销" in body["message"]
    assert body["issuer"]["name"] == "江苏苏通卡"


@pytest.mark.django_db
def test_already_bound_to_another_account(client_, bind, make_user):
    bind(make_user())
    body = _refusal(client_)
    assert body["code"] == "already_bound" and "其他票根账户" in body["message"] and "95022" in body["message"]


@pytest.mark.django_db
def test_already_bound_to_this_account(client_, bind):
    bind(client_.user)
    body = _refusal(client_)
    assert body["code"] == "already_bound" and "您的账户" in body["message"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"card_no": "3201000000000000001"}, "card_no"),
        ({"card_no": "88010000000000000001"}, "card_no"),  # no issuer has this network code
        ({"card_no": ""}, "card_no"),
        ({"id_type": "licence"}, "id_type"),
        ({"id_number": "320102199001010038"}, "id_number"),  # check digit
        ({"id_type": "uscc", "id_number": "91110000MA01DEM006"}, "id_number"),
        ({"mobile": "1391234567"}, "mobile"),
        ({"mobile": ""}, "mobile"),
    ],
)
def test_invalid_input_is_refused_and_recorded_but_not_counted(client_, overrides, field):
    body = _refusal(client_, **overrides)
    assert body["code"] == "invalid" and field in body["errors"]
    attempt = BindingAttempt.objects.get()
    assert attempt.outcome == BindingAttempt.Outcome.INVALID and attempt.message == body["message"]


@pytest.mark.django_db
@pytest.mark.parametrize("body", [[], {"card_no": ["x"]}, {"card_no": "1" * 100}])
def test_malformed_requests_are_400(client_, body):
    r = client_.post(URL, body, format="json")
    assert r.status_code == 400 and r.json()["code"] == "invalid"


@pytest.mark.django_db
def test_every_attempt_is_recorded_with_its_outcome(client_, registry):
    _refusal(client_, id_number=OTHER_ID)
    _refusal(client_, mobile="13900000000")
    _refusal(client_, card_no="32010000000000000099")
    age_sms_codes()
    assert client_.post(URL, bind_body(), format="json").status_code == 202
    outcomes = list(BindingAttempt.objects.order_by("pk").values_list("outcome", flat=True))
    assert outcomes == ["id_mismatch", "mobile_mismatch", "card_not_found", "pending"]
    assert all(a.user_id == client_.user.pk for a in BindingAttempt.objects.all())
    assert "96777" in BindingAttempt.objects.get(outcome="id_mismatch").message


@pytest.mark.django_db
def test_account_cap_refuses_even_correct_details(client_, settings):
    settings.BINDING_MAX_FAILURES_PER_ACCOUNT = 3
    for _ in range(3):
        assert _refusal(client_, id_number=OTHER_ID)["code"] == "id_mismatch"
    body = _refusal(client_)  # the right details: still refused, nothing compared
    assert body["code"] == "too_many_attempts" and "3" in body["message"] and "95022" in body["message"]
    assert "issuer" not in body
    assert BindingAttempt.objects.filter(outcome="too_many_attempts").count() == 1
    assert not Binding.objects.exists()


@pytest.mark.django_db
def test_the_card_ceiling_counts_every_account_and_then_asks_the_reserved_mobile_first(
    app_client, registry, settings, sms
):
    registry(card_item())
    settings.BINDING_MAX_FAILURES_PER_CARD = 2
    first, second, owner = app_client(), app_client(), app_client()
    _refusal(first, id_number=OTHER_ID)
    _refusal(second, mobile="13900000000")
    age_sms_codes()
    r = owner.post(URL, bind_body(), format="json")  # not refused: the ID is compared after the code
    assert r.status_code == 202 and r.json()["details_checked"] is False
    code = sms.last_code(RESERVED, "bind")
    r = owner.post(f"{URL}/confirm", {"binding_id": r.json()["binding_id"], "code": code}, format="json")
    assert r.status_code == 201


@pytest.mark.django_db
def test_caps_reset_the_next_day(client_, settings):
    from datetime import timedelta

    settings.BINDING_MAX_FAILURES_PER_ACCOUNT = 1
    _refusal(client_, id_number=OTHER_ID)
    assert _refusal(client_)["code"] == "too_many_attempts"
    BindingAttempt.objects.update(created_at=BindingAttempt.objects.first().created_at - timedelta(days=1))
    age_sms_codes()
    assert client_.post(URL, bind_body(), format="json").status_code == 202


@pytest.mark.django_db
def test_invalid_input_does_not_count_towards_the_cap(client_, settings):
    settings.BINDING_MAX_FAILURES_PER_ACCOUNT = 1
    for _ in range(3):
        _refusal(client_, mobile="123")
    age_sms_codes()
    assert client_.post(URL, bind_body(), format="json").status_code == 202


@pytest.mark.django_db
def test_enterprise_card_needs_the_enterprise_contact_account(app_client, make_user, registry):
    registry(company_item())
    body = {"card_no": "11010000000000000009", "id_type": "uscc", "id_number": COMPANY_USCC, "mobile": COMPANY_MOBILE}
    # a personal account, even one logged in with the contact mobile
    personal = app_client(make_user(mobile=COMPANY_MOBILE))
    refused = _refusal(personal, **body)
    assert refused["code"] == "not_enterprise_contact" and "单位账户" in refused["message"]
    assert refused["issuer"]["province"] == "北京" and refused["issuer"]["name"] in refused["message"]
    # an enterprise account whose mobile is not the contact mobile
    other_company = app_client(
        make_user(account_type="enterprise", name="演示物流有限公司", tax_id=COMPANY_USCC, mobile="13955550000")
    )
    assert _refusal(other_company, **body)["code"] == "not_enterprise_contact"
    assert not Binding.objects.exists()
    assert set(BindingAttempt.objects.values_list("outcome", flat=True)) == {"not_enterprise_contact"}


@pytest.mark.django_db
def test_enterprise_contact_binds_its_company_card(make_user, registry, bind):
    contact = make_user(account_type="enterprise", name="演示物流有限公司", tax_id=COMPANY_USCC, mobile=COMPANY_MOBILE)
    registry(company_item())
    binding = bind(
        contact, card_no="11010000000000000009", id_type="uscc", id_number=COMPANY_USCC.lower(), mobile=COMPANY_MOBILE
    )
    assert binding.user == contact and binding.card.is_enterprise


@pytest.mark.django_db
def test_wrong_code_then_right_code(client_, sms):
    age_sms_codes()
    started = client_.post(URL, bind_body(), format="json").json()
    code = sms.last_code(RESERVED, "bind")
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    r = client_.post(f"{URL}/confirm", {"binding_id": started["binding_id"], "code": wrong}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "code_wrong"
    assert BindingAttempt.objects.get().outcome == "pending"
    r = client_.post(f"{URL}/confirm", {"binding_id": started["binding_id"], "code": code}, format="json")
    assert r.status_code == 201


@pytest.mark.django_db
@pytest.mark.parametrize("binding_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000", ""])
def test_confirm_with_an_unknown_binding_id(client_, binding_id):
    r = client_.post(f"{URL}/confirm", {"binding_id": binding_id, "code": "123456"}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "invalid"


@pytest.mark.django_db
def test_another_users_binding_id_is_unknown(client_, app_client, sms):
    age_sms_codes()
    started = client_.post(URL, bind_body(), format="json").json()
    code = sms.last_code(RESERVED, "bind")
    thief = app_client()
    r = thief.post(f"{URL}/confirm", {"binding_id": started["binding_id"], "code": code}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "invalid"
    assert not Binding.objects.exists()


@pytest.mark.django_db
def test_double_confirm_binds_once(client_, sms):
    age_sms_codes()
    started = client_.post(URL, bind_body(), format="json").json()
    body = {"binding_id": started["binding_id"], "code": sms.last_code(RESERVED, "bind")}
    assert client_.post(f"{URL}/confirm", body, format="json").status_code == 201
    again = client_.post(f"{URL}/confirm", body, format="json")
    assert again.status_code == 400
    assert Binding.objects.count() == 1


@pytest.mark.django_db
def test_two_accounts_confirming_the_same_card_bind_it_once(app_client, registry, start, sms):
    registry(card_item())
    first, second = app_client(), app_client()
    a = start(first.user)
    code_a = sms.last_code(RESERVED, "bind")
    b = start(second.user)
    code_b = sms.last_code(RESERVED, "bind")
    binding_confirm(user=second.user, binding_id=b.public_id, code=code_b)
    with pytest.raises(ServiceError) as refused:
        binding_confirm(user=first.user, binding_id=a.public_id, code=code_a)
    assert refused.value.code == "already_bound"
    assert Binding.objects.filter(ended_at__isnull=True).count() == 1
    assert BindingAttempt.objects.get(pk=a.pk).outcome == "already_bound"


@pytest.mark.django_db
def test_a_card_changed_between_the_steps_must_be_verified_again(client_, registry, sms):
    age_sms_codes()
    started = client_.post(URL, bind_body(), format="json").json()
    code = sms.last_code(RESERVED, "bind")
    registry(card_item(holder_name="新持卡人"))
    r = client_.post(f"{URL}/confirm", {"binding_id": started["binding_id"], "code": code}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "card_changed"
    assert not Binding.objects.exists()
    assert BindingAttempt.objects.get().outcome == "card_changed"


@pytest.mark.django_db
def test_a_card_cancelled_between_the_steps_is_not_bound(client_, registry, sms):
    age_sms_codes()
    started = client_.post(URL, bind_body(), format="json").json()
    code = sms.last_code(RESERVED, "bind")
    from cards.models import Card

    Card.objects.update(status="cancelled")  # as if cancelled without a push timestamp
    r = client_.post(f"{URL}/confirm", {"binding_id": started["binding_id"], "code": code}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "card_cancelled" and "96777" in r.json()["message"]


@pytest.mark.django_db
def test_sms_resend_rules_apply_to_binding_codes(client_):
    age_sms_codes()
    assert client_.post(URL, bind_body(), format="json").status_code == 202
    r = client_.post(URL, bind_body(), format="json")  # within 60 s of the last code
    assert r.status_code == 429 and r.json()["code"] == "sms_too_soon"
    assert BindingAttempt.objects.order_by("pk").last().outcome == "code_failed"


@pytest.mark.django_db
def test_active_unbinding_and_rebinding(client_, bind, sms):
    bind(client_.user)
    r = client_.delete(f"{URL}/{CARD_NO}")
    assert r.status_code == 204
    binding = Binding.objects.get()
    assert binding.end_kind == "active" and not Notification.objects.filter(binding=binding).exists()
    assert client_.get(URL).json()["results"] == []
    assert client_.delete(f"{URL}/{CARD_NO}").status_code == 404
    bind(client_.user)
    assert Binding.objects.count() == 2 and Binding.objects.filter(ended_at__isnull=True).count() == 1
    assert [c["card_no"] for c in client_.get(URL).json()["results"]] == [CARD_NO]


@pytest.mark.django_db
def test_someone_elses_card_is_404(client_, app_client, bind):
    bind(client_.user)
    other = app_client()
    assert other.delete(f"{URL}/{CARD_NO}").status_code == 404
    assert other.get(f"{URL}/{CARD_NO}").status_code == 404
    r = other.put(f"{URL}/{CARD_NO}/default-title", {"title_id": None}, format="json")
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    assert Binding.objects.get().is_active


@pytest.mark.django_db
def test_cards_list_query_budget(app_client, registry, bind, django_assert_max_num_queries):
    client = app_client()
    registry(*[card_item(card_no=f"3201000000000000010{i}", plate=f"苏A1234{i}") for i in range(4)])
    for i in range(4):
        bind(client.user, card_no=f"3201000000000000010{i}")
    with django_assert_max_num_queries(6):
        r = client.get(URL)
    assert len(r.json()["results"]) == 4


@pytest.mark.django_db
def test_a_push_cancelling_the_card_between_the_steps_says_so(client_, registry, sms):
    age_sms_codes()
    started = client_.post(URL, bind_body(), format="json").json()
    code = sms.last_code(RESERVED, "bind")
    registry(card_item(status="cancelled"))
    r = client_.post(f"{URL}/confirm", {"binding_id": started["binding_id"], "code": code}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "card_cancelled"
    assert r.json()["issuer"]["hotline"] == "96777"


@pytest.mark.django_db
def test_two_pending_attempts_of_one_user_bind_once(client_, start, sms):
    first = start(client_.user)
    first_code = sms.last_code(RESERVED, "bind")
    second = start(client_.user)
    second_code = sms.last_code(RESERVED, "bind")
    binding_confirm(user=client_.user, binding_id=second.public_id, code=second_code)
    with pytest.raises(ServiceError) as refused:
        binding_confirm(user=client_.user, binding_id=first.public_id, code=first_code)
    assert refused.value.code == "already_bound" and "您的账户" in refused.value.message
    assert Binding.objects.count() == 1


@pytest.mark.django_db
def test_a_mistyped_number_counts_once_and_the_cap_says_when_to_retry(client_, settings):
    """Retrying the same number the registry does not hold counts once towards the account's
    cap; a second distinct typo counts again; the refusal after the cap names the exact reset."""
    from datetime import timedelta

    from django.utils import timezone

    settings.BINDING_MAX_FAILURES_PER_ACCOUNT = 2
    settings.BINDING_MAX_FAILURES_PER_CARD = 10
    for _ in range(4):
        assert _refusal(client_, card_no="32010000000000000099")["code"] == "card_not_found"
    assert _refusal(client_, card_no="32010000000000000098")["code"] == "card_not_found"
    body = _refusal(client_)  # two distinct typos reached the cap of 2
    tomorrow = timezone.localtime() + timedelta(days=1)
    assert body["code"] == "too_many_attempts"
    assert f"{tomorrow.month}月{tomorrow.day}日 00:00（北京时间）" in body["message"]
