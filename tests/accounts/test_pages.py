import pytest
from django.urls import reverse
from stdnum.cn import uscc

from accounts.models import User
from tests.conftest import age_sms_codes

MOBILE = "13512345678"


@pytest.mark.django_db
def test_register_page_with_sms_code_then_logout_and_login(client, sms):
    url = reverse("accounts:register")
    page = client.get(url)
    assert page.status_code == 200 and "获取验证码" in page.content.decode()
    form = {"mobile": MOBILE, "account_type": "personal", "name": "王五", "password": "", "code": ""}
    r = client.post(url, {**form, "send_code": "1"})
    body = r.content.decode()
    assert r.status_code == 200 and "135****5678" in body
    assert 'value="王五"' in body  # what was typed is kept
    code = sms.last_code(MOBILE, "register")
    r = client.post(url, {**form, "code": code, "password": "road2026ok", "register": "1"})
    assert r.status_code == 302 and r["Location"] == "/"
    home = client.get("/").content.decode()
    assert "王五" in home and "注册成功" in home
    assert client.post(reverse("accounts:logout")).status_code == 302
    r = client.post(reverse("accounts:login"), {"mobile": MOBILE, "password": "road2026ok"})
    assert r.status_code == 302
    profile = client.get(reverse("accounts:profile")).content.decode()
    assert "135****5678" in profile and MOBILE not in profile


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields, message",
    [
        ({"mobile": "1351234"}, "11位"),
        ({"account_type": "enterprise", "company_name": "某公司", "tax_id": "91110000MA01DEM006"}, "GB 32100"),
        ({"account_type": "enterprise", "name": "王五", "tax_id": ""}, "单位账户须填写单位名称"),
        ({"password": "abc"}, "密码强度不够"),
        ({"code": "000000x"}, "6位数字"),
    ],
)
def test_register_page_refusals_are_shown(client, sms, fields, message):
    url = reverse("accounts:register")
    client.post(url, {"mobile": MOBILE, "send_code": "1"})
    code = sms.last_code(MOBILE) if sms.messages() else "000000"
    form = {"mobile": MOBILE, "code": code, "password": "road2026ok", "account_type": "personal", "register": "1"}
    r = client.post(url, {**form, **fields})
    assert r.status_code == 200
    assert message in r.content.decode()
    assert not User.objects.exists()


def _registered(client, sms, mobile: str, **fields):
    url = reverse("accounts:register")
    client.post(url, {"mobile": mobile, "send_code": "1"})
    form = {"mobile": mobile, "code": sms.last_code(mobile, "register"), "password": "road2026ok", "register": "1"}
    return client.post(url, {**form, **fields})


@pytest.mark.django_db
def test_register_page_puts_the_company_fields_apart_and_enter_registers(client):
    body = client.get(reverse("accounts:register")).content.decode()
    # The company fields are marked for enterprise accounts only; the name for personal ones.
    assert 'class="field for-enterprise"' in body and body.count("for-enterprise") == 2
    assert 'class="field for-personal"' in body and "姓名或单位名称" not in body
    # 获取验证码 sits beside the mobile field, and the first submit button (Enter's) registers.
    mobile_row = body[body.index('id="id_mobile"') - 200 : body.index('id="id_code"')]
    assert 'name="send_code"' in mobile_row
    first_button = body[body.index("<button", body.index('class="card-form register-form"')) :]
    assert first_button.startswith('<button type="submit" name="register"')


@pytest.mark.django_db
def test_an_enterprise_account_needs_its_company_fields_even_without_the_page_hiding_them(client, sms):
    r = _registered(client, sms, MOBILE, account_type="enterprise", name="王五")
    body = r.content.decode()
    assert r.status_code == 200 and "单位账户须填写单位名称" in body and "单位账户须填写统一社会信用代码" in body
    assert not User.objects.exists()
    tax_id = "91110000MA01DEM00" + uscc.calc_check_digit("91110000MA01DEM00")
    r = _registered(
        client, sms, MOBILE, account_type="enterprise", name="王五", company_name="某某物流有限公司", tax_id=tax_id
    )
    assert r.status_code == 302
    user = User.objects.get()
    assert (user.account_type, user.name, user.tax_id) == ("enterprise", "某某物流有限公司", tax_id)


@pytest.mark.django_db
def test_a_personal_account_keeps_no_company_fields_and_is_sent_on_to_binding(client, sms):
    r = _registered(client, sms, MOBILE, account_type="personal", name="王五", company_name="某公司", tax_id="x")
    assert r.status_code == 302
    user = User.objects.get()
    assert (user.account_type, user.name, user.tax_id) == ("personal", "王五", "")
    home = client.get(r["Location"]).content.decode()
    assert f'注册成功，欢迎使用票根。 <a href="{reverse("cards:bind")}">下一步：绑定您的ETC卡</a>' in home


@pytest.mark.django_db
def test_login_page_refuses_wrong_password_and_ignores_foreign_next(client, make_user):
    make_user(mobile=MOBILE, password="road2026ok")
    r = client.post(reverse("accounts:login"), {"mobile": MOBILE, "password": "nope12345"})
    assert r.status_code == 200 and "手机号或密码不正确" in r.content.decode()
    r = client.post(
        reverse("accounts:login") + "?next=https://evil.example/", {"mobile": MOBILE, "password": "road2026ok"}
    )
    assert r.status_code == 302 and r["Location"] == "/"


@pytest.mark.django_db
def test_password_reset_page(client, sms, make_user):
    make_user(mobile=MOBILE, password="road2026ok")
    age_sms_codes()
    url = reverse("accounts:password_reset")
    r = client.post(url, {"mobile": MOBILE, "send_code": "1"})
    assert "135****5678" in r.content.decode()
    code = sms.last_code(MOBILE, "reset")
    r = client.post(url, {"mobile": MOBILE, "code": code, "password": "fresh2027road", "reset": "1"})
    assert r.status_code == 302
    assert client.login(username=MOBILE, password="fresh2027road")


@pytest.mark.django_db
def test_profile_requires_login_and_changes_password(client, make_user):
    assert client.get(reverse("accounts:profile")).status_code == 302
    user = make_user(mobile=MOBILE, password="road2026ok")
    client.force_login(user)
    r = client.post(reverse("accounts:profile"), {"old_password": "bad", "new_password": "road2027ok"})
    assert "原密码不正确" in r.content.decode()
    r = client.post(reverse("accounts:profile"), {"old_password": "road2026ok", "new_password": "road2027ok"})
    assert r.status_code == 302
    user.refresh_from_db()
    assert user.check_password("road2027ok")


@pytest.mark.django_db
def test_frame_has_the_platform_navigation_and_switches_to_english(client):
    body = client.get("/").content.decode()
    for label in ["首页", "我的ETC卡", "通行记录", "我要开票", "我的发票", "发票抬头", "客服中心", "个人中心"]:
        assert label in body
    assert 'name="viewport"' in body and "演示环境" in body
    r = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert r.status_code == 302
    assert '<html lang="en">' in client.get("/").content.decode()
