"""The bench data at scale: background trips and invoices written with COPY, and one heavy user
whose trips and invoices go through the product's own services.

    .venv/bin/python bench/generate.py [--trips 1000000] [--invoices 1000000] [--user-trips 5000]

Shapes follow production: registry cards of the issuers (through ``card_registry_upsert``), users
each bound to about ten cards with an invoice title, trips of three segments on three operators'
sections spread over the last 24 months, and per-trip invoices (one per trip and seller, with its
line, application and application item, numbers in a code of their own, check codes computed
with the platform key). The heavy user holds ``--user-trips`` trips on two cards over the last 12
months, pushed through the ingest service and issued through the issuing service (per trip on one
card, monthly on the other) for all but the two latest months.

The background rows are written with COPY and ``session_replication_role = replica`` (foreign key
triggers off; the generator builds every reference itself) — a loader's shortcut, never the
product's. A database is generated once per size: ``bench_meta`` records what it holds and a
second run with the same size returns at once; a different size drops and recreates the database.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common, data  # noqa: E402

SHANGHAI = ZoneInfo("Asia/Shanghai")
HEAVY_MOBILE = "13912345678"
HEAVY_CARDS = (data.card_no(900_000_001), data.card_no(900_000_002))
STAFF_MOBILE = "13912345600"
CHUNK = 100_000


def months_back(today: date, count: int) -> list[str]:
    """``count`` months ending with ``today``'s, oldest first."""
    out, year, month = [], today.year, today.month
    for _ in range(count):
        out.append(f"{year:04d}-{month:02d}")
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return out[::-1]


def _meta_value(trips: int, invoices: int, user_trips: int) -> str:
    return f"trips={trips} invoices={invoices} user_trips={user_trips}"


def _current_meta(url: str) -> str | None:
    import psycopg

    try:
        with psycopg.connect(url) as conn:
            row = conn.execute(
                "SELECT value FROM bench_meta WHERE key = 'scale'"
                if conn.execute("SELECT to_regclass('bench_meta')").fetchone()[0]
                else "SELECT NULL"
            ).fetchone()
            return row[0] if row else None
    except psycopg.OperationalError:
        return None


def recreate_database(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def ensure(trips: int, invoices: int, user_trips: int, *, quiet: bool = False) -> dict:
    """Makes sure the bench database holds this size, generating it in a child process if not."""
    import subprocess

    url = common.database_url()
    want = _meta_value(trips, invoices, user_trips)
    if _current_meta(url) == want:
        common.manage("migrate", "--noinput")  # the code may have gained migrations since
        return {"generated": False, "meta": want}
    started = time.perf_counter()
    out = subprocess.run(
        [common.PY, __file__, "--trips", str(trips), "--invoices", str(invoices), "--user-trips", str(user_trips)],
        cwd=common.ROOT,
        env=common.bench_env(),
        capture_output=quiet,
        text=True,
    )
    if out.returncode:
        raise RuntimeError(f"generation failed:\n{out.stdout if quiet else ''}\n{out.stderr if quiet else ''}")
    return {"generated": True, "meta": want, "seconds": round(time.perf_counter() - started, 1)}


# --- generation, in a process of its own ----------------------------------------------------------


def _base(n_cards: int):
    from accounts.models import Partner
    from accounts.services import partner_create
    from cards.services.registry import card_registry_upsert
    from invoices.ingest import operator_upsert_batch

    clearing, token = partner_create(kind=Partner.Kind.CLEARING, name="bench-clearing")
    operator_upsert_batch(partner=clearing, body=data.operators_body())
    for start in range(0, n_cards, 5000):
        result = card_registry_upsert(partner=None, items=data.cards(start, min(5000, n_cards - start)))
        assert not result["rejected"], result["rejected"][:3]
    heavy = data.cards(900_000_001, 2)
    assert not card_registry_upsert(partner=None, items=heavy)["rejected"]
    return clearing, token


def _users(n_users: int, n_cards: int):
    """Background users (``139…`` mobiles), each with a title and about ten bound cards."""
    from accounts.models import User
    from cards.models import Binding, Card, InvoiceTitle

    users = []
    for i in range(n_users):
        u = User(name=f"基准用户{i}")
        u.set_mobile(f"138{i:08d}")
        u.set_unusable_password()
        users.append(u)
    users = User.objects.bulk_create(users, batch_size=2000)
    titles = InvoiceTitle.objects.bulk_create(
        [InvoiceTitle(user=u, kind="personal", name=u.name) for u in users], batch_size=2000
    )
    card_ids = dict(
        Card.objects.filter(card_no__in=[data.card_no(n) for n in range(n_cards)]).values_list("card_no", "id")
    )
    bindings = [
        Binding(user=users[c % n_users], card_id=card_ids[data.card_no(c)], default_title=titles[c % n_users])
        for c in range(n_cards)
    ]
    Binding.objects.bulk_create(bindings, batch_size=5000)
    return users, titles, [card_ids[data.card_no(c)] for c in range(n_cards)]


def _background(trips: int, invoices: int, users, titles, card_ids: list[int], today: date) -> None:
    """``trips`` trips of three segments and about ``invoices`` per-trip invoices, with COPY."""
    from django.conf import settings
    from django.db import connection, transaction

    from invoices import numbering
    from invoices.models import Operator, RoadSection
    from invoices.services import TOLL_ITEM
    from invoices.tax import rate_for_section, split

    if trips == 0:
        return
    rng = random.Random(7)
    sections = {s.code: s for s in RoadSection.objects.filter(code__in=data.SECTIONS)}
    operators = {o.pk: o for o in Operator.objects.all()}
    months = months_back(today, 24)
    n_cards, n_users = len(card_ids), len(users)
    invoiced_trips = min(trips, (invoices + 2) // 3)
    issued_at = datetime.combine(today - timedelta(days=1), datetime.min.time(), tzinfo=SHANGHAI)
    now = datetime.now(tz=SHANGHAI)
    code = numbering.invoice_code("4100", today.year, 900)
    title_rows = {t.user_id: t for t in titles}
    card_pos = {c: p for p, c in enumerate(card_ids)}
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")

        def reserve(table: str, count: int) -> int:
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'), nextval(pg_get_serial_sequence(%s, 'id')) + %s - 1)",
                [table, table, count],
            )
            return cursor.fetchone()[0] - count + 1

        raw = cursor.cursor
        invoice_no = 0
        apps: dict[tuple[int, str], int] = {}
        for chunk_start in range(0, trips, CHUNK):
            count = min(CHUNK, trips - chunk_start)
            with transaction.atomic():
                first_transit = reserve("invoices_transit", count)
                transit_rows, segment_rows, plans = [], [], []
                for j in range(count):
                    i = chunk_start + j
                    card = card_ids[i % n_cards]
                    k = i // n_cards
                    month = months[-1 - (k % 24)] if i >= invoiced_trips else months[k % 22]
                    year, mon = int(month[:4]), int(month[5:])
                    day = 1 + rng.randrange(28)
                    exit_at = datetime(year, mon, day, 6 + rng.randrange(14), rng.randrange(60), tzinfo=SHANGHAI)
                    if exit_at > now - timedelta(hours=2):
                        exit_at = now - timedelta(hours=2 + rng.randrange(48))
                        month = exit_at.strftime("%Y-%m")
                    entry_at = exit_at - timedelta(minutes=30 + rng.randrange(120))
                    route = rng.sample(data.SECTIONS, 3)
                    fees = [rng.randrange(100, 9000) for _ in route]
                    pk = first_transit + j
                    invoiced = i < invoiced_trips
                    transit_rows.append(
                        (
                            pk,
                            f"G-{i:010d}",
                            card,
                            f"豫A{i % 100000:05d}",
                            0,
                            "passenger",
                            "基准入口站",
                            entry_at,
                            "基准出口站",
                            exit_at,
                            month,
                            exit_at.date(),
                            sum(fees),
                            "invoiced" if invoiced else "open",
                            f"bench{i:035d}",
                            None,
                            now,
                            now,
                        )
                    )
                    for seq, (c, fee) in enumerate(zip(route, fees, strict=True), start=1):
                        segment_rows.append((pk, seq, sections[c].pk, sections[c].operator_id, fee, month))
                    if invoiced:
                        plans.append((pk, card, month, exit_at, entry_at, route, fees, i))
                with raw.copy(
                    "COPY invoices_transit (id, transit_id, card_id, plate, plate_color, vehicle_class, entry_station,"
                    " entry_time, exit_station, exit_time, month, travel_date, fee, state, fingerprint, pushed_by_id,"
                    " created_at, updated_at) FROM STDIN"
                ) as copy:
                    for r in transit_rows:
                        copy.write_row(r)
                with raw.copy("COPY invoices_transitkey (transit_id, trip_id, month) FROM STDIN") as copy:
                    for r in transit_rows:
                        copy.write_row((r[1], r[0], r[10]))
                with raw.copy(
                    "COPY invoices_transitsegment (transit_id, seq, section_id, operator_id, fee, month) FROM STDIN"
                ) as copy:
                    for r in segment_rows:
                        copy.write_row(r)
                if not plans:
                    continue
                new_apps = []
                for _pk, card, month, *_rest in plans:
                    if (card, month) not in apps:
                        apps[(card, month)] = -1
                        new_apps.append((card, month))
                first_app = reserve("invoices_application", len(new_apps)) if new_apps else 0
                app_rows = []
                for n, (card, month) in enumerate(new_apps):
                    app_id = first_app + n
                    apps[(card, month)] = app_id
                    app_rows.append((app_id, card, month))
                with raw.copy(
                    "COPY invoices_application (id, user_id, card_id, kind, mode, month, whole_month, title_id, email,"
                    " status, failure_reason, summary_no, invoice_count, total, attempts, created_at, queued_at,"
                    " started_at, issued_at) FROM STDIN"
                ) as copy:
                    for app_id, card, month in app_rows:
                        user = users[card_pos[card] % n_users]
                        copy.write_row(
                            (
                                app_id,
                                user.pk,
                                card,
                                "consumption",
                                "per_trip",
                                month,
                                True,
                                title_rows[user.pk].pk,
                                "",
                                "issued",
                                "",
                                f"41{month[:4]}{month[5:]}{50_000_000 + app_id:08d}",
                                0,
                                0,
                                1,
                                issued_at,
                                issued_at,
                                issued_at,
                                issued_at,
                            )
                        )
                first_invoice = reserve("invoices_invoice", len(plans) * 3)
                invoice_rows, line_rows, item_rows = [], [], []
                for pk, card, month, exit_at, entry_at, route, fees, i in plans:
                    app_id = apps[(card, month)]
                    user = users[card_pos[card] % n_users]
                    title = title_rows[user.pk]
                    item_rows.append((app_id, pk))
                    for c, fee in zip(route, fees, strict=True):
                        section = sections[c]
                        op = operators[section.operator_id]
                        rate = rate_for_section(section, exit_at.date())
                        net, tax = split(fee, rate)
                        invoice_no += 1
                        number = numbering.format_number(invoice_no)
                        inv_id = first_invoice + len(invoice_rows)
                        check = numbering.check_code(
                            code=code, number=number, issued_on=issued_at.date().isoformat(), total=fee
                        )
                        invoice_rows.append(
                            (
                                inv_id,
                                app_id,
                                user.pk,
                                card,
                                code,
                                number,
                                issued_at.date(),
                                issued_at,
                                check,
                                "non_taxable" if rate is None else "taxable",
                                False,
                                None,
                                "normal",
                                month,
                                op.pk,
                                op.name,
                                op.tax_id,
                                "",
                                "",
                                op.machine_no,
                                title.name,
                                "",
                                "",
                                "",
                                f"豫A{i % 100000:05d}",
                                net,
                                tax,
                                fee,
                                "",
                                "系统",
                                "系统",
                                "票根平台",
                                "pending",
                                "",
                                0,
                                "",
                                "",
                                0,
                                "vat_e_invoice",  # history as the 2018 regime issued it
                            )
                        )
                        line_rows.append(
                            (
                                inv_id,
                                1,
                                TOLL_ITEM,
                                f"豫A{i % 100000:05d}",
                                "客车",
                                entry_at.date(),
                                exit_at.date(),
                                net,
                                rate,
                                tax,
                                pk,
                                None,
                                month,
                            )
                        )
                with raw.copy(
                    "COPY invoices_invoice (id, application_id, user_id, card_id, code, number, issued_on, issued_at,"
                    " check_code, kind, red, original_id, status, month, operator_id, seller_name, seller_tax_id,"
                    " seller_address_phone, seller_bank_account, machine_no, buyer_name, buyer_tax_id,"
                    " buyer_address_phone, buyer_bank_account, plate, total_net, total_tax, total, remarks, payee,"
                    " reviewer, drawer, render_status, render_error, render_attempts, pdf_path, xml_path, pdf_size,"
                    " document_kind)"
                    " FROM STDIN"
                ) as copy:
                    for r in invoice_rows:
                        copy.write_row(r)
                with raw.copy(
                    "COPY invoices_invoiceline (invoice_id, seq, item, plate, vehicle_class, date_from, date_to, net,"
                    " rate, tax, transit_id, recharge_id, month) FROM STDIN"
                ) as copy:
                    for r in line_rows:
                        copy.write_row(r)
                # Each invoice's global key (code, number → id, month), as issuing writes it.
                with raw.copy("COPY invoices_invoicekey (invoice_id, code, number, month) FROM STDIN") as copy:
                    for r in invoice_rows:
                        copy.write_row((r[0], r[4], r[5], r[13]))
                with raw.copy("COPY invoices_applicationitem (application_id, transit_id) FROM STDIN") as copy:
                    for r in item_rows:
                        copy.write_row(r)
            print(f"  {chunk_start + count} trips, {invoice_no} invoices", flush=True)
        cursor.execute(
            "UPDATE invoices_application a SET invoice_count = s.n, total = s.t FROM "
            "(SELECT application_id, count(*) n, sum(total) t FROM invoices_invoice GROUP BY application_id) s "
            "WHERE a.id = s.application_id AND a.invoice_count = 0"
        )
        # Each user's invoices counted per card and month, as issuing counts them (InvoiceMonth).
        cursor.execute(
            "INSERT INTO invoices_invoicemonth (user_id, card_id, month, count, first_issued_at, last_issued_at) "
            "SELECT user_id, card_id, month, count(*), min(issued_at), max(issued_at) FROM invoices_invoice "
            "GROUP BY user_id, card_id, month ON CONFLICT (user_id, card_id, month) DO UPDATE SET "
            "count = excluded.count, first_issued_at = excluded.first_issued_at, last_issued_at = excluded.last_issued_at"
        )
        cursor.execute("SET session_replication_role = origin")
    assert settings.INVOICE_NUMBERS_PER_BATCH >= invoice_no


def _heavy_user(clearing, user_trips: int, today: date) -> None:
    """The heavy user: trips through the ingest service, invoices through the issuing service."""
    from accounts.models import User
    from cards.models import Binding, Card, InvoiceTitle
    from invoices import services
    from invoices.ingest import transit_upsert_batch
    from invoices.models import Application

    user = User(name="基准重度用户")
    user.set_mobile(HEAVY_MOBILE)
    user.set_password("bench-password-1")
    user.save()
    title = InvoiceTitle.objects.create(
        user=user, kind="enterprise", name="基准物流有限公司", tax_id="91410100MA0000000X"
    )
    for card_no in HEAVY_CARDS:
        Binding.objects.create(user=user, card=Card.objects.get(card_no=card_no), default_title=title)
    months = months_back(today, 12)
    now = datetime.now(tz=SHANGHAI)
    rng = random.Random(11)
    items = []
    for i in range(user_trips):
        card_no = HEAVY_CARDS[i % 2]
        month = months[(i // 2) % 12]
        year, mon = int(month[:4]), int(month[5:])
        exit_at = datetime(year, mon, 1 + rng.randrange(28), 6 + rng.randrange(14), rng.randrange(60), tzinfo=SHANGHAI)
        if exit_at > now - timedelta(hours=2):
            exit_at = now - timedelta(hours=2 + rng.randrange(24))
        route = rng.sample(data.SECTIONS, 3)
        fees = [rng.randrange(100, 9000) for _ in route]
        items.append(
            {
                "transit_id": f"H-{i:08d}",
                "card_no": card_no,
                "plate": "豫A00001",
                "plate_color": 0,
                "vehicle_class": "passenger",
                "entry_station": "基准入口站",
                "entry_time": (exit_at - timedelta(minutes=50)).isoformat(),
                "exit_station": "基准出口站",
                "exit_time": exit_at.isoformat(),
                "fee": sum(fees),
                "segments": [{"section_code": c, "fee": f} for c, f in zip(route, fees, strict=True)],
            }
        )
    for start in range(0, len(items), 5000):
        result = transit_upsert_batch(partner=clearing, body={"transits": items[start : start + 5000]})
        assert not result.rejected, result.rejected[:3]
    issued = 0
    for month in months[:-2]:
        for card_no, mode in zip(HEAVY_CARDS, (Application.Mode.PER_TRIP, Application.Mode.MONTHLY), strict=True):
            try:
                app = services.application_submit_consumption(
                    user=user, card_no=card_no, month=month, title_id=title.pk, mode=mode
                )
            except Exception as exc:  # a month without trips at a tiny size
                print(f"  skipped {card_no} {month}: {exc}")
                continue
            app = services.application_issue(application_id=app.pk)
            issued += app.invoice_count
    print(f"  heavy user: {user_trips} trips, {issued} invoices", flush=True)


def _staff() -> None:
    from accounts.models import User

    staff = User(name="基准客服", is_staff=True, is_superuser=True)
    staff.set_mobile(STAFF_MOBILE)
    staff.set_password("bench-password-1")
    staff.save()


def generate(trips: int, invoices: int, user_trips: int) -> None:
    url = common.database_url()
    recreate_database(url)
    common.manage("migrate", "--noinput")
    common.setup_django()
    from django.db import connection
    from django.utils import timezone

    today = timezone.localdate()
    started = time.perf_counter()
    from invoices import partitions

    # A partitioned database gets a partition for every month the data spans (the product's
    # hourly task would drain the default partition into them; the loader does not wait for it).
    partitions.ensure(months_back(today, 25))
    n_cards = max(20, trips // 50)
    n_users = max(2, n_cards // 10)
    clearing, _token = _base(n_cards)
    users, titles, card_ids = _users(n_users, n_cards)
    print(f"  {n_cards} cards, {n_users} users ({time.perf_counter() - started:.0f} s)", flush=True)
    _background(trips, invoices, users, titles, card_ids, today)
    print(f"  background done ({time.perf_counter() - started:.0f} s)", flush=True)
    _heavy_user(clearing, user_trips, today)
    _staff()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_meta (key text PRIMARY KEY, value text)")
        cursor.execute(
            "INSERT INTO bench_meta VALUES ('scale', %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            [_meta_value(trips, invoices, user_trips)],
        )
    _flush_bench_queue()
    print(f"  generated in {time.perf_counter() - started:.0f} s", flush=True)


def _flush_bench_queue() -> None:
    """Tasks queued while generating (documents of the heavy user's invoices) are not wanted."""
    import redis

    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trips", type=int, default=1_000_000)
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--user-trips", type=int, default=5000)
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args()
    url = common.database_url()
    if not args.force and _current_meta(url) == _meta_value(args.trips, args.invoices, args.user_trips):
        print(f"{url} already holds {_meta_value(args.trips, args.invoices, args.user_trips)}")
        return
    generate(args.trips, args.invoices, args.user_trips)


if __name__ == "__main__":
    main()
