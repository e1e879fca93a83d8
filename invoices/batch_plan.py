"""A batch's cards planned in one pass and its applications written set-wise: a handful of
statements however many cards the batch spans.

Planning a batch card by card took three statements a card (its open trips, their segments, the
shares live invoices cover) and writing it five more (the application and its history row, the
trips marked, the items, the event): about 4,000 round trips for 500 cards (docs/performance.md,
"A fleet of 500 cards"). Here every card of the batch is read at once:

- ``read_open_trips``: the open trips of the month of every card, locked in id order when
  submitting (the order issuing and reversing lock trips in);
- ``plan_cards``: their segments, the operators and sections they name, and the shares live
  invoices cover, one statement each; then each card-month planned in memory by the planner a
  single application is planned with (``services.ConsumptionPlanner``, which
  ``services.plan_consumption`` feeds from its own query: the same invoices and lines, in the
  same order; ``tests/invoices/test_batch_plan.py`` compares the two on every shape of trip);
- ``consumption_create_many``: what ``services.consumption_create`` writes for one card-month,
  written for all of them: the applications (with their history rows), the stored-value cards'
  choice, the trips marked applied, the items, the events; one statement each.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

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

from . import services
from .models import (
    Application,
    ApplicationEvent,
    ApplicationItem,
    CardInvoiceBasis,
    InvoiceState,
    Operator,
    RoadSection,
    Transit,
    TransitSegment,
)
from .selectors import covered_shares


def _ids(ids: list[int]) -> list[int] | RawSQL:
    """The right side of an ``id__in`` of thousands of ids. On PostgreSQL one array parameter:
    with the driver's client-side binding, 30,000 separate placeholders cost more to bind and
    send than the statement costs to run (as ``ingest._by_keys``)."""
    if connection.vendor == "postgresql":
        return RawSQL("SELECT unnest(%s::bigint[])", (ids,))
    return ids


def _open(card_ids: Iterable[int], month: str) -> QuerySet[Transit]:
    return Transit.objects.filter(card_id__in=list(card_ids), month=month, state=InvoiceState.OPEN)


def read_open_trips(card_ids: list[int], month: str, *, lock: bool) -> dict[int, list[services.PlannedTrip]]:
    """Every open trip of ``month`` of these cards, by card, in id order: one statement, in the
    month's partition. With ``lock``, the trips are locked (in id order) until the transaction
    ends, as ``services._consumption_selection`` locks one card's."""
    qs = _open(card_ids, month).order_by("id")
    if lock:
        qs = qs.select_for_update()
    out: dict[int, list[services.PlannedTrip]] = defaultdict(list)
    for pk, card_id, *trip in qs.values_list(
        "id", "card_id", "plate", "vehicle_class", "entry_time", "travel_date", "exit_time"
    ):
        out[card_id].append((pk, *trip))  # type: ignore[arg-type]
    return dict(out)


def plan_cards(
    trips: dict[int, list[services.PlannedTrip]], *, month: str, mode: str, title: InvoiceTitle
) -> dict[int, tuple[list[services.InvoicePlan], list[int]]]:
    """For each card of ``trips``: the invoices its open trips yield in ``mode`` and the ids of
    the trips they bill, planned by ``services.ConsumptionPlanner`` as
    ``services.plan_consumption`` plans that card-month alone.
    Four statements for every card together: the trips' segments, the operators and the
    sections they name, the shares live invoices cover. Writes nothing."""
    wanted = {t[0] for card_trips in trips.values() for t in card_trips}
    if not wanted:
        return {}
    # The segments of the month's open trips of these cards; read by a subquery rather than by
    # 30,000 ids. A trip that arrived since ``trips`` were read is not one of them: left aside.
    segments: dict[int, list[services.PlannedSegment]] = defaultdict(list)
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
        row[0]: Operator(pk=row[0], **dict(zip(services.OPERATOR_FIELDS, row[1:], strict=True)))
        for row in Operator.objects.filter(pk__in=operator_ids).values_list("pk", *services.OPERATOR_FIELDS)
    }
    sections = {
        row[0]: RoadSection(pk=row[0], **dict(zip(services.SECTION_FIELDS, row[1:], strict=True)))
        for row in RoadSection.objects.filter(pk__in=section_ids).values_list("pk", *services.SECTION_FIELDS)
    }
    covered = covered_shares(_open(trips, month).values("id"), [month])
    planner = services.ConsumptionPlanner(
        month=month, mode=mode, operators=operators, sections=sections, covered=covered
    )
    return {
        card_id: planner.card(card_trips, segments, services._buyer(title)) for card_id, card_trips in trips.items()
    }


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
    caller's transaction with the cards locked. Their issuing is queued on commit in one publish
    (``services.enqueue_issue_each``). Refused as a single application is: a stored-value card
    that took recharge invoices, a trip applied for a moment ago."""
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
    services._queue_each([app.pk for app in apps])
    return apps
