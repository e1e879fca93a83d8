"""Pages of 自动开票: the account's setting (every card) and one card's own, each with the next
run and the history of what the job did. They call the services the App API calls."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.generic import TemplateView

from invoices.regimes import regime_on
from piaogen.errors import ServiceError

from . import autoinvoice, selectors
from .models import AutoInvoiceMode, AutoInvoiceRun
from .paging import CardPageMixin


def state_label(state: str) -> str:
    return {"on": _("已开启"), "paused": _("已暂停"), "off": _("未开启")}[state]


def run_rows(runs: list[AutoInvoiceRun]) -> list[dict]:
    """What each run shows: its outcome in words and, when it applied, the application."""
    rows = []
    for run in runs:
        app = run.application
        if run.status == AutoInvoiceRun.Status.APPLIED and app is not None:
            outcome = app.get_status_display()
        elif run.status == AutoInvoiceRun.Status.SKIPPED:
            outcome = _("无需开票")
        else:
            outcome = _("未能申请")
        rows.append({"run": run, "outcome": outcome, "application": app, "failed": run.status == "refused"})
    return rows


def _posted(request) -> dict:
    """The form's fields as the services take them."""
    values: dict = {}
    choice = request.POST.get("choice", "")
    if choice in ("on", "off"):
        values["enabled"] = choice == "on"
    mode = request.POST.get("mode")
    if mode is not None:
        values["mode"] = mode
    if "email" in request.POST:
        values["email"] = request.POST.get("email", "")[:300]
    return values


class _Base(LoginRequiredMixin, TemplateView):
    def context(self, **kwargs):
        return {
            "modes": AutoInvoiceMode.choices,
            "days": regime_on(timezone.localdate()).available_after_days,
            **kwargs,
        }


class AccountAutoInvoiceView(CardPageMixin, _Base):
    """自动开票 for every card of the account, and each card's state: ``CARDS_PAGE_SIZE`` cards a
    page, newest bound first, with a search by plate or card number past one page (as 我的ETC卡)."""

    template_name = "cards/auto_invoice.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        account, per_card = autoinvoice.settings_of(user)
        runs = autoinvoice.runs_of(user)
        bindings, paging = self.card_page(user)
        # The months already applied for (or with nothing to apply for) of this page's cards: from
        # their own runs, not the account's latest, which a fleet's other cards fill.
        settled: dict[int, set[str]] = {}
        for card_id, month in (
            AutoInvoiceRun.objects.filter(user=user, card_id__in=[b.card_id for b in bindings])
            .exclude(status=AutoInvoiceRun.Status.REFUSED)
            .values_list("card_id", "month")
        ):
            settled.setdefault(card_id, set()).add(month)
        cards = []
        for b in bindings:
            eff = autoinvoice.effective(b.pk, account, per_card)
            cards.append(
                {
                    "binding": b,
                    "eff": eff,
                    "state": state_label(eff.state),
                    "next": autoinvoice.next_run(eff, settled.get(b.card_id, set())),
                }
            )
        return super().get_context_data(
            **self.context(
                setting=account,
                state=state_label(autoinvoice.Effective(account, "account").state),
                next=autoinvoice.account_next_run(account),
                cards=cards,
                **paging,
                runs=run_rows(runs),
                **kwargs,
            )
        )

    def post(self, request):
        action = request.POST.get("action", "save")
        try:
            if action == "pause":
                autoinvoice.auto_invoice_set(user=request.user, paused=True)
                messages.success(request, _("已暂停全部ETC卡的自动开票。恢复后，会补开最近一个已可开票的月份。"))
            elif action == "resume":
                autoinvoice.auto_invoice_set(user=request.user, paused=False)
                messages.success(request, _("已恢复自动开票。"))
            else:
                values = _posted(request)
                setting = autoinvoice.auto_invoice_set(user=request.user, **values)
                if setting.enabled:
                    messages.success(request, _("已为全部ETC卡开启自动开票。"))
                else:
                    messages.success(request, _("已关闭全部ETC卡的自动开票（单独设置过的卡除外）。"))
        except ServiceError as exc:
            return self.render_to_response(self.get_context_data(error=exc.message, errors=exc.errors))
        return redirect("cards:auto_invoice")


class CardAutoInvoiceView(_Base):
    """自动开票 of one card: follow the account, or its own choice; its next run and history."""

    template_name = "cards/card_auto_invoice.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        binding = selectors.binding_for(user, self.kwargs["card_no"])
        account, per_card = autoinvoice.settings_of(user)
        eff = autoinvoice.effective(binding.pk, account, per_card)
        runs = autoinvoice.runs_of(user, card_id=binding.card_id)
        title = binding.default_title if binding.default_title and not binding.default_title.deleted_at else None
        return super().get_context_data(
            **self.context(
                binding=binding,
                card=binding.card,
                title=title,
                eff=eff,
                account=account,
                account_state=state_label(autoinvoice.Effective(account, "account").state),
                state=state_label(eff.state),
                next=autoinvoice.next_run(eff, autoinvoice.settled_months(runs)),
                runs=run_rows(runs),
                **kwargs,
            )
        )

    def post(self, request, card_no):
        action = request.POST.get("action", "save")
        binding = selectors.binding_for(request.user, card_no)
        plate = binding.card.plate
        try:
            if action == "pause":
                autoinvoice.auto_invoice_set(user=request.user, card_no=card_no, paused=True)
                messages.success(request, _("已暂停 %(plate)s 的自动开票。") % {"plate": plate})
            elif action == "resume":
                autoinvoice.auto_invoice_set(user=request.user, card_no=card_no, paused=False)
                messages.success(request, _("已恢复 %(plate)s 的自动开票。") % {"plate": plate})
            elif request.POST.get("choice") == "follow":
                autoinvoice.auto_invoice_follow_account(user=request.user, card_no=card_no)
                messages.success(request, _("%(plate)s 的自动开票改为跟随账户设置。") % {"plate": plate})
            else:
                setting = autoinvoice.auto_invoice_set(user=request.user, card_no=card_no, **_posted(request))
                if setting.enabled:
                    messages.success(request, _("已为 %(plate)s 开启自动开票。") % {"plate": plate})
                else:
                    messages.success(request, _("%(plate)s 不再自动开票。") % {"plate": plate})
        except ServiceError as exc:
            return self.render_to_response(self.get_context_data(error=exc.message, errors=exc.errors))
        return redirect("cards:card_auto_invoice", card_no=binding.card.card_no)
