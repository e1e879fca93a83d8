"""Per-address limits count the real client: X-Forwarded-For is believed only from the proxies
of TRUSTED_PROXIES. The SMS form is limited per client and for the whole platform, and one
number written in other digits (full-width, Arabic-Indic…) is the same number."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.identity import normalize_mobile
from accounts.models import SmsCode
from cards.identity import normalize_card_no, normalize_id_number
from piaogen.addresses import client_address

LOGIN = "/api/v1/app/login"


@pytest.mark.django_db
def test_spoofed_forwarded_for_gets_no_fresh_limits(api, make_user, settings):
    make_user(mobile="13600000001", password="secret123abc")
    settings.LOGIN_MAX_FAILURES_PER_ACCOUNT = settings.LOGIN_MAX_FAILURES_PER_CLIENT_ACCOUNT = (
        10_000  # the address only
    )
    answers = [
        api.post(
            LOGIN,
            {"mobile": "13600000001", "password": "wrong-password"},
            format="json",
            REMOTE_ADDR="203.0.113.9",
            HTTP_X_FORWARDED_FOR=f"10.9.{n // 250}.{n % 250}",
        ).status_code
        for n in range(settings.LOGIN_MAX_FAILURES_PER_ADDRESS + 1)
    ]
    assert answers[-1] == 429 and answers.count(400) == settings.LOGIN_MAX_FAILURES_PER_ADDRESS


class _Request:
    def __init__(self, remote, xff=None):
        self.META = {"REMOTE_ADDR": remote}
        if xff is not None:
            self.META["HTTP_X_FORWARDED_FOR"] = xff


@pytest.mark.parametrize(
    "trusted, remote, xff, expected",
    [
        ([], "203.0.113.9", "1.2.3.4", "203.0.113.9"),  # default: the header is ignored
        (["10.0.0.0/8"], "203.0.113.9", "1.2.3.4", "203.0.113.9"),  # not from our proxy
        (["10.0.0.0/8"], "10.0.0.2", "1.2.3.4", "1.2.3.4"),
        (["10.0.0.0/8"], "10.0.0.2", "6.6.6.6, 1.2.3.4", "1.2.3.4"),  # the client's own entry ignored
        (["10.0.0.0/8"], "10.0.0.2", "1.2.3.4, 10.0.0.7", "1.2.3.4"),  # two of our proxies
        (["10.0.0.0/8"], "10.0.0.2", "not-an-address", "10.0.0.2"),
        (["10.0.0.0/8"], "10.0.0.2", None, "10.0.0.2"),
        (["10.0.0.2"], "10.0.0.2", "2001:db8::1", "2001:db8::1"),
    ],
)
def test_client_address(settings, trusted, remote, xff, expected):
    settings.TRUSTED_PROXIES = trusted
    assert client_address(_Request(remote, xff)) == expected


@pytest.mark.django_db
def test_the_sms_form_is_limited_per_client(client, settings, sms):
    settings.SMS_MAX_PER_ADDRESS = 5
    url = reverse("accounts:register")
    answers = [
        client.post(url, {"mobile": f"1390000{n:04d}", "send_code": "1"}, REMOTE_ADDR="198.51.100.7").status_code
        for n in range(8)
    ]
    assert answers[:5] == [200] * 5 and answers[5:] == [429] * 3
    assert SmsCode.objects.count() == 5
    # another client is not affected
    assert client.post(url, {"mobile": "13900009999", "send_code": "1"}, REMOTE_ADDR="198.51.100.8").status_code == 200


@pytest.mark.django_db
def test_sms_codes_are_limited_for_the_whole_platform(settings, sms):
    settings.SMS_MAX_PER_MINUTE = 3
    api = APIClient()
    answers = [
        api.post(
            "/api/v1/app/sms-codes",
            {"mobile": f"1380000{n:04d}", "purpose": "register"},
            format="json",
            REMOTE_ADDR=f"198.51.100.{n}",
        )
        for n in range(5)
    ]
    assert [r.status_code for r in answers] == [202, 202, 202, 429, 429]
    assert answers[3].json()["code"] == "sms_busy" and int(answers[3]["Retry-After"]) <= 60


@pytest.mark.parametrize(
    "typed",
    ["1359000999９", "１３５９０００９９９９", "135 9000 ９９９9", "+86１３５９０００９９９９", "١٣٥٩٠٠٠٩٩٩٩"],
)
def test_one_mobile_in_other_digits_is_the_same_mobile(typed):
    assert normalize_mobile(typed) == "13590009999"


def test_card_and_id_numbers_in_other_digits_are_the_same_numbers():
    assert normalize_card_no("４１０１ ００００ ００００ ００００ ０００１") == "41010000000000000001"
    assert normalize_id_number("４１０１０５１９９００１０１００１ｘ") == "41010519900101001X"


@pytest.mark.django_db
def test_a_full_width_digit_gets_no_fresh_sms_limits(settings, sms):
    settings.SMS_RESEND_SECONDS = 60
    api = APIClient()
    first = api.post("/api/v1/app/sms-codes", {"mobile": "13590009999", "purpose": "register"}, format="json")
    again = api.post("/api/v1/app/sms-codes", {"mobile": "1359000999９", "purpose": "register"}, format="json")
    assert first.status_code == 202 and again.status_code == 429 and again.json()["code"] == "sms_too_soon"
