"""The data migrations that left one record per concept, run by Django's migration executor on
rows as the old schema held them: the network codes of the partner table arrive in the issuers'
table (``cards.0010_one_network_code_table``), and the unbinding notices of the bindings arrive
in the message centre (``support.0011_binding_notices``). Each test migrates back, writes old
rows, migrates forwards and ends on the latest schema."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from cards.models import Binding, Card, Issuer
from cards.selectors import network_codes_of
from cards.services.unbinding import binding_end_by_staff, binding_notices_take
from support.models import Notification

from .conftest import CARD_NO, card_item

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

NETWORK_CODES_BEFORE = [("cards", "0009_bulk_binding"), ("accounts", "0006_sms_code_client")]
NETWORK_CODES_AFTER = [("accounts", "0007_partner_network_code_removed")]
NOTICES_BEFORE = [("support", "0010_transit_keys"), ("cards", "0010_one_network_code_table")]
NOTICES_AFTER = [("cards", "0011_binding_notice_seen_at_removed")]


def migrate(targets):
    """Migrates to ``targets``; returns the models as they stand there."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return MigrationExecutor(connection).loader.project_state(targets).apps


@pytest.fixture(autouse=True)
def restore_schema(transactional_db):
    """Ends each test on the migrations the database had when it began: the last applied one of
    each line, so that nothing is applied that the test database did not have."""
    executor = MigrationExecutor(connection)
    applied = set(executor.loader.applied_migrations)
    graph = executor.loader.graph
    known = [node for node in applied if node in graph.node_map]
    leaves = [node for node in known if not any(child in applied for child in graph.node_map[node].children)]
    yield
    MigrationExecutor(connection).migrate(leaves)


def old_card(apps, card_no: str, issuer):
    return apps.get_model("cards", "Card").objects.create(
        card_no=card_no,
        issuer=issuer,
        card_type="stored_value",
        plate="苏E12345",
        plate_color=0,
        vehicle_class="passenger",
        holder_name="演示持卡人",
        id_type="resident_id",
        id_number="320102199001010037",
        id_number_digest="d" * 64,
        id_number_masked="3201**********0037",
        mobile="13912345678",
        mobile_digest="m" * 64,
        mobile_masked="139****5678",
        fingerprint="f" * 64,
    )


def test_the_partner_table_of_network_codes_is_carried_over_to_the_issuers():
    old = migrate(NETWORK_CODES_BEFORE)
    Partner = old.get_model("accounts", "Partner")
    PartnerNetworkCode = old.get_model("accounts", "PartnerNetworkCode")
    OldIssuer = old.get_model("cards", "Issuer")
    OldCode = old.get_model("cards", "IssuerNetworkCode")
    first = Partner.objects.create(kind="issuer", name="甲发行方账户")
    second = Partner.objects.create(kind="issuer", name="乙发行方账户")
    jiangsu = OldIssuer.objects.get(code="jiangsu")
    OldCode.objects.create(issuer=jiangsu, code="3209")  # a second code of the same issuer…
    old_card(old, "32090000000000000001", jiangsu)
    PartnerNetworkCode.objects.create(partner=first, code="3201")
    PartnerNetworkCode.objects.create(partner=second, code="3209")  # …owned by another partner
    PartnerNetworkCode.objects.create(partner=second, code="8801")  # a code no issuer owned
    OldIssuer.objects.filter(code="beijing").update(partner=second)  # linked, no code claimed

    migrate(NETWORK_CODES_AFTER)
    migrate(NETWORK_CODES_AFTER + NOTICES_AFTER)

    first_id, second_id = first.pk, second.pk
    jiangsu = Issuer.objects.get(code="jiangsu")
    assert jiangsu.partner_id == first_id and [n.code for n in jiangsu.network_codes.all()] == ["3201"]
    split = Issuer.objects.get(network_codes__code="3209")
    assert split.code == "jiangsu-1" and split.partner_id == second_id
    assert (split.name, split.hotline, split.province_code) == (jiangsu.name, jiangsu.hotline, "32")
    assert Card.objects.get(card_no="32090000000000000001").issuer == split
    made = Issuer.objects.get(network_codes__code="8801")
    assert made.code == f"partner-{second_id}" and made.partner_id == second_id and made.is_demo
    assert Issuer.objects.get(code="beijing").partner_id == second_id
    assert network_codes_of(jiangsu.partner) == {"3201"}
    assert network_codes_of(split.partner) == {"3209", "8801", "1101"}

    # Backwards, the partner table is filled again from the issuers.
    back = migrate(NETWORK_CODES_BEFORE)
    rows = set(back.get_model("accounts", "PartnerNetworkCode").objects.values_list("partner_id", "code"))
    assert rows == {(first_id, "3201"), (second_id, "3209"), (second_id, "8801"), (second_id, "1101")}


def test_unseen_unbinding_notices_become_messages_of_the_message_centre(registry, bind, make_user):
    registry(card_item(), card_item(card_no="32010000000000000002", plate="苏B22222"))
    seen, untold = make_user(), make_user()
    bind(seen)
    bind(untold, card_no="32010000000000000002")
    registry(card_item(mobile="13700001111"))  # the issuer unbinds the first card
    binding_end_by_staff(
        staff=make_user(name="坐席"),
        binding=Binding.objects.get(card__card_no="32010000000000000002", ended_at__isnull=True),
        reason="持卡人来电要求解绑",
    )
    first = Binding.objects.get(card__card_no=CARD_NO)
    second = Binding.objects.get(card__card_no="32010000000000000002")
    seen_at = timezone.now() - timedelta(hours=1)
    old = migrate(NOTICES_BEFORE)
    OldBinding = old.get_model("cards", "Binding")
    OldNotification = old.get_model("support", "Notification")
    # Backwards, neither notice had been shown: both still to be told.
    assert set(OldBinding.objects.values_list("pk", "notice_seen_at")) == {(first.pk, None), (second.pk, None)}
    # As the old schema held them: the first notice seen on a page; the second never told, and
    # ended before the message centre wrote a message for it.
    OldBinding.objects.filter(pk=first.pk).update(notice_seen_at=seen_at)
    OldNotification.objects.filter(binding_id=second.pk).delete()

    migrate(NOTICES_AFTER)

    shown = Notification.objects.get(binding_id=first.pk)
    assert shown.shown_at == seen_at and shown.read_at is None
    told = Notification.objects.get(binding_id=second.pk)
    assert (told.kind, told.user_id, told.shown_at, told.read_at) == ("binding_ended", untold.pk, None, None)
    assert told.title == "ETC卡 苏B22222 已解绑" and told.link == "/cards/"
    assert "持卡人来电要求解绑" in told.body and "95022" in told.body
    # The next page of each user: only the untold one is announced.
    assert [b.pk for b in binding_notices_take(user=untold)] == [second.pk]
    assert binding_notices_take(user=seen) == []
