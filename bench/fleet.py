"""A fleet at scale: an enterprise account with 500 company cards and 30,000 trips a month, beside
a small fleet of 5 cards, on the bench database (bench/generate.py).

    .venv/bin/python bench/fleet.py [--cards 500] [--trips 30000] [--zip-cards 100] [--n 30] [--batch-only]

In one process against PostgreSQL, each run with card numbers and accounts of its own:
- bulk binding: ``bulk_binding_start`` of the card numbers, ``bulk_binding_confirm`` with the code
  the SMS backend wrote;
- the month's trips (3 segments on 3 operators) pushed through the ingest service, 5,000 a batch;
- the tables analyzed once the rows are in, as autovacuum would (the bench machines run
  PostgreSQL with it off);
- batch apply per trip across every card (``batch_preview``, ``batch_submit``: the time and the
  statements each sends, and apart the time the submit spends once committed, queuing the
  issuing on the bench's Redis; where the code has a fan-out, the time a worker takes to turn
  it into one issuing task an application), then each of the batch's applications issued in this process one after another (``application_issue``); for
  reference, in the same run and the same way, as many invoices of single applications of the
  same size (cards outside the batch, one card-month each): batch invoices/s over single
  invoices/s is the per-card overhead the batch adds;
- pages and lists: p50/p95 server time and the query count of each page the fleet's clerk opens,
  for the large fleet and the small one (the same query count means it does not grow with cards);
- the batch ZIP: a monthly batch of the month before over ``--zip-cards`` cards, its documents
  rendered, the ZIP streamed through the page; the peak of memory Python allocated while
  streaming (tracemalloc) against the ZIP's size.

``--batch-only`` stops after the batch's preview and submit (its applications are left
submitted, not issued): the part to run again and again when comparing two versions of them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common, data, generate  # noqa: E402

SHANGHAI = ZoneInfo("Asia/Shanghai")
COMPANY = "基准车队物流有限公司（演示）"


def fleet_cards(run: int, start: int, count: int, uscc: str, mobile: str) -> list[dict]:
    return [
        {
            **item,
            "card_type": "account",
            "vehicle_class": "truck",
            "plate": f"豫F{(run * 1000 + n) % 100000:05d}",
            "holder_name": COMPANY,
            "id_type": "uscc",
            "id_number": uscc,
            "mobile": mobile,
        }
        for n, item in enumerate(data.cards(9_100_000_000_000 + run * 10_000 + start, count), start=start)
    ]


def trips_of(prefix: str, card_nos: list[str], count: int, month: str, seed: int) -> list[dict]:
    """``count`` trips of ``month`` spread over the cards, each over 3 sections of 3 operators."""
    rng = random.Random(seed)
    year, mon = int(month[:4]), int(month[5:])
    out = []
    for i in range(count):
        route = rng.sample(data.SECTIONS, 3)
        fees = [rng.randrange(100, 9000) for _ in route]
        exit_at = datetime(year, mon, 1 + rng.randrange(25), 6 + rng.randrange(14), rng.randrange(60), tzinfo=SHANGHAI)
        out.append(
            {
                "transit_id": f"{prefix}-{i:08d}",
                "card_no": card_nos[i % len(card_nos)],
                "plate": "豫F00001",
                "plate_color": 1,
                "vehicle_class": "truck",
                "entry_station": "基准入口站",
                "entry_time": (exit_at - timedelta(minutes=70)).isoformat(),
                "exit_station": "基准出口站",
                "exit_time": exit_at.isoformat(),
                "fee": sum(fees),
                "segments": [{"section_code": c, "fee": f} for c, f in zip(route, fees, strict=True)],
            }
        )
    return out


def measure(args) -> dict:
    common.setup_django(ALLOWED_HOSTS="testserver")
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from accounts.models import OutboundSms, Partner, User
    from accounts.services import app_token_issue, sms_deliver
    from cards.models import InvoiceTitle
    from cards.services.bulk_binding import bulk_binding_confirm, bulk_binding_start
    from cards.services.registry import card_registry_upsert
    from invoices import batches, services
    from invoices.documents import services as documents
    from invoices.ingest import transit_upsert_batch
    from invoices.models import Application, Invoice
    from piaogen.demo import demo_uscc

    clearing = Partner.objects.filter(kind=Partner.Kind.CLEARING).order_by("pk").first()
    run = int(time.time()) % 10_000
    months = generate.months_back(timezone.localdate(), 4)
    month, zip_month = months[-2], months[-3]
    sms_file = Path(os.environ["SMS_FILE_PATH"])
    figures: dict = {"run": run, "month": month, "cards": args.cards, "trips": args.trips}

    def account(tag: str, n_cards: int) -> tuple:
        """An enterprise account with ``n_cards`` company cards bound in one bulk binding."""
        code_no = "LSC".index(tag) + 1
        uscc = demo_uscc(f"9141010{run:04d}{code_no}{n_cards:05d}")
        mobile = f"13{5 + code_no}{run:04d}{n_cards:04d}"
        user = User(account_type="enterprise", name=f"{COMPANY}{tag}{run}", tax_id=uscc)
        user.set_mobile(mobile)
        user.set_password("bench-password-1")
        user.save()
        title = InvoiceTitle.objects.create(user=user, kind="enterprise", name=user.name, tax_id=uscc)
        items = fleet_cards(run * 3 + code_no, 0, n_cards, uscc, mobile)
        assert not card_registry_upsert(partner=None, items=items)["rejected"]
        numbers = [c["card_no"] for c in items]
        started = time.perf_counter()
        bulk = bulk_binding_start(user=user, card_nos=numbers)
        start_ms = (time.perf_counter() - started) * 1000
        assert bulk.eligible == len(numbers), bulk.refused[:3]
        # the code's message, delivered here (a worker's task elsewhere) to the file backend
        sms_deliver(sms_id=OutboundSms.objects.order_by("-pk").values_list("pk", flat=True).first())
        code = [json.loads(line) for line in sms_file.read_text().splitlines() if line.strip()][-1]["code"]
        started = time.perf_counter()
        bound = bulk_binding_confirm(user=user, bulk_id=bulk.public_id, code=code)
        confirm_ms = (time.perf_counter() - started) * 1000
        assert len(bound) == len(numbers)
        timing = {"cards": len(numbers), "start_ms": round(start_ms, 1), "confirm_ms": round(confirm_ms, 1)}
        return user, title, numbers, timing

    def push(prefix: str, card_nos: list[str], count: int, in_month: str, seed: int) -> float:
        items = trips_of(prefix, card_nos, count, in_month, seed)
        started = time.perf_counter()
        for at in range(0, len(items), 5000):
            result = transit_upsert_batch(partner=clearing, body={"transits": items[at : at + 5000]})
            assert not result.rejected, result.rejected[:3]
        return time.perf_counter() - started

    analyze = common.analyze  # as autovacuum would, once the rows are in (common.analyze)

    def issue_all(app_ids: list[int]) -> tuple[int, float]:
        invoices, started = 0, time.perf_counter()
        for pk in app_ids:
            app = services.application_issue(application_id=pk)
            assert app is not None and app.status == Application.Status.ISSUED, (pk, app and app.status)
            invoices += app.invoice_count
        return invoices, time.perf_counter() - started

    # --- the large fleet: bind, push, batch per trip, issue; single applications beside it ------
    per_card = max(1, args.trips // args.cards)
    control_cards = max(1, min(20, args.cards // 10))
    large, large_title, large_cards, figures["bulk_binding"] = account("L", args.cards)
    # the single applications of reference: cards of another account, one card-month each
    single_user, single_title, control, _timing = account("C", control_cards)
    seconds = push(f"FL{run}", large_cards, args.trips, month, 1)
    figures["ingest_trips_per_s"] = round(args.trips / seconds)
    push(f"FC{run}", control, per_card * len(control), month, 2)
    analyze()

    statements = [0]

    def count(execute, sql, params, many, context):
        statements[0] += 1
        return execute(sql, params, many, context)

    # The work done once the submit commits (queuing the batch's issuing on the bench's Redis,
    # which nothing consumes here), timed apart from the rest of the submit.
    on_commit_s = [0.0]
    run_hooks = connection.run_and_clear_commit_hooks

    def timed_hooks() -> None:
        started = time.perf_counter()
        run_hooks()
        on_commit_s[0] += time.perf_counter() - started

    connection.run_and_clear_commit_hooks = timed_hooks  # type: ignore[method-assign]
    load = os.getloadavg()[0]
    with connection.execute_wrapper(count):
        started = time.perf_counter()
        plan = batches.batch_preview(user=large, month=month, mode="per_trip", title_id=large_title.pk)
        preview_ms = (time.perf_counter() - started) * 1000
        preview_statements, statements[0] = statements[0], 0
        started = time.perf_counter()
        batch = batches.batch_submit(
            user=large,
            month=month,
            mode="per_trip",
            title_id=large_title.pk,
            card_nos=large_cards,
            plan_digest=plan.digest,
        )
        submit_ms = (time.perf_counter() - started) * 1000
    submit_statements = statements[0]
    connection.run_and_clear_commit_hooks = run_hooks  # type: ignore[method-assign]
    batch_apps = list(Application.objects.filter(batch_id=batch.pk).order_by("pk").values_list("pk", flat=True))
    # a worker's side of the batch's fan-out message, where there is one: an issuing task queued
    # for each application, through one producer
    fan_out_ms = None
    if hasattr(services, "applications_queue"):
        started = time.perf_counter()
        assert services.applications_queue(application_ids=batch_apps) == len(batch_apps)
        fan_out_ms = round((time.perf_counter() - started) * 1000)
    generate._flush_bench_queue()  # the messages queued: nothing consumes them here
    figures["batch"] = {
        "applications": len(batch_apps),
        "invoices_planned": plan.invoice_count,
        "preview_ms": round(preview_ms),
        "submit_ms": round(submit_ms),
        "submit_on_commit_ms": round(on_commit_s[0] * 1000),
        "worker_fan_out_ms": fan_out_ms,
        # through Django's cursor; a COPY goes past it (the submit's items, on PostgreSQL)
        "preview_statements": preview_statements,
        "submit_statements": submit_statements,
        "load_average": [round(load, 2), round(os.getloadavg()[0], 2)],
    }
    if args.batch_only:
        return figures
    singles = [
        services.application_submit_consumption(
            user=single_user, card_no=no, month=month, title_id=single_title.pk, mode="per_trip"
        ).pk
        for no in control
    ]
    # alternate: a share of the batch, then the singles, then the rest, so that the machine's
    # state weighs on both alike
    half = len(batch_apps) // 2
    n1, s1 = issue_all(batch_apps[:half])
    n_single, s_single = issue_all(singles)
    n2, s2 = issue_all(batch_apps[half:])
    batch_rate = (n1 + n2) / (s1 + s2)
    single_rate = n_single / s_single
    figures["batch"] |= {
        "invoices": n1 + n2,
        "issued_invoices_per_s": round(batch_rate),
        "single_applications": len(singles),
        "single_invoices": n_single,
        "single_invoices_per_s": round(single_rate),
        "batch_over_single": round(batch_rate / single_rate, 3),
    }
    generate._flush_bench_queue()  # the documents queued while issuing: not rendered here
    analyze()

    # --- the small fleet, the same way ---------------------------------------------------------
    small, small_title, small_cards, _timing = account("S", 5)
    push(f"FS{run}", small_cards, 5 * per_card, month, 3)
    small_batch = batches.batch_submit(user=small, month=month, mode="per_trip", title_id=small_title.pk)
    issue_all(list(Application.objects.filter(batch_id=small_batch.pk).values_list("pk", flat=True)))
    generate._flush_bench_queue()

    # --- the ZIP of a monthly batch, documents rendered ------------------------------------------
    zip_cards = large_cards[: args.zip_cards]
    push(f"FZ{run}", zip_cards, per_card * len(zip_cards), zip_month, 4)
    analyze()
    zip_batch = batches.batch_submit(
        user=large, month=zip_month, mode="monthly", title_id=large_title.pk, card_nos=zip_cards
    )
    zip_apps = list(Application.objects.filter(batch_id=zip_batch.pk).values_list("pk", flat=True))
    issue_all(zip_apps)
    generate._flush_bench_queue()
    started = time.perf_counter()
    for pk in zip_apps:
        documents.summary_render(application_id=pk)
    for pk in Invoice.objects.filter(application_id__in=zip_apps, month=zip_month).values_list("pk", flat=True):
        documents.invoice_render(invoice_id=pk)
    render_s = time.perf_counter() - started
    web = Client()
    web.force_login(large)
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    response = web.get(f"/batches/{zip_batch.pk}/zip/")
    assert response.status_code == 200 and response.streaming, response.status_code
    size = 0
    for chunk in response.streaming_content:
        size += len(chunk)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    figures["zip"] = {
        "cards": len(zip_cards),
        "applications": len(zip_apps),
        "documents_render_s": round(render_s, 1),
        "zip_mb": round(size / 2**20, 1),
        "peak_traced_mb_while_streaming": round(peak / 2**20, 2),
    }

    # --- pages -----------------------------------------------------------------------------------
    def pages_of(user, cards: list[str], batch_id: int) -> list[tuple[str, Client, str]]:
        web = Client()
        web.force_login(user)
        api = Client(HTTP_AUTHORIZATION=f"Bearer {app_token_issue(user=user)}")
        return [
            ("我的卡", web, "/cards/"),
            ("批量开票 (new)", web, "/batches/new/"),
            ("批量开票 (new, a search)", web, f"/batches/new/?q={cards[0][-8:]}"),
            ("批量开票 (batch page)", web, f"/batches/{batch_id}/"),
            ("批量开票 (status poll)", web, f"/batches/{batch_id}/status.json"),
            ("自动开票", web, "/cards/auto-invoice/"),
            ("通行记录 (a card, the month)", web, f"/trips/?card={cards[0]}&month={month}"),
            ("通行记录 (a search)", web, f"/trips/?q={cards[0][-8:]}&month={month}"),
            ("我要开票 (a card, the month)", web, f"/apply/?card={cards[0]}&month={month}"),
            ("我的发票", web, "/invoices/"),
            ("我的发票 (a card, the month)", web, f"/invoices/?card={cards[0]}&month={month}"),
            ("首页", web, "/"),
            ("App cards", api, "/api/v1/app/cards"),
            ("App invoices", api, "/api/v1/app/invoices"),
            ("App batch", api, f"/api/v1/app/batches/{batch_id}"),
        ]

    def timed(targets) -> list[dict]:
        rows = []
        for name, client, url in targets:
            for _ in range(2):
                r = client.get(url)
                assert r.status_code == 200, (name, url, r.status_code)
            reset_queries()
            with CaptureQueriesContext(connection) as ctx:
                r = client.get(url)
            queries = len(ctx.captured_queries)
            times = []
            for _ in range(args.n):
                started = time.perf_counter()
                client.get(url)
                times.append((time.perf_counter() - started) * 1000)
            rows.append(
                {
                    "page": name,
                    "queries": queries,
                    "p50_ms": round(common.percentile(times, 50), 1),
                    "p95_ms": round(common.percentile(times, 95), 1),
                    "kb": round(len(r.content) / 1024, 1),
                }
            )
        return rows

    load_before = os.getloadavg()
    large_rows = timed(pages_of(large, large_cards, batch.pk))
    small_counts = {r["page"]: r["queries"] for r in timed(pages_of(small, small_cards, small_batch.pk))}
    for row in large_rows:
        row["queries_small_fleet"] = small_counts[row["page"]]
    figures["pages"] = large_rows
    figures["load_average"] = [round(x, 2) for x in load_before + os.getloadavg()]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cards", type=int, default=500)
    parser.add_argument("--trips", type=int, default=30_000)
    parser.add_argument("--zip-cards", type=int, default=100)
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--size", type=int, default=1_000_000, help="trips and invoices of the bench database")
    parser.add_argument("--batch-only", action="store_true", help="stop after the batch's preview and submit")
    parser.add_argument("--only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only:
        print(json.dumps(measure(args), ensure_ascii=False))
        return
    generate.ensure(args.size, args.size, min(5000, max(100, args.size // 200)))
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [common.PY, __file__, "--only", *sys.argv[1:]],
            env=common.bench_env(LOG_LEVEL="WARNING", SMS_FILE_PATH=str(Path(tmp) / "sms.jsonl")),
            capture_output=True,
            text=True,
            cwd=common.ROOT,
        )
    if out.returncode:
        raise SystemExit(f"fleet failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    if args.batch_only:
        common.report("fleet_batch", **figures)
        print(f"batch {figures['batch']}")
        return
    figures["goal_p95_ms"] = 50
    common.report("fleet", **figures)
    print(f"load average before/after {figures['load_average']}")
    print(f"bulk binding {figures['bulk_binding']}, ingest {figures['ingest_trips_per_s']} trips/s")
    print(f"batch {figures['batch']}")
    print(f"zip {figures['zip']}")
    for row in figures["pages"]:
        print(
            f"{row['page']:<28} p50 {row['p50_ms']:>7} p95 {row['p95_ms']:>7} ms  q {row['queries']:>3}"
            f" (small fleet {row['queries_small_fleet']})  {row['kb']} KB"
        )


if __name__ == "__main__":
    main()
