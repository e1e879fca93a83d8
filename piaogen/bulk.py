"""The shape every partner bulk write shares: at most ``PARTNER_BATCH_LIMIT`` items, answered
with counters and per-item rejections, good items stored even when others are rejected.

Validation here is plain Python over dicts, not a serializer per item: a batch of 5000 is
checked in milliseconds, and the writes that follow are a handful of statements.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from .errors import ServiceError


class ItemError(Exception):
    """One item's refusal: a machine code and field errors."""

    def __init__(self, code: str, errors: dict[str, list[str]] | None = None):
        super().__init__(code)
        self.code = code
        self.errors = errors or {}


@dataclass
class BatchResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, int] = field(default_factory=dict)

    def reject(self, index: int, item_id: Any, code: str, errors: dict[str, list[str]] | None = None) -> None:
        self.rejected.append(
            {"index": index, "id": "" if item_id is None else str(item_id)[:100], "code": code, "errors": errors or {}}
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            **self.extra,
            "rejected": sorted(self.rejected, key=lambda r: r["index"]),
        }


def batch_items(body: Any, key: str) -> list[Any]:
    """The list under ``key`` of a request body, or a clear 400."""
    if not isinstance(body, dict) or key not in body:
        raise ServiceError(
            "invalid", _("请求体须为 JSON 对象，且包含列表字段 %(key)s。") % {"key": key}, errors={key: [_("必填。")]}
        )
    return batch_list(body[key], key)


def batch_list(items: Any, key: str) -> list[Any]:
    """``items`` if it is a list of at most ``PARTNER_BATCH_LIMIT`` items, or a clear 400 naming
    ``key`` (for callers that hold the list already)."""
    if not isinstance(items, list):
        raise ServiceError("invalid", _("%(key)s 须为列表。") % {"key": key}, errors={key: [_("须为列表。")]})
    limit = settings.PARTNER_BATCH_LIMIT
    if len(items) > limit:
        raise ServiceError(
            "too_many_items",
            _("每次最多提交 %(limit)s 条，本次 %(n)s 条；请分批提交。") % {"limit": limit, "n": len(items)},
            errors={key: [_("超过 %(limit)s 条。") % {"limit": limit}]},
        )
    return items


# --- field readers: each returns the clean value or records an error -----------------


class Fields:
    """Reads fields of one item, collecting every error before refusing it."""

    def __init__(self, item: Any):
        if not isinstance(item, dict):
            raise ItemError("invalid", {"non_field_errors": [_("每一项须为 JSON 对象。")]})
        self.item = item
        self.errors: dict[str, list[str]] = {}

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    def text(self, name: str, *, max_length: int, required: bool = True, default: str = "") -> str:
        value = self.item.get(name)
        if value is None or value == "":
            if required:
                self.error(name, _("必填。"))
            return default
        if not isinstance(value, str):
            self.error(name, _("须为字符串。"))
            return default
        value = value.strip()
        if len(value) > max_length:
            self.error(name, _("不能超过 %(n)s 个字符。") % {"n": max_length})
        if "\x00" in value:
            self.error(name, _("含有非法字符。"))
        return value

    def digits(self, name: str, *, length: int) -> str:
        value = self.text(name, max_length=length)
        if value and not (len(value) == length and value.isdigit() and value.isascii()):
            self.error(name, _("须为 %(n)s 位数字。") % {"n": length})
        return value

    def integer(self, name: str, *, minimum: int | None = None, maximum: int | None = None, required: bool = True):
        value = self.item.get(name)
        if value is None:
            if required:
                self.error(name, _("必填。"))
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(name, _("须为整数（金额单位为分）。"))
            return None
        if minimum is not None and value < minimum:
            self.error(name, _("不能小于 %(n)s。") % {"n": minimum})
        if maximum is not None and value > maximum:
            self.error(name, _("不能大于 %(n)s。") % {"n": maximum})
        return value

    def choice(self, name: str, choices, *, required: bool = True, default=None):
        value = self.item.get(name, default)
        if value is None:
            if required:
                self.error(name, _("必填。"))
            return default
        # An object or a list is no choice (and cannot even be looked up in a set of them).
        if isinstance(value, (bool, dict, list)) or value not in choices:
            self.error(name, _("取值须为：%(c)s。") % {"c": ", ".join(sorted(str(c) for c in choices))})
            return default
        return value

    def boolean(self, name: str, *, default: bool) -> bool:
        value = self.item.get(name, default)
        if not isinstance(value, bool):
            self.error(name, _("须为 true 或 false。"))
            return default
        return value

    def moment(self, name: str) -> datetime | None:
        value = self.item.get(name)
        if not isinstance(value, str) or not value:
            self.error(name, _("须为带时区的 ISO 8601 时间，如 2026-05-01T08:30:00+08:00。"))
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.error(name, _("须为带时区的 ISO 8601 时间，如 2026-05-01T08:30:00+08:00。"))
            return None
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            self.error(name, _("时间须带时区，如 +08:00。"))
            return None
        if not (2000 <= parsed.year <= 2100):
            self.error(name, _("时间超出范围。"))
            return None
        return parsed

    def day(self, name: str) -> date | None:
        value = self.item.get(name)
        if not isinstance(value, str):
            self.error(name, _("须为日期 YYYY-MM-DD。"))
            return None
        try:
            parsed = date.fromisoformat(value)
        except ValueError:
            self.error(name, _("须为日期 YYYY-MM-DD。"))
            return None
        if len(value) != 10 or not (1950 <= parsed.year <= 2100):
            self.error(name, _("须为日期 YYYY-MM-DD。"))
            return None
        return parsed

    def check(self) -> None:
        if self.errors:
            raise ItemError("invalid", self.errors)


def fingerprint(value: Any) -> str:
    """A stable digest of pushed data, to tell an identical re-push in one comparison."""
    return hashlib.blake2b(
        json.dumps(value, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":")).encode(),
        digest_size=20,
    ).hexdigest()


# --- writing new rows fast -------------------------------------------------------------------
#
# Django's bulk INSERT spends most of its time preparing every value of every row in Python;
# on PostgreSQL these helpers hand plain values to COPY instead, which leaves that work to the
# driver. They take plain values (no model instances to build either), so only columns of plain
# types belong here: text, numbers, dates, booleans, keys. Database errors come out as Django's
# own, so callers handle them the same way on every database. A model with any other column
# type (JSON, encrypted text…) goes through ``bulk_create``, which prepares such values itself.

_COPYABLE = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "BigIntegerField",
        "BooleanField",
        "CharField",
        "DateField",
        "DateTimeField",
        "ForeignKey",
        "IntegerField",
        "OneToOneField",
        "PositiveIntegerField",
        "PositiveSmallIntegerField",
        "SmallIntegerField",
        "TextField",
    }
)


def _copyable(model) -> bool:
    from django.db import connection

    return connection.vendor == "postgresql" and all(
        type(f).__name__ in _COPYABLE and f.get_internal_type() in _COPYABLE for f in model._meta.concrete_fields
    )


def reserve_ids(table: str, count: int, column: str = "id") -> list[int]:
    """``count`` new ids from the sequence of ``table``'s ``column`` (PostgreSQL), in one
    statement, for rows written by COPY afterwards. The sequence is looked up by the table's
    name in the statement itself (a table moved into partitions gets a new sequence under the
    same name), once: resolved for every row it cost PostgreSQL about 3 µs an id, ten times the
    ``nextval``."""
    from django.db import connection

    with connection.wrap_database_errors, connection.cursor() as cursor:
        cursor.execute(
            "WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence(%s, %s)::regclass AS seq)"
            " SELECT nextval(s.seq) FROM s CROSS JOIN generate_series(1, %s)",
            [table, column, count],
        )
        return [row[0] for row in cursor.fetchall()]


# COPY's text format, for writers that format their rows themselves (the ingest: the driver's
# per-row adaptation costs about twice as much as an f-string per row): ``NULL`` for a null,
# ``copy_text`` for any text that may hold a backslash, tab, newline or carriage return.
NULL = "\\N"
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(value: str) -> str:
    """A text value in COPY's text format: backslash, tab, newline and carriage return escaped
    (NUL never gets this far: the parsers refuse it)."""
    return value.translate(_COPY_ESCAPES)


def copy_lines(table: str, columns: str, text: str | Iterable[str]) -> None:
    """Writes ``text``, rows already in COPY's text format (``copy_text`` for text values), into
    ``columns`` (a comma-separated list) of ``table`` (PostgreSQL); a database error comes out
    as Django's. ``text`` may be pieces of whole rows made one after another (``in_pieces``):
    each is sent as soon as it is made, so that the server writes rows while the next are made."""
    from django.db import connection

    with connection.wrap_database_errors, connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            if isinstance(text, str):
                copy.write(text)
            else:
                for piece in text:
                    copy.write(piece)


def in_pieces(lines: Iterable[str], size: int = 1000) -> Iterator[str]:
    """``lines`` joined ``size`` at a time (``copy_lines``)."""
    piece: list[str] = []
    for line in lines:
        piece.append(line)
        if len(piece) >= size:
            yield "".join(piece)
            piece = []
    if piece:
        yield "".join(piece)


_ARRAY_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"'})


def array_literal(values: Iterable[str] | Iterable[int]) -> str:
    """PostgreSQL's text form of a one-dimensional array of ``values``, all text or all integers,
    to be sent as one parameter (``= ANY(%s::text[])``): the driver's adaptation of a list
    quotes it element by element in Python, ten times the cost for thousands of values. Text
    elements are double-quoted, backslash and double quote escaped (NUL never gets this far)."""
    items = list(values)
    if items and isinstance(items[0], int):
        if not all(type(v) is int for v in items):
            raise TypeError("an array literal of integers holds integers only")
        return "{" + ",".join(map(str, items)) + "}"
    if not all(type(v) is str for v in items):
        raise TypeError("an array literal of text holds text only")
    return "{" + ",".join(['"' + v.translate(_ARRAY_ESCAPES) + '"' for v in items]) + "}"


def insert_dicts(model, rows: list[dict], *, into: str | None = None) -> list[dict]:
    """Inserts rows given as {attname: value} holding every concrete field but the primary key
    (take the defaults from an unsaved instance), and sets ``row["id"]`` on each. PostgreSQL:
    ids from the table's own sequence, then one COPY (into the table ``into`` when given: a
    partition of the model's table that every row belongs to); elsewhere ``bulk_create``."""

    if not rows:
        return rows
    pk = model._meta.pk
    if not _copyable(model):
        objs = model.objects.bulk_create([model(**row) for row in rows], batch_size=2000)
        for row, obj in zip(rows, objs, strict=True):
            row[pk.attname] = obj.pk
        return rows
    for row, new_id in zip(rows, reserve_ids(model._meta.db_table, len(rows), pk.column), strict=True):
        row[pk.attname] = new_id
    insert_rows(model, [f.attname for f in model._meta.concrete_fields], rows, as_dicts=True, into=into)
    return rows


def insert_rows(model, columns: list[str], rows: list, *, as_dicts: bool = False, into: str | None = None) -> None:
    """Inserts rows of values in ``columns`` order (attribute names), or dicts keyed by them,
    for rows whose ids nobody needs back, such as invoice lines: COPY on PostgreSQL (into the
    table ``into`` when given: a partition every row belongs to, which PostgreSQL checks),
    ``bulk_create`` elsewhere."""
    from django.db import connection

    if not rows:
        return
    if not _copyable(model):
        build = (lambda r: model(**r)) if as_dicts else (lambda r: model(**dict(zip(columns, r, strict=True))))
        model.objects.bulk_create([build(row) for row in rows], batch_size=2000)
        return
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    names = ", ".join(connection.ops.quote_name(by_attname[c].column) for c in columns)
    with connection.wrap_database_errors, connection.cursor() as cursor:
        table = connection.ops.quote_name(into or model._meta.db_table)
        with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            if as_dicts:
                for row in rows:
                    copy.write_row([row[c] for c in columns])
            else:
                for row in rows:
                    copy.write_row(row)
