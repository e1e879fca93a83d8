"""One cursor format for every keyset list (piaogen.cursors): what it writes, what it reads back,
what it refuses, and the former signed cursors still read where a caller names their salt."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core import signing
from hypothesis import given
from hypothesis import strategies as st

from piaogen.cursors import decode_cursor, encode_cursor

MOMENTS = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9000, 1, 1), timezones=st.just(UTC))
IDS = st.integers(min_value=0, max_value=2**63 - 1)


@given(MOMENTS, IDS)
def test_a_time_and_an_id_come_back_as_they_went(moment, pk):
    assert decode_cursor(encode_cursor((moment, pk)), (datetime, int)) == (moment, pk)


@given(IDS)
def test_an_id_alone_comes_back(pk):
    assert decode_cursor(encode_cursor((pk,)), (int,)) == (pk,)


def test_the_format_is_microseconds_and_ids_joined():
    moment = datetime(1970, 1, 1, 0, 0, 1, 5, tzinfo=UTC)
    assert encode_cursor((moment, 42)) == "1000005_42"
    other_zone = moment.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai"))
    assert encode_cursor((other_zone, 42)) == "1000005_42"


@pytest.mark.parametrize(
    "value, kinds",
    [
        ("", (int,)),
        ("1_2", (int,)),
        ("x", (int,)),
        ("-1", (int,)),
        ("1.5", (int,)),
        ("１２", (int,)),  # full-width digits
        (str(2**63), (int,)),
        ("9" * 18 + "_1", (datetime, int)),  # a time past datetime's range
        ("1" * 20, (int,)),
        ("12", (datetime, int)),
        ("1\n", (int,)),
    ],
)
def test_anything_else_is_refused(value, kinds):
    with pytest.raises(ValueError):
        decode_cursor(value, kinds)


def test_a_former_signed_cursor_is_read_only_with_its_salt():
    moment = datetime(2026, 11, 3, 9, 30, 0, 250000, tzinfo=UTC)
    old = signing.dumps([moment.isoformat(), 7], salt="some.list", compress=True)
    assert decode_cursor(old, (datetime, int), signed_salt="some.list") == (moment, 7)
    with pytest.raises(ValueError):
        decode_cursor(old, (datetime, int))  # no salt named: the new format only
    with pytest.raises(ValueError):
        decode_cursor(old, (datetime, int), signed_salt="another.list")  # another list's cursor
    naive = signing.dumps([(moment.replace(tzinfo=None)).isoformat(), 7], salt="some.list")
    with pytest.raises(ValueError):
        decode_cursor(naive, (datetime, int), signed_salt="some.list")
    negative = signing.dumps([moment.isoformat(), -1], salt="some.list")
    with pytest.raises(ValueError):
        decode_cursor(negative, (datetime, int), signed_salt="some.list")
    with pytest.raises(ValueError):
        decode_cursor(old, (int,), signed_salt="some.list")  # only (time, id) cursors were signed
    assert decode_cursor(encode_cursor((moment + timedelta(days=1), 8)), (datetime, int), signed_salt="x") == (
        moment + timedelta(days=1),
        8,
    )
