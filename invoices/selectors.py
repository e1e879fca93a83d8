"""Reads of trips and recharges, scoped to a user's bound card, with their joins baked in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.conf import settings
from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from .models import Application, Invoice, InvoiceLine, Recharge, Transit, TransitSegment
from .tax import rate_for_section


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

    @property
    def invoice_count(self) -> int:
        return len(self.invoices)


def transits_for_card(card_id: int, month: str) -> QuerySet[Transit]:
    segments = TransitSegment.objects.select_related("section", "operator").order_by("seq")
    return (
        Transit.objects.filter(card_id=card_id, month=month)
        .order_by("exit_time", "id")
        .prefetch_related(Prefetch("segments", queryset=segments))
    )


def trip_views(transits) -> list[TripView]:
    """Each trip with its segments' rates and the invoices it will produce (two queries in all)."""
    trips = []
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
        sellers: dict[tuple[int, bool], tuple[str, int | None]] = {}
        for s in segments:
            sellers.setdefault((s.operator_id, s.rate is None), (s.operator_name, s.rate))
        trips.append(TripView(transit=t, segments=segments, invoices=list(sellers.values())))
    return trips


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
    """When trips show up: from the N-th natural day after travel (TRANSIT_AVAILABLE_AFTER_DAYS)."""

    days: int
    today: date
    complete_through: date  # trips on or before this date should be visible by now
    today_trip_visible_on: date


def transit_availability(today: date | None = None) -> Availability:
    days = settings.TRANSIT_AVAILABLE_AFTER_DAYS
    today = today or timezone.localdate()
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


def invoice_queryset() -> QuerySet[Invoice]:
    """Invoices with everything their JSON or page needs: two queries for any number."""
    lines = InvoiceLine.objects.select_related("transit", "recharge").order_by("seq")
    return Invoice.objects.select_related("original").prefetch_related(Prefetch("lines", queryset=lines))


def invoices_of(user, *, card_id: int | None = None, month: str | None = None) -> QuerySet[Invoice]:
    qs = invoice_queryset().filter(user=user)
    if card_id is not None:
        qs = qs.filter(card_id=card_id)
    if month:
        qs = qs.filter(month=month)
    return qs.order_by("-issued_at", "-id")


def invoice_of(user, invoice_id) -> Invoice:
    invoice = invoice_queryset().filter(user=user, pk=invoice_id).first()
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
    return list(invoice_queryset().filter(application=app).order_by("id"))


def buyer_feed(tax_id: str, *, since=None, after: tuple | None = None, limit: int = 100) -> list[Invoice]:
    """An enterprise's invoices, oldest first, keyset-paginated on (issued_at, id)."""
    qs = invoice_queryset().filter(buyer_tax_id=tax_id)
    if since is not None:
        qs = qs.filter(issued_at__gte=since)
    if after is not None:
        at, pk = after
        qs = qs.filter(Q(issued_at__gt=at) | Q(issued_at=at, id__gt=pk))
    return list(qs.order_by("issued_at", "id")[:limit])
