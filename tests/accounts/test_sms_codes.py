from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import services
from accounts.models import SmsCode
from piaogen.errors import RateLimited, ServiceError
from tests.conftest import age_sms_codes

MOBILE = "13912345678"


@pytest.mark.django_db
def test_code_is_delivered_to_the_file_backend_and_stored_only_as_a_digest(sms):
    services.sms_code_send(mobile=MOBILE, purpose="register")
    [message] = sms.messages()
    assert message["mobile"] == MOBILE and message["purpose"] == "register"
    assert len(message["code"]) == 6 and message["code"].isdigit()
    assert message["code"] in message["text"]
    row = SmsCode.objects.get()
    assert message["code"] not in row.code_digest
    assert MOBILE not in row.mobile_digest and row.mobile_masked == "139****5678"


@pytest.mark.django_db
def test_bad_mobile_is_refused(sms):
    with pytest.raises(ServiceError) as exc:
        services.sms_code_send(mobile="12345", purpose="register")
    assert exc.value.code == "invalid" and "mobile" in exc.value.errors
    assert sms.messages() == []


@pytest.mark.django_db
def test_unknown_purpose_is_refused(sms):
    with pytest.raises(ServiceError) as exc:
        services.sms_code_send(mobile=MOBILE, purpose="lottery")
    assert exc.value.code == "invalid"


@pytest.mark.django_db
def test_resend_within_60_seconds_is_refused_with_retry_after(sms):
    services.sms_code_send(mobile=MOBILE, purpose="register")
    with pytest.raises(RateLimited) as exc:
        services.sms_code_send(mobile=MOBILE, purpose="register")
    assert exc.value.code == "sms_too_soon" and exc.value.status == 429
    assert 0 < exc.value.retry_after <= 60
    age_sms_codes(61)
    services.sms_code_send(mobile=MOBILE, purpose="register")
    assert len(sms.messages()) == 2


@pytest.mark.django_db
def test_daily_cap(sms, settings):
    settings.SMS_DAILY_CAP = 3
    for _ in range(3):
        services.sms_code_send(mobile=MOBILE, purpose="register")
        age_sms_codes(61)
    with pytest.raises(RateLimited) as exc:
        services.sms_code_send(mobile=MOBILE, purpose="register")
    assert exc.value.code == "sms_daily_cap"
    assert len(sms.messages()) == 3


@pytest.mark.django_db
def test_wrong_code_counts_tries_and_locks_after_five(sms):
    services.sms_code_send(mobile=MOBILE, purpose="register")
    good = sms.last_code(MOBILE)
    wrong = f"{(int(good) + 1) % 10**6:06d}"
    for _i in range(5):
        with pytest.raises(ServiceError) as exc:
            services.sms_code_verify(mobile=MOBILE, purpose="register", code=wrong)
        assert exc.value.code == "code_wrong"
    assert SmsCode.objects.get().tries == 5
    with pytest.raises(ServiceError) as exc:
        services.sms_code_verify(mobile=MOBILE, purpose="register", code=good)
    assert exc.value.code == "code_locked"


@pytest.mark.django_db
def test_expired_code_is_refused(sms):
    services.sms_code_send(mobile=MOBILE, purpose="register")
    code = sms.last_code(MOBILE)
    SmsCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(ServiceError) as exc:
        services.sms_code_verify(mobile=MOBILE, purpose="register", code=code)
    assert exc.value.code == "code_expired"


@pytest.mark.django_db
def test_code_is_single_use_and_bound_to_its_purpose(sms):
    services.sms_code_send(mobile=MOBILE, purpose="register")
    code = sms.last_code(MOBILE)
    with pytest.raises(ServiceError) as exc:
        services.sms_code_verify(mobile=MOBILE, purpose="bind", code=code)
    assert exc.value.code == "code_missing"
    services.sms_code_verify(mobile=MOBILE, purpose="register", code=code)
    with pytest.raises(ServiceError) as exc:
        services.sms_code_verify(mobile=MOBILE, purpose="register", code=code)
    assert exc.value.code == "code_missing"


@pytest.mark.django_db
@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef"])
def test_malformed_code(sms, code):
    with pytest.raises(ServiceError) as exc:
        services.sms_code_verify(mobile=MOBILE, purpose="register", code=code)
    assert exc.value.code == "code_invalid"


@pytest.mark.django_db
def test_codes_go_out_whether_or_not_the_number_has_an_account(make_user, sms):
    make_user(mobile=MOBILE)
    age_sms_codes()
    services.sms_code_send(mobile=MOBILE, purpose="register")  # says nothing of the account
    assert sms.last_code(MOBILE, "register")
    services.sms_code_send(mobile="13700009999", purpose="reset")  # nor does a reset code
    assert sms.last_code("13700009999", "reset")


@pytest.mark.django_db
def test_another_purpose_is_not_a_resend_but_counts_towards_the_daily_cap(sms, settings):
    settings.SMS_DAILY_CAP = 2
    services.sms_code_send(mobile=MOBILE, purpose="register")
    services.sms_code_send(mobile=MOBILE, purpose="bind")
    assert [m["purpose"] for m in sms.messages()] == ["register", "bind"]
    age_sms_codes(61)
    with pytest.raises(RateLimited) as exc:
        services.sms_code_send(mobile=MOBILE, purpose="bind")
    assert exc.value.code == "sms_daily_cap"


@pytest.mark.django_db
def test_console_backend_prints_the_code_on_a_line_of_its_own_with_the_mobile_masked(settings, capsys):
    settings.SMS_BACKEND = "accounts.sms.ConsoleBackend"
    services.sms_code_send(mobile="13800138001", purpose=SmsCode.Purpose.REGISTER)
    lines = capsys.readouterr().out.splitlines()
    code_lines = [line for line in lines if line.startswith("短信验证码 ")]
    assert len(code_lines) == 1, lines
    prefix, code = code_lines[0].rsplit(": ", 1)
    assert prefix == "短信验证码 138****8001 注册"
    assert len(code) == 6 and code.isdigit()
    assert "13800138001" not in "\n".join(lines)


@pytest.mark.django_db
def test_console_backend_keeps_the_site_language_and_puts_a_notice_on_one_line(settings, capsys):
    from django.utils import translation

    from accounts.sms import ConsoleBackend, SmsMessage

    settings.SMS_BACKEND = "accounts.sms.ConsoleBackend"
    with translation.override("en"):
        services.sms_code_send(mobile="13800138002", purpose=SmsCode.Purpose.BIND)
    ConsoleBackend().send(SmsMessage(mobile="13800138002", text="【票根】您的卡\n已解绑。", purpose="notice"))
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("短信验证码 138****8002 绑定ETC卡: ")
    assert out[1] == "短信 138****8002 notice: 【票根】您的卡 已解绑。"
