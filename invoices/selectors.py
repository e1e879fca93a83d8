"""Reads of trips and recharges, scoped to a user's bound card, with their joins baked in."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, cast

from django.db.models import Count, Max, Min, Prefetch, Q, QuerySet, Sum
from django.http import Http404
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy

from piaogen.paging import PAGE_SIZE, Page, keyset_page

from .models import (
    Application,
    BuyerMonth,
    Invoice,
    InvoiceKey,
    InvoiceLine,
    InvoiceMonth,
    InvoiceState,
    MailResend,
    Recharge,
    RedLetterConfirmation,
    Transit,
    TransitKey,
    TransitSegment,
)
from .regimes import DocumentKind, document_kind, regime_on
from .tax import rate_for_section, rate_percent


@dataclass
class SegmentView:
    section_code: str
    section_name: str
    operator_id: int
    operator_name: str
    fee: int
    rate: int | None  # percent, None = 不征税


@dataclass
class TripView:
    transit: Transit
    segments: list[SegmentView]
    # (operator name, rate) of each invoice this trip yields: one per seller and tax kind
    invoices: list[tuple[str, int | None]] = field(default_factory=list)
    # of an open trip, the invoices that still stand (one of its invoices was reversed)
    invoiced: list[tuple[str, int | None]] = field(default_factory=list)
    # what is still to be invoiced: the fee, less the shares of the invoices that stand
    fee_to_invoice: int = 0

    @property
    def invoice_count(self) -> int:
        return len(self.invoices)


def future_invoices(trip_id: int, segments: list[SegmentView], covered: set) -> tuple[list, list]:
    """(the invoices a trip yields, the ones that still stand) as (operator name, rate): one per
    seller and tax kind, as the planner counts them (a share that comes to nothing yields no
    invoice); an invoice stands when a live invoice covers all of its shares."""
    todo: dict[tuple[int, bool], tuple[str, int | None]] = {}
    fees: dict[tuple[int, bool], int] = {}
    done: dict[tuple[int, bool], tuple[str, int | None]] = {}
    for s in segments:
        key = (s.operator_id, s.rate is None)
        if (trip_id, s.operator_id, s.rate) in covered:
            done.setdefault(key, (s.operator_name, s.rate))
        else:
            todo.setdefault(key, (s.operator_name, s.rate))
            fees[key] = fees.get(key, 0) + s.fee
    todo = {k: v for k, v in todo.items() if fees[k]}
    return list(todo.values()), [v for k, v in done.items() if k not in todo]


def _open_covered(trips) -> set:
    """The covered shares of the open trips among ``trips``: one query, none when none is open."""
    open_trips = [t for t in trips if t.state == InvoiceState.OPEN]
    if not open_trips:
        return set()
    # A trip's invoices and lines bill its own month (the exit's local month, as its travel date).
    months = {getattr(t, "month", None) or t.travel_date.strftime("%Y-%m") for t in open_trips}
    return covered_shares([t.id for t in open_trips], months)


def by_transit_ids(transit_ids) -> Q:
    """Trips by their national ids, found through ``TransitKey`` and each read in its month's
    partition: the trips table has no index of its own on the national id (docs/scaling.md)."""
    wanted = [str(t)[:64] for t in transit_ids if t]
    found = Q(pk__in=[])
    for pk, month in TransitKey.objects.filter(transit_id__in=wanted).values_list("trip_id", "month"):
        found |= Q(pk=pk, month=month)
    return found


def transits_for_card(card_id: int, month: str) -> QuerySet[Transit]:
    segments = TransitSegment.objects.filter(month=month).select_related("section", "operator").order_by("seq")
    return (
        Transit.objects.filter(card_id=card_id, month=month)
        .order_by("exit_time", "id")
        .prefetch_related(Prefetch("segments", queryset=segments))
    )


def trip_views(transits) -> list[TripView]:
    """Each trip with its segments' rates and the invoices it will produce (two queries in all)."""
    trips = []
    transits = list(transits)
    covered = _open_covered(transits)
    for t in transits:
        segments = [
            SegmentView(
                section_code=s.section.code,
                section_name=s.section.name,
                operator_id=s.operator_id,
                operator_name=s.operator.name,
                fee=s.fee,
                rate=rate_for_section(s.section, t.travel_date),
            )
            for s in t.segments.all()
        ]
        invoices, invoiced = future_invoices(t.pk, segments, covered)
        due = sum(s.fee for s in segments if (t.pk, s.operator_id, s.rate) not in covered)
        trips.append(TripView(transit=t, segments=segments, invoices=invoices, invoiced=invoiced, fee_to_invoice=due))
    return trips


# --- shares: what of a trip a live invoice covers ----------------------------------------------
#
# A trip is invoiced share by share: one share per seller (operator) and rate, the unit of an
# invoice line. Reversing one invoice uncovers its shares alone; the trip is open again for
# exactly those, and applying again issues them and never a share a live invoice still covers.


def covered_shares(transits, months=None) -> set[tuple[int, int | None, int | None]]:
    """(trip id, seller operator id, rate in percent or None for 不征税) of every trip share a
    live (normal, not red-letter) invoice covers. ``transits``: trip ids, or a query of them;
    ``months``: their months, when known (a trip's invoices and lines bill its own month, so
    only those months' partitions are read). One query, on the invoice lines' trip index."""
    lines = InvoiceLine.objects.filter(
        transit_id__in=transits, invoice__red=False, invoice__status=Invoice.Status.NORMAL
    )
    if months:
        months = sorted(set(months))
        lines = lines.filter(month__in=months, invoice__month__in=months)
    return set(lines.values_list("transit_id", "invoice__operator_id", "rate"))


# --- trips as plain rows: the pages and the App list ---------------------------------------------

TRIP_ORDER = ("exit_time", "id")
TRIP_CURSOR = (datetime, int)
_TRIP_FIELDS = (
    "id",
    "transit_id",
    "plate",
    "entry_station",
    "entry_time",
    "exit_station",
    "exit_time",
    "fee",
    "state",
    "travel_date",
)


@dataclass
class TripRow:
    """A trip with its split, built from plain rows in two queries (no model instances)."""

    id: int
    transit_id: str
    plate: str
    entry_station: str
    entry_time: datetime
    exit_station: str
    exit_time: datetime
    fee: int
    state: str
    travel_date: date
    segments: list[SegmentView] = field(default_factory=list)
    # (operator name, rate) of each invoice this trip yields: one per seller and tax kind
    invoices: list[tuple[str, int | None]] = field(default_factory=list)
    # of an open trip, the invoices that still stand (one of its invoices was reversed)
    invoiced: list[tuple[str, int | None]] = field(default_factory=list)
    # what is still to be invoiced: the fee, less the shares of the invoices that stand
    fee_to_invoice: int = 0
    # (operator name, rate, kind of document) of each document this trip yields: the kind the
    # regime in force on its travel date gives the share (what issuing gives it)
    documents: list[tuple[str, int | None, str]] = field(default_factory=list)

    @property
    def invoice_count(self) -> int:
        return len(self.invoices)

    @property
    def document_kinds(self) -> list[str]:
        """The kinds of document among ``documents``, in the table's order."""
        kinds = {kind for _name, _rate, kind in self.documents}
        return [k for k in DocumentKind.values if k in kinds]

    @property
    def partly_invoiced(self) -> bool:
        return bool(self.invoiced)

    @property
    def state_label(self) -> str | Promise:
        return InvoiceState(self.state).label


def card_month_trips(card_id: int, month: str, *, open_only: bool = False) -> QuerySet:
    """The trips of one card and month as dicts (``trip_rows`` adds their split); with
    ``open_only``, those not yet applied for."""
    qs = Transit.objects.filter(card_id=card_id, month=month)
    if open_only:
        qs = qs.filter(state=InvoiceState.OPEN)
    return qs.values(*_TRIP_FIELDS)


def card_month_totals(card_id: int, month: str, *, open_only: bool = False) -> tuple[int, int]:
    """(number of trips, sum of their fees) of one card and month, in one aggregate query."""
    qs = Transit.objects.filter(card_id=card_id, month=month)
    if open_only:
        qs = qs.filter(state=InvoiceState.OPEN)
    agg = qs.aggregate(n=Count("id"), fee=Sum("fee"))
    return agg["n"], agg["fee"] or 0


def month_bands(today: date | None = None) -> list[Q]:
    """The months, newest first, in three bands: the last three (and any later), the nine
    before them, and everything older. A read of "the newest" trips walks the bands and stops
    at the first that answers it: each band is a condition on the month PostgreSQL prunes
    partitions by when it plans, so an active card's newest trips are read in the last three
    months' partitions alone instead of one index descent in every month's."""
    recent = recent_months(12, today)
    return [Q(month__gte=recent[2]), Q(month__lt=recent[2], month__gte=recent[11]), Q(month__lt=recent[11])]


def newest_trips(qs: QuerySet, limit: int, today: date | None = None) -> list:
    """The ``limit`` newest trips of ``qs`` (newest exit first), read band by band
    (``month_bands``): a trip's month is the month of its exit, so every trip of a band left
    newer than every trip of a band after it."""
    rows: list = []
    for band in month_bands(today):
        rows += list(qs.filter(band).order_by("-exit_time", "-pk")[: limit - len(rows)])
        if len(rows) >= limit:
            break
    return rows


def newest_trip_month(card_id: int, *, open_only: bool = False) -> str | None:
    """The newest month in which the card has trips (not yet applied for, with ``open_only``):
    where the trip and apply pages open. One index scan (transit_card_month) in the months of
    the newest band that has one (``month_bands``)."""
    qs = Transit.objects.filter(card_id=card_id)
    if open_only:
        qs = qs.filter(state=InvoiceState.OPEN)
    for band in month_bands():
        month = qs.filter(band).order_by("-month").values_list("month", flat=True).first()
        if month is not None:
            return month
    return None


def newest_recharge_month(card_id: int, *, open_only: bool = False) -> str | None:
    qs = Recharge.objects.filter(card_id=card_id)
    if open_only:
        qs = qs.filter(state=InvoiceState.OPEN)
    return qs.order_by("-recharged_at").values_list("month", flat=True).first()


def trip_rows(rows) -> list[TripRow]:
    """Trips (dicts of ``card_month_trips``) with their segments, rates and future invoices: one
    query for the segments of them all, sections and operators joined in."""
    trips = [TripRow(**row) for row in rows]
    if not trips:
        return trips
    by_id = {t.id: t for t in trips}
    # A segment carries its trip's month (the exit's local month, as is its travel date).
    months = {t.travel_date.strftime("%Y-%m") for t in trips}
    segments = (
        TransitSegment.objects.filter(transit_id__in=list(by_id), month__in=months)
        .order_by("transit_id", "seq")
        .values_list(
            "transit_id",
            "fee",
            "operator_id",
            "operator__name",
            "section__code",
            "section__name",
            "section__grade",
            "section__property",
            "section__construction_start",
            "section__simplified_method",
        )
    )
    for transit_id, fee, operator_id, operator_name, code, name, grade, prop, start, simplified in segments:
        trip = by_id[transit_id]
        rate = rate_percent(
            grade=grade,
            property=prop,
            construction_start=start,
            simplified_method=simplified,
            travel_date=trip.travel_date,
        )
        trip.segments.append(SegmentView(code, name, operator_id, operator_name, fee, rate))
    covered = _open_covered(trips)
    for trip in trips:
        trip.invoices, trip.invoiced = future_invoices(trip.id, trip.segments, covered)
        trip.documents = trip_documents(trip.travel_date, trip.invoices)
        trip.fee_to_invoice = sum(
            seg.fee for seg in trip.segments if (trip.id, seg.operator_id, seg.rate) not in covered
        )
    return trips


def trip_documents(travel_date: date, invoices: list[tuple[str, int | None]]) -> list[tuple[str, int | None, str]]:
    """(operator name, rate, kind of document) of a trip's future documents: the kind follows
    the regime in force on the travel date, by the rule issuing follows
    (``regimes.document_kind``: 不征税 share or taxable share). No query."""
    return [(name, rate, document_kind(day=travel_date, taxable=rate is not None)) for name, rate in invoices]


# --- how a kind of document is named on the pages ------------------------------------------------

# The short names people know the kinds by (the full titles are DocumentKind's labels).
DOCUMENT_KIND_SHORT: dict[str, str | Promise] = {
    DocumentKind.VAT_E_INVOICE: gettext_lazy("增值税电子普通发票"),
    DocumentKind.FISCAL_E_BILL: gettext_lazy("通行费财政电子票据"),
    DocumentKind.DIGITAL_E_INVOICE: gettext_lazy("数电发票"),
}


def document_kind_short(kind: str) -> str:
    return str(DOCUMENT_KIND_SHORT.get(kind, kind))


def share_document_label(kind: str, rate: int | None) -> str:
    """How a trip's page names one future document: "通行费财政电子票据（政府还贷，不征税）",
    "数电发票 3%", "增值税电子普通发票 不征税"."""
    if kind == DocumentKind.FISCAL_E_BILL:
        return str(gettext_lazy("通行费财政电子票据（政府还贷，不征税）"))
    return f"{document_kind_short(kind)} {gettext_lazy('不征税') if rate is None else f'{rate}%'}"


def deductible_input_tax(invoice: Invoice) -> bool:
    """Whether the document can carry deductible input tax: a taxable invoice (VAT or 数电)
    with an enterprise title; never a fiscal e-bill, a 不征税 invoice or a personal title."""
    return (
        invoice.document_kind != DocumentKind.FISCAL_E_BILL
        and invoice.kind == Invoice.Kind.TAXABLE
        and bool((invoice.buyer_tax_id or "").strip())
    )


def trip_page(
    card_id: int, month: str, *, after=None, before=None, size: int = PAGE_SIZE, open_only: bool = False
) -> Page:
    """A page of a card-month's trips, oldest first, each with its split: two queries."""
    trips = card_month_trips(card_id, month, open_only=open_only)
    page = keyset_page(trips, TRIP_ORDER, after=after, before=before, size=size)
    page.rows = trip_rows(page.rows)
    return page


def months_with_transits(card_id: int) -> list[str]:
    return list(
        Transit.objects.filter(card_id=card_id).values_list("month", flat=True).distinct().order_by("-month")[:24]
    )


def recharges_for_card(card_id: int, month: str | None = None) -> QuerySet[Recharge]:
    qs = Recharge.objects.filter(card_id=card_id).order_by("-recharged_at", "-id")
    if month:
        qs = qs.filter(month=month)
    return qs


@dataclass
class Availability:
    """When trips show up: from the N-th natural day after travel, N of the regime in force
    (TRANSIT_AVAILABLE_AFTER_DAYS under the 2018 regime, TRANSIT_AVAILABLE_AFTER_DAYS_2020 since)."""

    days: int
    today: date
    complete_through: date  # trips on or before this date should be visible by now
    today_trip_visible_on: date


def transit_availability(today: date | None = None) -> Availability:
    today = today or timezone.localdate()
    days = regime_on(today).available_after_days
    return Availability(
        days=days,
        today=today,
        complete_through=today - timedelta(days=days),
        today_trip_visible_on=today + timedelta(days=days),
    )


def recent_months(count: int = 12, today: date | None = None) -> list[str]:
    today = today or timezone.localdate()
    year, month = today.year, today.month
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{month:02d}")
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return out


# --- applications and invoices ----------------------------------------------------------------


def invoice_month(invoice_id) -> str | None:
    """The month an invoice bills (the partition it and its lines live in), from its key; None
    when no invoice has that id."""
    try:
        pk = int(invoice_id)
    except (TypeError, ValueError):
        return None
    return InvoiceKey.objects.filter(pk=pk).values_list("month", flat=True).first()


def invoice_month_of(code: str, number: str) -> str | None:
    """The month of the invoice of ``code`` and ``number``, from its key; None when none is."""
    return InvoiceKey.objects.filter(code=code, number=number).values_list("month", flat=True).first()


def console_search_months(term: str, recent: list[str]) -> list[str]:
    """The months the console's invoice search reads for ``term`` when no month is chosen: for
    an identifier (digits and capitals: a number, a code, code and number typed together, a
    buyer's taxpayer id, a card number) the months its invoices bill, from the keys and the
    per-month summaries; for anything else (a plate) the ``recent`` months."""
    term = term.replace(" ", "").upper()
    if not re.fullmatch(r"[0-9A-Z]{6,32}", term) or not any(c.isdigit() for c in term):
        return recent
    keys = Q(code=term) | Q(number=term)
    if len(term) == 20 and term.isdigit():
        keys |= Q(code=term[:12], number=term[12:])
    if len(term) == 18 and term.isdigit():
        keys |= Q(code=term[:8], number=term[8:])
    months = set(InvoiceKey.objects.filter(keys).values_list("month", flat=True).distinct())
    months.update(BuyerMonth.objects.filter(buyer_tax_id=term).values_list("month", flat=True))
    months.update(InvoiceMonth.objects.filter(card__card_no=term).values_list("month", flat=True).distinct())
    return sorted(months)


def application_months(app: Application) -> dict:
    """A filter naming the months of an application's invoices: a consumption application's
    card-month, a reversal's invoice's month, a recharge application's recharges' months (its
    invoices bill those), and for a title change those of the application it changes. One
    small query for a recharge application or a title change; none otherwise."""
    kind = app.kind
    if kind == Application.Kind.TITLE_CHANGE and app.original_id:
        original_kind = Application.objects.filter(pk=app.original_id).values_list("kind", flat=True).first()
        if original_kind == Application.Kind.RECHARGE:
            return _recharge_months(app.original_id)
    if kind == Application.Kind.RECHARGE:
        return _recharge_months(app.pk) if app.pk else {}
    return {"month": app.month} if app.month else {}


def _recharge_months(application_id: int) -> dict:
    months = sorted(
        set(Recharge.objects.filter(application_items__application_id=application_id).values_list("month", flat=True))
    )
    return {"month__in": months} if months else {}


def filter_months(month_filter: dict) -> list[str]:
    """The months an ``application_months`` filter names (none: every month)."""
    if "month" in month_filter:
        return [month_filter["month"]]
    return list(month_filter.get("month__in", []))


def invoice_queryset(months=None) -> QuerySet[Invoice]:
    """Invoices with everything their JSON or page needs: two queries for any number. With
    ``months``, their lines are read from those months' partitions alone."""
    if not months:
        lines = InvoiceLine.objects.select_related("transit", "recharge").order_by("seq")
        return Invoice.objects.select_related("original").prefetch_related(Prefetch("lines", queryset=lines))
    # Everything of those months is read in their partitions alone: the lines, their trips (a
    # trip's lines bill its own month) and a red-letter invoice's original (same month).
    months = sorted(set(months))
    trips = Transit.objects.filter(month__in=months)
    lines = (
        InvoiceLine.objects.filter(month__in=months)
        .select_related("recharge")
        .prefetch_related(Prefetch("transit", queryset=trips))
        .order_by("seq")
    )
    return Invoice.objects.prefetch_related(
        Prefetch("lines", queryset=lines), Prefetch("original", queryset=Invoice.objects.filter(month__in=months))
    )


def invoices_of(user, *, card_id: int | None = None, month: str | None = None) -> QuerySet[Invoice]:
    qs = invoice_queryset().filter(user=user)
    if card_id is not None:
        qs = qs.filter(card_id=card_id)
    if month:
        qs = qs.filter(month=month)
    return qs.order_by("-issued_at", "-id")


def invoice_of(user, invoice_id) -> Invoice:
    month = invoice_month(invoice_id)
    if month is None:
        raise Http404
    invoice = invoice_queryset([month]).filter(user=user, pk=invoice_id, month=month).first()
    if invoice is None:
        raise Http404
    return invoice


def applications_of(user) -> QuerySet[Application]:
    return Application.objects.filter(user=user).select_related("card", "title").order_by("-created_at", "-id")


def application_of(user, application_id) -> Application:
    app = Application.objects.filter(user=user, pk=application_id).select_related("card", "title", "original").first()
    if app is None:
        raise Http404
    return app


def application_invoices(app: Application) -> list[Invoice]:
    month = application_months(app)
    return list(invoice_queryset(filter_months(month)).filter(application=app, **month).order_by("id"))


def buyer_feed(tax_id: str, *, since=None, after: tuple | None = None, limit: int = 100) -> list[Invoice]:
    """An enterprise's invoices, oldest first, keyset-paginated on (issued_at, id), issued at or
    after ``since``. Only the months ``BuyerMonth`` says the page can hold are read (their
    invoices, lines and trips), not every month's partition."""
    cursor = max(t for t in (since, after[0] if after else None) if t is not None) if since or after else None
    stats = list(
        BuyerMonth.objects.filter(buyer_tax_id=tax_id).values_list(
            "month", "count", "first_issued_at", "last_issued_at"
        )
    )
    months = choose_months(stats, cursor=cursor, size=limit, ascending=True)
    if not months:
        return []
    qs = invoice_queryset(months).filter(buyer_tax_id=tax_id, month__in=months)
    if since is not None:
        qs = qs.filter(issued_at__gte=since)
    if after is not None:
        at, pk = after
        qs = qs.filter(Q(issued_at__gt=at) | Q(issued_at=at, id__gt=pk))
    return list(qs.order_by("issued_at", "id")[:limit])


# --- invoice lists: bounded pages, aggregates for the totals -------------------------------------

INVOICE_ORDER = ("issued_at", "id")
INVOICE_CURSOR = (datetime, int)
APPLICATION_ORDER = ("created_at", "id")
APPLICATION_CURSOR = (datetime, int)
# what a list of invoices shows (code and number, seller, kind, total, status): no lines, no snapshots
_INVOICE_LIST_FIELDS = (
    "id",
    "application_id",
    "code",
    "number",
    "issued_at",
    "issued_on",
    "seller_name",
    "kind",
    "document_kind",
    "red",
    "status",
    "total",
    "month",  # its lines' partition, for the page by trip
)


def user_invoices(user, *, card_id: int | None = None, month: str | None = None) -> QuerySet[Invoice]:
    """The user's invoices, of one card and month when given, with no joins: the base of the
    lists, which choose their own columns."""
    qs = Invoice.objects.filter(user=user)
    if card_id is not None:
        qs = qs.filter(card_id=card_id)
    if month:
        qs = qs.filter(month=month)
    return qs


# what a ZIP needs of an invoice: its name inside the ZIP and where its files are
_INVOICE_FILE_FIELDS = (
    "id",
    "application_id",
    "document_kind",
    "code",
    "number",
    "render_status",
    "pdf_path",
    "xml_path",
)


def card_month_invoices(user, *, card_id: int, month: str) -> list[Invoice]:
    """Every invoice of one card and month the user got (red-letter and reversed ones too), in
    the order they were issued: what the card-month ZIP holds."""
    qs = user_invoices(user, card_id=card_id, month=month).only(*_INVOICE_FILE_FIELDS)
    return list(qs.order_by("issued_at", "id"))


def card_month_summaries(user, invoices: list[Invoice]) -> list[Application]:
    """The issued applications those invoices came from that have a summary sheet."""
    return list(
        Application.objects.filter(
            user=user,
            id__in={inv.application_id for inv in invoices},
            status=Application.Status.ISSUED,
            summary_no__isnull=False,
        )
        .only("id", "summary_no")
        .order_by("id")
    )


def invoice_card_months(user, *, card_id: int | None = None, month: str | None = None, limit: int = 24) -> list[dict]:
    """我的发票's 按卡按月下载: the user's (card, month) pairs that have invoices, newest month
    first and cards in number order, with the card's plate and number and the invoice count:
    the user's ``InvoiceMonth`` rows, read newest month first from their index (no invoice
    partition is read, and a fleet's older months are not)."""
    qs = InvoiceMonth.objects.filter(user=user)
    if card_id is not None:
        qs = qs.filter(card_id=card_id)
    if month:
        qs = qs.filter(month=month)
    rows = qs.order_by("-month", "card__card_no").values("card_id", "card__card_no", "card__plate", "month", "count")
    return [dict(row) for row in rows[:limit]]


def page_months(user, *, card_id: int | None = None, after=None, before=None, size: int = PAGE_SIZE) -> list[str]:
    """The months whose invoices can be on a page of the user's invoices newest first (the page
    after the row ``after``, before the row ``before``, or the first), and one row beyond it,
    read from ``InvoiceMonth`` (how many each month holds, issued between when and when),
    chosen by ``choose_months``. A list reads these months' partitions only, and gets the same
    page as reading every month."""
    qs = InvoiceMonth.objects.filter(user=user)
    if card_id is not None:
        qs = qs.filter(card_id=card_id)
    stats = list(
        qs.values("month")
        .annotate(n=Sum("count"), first=Min("first_issued_at"), last=Max("last_issued_at"))
        .order_by()
        .values_list("month", "n", "first", "last")
    )
    if before is not None and after is None:
        return choose_months(stats, cursor=before[0], size=size, ascending=True)
    return choose_months(stats, cursor=after[0] if after is not None else None, size=size, ascending=False)


def choose_months(stats: list[tuple], *, cursor, size: int, ascending: bool) -> list[str]:
    """The months a keyset page on issue time can hold, from per-month summaries
    ``(month, count, first_issued_at, last_issued_at)``: the page starts past ``cursor`` (a time,
    or None for the first page) and runs newest first, or oldest first when ``ascending``. Months
    are taken from the page's edge inwards until the rows counted fill the page and one more;
    then every month that could still hold a row nearer the edge than the farthest of those is
    added. A month the cursor falls in is not counted (how many of its rows lie beyond the cursor
    is not kept), so a page may read a month more than it shows, never fewer."""
    if ascending:
        # a month's rows past the cursor are at or after max(first, cursor)
        candidates = [
            (max(first, cursor) if cursor else first, cursor is None or first > cursor, m, n, last)
            for m, n, first, last in stats
            if cursor is None or last >= cursor
        ]
        candidates.sort()
    else:
        candidates = [
            (min(last, cursor) if cursor else last, cursor is None or last < cursor, m, n, first)
            for m, n, first, last in stats
            if cursor is None or first <= cursor
        ]
        candidates.sort(reverse=True)
    chosen: list[str] = []
    counted, limit = 0, None
    for edge, whole, month, n, far in candidates:
        if counted > size and limit is not None and (edge > limit if ascending else edge < limit):
            break
        chosen.append(month)
        if whole:
            counted += n  # every one of its rows is beyond the cursor
        limit = far if limit is None else (max(limit, far) if ascending else min(limit, far))
    return chosen


def invoice_list_page(
    user, *, card_id: int | None = None, month: str | None = None, after=None, before=None, size: int = PAGE_SIZE
) -> Page:
    """我的发票: a page of the user's invoices, newest first (keyset on issued_at, id). Without a
    month, only the months ``page_months`` names are read."""
    qs = user_invoices(user, card_id=card_id, month=month).only(*_INVOICE_LIST_FIELDS)
    if month:
        return keyset_page(qs, INVOICE_ORDER, descending=True, after=after, before=before, size=size)
    months = page_months(user, card_id=card_id, after=after, before=before, size=size)
    page = keyset_page(
        qs.filter(month__in=months),
        INVOICE_ORDER,
        descending=True,
        after=after,
        before=before,
        size=size,
        restart=False,
    )
    if not page.rows and (after is not None or before is not None):  # a cursor past the end: the first page
        return invoice_list_page(user, card_id=card_id, size=size)
    return page


def application_invoice_page(app: Application, *, after=None, before=None, size: int = PAGE_SIZE) -> Page:
    """A page of an application's invoices in the order they were issued (keyset on id)."""
    qs = Invoice.objects.filter(application=app, **application_months(app)).only(*_INVOICE_LIST_FIELDS)
    return keyset_page(qs, ("id",), after=after, before=before, size=size)


def application_sellers(app: Application) -> list[dict]:
    """An application's invoices by seller and kind of document, red-letter ones apart:
    {seller_name, red, document_kind, kind_label, count, total} in one aggregate query — what the
    page summarises, whatever the number of invoices."""
    # Plain dicts, one key added below (django-stubs types values() rows as closed TypedDicts).
    rows = cast(
        "list[dict[str, Any]]",
        list(
            Invoice.objects.filter(application=app, **application_months(app))
            .values("seller_name", "red", "document_kind")
            .annotate(count=Count("id"), total=Sum("total"))
            .order_by("red", "seller_name", "document_kind")
        ),
    )
    for row in rows:
        row["kind_label"] = document_kind_short(row["document_kind"])
    return rows


def application_document_kinds(sellers: list[dict]) -> list[tuple[str, str, int]]:
    """(kind, short name, count) of the documents (red-letter ones apart) in an application's
    seller summary, in the table's order: no query."""
    counts: dict[str, int] = {}
    for row in sellers:
        if not row["red"]:
            counts[row["document_kind"]] = counts.get(row["document_kind"], 0) + row["count"]
    return [(k, document_kind_short(k), counts[k]) for k in DocumentKind.values if k in counts]


def application_status(user, application_id) -> dict:
    """What the progress page polls: one row of four columns, no joins."""
    row = (
        Application.objects.filter(user=user, pk=application_id)
        .values("id", "status", "failure_reason", "invoice_count")
        .first()
    )
    if row is None:
        raise Http404
    return cast("dict[str, Any]", row)


def invoice_line_trips(invoice_ids: list[int], months=None) -> list[tuple]:
    """(invoice id, transit id, entry station, exit station, exit time, recharge id) of every line
    of these invoices, in line order: what 我的发票 groups by trip. ``months``: the invoices'
    months (their lines' partitions), when the caller has them."""
    lines = InvoiceLine.objects.filter(invoice_id__in=invoice_ids)
    if months:
        lines = lines.filter(month__in=sorted(set(months)))
    return list(
        lines.order_by("invoice_id", "seq").values_list(
            "invoice_id",
            "transit__transit_id",
            "transit__entry_station",
            "transit__exit_station",
            "transit__exit_time",
            "recharge__recharge_id",
        )
    )


def application_outcome(app: Application) -> dict | None:
    """What an issued title change or reversal changed, for its page: a title change's old and
    new buyer and how many invoices it reversed and issued again; a reversal's invoice and its
    trips, open again for that seller's share. One or two small queries; None for the rest."""
    if app.status != Application.Status.ISSUED:
        return None
    if app.kind == Application.Kind.TITLE_CHANGE:
        month = application_months(app)
        reds = Invoice.objects.filter(application=app, red=True, **month)
        old = reds.values_list("buyer_name", "buyer_tax_id").first()
        new = (
            Invoice.objects.filter(application=app, red=False, **month)
            .values_list("buyer_name", "buyer_tax_id")
            .first()
        )
        return {"kind": app.kind, "old": old, "new": new, "count": reds.count()}
    if app.kind == Application.Kind.REVERSAL and app.invoice_to_reverse_id:
        original = (
            Invoice.objects.filter(pk=app.invoice_to_reverse_id, month=app.month)
            .only("id", "code", "number", "seller_name", "total", "card_id", "month")
            .first()
        )
        trips = InvoiceLine.objects.filter(invoice_id=app.invoice_to_reverse_id, month=app.month, transit__isnull=False)
        reopened = (
            Transit.objects.filter(id__in=trips.values("transit_id"), month=app.month, state=InvoiceState.OPEN)
            .values_list("month", flat=True)
            .order_by("month")
        )
        months = sorted(set(reopened))
        return {"kind": app.kind, "original": original, "reopened": len(reopened), "months": months}
    return None


def reapply_trips(app: Application) -> dict:
    """The trips a failed consumption application released that can be applied for again
    (still open): their count and fee, for the page's one-step 重新申请."""
    agg = Transit.objects.filter(
        application_items__application=app, month=app.month, state=InvoiceState.OPEN
    ).aggregate(n=Count("id"), fee=Sum("fee"))
    return {"count": agg["n"], "fee": agg["fee"] or 0}


# --- the signed-in home page -----------------------------------------------------------------------

HOME_ROWS = 5
FAILED_SHOWN_DAYS = 30


def open_applications(user, *, limit: int = HOME_ROWS) -> list[Application]:
    """What the home page lists as open, newest first with their card: applications still being
    issued, and those that failed in the last 30 days (the user has something to do about them)."""
    since = timezone.now() - timedelta(days=FAILED_SHOWN_DAYS)
    pending = [Application.Status.SUBMITTED, Application.Status.ISSUING]
    return list(
        Application.objects.filter(user=user)
        .filter(Q(status__in=pending) | Q(status=Application.Status.FAILED, created_at__gte=since))
        .select_related("card")
        .only("id", "kind", "status", "failure_reason", "month", "created_at", "card__plate", "card__card_no")
        .order_by("-created_at", "-id")[:limit]
    )


def newest_invoices(user, *, limit: int = HOME_ROWS) -> list[Invoice]:
    """The user's newest invoices, as the lists show them (no lines)."""
    qs = user_invoices(user).filter(month__in=page_months(user, size=limit))
    return list(qs.only(*_INVOICE_LIST_FIELDS).order_by("-issued_at", "-id")[:limit])


def recent_resends(app: Application, limit: int = 3) -> list[MailResend]:
    """The latest requests to mail an application again, newest first, for its page."""
    return list(
        MailResend.objects.filter(application=app).only("email", "requested_at", "sent_at").order_by("-id")[:limit]
    )


def red_letter_of(invoice: Invoice) -> Invoice | None:
    """The red-letter invoice that cancels ``invoice``."""
    return (
        Invoice.objects.filter(original=invoice, red=True, month=invoice.month)  # a red one bills its original's month
        .only("id", "code", "number", "document_kind", "application_id")
        .first()
    )


def red_confirmation_of(invoice: Invoice) -> RedLetterConfirmation | None:
    """The 红字确认单 of a 数电 invoice: the one that reversed it (a blue invoice) or the one it
    was issued against (a red-letter invoice); None for other kinds."""
    if invoice.document_kind != DocumentKind.DIGITAL_E_INVOICE:
        return None
    where = Q(red_invoice=invoice) if invoice.red else Q(original=invoice)
    return RedLetterConfirmation.objects.filter(where).only("id", "number", "confirmed_at", "reason").first()


def title_change_split(app: Application) -> dict:
    """What 换票 would do to an application's live documents: how many it reverses and issues
    again (VAT and 数电 invoices) and how many fiscal e-bills stay as they are (their payer is
    the one registered before the trip). One aggregate query."""
    live = Invoice.objects.filter(application=app, red=False, status=Invoice.Status.NORMAL)
    agg = live.aggregate(total=Count("id"), fiscal=Count("id", filter=Q(document_kind=DocumentKind.FISCAL_E_BILL)))
    return {"changeable": agg["total"] - agg["fiscal"], "fiscal": agg["fiscal"]}
