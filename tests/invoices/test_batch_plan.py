"""批量开票 planned in one pass (invoices/batch_plan.py): the same plans, refusals and digest as
planning card by card with the single application's functions, in a number of statements that
does not grow with the cards."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.models import Count, Q
from django.test.utils import CaptureQueriesContext
from django.utils.translation import gettext as _

from cards.models import Card, CardType
from invoices import batch_plan, batches, services
from invoices.models import Application, CardInvoiceBasis, Invoice, InvoiceState, Transit
from piaogen.errors import ServiceError

from .conftest import trip
from .test_batches import MONTH, push_trips
from .test_card_picker import bind_fleet
from .test_invoicing import COMPANY_TAX_ID, THREE, title

# --- the card-by-card batch, as it was: the reference the one-pass batch must equal ----------------


def per_card_plan(*, month, mode, title, cards, all_cards, lock) -> batches.BatchPlan:
    """The batch's planning card by card, as it was: each card-month selected, locked and
    planned by the single application's functions, three statements a card."""
    plan = batches.BatchPlan(month=month, mode=mode, title=title, cards=cards, all_cards=all_cards)
    rows = (
        Transit.objects.filter(card_id__in=[c.pk for c in cards], month=month)
        .values("card_id")
        .annotate(open=Count("id", filter=Q(state=InvoiceState.OPEN)))
        .order_by()
    )
    with_trips = {r["card_id"] for r in rows}
    with_open = {r["card_id"] for r in rows if r["open"]}
    stored_value = [c.pk for c in cards if c.card_type == CardType.STORED_VALUE]
    bases = {b.card_id: b for b in CardInvoiceBasis.objects.filter(card_id__in=stored_value)} if stored_value else {}
    for card in cards:
        if card.pk not in with_open:
            if card.pk in with_trips:
                plan.skipped.append(batches.LeftOut(card, "already_applied", _("这个月的通行记录都已申请或开具发票。")))
            else:
                plan.skipped.append(
                    batches.LeftOut(
                        card, "nothing_to_invoice", _("这张卡在 %(m)s 没有可开票的通行记录。") % {"m": month}
                    )
                )
            continue
        basis = bases.get(card.pk)
        if basis is not None and basis.basis != CardInvoiceBasis.Basis.CONSUMPTION:
            plan.skipped.append(batches.LeftOut(card, "basis_locked", services._basis_refusal(basis).message))
            continue
        try:
            selection, trip_rows = services._consumption_selection(card, month, None, lock=lock)
        except ServiceError as exc:
            plan.skipped.append(batches.LeftOut(card, exc.code, exc.message))
            continue
        card_plan = services._consumption_plan(card, month, mode, title, selection, whole_month=True)
        card_plan.basis = basis
        if not card_plan.invoices:
            plan.skipped.append(
                batches.LeftOut(
                    card,
                    "nothing_to_invoice",
                    _("这张卡在 %(m)s 待开票的通行金额为零，没有需要开具的发票。") % {"m": month},
                )
            )
            continue
        plan.plans.append(card_plan)
        if trip_rows is not None:
            plan.trip_ids[card.pk] = [r[0] for r in trip_rows]
    return plan


def shape(plan: batches.BatchPlan) -> tuple:
    """Everything a batch plan holds, comparable across two plannings."""
    return (
        plan.digest,
        plan.invoice_count,
        plan.total,
        plan.items,
        [(s.tax_id, s.kind, s.document_kind, s.invoices, s.total) for s in plan.sellers],
        [
            (p.card.pk, p.kind, p.month, p.mode, p.title.pk, p.item_ids, p.invoices, p.whole_month, p.basis, p.digest)
            for p in plan.plans
        ],
        [(s.card.pk, s.code, str(s.reason)) for s in plan.skipped],
        {card_id: sorted(ids) for card_id, ids in plan.trip_ids.items()},
    )


# --- a mixed fleet ---------------------------------------------------------------------------------


def _issue(app: Application) -> None:
    assert services.application_issue(application_id=app.pk).status == "issued"


@pytest.fixture
def mixed(world):
    """A fleet of every kind of card-month a batch meets: plain ones on different sellers, none
    in the month, every trip applied for, some invoiced and the rest open, a trip partly
    reversed (some of its shares still covered by live invoices), a stored-value card that took
    recharge invoices, one with no choice yet and one that chose travel, and trips of no fee."""
    user = world.user.user
    company = title(world.user, kind="enterprise", name="演示物流有限公司", tax_id=COMPANY_TAX_ID)
    [plain, elsewhere, applied, half, reversed_, zero] = bind_fleet(world, range(201, 207))
    [recharge, fresh, travel, recharge_none] = bind_fleet(world, range(207, 211), card_type="stored_value")
    push_trips(world, plain, [("T1", THREE), ("T2", [("S-A3", 1000)]), ("T3", [("S-C9", 2180)])])
    # pushed later, travelled earlier: plans follow the exit time, not the order trips arrived in
    push_trips(world, plain, [("T4", [("S-C0", 300), ("S-A3", 200)])], when=world.when - timedelta(days=2))
    push_trips(world, elsewhere, [("T1", THREE)], when=world.when - timedelta(days=31))
    push_trips(world, applied, [("T1", [("S-B5", 1200), ("S-C0", 500)])])
    push_trips(world, half, [("T1", THREE), ("T2", [("S-A3", 800)]), ("T3", [("S-B5", 300), ("S-C9", 400)])])
    push_trips(world, reversed_, [("T1", THREE), ("T2", THREE)])
    push_trips(world, zero, [("T1", [("S-A3", 0)]), ("T2", [("S-B5", 0), ("S-C0", 0)])])
    push_trips(world, recharge, [("T1", [("S-A3", 800)])])
    push_trips(world, fresh, [("T1", [("S-A3", 900)]), ("T2", [("S-C0", 700), ("S-C9", 100)])])
    push_trips(world, travel, [("T1", THREE), ("T2", [("S-B5", 640)])])

    def single(card_no, transit_ids=None) -> Application:
        return services.application_submit_consumption(
            user=user, card_no=card_no, month=MONTH, title_id=company, transit_ids=transit_ids
        )

    single(applied)  # submitted, not issued: its trip is applied
    _issue(single(half, [f"{half[-4:]}-T1"]))
    _issue(single(reversed_))
    shared = Invoice.objects.get(
        card__card_no=reversed_, seller_name="乙一级公路公司", lines__transit__transit_id__endswith="T1"
    )
    _issue(services.invoice_reverse(user=user, invoice_id=shared.pk))
    _issue(single(travel, [f"{travel[-4:]}-T1"]))  # fixes its choice: travel
    for card_no in (recharge, recharge_none):
        card = Card.objects.get(card_no=card_no)
        app = Application.objects.create(user=user, card=card, kind="recharge", title_id=company)
        CardInvoiceBasis.objects.create(card=card, basis="recharge", fixed_by=app)
    world.company = company
    world.mixed = [plain, elsewhere, applied, half, reversed_, zero, recharge, fresh, travel, recharge_none]
    return world


def _cards(card_nos) -> list[Card]:
    return sorted(Card.objects.filter(card_no__in=card_nos), key=lambda c: c.pk)


@pytest.mark.django_db
def test_the_fleet_meets_every_refusal_and_share(mixed):
    """The mixed fleet is what it says: every code of a card left out, and the reversed share."""
    title_ = services._title(mixed.user.user, mixed.company)
    plan = batches._plan(
        month=MONTH, mode="per_trip", title=title_, cards=_cards(mixed.mixed), all_cards=False, lock=False
    )
    left = {s.card.card_no: (s.code, s.reason) for s in plan.skipped}
    [plain, elsewhere, applied, half, reversed_, zero, recharge, fresh, travel, recharge_none] = mixed.mixed
    assert left == {
        elsewhere: ("nothing_to_invoice", f"这张卡在 {MONTH} 没有可开票的通行记录。"),
        applied: ("already_applied", "这个月的通行记录都已申请或开具发票。"),
        zero: ("nothing_to_invoice", f"这张卡在 {MONTH} 待开票的通行金额为零，没有需要开具的发票。"),
        recharge: ("basis_locked", left[recharge][1]),
        recharge_none: ("nothing_to_invoice", f"这张卡在 {MONTH} 没有可开票的通行记录。"),
    }
    assert "按充值开票" in left[recharge][1]
    plans = {p.card.card_no: p for p in plan.plans}
    assert list(plans) == [plain, half, reversed_, fresh, travel]
    first = Transit.objects.get(transit_id=f"{plain[-4:]}-T4").pk
    assert plans[plain].item_ids[0] == first and plans[plain].item_ids[1:] == sorted(plans[plain].item_ids[1:])
    assert (
        plans[reversed_].invoice_count == 1 and plans[reversed_].invoices[0].seller["seller_name"] == "乙一级公路公司"
    )
    assert plans[half].items == 2 and plans[fresh].fixes_basis and not plans[travel].fixes_basis


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["per_trip", "monthly"])
def test_one_pass_plans_what_card_by_card_planned(mixed, mode):
    title_ = services._title(mixed.user.user, mixed.company)
    cards = _cards(mixed.mixed)
    for lock in (False, True):
        with transaction.atomic():
            one_pass = batches._plan(month=MONTH, mode=mode, title=title_, cards=cards, all_cards=False, lock=lock)
            by_card = per_card_plan(month=MONTH, mode=mode, title=title_, cards=cards, all_cards=False, lock=lock)
        assert shape(one_pass) == shape(by_card)
        assert bool(one_pass.trip_ids) is lock


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["per_trip", "monthly"])
def test_the_planner_plans_each_card_month_as_plan_consumption(mixed, mode):
    """``batch_plan.plan_cards`` against ``services.plan_consumption`` of each card-month: the
    same invoices (seller, buyer, kind, document kind, lines, amounts) in the same order, and
    the same trips."""
    title_ = services._title(mixed.user.user, mixed.company)
    ids = [c.pk for c in _cards(mixed.mixed)]
    trips = batch_plan.read_open_trips(ids, MONTH, lock=False)
    planned = batch_plan.plan_cards(trips, month=MONTH, mode=mode, title=title_)
    assert set(planned) == set(trips) and len(planned) == 7  # the zero-fee and recharge cards too
    for card_id in ids:
        selection = Transit.objects.filter(card_id=card_id, month=MONTH, state=InvoiceState.OPEN)
        single = services.plan_consumption(selection, mode=mode, buyer=services._buyer(title_), month=MONTH)
        assert planned.get(card_id, ([], [])) == single
    assert batch_plan.plan_cards({}, month=MONTH, mode=mode, title=title_) == {}


# --- statements --------------------------------------------------------------------------------------


def fleet_of(world, serials, *, stored_value: int) -> list[str]:
    """Cards with two trips each in the month (the last ``stored_value`` of them stored-value
    cards with no choice yet), and one card with none."""
    accounts = bind_fleet(world, serials[: -stored_value - 1])
    stored = bind_fleet(world, serials[-stored_value - 1 : -1], card_type="stored_value")
    [empty] = bind_fleet(world, serials[-1:])
    items = []
    for n, card_no in enumerate(accounts + stored):
        items += [
            trip(f"{card_no[-4:]}-Q1", card_no, world.when, THREE),
            trip(f"{card_no[-4:]}-Q2", card_no, world.when + timedelta(hours=3), [("S-A3", 700 + n)]),
        ]
    r = world.clearing.post("/api/v1/partner/transits", {"transits": items}, format="json").json()
    assert r["created"] == len(items), r
    return accounts + stored + [empty]


@pytest.mark.django_db
def test_the_preview_takes_as_many_statements_for_30_cards_as_for_3(world):
    user = world.user.user
    company = title(world.user, kind="enterprise", name="演示物流有限公司", tax_id=COMPANY_TAX_ID)
    counts = {}
    for n, serials in ((3, range(301, 304)), (30, range(401, 431))):
        card_nos = fleet_of(world, list(serials), stored_value=1)
        inputs = {"user": user, "month": MONTH, "mode": "per_trip", "title_id": company, "card_nos": card_nos}
        with CaptureQueriesContext(connection) as preview:
            plan = batches.batch_preview(**inputs)
        assert len(plan.plans) == n - 1 and plan.items == 2 * (n - 1)
        counts[n] = len(preview.captured_queries)
    # the cards, the title, the cards' trip counts, the stored-value cards' choices, the open
    # trips, their segments, operators, sections, covered shares
    assert counts[3] == counts[30] == 9, counts
