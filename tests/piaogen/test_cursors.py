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


# --- a page cut to a budget (piaogen.paging.trim_page) -------------------------------------------


def _page(n: int, *, next_: bool = True, prev: bool = True):
    from piaogen.paging import Page

    rows = [{"at": datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=i), "id": i} for i in range(n)]
    return Page(rows, next="N" if next_ else None, prev="P" if prev else None)


def test_a_page_read_forwards_keeps_its_first_rows_and_moves_its_next_cursor():
    from piaogen.paging import trim_page

    page = trim_page(_page(5), [3, 3, 3, 3, 3], 7, ("at", "id"), backward=False)
    assert [r["id"] for r in page.rows] == [0, 1]
    assert page.next == encode_cursor((page.rows[-1]["at"], 1)) and page.prev == "P"


def test_a_page_read_backwards_keeps_its_last_rows_and_moves_its_previous_cursor():
    from piaogen.paging import trim_page

    page = trim_page(_page(5), [3, 3, 3, 3, 3], 7, ("at", "id"), backward=True)
    assert [r["id"] for r in page.rows] == [3, 4]
    assert page.prev == encode_cursor((page.rows[0]["at"], 3)) and page.next == "N"


def test_one_row_larger_than_the_budget_is_shown_alone_and_a_page_that_fits_is_untouched():
    from piaogen.paging import trim_page

    big = trim_page(_page(3, next_=False), [150, 1, 1], 10, ("at", "id"), backward=False)
    assert [r["id"] for r in big.rows] == [0] and big.next  # the rest is the next page's
    whole = _page(3, next_=False)
    assert trim_page(whole, [1, 1, 1], 10, ("at", "id"), backward=False) is whole
