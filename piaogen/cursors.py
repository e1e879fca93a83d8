"""The one cursor format of every keyset-paginated list: the pages (通行记录, 我的发票, an
application's invoices, a batch's cards), the App's lists, the enterprises' invoice feed and
the message centre.

A list is read in a unique order such as (issued_at, id); a cursor names the row a page ends
(or starts) at by those values: ``<microseconds since 1970-01-01 UTC>_<id>`` for a time and an
id, ``<id>`` for an id alone. It holds nothing a caller could not see in the rows themselves,
so it is not signed: a cursor edited by hand only moves where the caller's own list starts
(every list is filtered by its owner before the cursor applies).

Cursors handed out before this format (signed with Django's ``signing``, by the feed and the
message centre) are still read when the caller names the salt they were signed with, so that
a partner paging through the feed across a release is not refused mid-way.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from django.core import signing

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PART = re.compile(r"[0-9]{1,19}")  # a bigint id has up to 19 digits


def encode_cursor(values: tuple) -> str:
    """The cursor of a row's ordering values (aware datetimes and non-negative integers)."""
    return "_".join(
        str((v - _EPOCH) // timedelta(microseconds=1)) if isinstance(v, datetime) else str(int(v)) for v in values
    )


def decode_cursor(value: str, kinds: tuple[type, ...], *, signed_salt: str | None = None) -> tuple:
    """The values of a cursor made by ``encode_cursor`` (``kinds``: ``datetime`` or ``int`` for
    each); ValueError for anything else. With ``signed_salt``, a cursor of the former signed
    format ``[isoformat time, id]`` is read too."""
    parts = str(value).split("_")
    if len(parts) != len(kinds) or not all(_PART.fullmatch(p) for p in parts):
        if signed_salt is not None:
            return _signed(value, kinds, signed_salt)
        raise ValueError("malformed cursor")
    out: list = []
    for part, kind in zip(parts, kinds, strict=True):
        number = int(part)
        if kind is datetime:
            try:
                out.append(_EPOCH + timedelta(microseconds=number))
            except OverflowError:
                raise ValueError("cursor out of range") from None
        elif number >= 2**63:
            raise ValueError("cursor out of range")
        else:
            out.append(number)
    return tuple(out)


def _signed(value: str, kinds: tuple[type, ...], salt: str) -> tuple:
    if kinds != (datetime, int):
        raise ValueError("malformed cursor")
    try:
        at, pk = signing.loads(value, salt=salt)
        moment, number = datetime.fromisoformat(at), int(pk)
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise ValueError("malformed cursor") from exc
    if moment.tzinfo is None or not 0 <= number < 2**63:
        raise ValueError("malformed cursor")
    return moment, number
