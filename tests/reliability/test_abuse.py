"""Abuse limits: 429 with Retry-After on login (per account and per address, pages, App and
console alike, counted in the cache: Redis in production), SMS sending, binding attempts,
verification checks and partner calls; the console's second factor (TOTP)."""

from __future__ import annotations

import time
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import User, mobile_digest
from tests.conftest import age_sms_codes

PASSWORD = "secret123abc"
LOGIN = "/api/v1/app/login"


def login(api, mobile, password, address="10.0.0.1"):
    return api.post(LOGIN, {"mobile": mobile, "password": password}, format="json", REMOTE_ADDR=address)


def assert_limited(r, code="too_many_logins", most=900):
    assert r.status_code == 429, r.content
    assert 0 < int(r["Retry-After"]) <= most
    if r["Content-Type"].startswith("application/json"):
        assert r.json()["code"] == code


@pytest.mark.django_db
def test_ten_failed_logins_lock_the_account_whatever_the_address(api, make_user, settings):
    user = make_user(password=PASSWORD)
    mobile = user.mobile
    for n in range(settings.LOGIN_MAX_FAILURES_PER_ACCOUNT):
        assert login(api, mobile, "wrong-pass-1", address=f"10.0.1.{n}").status_code == 400
    assert_limited(login(api, mobile, "wrong-pass-1", address="10.0.2.1"))
    assert_limited(login(api, mobile, PASSWORD, address="10.0.2.2"))  # not even the right password is checked
    page = reverse("accounts:login")
    r = api.post(page, {"mobile": mobile, "password": PASSWORD}, REMOTE_ADDR="10.0.2.3")  # the page shares it
    assert_limited(r)
    assert "登录失败次数过多" in r.content.decode()
    other = make_user(password=PASSWORD)
    assert login(api, other.mobile, PASSWORD, address="10.0.2.4").status_code == 200  # others are not locked


@pytest.mark.django_db
def test_fifty_failed_logins_from_one_address_lock_that_address(api, make_user, settings):
    user = make_user(password=PASSWORD)
    for n in range(settings.LOGIN_MAX_FAILURES_PER_ADDRESS):
        assert login(api, f"1350000{n:04d}", "guess-pass-1", address="10.9.9.9").status_code == 400
    assert_limited(login(api, user.mobile, PASSWORD, address="10.9.9.9"))
    assert login(api, user.mobile, PASSWORD, address="10.9.9.10").status_code == 200  # another address is fine


@pytest.mark.django_db
def test_a_successful_login_clears_the_accounts_failures(api, make_user, settings):
    user = make_user(password=PASSWORD)
    for _round in range(3):
        for n in range(settings.LOGIN_MAX_FAILURES_PER_ACCOUNT - 1):
            assert login(api, user.mobile, "wrong-pass-1", address=f"10.1.{_round}.{n}").status_code == 400
        assert login(api, user.mobile, PASSWORD, address="10.1.9.9").status_code == 200


@pytest.mark.django_db
def test_the_page_login_is_limited_per_account(client, make_user, settings):
    user = make_user(password=PASSWORD)
    page = reverse("accounts:login")
    for _n in range(settings.LOGIN_MAX_FAILURES_PER_CLIENT_ACCOUNT):
        r = client.post(page, {"mobile": user.mobile, "password": "wrong-pass-1"})
        assert r.status_code == 200 and "手机号或密码不正确" in r.content.decode()
    r = client.post(page, {"mobile": user.mobile, "password": PASSWORD})
    assert_limited(r)
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_login_limits_hold_on_a_real_redis_cache(api, make_user, settings, own_redis):
    settings.CACHES = {"default": {"BACKEND": "piaogen.cache.PooledRedisCache", "LOCATION": own_redis.url}}
    user = make_user(password=PASSWORD)
    for n in range(settings.LOGIN_MAX_FAILURES_PER_ACCOUNT):
        assert login(api, user.mobile, "wrong-pass-1", address=f"10.3.0.{n}").status_code == 400
    assert_limited(login(api, user.mobile, PASSWORD))
    keys = [k.decode() for k in own_redis.client().keys("*")]
    assert any("limit:login-account" in k for k in keys)
    assert not any(user.mobile in k for k in keys)  # keyed digests, never the mobile


# --- the console: login limits and the second factor ---------------------------------------------


@pytest.fixture
def staff_member(db):
    return User.objects.create_user("13900000201", "Console2026x", name="测试坐席", is_staff=True)


def console_login(client, password="Console2026x", token=None, mobile="13900000201"):
    data = {"username": mobile, "password": password}
    if token is not None:
        data["otp_token"] = token
    return client.post("/admin/login/?next=/admin/", data)


def enrol(mobile="13900000201") -> TOTPDevice:
    out = StringIO()
    call_command("staff_totp_enrol", "--mobile", mobile, stdout=out)
    text = out.getvalue()
    assert "otpauth://totp/" in text and "secret=" in text and mobile not in text  # the URI names the masked mobile
    return TOTPDevice.objects.get(user__mobile_digest=mobile_digest(mobile))


@pytest.mark.django_db
def test_the_console_requires_a_second_factor_when_configured(client, staff_member, settings):
    settings.STAFF_2FA_REQUIRED = True
    r = console_login(client)
    assert r.status_code == 200 and "尚未登记身份验证器" in r.content.decode()
    device = enrol()
    assert "请输入身份验证器上的 6 位动态口令" in console_login(client).content.decode()
    assert "动态口令不正确" in console_login(client, token="000000").content.decode()
    assert "_auth_user_id" not in client.session
    # django-otp's own throttle: after a wrong code even the right one waits (1 s, doubling).
    assert console_login(client, token=totp(device.bin_key)).status_code == 200
    time.sleep(1.1)
    r = console_login(client, token=totp(device.bin_key))
    assert r.status_code == 302 and r["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    # A session opened on the site's login page (password only) does not open the console.
    client.logout()
    client.force_login(staff_member)
    r = client.get("/admin/")
    assert r.status_code == 302 and r["Location"].startswith("/admin/login/")


@pytest.mark.django_db
def test_without_the_requirement_only_enrolled_staff_give_a_code(client, staff_member, settings):
    settings.STAFF_2FA_REQUIRED = False
    assert console_login(client).status_code == 302  # make run's demo staff: the password alone
    client.logout()
    device = enrol()
    assert console_login(client).status_code == 200  # enrolled: the code is asked for
    assert console_login(client, token=totp(device.bin_key)).status_code == 302


@pytest.mark.django_db
def test_the_console_login_is_limited_too(client, staff_member, settings):
    for _n in range(settings.LOGIN_MAX_FAILURES_PER_CLIENT_ACCOUNT):
        assert console_login(client, password="wrong-pass-1").status_code == 200
    r = console_login(client)
    assert r.status_code == 429 and int(r["Retry-After"]) > 0 and "登录失败次数过多" in r.content.decode()


@pytest.mark.django_db
def test_enrolment_is_for_staff_and_once(staff_member, make_user):
    enrol()
    with pytest.raises(CommandError):
        call_command("staff_totp_enrol", "--mobile", "13900000201", stdout=StringIO())
    call_command("staff_totp_enrol", "--mobile", "13900000201", "--replace", stdout=StringIO())
    assert TOTPDevice.objects.filter(user=staff_member).count() == 1
    customer = make_user()
    with pytest.raises(CommandError):
        call_command("staff_totp_enrol", "--mobile", customer.mobile, stdout=StringIO())


# --- SMS, binding, verification, partners ------------------------------------------------------------


@pytest.mark.django_db
def test_sms_sending_is_limited_per_number(api, sms, settings, local_midday):
    # Ten resends move the codes back ten minutes: at 00:05 some would count for yesterday.
    body = {"mobile": "13611112222", "purpose": "register"}
    assert api.post("/api/v1/app/sms-codes", body, format="json").status_code == 202
    assert_limited(api.post("/api/v1/app/sms-codes", body, format="json"), code="sms_too_soon", most=60)
    for _n in range(settings.SMS_DAILY_CAP - 1):
        age_sms_codes()
        assert api.post("/api/v1/app/sms-codes", body, format="json").status_code == 202
    age_sms_codes()
    assert_limited(api.post("/api/v1/app/sms-codes", body, format="json"), code="sms_daily_cap", most=86400)
    page = api.post(reverse("accounts:register"), {"mobile": "13611112222", "send_code": "1"})
    assert_limited(page, most=86400)
    assert len(sms.messages()) == settings.SMS_DAILY_CAP


@pytest.mark.django_db
def test_binding_attempts_are_capped_with_retry_after(world, app_client, settings):
    intruder = app_client()
    card = world.cards[1]
    guesses = [f"41010519900101{n:03d}" for n in range(100, 130)]
    from stdnum.cn import ric

    guesses = [g + ric.calc_check_digit(g + "0") for g in guesses]
    answers = []
    for guess in guesses[: settings.BINDING_MAX_FAILURES_PER_ACCOUNT + 2]:
        r = intruder.post(
            "/api/v1/app/cards",
            {"card_no": card["card_no"], "id_type": "resident_id", "id_number": guess, "mobile": card["mobile"]},
            format="json",
        )
        answers.append((r.status_code, r.json()["code"], r.get("Retry-After")))
    cap = settings.BINDING_MAX_FAILURES_PER_ACCOUNT
    assert [a[1] for a in answers[:cap]] == ["id_mismatch"] * cap
    # The contract answers 400 too_many_attempts; the header says when to come back (tomorrow).
    for status, code, retry_after in answers[cap:]:
        assert (status, code) == (400, "too_many_attempts") and 0 < int(retry_after) <= 86400
    # Now even the right ID number is not compared: no oracle.
    r = intruder.post(
        "/api/v1/app/cards",
        {
            "card_no": card["card_no"],
            "id_type": "resident_id",
            "id_number": card["id_number"],
            "mobile": card["mobile"],
        },
        format="json",
    )
    assert r.json()["code"] == "too_many_attempts"


@pytest.mark.django_db
def test_verification_is_limited_per_invoice_and_per_client(world, api, monkeypatch):
    from invoices import services
    from invoices.api.verification import VerifyThrottle

    from .conftest import push_trips, submit

    push_trips(world, 1)
    app_id = submit(world)
    services.application_issue(application_id=app_id)
    from invoices.models import Invoice

    inv = Invoice.objects.filter(application_id=app_id).first()
    query = {"code": inv.code, "number": inv.number, "date": inv.issued_on.strftime("%Y%m%d"), "check": "000000"}
    answers = [api.get("/api/v1/verify", query, REMOTE_ADDR="10.5.0.1") for n in range(6)]
    assert [r.json()["result"] for r in answers[:5]] == ["mismatch"] * 5
    assert_limited(answers[5], code="too_many_checks", most=86400)
    assert answers[5].json()["limit"] == "invoice"
    # Another client is not stopped by those: strangers' guesses are no lever against the holder.
    assert api.get("/api/v1/verify", query, REMOTE_ADDR="10.5.0.2").json()["result"] == "mismatch"
    monkeypatch.setattr(VerifyThrottle, "rate", "3/min", raising=False)
    other = dict(query, number="99999999")
    answers = [api.get("/api/v1/verify", other, REMOTE_ADDR="10.6.0.1") for _ in range(4)]
    assert [r.status_code for r in answers[:3]] == [200] * 3
    assert_limited(answers[3], code="too_many_checks", most=60)


@pytest.mark.django_db
def test_partner_calls_are_throttled_burst_and_sustained(world, monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "partner_burst", "5/min")
    cache.clear()  # the world's own calls
    body = {"transits": []}
    answers = [world.clearing.post("/api/v1/partner/transits", body, format="json") for _ in range(6)]
    assert [r.status_code for r in answers[:5]] == [200] * 5
    assert_limited(answers[5], code="too_many_requests", most=60)
    assert world.issuer.post("/api/v1/partner/cards", {"cards": []}, format="json").status_code == 200  # per partner
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "partner_burst", "1000/min")
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "partner_sustained", "8/day")
    cache.clear()
    answers = [world.issuer.post("/api/v1/partner/cards", {"cards": []}, format="json") for _ in range(9)]
    assert [r.status_code for r in answers[:8]] == [200] * 8
    assert_limited(answers[8], code="too_many_requests", most=86400)


@pytest.mark.django_db
def test_app_calls_are_throttled(world, monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "app", "4/min")
    cache.clear()
    answers = [world.user.get("/api/v1/app/me") for _ in range(5)]
    assert [r.status_code for r in answers[:4]] == [200] * 4
    assert_limited(answers[4], code="too_many_requests", most=60)
    assert APIClient().get("/api/v1/app/me").status_code == 401


@pytest.mark.django_db
def test_a_stranger_cannot_lock_someone_out_and_the_owner_gets_in_by_sms_code(api, make_user, settings, sms):
    user = make_user(password=PASSWORD)
    mobile = user.mobile
    for _ in range(settings.LOGIN_MAX_FAILURES_PER_CLIENT_ACCOUNT):
        assert login(api, mobile, "wrong-pass-1", address="10.7.0.1").status_code == 400
    assert_limited(login(api, mobile, PASSWORD, address="10.7.0.1"))  # the stranger is held
    assert login(api, mobile, PASSWORD, address="10.7.0.2").status_code == 200  # the owner is not
    # strangers spread over many addresses reach the account's own limit; the SMS code still works
    for n in range(settings.LOGIN_MAX_FAILURES_PER_ACCOUNT):
        login(api, mobile, "wrong-pass-1", address=f"10.8.{n // 200}.{n % 200}")
    assert_limited(login(api, mobile, PASSWORD, address="10.7.0.3"))
    age_sms_codes()
    assert (
        api.post(
            "/api/v1/app/sms-codes", {"mobile": mobile, "purpose": "login"}, format="json", REMOTE_ADDR="10.7.0.3"
        ).status_code
        == 202
    )
    r = api.post(
        LOGIN, {"mobile": mobile, "code": sms.last_code(mobile, "login")}, format="json", REMOTE_ADDR="10.7.0.3"
    )
    assert r.status_code == 200, r.content
