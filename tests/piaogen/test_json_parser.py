"""The API's JSON reader: what JSON does not allow answers 400 ``malformed`` and stores nothing."""

import pytest

from accounts.models import SmsCode

BAD_BODIES = [
    b'{"mobile": "13800000000", "purpose": "register"',  # cut short
    b'{"mobile": NaN, "purpose": "register"}',  # not JSON, though Python's reader takes it
    b'{"mobile": Infinity, "purpose": "register"}',
    b'{"mobile": "\\ud800", "purpose": "register"}',  # a lone surrogate: no database stores it
    b'{"mobile": "13800000000\\u0000", "purpose": "register"}',  # NUL
    '{"mobile": "13800000000", "purpose": "注册"}'.encode("gb18030"),  # not UTF-8
]


@pytest.mark.django_db
@pytest.mark.parametrize("body", BAD_BODIES)
def test_bodies_json_does_not_allow_answer_malformed(client, body):
    r = client.post("/api/v1/app/sms-codes", body, content_type="application/json")
    assert r.status_code == 400, r.content
    assert r.json()["code"] == "malformed"
    assert not SmsCode.objects.exists()


@pytest.mark.django_db
def test_well_formed_unicode_is_read_as_sent(client):
    r = client.post(
        "/api/v1/app/sms-codes",
        b'{"mobile": "13800000000", "purpose": "regist\\u00e9r"}',
        content_type="application/json",
    )
    # read fine (the purpose is then refused by the view for what it says, not how it is written)
    assert r.status_code == 400 and r.json()["code"] == "invalid"


@pytest.mark.django_db
def test_a_huge_integer_is_never_taken_for_a_count(client):
    """Integers beyond 64 bits are read as floats, which every field that wants an integer refuses."""
    body = b'{"transits": [], "n": 123456789012345678901234567890}'
    import io

    from piaogen.parsers import StrictJSONParser

    assert isinstance(StrictJSONParser().parse(io.BytesIO(body))["n"], float)
