"""A batch's cards planned in one pass and its applications written set-wise: a handful of
statements however many cards the batch spans.

Planning a batch card by card took three statements a card (its open trips, their segments, the
shares live invoices cover) and writing it five more (the application and its history row, the
trips marked, the items, the event): about 4,000 round trips for 500 cards (docs/performance.md,
"A fleet of 500 cards"). Here every card of the batch is read at once:

- ``read_open_trips``: the open trips of the month of every card, locked in id order when
  submitting (the order issuing and reversing lock trips in);
- ``plan_cards``: their segments, the operators and sections they name, and the shares live
  invoices cover, one statement each; then each card-month planned in memory, exactly as
  ``services.plan_consumption`` plans a single application (the same invoices and lines, in the
  same order: ``tests/invoices/test_batch_plan.py`` compares the two on every shape of trip);
- ``consumption_create_many``: what ``services.consumption_create`` writes for one card-month,
  written for all of them: the applications (with their history rows), the stored-value cards'
  choice, the trips marked applied, the items, the events; one statement each.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime

from django.db import connection
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history

from accounts.models import User
from cards.models import CardType, InvoiceTitle
from piaogen.bulk import insert_rows
from piaogen.errors import ServiceError

from . import regimes, services
from .models import (
    Application,
    ApplicationEvent,
    ApplicationItem,
    CardInvoiceBasis,
    Invoice,
    InvoiceState,
    Operator,
    RoadSection,
    Transit,
    TransitSegment,
)
from .selectors import covered_shares
from .tax import rate_for_section, split

# (id, plate, vehicle class, entry time, travel date, exit time) of an open trip
Trip = tuple[int, str, str, datetime, date, datetime]

_OPERATOR_FIELDS = ("name", "tax_id", "address", "phone", "bank", "bank_account", "machine_no", "province_code")


def _ids(ids: list[int]) -> list[int] | RawSQL:
    """The right side of an ``id__in`` of thousands of ids. On PostgreSQL one array parameter:
    with the driver's client-side binding, 30,000 separate placeholders cost more to bind and
    send than the statement costs to run (as ``ingest._by_keys``)."""
    if connection.vendor == "postgresql":
        return RawSQL("SELECT unnest(%s::bigint[])", (ids,))
    return ids


def _open(card_ids: Iterable[int], month: str) -> QuerySet[Transit]:
    return Transit.objects.filter(card_id__in=list(card_ids), month=month, state=InvoiceState.OPEN)


def read_open_trips(card_ids: list[int], month: str, *, lock: bool) -> dict[int, list[Trip]]:
    """Every open trip of ``month`` of these cards, by card, in id order: one statement, in the
    month's partition. With ``lock``, the trips are locked (in id order) until the transaction
    ends, as ``services._consumption_selection`` locks one card's."""
    qs = _open(card_ids, month).order_by("id")
    if lock:
        qs = qs.select_for_update()
    out: dict[int, list[Trip]] = defaultdict(list)
    for pk, card_id, *trip in qs.values_list(
        "id", "card_id", "plate", "vehicle_class", "entry_time", "travel_date", "exit_time"
    ):
        out[card_id].append((pk, *trip))  # type: ignore[arg-type]
    return dict(out)


def plan_cards(
    trips: dict[int, list[Trip]], *, month: str, mode: str, title: InvoiceTitle
) -> dict[int, tuple[list[services.InvoicePlan], list[int]]]:
    """For each card of ``trips``: the invoices its open trips yield in ``mode`` and the ids of
    the trips they bill, as ``services.plan_consumption`` gives them for that card-month alone.
    Four statements for every card together: the trips' segments, the operators and the
    sections they name, the shares live invoices cover. Writes nothing."""
    wanted = {t[0] for card_trips in trips.values() for t in card_trips}
    if not wanted:
        return {}
    # The segments of the month's open trips of these cards; read by a subquery rather than by
    # 30,000 ids. A trip that arrived since ``trips`` were read is not one of them: left aside.
    segments: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    operator_ids, section_ids = set(), set()
    rows = (
        TransitSegment.objects.filter(month=month, transit__in=_open(trips, month).values("id"))
        .order_by("transit_id", "seq")
        .values_list("transit_id", "operator_id", "section_id", "fee")
    )
    for transit_id, operator_id, section_id, fee in rows:
        if transit_id in wanted:
            segments[transit_id].append((operator_id, section_id, fee))
            operator_ids.add(operator_id)
            section_ids.add(section_id)
    operators = {
        row[0]: Operator(pk=row[0], **dict(zip(_OPERATOR_FIELDS, row[1:], strict=True)))
        for row in Operator.objects.filter(pk__in=operator_ids).values_list("pk", *_OPERATOR_FIELDS)
    }
    sections = {
        pk: RoadSection(pk=pk, grade=grade, property=prop, construction_start=start, simplified_method=simplified)
        for pk, grade, prop, start, simplified in RoadSection.objects.filter(pk__in=section_ids).values_list(
            "pk", "grade", "property", "construction_start", "simplified_method"
        )
    }
    # Shares a live invoice still covers (the trip was partly reversed) are not issued again.
    covered = covered_shares(_open(trips, month).values("id"), [month])
    planner = _Planner(month=month, mode=mode, operators=operators, sections=sections, covered=covered)
    return {
        card_id: planner.card(card_trips, segments, services._buyer(title)) for card_id, card_trips in trips.items()
    }


class _Planner:
    """``services.plan_consumption`` over rows already read, a card-month at a time; what does
    not depend on the card (rates, kinds of document, labels, sellers) is worked out once."""

    def __init__(self, *, month: str, mode: str, operators: dict, sections: dict, covered: set) -> None:
        self.month = month
        self.monthly = mode == Application.Mode.MONTHLY
        self.operators = operators
        self.sections = sections
        self.sellers = {pk: services._operator_seller(op) for pk, op in operators.items()}
        self.covered = covered
        self.tz = timezone.get_current_timezone()
        self.rates: dict[tuple[int, date], int | None] = {}
        self.kinds: dict[tuple[date, bool], str] = {}
        self.labels: dict[str, str] = {}

    def card(
        self, trips: list[Trip], segments: dict[int, list[tuple[int, int, int]]], buyer: dict
    ) -> tuple[list[services.InvoicePlan], list[int]]:
        plans: dict[tuple, services.InvoicePlan] = {}
        ordered: list[services.InvoicePlan] = []
        trip_ids: list[int] = []
        # the order of services.plan_consumption: by exit time, then trip, then segment
        by_exit = sorted(trips, key=lambda t: (t[5], t[0]))
        for transit_id, plate, vehicle_class, entry_time, travel_date, _exit in by_exit:
            shares: dict[tuple[int, int | None], int] = {}
            for op_id, section_id, fee in segments.get(transit_id, ()):
                if op_id not in self.operators or section_id not in self.sections:
                    continue  # as the single planner's join would leave it out
                rate_key = (section_id, travel_date)
                if rate_key in self.rates:
                    rate = self.rates[rate_key]
                else:
                    rate = self.rates[rate_key] = rate_for_section(self.sections[section_id], travel_date)
                shares[(op_id, rate)] = shares.get((op_id, rate), 0) + fee
            if not shares:
                continue
            trip_ids.append(transit_id)
            self._flush(plans, ordered, buyer, (transit_id, plate, vehicle_class, entry_time, travel_date), shares)
        return ordered, trip_ids

    def _flush(self, plans, ordered, buyer, trip: tuple, shares: dict[tuple[int, int | None], int]) -> None:
        transit_id, plate, vehicle_class, entry_time, travel_date = trip
        label = self.labels.get(vehicle_class)
        if label is None:
            label = self.labels[vehicle_class] = services._vehicle_label(vehicle_class)
        date_from = entry_time.astimezone(self.tz).date()
        for (op_id, rate), fee in shares.items():
            if fee == 0 or (transit_id, op_id, rate) in self.covered:
                continue
            kind_key = (travel_date, rate is not None)
            document_kind = self.kinds.get(kind_key)
            if document_kind is None:
                document_kind = self.kinds[kind_key] = regimes.document_kind(day=travel_date, taxable=rate is not None)
            key = (op_id, rate, document_kind) if self.monthly else (transit_id, op_id, rate is not None)
            plan = plans.get(key)
            if plan is None:
                op = self.operators[op_id]
                plan = plans[key] = services.InvoicePlan(
                    province_code=op.province_code,
                    seller=self.sellers[op_id],
                    buyer=buyer,
                    kind=Invoice.Kind.TAXABLE if rate is not None else Invoice.Kind.NON_TAXABLE,
                    plate=plate,
                    month=self.month,
                    document_kind=document_kind,
                )
                ordered.append(plan)
            net, tax = split(fee, rate)
            plan.lines.append(
                services.LinePlan(
                    item=services.TOLL_ITEM,
                    plate=plate,
                    vehicle_class=label,
                    date_from=date_from,
                    date_to=travel_date,
                    net=net,
                    rate=rate,
                    tax=tax,
                    transit_id=transit_id,
                )
            )


def consumption_create_many(
    *,
    user: User,
    plans: list[services.ApplicationPlan],
    trip_ids: dict[int, list[int]],
    month: str,
    mode: str,
    title: InvoiceTitle,
    email: str,
    batch_id: int,
) -> list[Application]:
    """``services.consumption_create`` for every card-month of ``plans`` at once (whole months,
    one batch): the applications and their history rows, the stored-value cards' choice fixed
    by their first application, the trips (``trip_ids``, selected and locked by
    ``read_open_trips``) marked applied, the items, the events; one statement each, in the
    caller's transaction with the cards locked. Each application's issuing is queued on commit.
    Refused as a single application is: a stored-value card that took recharge invoices, a trip
    applied for a moment ago."""
    for plan in plans:
        basis = plan.basis
        if plan.card.card_type == CardType.STORED_VALUE and basis is not None:
            if basis.basis != CardInvoiceBasis.Basis.CONSUMPTION:
                raise services._basis_refusal(basis)
    apps = [
        Application(
            user=user,
            card=plan.card,
            kind=Application.Kind.CONSUMPTION,
            mode=mode,
            month=month,
            whole_month=True,
            title=title,
            email=email,
            batch_id=batch_id,
        )
        for plan in plans
    ]
    # the history rows as a save would write them (same user, no reason), in one more statement
    apps = bulk_create_with_history(apps, Application, default_change_reason=None)
    assert all(app.pk for app in apps)
    fixes = [
        CardInvoiceBasis(card=plan.card, basis=CardInvoiceBasis.Basis.CONSUMPTION, fixed_by=app)
        for plan, app in zip(plans, apps, strict=True)
        if plan.card.card_type == CardType.STORED_VALUE and plan.basis is None
    ]
    if fixes:
        CardInvoiceBasis.objects.bulk_create(fixes)
    ids = [pk for plan in plans for pk in trip_ids[plan.card.pk]]
    marked = Transit.objects.filter(id__in=_ids(ids), month=month, state=InvoiceState.OPEN).update(
        state=InvoiceState.APPLIED, updated_at=timezone.now()
    )
    if marked != len(ids):
        raise ServiceError("already_applied", _("所选通行记录刚刚被申请，请刷新后重试。"))
    insert_rows(
        ApplicationItem,
        ["application_id", "transit_id"],
        [(app.pk, pk) for plan, app in zip(plans, apps, strict=True) for pk in trip_ids[plan.card.pk]],
    )
    ApplicationEvent.objects.bulk_create(
        [
            ApplicationEvent(
                application=app,
                kind="submitted",
                actor=user,
                detail={"trips": len(trip_ids[plan.card.pk]), "batch": batch_id},
            )
            for plan, app in zip(plans, apps, strict=True)
        ]
    )
    for app in apps:
        services._queue(app.pk)
    return apps
