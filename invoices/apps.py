from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class InvoicesConfig(AppConfig):
    name = "invoices"
    verbose_name = _("通行与发票")

    def ready(self) -> None:
        from . import regimes, services  # noqa: F401  (regimes registers the regime-date check)

        # An automatic application that fails is told by SMS too (invoices/autoinvoice.py).
        from .autoinvoice import on_application_failed
        from .documents import checks  # noqa: F401  (registers the rendering system check)

        if on_application_failed not in services.AFTER_FAIL_HOOKS:
            services.AFTER_FAIL_HOOKS.append(on_application_failed)
        # A check's two reads as one function of the database, written for this code's
        # statements after every migrate (invoices.verification.install_read_function).
        post_migrate.connect(_install_read_function, sender=self, dispatch_uid="invoices.verify_read_function")


def _install_read_function(using, plan=None, **kwargs) -> None:
    from .verification import install_read_function

    if settings.DATABASES[using].get("TEST", {}).get("MIRROR"):
        return  # a mirror of another alias (the replica in tests): the same database
    install_read_function(using)
