from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from invoices.models import Operator, Recharge, RoadSection, Transit, TransitChange, TransitSegment

from .conftest import OPERATORS, trip

THREE = [("S-A3", 9733), ("S-B5", 1200), ("S-C0", 500)]


@pytest.mark.django_db
def test_operator_push_is_idempotent(world):
    assert Operator.objects.count() == 3 and RoadSection.objects.count() == 4
    again = world.clearing.post("/api/v1/partner/operators", OPERATORS, format="json").json()
    assert again == {
        "created": 0,
        "updated": 0,
        "unchanged": 3,
        "sections_created": 0,
        "sections_updated": 0,
        "not_owner": 0,
        "rejected": [],
    }
    changed = {"operators": [dict(OPERATORS["operators"][0], address="新地址")]}
    r = world.clearing.post("/api/v1/partner/operators", changed, format="json").json()
    assert r["updated"] == 1 and Operator.objects.get(code="OP-A").address == "新地址"


@pytest.mark.django_db
def test_operator_refusals_are_per_item(world):
    bad = dict(OPERATORS["operators"][0], code="OP-X", tax_id="91410000170000019")
    bad_section = dict(
        OPERATORS["operators"][0],
        code="OP-Y",
        sections=[
            {
                "code": "S-Y",
                "name": "y",
                "grade": "freeway",
                "property": "operating",
                "construction_start": "2016-13-01",
            }
        ],
    )
    good = dict(OPERATORS["operators"][0], code="OP-Z", sections=[])
    r = world.clearing.post("/api/v1/partner/operators", {"operators": [bad, bad_section, good]}, format="json").json()
    assert r["created"] == 1
    codes = {x["id"]: x for x in r["rejected"]}
    assert "tax_id" in codes["OP-X"]["errors"]
    assert "sections.0.grade" in codes["OP-Y"]["errors"] and "sections.0.construction_start" in codes["OP-Y"]["errors"]
    assert (
        Operator.objects.filter(code="OP-Z").exists()
        and not Operator.objects.filter(code__in=["OP-X", "OP-Y"]).exists()
    )


@pytest.mark.django_db
def test_transit_push_created_then_unchanged(world):
    batch = {"transits": [trip(f"T{i}", world.card_no, world.when + timedelta(days=i), THREE) for i in range(5)]}
    r = world.clearing.post("/api/v1/partner/transits", batch, format="json").json()
    assert (r["created"], r["updated"], r["unchanged"], r["rejected"]) == (5, 0, 0, [])
    t = Transit.objects.get(transit_id="T0")
    assert t.fee == 11433 and t.month == "2026-09" and str(t.travel_date) == "2026-09-05"
    assert [(s.section.code, s.fee) for s in t.segments.select_related("section")] == THREE
    r = world.clearing.post("/api/v1/partner/transits", batch, format="json").json()
    assert (r["created"], r["updated"], r["unchanged"]) == (0, 0, 5)


@pytest.mark.django_db
def test_changed_split_replaces_the_old_one_and_is_audited(world):
    world.clearing.post(
        "/api/v1/partner/transits", {"transits": [trip("T1", world.card_no, world.when, THREE)]}, format="json"
    )
    new_split = [("S-A3", 9000), ("S-B5", 2433)]
    r = world.clearing.post(
        "/api/v1/partner/transits", {"transits": [trip("T1", world.card_no, world.when, new_split)]}, format="json"
    ).json()
    assert r["updated"] == 1
    t = Transit.objects.get(transit_id="T1")
    assert [(s.section.code, s.fee) for s in t.segments.select_related("section")] == new_split
    change = TransitChange.objects.get(transit=t)
    assert change.kind == "replaced" and len(change.before) == 3 and len(change.after) == 2


@pytest.mark.django_db
def test_a_changed_split_of_an_invoiced_trip_is_refused(world):
    world.clearing.post(
        "/api/v1/partner/transits", {"transits": [trip("T1", world.card_no, world.when, THREE)]}, format="json"
    )
    Transit.objects.filter(transit_id="T1").update(state="invoiced")
    r = world.clearing.post(
        "/api/v1/partner/transits",
        {"transits": [trip("T1", world.card_no, world.when, [("S-A3", 11433)])]},
        format="json",
    ).json()
    assert r["rejected"][0]["code"] == "already_invoiced" and r["updated"] == 0
    assert TransitSegment.objects.filter(transit__transit_id="T1").count() == 3
    assert TransitChange.objects.get().kind == "refused"
    # the same data as stored is still just unchanged
    r = world.clearing.post(
        "/api/v1/partner/transits", {"transits": [trip("T1", world.card_no, world.when, THREE)]}, format="json"
    ).json()
    assert r["unchanged"] == 1 and r["rejected"] == []


@pytest.mark.django_db
def test_a_bad_batch_gets_per_item_codes_and_the_good_items_are_stored(world):
    good = trip("GOOD", world.card_no, world.when, THREE)
    sums = dict(trip("SUMS", world.card_no, world.when, THREE), fee=1)
    section = trip("SECTION", world.card_no, world.when, [("S-NOPE", 100)])
    card = trip("CARD", "41019999999999999999", world.when, THREE)
    time = dict(trip("TIME", world.card_no, world.when, THREE), entry_time="yesterday")
    naive = dict(trip("NAIVE", world.card_no, world.when, THREE), exit_time="2026-09-05T10:00:00")
    types = dict(trip("TYPES", world.card_no, world.when, THREE), fee="114.33", plate_color="blue")
    float_fee = dict(trip("FLOAT", world.card_no, world.when, THREE), fee=114.33)
    dup = trip("GOOD", world.card_no, world.when, THREE)
    not_obj = ["not", "an", "object"]
    items = [good, sums, section, card, time, naive, types, float_fee, dup, not_obj]
    r = world.clearing.post("/api/v1/partner/transits", {"transits": items}, format="json")
    assert r.status_code == 200
    body = r.json()
    assert body["created"] == 1
    codes = {x["index"]: x["code"] for x in body["rejected"]}
    assert codes == {
        1: "split_mismatch",
        2: "unknown_section",
        3: "unknown_card",
        4: "invalid",
        5: "invalid",
        6: "invalid",
        7: "invalid",
        8: "duplicate_in_batch",
        9: "invalid",
    }
    errors = {x["index"]: x["errors"] for x in body["rejected"]}
    assert "entry_time" in errors[4] and "exit_time" in errors[5]
    assert {"fee", "plate_color"} <= set(errors[6])
    assert list(Transit.objects.values_list("transit_id", flat=True)) == ["GOOD"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body, code",
    [
        ({"transits": [{}] * 5001}, "too_many_items"),
        ({"transits": "x"}, "invalid"),
        ({"trips": []}, "invalid"),
        ([], "invalid"),
    ],
)
def test_whole_batch_refusals(world, body, code):
    r = world.clearing.post("/api/v1/partner/transits", body, format="json")
    assert r.status_code == 400 and r.json()["code"] == code
    assert Transit.objects.count() == 0


@pytest.mark.django_db
def test_only_clearing_centres_push_transits(world, api):
    body = {"transits": [trip("T1", world.card_no, world.when, THREE)]}
    assert world.issuer.post("/api/v1/partner/transits", body, format="json").status_code == 403
    assert world.issuer.post("/api/v1/partner/operators", OPERATORS, format="json").status_code == 403
    assert api.post("/api/v1/partner/transits", body, format="json").status_code == 401
    assert world.user.post("/api/v1/partner/transits", body, format="json").status_code == 401
    assert Transit.objects.count() == 0


@pytest.mark.django_db
def test_a_batch_of_500_is_written_in_a_handful_of_statements(world, django_assert_max_num_queries):
    batch = {"transits": [trip(f"T{i}", world.card_no, world.when + timedelta(minutes=i), THREE) for i in range(500)]}
    # PostgreSQL writes 1000 rows a statement; SQLite's 999-parameter limit splits inserts
    # into ~66-row statements. Either way: a few dozen statements at most, not one a row.
    with django_assert_max_num_queries(40):
        r = world.clearing.post("/api/v1/partner/transits", batch, format="json")
    assert r.json()["created"] == 500 and TransitSegment.objects.count() == 1500


@pytest.mark.django_db
def test_recharges_from_the_issuer_of_the_card(world, partner_client):
    card = world.cards[1]["card_no"]
    item = {"recharge_id": "R1", "card_no": card, "amount": 50000, "recharged_at": "2026-09-01T10:00:00+08:00"}
    r = world.issuer.post("/api/v1/partner/recharges", {"recharges": [item]}, format="json").json()
    assert r["created"] == 1 and Recharge.objects.get().month == "2026-09"
    r = world.issuer.post("/api/v1/partner/recharges", {"recharges": [item]}, format="json").json()
    assert r["unchanged"] == 1
    account_card = dict(item, recharge_id="R2", card_no=world.cards[0]["card_no"])
    bad_amount = dict(item, recharge_id="R3", amount=0)
    r = world.issuer.post("/api/v1/partner/recharges", {"recharges": [account_card, bad_amount]}, format="json").json()
    assert [x["code"] for x in r["rejected"]] == ["not_stored_value", "invalid"]
    other = partner_client("issuer", name="别省发行方", network_codes=["4401"])
    r = other.post("/api/v1/partner/recharges", {"recharges": [dict(item, recharge_id="R4")]}, format="json").json()
    assert r["rejected"][0]["code"] == "foreign_network_code"
    Recharge.objects.filter(recharge_id="R1").update(state="invoiced")
    r = world.issuer.post("/api/v1/partner/recharges", {"recharges": [dict(item, amount=1)]}, format="json").json()
    assert r["rejected"][0]["code"] == "already_invoiced"
    assert world.clearing.post("/api/v1/partner/recharges", {"recharges": [item]}, format="json").status_code == 403


def fast_path_trip(**change) -> dict:
    """A trip as the fast path meets it, ``change`` applied (a fresh dict each time)."""
    return {
        "transit_id": "T-1",
        "card_no": "41010000000000000001",
        "plate": "豫A12345",
        "plate_color": 0,
        "vehicle_class": "passenger",
        "entry_station": "郑州站",
        "entry_time": "2026-05-01T08:00:00+08:00",
        "exit_station": "安阳站",
        "exit_time": "2026-05-01T10:30:00+08:00",
        "fee": 300,
        "segments": [{"section_code": "S-A3", "fee": 100}, {"section_code": "S-B5", "fee": 200}],
        **change,
    }


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"entry_station": 'a"b\\c\n站'},
        {"plate": "豫A·1234"},
        {"entry_time": "2026-05-01T08:30:00.250000+08:00"},
        {"exit_time": "2026-05-01T02:30:00+00:00"},
    ],
)
def test_the_fast_path_cleans_and_fingerprints_a_trip_exactly_as_the_field_by_field_one(change):
    from datetime import timedelta

    from django.utils import timezone

    from invoices import ingest
    from piaogen.bulk import fingerprint

    item = fast_path_trip(**change)
    slow = ingest._clean_transit(item)
    fast = ingest._fast_transit(item, timezone.now() + timedelta(hours=1))
    assert fast == slow
    generic = fingerprint(
        {**slow, "entry_time": slow["entry_time"].isoformat(), "exit_time": slow["exit_time"].isoformat()}
    )
    assert ingest._transit_fingerprint(slow) == generic


@pytest.mark.parametrize(
    "change",
    [
        {"transit_id": " T-1"},
        {"fee": 301},
        {"fee": True},
        {"plate_color": 99},
        {"card_no": "４１０１0000000000000001"},
        {"entry_time": "2026-05-01T08:00:00"},
        {"exit_time": "2026-05-01T07:00:00+08:00"},
        {"segments": []},
        {"segments": [{"section_code": "S-A3", "fee": -1}, {"section_code": "S-B5", "fee": 301}]},
        {"entry_station": "a\x00b"},
    ],
)
def test_the_fast_path_leaves_anything_doubtful_to_the_field_by_field_one(change):
    from datetime import timedelta

    from django.utils import timezone

    from invoices import ingest

    item = fast_path_trip(**change)
    assert ingest._fast_transit(item, timezone.now() + timedelta(hours=1)) is None


@pytest.mark.django_db
def test_text_with_backslashes_tabs_and_newlines_is_stored_exactly(world):
    """New trips go to PostgreSQL in COPY's text format, which the ingest writes itself: every
    character a partner may send comes back as sent, the special ones included."""
    item = trip("ESC-1", world.card_no, world.when, THREE)
    item["entry_station"] = "郑州\\东\t收费站"
    item["exit_station"] = "安阳\n北\r站 \\N"
    r = world.clearing.post("/api/v1/partner/transits", {"transits": [item]}, format="json")
    assert r.status_code == 200 and r.json()["created"] == 1, r.content
    stored = Transit.objects.get(transit_id="ESC-1")
    assert (stored.entry_station, stored.exit_station) == ("郑州\\东\t收费站", "安阳\n北\r站 \\N")
    assert stored.pushed_by_id is not None and stored.state == "open"
    assert stored.month == world.when.strftime("%Y-%m")
    assert list(stored.segments.values_list("seq", flat=True)) == [1, 2, 3]
    # and a second push of the same trip is recognised as unchanged (same fingerprint)
    again = world.clearing.post("/api/v1/partner/transits", {"transits": [item]}, format="json")
    assert again.json()["unchanged"] == 1


# --- the fast path against the field-by-field one, as a property --------------------------------

_CLEAN_TEXT = st.text(alphabet=st.sampled_from(list("AZaz09-_·豫京郑州站\\\"'é")), min_size=1, max_size=8)
# What the fast path must leave to the full validation: surrounding spaces, tabs and newlines,
# NUL, empty, too long.
_MESSY_TEXT = st.text(alphabet=st.sampled_from(list("AZ豫 \t\n\\\x00\u3000")), min_size=0, max_size=70)
_OFFSETS = st.sampled_from([timedelta(hours=8), timedelta(0), timedelta(hours=-5, minutes=-30)])


def _mostly(draw, good, bad, *, odds: int = 12):
    """A value of ``good`` ``odds`` times in ``odds + 1``, else one of ``bad``."""
    return draw(good) if draw(st.integers(0, odds)) else draw(bad)


def _moment(draw, naive: datetime, offset: timedelta):
    """``naive`` as partners send a time: mostly ISO 8601 with an offset, sometimes not."""
    return _mostly(
        draw,
        st.just(naive.replace(tzinfo=dt_timezone(offset)).isoformat()),
        st.sampled_from(
            [naive.isoformat(), naive.date().isoformat(), "", "2026-13-01T00:00:00+08:00", "yesterday", 20260101]
        ),
    )


@st.composite
def _trip(draw):
    """A trip as a partner's system may send it: mostly well formed, each field now and then
    wrong in a way the fast path must leave to the full validation."""

    def text():
        return _mostly(draw, _CLEAN_TEXT, _MESSY_TEXT, odds=30)

    segments = _mostly(
        draw,
        st.lists(st.just(None), min_size=1, max_size=4),
        st.sampled_from([[], "S-1", [None] * 65]),
        odds=30,
    )
    if isinstance(segments, list):
        segments = [
            {
                "section_code": text(),
                "fee": _mostly(draw, st.integers(0, 500), st.sampled_from([-1, True, "100", 10**9 + 1]), odds=30),
            }
            for _ in segments
        ]
    fees = sum(s["fee"] for s in segments if isinstance(s, dict) and type(s["fee"]) is int)
    entry = draw(st.datetimes(min_value=datetime(1999, 12, 31), max_value=datetime(2026, 11, 30)))
    exit_ = entry + timedelta(minutes=_mostly(draw, st.integers(0, 900), st.integers(-60, -1)))
    offset = draw(_OFFSETS)
    item = {
        "transit_id": text(),
        "card_no": _mostly(
            draw,
            st.just("41010000000000000001"),
            st.sampled_from(["4101000000000000000", "４１０１0000000000000001", 41010000000000000001]),
        ),
        "plate": text(),
        "plate_color": _mostly(draw, st.sampled_from([0, 1, 2]), st.sampled_from([99, "0", True, None])),
        "vehicle_class": _mostly(draw, st.sampled_from(["passenger", "truck"]), st.sampled_from(["Passenger", 1, ""])),
        "entry_station": text(),
        "entry_time": _moment(draw, entry, offset),
        "exit_station": text(),
        "exit_time": _moment(draw, exit_, _mostly(draw, st.just(offset), _OFFSETS)),
        "fee": _mostly(draw, st.just(fees), st.sampled_from([fees + 1, -1, float(fees), str(fees)])),
        "segments": segments,
    }
    if not draw(st.integers(0, 12)):  # now and then a field left out
        del item[draw(st.sampled_from(sorted(item)))]
    return item


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_trip())
def test_whatever_the_fast_path_accepts_the_field_by_field_one_accepts_the_same(item):
    """The fast path is a shortcut, never a second rule: a trip it cleans is cleaned the same
    by the full validation (which words every error), and its fingerprint is the generic one."""
    from django.utils import timezone

    from invoices import ingest
    from piaogen.bulk import ItemError, fingerprint

    fast = ingest._fast_transit(item, timezone.now() + timedelta(hours=1))
    try:
        slow = ingest._clean_transit(item)
    except ItemError:
        slow = None
    event("fast path" if fast is not None else "left to the full validation")
    if fast is None:
        return
    assert slow == fast
    generic = {**slow, "entry_time": slow["entry_time"].isoformat(), "exit_time": slow["exit_time"].isoformat()}
    assert ingest._transit_fingerprint(slow) == fingerprint(generic)


@settings(max_examples=300, deadline=None)
@given(
    st.builds(
        lambda tid, station, plate, when, minutes, offset, fees: fast_path_trip(
            transit_id=tid,
            entry_station=station,
            plate=plate,
            entry_time=when.replace(tzinfo=dt_timezone(offset)).isoformat(),
            exit_time=(when + timedelta(minutes=minutes)).replace(tzinfo=dt_timezone(offset)).isoformat(),
            fee=sum(fees),
            segments=[{"section_code": f"S-{i}", "fee": f} for i, f in enumerate(fees)],
        ),
        st.text(alphabet=st.sampled_from(list('AZ09-豫\\\t"')), min_size=1, max_size=64).filter(
            lambda t: t == t.strip()
        ),
        st.text(alphabet=st.sampled_from(list("郑州站AB\\\n'")), min_size=1, max_size=64).filter(
            lambda t: t == t.strip()
        ),
        st.text(alphabet=st.sampled_from(list("豫A12345·")), min_size=1, max_size=8),
        st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2026, 11, 1)),
        st.integers(0, 600),
        _OFFSETS,
        st.lists(st.integers(0, 100_000), min_size=1, max_size=8),
    )
)
def test_a_well_formed_trip_takes_the_fast_path_and_is_cleaned_as_the_full_validation_cleans_it(item):
    """Well-formed trips, whatever their text, times and segments, are what the fast path is for:
    it takes every one of them (so the property above is not met by refusing everything)."""
    from django.utils import timezone

    from invoices import ingest

    fast = ingest._fast_transit(item, timezone.now() + timedelta(hours=1))
    assert fast is not None
    assert fast == ingest._clean_transit(item)
