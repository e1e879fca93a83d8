"""Public verification (查验) of an invoice: code, number, issue date and the last 6 digits of
the check code. Answers (api.md): genuine (with the invoice and its status, normal or
reversed), not found, mismatch, too many checks (more than 5 checks of one invoice in an
Asia/Shanghai day), malformed.

Every check of an existing invoice counts, matching or not: the limit is what keeps the last 6
digits of a check code from being guessed. Counters live in the database and are incremented
by one atomic UPDATE, so concurrent checks cannot slip past the limit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from . import selectors
from .models import Invoice, VerificationCounter

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


@dataclass
class Outcome:
    result: str
    invoice: Invoice | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)
    checks_today: int = 0

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


def count_check(invoice_id: int, day: date) -> int:
    """Adds one check of ``invoice_id`` on ``day``; returns the day's count including it."""
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


def verify(query: Query, *, today: date | None = None) -> Outcome:
    invoice = selectors.invoice_queryset().filter(code=query.code, number=query.number).first()
    if invoice is None:
        return Outcome(NOT_FOUND)
    count = count_check(invoice.pk, today or timezone.localdate())
    if count > MAX_CHECKS_PER_DAY:
        return Outcome(TOO_MANY, checks_today=count)
    if invoice.issued_on != query.issued_on or invoice.check_code[-6:] != query.check:
        return Outcome(MISMATCH, checks_today=count)
    return Outcome(GENUINE, invoice=invoice, checks_today=count)


def verify_params(data) -> Outcome:
    parsed = parse(data)
    if isinstance(parsed, dict):
        return Outcome(MALFORMED, errors=parsed)
    return verify(parsed)
