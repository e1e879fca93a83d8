"""Bulk binding (批量绑卡) through the App API: an enterprise account binds its company cards with
one SMS code to its contact mobile; every refusal path, the caps, the audit rows, all or nothing."""

import pytest

from cards.models import Binding, BindingAttempt, BulkBinding, Card
from cards.services.binding import binding_start
from cards.services.bulk_binding import bulk_binding_confirm, bulk_binding_start
from piaogen.demo import demo_uscc
from piaogen.errors import ServiceError
from tests.conftest import age_sms_codes

from .conftest import COMPANY_MOBILE, COMPANY_USCC, PERSON_ID, card_item, company_item

URL = "/api/v1/app/cards/bulk"
CONFIRM = f"{URL}/confirm"
OTHER_USCC = demo_uscc("91440300MA5DEM001")  # another company's


def company_card(n: int, **overrides) -> dict:
    return company_item(**{"card_no": f"110100000000000001{n:02d}", "plate": f"京C{n:05d}", **overrides})


GOOD = [company_card(n)["card_no"] for n in (1, 2, 3)]


@pytest.fixture
def company(make_user):
    return make_user(account_type="enterprise", name="演示物流有限公司", tax_id=COMPANY_USCC, mobile=COMPANY_MOBILE)


@pytest.fixture
def clerk(app_client, company, registry):
    registry(*(company_card(n) for n in (1, 2, 3)))
    age_sms_codes()
    return app_client(company)


def start(client, card_nos, expect=202):
    age_sms_codes()
    r = client.post(URL, {"card_nos": card_nos}, format="json")
    assert r.status_code == expect, r.content
    return r.json()


def refused_by_card(body) -> dict:
    return {line["card_no"]: line for line in body["refused"]}


@pytest.mark.django_db
def test_bulk_binding_binds_every_eligible_card_with_one_code(clerk, sms):
    body = start(clerk, [*GOOD[:2], "", f"  {GOOD[2][:4]} {GOOD[2][4:]}  "])
    assert body["masked_mobile"] == "139****6666" and body["expires_in"] == 300
    assert [c["card_no"] for c in body["eligible"]] == GOOD
    assert body["eligible"][0]["plate"] == "京C00001" and body["eligible"][0]["issuer"]["name"] == "北京速通卡"
    assert body["refused"] == [] and "3 张卡信息一致" in body["message"]
    codes = [m for m in sms.messages() if m["purpose"] == "bind"]
    assert len(codes) == 1 and codes[0]["mobile"] == COMPANY_MOBILE  # one code for the whole list
    r = clerk.post(CONFIRM, {"bulk_id": body["bulk_id"], "code": codes[0]["code"]}, format="json")
    assert r.status_code == 201, r.content
    assert sorted(c["card_no"] for c in r.json()["results"]) == GOOD
    listed = clerk.get("/api/v1/app/cards").json()["results"]
    assert sorted(c["card_no"] for c in listed) == GOOD
    assert Binding.objects.filter(user=clerk.user, ended_at__isnull=True).count() == 3
    bulk = BulkBinding.objects.get()
    assert bulk.status == "bound" and bulk.lines == 3 and bulk.eligible == 3
    attempts = BindingAttempt.objects.filter(bulk=bulk)
    assert sorted(attempts.values_list("card_no", flat=True)) == GOOD
    assert set(attempts.values_list("outcome", flat=True)) == {"bound"}
    assert all(a.confirmed_at for a in attempts)
    everything = str(body) + str(r.json()) + str(listed)
    assert COMPANY_USCC not in everything and COMPANY_MOBILE not in everything


@pytest.mark.django_db
def test_a_mixed_list_lists_every_refusal_with_its_reason_and_hotline(clerk, registry, make_user, settings):
    settings.BINDING_MAX_FAILURES_PER_ACCOUNT = 10  # six failures below; the cap has tests of its own
    registry(
        company_card(4, mobile="13900001111"),  # reserved to another mobile
        company_card(5, id_number=OTHER_USCC, holder_name="演示科技有限公司"),  # another company's
        company_card(6, status="cancelled"),
        company_card(7),
        company_card(8),
        card_item(card_no="32010000000000000077", mobile=COMPANY_MOBILE),  # a person's card
    )
    other = make_user()
    Binding.objects.create(user=other, card=Card.objects.get(card_no=company_card(7)["card_no"]))
    Binding.objects.create(user=clerk.user, card=Card.objects.get(card_no=company_card(8)["card_no"]))
    lines = [
        GOOD[0],
        "123",  # 2: too short
        "00000000000000000001",  # 3: no known issuer
        "11010000000000009999",  # 4: unknown card
        company_card(4)["card_no"],
        company_card(5)["card_no"],
        company_card(6)["card_no"],
        company_card(7)["card_no"],
        company_card(8)["card_no"],
        GOOD[0],  # 10: duplicate of line 1
        "32010000000000000077",
        GOOD[1],
    ]
    body = start(clerk, lines)
    assert [c["card_no"] for c in body["eligible"]] == GOOD[:2]
    refused = refused_by_card(body)
    assert [line["line"] for line in body["refused"]] == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    assert refused["123"]["code"] == "invalid" and "20位数字" in refused["123"]["message"]
    assert refused["00000000000000000001"]["code"] == "invalid" and "0000" in refused["00000000000000000001"]["message"]
    unknown = refused["11010000000000009999"]
    assert unknown["code"] == "card_not_found" and "北京速通卡" in unknown["message"]
    assert unknown["issuer"]["name"] == "北京速通卡" and unknown["issuer"]["hotline"]
    mobile = refused[company_card(4)["card_no"]]
    assert mobile["code"] == "mobile_mismatch" and "预留的手机号不是本账户的登录手机号" in mobile["message"]
    assert mobile["issuer"]["province"] == "北京" and mobile["issuer"]["hotline_label"] in mobile["message"]
    holder = refused[company_card(5)["card_no"]]
    assert holder["code"] == "id_mismatch" and "不是本单位的统一社会信用代码" in holder["message"]
    assert holder["issuer"]["name"] == "北京速通卡"
    assert refused[company_card(6)["card_no"]]["code"] == "card_cancelled"
    elsewhere = refused[company_card(7)["card_no"]]
    assert (
        elsewhere["code"] == "already_bound"
        and "其他票根账户" in elsewhere["message"]
        and "95022" in elsewhere["message"]
    )
    mine = refused[company_card(8)["card_no"]]
    assert mine["code"] == "already_bound" and "已绑定在您的账户中" in mine["message"]
    duplicate = [line for line in body["refused"] if line["code"] == "duplicate"]
    assert duplicate == [
        {
            "line": 10,
            "card_no": GOOD[0],
            "code": "duplicate",
            "message": "与第 1 行的卡号重复，只按一张卡处理。",
            "issuer": None,
        }
    ]
    person = refused["32010000000000000077"]
    assert person["code"] == "id_mismatch" and person["issuer"]["name"] == "江苏苏通卡"
    assert COMPANY_USCC not in str(body) and OTHER_USCC not in str(body) and PERSON_ID not in str(body)
    # One attempt a line but the duplicate, with its outcome; the clerk's own card is not a failure.
    outcomes = dict(BindingAttempt.objects.filter(bulk__isnull=False).values_list("card_no", "outcome"))
    assert outcomes[company_card(8)["card_no"]] == "already_yours"
    assert outcomes[company_card(4)["card_no"]] == "mobile_mismatch" and outcomes[GOOD[0]] == "pending"
    assert outcomes["123"] == "invalid"
    assert BindingAttempt.objects.filter(bulk__isnull=False).count() == 11


@pytest.mark.django_db
def test_not_an_enterprise_account(app_client, make_user, registry):
    registry(company_card(1))
    personal = app_client(make_user(mobile=COMPANY_MOBILE))
    body = start(personal, GOOD[:1], expect=400)
    assert body["code"] == "not_enterprise_contact" and "仅限单位账户" in body["message"]
    assert not BindingAttempt.objects.exists() and not BulkBinding.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("payload", [{"card_nos": []}, {"card_nos": ["", "   "]}, {}, {"card_nos": "1101"}, []])
def test_an_empty_or_malformed_list(clerk, payload):
    r = clerk.post(URL, payload, format="json")
    assert r.status_code == 400, r.content
    assert r.json()["code"] == "invalid" and r.json()["errors"]["card_nos"]
    assert not BulkBinding.objects.exists()


@pytest.mark.django_db
def test_too_many_cards(clerk, settings):
    body = start(clerk, [f"1101{n:016d}" for n in range(501)], expect=400)
    assert body["code"] == "too_many_items" and "最多批量绑定 500 张" in body["message"] and "501" in body["message"]
    settings.BINDING_BULK_MAX_CARDS = 2
    body = start(clerk, GOOD, expect=400)
    assert body["code"] == "too_many_items" and body["errors"]["card_nos"]
    assert not BindingAttempt.objects.exists()
    assert start(clerk, ["", *GOOD[:2], ""])["eligible"]  # blank lines are not cards


@pytest.mark.django_db
def test_bad_card_numbers_are_refused_and_not_counted(clerk, settings):
    settings.BINDING_MAX_FAILURES_PER_ACCOUNT = 1
    body = start(clerk, ["abc", "1101000000000000000", "99990000000000000001", GOOD[0]])
    assert [line["code"] for line in body["refused"]] == ["invalid", "invalid", "invalid"]
    assert [c["card_no"] for c in body["eligible"]] == [GOOD[0]]  # invalid lines do not reach the cap


@pytest.mark.django_db
def test_only_refusals_bind_nothing_and_send_no_code(clerk, sms):
    body = start(clerk, ["11010000000000009999", "123"], expect=400)
    assert body["code"] == "nothing_to_bind" and "没有可以绑定的卡" in body["message"]
    assert [line["code"] for line in body["refused"]] == ["card_not_found", "invalid"]
    assert BulkBinding.objects.get(public_id=body["bulk_id"]).status == "failed"
    assert not [m for m in sms.messages() if m["purpose"] == "bind"]


@pytest.mark.django_db
def test_unknown_cards_count_towards_the_account_cap_once_each(clerk, settings):
    settings.BINDING_MAX_FAILURES_PER_ACCOUNT = 2
    unknown = ["11010000000000009991", "11010000000000009992"]
    body = start(clerk, [*unknown, GOOD[0]], expect=400)
    # The cap is reached on the second unknown card: the rest of the list is not compared.
    assert [line["code"] for line in body["refused"]] == ["card_not_found", "card_not_found", "too_many_attempts"]
    assert "失败已达 2 次" in body["refused"][2]["message"] and "95022" in body["refused"][2]["message"]
    assert BindingAttempt.objects.get(card_no=GOOD[0]).outcome == "too_many_attempts"
    # A new list is refused as a whole, before any card is compared.
    body = start(clerk, GOOD, expect=400)
    assert body["code"] == "too_many_attempts" and "（北京时间）" in body["message"]
    assert BindingAttempt.objects.count() == 3


@pytest.mark.django_db
def test_caps_count_single_and_bulk_failures_together(clerk, settings, start_single):
    settings.BINDING_MAX_FAILURES_PER_ACCOUNT = 3
    for _ in range(3):
        with pytest.raises(ServiceError):
            start_single(clerk.user)
    body = start(clerk, GOOD, expect=400)
    assert body["code"] == "too_many_attempts"


@pytest.fixture
def start_single(sms, registry):
    registry(company_card(9, mobile="13900003333"))

    def run(user):
        age_sms_codes()
        return binding_start(
            user=user,
            card_no=company_card(9)["card_no"],
            id_type="uscc",
            id_number=COMPANY_USCC,
            mobile="13900003333",
        )

    return run


@pytest.mark.django_db
def test_a_client_stopped_at_a_card_is_refused_at_that_card(clerk, settings, registry):
    settings.BINDING_MAX_FAILURES_PER_CLIENT_CARD = 1
    registry(company_card(4, mobile="13900001111"))
    body = start(clerk, [company_card(4)["card_no"], GOOD[0]])
    assert body["refused"][0]["code"] == "mobile_mismatch"
    body = start(clerk, [company_card(4)["card_no"], GOOD[1]])
    assert body["refused"][0]["code"] == "too_many_attempts" and "您今日绑定该卡" in body["refused"][0]["message"]
    assert [c["card_no"] for c in body["eligible"]] == [GOOD[1]]


@pytest.mark.django_db
def test_a_wrong_code_counts_like_single_binding(clerk, sms, settings):
    body = start(clerk, GOOD)
    code = sms.last_code(COMPANY_MOBILE, "bind")
    wrong = "000000" if code != "000000" else "111111"
    r = clerk.post(CONFIRM, {"bulk_id": body["bulk_id"], "code": wrong}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "code_wrong" and "还可尝试 4 次" in r.json()["message"]
    assert not Binding.objects.exists() and BulkBinding.objects.get().status == "pending"
    r = clerk.post(CONFIRM, {"bulk_id": body["bulk_id"], "code": code}, format="json")
    assert r.status_code == 201 and len(r.json()["results"]) == 3


@pytest.mark.django_db
def test_too_many_wrong_codes_end_the_batch(clerk, sms, settings):
    body = start(clerk, GOOD)
    code = sms.last_code(COMPANY_MOBILE, "bind")
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(settings.SMS_CODE_MAX_TRIES):
        clerk.post(CONFIRM, {"bulk_id": body["bulk_id"], "code": wrong}, format="json")
    r = clerk.post(CONFIRM, {"bulk_id": body["bulk_id"], "code": code}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "code_locked"
    assert BulkBinding.objects.get().status == "failed" and not Binding.objects.exists()
    assert set(BindingAttempt.objects.values_list("outcome", flat=True)) == {"code_failed"}
    r = clerk.post(CONFIRM, {"bulk_id": body["bulk_id"], "code": code}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "invalid" and r.json()["errors"]["bulk_id"]


@pytest.mark.django_db
def test_an_expired_code(clerk, sms):
    body = start(clerk, GOOD)
    code = sms.last_code(COMPANY_MOBILE, "bind")
    age_sms_codes(301)
    r = clerk.post(CONFIRM, {"bulk_id": body["bulk_id"], "code": code}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "code_expired" and "过期" in r.json()["message"]
    assert not Binding.objects.exists()
    assert BulkBinding.objects.get().status == "failed"
    assert set(BindingAttempt.objects.values_list("outcome", flat=True)) == {"code_failed"}


@pytest.mark.django_db
def test_someone_elses_bulk_id(clerk, sms, app_client, make_user):
    body = start(clerk, GOOD)
    code = sms.last_code(COMPANY_MOBILE, "bind")
    stranger = app_client(
        make_user(account_type="enterprise", name="演示科技有限公司", tax_id=OTHER_USCC, mobile="13900004444")
    )
    for bulk_id in (body["bulk_id"], "not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        r = stranger.post(CONFIRM, {"bulk_id": bulk_id, "code": code}, format="json")
        assert r.status_code == 400 and r.json()["code"] == "invalid" and r.json()["errors"]["bulk_id"]
    assert not Binding.objects.exists() and BulkBinding.objects.get().status == "pending"
    # Nor can an attempt of the batch be confirmed on its own through single binding.
    attempt = BindingAttempt.objects.filter(bulk__isnull=False).first()
    r = clerk.post("/api/v1/app/cards/confirm", {"binding_id": str(attempt.public_id), "code": code}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "invalid"
    assert clerk.post(CONFIRM, {"bulk_id": body["bulk_id"], "code": code}, format="json").status_code == 201


@pytest.mark.django_db
def test_all_or_nothing_when_a_card_changes_between_the_steps(clerk, sms, registry):
    body = start(clerk, GOOD)
    code = sms.last_code(COMPANY_MOBILE, "bind")
    registry(company_card(2, plate="京C99999"))  # the issuer pushes a change of the second card
    r = clerk.post(CONFIRM, {"bulk_id": body["bulk_id"], "code": code}, format="json")
    assert r.status_code == 400, r.content
    answer = r.json()
    assert answer["code"] == "card_changed" and "本批未绑定" in answer["message"]
    assert [(line["card_no"], line["code"]) for line in answer["refused"]] == [(GOOD[1], "card_changed")]
    assert not Binding.objects.exists()
    outcomes = dict(BindingAttempt.objects.values_list("card_no", "outcome"))
    assert outcomes == {GOOD[0]: "batch_aborted", GOOD[1]: "card_changed", GOOD[2]: "batch_aborted"}
    assert BulkBinding.objects.get().status == "failed"


@pytest.mark.django_db
def test_all_or_nothing_when_a_card_is_bound_meanwhile(clerk, sms, make_user):
    body = start(clerk, GOOD)
    code = sms.last_code(COMPANY_MOBILE, "bind")
    Binding.objects.create(user=make_user(), card=Card.objects.get(card_no=GOOD[2]))
    r = clerk.post(CONFIRM, {"bulk_id": body["bulk_id"], "code": code}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "already_bound"
    assert r.json()["refused"][0]["card_no"] == GOOD[2]
    assert not Binding.objects.filter(user=clerk.user).exists()


@pytest.mark.django_db
def test_the_schema_describes_bulk_binding():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    assert "post" in schema["paths"]["/api/v1/app/cards/bulk"]
    assert "post" in schema["paths"]["/api/v1/app/cards/bulk/confirm"]
    components = schema["components"]["schemas"]
    assert {"BulkStarted", "BulkRefusedLine", "BulkRefusal", "BulkBound"} <= set(components)


@pytest.mark.django_db
def test_the_demo_fleet_binds_in_bulk(sms):
    from io import StringIO

    from accounts import seed as accounts_seed
    from cards import seed as cards_seed

    accounts_seed.run(StringIO())
    lines = cards_seed.run(StringIO())
    company = accounts_seed.demo_enterprise_user()
    fleet = [card["card_no"] for card in cards_seed.FLEET]
    assert "/cards/bulk/" in "\n".join(lines) and all(no in "\n".join(lines) for no in fleet)
    age_sms_codes()
    bulk = bulk_binding_start(user=company, card_nos=fleet)
    assert bulk.eligible == len(fleet) - 2
    assert [line["code"] for line in bulk.refused] == ["mobile_mismatch", "id_mismatch"]
    bound = bulk_binding_confirm(user=company, bulk_id=bulk.public_id, code=sms.last_code(company.mobile, "bind"))
    assert sorted(b.card.card_no for b in bound) == sorted(fleet[:-2])
    cards_seed.run(StringIO())  # seeding again changes none of it
    assert Binding.objects.filter(user=company, ended_at__isnull=True).count() == len(fleet) - 2 + 1


@pytest.mark.django_db
def test_a_stranger_company_hears_only_mobile_mismatch(clerk, app_client, make_user, settings):
    """Another enterprise account, guessing it holds the company's USCC or not: the mobile is
    compared first, so the answer is the same whatever USCC the stranger registered with."""
    settings.BINDING_MAX_FAILURES_PER_ACCOUNT = 10
    answers = []
    for tax_id, mobile in ((COMPANY_USCC, "13900005555"), (OTHER_USCC, "13900006666")):
        stranger = app_client(make_user(account_type="enterprise", name="演示甲公司", tax_id=tax_id, mobile=mobile))
        body = start(stranger, GOOD, expect=400)
        assert body["code"] == "nothing_to_bind"
        answers.append([(line["code"], line["message"]) for line in body["refused"]])
    assert answers[0] == answers[1] and {code for code, _message in answers[0]} == {"mobile_mismatch"}
    assert not Binding.objects.exists()


@pytest.mark.django_db
def test_the_console_shows_batches_and_their_attempts_masked(clerk, client, make_user):
    start(clerk, [*GOOD, "11010000000000009999"])
    admin = make_user(mobile="13900000009")
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client.force_login(admin)
    bulk = BulkBinding.objects.get()
    listing = client.get("/admin/cards/bulkbinding/").content.decode()
    assert "3 张卡信息一致" in listing and "139****6666" in listing
    page = client.get(f"/admin/cards/bulkbinding/{bulk.pk}/change/").content.decode()
    assert "11010000000000009999" in page and "card_not_found" in page
    attempt = BindingAttempt.objects.get(card_no="11010000000000009999")
    assert str(bulk.public_id) in client.get(f"/admin/cards/bindingattempt/{attempt.pk}/change/").content.decode()
    for body in (listing, page):
        assert COMPANY_USCC not in body and COMPANY_MOBILE not in body
