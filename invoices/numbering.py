"""Invoice codes, gap-free invoice numbers, check codes and summary-sheet numbers, for each
kind of document (invoices/regimes.py).

Invoice code (发票代码), 12 digits: ``0`` + seller province (4) + year (2) + batch (3) + ``12``.
Invoice number (发票号码), 8 digits, consecutive within a code: no gaps, no repeats.

Numbers come from one counter row per seller province and year, taken in blocks by a single
``UPDATE … SET next_number = next_number + k … RETURNING`` inside the issuing transaction, so
an aborted transaction gives its block back and a crash leaves no gap. A unique constraint on
(code, number) backs it. When a batch is used up, the next batch (a new code) starts at 1.

Fiscal e-bill (通行费财政电子票据, 财综〔2020〕12号): code 8 digits = region (2) + ``02`` + ``99``
+ year (2); number 10 digits, sequential within the code. 数电 invoice: number 20 digits = year
(2) + tax-authority region (2) + channel (1) + sequence (15), no code. Both come from a
``DocumentCounter`` row per series, taken the same way: one ``UPDATE … RETURNING`` in the issuing
transaction, so they are gap-free and exactly-once like the VAT numbers.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext as _

from piaogen.errors import ServiceError

from .models import DocumentCounter, InvoiceCounter, SummaryCounter

MAX_BATCH = 999


def invoice_code(province_code: str, year: int, batch: int) -> str:
    if not (len(province_code) == 4 and province_code.isdigit()):
        raise ValueError(f"province code must be 4 digits: {province_code!r}")
    if not 1 <= batch <= MAX_BATCH:
        raise ValueError(f"batch out of range: {batch}")
    return f"0{province_code}{year % 100:02d}{batch:03d}12"


def format_number(number: int) -> str:
    return f"{number:08d}"


@dataclass(frozen=True)
class Block:
    """Consecutive numbers ``first``…``first + count - 1`` within one invoice code."""

    code: str
    first: int
    count: int

    def numbers(self) -> list[str]:
        return [format_number(n) for n in range(self.first, self.first + self.count)]


def _fast_path(province_code: str, year: int, count: int, per_batch: int) -> tuple[int, int] | None:
    table = InvoiceCounter._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET next_number = next_number + %s "  # noqa: S608 - table name is ours
            "WHERE province_code = %s AND year = %s AND next_number + %s - 1 <= %s "
            "RETURNING batch, next_number",
            [count, province_code, year, count, per_batch],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    batch, after = row
    return batch, after - count


def allocate(province_code: str, year: int, count: int) -> list[Block]:
    """Takes ``count`` numbers for a seller province and year. Must run inside the
    transaction that writes the invoices; the row stays locked until it commits."""
    if count <= 0:
        return []
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("invoice numbers are only taken inside the issuing transaction")
    per_batch = settings.INVOICE_NUMBERS_PER_BATCH
    fast = _fast_path(province_code, year, count, per_batch)
    if fast is not None:
        batch, first = fast
        return [Block(invoice_code(province_code, year, batch), first, count)]
    # Slow path: the counter does not exist yet, or the block crosses into the next batch.
    try:
        with transaction.atomic():
            InvoiceCounter.objects.get_or_create(province_code=province_code, year=year)
    except IntegrityError:
        pass  # created by a concurrent issuer a moment ago
    counter = InvoiceCounter.objects.select_for_update().get(province_code=province_code, year=year)
    blocks: list[Block] = []
    remaining = count
    while remaining:
        room = per_batch - counter.next_number + 1
        if room <= 0:
            if counter.batch >= MAX_BATCH:
                raise ServiceError(
                    "numbers_exhausted",
                    _("该省本年度发票号段已用尽，请联系平台运维分配新号段。"),
                    status=503,
                )
            counter.batch += 1
            counter.next_number = 1
            continue
        take = min(room, remaining)
        blocks.append(Block(invoice_code(province_code, year, counter.batch), counter.next_number, take))
        counter.next_number += take
        remaining -= take
    counter.save(update_fields=["batch", "next_number"])
    return blocks


def numbers(province_code: str, year: int, count: int) -> list[tuple[str, str]]:
    """``count`` (code, number) pairs in issuing order."""
    return [(block.code, n) for block in allocate(province_code, year, count) for n in block.numbers()]


FISCAL_NUMBER_MAX = 10**10 - 1
DIGITAL_SEQUENCE_MAX = 10**15 - 1


def fiscal_code(region: str, year: int) -> str:
    """The 8-digit code of a toll fiscal e-bill: region (2) + 02 (toll) + 99 + year (2)."""
    if not (len(region) == 2 and region.isdigit()):
        raise ValueError(f"region must be 2 digits: {region!r}")
    return f"{region}0299{year % 100:02d}"


def digital_series(region: str, year: int, channel: str | None = None) -> str:
    """The first 5 digits of a 数电 number: year (2) + tax-authority region (2) + channel (1)."""
    channel = settings.DIGITAL_INVOICE_CHANNEL if channel is None else channel
    if not (len(region) == 2 and region.isdigit()) or not (len(channel) == 1 and channel.isdigit()):
        raise ValueError(f"region must be 2 digits and channel 1: {region!r} {channel!r}")
    return f"{year % 100:02d}{region}{channel}"


def _take(series: str, count: int, ceiling: int) -> int:
    """The first of ``count`` consecutive numbers of ``series``; inside the issuing transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("document numbers are only taken inside the issuing transaction")
    table = DocumentCounter._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET next_number = next_number + %s "  # noqa: S608 - table name is ours
            "WHERE series = %s AND next_number + %s - 1 <= %s RETURNING next_number",
            [count, series, count, ceiling],
        )
        row = cursor.fetchone()
    if row is not None:
        return row[0] - count
    try:
        with transaction.atomic():
            DocumentCounter.objects.create(series=series)
    except IntegrityError:
        counter = DocumentCounter.objects.select_for_update().get(series=series)
        if counter.next_number + count - 1 > ceiling:
            raise ServiceError("numbers_exhausted", _("该号段本年度号码已用尽，请联系平台运维。"), status=503) from None
        return _take(series, count, ceiling)
    return _take(series, count, ceiling)


def fiscal_numbers(region: str, year: int, count: int) -> list[tuple[str, str]]:
    """``count`` (code, number) pairs of fiscal e-bills, consecutive, in issuing order."""
    if count <= 0:
        return []
    code = fiscal_code(region, year)
    first = _take(f"F{code}", count, FISCAL_NUMBER_MAX)
    return [(code, f"{n:010d}") for n in range(first, first + count)]


def digital_numbers(region: str, year: int, count: int) -> list[tuple[str, str]]:
    """``count`` ("", number) pairs of 数电 invoices (no code), consecutive, in issuing order."""
    if count <= 0:
        return []
    series = digital_series(region, year)
    first = _take(f"D{series}", count, DIGITAL_SEQUENCE_MAX)
    return [("", f"{series}{n:015d}") for n in range(first, first + count)]


def red_confirmation_number(region: str, year: int) -> str:
    """A 红字确认 record's 20-digit number: year (2) + region (2) + ``9`` + a 15-digit sequence."""
    first = _take(f"R{year % 100:02d}{region}", 1, DIGITAL_SEQUENCE_MAX)
    return f"{year % 100:02d}{region}9{first:015d}"


def fiscal_check_code(*, code: str, number: str, issued_on: str, total: int) -> str:
    """The 6-character check code printed on a fiscal e-bill (lower-case hex), keyed like the
    VAT check code: unguessable, recomputable by the platform."""
    digest = hmac.new(
        settings.LOOKUP_HASH_KEY.encode(), f"fiscal:{code}:{number}:{issued_on}:{total}".encode(), hashlib.sha256
    ).hexdigest()
    return digest[:6]


def sequence_of(code: str, number: str) -> tuple[str, int]:
    """(series, position) of a document of any kind: a VAT or fiscal e-bill number counts within
    its code; a 数电 number within its first 5 digits (year, region, channel). Gap-free numbering
    means the positions of each series run 1, 2, 3, … without a hole or a repeat."""
    if code:
        return code, int(number)
    return number[:5], int(number[5:])


def check_code(*, code: str, number: str, issued_on: str, total: int) -> str:
    """20 digits derived with a secret key from the invoice's identity and amount: nobody can
    guess it, and the platform can recompute it to verify."""
    digest = hmac.new(
        settings.LOOKUP_HASH_KEY.encode(), f"check:{code}:{number}:{issued_on}:{total}".encode(), hashlib.sha256
    ).digest()
    return f"{int.from_bytes(digest[:10], 'big') % 10**20:020d}"


def check_code_groups(value: str) -> str:
    """How the check code prints: 4 groups of 5 digits."""
    return " ".join(value[i : i + 5] for i in range(0, 20, 5))


def summary_number(province: str, yyyymm: str) -> str:
    """16 digits: issuer province (2) + YYYY + MM + an 8-digit sequence for that month."""
    table = SummaryCounter._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET next_number = next_number + 1 "  # noqa: S608
            "WHERE province = %s AND month = %s RETURNING next_number",
            [province, yyyymm],
        )
        row = cursor.fetchone()
    if row is None:
        try:
            with transaction.atomic():
                SummaryCounter.objects.create(province=province, month=yyyymm, next_number=2)
            return f"{province}{yyyymm}{1:08d}"
        except IntegrityError:
            return summary_number(province, yyyymm)
    return f"{province}{yyyymm}{row[0] - 1:08d}"
