"""Keyset pagination, for every list that grows with a user's history: the pages (通行记录,
我的发票, an application's invoices, a batch's cards, 我的ETC卡), and the App's lists.

Such a list is read a bounded page at a time, keyset-paginated on a unique order such as (exit_time, id): a page costs the same on the first screen as on the
hundredth, and rows arriving meanwhile never shift a page. A cursor names the last row of a
page (for the next one) or its first (for the previous one), in the one format of
``piaogen.cursors``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet

from .cursors import decode_cursor, encode_cursor

PAGE_SIZE = 50


@dataclass
class Page:
    rows: list
    next: str | None = None  # the cursor of the following page (?after=), None on the last
    prev: str | None = None  # the cursor of the preceding page (?before=), None on the first

    @property
    def paginated(self) -> bool:
        return bool(self.next or self.prev)


def _beyond(order: tuple[str, ...], values: tuple, *, greater: bool) -> Q:
    """Rows strictly after (``greater``) or before ``values`` in the order of ``order``."""
    op = "gt" if greater else "lt"
    if len(order) == 1:
        return Q(**{f"{order[0]}__{op}": values[0]})
    (first, second), (v1, v2) = order, values
    # the redundant bound on the first column lets the index range scan start at the cursor
    return Q(**{f"{first}__{op}e": v1}) & (Q(**{f"{first}__{op}": v1}) | Q(**{first: v1, f"{second}__{op}": v2}))


def _key(row, order: tuple[str, ...]) -> tuple:
    return tuple(row[f] for f in order) if isinstance(row, dict) else tuple(getattr(row, f) for f in order)


def trim_page(page: Page, weights: list[int], budget: int, order: tuple[str, ...], *, backward: bool) -> Page:
    """``page`` cut to the rows whose ``weights`` (one per row, in order) fit in ``budget`` — at
    least one row — for a page whose rows are of very unequal size (an invoice of one line, or
    of 150). A page read forwards keeps its first rows and its next cursor moves to the last
    kept; a page read backwards (``?before=``) keeps its last rows, nearest its cursor, and its
    previous cursor moves to the first kept. Nothing is skipped: the rows cut are the next
    page's (or the previous one's)."""
    total, kept = 0, 0
    indexes = range(len(page.rows) - 1, -1, -1) if backward else range(len(page.rows))
    for i in indexes:
        if kept and total + weights[i] > budget:
            break
        total += weights[i]
        kept += 1
    if kept == len(page.rows):
        return page
    if backward:
        rows = page.rows[len(page.rows) - kept :]
        return Page(rows, next=page.next, prev=encode_cursor(_key(rows[0], order)))
    rows = page.rows[:kept]
    return Page(rows, next=encode_cursor(_key(rows[-1], order)), prev=page.prev)


def keyset_page(
    qs: QuerySet,
    order: tuple[str, ...],
    *,
    descending: bool = False,
    after=None,
    before=None,
    size: int = PAGE_SIZE,
    restart: bool = True,
) -> Page:
    """One page of ``qs`` ordered by ``order`` (unique: it ends with ``id``): the first page, the
    one after the row ``after`` or the one before the row ``before`` (decoded cursors). One query;
    with ``restart``, a second when a cursor points past the end, which shows the first page."""
    backward = before is not None and after is None
    cursor = before if backward else after
    ascending = descending == backward  # the direction the rows are read in
    query = qs.filter(_beyond(order, cursor, greater=ascending)) if cursor is not None else qs
    rows = list(query.order_by(*(f if ascending else f"-{f}" for f in order))[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if not rows and cursor is not None and restart:
        return keyset_page(qs, order, descending=descending, size=size)
    if backward:
        rows.reverse()
    has_next = True if backward else more
    has_prev = more if backward else cursor is not None
    return Page(
        rows,
        next=encode_cursor(_key(rows[-1], order)) if rows and has_next else None,
        prev=encode_cursor(_key(rows[0], order)) if rows and has_prev else None,
    )


class KeysetMixin:
    """?after= and ?before= of a keyset-paginated page (``keyset_page``); a cursor that
    is not well formed is ignored and the first page shown."""

    cursor_kinds: tuple[type, ...] = (datetime, int)  # a time and an id, the usual order

    def cursors(self) -> dict:
        out = {}
        for name in ("after", "before"):
            value = self.request.GET.get(name)
            if value:
                try:
                    out[name] = decode_cursor(value, self.cursor_kinds)
                except ValueError:
                    return {}
        return out if len(out) == 1 else {}

    def page_links(self, page: Page, **filters: str) -> dict:
        """The URLs of the previous and next pages: this page's query (its filters, and
        ``filters`` as resolved) with its cursor replaced."""
        links = {}
        for rel, name, cursor in (("prev", "before", page.prev), ("next", "after", page.next)):
            if cursor:
                query = self.request.GET.copy()
                query.pop("after", None)
                query.pop("before", None)
                for key, value in filters.items():
                    query[key] = value
                query[name] = cursor
                links[rel] = f"?{query.urlencode()}"
        return links
