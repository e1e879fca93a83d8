"""Public verification (查验) of an invoice: code, number, issue date and the last 6 digits of
the check code. Answers (api.md): genuine (with the invoice and its status, normal or
reversed), not found, mismatch, too many checks (more than 5 checks of one invoice in an
Asia/Shanghai day), malformed.

Every check of an existing invoice counts, matching or not: the limit is what keeps the last 6
digits of a check code from being guessed. When the cache is Redis, as in production, the day's
count of an invoice is a Redis counter keyed by its code and number (``INCR``, expiring after
the day's midnight), counted in the same round trip as the client's limit: ``INCR`` is atomic,
so concurrent checks cannot slip past the limit, and a check writes nothing to the database.
Without Redis (SQLite on a laptop, the test suite's local-memory cache), and while Redis cannot
be reached, the count is a database row incremented by one atomic ``UPDATE … RETURNING``. The
two are not added up: across an outage an invoice can get up to 5 more checks that day, which
leaves the 6 digits as far out of reach.

A check is one query: the invoice by its code and number, with its lines (a genuine red-letter
invoice takes one more, for the code and number of the invoice it cancels). The SQL is written
by the ORM once per process, and the answer's JSON is built from the rows (``Record.as_json``,
the Invoice of api.md, equal to ``invoice_json``; a test holds them together): compiling an ORM
query and building model instances cost more than all the rest of a check.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dt_time

from django.db import IntegrityError, connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext as _

from piaogen import throttling

from . import selectors
from .models import Invoice, Recharge, Transit, VerificationCounter
from .tax import rate_text

MAX_CHECKS_PER_DAY = 5

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


@dataclass
class Query:
    code: str
    number: str
    issued_on: date
    check: str  # last 6 digits of the check code


# What a check reads, in this order: the invoice's fields of the Invoice shape (api.md) and each
# line's. Rows come ordered by the line's position.
INVOICE_FIELDS = (
    "id",
    "code",
    "number",
    "issued_on",
    "check_code",
    "kind",
    "red",
    "status",
    "month",
    "plate",
    "seller_name",
    "seller_tax_id",
    "buyer_name",
    "buyer_tax_id",
    "total_net",
    "total_tax",
    "total",
    "original_id",
)
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
_CODE, _NUMBER = "\x01code", "\x01number"  # placeholders no real code or number can equal


@functools.cache
def _lookup_sql(vendor: str) -> tuple[str, tuple[int, int]]:
    """The SQL of one check, written by the ORM (quoting, column names) once per process, and
    the positions of the code and the number among its parameters. The lines' trip and recharge
    ids are scalar subqueries, not joins, and the original of a red-letter invoice is left out:
    on the bench database PostgreSQL spent about 1.5 times as long on the query with the
    original's code and number as two more subqueries, and more with joins instead."""

    def of(model, field: str, ref: str) -> Subquery:
        return Subquery(model.objects.filter(pk=OuterRef(ref)).values(field))

    qs = (
        Invoice.objects.filter(code=_CODE, number=_NUMBER)
        .annotate(
            line_transit_id=of(Transit, "transit_id", "lines__transit_id"),
            line_recharge_id=of(Recharge, "recharge_id", "lines__recharge_id"),
        )
        .values_list(*INVOICE_FIELDS, *LINE_FIELDS)
        .order_by("lines__seq")
    )
    sql, params = qs.query.sql_with_params()
    if sorted(params) != sorted([_CODE, _NUMBER]):  # the ORM wrote something this code cannot fill in
        raise RuntimeError(f"unexpected parameters of the verification query: {params!r}")
    return sql, (params.index(_CODE), params.index(_NUMBER))


def _day(value) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value  # SQLite gives text


class Record:
    """One invoice as a check reads it: enough to decide the answer, and the Invoice shape of a
    genuine answer."""

    __slots__ = ("id", "issued_on", "check_code", "original_id", "original", "rows")

    def __init__(self, rows: list[tuple]):
        first = rows[0]
        self.id: int = first[0]
        self.issued_on: date = _day(first[3])
        self.check_code: str = first[4]
        self.original_id: int | None = first[len(INVOICE_FIELDS) - 1]
        self.original: dict | None = None  # code and number of the original, read_original()
        self.rows = rows

    def read_original(self) -> None:
        """Reads the code and number of the invoice a red-letter one cancels (one query)."""
        if self.original_id is not None and self.original is None:
            code, number = Invoice.objects.filter(pk=self.original_id).values_list("code", "number").get()
            self.original = {"code": code, "number": number}

    def as_json(self) -> dict:
        """The Invoice of api.md, as ``invoices.api.invoicing.invoice_json`` gives it."""
        (
            pk,
            code,
            number,
            issued_on,
            check_code,
            kind,
            red,
            status,
            month,
            plate,
            seller_name,
            seller_tax_id,
            buyer_name,
            buyer_tax_id,
            total_net,
            total_tax,
            total,
            original_id,
        ) = self.rows[0][: len(INVOICE_FIELDS)]
        if original_id is not None and self.original is None:
            self.read_original()
        lines = []
        for row in self.rows:
            seq, item, line_plate, vehicle_class, date_from, date_to, net, rate, tax, transit, recharge = row[
                len(INVOICE_FIELDS) :
            ]
            if seq is None:  # an invoice without lines: the join's one empty row
                continue
            lines.append(
                {
                    "item": item,
                    "plate": line_plate,
                    "vehicle_class": vehicle_class,
                    "date_from": _day(date_from).strftime("%Y%m%d"),
                    "date_to": _day(date_to).strftime("%Y%m%d"),
                    "net": net,
                    "rate": rate_text(rate),
                    "tax": tax,
                    "transit_id": transit,
                    "recharge_id": recharge,
                }
            )
        return {
            "id": pk,
            "code": code,
            "number": number,
            "issued_on": self.issued_on.isoformat(),
            "check_code": check_code,
            "kind": kind,
            "red": bool(red),
            "status": status,
            "month": month,
            "plate": plate,
            "seller": {"name": seller_name, "tax_id": seller_tax_id},
            "buyer": {"name": buyer_name, "tax_id": buyer_tax_id},
            "lines": lines,
            "total_net": total_net,
            "total_tax": total_tax,
            "total": total,
            "original": self.original,
        }


def find(code: str, number: str) -> Record | None:
    """The invoice of ``code`` and ``number`` with its lines, in one query; None when none is."""
    sql, (at_code, at_number) = _lookup_sql(connection.vendor)
    params: list = [None, None]
    params[at_code], params[at_number] = code, number
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return Record(rows) if rows else None


@dataclass
class Outcome:
    result: str
    record: Record | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)
    checks_today: int = 0
    client_wait: int | None = None  # seconds, when the client's limit refused the check
    day: date | None = None  # the Asia/Shanghai day the check was counted in

    @property
    def checks_left(self) -> int:
        """Checks of this invoice still allowed today, after this one."""
        return max(0, MAX_CHECKS_PER_DAY - self.checks_today)

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
        return {
            GENUINE: _("查验结果：发票信息一致。"),
            NOT_FOUND: _("查无此票：请核对发票代码和发票号码。"),
            MISMATCH: _("发票信息不一致：请核对开票日期和校验码后六位。"),
            TOO_MANY: _("这张发票今天的查验次数已超过 %(n)s 次，请明天再查。") % {"n": MAX_CHECKS_PER_DAY},
            MALFORMED: _("输入有误，请按提示修改后再查验。"),
        }[self.result]


def parse(data) -> Query | dict[str, list[str]]:
    """A Query from request parameters, or the errors of each wrong field."""

    def value(name: str) -> str:
        raw = data.get(name, "") if hasattr(data, "get") else ""
        return raw.strip() if isinstance(raw, str) else ""

    code, number, day, check = value("code"), value("number"), value("date"), value("check")
    errors: dict[str, list[str]] = {}
    if not CODE_RE.fullmatch(code):
        errors["code"] = [_("发票代码为 12 位数字。")]
    if not NUMBER_RE.fullmatch(number):
        errors["number"] = [_("发票号码为 8 位数字。")]
    issued_on = None
    if DATE_RE.fullmatch(day):
        try:
            issued_on = datetime.strptime(day, "%Y%m%d").date()
        except ValueError:
            pass
    if issued_on is None:
        errors["date"] = [_("开票日期格式为 YYYYMMDD，例如 20260905。")]
    if not CHECK_RE.fullmatch(check):
        errors["check"] = [_("请输入校验码的后 6 位数字。")]
    if errors:
        return errors
    return Query(code=code, number=number, issued_on=issued_on, check=check)


def day_end(day: date) -> datetime:
    """The Asia/Shanghai midnight that ends ``day`` (the time zone of the site)."""
    return datetime.combine(day + timedelta(days=1), dt_time.min, tzinfo=timezone.get_default_timezone())


class VerifyThrottle(throttling.FixedWindowThrottle):
    """Checks per client address (any invoice, ``THROTTLE_VERIFY``, 30 a minute), beside the
    per-invoice daily limit. On Redis its counter and the invoice's share one round trip."""

    scope = "verify"


_outage = throttling.OutageLog("verification counter")


def checks_counter(code: str, number: str, day: date) -> throttling.Counter:
    """The cache counter of the checks of the invoice ``code`` ``number`` on ``day``, gone a
    minute after the day's midnight. Keyed by code and number, so that it is counted before the
    invoice is read, together with the client's counter; a check of a number that does not
    exist counts for nobody (and answers not found)."""
    expire_at = day_end(day).timestamp() + throttling.EXPIRY_MARGIN_SECONDS
    return throttling.Counter(f"verify:checks:{day:%Y%m%d}:{code}:{number}", expire_at)


def count_in_cache(query: Query, day: date) -> int | None:
    """Adds one check in Redis; None when the cache is not Redis or cannot be reached."""
    if not throttling.is_redis():
        return None
    try:
        return throttling.incr(checks_counter(query.code, query.number, day))
    except throttling.CounterUnavailable as exc:
        _outage.warn(exc)
        return None


def count_check(invoice_id: int, day: date) -> int:
    """Adds one check of ``invoice_id`` on ``day`` in the database; returns the day's count
    including it. The counter when the cache is not Redis, or is out."""
    table = VerificationCounter._meta.db_table
    sql = f"UPDATE {table} SET count = count + 1 WHERE invoice_id = %s AND day = %s RETURNING count"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [invoice_id, day])
        row = cursor.fetchone()
    if row is not None:
        return row[0]
    try:
        with transaction.atomic():
            VerificationCounter.objects.create(invoice_id=invoice_id, day=day, count=1)
        return 1
    except IntegrityError:  # created by a concurrent check a moment ago
        return count_check(invoice_id, day)


def verify(query: Query, *, today: date | None = None, counted: int | None = None) -> Outcome:
    """Answers one check. ``counted``: this check's count of the day, when the caller has
    already added it in the cache (``check_request``); otherwise it is added here, in Redis or
    in the database."""
    day = today or timezone.localdate()
    if counted is None:
        counted = count_in_cache(query, day)
    record = find(query.code, query.number)
    if record is None:
        return Outcome(NOT_FOUND)
    count = counted if counted is not None else count_check(record.id, day)
    if count > MAX_CHECKS_PER_DAY:
        return Outcome(TOO_MANY, checks_today=count, day=day)
    if record.issued_on != query.issued_on or record.check_code[-6:] != query.check:
        return Outcome(MISMATCH, checks_today=count, day=day)
    return Outcome(GENUINE, record=record, checks_today=count, day=day)


def check_request(request, view, data) -> Outcome:
    """A check as the API and the page make it: the client's limit first (every request counts,
    malformed ones too), then the check. On Redis the client's counter and the invoice's are
    one round trip. A client over its limit gets TOO_MANY with ``client_wait`` set."""
    parsed = parse(data)
    throttle = VerifyThrottle()
    day = timezone.localdate()
    if isinstance(parsed, Query):
        allowed, counted = throttle.allow_and_count(request, view, checks_counter(parsed.code, parsed.number, day))
    else:
        allowed, counted = throttle.allow_request(request, view), None
    if not allowed:
        return Outcome(TOO_MANY, client_wait=int(throttle.wait()))
    if isinstance(parsed, dict):
        return Outcome(MALFORMED, errors=parsed)
    return verify(parsed, today=day, counted=counted)
