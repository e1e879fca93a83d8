from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SupportConfig(AppConfig):
    name = "support"
    verbose_name = _("客服")

    def ready(self) -> None:
        from django.contrib import admin

        from cards.services.cap_lift import CAP_LIFTED_HOOKS
        from cards.services.unbinding import BINDING_ENDED_HOOKS, BINDING_NOTICE_SOURCES
        from invoices import autoinvoice
        from invoices import services as invoice_services

        from . import notifications

        # The message centre hears of unbindings (and is where the cards answer of the App takes their
        # one-time notices) and of lifted binding caps (in their transactions), of issued applications
        # (in the issuing transaction) and of failed ones (once the failure commits).
        if notifications.on_bindings_ended not in BINDING_ENDED_HOOKS:
            BINDING_ENDED_HOOKS.append(notifications.on_bindings_ended)
        if notifications.binding_notices_take not in BINDING_NOTICE_SOURCES:
            BINDING_NOTICE_SOURCES.append(notifications.binding_notices_take)
        if notifications.on_cap_lifted not in CAP_LIFTED_HOOKS:
            CAP_LIFTED_HOOKS.append(notifications.on_cap_lifted)
        if notifications.on_issued not in invoice_services.ISSUED_HOOKS:
            invoice_services.ISSUED_HOOKS.append(notifications.on_issued)
        if notifications.on_application_failed not in invoice_services.AFTER_FAIL_HOOKS:
            invoice_services.AFTER_FAIL_HOOKS.append(notifications.on_application_failed)
        if notifications.on_auto_invoice_refused not in autoinvoice.REFUSED_HOOKS:
            autoinvoice.REFUSED_HOOKS.append(notifications.on_auto_invoice_refused)

        # Staff open the console on their workspace: the customer search and their queue.
        admin.site.index_template = "admin/support/workspace.html"
