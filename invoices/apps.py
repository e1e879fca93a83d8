from django.apps import AppConfig
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
