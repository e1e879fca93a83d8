"""Monthly partitions of trips, their segments, invoices and their lines on PostgreSQL
(docs/scaling.md, section 1).

The four tables are partitioned by LIST on ``month`` ('YYYY-MM', the travel month in
Asia/Shanghai of the trip, or the month an invoice bills: a card-month's trips, segments,
invoices and lines share one month), one partition a month (``invoices_transit_2026_11``) and a
default partition that catches a month nobody created ahead. The key of each table becomes
(id, month); the national trip id's global uniqueness lives in ``TransitKey`` and an invoice's
(code, number) in ``InvoiceKey``; references into the tables carry no database constraint (the
services and ``on_delete=PROTECT`` guard them).

Three ways in, one code path (``_build`` + ``_swap``):

- a new database (the migration finds the tables empty): the partitioned tables replace the
  plain ones at once;
- a populated database: ``manage.py partitions move`` builds the partitioned tables beside the
  plain ones, mirrors every write into them with a trigger, copies the history in batches of
  ids (each batch holds its rows' share locks until it commits, so a concurrent change waits
  and lands after it), and swaps the names in one short transaction under lock; the plain
  tables stay as ``*_premove`` until ``partitions drop-premove``;
- every day, ``maintain``: partitions created ahead, rows that fell into a default partition
  moved into a partition of their own, and an error logged if anything stays there.

SQLite keeps plain tables: every function here is a no-op elsewhere than PostgreSQL.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

KEY = "month"
# The order tables are built, copied and swapped in: each parent before its children.
TRIP_TABLES = ("invoices_transit", "invoices_transitsegment")
INVOICE_TABLES = ("invoices_invoice", "invoices_invoiceline")
TABLES = TRIP_TABLES + INVOICE_TABLES
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
BUILDING = "_p"  # suffix of a partitioned table (and its indexes) while it is built beside the plain one
PREMOVE = "_premove"  # suffix the plain table keeps after the swap
SEQUENCE_GAP = 1_000_000  # ids skipped at an online swap (see _swap)


def enabled(using=None) -> bool:
    return (using or connection).vendor == "postgresql"


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def partition_name(table: str, month: str) -> str:
    return f"{table}_{month.replace('-', '_')}"


def default_name(table: str) -> str:
    return f"{table}_default"


def is_partitioned(table: str, cursor=None) -> bool:
    if not enabled():
        return False
    with connection.cursor() if cursor is None else _same(cursor) as c:
        c.execute(
            "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid"
            " WHERE c.relname = %s AND c.relnamespace = 'public'::regnamespace",
            [table],
        )
        return c.fetchone() is not None


def month_partitions(tables: Iterable[str], month: str) -> dict[str, str]:
    """The partitions of ``month`` that exist now, attached to ``tables`` (table → partition):
    one catalog query. Issuing writes an application's rows (one month) straight into them,
    which spares PostgreSQL routing each row through the parent; a month without its own
    partition (its rows go to the default one) is simply absent from the answer."""
    tables = list(tables)
    if not enabled() or not tables:
        return {}
    with connection.cursor() as c:
        c.execute(
            "SELECT parent.relname, child.relname FROM pg_inherits i"
            " JOIN pg_class child ON child.oid = i.inhrelid JOIN pg_class parent ON parent.oid = i.inhparent"
            " WHERE parent.relname = ANY(%s) AND child.relname = ANY(%s)"
            " AND parent.relnamespace = 'public'::regnamespace",
            [tables, [partition_name(t, month) for t in tables]],
        )
        return dict(c.fetchall())


class _same:
    def __init__(self, cursor):
        self.cursor = cursor

    def __enter__(self):
        return self.cursor

    def __exit__(self, *exc):
        return False


def _exists(cursor, name: str) -> bool:
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [f"public.{name}"])
    return cursor.fetchone()[0]


def months_around(today: date | None = None, behind: int | None = None, ahead: int | None = None) -> list[str]:
    """The months partitions are kept ready for: ``PARTITION_MONTHS_BEHIND`` before this month
    (trips arrive days after the toll) to ``PARTITION_MONTHS_AHEAD`` after it."""
    today = today or timezone.localdate()
    behind = settings.PARTITION_MONTHS_BEHIND if behind is None else behind
    ahead = settings.PARTITION_MONTHS_AHEAD if ahead is None else ahead
    base = today.year * 12 + today.month - 1
    return [f"{m // 12:04d}-{m % 12 + 1:02d}" for m in range(base - behind, base + ahead + 1)]


# --- building --------------------------------------------------------------------------------


@dataclass
class _Index:
    name: str
    primary: bool
    unique: bool
    columns: list[str]
    definition: str


def _indexes(cursor, table: str) -> list[_Index]:
    cursor.execute(
        """
        SELECT ci.relname, ix.indisprimary, ix.indisunique,
               ARRAY(SELECT a.attname FROM unnest(ix.indkey) WITH ORDINALITY k(attnum, n)
                     JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum ORDER BY k.n),
               pg_get_indexdef(ix.indexrelid)
        FROM pg_index ix JOIN pg_class ci ON ci.oid = ix.indexrelid
        WHERE ix.indrelid = %s::regclass ORDER BY ci.relname
        """,
        [table],
    )
    return [_Index(*row) for row in cursor.fetchall()]


def _sequence(cursor, table: str) -> str | None:
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
    return cursor.fetchone()[0]


def _build(cursor, table: str, months: Iterable[str]) -> str:
    """Create ``<table>_p`` partitioned by month, shaped like ``table`` (columns, defaults,
    checks, foreign keys, indexes with the month added to every unique key), with its own id
    sequence, a partition for each of ``months`` and a default partition. Returns its name."""
    new = table + BUILDING
    cursor.execute(
        f"CREATE TABLE {_q(new)} (LIKE {_q(table)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        f" PARTITION BY LIST ({_q(KEY)})"
    )
    # Identity columns cannot be declared on a partitioned table before PostgreSQL 17: a
    # sequence owned by the column gives the same ids (and pg_get_serial_sequence finds it).
    seq = f"{table}_id_seq{BUILDING}"
    cursor.execute(f"CREATE SEQUENCE {_q(seq)} AS bigint OWNED BY {_q(new)}.id")
    cursor.execute(f"ALTER TABLE {_q(new)} ALTER COLUMN id SET DEFAULT nextval('{seq}'::regclass)")
    for ix in _indexes(cursor, table):
        name = ix.name + BUILDING
        if ix.primary or ix.unique:
            cols = ix.columns + ([KEY] if KEY not in ix.columns else [])
            kind = "PRIMARY KEY" if ix.primary else "UNIQUE"
            cursor.execute(f"ALTER TABLE {_q(new)} ADD CONSTRAINT {_q(name)} {kind} ({', '.join(_q(c) for c in cols)})")
        else:
            definition = re.sub(
                r"^CREATE INDEX \S+ ON (ONLY )?\S+", f"CREATE INDEX {_q(name)} ON {_q(new)}", ix.definition
            )
            cursor.execute(definition)
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'",
        [table],
    )
    for name, definition in cursor.fetchall():
        cursor.execute(f"ALTER TABLE {_q(new)} ADD CONSTRAINT {_q(name)} {definition}")
    for month in months:
        _create_partition(cursor, table, new, month)
    cursor.execute(f"CREATE TABLE {_q(default_name(table))} PARTITION OF {_q(new)} DEFAULT")
    return new


def _create_partition(cursor, table: str, parent: str, month: str) -> None:
    cursor.execute(
        f"CREATE TABLE IF NOT EXISTS {_q(partition_name(table, month))} PARTITION OF {_q(parent)} FOR VALUES IN (%s)",
        [month],
    )


def _swap(cursor, table: str, *, keep_old: bool, online: bool) -> None:
    """Give the partitioned ``<table>_p`` the plain table's name, its indexes' names and its
    sequence's position. Runs inside the caller's transaction, with the plain table locked."""
    new = table + BUILDING
    old_seq = _sequence(cursor, table)
    new_seq = _sequence(cursor, new)
    if old_seq:
        # A writer that looked the sequence up by the table's name just before the rename still
        # draws its ids from the old sequence (the ingest takes a batch's ids before its COPY,
        # which then waits for this lock and lands in the new table): the new sequence starts
        # SEQUENCE_GAP past the old one's position, so such ids never meet the new ones.
        cursor.execute(f"SELECT nextval('{old_seq}'::regclass)")
        start = cursor.fetchone()[0] + (SEQUENCE_GAP if online else 0)
        cursor.execute("SELECT setval(%s::regclass, %s)", [new_seq, start])
    old_indexes = [ix.name for ix in _indexes(cursor, table)]
    if keep_old:
        cursor.execute(f"ALTER TABLE {_q(table)} RENAME TO {_q(table + PREMOVE)}")
        for name in old_indexes:
            cursor.execute(f"ALTER INDEX {_q(name)} RENAME TO {_q(name + PREMOVE)}")
    else:
        cursor.execute(f"DROP TABLE {_q(table)}")
    cursor.execute(f"ALTER TABLE {_q(new)} RENAME TO {_q(table)}")
    for ix in _indexes(cursor, table):
        if ix.name.endswith(BUILDING):
            cursor.execute(f"ALTER INDEX {_q(ix.name)} RENAME TO {_q(ix.name[: -len(BUILDING)])}")
    if not keep_old:
        cursor.execute(f"ALTER SEQUENCE {_q(new_seq.split('.')[-1])} RENAME TO {_q(f'{table}_id_seq')}")


def _months_in(cursor, table: str) -> list[str]:
    cursor.execute(f"SELECT DISTINCT {_q(KEY)} FROM {_q(table)}")
    return sorted(m for (m,) in cursor.fetchall() if MONTH.match(m or ""))


def partition_empty_tables(tables: Iterable[str] = TABLES) -> list[str]:
    """For the migrations: partition every table of ``tables`` that is still plain and holds no
    row. Returns the tables partitioned; a populated table is left for ``move``."""
    if not enabled() or not settings.PARTITION_ON_MIGRATE:
        return []
    done = []
    with connection.cursor() as cursor:
        for table in tables:
            if is_partitioned(table, cursor):
                continue
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {_q(table)})")
            if cursor.fetchone()[0]:
                logger.warning("%s holds rows: partition it online with `manage.py partitions move`", table)
                continue
            cursor.execute(f"LOCK TABLE {_q(table)} IN ACCESS EXCLUSIVE MODE")
            _build(cursor, table, months_around())
            _swap(cursor, table, keep_old=False, online=False)
            done.append(table)
    return done


# --- the online move ---------------------------------------------------------------------------


def _mirror_sql(table: str) -> tuple[str, str]:
    new = table + BUILDING
    function = f"{table}_mirror"
    body = f"""
        CREATE OR REPLACE FUNCTION {_q(function)}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') THEN
                DELETE FROM {_q(new)} WHERE id = OLD.id AND {_q(KEY)} = OLD.{_q(KEY)};
            END IF;
            IF TG_OP IN ('INSERT', 'UPDATE') THEN
                INSERT INTO {_q(new)} SELECT (NEW).* ON CONFLICT DO NOTHING;
            END IF;
            RETURN NULL;
        END $$;
        CREATE TRIGGER {_q(function)} AFTER INSERT OR UPDATE OR DELETE ON {_q(table)}
            FOR EACH ROW EXECUTE FUNCTION {_q(function)}();
    """
    drop = f"DROP TRIGGER IF EXISTS {_q(function)} ON {_q(table)}; DROP FUNCTION IF EXISTS {_q(function)}();"
    return body, drop


@dataclass
class MoveReport:
    table: str
    rows_before: int = 0
    rows_after: int = 0
    batches: int = 0


def move(
    *, batch: int = 50_000, keep_old: bool = True, progress: Callable[[str], None] | None = None
) -> list[MoveReport]:
    """Partition populated plain tables while the site runs (see the module's docstring)."""
    if not enabled():
        raise RuntimeError("monthly partitions are a PostgreSQL feature; this database keeps plain tables")
    say = progress or (lambda text: None)
    reports = []
    for table in TABLES:
        with connection.cursor() as cursor:
            if is_partitioned(table, cursor):
                say(f"{table}: already partitioned")
                continue
            report = MoveReport(table)
            with transaction.atomic():
                if _exists(cursor, table + BUILDING):
                    # A move that stopped half way: start again from nothing.
                    cursor.execute(_mirror_sql(table)[1])
                    cursor.execute(f"DROP TABLE {_q(table + BUILDING)} CASCADE")
                    cursor.execute(f"DROP SEQUENCE IF EXISTS {_q(f'{table}_id_seq{BUILDING}')}")
                months = sorted(set(_months_in(cursor, table)) | set(months_around()))
                _build(cursor, table, months)
                cursor.execute(_mirror_sql(table)[0])
            say(f"{table}: built with {len(months)} monthly partitions; mirroring writes")
            cursor.execute(f"SELECT coalesce(min(id), 0), coalesce(max(id), 0) FROM {_q(table)}")
            low, high = cursor.fetchone()
            start = low
            while start <= high:
                with transaction.atomic():
                    # FOR SHARE: a row changed while its batch is copied waits for the batch,
                    # then the trigger replaces the copy; a batch never resurrects a deleted row.
                    cursor.execute(
                        f"INSERT INTO {_q(table + BUILDING)} SELECT * FROM {_q(table)}"
                        f" WHERE id >= %s AND id < %s FOR SHARE ON CONFLICT DO NOTHING",
                        [start, start + batch],
                    )
                start += batch
                report.batches += 1
                if report.batches % 20 == 0:
                    say(f"{table}: copied ids below {start}")
            with transaction.atomic():
                cursor.execute(f"LOCK TABLE {_q(table)} IN ACCESS EXCLUSIVE MODE")
                cursor.execute(f"SELECT count(*) FROM {_q(table)}")
                report.rows_before = cursor.fetchone()[0]
                cursor.execute(f"SELECT count(*) FROM {_q(table + BUILDING)}")
                report.rows_after = cursor.fetchone()[0]
                if report.rows_before != report.rows_after:
                    raise RuntimeError(
                        f"{table}: {report.rows_before} rows in the plain table, {report.rows_after} copied;"
                        " nothing swapped (run the move again)"
                    )
                cursor.execute(_mirror_sql(table)[1])
                _swap(cursor, table, keep_old=keep_old, online=True)
            say(f"{table}: swapped, {report.rows_after} rows")
            reports.append(report)
    if any(report.table == INVOICE_TABLES[0] for report in reports):
        _new_invoice_months()
    return reports


def drop_premove() -> list[str]:
    """Drop the plain tables a move left behind (after the operator has checked the site)."""
    dropped = []
    with connection.cursor() as cursor:
        for table in TABLES:
            if _exists(cursor, table + PREMOVE):
                cursor.execute(f"DROP TABLE {_q(table + PREMOVE)}")
                dropped.append(table + PREMOVE)
    return dropped


# --- keeping partitions ready --------------------------------------------------------------------


@dataclass
class TableStatus:
    table: str
    partitioned: bool
    months: list[str]
    default_rows: int
    default_months: list[str]


def partitions_of(cursor, table: str) -> list[str]:
    cursor.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = %s::regclass ORDER BY c.relname",
        [table],
    )
    return [r[0] for r in cursor.fetchall()]


def status() -> list[TableStatus]:
    out = []
    if not enabled():
        return [TableStatus(t, False, [], 0, []) for t in TABLES]
    with connection.cursor() as cursor:
        for table in TABLES:
            if not is_partitioned(table, cursor):
                out.append(TableStatus(table, False, [], 0, []))
                continue
            prefix = table + "_"
            months = [
                p[len(prefix) :].replace("_", "-")
                for p in partitions_of(cursor, table)
                if p != default_name(table) and p.startswith(prefix)
            ]
            cursor.execute(f"SELECT {_q(KEY)}, count(*) FROM {_q(default_name(table))} GROUP BY 1 ORDER BY 1")
            held = cursor.fetchall()
            out.append(TableStatus(table, True, months, sum(n for _m, n in held), [m for m, _n in held]))
    return out


def ensure(months: Iterable[str]) -> dict[str, list[str]]:
    """Create the partitions of ``months`` that are missing, moving rows of those months out of
    the default partition into them first. Returns what was created, per table."""
    created: dict[str, list[str]] = {}
    if not enabled():
        return created
    for table in TABLES:
        with connection.cursor() as cursor:
            if not is_partitioned(table, cursor):
                continue
            existing = set(partitions_of(cursor, table))
            for month in sorted(set(months)):
                if not MONTH.match(month) or partition_name(table, month) in existing:
                    continue
                with transaction.atomic():
                    _attach_month(cursor, table, month)
                created.setdefault(table, []).append(month)
    if created.get(INVOICE_TABLES[0]):
        _new_invoice_months()
    return created


def _new_invoice_months() -> None:
    """A check's read function has a branch per month of invoices (invoices.verification)."""
    from .verification import install_read_function

    install_read_function()


def _attach_month(cursor, table: str, month: str) -> None:
    part, default = partition_name(table, month), default_name(table)
    # Writers of that month wait a moment: the rows move and the partition is attached at once.
    cursor.execute(f"LOCK TABLE {_q(default)} IN SHARE ROW EXCLUSIVE MODE")
    cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {_q(default)} WHERE {_q(KEY)} = %s)", [month])
    if not cursor.fetchone()[0]:
        _create_partition(cursor, table, table, month)
        return
    cursor.execute(f"CREATE TABLE {_q(part)} (LIKE {_q(table)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    cursor.execute(f"INSERT INTO {_q(part)} SELECT * FROM {_q(default)} WHERE {_q(KEY)} = %s", [month])
    cursor.execute(f"DELETE FROM {_q(default)} WHERE {_q(KEY)} = %s", [month])
    cursor.execute(f"ALTER TABLE {_q(table)} ATTACH PARTITION {_q(part)} FOR VALUES IN (%s)", [month])


def maintain(today: date | None = None) -> dict:
    """The daily task's work: partitions ready around this month, the default partition drained
    into monthly partitions, and an error logged for anything that stays there."""
    if not enabled():
        return {"partitioned": False}
    wanted = set(months_around(today))
    for st in status():
        wanted.update(m for m in st.default_months if MONTH.match(m or ""))
    created = ensure(wanted)
    left = {st.table: st.default_rows for st in status() if st.default_rows}
    if left:
        logger.error("rows left in default partitions (not a month): %s", left)
    return {"partitioned": True, "created": created, "default_rows": left}
