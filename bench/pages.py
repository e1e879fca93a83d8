"""Pages and endpoints at scale: p50 and p95 server time and the query count of each page the
heavy user (bench/generate.py) opens, on the generated database and on an almost empty one.

    .venv/bin/python bench/pages.py [--n 60] [--trips 1000000] [--invoices 1000000] [--empty-too]

Server time is the time Django takes to answer inside the process (middleware, view, template,
every query), measured with the test client against the bench database, DEBUG off; the query
count is taken on one extra request. ``--empty-too`` runs the same pages on a database holding
only the heavy user with a few trips (``piaogen_bench_empty``) and reports both counts. The
paginated lists are measured on their first page and on the page after it (the URL of the
pager's 下一页 or of the API's ``Link`` header); the load average before and after is recorded,
since the machine is shared.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common, generate  # noqa: E402


def measure(n: int) -> dict:
    common.setup_django(ALLOWED_HOSTS="testserver,127.0.0.1")
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User, mobile_digest
    from accounts.services import app_token_issue
    from invoices.models import Application

    user = User.objects.get(mobile_digest=mobile_digest(generate.HEAVY_MOBILE))
    staff = User.objects.get(mobile_digest=mobile_digest(generate.STAFF_MOBILE))
    card = generate.HEAVY_CARDS[0]
    from django.utils import timezone

    months = generate.months_back(timezone.localdate(), 12)
    open_month, invoiced_month = months[-1], months[-4]
    app = Application.objects.filter(user=user, mode="per_trip", status="issued").order_by("-id").first()
    token = app_token_issue(user=user)
    web = Client()
    web.force_login(user)
    console = Client()
    console.force_login(staff)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")

    def next_page(client, url: str) -> str:
        """The URL of the page after ``url``: the pager's 下一页, or the API's Link header."""
        r = client.get(url)
        link = r.get("Link")
        if link:
            return re.search(r"<https?://[^/]+([^>]+)>", link).group(1)
        found = re.search(r'href="([^"]+)" rel="next"', r.content.decode())
        if not found:
            return url  # a database too small for a second page: the first one again
        return url.split("?")[0] + html.unescape(found.group(1))

    trips = f"/trips/?card={card}&month={open_month}"
    targets = [
        ("通行记录 (open month)", web, trips),
        ("通行记录 (invoiced month)", web, f"/trips/?card={card}&month={invoiced_month}"),
        ("通行记录 (next page)", web, next_page(web, trips)),
        ("我的发票", web, "/invoices/"),
        ("我的发票 (card, month)", web, f"/invoices/?card={card}&month={invoiced_month}"),
        ("我的发票 (next page)", web, next_page(web, "/invoices/")),
        ("application status (poll)", web, f"/applications/{app.pk}/status.json"),
        ("application page", web, f"/applications/{app.pk}/"),
        ("application page (next page)", web, next_page(web, f"/applications/{app.pk}/")),
        ("App transits", api, f"/api/v1/app/transits?card_no={card}&month={open_month}"),
        ("App invoices", api, "/api/v1/app/invoices"),
        ("App invoices (next page)", api, next_page(api, "/api/v1/app/invoices")),
        ("App invoices (limit=500)", api, "/api/v1/app/invoices?limit=500"),
        ("App applications", api, "/api/v1/app/applications"),
        ("App application", api, f"/api/v1/app/applications/{app.pk}"),
        ("console customer view", console, f"/admin/support/customer/{user.pk}/"),
    ]
    rows = []
    load_before = os.getloadavg()
    for name, client, url in targets:
        for _ in range(3):
            r = client.get(url)
            assert r.status_code == 200, (name, url, r.status_code)
        reset_queries()  # request_started empties the log: start the capture from zero
        with CaptureQueriesContext(connection) as ctx:
            r = client.get(url)
        queries = len(ctx.captured_queries)  # now: the next request empties the log
        times = []
        for _ in range(n):
            started = time.perf_counter()
            r = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
        rows.append(
            {
                "page": name,
                "url": url,
                "queries": queries,
                "p50_ms": round(common.percentile(times, 50), 1),
                "p95_ms": round(common.percentile(times, 95), 1),
                "kb": round(len(r.content) / 1024, 1),
            }
        )
    load = [round(x, 2) for x in load_before + os.getloadavg()]
    return {"pages": rows, "load_average": {"before_1_5_15": load[:3], "after_1_5_15": load[3:]}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=60)
    parser.add_argument("--trips", type=int, default=1_000_000)
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--user-trips", type=int, default=5000)
    parser.add_argument("--empty-too", action="store_true")
    parser.add_argument("--only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only:
        print(json.dumps(measure(args.n), ensure_ascii=False))
        return

    def run(url: str, trips: int, invoices: int, user_trips: int) -> dict:
        env = {"BENCH_DATABASE_URL": url}
        os.environ.update(env)
        info = generate.ensure(trips, invoices, user_trips)
        out = subprocess.run(
            [common.PY, __file__, "--only", "--n", str(args.n)],
            env=common.bench_env(LOG_LEVEL="WARNING", STAFF_2FA_REQUIRED="0"),
            capture_output=True,
            text=True,
            cwd=common.ROOT,
        )
        if out.returncode:
            raise RuntimeError(out.stderr[-3000:])
        return {**json.loads(out.stdout.strip().splitlines()[-1]), "data": info["meta"]}

    main_url = common.database_url()
    at_scale = run(main_url, args.trips, args.invoices, args.user_trips)
    figures = {"at_scale": at_scale}
    if args.empty_too:
        empty_url = main_url.rsplit("/", 1)[0] + "/piaogen_bench_empty"
        empty = run(empty_url, 0, 0, 40)
        os.environ["BENCH_DATABASE_URL"] = main_url
        counts = {r["page"]: r["queries"] for r in empty["pages"]}
        for row in at_scale["pages"]:
            row["queries_empty_db"] = counts.get(row["page"])
        figures["empty"] = empty
    figures["goal_p95_ms"] = 50
    common.report("pages", **figures)
    print(
        f"load average (1, 5, 15 min) before {at_scale['load_average']['before_1_5_15']}, "
        f"after {at_scale['load_average']['after_1_5_15']}"
    )
    for row in at_scale["pages"]:
        print(
            f"{row['page']:<28} p50 {row['p50_ms']:>7} p95 {row['p95_ms']:>7} ms  q {row['queries']:>3}"
            f" (empty {row.get('queries_empty_db')})  {row['kb']} KB"
        )


if __name__ == "__main__":
    main()
