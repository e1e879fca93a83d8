"""A fleet's cards a page at a time: what 我的ETC卡 and 自动开票 share (the page, the count, the
search by plate or card number, the pager's links)."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings

from piaogen.paging import KeysetMixin, keyset_page

from . import selectors


class CardPageMixin(KeysetMixin):
    """``CARDS_PAGE_SIZE`` of the user's bound cards, newest bound first; ``?q=`` searches them."""

    cursor_kinds = (datetime, int)

    def card_page(self, user) -> tuple[list, dict]:
        """This request's page of bindings, and the context its template's search and pager
        read (``cards/_card_search.html``, ``invoices/_pager.html``)."""
        query = " ".join((self.request.GET.get("q") or "").split())[:40]  # type: ignore[attr-defined]
        every = selectors.bound_cards(user)
        found = every.filter(selectors.card_search(query)) if query else every
        size = settings.CARDS_PAGE_SIZE
        page = keyset_page(found, ("bound_at", "id"), descending=True, size=size, **self.cursors())
        # one page holding every card: its length is the count (no query for most accounts)
        total = every.count() if query or page.next or page.prev else len(page.rows)
        return page.rows, {
            "total": total,
            "query": query,
            "searchable": total > size or bool(query),
            "links": self.page_links(page),
        }
