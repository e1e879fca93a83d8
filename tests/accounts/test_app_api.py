import pytest

from accounts.models import AppToken, User
from piaogen.crypto import token_digest
from tests.conftest import age_sms_codes

MOBILE = "13612345678"


def _code(api, sms, mobile=MOBILE, purpose="register"):
    r = api.post("/api/v1/app/sms-codes", {"mobile": mobile, "purpose": purpose}, format="json")
    assert r.status_code == 202, r.content
    assert r.json()["masked_mobile"] == mobile[:3] + "****" + mobile[-4:]
    return sms.last_code(mobile, purpose)


@pytest.mark.django_db
def test_register_then_login_then_me(api, sms):
    code = _code(api, sms)
    r = api.post(
        "/api/v1/app/register",
        {"mobile": MOBILE, "code": code, "password": "road2026ok", "account_type": "personal", "name": "李四"},
        format="json",
    )
    assert r.status_code == 201, r.content
    token = r.json()["token"]
    # Only the digest of the token is stored.
    assert AppToken.objects.filter(digest=token_digest(token)).exists()
    assert not AppToken.objects.filter(digest=token).exists()
    r = api.post("/api/v1/app/login", {"mobile": MOBILE, "password": "road2026ok"}, format="json")
    assert r.status_code == 200
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {r.json()['token']}")
    me = api.get("/api/v1/app/me").json()
    assert me["masked_mobile"] == "136****5678" and me["name"] == "李四"
    assert MOBILE not in str(me)


@pytest.mark.django_db
def test_enterprise_registration_checks_uscc(api, sms):
    code = _code(api, sms)
    body = {
        "mobile": MOBILE,
        "code": code,
        "password": "road2026ok",
        "account_type": "enterprise",
        "name": "演示运输公司",
        "tax_id": "91110000MA01DEM006",
    }
    r = api.post("/api/v1/app/register", body, format="json")
    assert r.status_code == 400
    assert r.json()["code"] == "invalid" and "tax_id" in r.json()["errors"]
    assert "GB 32100" in r.json()["message"]
    # The code was not spent on a refused form: the corrected form goes through with it.
    body["tax_id"] = "91110000ma01dem005"
    r = api.post("/api/v1/app/register", body, format="json")
    assert r.status_code == 201, r.content
    user = User.objects.get()
    assert user.is_enterprise and user.tax_id == "91110000MA01DEM005"


@pytest.mark.django_db
def test_enterprise_without_name_is_refused(api, sms):
    code = _code(api, sms)
    r = api.post(
        "/api/v1/app/register",
        {
            "mobile": MOBILE,
            "code": code,
            "password": "road2026ok",
            "account_type": "enterprise",
            "tax_id": "91110000MA01DEM005",
        },
        format="json",
    )
    assert r.status_code == 400 and "name" in r.json()["errors"]


@pytest.mark.django_db
@pytest.mark.parametrize("password", ["short1", "onlyletters", "1234567890", "password1"])
def test_weak_password_is_refused(api, sms, password):
    code = _code(api, sms)
    r = api.post("/api/v1/app/register", {"mobile": MOBILE, "code": code, "password": password}, format="json")
    assert r.status_code == 400
    assert r.json()["code"] == "weak_password" and "password" in r.json()["errors"]
    assert not User.objects.exists()


@pytest.mark.django_db
def test_duplicate_account_is_refused_only_to_whoever_proves_the_code(api, sms, make_user):
    make_user(mobile=MOBILE)
    age_sms_codes()
    fresh = api.post("/api/v1/app/sms-codes", {"mobile": "13900001111", "purpose": "register"}, format="json")
    r = api.post("/api/v1/app/sms-codes", {"mobile": MOBILE, "purpose": "register"}, format="json")
    assert r.status_code == fresh.status_code == 202 and r.json().keys() == fresh.json().keys()  # nothing told
    r = api.post("/api/v1/app/register", {"mobile": MOBILE, "code": "000000", "password": "road2026ok"}, format="json")
    assert r.status_code == 400 and r.json()["code"] != "already_registered"
    code = sms.last_code(MOBILE, "register")
    r = api.post("/api/v1/app/register", {"mobile": MOBILE, "code": code, "password": "road2026ok"}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "already_registered"


@pytest.mark.django_db
def test_wrong_and_expired_codes(api, sms):
    code = _code(api, sms)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    r = api.post("/api/v1/app/register", {"mobile": MOBILE, "code": wrong, "password": "road2026ok"}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "code_wrong"
    assert "4" in r.json()["message"]  # tries left


@pytest.mark.django_db
def test_sms_resend_too_soon_is_429_with_retry_after(api, sms):
    _code(api, sms)
    r = api.post("/api/v1/app/sms-codes", {"mobile": MOBILE, "purpose": "register"}, format="json")
    assert r.status_code == 429
    assert r.json()["code"] == "sms_too_soon" and int(r["Retry-After"]) > 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {"mobile": "123", "purpose": "register"},
        {"mobile": MOBILE, "purpose": "bind"},  # bind codes are sent by the binding flow only
        {"mobile": MOBILE},
        {"mobile": ["13612345678"], "purpose": "register"},
        {"mobile": None, "purpose": "register"},
    ],
)
def test_sms_request_validation(api, sms, body):
    r = api.post("/api/v1/app/sms-codes", body, format="json")
    assert r.status_code == 400
    assert r.json()["code"] == "invalid" and r.json()["errors"]
    assert sms.messages() == []


@pytest.mark.django_db
def test_malformed_json_is_a_clear_400(api):
    r = api.generic("POST", "/api/v1/app/login", "{not json", content_type="application/json")
    assert r.status_code == 400 and r.json()["code"] == "malformed"


@pytest.mark.django_db
def test_login_refusals(api, make_user):
    make_user(mobile=MOBILE, password="road2026ok")
    r = api.post("/api/v1/app/login", {"mobile": MOBILE, "password": "wrong-pass1"}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "login_failed"
    r = api.post("/api/v1/app/login", {"mobile": "13600000000", "password": "road2026ok"}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "login_failed"
    r = api.post("/api/v1/app/login", {"mobile": MOBILE}, format="json")
    assert r.status_code == 400 and "password" in r.json()["errors"]


@pytest.mark.django_db
def test_sms_login_and_password_reset(api, sms, make_user):
    make_user(mobile=MOBILE, password="road2026ok")
    age_sms_codes()
    code = _code(api, sms, purpose="login")
    r = api.post("/api/v1/app/login", {"mobile": MOBILE, "code": code}, format="json")
    assert r.status_code == 200
    old_token = r.json()["token"]
    age_sms_codes()
    code = _code(api, sms, purpose="reset")
    r = api.post(
        "/api/v1/app/password-reset", {"mobile": MOBILE, "code": code, "password": "newroad2027"}, format="json"
    )
    assert r.status_code == 200
    # the old session ends with the old password
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {old_token}")
    assert api.get("/api/v1/app/me").status_code == 401
    r = api.post("/api/v1/app/login", {"mobile": MOBILE, "password": "newroad2027"}, format="json")
    assert r.status_code == 200


@pytest.mark.django_db
def test_token_rules(api, app_client, partner_client):
    assert api.get("/api/v1/app/me").status_code == 401
    api.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    r = api.get("/api/v1/app/me")
    assert r.status_code == 401 and r.json()["code"] == "unauthenticated"
    assert r["WWW-Authenticate"].startswith("Bearer")
    api.credentials(HTTP_AUTHORIZATION="Token abc")
    assert api.get("/api/v1/app/me").status_code == 401
    # a partner token does not open the App API
    partner = partner_client("clearing", name="演示清分中心")
    assert partner.get("/api/v1/app/me").status_code == 401
    client = app_client()
    assert client.get("/api/v1/app/me").status_code == 200
    assert client.post("/api/v1/app/logout").status_code == 204
    assert client.get("/api/v1/app/me").status_code == 401


@pytest.mark.django_db
def test_a_password_change_in_the_app_ends_the_accounts_other_tokens(app_client):
    phone = app_client()
    tablet = app_client(phone.user)
    r = phone.post(
        "/api/v1/app/password", {"old_password": "wrong-one-1", "new_password": "road2026new"}, format="json"
    )
    assert r.status_code == 400 and tablet.get("/api/v1/app/me").status_code == 200
    r = phone.post(
        "/api/v1/app/password", {"old_password": "secret123abc", "new_password": "road2026new"}, format="json"
    )
    assert r.status_code == 204
    assert phone.get("/api/v1/app/me").status_code == 200
    assert tablet.get("/api/v1/app/me").status_code == 401


@pytest.mark.django_db
def test_a_password_change_on_the_site_ends_every_app_token(app_client, client):
    from django.urls import reverse

    phone = app_client()
    client.force_login(phone.user)
    r = client.post(
        reverse("accounts:profile"),
        {"old_password": "secret123abc", "new_password": "road2026new", "new_password2": "road2026new"},
    )
    assert r.status_code in (200, 302)
    assert phone.get("/api/v1/app/me").status_code == 401


@pytest.mark.django_db
def test_an_app_token_unused_for_the_idle_time_stops_working(app_client, settings):
    from datetime import timedelta

    from django.utils import timezone

    settings.APP_TOKEN_IDLE_DAYS = 30
    phone = app_client()
    assert phone.get("/api/v1/app/me").status_code == 200
    AppToken.objects.update(last_used_at=timezone.now() - timedelta(days=31))
    r = phone.get("/api/v1/app/me")
    assert r.status_code == 401 and "30" in r.json()["message"]
    assert AppToken.objects.get().revoked_at is not None
