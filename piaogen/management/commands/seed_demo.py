"""Loads the demo data of `make run`. Each installed app may contribute a ``seed`` module with
``run(out) -> list[str]`` (the lines that tell how to log in or what was added), run in the
order of INSTALLED_APPS. Running it twice adds nothing."""

import importlib

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction


def seeders() -> list[str]:
    """The ``seed`` modules of the installed apps, in INSTALLED_APPS order (existing or not)."""
    return [f"{config.name}.seed" for config in apps.get_app_configs()]


class Command(BaseCommand):
    help = "Loads demo data (idempotent) and prints how to log in."

    def add_arguments(self, parser):
        parser.add_argument("--if-empty", action="store_true", help="do nothing when the database already has users")

    def handle(self, *args, if_empty=False, **options):
        if if_empty and get_user_model().objects.exists():
            self.stdout.write("数据库已有数据，未载入演示数据（需要时运行 manage.py seed_demo）。")
            return
        notes: list[str] = []
        for name in seeders():
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
