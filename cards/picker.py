"""The card picker of the invoicing pages (通行记录, 充值记录, 我要开票, 我的发票): for an account with
at most ``CARDS_PAGE_SIZE`` cards, a ``<select>`` of every card, as always; past that, the chosen
card, a search by plate or card number (``?q=``) and at most a page of the cards it finds, so
that a fleet's 500 cards are never read, nor sent, for one page. A few queries whatever the
number of cards: the first page (which tells a small account from a fleet), and for a fleet
its count, the search and the chosen card."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.conf import settings

from accounts.models import User

from .identity import normalize_card_no
from .models import Binding
from .selectors import binding_for, bound_cards, card_search

MAX_QUERY = 40  # characters of a search, as on 我的ETC卡 (cards.paging)


def search_text(raw: str | None) -> str:
    """What a person typed into a card search, its blanks folded, at most ``MAX_QUERY`` long."""
    return " ".join((raw or "").split())[:MAX_QUERY]


@dataclass
class CardPicker:
    """What a page's card ``<select>`` offers, and the search beside it past one page."""

    chosen: Binding | None
    options: list[Binding]  # the <select>'s cards, the chosen one among them
    total: int  # the account's cards (of the kind the page takes)
    searchable: bool = False  # more than a page: the search box, and the options bounded
    query: str = ""
    found: list[Binding] = field(default_factory=list)  # what the search (or the first page) found
    keep: dict[str, str] = field(default_factory=dict)  # the page's parameters a search keeps

    def keeping(self, **params: str) -> CardPicker:
        """The page's other parameters (its month, its view) that a search keeps."""
        self.keep = {name: value for name, value in params.items() if value}
        return self

    @property
    def clear_url(self) -> str:
        """显示全部: the page again without the search (its other parameters kept)."""
        return "?" + urlencode(self.keep)

    def __bool__(self) -> bool:
        """Whether the account has a card to pick: not whether a search found one."""
        return self.total > 0


def pick_card(user: User, params, *, card_type: str | None = None, default_first: bool = True) -> CardPicker:
    """The picker of ``user``'s bound cards (only those of ``card_type`` when given) for a
    request's GET ``params``: ``card`` (the card asked for: Http404 when it is not the user's),
    ``q`` (the search). With no ``card`` at all, the search's first card is chosen (what a clerk
    who typed a plate wants to see), else the newest bound card, or none when not
    ``default_first`` (我的发票: every card). A card of the user's that is not of ``card_type``
    is not chosen: the page's first card is, as when none is asked for."""
    size = settings.CARDS_PAGE_SIZE
    every = bound_cards(user)
    if card_type is not None:
        every = every.filter(card__card_type=card_type)
    first = list(every[: size + 1])
    wanted = params.get("card")
    if len(first) <= size:  # every card on one page: the <select> of them all, as always
        picker = CardPicker(chosen=None, options=first, total=len(first), found=first)
    else:
        query = search_text(params.get("q"))
        found = list(every.filter(card_search(query))[:size]) if query else first[:size]
        picker = CardPicker(chosen=None, options=found, total=every.count(), searchable=True, query=query, found=found)
    if wanted:
        # a small account's cards are all at hand; a fleet's chosen card is read by itself, where
        # ever it is among the cards (the same queries for the first card as for the 500th)
        number = normalize_card_no(wanted)
        chosen = None if picker.searchable else next((b for b in first if b.card.card_no == number), None)
        if chosen is None:
            chosen = binding_for(user, wanted)  # 404 if not theirs
            if card_type is not None and chosen.card.card_type != card_type:
                chosen = None
        picker.chosen = chosen
    elif wanted is None and picker.query and picker.found:
        picker.chosen = picker.found[0]
    if picker.chosen is None and (default_first or wanted) and first:
        picker.chosen = first[0]
    if picker.chosen is not None and all(b.pk != picker.chosen.pk for b in picker.options):
        picker.options = [picker.chosen, *picker.options]
    return picker
