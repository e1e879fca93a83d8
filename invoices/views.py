import re

from django.contrib.auth.mixins import LoginRequiredMixin
from django.views.generic import TemplateView

from cards.selectors import binding_for, bound_cards

from . import selectors

MONTH_RE = r"^\d{4}-(0[1-9]|1[0-2])$"


class CardMonthMixin(LoginRequiredMixin):
    """Resolves ?card= and ?month= against the user's own bound cards."""

    def card_and_month(self):
        bindings = list(bound_cards(self.request.user))
        card_no = self.request.GET.get("card") or (bindings[0].card.card_no if bindings else "")
        binding = binding_for(self.request.user, card_no) if card_no else None  # 404 if not theirs
        months = selectors.recent_months(12)
        month = self.request.GET.get("month") or months[0]
        if not re.match(MONTH_RE, month):
            month = months[0]
        if month not in months:
            months.append(month)
        return bindings, binding, month, months


class TransitListView(CardMonthMixin, TemplateView):
    template_name = "invoices/transits.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        bindings, binding, month, months = self.card_and_month()
        trips = []
        if binding:
            trips = selectors.trip_views(selectors.transits_for_card(binding.card_id, month))
        ctx.update(
            bindings=bindings, binding=binding, month=month, months=months, trips=trips,
            availability=selectors.transit_availability(),
            total=sum(t.transit.fee for t in trips),
        )
        return ctx


class RechargeListView(CardMonthMixin, TemplateView):
    template_name = "invoices/recharges.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        bindings, binding, month, months = self.card_and_month()
        bindings = [b for b in bindings if b.card.card_type == "stored_value"]
        if binding and binding.card.card_type != "stored_value":
            binding = bindings[0] if bindings else None
        rows = list(selectors.recharges_for_card(binding.card_id, month)) if binding else []
        ctx.update(bindings=bindings, binding=binding, month=month, months=months, recharges=rows)
        return ctx
