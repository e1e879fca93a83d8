"""What the invoicing pages share: the card and month a page shows (``?card=``, ``?month=``,
``?q=``); their keyset pager (``?after=``, ``?before=``) is ``piaogen.paging.KeysetMixin``."""

from __future__ import annotations

import re

from django.contrib.auth.mixins import LoginRequiredMixin

from cards.picker import pick_card

from .. import selectors

MONTH_RE = r"^\d{4}-(0[1-9]|1[0-2])$"


class CardMonthMixin(LoginRequiredMixin):
    """Resolves ?card= and ?month= against the user's own bound cards; past ``CARDS_PAGE_SIZE``
    cards, ?q= searches them (``cards.picker``)."""

    card_type: str | None = None  # the page takes only cards of this type (充值记录: stored value)

    def card_and_month(self):
        picker = pick_card(self.request.user, self.request.GET, card_type=self.card_type)
        binding = picker.chosen
        months = selectors.recent_months(12)
        month = self.request.GET.get("month") or ""
        if not re.match(MONTH_RE, month):
            # no month asked for: the newest one with something to show, not the (empty) current one
            month = (binding and self.default_month(binding)) or months[0]
        if month not in months:
            months.append(month)
            months.sort(reverse=True)
        # a search keeps the month asked for; else the found card opens on its own default month
        picker.keeping(month=month if self.request.GET.get("month") == month else "")
        return picker, binding, month, months

    def default_month(self, binding) -> str | None:
        """The month a page opens on when none is asked for (None: the current month)."""
        return selectors.newest_trip_month(binding.card_id)
