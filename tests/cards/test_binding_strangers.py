"""Binding and strangers: failures are counted per account and per (client, card), so a
stranger's failures stop the stranger; failures at a card from all clients reach a ceiling past
which the card is protected, not blocked: the reserved mobile proves the SMS code before the ID
is compared, so the holder still binds and the answers tell a stranger nothing about the ID."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.urls import reverse

from cards.models import Binding, BindingAttempt
from cards.services.binding import binding_confirm, binding_start
from piaogen.errors import ServiceError
from tests.conftest import age_sms_codes

from .conftest import CARD_NO, OTHER_ID, PERSON_ID, RESERVED, card_item

URL = "/api/v1/app/cards"
WRONG_IDS = [
    "110101199001010015",
    "110101199001010023",
    "110101199001010031",
    "11010119900101004X",
    "110101199001010058",
    "110101199001010066",
]


def body(**overrides) -> dict:
    return {"card_no": CARD_NO, "id_type": "resident_id", "id_number": PERSON_ID, "mobile": RESERVED, **overrides}


def attempt(client, address, **overrides):
    age_sms_codes()
    return client.post(URL, body(**overrides), format="json", REMOTE_ADDR=address)


@pytest.fixture
def card(registry):
    registry(card_item())


def strangers_fail(app_client, addresses: int, each: int, first: int = 0) -> list[str]:
    """``each`` wrong ID numbers at the card from each of ``addresses`` addresses, a fresh
    stranger account each time (so no account reaches its own cap); their answers' codes."""
    codes = []
    for a in range(addresses):
        for n in range(each):
            r = attempt(app_client(), f"10.50.{first + a}.1", id_number=WRONG_IDS[n % len(WRONG_IDS)])
            codes.append(r.json()["code"])
    return codes


@pytest.mark.django_db
def test_a_strangers_five_failures_stop_the_stranger_not_the_holder(app_client, card, settings, sms):
    per_client = settings.BINDING_MAX_FAILURES_PER_CLIENT_CARD
    assert strangers_fail(app_client, 1, per_client) == ["id_mismatch"] * per_client
    # Another account from the same client: refused, nothing compared (no oracle).
    r = attempt(app_client(), "10.50.0.1")  # even with the right ID
    assert r.status_code == 400 and r.json()["code"] == "too_many_attempts"
    assert "您今日绑定该卡验证失败已达" in r.json()["message"] and 0 < int(r["Retry-After"]) <= 86400
    # The holder, on their own client: the ordinary two steps.
    holder = app_client()
    r = attempt(holder, "10.51.0.1")
    assert r.status_code == 202 and r.json()["details_checked"] is True
    code = sms.last_code(RESERVED, "bind")
    r = holder.post(f"{URL}/confirm", {"binding_id": r.json()["binding_id"], "code": code}, format="json")
    assert r.status_code == 201 and Binding.objects.get(ended_at__isnull=True).user == holder.user


@pytest.mark.django_db
def test_the_accounts_own_cap_still_holds(app_client, registry, settings):
    registry(card_item())
    stranger = app_client()
    for n in range(settings.BINDING_MAX_FAILURES_PER_ACCOUNT):
        r = attempt(stranger, f"10.52.0.{n}", id_number=WRONG_IDS[n])  # a new address each time
        assert r.json()["code"] == "id_mismatch"
    r = attempt(stranger, "10.52.1.1")
    assert r.json()["code"] == "too_many_attempts" and "您的账户今日绑卡验证失败已达" in r.json()["message"]


@pytest.mark.django_db
def test_past_the_card_ceiling_the_holder_binds_by_proving_the_reserved_mobile(app_client, card, settings, sms):
    per_client, ceiling = settings.BINDING_MAX_FAILURES_PER_CLIENT_CARD, settings.BINDING_MAX_FAILURES_PER_CARD
    assert ceiling == 20 and per_client == 5  # the defaults
    codes = strangers_fail(app_client, ceiling // per_client, per_client)
    assert codes == ["id_mismatch"] * ceiling
    sent = len(sms.messages())
    # A stranger now: the right ID and a wrong one get the same answer; no SMS tells them apart
    # either (the code goes to the holder's phone, which the stranger does not have).
    wrong = attempt(app_client(), "10.53.0.1", id_number=OTHER_ID)
    right = attempt(app_client(), "10.53.0.2")
    assert wrong.status_code == right.status_code == 202
    strip = lambda r: {k: v for k, v in r.json().items() if k != "binding_id"}  # noqa: E731
    assert strip(wrong) == strip(right) == {"masked_mobile": "139****5678", "expires_in": 300, "details_checked": False}
    assert [m["mobile"] for m in sms.messages()[sent:] if m["purpose"] == "bind"] == [RESERVED, RESERVED]
    # Without the holder's phone the stranger cannot go on: guesses of the code die with the code.
    stranger_id = wrong.json()["binding_id"]
    with pytest.raises(ServiceError) as exc:
        binding_confirm(
            user=BindingAttempt.objects.get(public_id=stranger_id).user,
            binding_id=stranger_id,
            code="000000" if sms.last_code(RESERVED, "bind") != "000000" else "111111",
        )
    assert exc.value.code in ("code_wrong", "code_missing")
    # A wrong mobile is refused at once (the code could not reach the holder); the ID is not said.
    r = attempt(app_client(), "10.53.0.3", mobile="13900000000", id_number=OTHER_ID)
    assert r.json()["code"] == "mobile_mismatch" and "证件" not in r.json()["message"]
    # The holder, on another client: the code on their phone, then the ID is compared, and bound.
    holder = app_client()
    r = attempt(holder, "10.54.0.1")
    assert r.status_code == 202 and r.json()["details_checked"] is False
    code = sms.last_code(RESERVED, "bind")
    r = holder.post(f"{URL}/confirm", {"binding_id": r.json()["binding_id"], "code": code}, format="json")
    assert r.status_code == 201, r.content
    assert Binding.objects.get(ended_at__isnull=True).user == holder.user


@pytest.mark.django_db
def test_past_the_ceiling_a_proved_code_with_a_wrong_id_is_an_id_mismatch(app_client, card, settings, sms):
    settings.BINDING_MAX_FAILURES_PER_CARD = 2
    strangers_fail(app_client, 2, 1)
    holder = app_client()
    r = attempt(holder, "10.55.0.1", id_number=OTHER_ID)  # the holder mistyped their ID
    assert r.status_code == 202 and r.json()["details_checked"] is False
    code = sms.last_code(RESERVED, "bind")
    r = holder.post(f"{URL}/confirm", {"binding_id": r.json()["binding_id"], "code": code}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "id_mismatch" and r.json()["issuer"]["name"] == "江苏苏通卡"
    assert not Binding.objects.exists()
    last = BindingAttempt.objects.filter(user=holder.user).get()
    assert last.outcome == "id_mismatch" and last.proof_first  # counted, for the holder's caps
    r = attempt(holder, "10.55.0.1")
    code = sms.last_code(RESERVED, "bind")
    r = holder.post(f"{URL}/confirm", {"binding_id": r.json()["binding_id"], "code": code}, format="json")
    assert r.status_code == 201


@pytest.mark.django_db
def test_the_page_at_the_ceiling_asks_for_the_code_and_binds(client, make_user, app_client, card, settings, sms):
    settings.BINDING_MAX_FAILURES_PER_CARD = 2
    strangers_fail(app_client, 2, 1)
    holder = make_user()
    client.force_login(holder)
    age_sms_codes()
    form = {
        "card_no": CARD_NO,
        "holder_name": "演示持卡人",
        "id_type": "resident_id",
        "id_number": PERSON_ID,
        "mobile": RESERVED,
    }
    r = client.post(reverse("cards:bind"), form, REMOTE_ADDR="10.56.0.1")
    assert r.status_code == 302
    page = client.get(r["Location"]).content.decode()
    assert 'id="proof-first"' in page and "验证码通过后再核对您填写的证件信息和开户人名称" in page
    r = client.post(r["Location"], {"code": sms.last_code(RESERVED, "bind"), "confirm": "1"})
    assert r.status_code == 302 and Binding.objects.get(ended_at__isnull=True).user == holder


def _start(user, address, id_number, barrier, outcomes):
    try:
        barrier.wait(10)
        binding_start(
            user=user, card_no=CARD_NO, id_type="resident_id", id_number=id_number, mobile=RESERVED, address=address
        )
        outcomes.append("pending")
    except ServiceError as exc:
        outcomes.append(exc.code)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_many_accounts_of_one_client_at_once_get_exactly_its_failures(make_user, registry, settings, sms):
    """Eight stranger accounts behind one address try the card at the same moment: the card's
    row lock takes them one at a time, so exactly 5 are compared (and fail) and 3 are refused
    without comparing anything; the holder elsewhere then binds. On PostgreSQL too."""
    registry(card_item())
    users = [make_user() for _ in range(8)]
    barrier = threading.Barrier(len(users))
    outcomes: list[str] = []
    threads = [
        threading.Thread(target=_start, args=(u, "10.57.0.1", WRONG_IDS[i % len(WRONG_IDS)], barrier, outcomes))
        for i, u in enumerate(users)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    per_client = settings.BINDING_MAX_FAILURES_PER_CLIENT_CARD
    assert sorted(outcomes) == sorted(["id_mismatch"] * per_client + ["too_many_attempts"] * (8 - per_client))
    age_sms_codes()
    holder = make_user()
    pending = binding_start(
        user=holder, card_no=CARD_NO, id_type="resident_id", id_number=PERSON_ID, mobile=RESERVED, address="10.58.0.1"
    )
    assert pending.outcome == "pending" and not pending.proof_first
