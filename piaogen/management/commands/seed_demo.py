"""Loads the demo data of `make run`. Each app contributes a ``seed`` module with
``run(out) -> list[str]`` (the lines that tell how to log in or what was added). Running it
twice adds nothing."""

import importlib

from django.core.management.base import BaseCommand
from django.db import transaction

SEEDERS = ("accounts.seed", "cards.seed", "invoices.seed", "support.seed")


class Command(BaseCommand):
    help = "Loads demo data (idempotent) and prints how to log in."

    def add_arguments(self, parser):
        parser.add_argument("--if-empty", action="store_true", help="do nothing when the database already has users")

    def handle(self, *args, if_empty=False, **options):
        from accounts.models import User

        if if_empty and User.objects.exists():
            self.stdout.write("数据库已有数据，未载入演示数据（需要时运行 manage.py seed_demo）。")
            return
        notes: list[str] = []
        for name in SEEDERS:
            try:
                module = importlib.import_module(name)
            except ModuleNotFoundError as exc:
                if exc.name == name:
                    continue
                raise
            with transaction.atomic():
                notes.extend(module.run(self.stdout))
        self.stdout.write("演示数据已就绪（所有号码、税号与热线均为演示数据）。Demo data ready:")
        for line in notes:
            self.stdout.write(f"  {line}")
