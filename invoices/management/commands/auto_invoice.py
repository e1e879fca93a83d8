"""Runs 自动开票 now, as its hourly beat task does, in this process: every card whose latest
available month is due is applied for (once; a second run does nothing)."""

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from invoices import autoinvoice


class Command(BaseCommand):
    help = "自动开票：为到期的卡-月申请开票（与每小时的定时任务相同，可重复运行）。"

    def add_arguments(self, parser):
        parser.add_argument("--date", help="把这一天当作今天（YYYY-MM-DD），默认今天")

    def handle(self, *args, **options):
        today = None
        if options.get("date"):
            try:
                today = date.fromisoformat(options["date"])
            except ValueError as exc:
                raise CommandError(f"--date: {exc}") from None
        done = autoinvoice.auto_invoice_sweep(today=today, inline=True)
        self.stdout.write(f"auto-invoice: {done} card(s) due")
