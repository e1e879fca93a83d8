"""Partners of one kind own their rows: a push naming another partner's operator, road section,
trip or recharge is refused per item (``not_owner``), counted in the answer and listed for staff,
and the owner's row is left exactly as it was."""

import pytest

from accounts.models import CrossPartnerRefusal
from invoices.models import Operator, Recharge, RoadSection, Transit, TransitSegment
from piaogen.demo import demo_uscc

from .conftest import OPERATORS, card_item, resident_id, trip

THREE = [("S-A3", 9733), ("S-B5", 1200), ("S-C0", 500)]


def _operator(code="OP-A", **changes):
    base = next(o for o in OPERATORS["operators"] if o["code"] == code)
    return {**base, **changes}


@pytest.mark.django_db
def test_a_second_clearing_centre_cannot_rewrite_an_operator_or_its_sections(world, partner_client):
    rival = partner_client("clearing", name="另一清分中心")
    before = Operator.objects.get(code="OP-A")
    section = RoadSection.objects.get(code="S-A3")
    hostile = _operator(
        name="冒名公司",
        tax_id=demo_uscc("91410000170000099"),
        bank="冒名银行",
        bank_account="6222000000000000",
        sections=[dict(_operator()["sections"][0], property="loan_repayment")],
    )
    r = rival.post("/api/v1/partner/operators", {"operators": [hostile]}, format="json")
    assert r.status_code == 200
    body = r.json()
    assert body["updated"] == 0 and body["created"] == 0 and body["not_owner"] == 1
    assert [x["code"] for x in body["rejected"]] == ["not_owner"]
    after = Operator.objects.get(code="OP-A")
    assert (after.name, after.tax_id, after.bank_account, after.pushed_by_id) == (
        before.name,
        before.tax_id,
        before.bank_account,
        before.pushed_by_id,
    )
    assert RoadSection.objects.get(code="S-A3").property == section.property == "operating"
    refusal = CrossPartnerRefusal.objects.get()
    assert (refusal.partner_id, refusal.owner_id, refusal.kind, refusal.item_id) == (
        rival.partner.pk,
        before.pushed_by_id,
        "operator",
        "OP-A",
    )


@pytest.mark.django_db
def test_a_section_of_another_partners_operator_cannot_be_moved_under_a_new_operator(world, partner_client):
    rival = partner_client("clearing", name="另一清分中心")
    own = dict(
        _operator(),
        code="OP-RIVAL",
        name="乙方公司",
        sections=[dict(_operator()["sections"][0], property="loan_repayment")],
    )
    body = rival.post("/api/v1/partner/operators", {"operators": [own]}, format="json").json()
    assert body["created"] == 0 and body["not_owner"] == 1
    assert body["rejected"][0]["code"] == "not_owner" and "sections" in body["rejected"][0]["errors"]
    assert not Operator.objects.filter(code="OP-RIVAL").exists()
    assert RoadSection.objects.get(code="S-A3").operator.code == "OP-A"
    assert CrossPartnerRefusal.objects.get().kind == "section"
    # the owner still changes its own operator as before
    r = world.clearing.post("/api/v1/partner/operators", {"operators": [_operator(address="新地址")]}, format="json")
    assert r.json()["updated"] == 1 and r.json()["not_owner"] == 0


@pytest.mark.django_db
def test_another_clearing_centres_trip_id_does_not_reach_the_trip(world, partner_client):
    first = trip("T-OWNED", world.card_no, world.when, THREE)
    assert world.clearing.post("/api/v1/partner/transits", {"transits": [first]}, format="json").json()["created"] == 1
    rival = partner_client("clearing", name="另一清分中心")
    world.issuer.post(
        "/api/v1/partner/cards",
        {"cards": [card_item("41010000000000000009", "13700000009", resident_id(9))]},
        format="json",
    )
    moved = trip("T-OWNED", "41010000000000000009", world.when, [("S-A3", 1)])
    fresh = trip("T-RIVAL", "41010000000000000009", world.when, [("S-A3", 1)])
    same = dict(first)  # even an identical copy is not the rival's to confirm
    body = rival.post("/api/v1/partner/transits", {"transits": [moved, fresh]}, format="json").json()
    assert (body["created"], body["updated"], body["not_owner"]) == (1, 0, 1)
    assert body["rejected"] == [
        {"index": 0, "id": "T-OWNED", "code": "not_owner", "errors": body["rejected"][0]["errors"]}
    ]
    assert rival.post("/api/v1/partner/transits", {"transits": [same]}, format="json").json()["not_owner"] == 1
    owned = Transit.objects.get(transit_id="T-OWNED")
    assert (
        owned.card.card_no == world.card_no and owned.fee == 11433 and owned.pushed_by_id == world.clearing.partner.pk
    )
    assert TransitSegment.objects.filter(transit=owned).count() == 3
    assert set(CrossPartnerRefusal.objects.values_list("kind", "item_id")) == {("transit", "T-OWNED")}
    # the owner's own update still goes through
    changed = trip("T-OWNED", world.card_no, world.when, [("S-A3", 11433)])
    assert (
        world.clearing.post("/api/v1/partner/transits", {"transits": [changed]}, format="json").json()["updated"] == 1
    )


@pytest.mark.django_db
def test_another_issuers_recharge_id_does_not_reach_the_recharge(world, partner_client):
    stored_value = world.cards[1]["card_no"]
    item = {"recharge_id": "R-OWNED", "card_no": stored_value, "amount": 10000, "recharged_at": world.when.isoformat()}
    assert world.issuer.post("/api/v1/partner/recharges", {"recharges": [item]}, format="json").json()["created"] == 1
    rival = partner_client("issuer", name="另一发行方", network_codes=["3201"])
    rival_card = card_item("32010000000000000001", "13700000011", resident_id(11), card_type="stored_value")
    pushed = rival.post("/api/v1/partner/cards", {"cards": [rival_card]}, format="json").json()
    assert not pushed["rejected"], pushed
    taken = dict(item, card_no=rival_card["card_no"], amount=99)
    body = rival.post("/api/v1/partner/recharges", {"recharges": [taken]}, format="json").json()
    assert (body["created"], body["updated"], body["not_owner"]) == (0, 0, 1)
    assert body["rejected"][0]["code"] == "not_owner"
    recharge = Recharge.objects.get(recharge_id="R-OWNED")
    assert (recharge.card.card_no, recharge.amount) == (stored_value, 10000)
    assert CrossPartnerRefusal.objects.get().owner_id == world.issuer.partner.pk


@pytest.mark.django_db
def test_refusals_are_listed_in_the_console(world, partner_client, admin_client):
    rival = partner_client("clearing", name="另一清分中心")
    rival.post("/api/v1/partner/operators", {"operators": [_operator()]}, format="json")
    r = admin_client.get("/admin/accounts/crosspartnerrefusal/")
    assert r.status_code == 200 and "OP-A" in r.content.decode() and "另一清分中心" in r.content.decode()


@pytest.mark.django_db
def test_the_data_migration_gives_existing_rows_their_known_owner(world, partner_client):
    import importlib
    from types import SimpleNamespace

    from django.apps import apps
    from django.db import connection

    owners = importlib.import_module("invoices.migrations.0005_owners")
    rival = partner_client("clearing", name="另一清分中心")
    world.clearing.post(
        "/api/v1/partner/transits", {"transits": [trip("T-M", world.card_no, world.when, THREE)]}, format="json"
    )
    stored_value = world.cards[1]["card_no"]
    world.issuer.post(
        "/api/v1/partner/recharges",
        {
            "recharges": [
                {"recharge_id": "R-M", "card_no": stored_value, "amount": 5, "recharged_at": world.when.isoformat()}
            ]
        },
        format="json",
    )
    _partner_network_codes_as_they_were()
    # what the old code left behind: owners overwritten by the last pusher, or never recorded
    Operator.objects.filter(code="OP-A").update(pushed_by=rival.partner)
    Recharge.objects.update(pushed_by=None)
    Transit.objects.update(pushed_by=None)
    owners.forwards(apps, SimpleNamespace(connection=connection))
    assert Operator.objects.get(code="OP-A").pushed_by_id == world.clearing.partner.pk
    assert Recharge.objects.get().pushed_by_id == world.issuer.partner.pk
    assert Transit.objects.get().pushed_by_id is None  # two clearing centres: not guessed
    type(rival.partner).objects.filter(pk=rival.partner.pk).update(kind="issuer")
    owners.forwards(apps, SimpleNamespace(connection=connection))
    assert Transit.objects.get().pushed_by_id == world.clearing.partner.pk


def _partner_network_codes_as_they_were() -> None:
    """The migration reads the partner table of network codes of its day (since replaced by the
    issuers' table, cards.0010_one_network_code_table): made again for this test's transaction,
    holding each issuer account's codes."""
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    from cards.models import IssuerNetworkCode

    old = MigrationLoader(connection).project_state(("accounts", "0006_sms_code_client")).apps
    PartnerNetworkCode = old.get_model("accounts", "PartnerNetworkCode")
    with connection.schema_editor() as editor:
        editor.create_model(PartnerNetworkCode)
    owned = IssuerNetworkCode.objects.filter(issuer__partner__isnull=False).values_list("code", "issuer__partner_id")
    PartnerNetworkCode.objects.bulk_create([PartnerNetworkCode(code=c, partner_id=p) for c, p in owned])
