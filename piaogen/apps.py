from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class PiaogenConfig(AppConfig):
    name = "piaogen"
    verbose_name = _("票根")

    def ready(self) -> None:
        from . import celery as celery_module
        from . import replica  # noqa: F401  (its system check)

        celery_module.ensure_broker_dirs()


class ConsoleAdminConfig(admin_apps.AdminConfig):
    """The admin as the staff console: its login asks for a second factor (accounts/console.py).
    Named in INSTALLED_APPS in place of ``django.contrib.admin``."""

    default = False  # not this module's default: that is PiaogenConfig
    default_site = "accounts.console.ConsoleAdminSite"
