"""Public verification (查验) of a toll document, with the inputs of its kind (docs/regimes.md):

- a VAT e-invoice (``vat_e_invoice``): code (12 digits), number (8), issue date and the last 6
  digits of the check code — the contract of api.md, unchanged;
- a fiscal e-bill (``fiscal_e_bill``): code (8 digits), number (10), issue date and the check
  code (6 characters, digits and a–f; capitals are taken as lower case);
- a 数电 invoice (``digital_e_invoice``): number (20 digits), issue date and 价税合计 in yuan as
  printed (``97.33``); a red-letter invoice prints its total negative and is checked with the
  minus sign (``-97.33``), so the red invoice and the blue one it cancels never match each other.

The kind is the ``document_kind`` parameter when given, else the number's length says it (8, 10
or 20 digits, one per kind), else the other parameters do (a ``total`` means 数电, an 8-digit code
a fiscal e-bill), else it is a VAT e-invoice: a query of the old contract is read as before.
Answers (api.md): genuine (with the document and its status, normal or reversed), not found,
mismatch, too many checks (more than 5 checks of one document by one client in an Asia/Shanghai
day, or more than 50 by everyone), malformed — the same for every kind.

Every check of an existing invoice counts, matching or not: the limits are what keep the last
6 digits of a check code from being guessed. They are two a day, so that strangers cannot use
them to stop the invoice's holder: a client (its address, or the invoice's owner signed in)
gets ``VERIFY_MAX_CHECKS_PER_CLIENT_INVOICE`` (5) checks of one invoice, and everyone together
``VERIFY_MAX_CHECKS_PER_INVOICE`` (50), a ceiling against guessing from many addresses. A check
refused for its client is not counted for the invoice, so one address adds at most 5 to the
ceiling; the owner's checks are counted for the owner alone, so nobody else's checks ever
stop them.

When the cache is Redis, as in production, the day's counts are Redis counters keyed by the
invoice's code and number (and the client's keyed digest), expiring after the day's midnight,
counted in the same round trip as the client's per-minute limit (``INCR`` in one script, atomic:
concurrent checks cannot slip past a limit), and a check writes nothing to the database. Without
Redis (SQLite on a laptop, the test suite's local-memory cache), and while Redis cannot be
reached, the counts are database rows incremented by one atomic ``UPDATE … RETURNING`` each. The
two are not added up: across an outage an invoice can get up to one more day's checks, which
leaves the 6 digits as far out of reach.

A check is two short reads: the month the invoice bills, from its key (``InvoiceKey``, one
index read; an unknown code and number ends there), then the invoice with its lines, read by a
statement written for that month, whose month is part of its text (a genuine red-letter invoice
takes one more query, for the code and number of the invoice it cancels). Invoices and lines are
partitioned by that month: a statement naming its month is planned against that month's
partitions alone, where one reading the month at run time made PostgreSQL open and lock every
partition on each check (docs/performance.md, verification). On PostgreSQL both reads are one
call of a function of the database (``install_read_function``: a branch per month of invoices,
each with that month's statement), so a check waits for PostgreSQL once; where the function is
missing (a database not migrated by this code) the two reads are made from here. The SQL is
written by the ORM once per process, and the answer's JSON is built from the rows by the
Invoice shape's one builder (``Record.as_json`` → ``invoices.shapes.invoice_shape``): compiling
an ORM query and building model instances cost more than all the rest of a check.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import weakref
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dt_time

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, DataError, IntegrityError, connection, connections, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext as _

from piaogen import addresses, throttling
from piaogen.crypto import lookup_digest

from . import selectors
from .models import Invoice, InvoiceKey, Recharge, Transit, VerificationCounter
from .regimes import DocumentKind
from .shapes import INVOICE_HEAD, day_text, invoice_shape, line_shape

logger = logging.getLogger(__name__)

VAT = DocumentKind.VAT_E_INVOICE.value
FISCAL = DocumentKind.FISCAL_E_BILL.value
DIGITAL = DocumentKind.DIGITAL_E_INVOICE.value


def max_per_client() -> int:
    """Checks of one invoice a day by one client (``VERIFY_MAX_CHECKS_PER_CLIENT_INVOICE``)."""
    return settings.VERIFY_MAX_CHECKS_PER_CLIENT_INVOICE


def max_per_invoice() -> int:
    """Checks of one invoice a day by everyone together (``VERIFY_MAX_CHECKS_PER_INVOICE``)."""
    return settings.VERIFY_MAX_CHECKS_PER_INVOICE


# Which limit refused a check (the ``limit`` of the API's 429): the client's checks of this
# invoice, everyone's checks of it, the client's checks of any invoice in the minute.
LIMIT_INVOICE = "invoice"
LIMIT_INVOICE_TOTAL = "invoice_total"
LIMIT_CLIENT = "client"

GENUINE = "genuine"
NOT_FOUND = "not_found"
MISMATCH = "mismatch"
TOO_MANY = "too_many_checks"
MALFORMED = "malformed"

# ASCII digits only: \d would take full-width and other scripts' digits, and $ a trailing newline.
CODE_RE = re.compile(r"[0-9]{12}")
NUMBER_RE = re.compile(r"[0-9]{8}")
DATE_RE = re.compile(r"[0-9]{8}")
CHECK_RE = re.compile(r"[0-9]{6}")
FISCAL_CODE_RE = re.compile(r"[0-9]{8}")
FISCAL_NUMBER_RE = re.compile(r"[0-9]{10}")
FISCAL_CHECK_RE = re.compile(r"[0-9a-fA-F]{6}")
DIGITAL_NUMBER_RE = re.compile(r"[0-9]{20}")
# 价税合计 in yuan as printed: an optional minus (red-letter), up to 12 digits, up to 2 decimals.
TOTAL_RE = re.compile(r"(-?)([0-9]{1,12})(?:\.([0-9]{1,2}))?")
# The number's length says the kind: 8 digits VAT, 10 fiscal, 20 数电.
KIND_OF_NUMBER_LENGTH = {8: VAT, 10: FISCAL, 20: DIGITAL}


@dataclass
class Query:
    code: str  # "" for a 数电 invoice
    number: str
    issued_on: date
    check: str = ""  # VAT: the last 6 digits of the check code; fiscal: the check code, lower case
    total: int | None = None  # 数电: 价税合计 in fen (negative for a red-letter invoice)
    document_kind: str = VAT

    def matches(self, record: Record) -> bool:
        """Whether the date and the kind's second input agree with the document found."""
        if record.issued_on != self.issued_on or record.document_kind != self.document_kind:
            return False
        if self.document_kind == DIGITAL:
            return record.total == self.total
        if self.document_kind == FISCAL:
            return record.check_code == self.check
        return record.check_code[-6:] == self.check


# What a check reads, in this order: the invoice's fields of the Invoice shape (api.md) and each
# line's. Rows come ordered by the line's position.
INVOICE_FIELDS = INVOICE_HEAD
LINE_FIELDS = (
    "lines__seq",
    "lines__item",
    "lines__plate",
    "lines__vehicle_class",
    "lines__date_from",
    "lines__date_to",
    "lines__net",
    "lines__rate",
    "lines__tax",
    "line_transit_id",
    "line_recharge_id",
)
_MONTH_AT = INVOICE_FIELDS.index("month")
_CODE, _NUMBER = "\x01code", "\x01number"  # placeholders no real code or number can equal


_MONTH = "\x01month"
_MONTH_FORMAT = re.compile(r"^\d{4}-\d{2}$")


@functools.cache
def _key_sql(vendor: str) -> tuple[str, tuple[int, ...]]:
    """The SQL of a check's first read: the month of the invoice of a code and number, from its
    key (the table that keeps codes and numbers unique across months), and its parameters' roles."""
    qs = InvoiceKey.objects.filter(code=_CODE, number=_NUMBER).values_list("month")
    sql, params = qs.query.sql_with_params()
    if set(params) != {_CODE, _NUMBER}:
        raise RuntimeError(f"unexpected parameters of the verification key query: {params!r}")
    return sql, tuple(0 if p == _CODE else 1 for p in params)


@functools.cache
def _lookup_sql(vendor: str) -> tuple[str, tuple[int, ...]]:
    """The SQL of a check's second read, written by the ORM (quoting, column names) once per
    process, and what each of its parameters is (0 the code, 1 the number, 2 the month, which
    ``_statement`` writes into the text of each month's statement). The lines' trip and
    recharge ids are scalar subqueries, not joins, and the original of a red-letter invoice is
    left out: on the bench database PostgreSQL spent about 1.5 times as long on the query with
    the original's code and number as two more subqueries, and more with joins instead."""

    def of(model, field: str, ref: str, **where) -> Subquery:
        return Subquery(model.objects.filter(pk=OuterRef(ref), **where).values(field))

    qs = (
        Invoice.objects.filter(code=_CODE, number=_NUMBER, month=_MONTH, lines__month=_MONTH)
        .annotate(
            # a line's trip bills its month: read in that month's partition alone
            line_transit_id=of(Transit, "transit_id", "lines__transit_id", month=_MONTH),
            line_recharge_id=of(Recharge, "recharge_id", "lines__recharge_id"),
        )
        .values_list(*INVOICE_FIELDS, *LINE_FIELDS)
        .order_by("lines__seq")
    )
    sql, params = qs.query.sql_with_params()
    if set(params) != {_CODE, _NUMBER, _MONTH}:  # the ORM wrote something this code cannot fill in
        raise RuntimeError(f"unexpected parameters of the verification query: {params!r}")
    return sql, tuple({_CODE: 0, _NUMBER: 1, _MONTH: 2}[p] for p in params)


def _day(value) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value  # SQLite gives text


class Record:
    """One invoice as a check reads it: enough to decide the answer, and the Invoice shape of a
    genuine answer."""

    __slots__ = (
        "id",
        "issued_on",
        "check_code",
        "total",
        "original_id",
        "document_kind",
        "month",
        "original",
        "red_confirmation",
        "rows",
    )

    def __init__(self, rows: list[tuple]):
        first = rows[0]
        self.id: int = first[0]
        self.issued_on: date = _day(first[3])
        self.check_code: str = first[4]
        self.total: int = first[16]
        self.original_id: int | None = first[17]
        self.document_kind: str = first[18]
        self.month: str = first[_MONTH_AT]
        self.original: dict | None = None  # code and number of the original, read_original()
        self.red_confirmation: dict | None = None  # of a red 数电 invoice, read_original()
        self.rows = rows

    def read_original(self) -> None:
        """Reads the code and number of the document a red-letter one cancels and, for a 数电
        invoice, the 红字确认 record it was issued against (the original's: one per original)
        — one query."""
        if self.original_id is not None and self.original is None:
            code, number, confirmation, confirmed_red = (
                # A red-letter invoice bills its original's month.
                Invoice.objects.filter(pk=self.original_id, month=self.month)
                .values_list("code", "number", "red_confirmation__number", "red_confirmation__red_invoice_id")
                .get()
            )
            self.original = {"code": code, "number": number}
            if self.document_kind == DIGITAL and confirmation and confirmed_red == self.id:
                self.red_confirmation = {"number": confirmation}

    def as_json(self) -> dict:
        """The Invoice of api.md (``invoices.shapes.invoice_shape``)."""
        head = dict(zip(INVOICE_FIELDS, self.rows[0], strict=False))
        head["issued_on"] = self.issued_on
        if self.original_id is not None and self.original is None:
            self.read_original()
        days: dict = {}
        lines = [
            line_shape(
                item,
                line_plate,
                vehicle_class,
                day_text(_day(date_from), days),
                day_text(_day(date_to), days),
                net,
                rate,
                tax,
                transit,
                recharge,
            )
            for seq, item, line_plate, vehicle_class, date_from, date_to, net, rate, tax, transit, recharge in (
                row[len(INVOICE_FIELDS) :] for row in self.rows
            )
            if seq is not None  # an invoice without lines: the join's one empty row
        ]
        return invoice_shape(head, lines, original=self.original, red_confirmation=self.red_confirmation)


def find(code: str, number: str) -> Record | None:
    """The invoice of ``code`` and ``number`` with its lines; None when none is. Two reads: the
    month from the invoice's key, then the invoice and its lines in that month.

    On PostgreSQL the two reads are one call of the database's read function
    (``install_read_function``), or, without it, each read is a statement (the second one per
    month, with the month in its text so that it is planned against that month's partitions
    alone); either way a statement prepared once per connection (``_Prepared``), and Django's
    health check (a ``SELECT 1`` before the first query of each request) is left out: a
    connection the server closed fails the first read instead, which is then made once more on
    a new connection — reads, so nothing can be done twice."""
    if connection.vendor != "postgresql":
        key_sql, key_roles = _key_sql(connection.vendor)
        with connection.cursor() as cursor:
            cursor.execute(key_sql, [(code, number)[role] for role in key_roles])
            found = cursor.fetchone()
            if found is None:
                return None
            sql, roles = _lookup_sql(connection.vendor)
            cursor.execute(sql, [(code, number, found[0])[role] for role in roles])
            rows = cursor.fetchall()
        return Record(rows) if rows else None
    prepared = _Prepared.usable
    try:
        rows = _read(code, number, prepared)
    except DatabaseError as exc:
        if connection.in_atomic_block or isinstance(exc, (DataError, IntegrityError)):
            raise
        connection.close()
        try:
            rows = _read(code, number, prepared)
        except DatabaseError as again:
            if not prepared or getattr(again.__cause__, "sqlstate", None) not in _Prepared.GONE:
                raise
            # On a new connection and still refused: something between (a pooler that does
            # not keep a session's statements) — plain queries from now on in this process.
            _Prepared.usable = False
            logger.warning("verification: prepared statements refused (%s); plain queries from now on", again)
            connection.close()
            rows = _read(code, number, False)
    return Record(rows) if rows else None


class _Prepared:
    """A check's queries as statements each PostgreSQL connection prepares once (``PREPARE``,
    then ``EXECUTE`` with the code and the number): PostgreSQL spent about two thirds of its
    time on a check parsing and planning the query again (Django binds parameters on the
    client, so psycopg prepares nothing), about 0.2 ms of a 0.3 ms check. The ``PREPARE``
    is not counted among a request's queries (a connection's set-up, like its time zone).
    A statement the server no longer knows, or whose plan changed its columns (a migration),
    fails the read; ``find`` reads again on a new connection, which prepares it again."""

    usable = True
    # unknown statement, cached plan changed, already prepared, the read function dropped
    GONE = {"26000", "0A000", "42P05", "42883"}
    on: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # psycopg connection → prepared names
    function_on: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # → the read function exists


def _read(code: str, number: str, prepared: bool) -> list[tuple]:
    connection.health_check_done = True  # this read proves the connection (find)
    key_sql, key_roles = _key_sql(connection.vendor)
    sql, roles = _lookup_sql(connection.vendor)
    with connection.cursor() as cursor:
        if not prepared:
            cursor.execute(key_sql, [(code, number)[role] for role in key_roles])
            found = cursor.fetchone()
            if found is None:
                return []
            cursor.execute(sql, [(code, number, found[0])[role] for role in roles])
            return cursor.fetchall()
        raw = connection.connection
        names = _Prepared.on.setdefault(raw, set())

        def execute(name: str, statement: str) -> None:
            if name not in names:
                with connection.wrap_database_errors, raw.cursor() as setup:
                    setup.execute(statement)
                names.add(name)
            cursor.execute(f"EXECUTE {name}(%s, %s)", [code, number])

        if _function_here(raw):  # one round trip: the key and the month's statement in the server
            execute(*_statement(f"SELECT * FROM {read_function_name()}(%s, %s)", (0, 1), ""))
            return cursor.fetchall()
        execute(*_statement(key_sql, key_roles, ""))
        found = cursor.fetchone()
        if found is None:
            return []
        execute(*_statement(sql, roles, found[0]))
        return cursor.fetchall()


def _function_here(raw) -> bool:
    """Whether the database of the psycopg connection ``raw`` has this code's read function
    (``install_read_function``); asked once per connection, with the statements' set-up."""
    here = _Prepared.function_on.get(raw)
    if here is None:
        with connection.wrap_database_errors, raw.cursor() as setup:
            setup.execute("SELECT to_regprocedure(%s) IS NOT NULL", [f"{read_function_name()}(text, text)"])
            here = _Prepared.function_on[raw] = bool(setup.fetchone()[0])
    return here


@functools.cache
def _statement(sql: str, roles: tuple[int, ...], month: str) -> tuple[str, str]:
    """The name of the prepared statement of ``sql`` (the ORM's ``%s`` parameters, each the
    code, the number or the month as ``roles`` say) for ``month``, and the ``PREPARE`` that makes
    it: $1 the code, $2 the number, the month written into the text as a literal, so that
    PostgreSQL plans the statement against that month's partitions alone."""
    if 2 in roles and not _MONTH_FORMAT.match(month):
        raise RuntimeError(f"unexpected month of an invoice key: {month!r}")
    body = _with_values(sql, roles, ("$1", "$2", f"'{month}'"))
    name = "verify_" + hashlib.sha256(f"{sql}\x00{month}".encode()).hexdigest()[:16]
    return name, f"PREPARE {name} AS {body}"


# --- One round trip: the two reads as one function of the database ------------------------------

READ_FUNCTION_PREFIX = "invoices_verify_read_"


@functools.cache
def read_function_name() -> str:
    """The name of the database function that makes a check's two reads in one call, for this
    code's statements: a change of the statements (a new column read) is a new name, so a
    process never reads rows of another shape than it expects."""
    key_sql, _roles = _key_sql("postgresql")
    sql, _roles = _lookup_sql("postgresql")
    return READ_FUNCTION_PREFIX + hashlib.sha256(f"{key_sql}\x00{sql}".encode()).hexdigest()[:12]


def _with_values(sql: str, roles: tuple[int, ...], values: tuple[str, ...]) -> str:
    parts = sql.split("%s")
    if len(parts) != len(roles) + 1:
        raise RuntimeError("unexpected placeholders in the verification query")
    return (parts[0] + "".join(values[role] + part for role, part in zip(roles, parts[1:], strict=True))).replace(
        "%%", "%"
    )


def install_read_function(using: str = DEFAULT_DB_ALIAS) -> str | None:
    """(Re)creates the function a check calls on PostgreSQL (``find``): it reads the month from
    the invoice's key and returns the invoice's rows read by a statement written for that month
    — one round trip instead of two, and one statement's work less for the server. Each month
    that has a partition of invoices gets a branch whose statement names its month (planned
    against that month's partitions alone, the plan kept by the server for the session, as a
    prepared statement's); any other month (held in the default partition, or plain tables)
    takes a statement with the month as a variable: the same rows, planned at run time.

    Called after every ``migrate`` (invoices/apps.py) and whenever partitions of invoices are
    created or moved (invoices/partitions.py), so that a new month gets its branch; functions
    of earlier statements are dropped (a process still calling one reads again on a new
    connection, which finds it gone and makes the two reads). Returns the name, or None where
    there is nothing to do (not PostgreSQL)."""
    db = connections[using]
    if db.vendor != "postgresql":
        return None
    from . import partitions

    name = read_function_name()
    key_sql, key_roles = _key_sql("postgresql")
    sql, roles = _lookup_sql("postgresql")
    with transaction.atomic(using=using), db.cursor() as cursor:
        table = Invoice._meta.db_table
        months = []
        if partitions.is_partitioned(table, cursor):
            prefix = table + "_"
            months = sorted(
                p[len(prefix) :].replace("_", "-")
                for p in partitions.partitions_of(cursor, table)
                if p.startswith(prefix) and _MONTH_FORMAT.match(p[len(prefix) :].replace("_", "-"))
            )
        # The rows' column types, as PostgreSQL describes the statement (no row read).
        cursor.execute(
            f"SELECT * FROM ({_with_values(sql, roles, ('NULL::text', 'NULL::text', 'NULL::text'))}) AS shape LIMIT 0"  # noqa: S608
        )
        oids = [column.type_code for column in cursor.description]
        cursor.execute(
            "SELECT format_type(t, NULL) FROM unnest(%s::oid[]) WITH ORDINALITY AS u(t, n) ORDER BY n", [oids]
        )
        columns = ", ".join(f"c{i} {row[0]}" for i, row in enumerate(cursor.fetchall(), start=1))
        params = ("p_code", "p_number")
        branches = "".join(
            f"  {'IF' if i == 0 else 'ELSIF'} m = '{month}' THEN\n"
            f"    RETURN QUERY {_with_values(sql, roles, (*params, _month_literal(month)))};\n"
            for i, month in enumerate(months)
        )
        other = f"RETURN QUERY {_with_values(sql, roles, (*params, 'm'))};"
        body = (
            "#variable_conflict use_column\n"
            "DECLARE m text;\n"
            "BEGIN\n"
            f"  m := ({_with_values(key_sql, key_roles, params)});\n"
            "  IF m IS NULL THEN\n    RETURN;\n  END IF;\n"
            + (f"{branches}  ELSE\n    {other}\n  END IF;\n" if months else f"  {other}\n")
            + "END"
        )
        if "$read$" in body:
            raise RuntimeError("unexpected text in the verification query")
        cursor.execute(
            "SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.pronamespace = current_schema()::regnamespace"
            " AND p.proname LIKE %s",
            [READ_FUNCTION_PREFIX.replace("_", r"\_") + "%"],
        )
        for (old,) in cursor.fetchall():
            cursor.execute(f"DROP FUNCTION IF EXISTS {old}")
        cursor.execute(
            f"CREATE FUNCTION {name}(p_code text, p_number text) RETURNS TABLE ({columns})"
            f" LANGUAGE plpgsql STABLE AS $read$\n{body}\n$read$"
        )
    return name


def _month_literal(month: str) -> str:
    """``month`` as an SQL literal, once it is known to be a month (it names a partition)."""
    if not _MONTH_FORMAT.match(month):
        raise RuntimeError(f"unexpected month of an invoice partition: {month!r}")
    return f"'{month}'"


@dataclass
class Outcome:
    result: str
    record: Record | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)
    checks_today: int = 0  # this client's checks of the invoice today, this one included
    client_wait: int | None = None  # seconds, when the client's limit refused the check
    day: date | None = None  # the Asia/Shanghai day the check was counted in
    limit: str = ""  # of a TOO_MANY: LIMIT_INVOICE, LIMIT_INVOICE_TOTAL or LIMIT_CLIENT
    total_today: int | None = None  # everyone's checks of the invoice today; None when not counted
    document_kind: str = VAT  # the kind the check was for (its messages name that kind's inputs)

    @property
    def max_checks(self) -> int:
        return max_per_client()

    @property
    def checks_left(self) -> int:
        """Checks of this invoice this client may still make today, after this one."""
        left = max_per_client() - self.checks_today
        if self.total_today is not None:
            left = min(left, max_per_invoice() - self.total_today)
        return max(0, left)

    @property
    def ceiling_reached(self) -> bool:
        """Everyone's checks of the invoice reached the day's ceiling (and not this client's)."""
        return self.limit == LIMIT_INVOICE_TOTAL or (
            self.total_today is not None
            and self.total_today >= max_per_invoice()
            and self.checks_today < max_per_client()
        )

    @property
    def resets_at(self) -> datetime | None:
        """When the day's count of this invoice starts again: the next Asia/Shanghai midnight."""
        return day_end(self.day) if self.day else None

    @cached_property
    def invoice(self) -> Invoice | None:
        """The genuine invoice as a model, with its lines and original (for the page)."""
        if self.record is None:
            return None
        return selectors.invoice_queryset().get(pk=self.record.id)

    @property
    def message(self) -> str:
        if self.result == TOO_MANY and self.limit == LIMIT_INVOICE_TOTAL:
            return _(
                "这张发票今天已被查验 %(n)s 次（含信息不一致的查验），为防止校验码被猜测，今天暂停公开查验，"
                "请明天再查；如果这是您的发票，登录票根账户后可照常查验。"
            ) % {"n": max_per_invoice()}
        if self.result == NOT_FOUND:
            return {
                FISCAL: _("查无此票：请核对票据代码和票据号码。"),
                DIGITAL: _("查无此票：请核对 20 位发票号码。"),
            }.get(self.document_kind, _("查无此票：请核对发票代码和发票号码。"))
        if self.result == MISMATCH:
            return {
                FISCAL: _("票据信息不一致：请核对开票日期和校验码。"),
                DIGITAL: _("发票信息不一致：请核对开票日期和价税合计（红字发票的价税合计为负数，例如 -97.33）。"),
            }.get(self.document_kind, _("发票信息不一致：请核对开票日期和校验码后六位。"))
        return {
            GENUINE: _("查验结果：发票信息一致。"),
            TOO_MANY: _("您今天查验这张发票的次数已超过 %(n)s 次，请明天再查。") % {"n": max_per_client()},
            MALFORMED: _("输入有误，请按提示修改后再查验。"),
        }[self.result]


def kind_of(data) -> str:
    """The kind of document a query names (module docstring): ``document_kind`` when given, else
    the number's length, else a ``total`` (数电) or an 8-digit code (fiscal), else VAT. A
    ``document_kind`` that is none of the kinds is returned as given, for ``parse`` to refuse."""
    explicit = _value(data, "document_kind")
    if explicit:
        return explicit
    by_length = KIND_OF_NUMBER_LENGTH.get(len(_value(data, "number")))
    if by_length:
        return by_length
    if _value(data, "total"):
        return DIGITAL
    if len(_value(data, "code")) == 8:
        return FISCAL
    return VAT


def _value(data, name: str) -> str:
    raw = data.get(name, "") if hasattr(data, "get") else ""
    return raw.strip() if isinstance(raw, str) else ""


def parse_total(text: str) -> int | None:
    """价税合计 in fen from yuan as printed (``97.33``, ``-97.33``, ``97.3``, ``97``); None when
    it is not an amount."""
    found = TOTAL_RE.fullmatch(text)
    if not found:
        return None
    sign, yuan, fen = found.groups()
    value = int(yuan) * 100 + int((fen or "0").ljust(2, "0"))
    return -value if sign else value


def parse(data) -> Query | dict[str, list[str]]:
    """A Query from request parameters, or the errors of each wrong field. The fields a kind
    does not use are not read."""
    kind = kind_of(data)
    if kind not in DocumentKind.values:
        return {"document_kind": [_("票据种类须为 vat_e_invoice、fiscal_e_bill 或 digital_e_invoice。")]}
    code, number, day = _value(data, "code"), _value(data, "number"), _value(data, "date")
    check, total_text = _value(data, "check"), _value(data, "total")
    errors: dict[str, list[str]] = {}
    total = None
    if kind == VAT:
        if not CODE_RE.fullmatch(code):
            errors["code"] = [_("发票代码为 12 位数字。")]
        if not NUMBER_RE.fullmatch(number):
            errors["number"] = [_("发票号码为 8 位数字。")]
        if not CHECK_RE.fullmatch(check):
            errors["check"] = [_("请输入校验码的后 6 位数字。")]
    elif kind == FISCAL:
        if not FISCAL_CODE_RE.fullmatch(code):
            errors["code"] = [_("票据代码为 8 位数字。")]
        if not FISCAL_NUMBER_RE.fullmatch(number):
            errors["number"] = [_("票据号码为 10 位数字。")]
        if not FISCAL_CHECK_RE.fullmatch(check):
            errors["check"] = [_("请输入 6 位校验码（数字和字母 a–f）。")]
        check = check.lower()
    else:
        code, check = "", ""
        if not DIGITAL_NUMBER_RE.fullmatch(number):
            errors["number"] = [_("数电发票的发票号码为 20 位数字。")]
        total = parse_total(total_text)
        if total is None:
            errors["total"] = [_("请按票面填写价税合计（元），例如 97.33；红字发票填负数，例如 -97.33。")]
    issued_on = None
    if DATE_RE.fullmatch(day):
        try:
            issued_on = datetime.strptime(day, "%Y%m%d").date()
        except ValueError:
            pass
    if issued_on is None:
        errors["date"] = [_("开票日期格式为 YYYYMMDD，例如 20260905。")]
    if errors:
        return errors
    return Query(code=code, number=number, issued_on=issued_on, check=check, total=total, document_kind=kind)


def day_end(day: date) -> datetime:
    """The Asia/Shanghai midnight that ends ``day`` (the time zone of the site)."""
    return datetime.combine(day + timedelta(days=1), dt_time.min, tzinfo=timezone.get_default_timezone())


class VerifyThrottle(throttling.FixedWindowThrottle):
    """Checks per client address (any invoice, ``THROTTLE_VERIFY``, 30 a minute), beside the
    per-invoice daily limit. On Redis its counter and the invoice's share one round trip."""

    scope = "verify"


_outage = throttling.OutageLog("verification counter")


def checks_counter(code: str, number: str, day: date, client: str = "") -> throttling.Counter:
    """The cache counter of the checks of the invoice ``code`` ``number`` on ``day``, by
    everyone, or by ``client`` (a digest, ``client_key``) when given; gone a minute after the
    day's midnight. Keyed by code and number, so that it is counted before the invoice is read,
    together with the client's per-minute counter; a check of a number that does not exist
    counts for nobody (and answers not found)."""
    expire_at = day_end(day).timestamp() + throttling.EXPIRY_MARGIN_SECONDS
    suffix = f":{client}" if client else ""
    return throttling.Counter(f"verify:checks:{day:%Y%m%d}:{code}:{number}{suffix}", expire_at)


def client_key(*, address: str = "", owner_id: int | None = None) -> str:
    """The client a check is counted for: the invoice's owner signed in, or the address; a keyed
    digest, so that no address is written in clear."""
    ident = f"user:{owner_id}" if owner_id is not None else f"address:{address}"
    return lookup_digest(ident, purpose="verify-client")[:32]


def count_check(invoice_id: int, day: date, client: str = "") -> int:
    """Adds one check of ``invoice_id`` on ``day`` in the database, by everyone (``client``
    empty) or by ``client``; returns the day's count including it. The counter when the cache
    is not Redis, or is out."""
    table = VerificationCounter._meta.db_table
    sql = f"UPDATE {table} SET count = count + 1 WHERE invoice_id = %s AND day = %s AND client = %s RETURNING count"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [invoice_id, day, client])
        row = cursor.fetchone()
    if row is not None:
        return row[0]
    try:
        with transaction.atomic():
            VerificationCounter.objects.create(invoice_id=invoice_id, day=day, client=client, count=1)
        return 1
    except IntegrityError:  # created by a concurrent check a moment ago
        return count_check(invoice_id, day, client)


class UNREAD:
    """``verify``'s ``found`` when the caller has not read the invoice."""


def verify(
    query: Query,
    *,
    today: date | None = None,
    client: str = "",
    owner: bool = False,
    counted: list[int | None] | None = None,
    found: Record | None | type[UNREAD] = UNREAD,
) -> Outcome:
    """Answers one check by ``client`` (``client_key``; empty for a check counted for the
    invoice alone). ``owner``: the client is the invoice's owner signed in, whose checks count
    for them alone. ``counted``: the counts the caller already added in the cache
    (``check_request``): the client's then the invoice's (absent for an owner), None where not
    counted there; what is missing is added here, in the database."""
    day = today or timezone.localdate()
    if counted is None:
        chain = _chain(query, day, client, owner)
        if throttling.is_redis():
            try:
                counted = throttling.incr_chain(chain)
            except throttling.CounterUnavailable as exc:
                _outage.warn(exc)
                counted = [None] * len(chain)
        else:
            counted = [None] * len(chain)
    kind = query.document_kind
    record = find(query.code, query.number) if found is UNREAD else found
    if record is None:
        return Outcome(NOT_FOUND, document_kind=kind)
    mine = total = None
    if client:
        mine = counted[0] if counted[0] is not None else count_check(record.id, day, client)
        if mine > max_per_client():
            return Outcome(TOO_MANY, checks_today=mine, day=day, limit=LIMIT_INVOICE, document_kind=kind)
    if not owner:
        total = counted[-1] if counted and counted[-1] is not None else count_check(record.id, day)
        if total > max_per_invoice():
            return Outcome(
                TOO_MANY,
                checks_today=mine or 0,
                day=day,
                limit=LIMIT_INVOICE_TOTAL,
                total_today=total,
                document_kind=kind,
            )
    if mine is None:  # counted for the invoice alone (no client): its total is the count shown
        mine, total = total, None
    if not query.matches(record):
        return Outcome(MISMATCH, checks_today=mine, day=day, total_today=total, document_kind=kind)
    return Outcome(GENUINE, record=record, checks_today=mine, day=day, total_today=total, document_kind=kind)


def _chain(query: Query, day: date, client: str, owner: bool) -> list[tuple[throttling.Counter, int]]:
    """The day's counters a check adds to, in order: the client's (while within its limit)
    then the invoice's, which an owner's check leaves alone."""
    chain = []
    if client:
        chain.append((checks_counter(query.code, query.number, day, client), max_per_client()))
    if not owner:
        chain.append((checks_counter(query.code, query.number, day), throttling.NO_LIMIT))
    return chain


def owns(user, query: Query) -> bool:
    """Whether ``user`` (signed in) is the owner of the invoice the query names: one query,
    made only for signed-in users."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    month = InvoiceKey.objects.filter(code=query.code, number=query.number).values_list("month", flat=True).first()
    return (
        bool(month)
        and Invoice.objects.filter(code=query.code, number=query.number, month=month, user_id=user.pk).exists()
    )


def check_request(request, view, data, *, user=None) -> Outcome:
    """A check as the API and the page make it: the client's per-minute limit first (every
    request counts, malformed ones too), then the check, counted for the client (its address,
    or ``user`` when that user owns the invoice) and for the invoice. On Redis every counter is
    one round trip, sent before the invoice is read and answered while it is (one wait, not
    two); nothing of the invoice is answered before its counts are known. A client over its
    per-minute limit gets TOO_MANY with ``client_wait``; once refused, its next checks in the
    window are refused by this process without a round trip or a read."""
    parsed = parse(data)
    throttle = VerifyThrottle()
    day = timezone.localdate()
    found: Record | None | type[UNREAD] = UNREAD
    if isinstance(parsed, Query):
        owner = owns(user, parsed)
        client = client_key(address=addresses.client_address(request), owner_id=user.pk if owner else None)
        later = throttle.count_later(request, view, *_chain(parsed, day, client, owner))
        try:
            if later.sent is not None:  # the invoice is read while Redis counts: one wait
                found = find(parsed.code, parsed.number)
        finally:
            allowed, counted = later.result()
    else:
        allowed = throttle.allow_request(request, view)
    kind = kind_of(data)
    if not allowed:
        return Outcome(TOO_MANY, client_wait=int(throttle.wait()), limit=LIMIT_CLIENT, document_kind=kind)
    if isinstance(parsed, dict):
        return Outcome(MALFORMED, errors=parsed, document_kind=kind)
    return verify(parsed, today=day, client=client, owner=owner, counted=counted, found=found)
