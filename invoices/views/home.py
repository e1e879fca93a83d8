"""首页: the introduction for a visitor; for a signed-in user, what they came for — their cards,
their open applications and their newest invoices, in a handful of queries whatever the
account holds. It lives here, not in the kernel, because it reads cards and invoices."""

from __future__ import annotations

from django.utils import timezone

from cards.selectors import bound_cards
from piaogen.views import HomeView as IntroductionView

from .. import selectors
from ..regimes import regime_on

HOME_CARDS = 5


class HomeView(IntroductionView):
    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        # From which natural day after travel trips appear: the regime in force today.
        ctx["transit_days"] = regime_on(timezone.localdate()).available_after_days
        user = self.request.user
        if user.is_authenticated:
            cards = list(bound_cards(user)[: HOME_CARDS + 1])
            ctx.update(
                dashboard=True,
                bindings=cards[:HOME_CARDS],
                more_cards=len(cards) > HOME_CARDS,
                open_apps=selectors.open_applications(user),
                newest=selectors.newest_invoices(user),
            )
        return ctx
