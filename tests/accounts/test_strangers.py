"""Strangers and accounts: nothing says whether a mobile has an account before its code is
proved, and a mobile whose password logins strangers locked still signs in by SMS code (the
App and the site's login page alike)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts import services
from accounts.models import SmsCode
from piaogen.errors import ServiceError
from tests.conftest import age_sms_codes

PASSWORD = "secret123abc"
KNOWN = "13700001234"
UNKNOWN = "13700005678"
LOGIN = "/api/v1/app/login"


def sms_code(api, mobile, purpose, address="10.20.0.1"):
    return api.post("/api/v1/app/sms-codes", {"mobile": mobile, "purpose": purpose}, format="json", REMOTE_ADDR=address)


def same_answer(a, b) -> None:
    """Two answers that must not tell apart a registered number from another: same status and
    same body once the masked number each names is set aside."""
    assert a.status_code == b.status_code, (a.content, b.content)
    body_a, body_b = dict(a.json()), dict(b.json())
    body_a.pop("masked_mobile", None), body_b.pop("masked_mobile", None)
    assert body_a == body_b


# --- sms-codes and reset say nothing of an account ------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("purpose", ["register", "login", "reset"])
def test_sms_codes_answer_alike_whether_or_not_the_mobile_has_an_account(api, make_user, sms, purpose):
    make_user(mobile=KNOWN)
    age_sms_codes()
    known, unknown = sms_code(api, KNOWN, purpose), sms_code(api, UNKNOWN, purpose)
    assert known.status_code == 202
    same_answer(known, unknown)
    assert set(known.json()) == {"masked_mobile", "expires_in", "resend_after"}
    # Both numbers got a code, so the limits that follow answer alike too (a resend too soon).
    assert sms.last_code(KNOWN, purpose) and sms.last_code(UNKNOWN, purpose)
    again_known, again_unknown = sms_code(api, KNOWN, purpose), sms_code(api, UNKNOWN, purpose)
    assert again_known.status_code == 429 and again_known.json()["code"] == "sms_too_soon"
    same_answer(again_known, again_unknown)


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["accounts:login", "accounts:password_reset"])
def test_the_pages_send_a_code_alike_whether_or_not_the_mobile_has_an_account(client, make_user, sms, page):
    make_user(mobile=KNOWN)
    answers = []
    for mobile in (KNOWN, UNKNOWN):
        r = client.post(reverse(page), {"mobile": mobile, "send_code": "1"})
        body = r.content.decode().replace(f"{mobile[:3]}****{mobile[-4:]}", "MASKED").replace(mobile, "MOBILE")
        answers.append((r.status_code, body))
    assert answers[0][0] == answers[1][0] == 200
    assert "验证码已发送至 MASKED" in answers[0][1]
    assert answers[0][1].count("尚未注册") == answers[1][1].count("尚未注册") == 0
    strip = lambda html: html[html.index("<main") :]  # noqa: E731 (the CSRF token and header differ)
    import re

    token = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')
    assert token.sub("", strip(answers[0][1])) == token.sub("", strip(answers[1][1]))


@pytest.mark.django_db
def test_reset_refuses_alike_until_the_code_is_proved(api, make_user, sms):
    make_user(mobile=KNOWN)
    age_sms_codes()
    answers = {}
    for mobile in (KNOWN, UNKNOWN):
        assert sms_code(api, mobile, "reset").status_code == 202
        body = {"mobile": mobile, "code": "000000", "password": "newroad2027"}
        if sms.last_code(mobile, "reset") == "000000":
            body["code"] = "111111"
        wrong = api.post("/api/v1/app/password-reset", body, format="json")
        weak = api.post("/api/v1/app/password-reset", body | {"password": "abc"}, format="json")
        answers[mobile] = (wrong.status_code, wrong.json(), weak.status_code, weak.json())
    assert answers[KNOWN] == answers[UNKNOWN]
    assert answers[KNOWN][1]["code"] == "code_wrong" and answers[KNOWN][3]["code"] == "weak_password"
    # Proved: the owner of the known number resets; the other learns there is no account.
    code = sms.last_code(KNOWN, "reset")
    r = api.post(
        "/api/v1/app/password-reset", {"mobile": KNOWN, "code": code, "password": "newroad2027"}, format="json"
    )
    assert r.status_code == 200 and r.json()["token"]
    code = sms.last_code(UNKNOWN, "reset")
    r = api.post(
        "/api/v1/app/password-reset", {"mobile": UNKNOWN, "code": code, "password": "newroad2027"}, format="json"
    )
    assert r.status_code == 400 and r.json()["code"] == "not_registered"


@pytest.mark.django_db
def test_service_sends_login_and_reset_codes_to_any_number(sms):
    for purpose in (SmsCode.Purpose.LOGIN, SmsCode.Purpose.RESET):
        services.sms_code_send(mobile=UNKNOWN, purpose=purpose)
        assert sms.last_code(UNKNOWN, purpose)
    with pytest.raises(ServiceError) as exc:
        services.user_authenticate(mobile=UNKNOWN, code=sms.last_code(UNKNOWN, "login"))
    assert exc.value.code == "login_failed"  # said only once the code is proved


# --- a stranger's wrong passwords ------------------------------------------------------------------


def lock_by_strangers(api, mobile, settings) -> None:
    """Wrong passwords from many addresses, each below its own (address, account) limit, until
    the account's own limit pauses password logins."""
    per_pair = settings.LOGIN_MAX_FAILURES_PER_CLIENT_ACCOUNT
    for n in range(settings.LOGIN_MAX_FAILURES_PER_ACCOUNT):
        r = api.post(
            LOGIN,
            {"mobile": mobile, "password": "wrong-pass-1"},
            format="json",
            REMOTE_ADDR=f"10.21.{n // per_pair}.{n % per_pair}",
        )
        assert r.status_code == 400


@pytest.mark.django_db
def test_a_stranger_on_one_client_locks_only_that_client(api, make_user, settings):
    user = make_user(password=PASSWORD)
    for _ in range(settings.LOGIN_MAX_FAILURES_PER_CLIENT_ACCOUNT):
        r = api.post(LOGIN, {"mobile": user.mobile, "password": "wrong-pass-1"}, format="json", REMOTE_ADDR="10.22.0.1")
        assert r.status_code == 400
    r = api.post(LOGIN, {"mobile": user.mobile, "password": PASSWORD}, format="json", REMOTE_ADDR="10.22.0.1")
    assert r.status_code == 429 and r.json()["code"] == "too_many_logins" and r.json()["sms_login"] is True
    r = api.post(LOGIN, {"mobile": user.mobile, "password": PASSWORD}, format="json", REMOTE_ADDR="10.22.0.2")
    assert r.status_code == 200  # the owner, elsewhere


@pytest.mark.django_db
def test_the_app_lock_says_how_to_get_in_and_the_sms_code_gets_in(api, make_user, settings, sms):
    user = make_user(password=PASSWORD)
    lock_by_strangers(api, user.mobile, settings)
    r = api.post(LOGIN, {"mobile": user.mobile, "password": PASSWORD}, format="json", REMOTE_ADDR="10.23.0.1")
    assert r.status_code == 429 and 0 < int(r["Retry-After"]) <= settings.LOGIN_FAILURE_WINDOW_SECONDS
    body = r.json()
    assert body["code"] == "too_many_logins" and body["sms_login"] is True
    assert "短信验证码登录" in body["message"] and "获取验证码" in body["message"]
    age_sms_codes()
    assert sms_code(api, user.mobile, "login", address="10.23.0.1").status_code == 202
    code = sms.last_code(user.mobile, "login")
    r = api.post(LOGIN, {"mobile": user.mobile, "code": code}, format="json", REMOTE_ADDR="10.23.0.1")
    assert r.status_code == 200 and r.json()["token"]


@pytest.mark.django_db
def test_a_stranger_cannot_use_the_sms_login_either(api, make_user, settings, sms):
    user = make_user(password=PASSWORD)
    lock_by_strangers(api, user.mobile, settings)
    age_sms_codes()
    assert sms_code(api, user.mobile, "login", address="10.24.0.1").status_code == 202  # the code goes to the owner
    real = sms.last_code(user.mobile, "login")
    guesses = [f"{(int(real) + n) % 10**6:06d}" for n in range(1, settings.SMS_CODE_MAX_TRIES + 1)]
    codes = [
        api.post(LOGIN, {"mobile": user.mobile, "code": g}, format="json", REMOTE_ADDR="10.24.0.1").json()["code"]
        for g in guesses
    ]
    assert codes[:-1] == ["code_wrong"] * (len(guesses) - 1) and codes[-1] == "code_wrong"
    r = api.post(LOGIN, {"mobile": user.mobile, "code": real}, format="json", REMOTE_ADDR="10.24.0.1")
    assert r.status_code == 400 and r.json()["code"] == "code_locked"  # the code died with the guesses


@pytest.mark.django_db
def test_an_address_over_its_own_limit_is_told_to_wait_not_offered_sms(api, make_user, settings):
    user = make_user(password=PASSWORD)
    for n in range(settings.LOGIN_MAX_FAILURES_PER_ADDRESS):
        api.post(LOGIN, {"mobile": f"1350000{n:04d}", "password": "x-wrong-1"}, format="json", REMOTE_ADDR="10.25.0.1")
    r = api.post(LOGIN, {"mobile": user.mobile, "password": PASSWORD}, format="json", REMOTE_ADDR="10.25.0.1")
    assert r.status_code == 429 and r.json()["sms_login"] is False and "您所在网络" in r.json()["message"]


@pytest.mark.django_db
def test_the_login_page_lock_message_and_sms_login(client, make_user, settings, sms, api):
    user = make_user(password=PASSWORD)
    lock_by_strangers(api, user.mobile, settings)
    page = reverse("accounts:login")
    r = client.post(page, {"mobile": user.mobile, "password": PASSWORD, "login": "1"})
    body = r.content.decode()
    assert r.status_code == 429 and int(r["Retry-After"]) > 0
    assert "密码登录已暂停" in body and "短信验证码登录" in body and 'name="send_code"' in body
    age_sms_codes()
    r = client.post(page, {"mobile": user.mobile, "send_code": "1"})
    assert r.status_code == 200 and "验证码已发送至" in r.content.decode()
    assert f'value="{user.mobile}"' in r.content.decode()  # the number typed is kept
    code = sms.last_code(user.mobile, "login")
    r = client.post(page + "?next=/cards/", {"mobile": user.mobile, "code": code, "login": "1"})
    assert r.status_code == 302 and r["Location"] == "/cards/"
    assert client.session["_auth_user_id"] == str(user.pk)


@pytest.mark.django_db
def test_the_login_page_needs_a_password_or_a_code(client, make_user):
    user = make_user(password=PASSWORD)
    r = client.post(reverse("accounts:login"), {"mobile": user.mobile, "login": "1"})
    assert r.status_code == 200 and "请填写密码，或获取并填写短信验证码" in r.content.decode()
    r = client.post(reverse("accounts:login"), {"mobile": user.mobile, "password": PASSWORD, "login": "1"})
    assert r.status_code == 302


# --- a number's daily SMS cap is counted per client ----------------------------------------------


def ask_codes(api, mobile, address, n):
    answers = []
    for _n in range(n):
        age_sms_codes()
        answers.append(sms_code(api, mobile, "register", address=address))
    return answers


@pytest.mark.django_db
def test_a_stranger_using_up_a_numbers_sms_codes_stops_only_himself(api, make_user, settings, sms):
    """Asking codes for someone's number from one client uses up that client's share of the day
    (``SMS_DAILY_CAP``), not the owner's: the owner, elsewhere, still gets a login code and signs in."""
    settings.SMS_DAILY_CAP, settings.SMS_DAILY_CEILING = 3, 7
    user = make_user(password=PASSWORD)
    answers = ask_codes(api, user.mobile, "10.30.0.1", 4)
    assert [r.status_code for r in answers] == [202, 202, 202, 429]
    assert answers[-1].json()["code"] == "sms_daily_cap" and int(answers[-1]["Retry-After"]) > 0
    age_sms_codes()
    assert sms_code(api, user.mobile, "login", address="10.31.0.1").status_code == 202
    code = sms.last_code(user.mobile, "login")
    r = api.post(LOGIN, {"mobile": user.mobile, "code": code}, format="json", REMOTE_ADDR="10.31.0.1")
    assert r.status_code == 200 and r.json()["token"]
    stranger = services.sms_client_digest("10.30.0.1")
    assert SmsCode.objects.filter(client_digest=stranger).count() == 3  # the refused one wrote nothing
    assert stranger and "10.30" not in stranger  # a digest, not the address


@pytest.mark.django_db
def test_all_clients_together_stop_at_the_numbers_daily_ceiling(api, settings, sms):
    settings.SMS_DAILY_CAP, settings.SMS_DAILY_CEILING = 3, 7
    sent = [
        r.status_code
        for address in ("10.32.0.1", "10.32.0.2", "10.32.0.3")
        for r in ask_codes(api, UNKNOWN, address, 3)
    ]
    assert sent == [202] * 7 + [429, 429]
    assert len([m for m in sms.messages() if m["mobile"] == UNKNOWN]) == 7


@pytest.mark.django_db
def test_binding_codes_count_per_account(settings, sms):
    """Binding codes are asked by a signed-in account: each account has its own share."""
    settings.SMS_DAILY_CAP, settings.SMS_DAILY_CEILING = 1, 5
    services.sms_code_send(mobile=KNOWN, purpose=SmsCode.Purpose.BIND, scope="a", client_key="account:1")
    age_sms_codes()
    with pytest.raises(ServiceError) as exc:
        services.sms_code_send(mobile=KNOWN, purpose=SmsCode.Purpose.BIND, scope="b", client_key="account:1")
    assert exc.value.code == "sms_daily_cap"
    services.sms_code_send(mobile=KNOWN, purpose=SmsCode.Purpose.BIND, scope="c", client_key="account:2")
    assert len(sms.messages()) == 2
