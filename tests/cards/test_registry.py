"""The issuers' card registry: POST /api/v1/partner/cards."""

import math

import pytest
from django.db import connection

from cards.models import Binding, Card
from piaogen.masking import mask_mobile

from .conftest import CARD_NO, PERSON_ID, RESERVED, card_item, company_item

URL = "/api/v1/partner/cards"


@pytest.fixture
def jiangsu_partner(partner_client):
    return partner_client("issuer", name="演示江苏苏通卡", network_codes=["3201"])


def push(client, cards):
    return client.post(URL, {"cards": cards}, format="json")


def batch(n: int, start: int = 1, **overrides) -> list[dict]:
    return [
        card_item(card_no=f"3201{i:016d}", plate=f"苏A{i % 100000:05d}", **overrides) for i in range(start, start + n)
    ]


@pytest.mark.django_db
def test_push_creates_then_the_same_batch_again_is_all_unchanged(jiangsu_partner, jiangsu):
    cards = batch(3)
    r = push(jiangsu_partner, cards)
    assert r.status_code == 200, r.content
    assert r.json() == {"created": 3, "updated": 0, "unchanged": 0, "unbound": 0, "rejected": []}
    card = Card.objects.get(card_no=cards[0]["card_no"])
    assert card.issuer == jiangsu and card.plate == cards[0]["plate"]
    stamp = card.updated_at
    r = push(jiangsu_partner, cards)
    assert r.json() == {"created": 0, "updated": 0, "unchanged": 3, "unbound": 0, "rejected": []}
    card.refresh_from_db()
    assert card.updated_at == stamp  # an unchanged card is not even written
    assert Card.objects.count() == 3


@pytest.mark.django_db
def test_changed_items_are_updated_and_audited(jiangsu_partner):
    cards = batch(2)
    push(jiangsu_partner, cards)
    cards[0]["plate"] = "苏B99999"
    cards[1]["mobile"] = "13700001111"
    r = push(jiangsu_partner, cards)
    assert r.json()["updated"] == 2 and r.json()["unchanged"] == 0
    first = Card.objects.get(card_no=cards[0]["card_no"])
    second = Card.objects.get(card_no=cards[1]["card_no"])
    assert first.plate == "苏B99999"
    assert second.mobile == "13700001111" and second.mobile_masked == "137****1111"
    # every write leaves a history row, bulk paths included, naming the partner
    assert first.history.count() == 2
    assert "演示江苏苏通卡" in first.history.first().history_change_reason


@pytest.mark.django_db
def test_id_numbers_and_mobiles_are_stored_encrypted_with_digests_and_masks(registry):
    registry(card_item())
    card = Card.objects.get()
    assert card.id_number == PERSON_ID and card.mobile == RESERVED
    assert card.id_number_masked == "3201**********0037" and card.mobile_masked == mask_mobile(RESERVED)
    assert len(card.id_number_digest) == 64 and len(card.mobile_digest) == 64
    with connection.cursor() as cursor:
        cursor.execute("SELECT id_number, mobile FROM cards_card")
        raw_id, raw_mobile = cursor.fetchone()
    assert PERSON_ID not in raw_id and RESERVED not in raw_mobile


@pytest.mark.django_db
def test_per_item_rejections_keep_the_good_items(jiangsu_partner):
    good = card_item(card_no="32010000000000000100")
    cards = [
        good,
        card_item(card_no="32010000000000000101", plate="苏I12345"),
        card_item(card_no="32010000000000000102", id_number="320102199001010038", mobile="12345"),
        "not an object",
        card_item(card_no="11010000000000000001"),  # Beijing's network code
        card_item(card_no="88010000000000000001"),  # nobody's
        card_item(card_no="32010000000000000100", plate="苏B00001"),  # same card twice
        card_item(card_no="3201000000000000010"),  # 19 digits
        card_item(card_no="32010000000000000103", plate_color=4),  # green on an ordinary plate
        card_item(card_no="32010000000000000104", card_type="prepaid", vehicle_class="bus", status="lost"),
        card_item(card_no=32010000000000000105, holder_name=""),
    ]
    r = push(jiangsu_partner, cards)
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["created"] == 1
    by_index = {item["index"]: item for item in body["rejected"]}
    assert sorted(by_index) == list(range(1, 11))
    assert by_index[1]["code"] == "invalid" and "plate" in by_index[1]["errors"]
    assert by_index[1]["id"] == "32010000000000000101"
    assert by_index[2]["code"] == "invalid" and {"id_number", "mobile"} <= set(by_index[2]["errors"])
    assert by_index[3]["code"] == "invalid" and by_index[3]["id"] == ""
    assert by_index[4]["code"] == "foreign_network_code" and "1101" in by_index[4]["errors"]["card_no"][0]
    assert by_index[5]["code"] == "unknown_network_code"
    assert by_index[6]["code"] == "duplicate_in_batch"
    assert by_index[7]["code"] == "invalid" and "card_no" in by_index[7]["errors"]
    assert by_index[8]["code"] == "invalid" and "plate_color" in by_index[8]["errors"]
    assert {"card_type", "vehicle_class", "status"} <= set(by_index[9]["errors"])
    assert {"card_no", "holder_name"} <= set(by_index[10]["errors"])
    # the first occurrence of the duplicated card is the one stored
    assert Card.objects.get().plate == good["plate"]
    # an issuer never touches another province's card, even one that exists
    assert not Card.objects.filter(card_no="11010000000000000001").exists()


@pytest.mark.django_db
def test_an_issuer_cannot_overwrite_another_issuers_existing_card(partner_client, registry):
    registry(card_item(card_no="11010000000000000001", plate="京A12345"))
    jiangsu = partner_client("issuer", name="苏", network_codes=["3201"])
    r = push(jiangsu, [card_item(card_no="11010000000000000001", plate="京B99999")])
    assert r.json()["rejected"][0]["code"] == "foreign_network_code"
    assert Card.objects.get().plate == "京A12345"


@pytest.mark.django_db
def test_too_many_items(jiangsu_partner, settings):
    settings.PARTNER_BATCH_LIMIT = 3
    r = push(jiangsu_partner, batch(4))
    assert r.status_code == 400
    assert r.json()["code"] == "too_many_items" and "3" in r.json()["message"]
    assert not Card.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("body", [[], {"cards": "x"}, {"card": []}, "text", {"cards": None}])
def test_malformed_bodies_are_400(jiangsu_partner, body):
    r = jiangsu_partner.post(URL, body, format="json")
    assert r.status_code == 400
    assert r.json()["code"] == "invalid"


@pytest.mark.django_db
def test_broken_json_is_a_clear_400(jiangsu_partner):
    r = jiangsu_partner.generic("POST", URL, '{"cards": [', content_type="application/json")
    assert r.status_code == 400 and r.json()["code"] == "malformed"


@pytest.mark.django_db
def test_auth_rules(api, partner_client, app_client):
    assert push(api, batch(1)).status_code == 401
    clearing = partner_client("clearing", name="演示清分中心")
    r = push(clearing, batch(1))
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    assert push(app_client(), batch(1)).status_code == 401
    assert not Card.objects.exists()


def _write_batches(n: int) -> int:
    """How many statements a bulk write of n rows takes on this database (one on PostgreSQL;
    SQLite caps the parameters of a statement)."""
    fields = Card.history.model._meta.concrete_fields
    return math.ceil(n / min(500, connection.ops.bulk_batch_size(["pk", "pk", *fields], [None] * n)))


@pytest.mark.django_db
def test_a_big_batch_takes_a_handful_of_queries(jiangsu_partner, django_assert_max_num_queries):
    n = 600
    cards = batch(n)
    budget = 8 + 2 * _write_batches(n)  # card rows and their history rows
    assert budget < n / 10
    with django_assert_max_num_queries(budget):
        r = push(jiangsu_partner, cards)
    assert r.json()["created"] == n
    for item in cards:
        item["plate"] = item["plate"].replace("苏A", "苏B")
    with django_assert_max_num_queries(budget):
        r = push(jiangsu_partner, cards)
    assert r.json()["updated"] == n
    # an unchanged batch reads and writes nothing per card
    with django_assert_max_num_queries(8):
        r = push(jiangsu_partner, cards)
    assert r.json()["unchanged"] == n


@pytest.mark.django_db
def test_unchanged_and_non_verification_changes_keep_the_binding(registry, bind, make_user):
    registry(card_item())
    user = make_user()
    binding = bind(user)
    assert registry(card_item())["unchanged"] == 1
    result = registry(card_item(plate="苏B54321", card_type="account"))
    assert result["updated"] == 1 and result["unbound"] == 0
    binding.refresh_from_db()
    assert binding.is_active


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change, reason",
    [
        ({"mobile": "13700001111"}, "发行方更新了预留手机号"),
        ({"id_number": "110101199001010015"}, "发行方更新了证件号码"),
        ({"holder_name": "新持卡人"}, "发行方更新了持卡人姓名"),
        ({"id_type": "passport", "id_number": "E12345678"}, "发行方更新了证件类型、证件号码"),
        ({"status": "cancelled"}, "发行方已注销该卡"),
    ],
)
def test_verification_changes_end_the_binding(registry, bind, make_user, sms, change, reason):
    registry(card_item())
    user = make_user()
    bind(user)
    result = registry(card_item(**change))
    assert result["updated"] == 1 and result["unbound"] == 1
    binding = Binding.objects.get()
    assert not binding.is_active
    assert binding.end_kind == Binding.EndKind.PASSIVE and binding.end_reason == reason
    notice = [m for m in sms.messages() if m["purpose"] == "notice"]
    assert len(notice) == 1 and notice[0]["mobile"] == user.mobile
    assert reason in notice[0]["text"] and "96777" in notice[0]["text"]
    assert "13700001111" not in notice[0]["text"]


@pytest.mark.django_db
def test_partner_push_of_a_changed_mobile_unbinds_and_texts_after_commit(
    jiangsu_partner, registry, bind, make_user, sms, django_capture_on_commit_callbacks
):
    registry(card_item())
    user = make_user()
    bind(user)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        r = push(jiangsu_partner, [card_item(mobile="13700001111")])
    assert r.json()["unbound"] == 1
    # nothing is sent from inside the transaction
    assert not [m for m in sms.messages() if m["purpose"] == "notice"]
    assert len(callbacks) == 1
    callbacks[0]()
    assert [m["mobile"] for m in sms.messages() if m["purpose"] == "notice"] == [user.mobile]


@pytest.mark.django_db
def test_enterprise_items_are_checked_as_uscc(registry):
    result = registry(company_item(id_number="91110000MA01DEM006"))
    assert result["rejected"][0]["code"] == "invalid" and "id_number" in result["rejected"][0]["errors"]
    assert registry(company_item())["created"] == 1
    assert Card.objects.get().is_enterprise


@pytest.mark.django_db
def test_registry_card_no_is_unique(registry):
    registry(card_item())
    registry(card_item(card_no=CARD_NO, plate="苏A00001"))
    assert Card.objects.count() == 1


@pytest.mark.django_db
def test_the_same_holder_written_another_way_keeps_the_binding(registry, bind, make_user, sms):
    registry(card_item(holder_name="张三（Zhang San）"))
    user = make_user()
    bind(user)
    result = registry(card_item(holder_name="张三(ZHANG  SAN)"))  # half-width brackets, capitals, spacing
    assert result["updated"] == 1 and result["unbound"] == 0
    assert Binding.objects.get().is_active
    assert not [m for m in sms.messages() if m["purpose"] == "notice"]
    # a different name still ends it
    assert registry(card_item(holder_name="李四"))["unbound"] == 1
