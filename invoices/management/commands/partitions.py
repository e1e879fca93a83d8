"""``manage.py partitions``: the monthly partitions of trips, segments, invoices and lines (invoices/partitions.py)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from invoices import partitions


class Command(BaseCommand):
    help = (
        "Monthly partitions of trips, segments, invoices and lines on PostgreSQL: status, ensure, move, drop-premove."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("status", help="partitions per table and rows held by the default partitions")
        ensure = sub.add_parser("ensure", help="create partitions around this month and drain the default partitions")
        ensure.add_argument("--month", action="append", default=[], help="also this month (YYYY-MM); repeatable")
        move = sub.add_parser("move", help="partition populated plain tables while the site runs")
        move.add_argument("--batch", type=int, default=50_000, help="ids copied per transaction (default 50,000)")
        move.add_argument(
            "--drop-old", action="store_true", help="drop the plain tables at the swap instead of keeping *_premove"
        )
        sub.add_parser("drop-premove", help="drop the plain tables a move kept")

    def handle(self, *args, action: str, **options):
        if not partitions.enabled():
            raise CommandError("Monthly partitions are a PostgreSQL feature; this database keeps plain tables.")
        if action == "status":
            self._status()
        elif action == "ensure":
            bad = [m for m in options["month"] if not partitions.MONTH.match(m)]
            if bad:
                raise CommandError(f"Not a month (YYYY-MM): {', '.join(bad)}")
            result = partitions.maintain()
            extra = partitions.ensure(options["month"]) if options["month"] else {}
            for table, months in sorted({**result.get("created", {}), **extra}.items()):
                self.stdout.write(f"{table}: created {', '.join(months)}")
            self._status()
            if result.get("default_rows"):
                raise CommandError(f"Rows left in default partitions: {result['default_rows']}")
        elif action == "move":
            try:
                reports = partitions.move(
                    batch=options["batch"], keep_old=not options["drop_old"], progress=self.stdout.write
                )
            except RuntimeError as exc:
                raise CommandError(str(exc)) from exc
            for r in reports:
                self.stdout.write(f"{r.table}: {r.rows_before} rows before, {r.rows_after} after, {r.batches} batches")
        elif action == "drop-premove":
            for name in partitions.drop_premove():
                self.stdout.write(f"dropped {name}")

    def _status(self):
        for st in partitions.status():
            if not st.partitioned:
                self.stdout.write(f"{st.table}: plain table (`manage.py partitions move` partitions it online)")
                continue
            span = f"{st.months[0]} … {st.months[-1]}" if st.months else "none"
            self.stdout.write(
                f"{st.table}: {len(st.months)} monthly partitions ({span}); default partition holds {st.default_rows}"
                + (f" rows of {', '.join(st.default_months)}" if st.default_rows else " rows")
            )
