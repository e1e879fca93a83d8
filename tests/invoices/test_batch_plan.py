"""批量开票 planned in one pass and written set-wise (invoices/batch_plan.py): the same plans,
refusals, digest, applications, items, events and history as planning and writing card by card
with the single application's functions, in a number of statements that does not grow with the
cards; and the locks still let no trip be applied for twice."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.models import Count, Q
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils.translation import gettext as _
from simple_history.models import HistoricalRecords

from cards.models import Card, CardType
from invoices import batch_plan, batches, services
from invoices.models import (
    Application,
    ApplicationEvent,
    ApplicationItem,
    Batch,
    CardInvoiceBasis,
    Invoice,
    InvoiceState,
    Transit,
)
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


def per_card_submit(*, user, month, mode, title, card_nos, email="") -> Batch:
    """The batch's submit card by card: ``services.consumption_create`` for each card-month."""
    cards = sorted(Card.objects.filter(card_no__in=card_nos), key=lambda c: c.pk)
    with transaction.atomic():
        locked = {c.pk: c for c in Card.objects.select_for_update().filter(pk__in=[c.pk for c in cards])}
        cards = [locked[c.pk] for c in cards]
        plan = per_card_plan(month=month, mode=mode, title=title, cards=cards, all_cards=False, lock=True)
        batch = Batch.objects.create(
            user=user,
            month=month,
            mode=mode,
            title=title,
            email=email,
            all_cards=False,
            card_count=len(cards),
            skipped=[s.as_dict() for s in plan.skipped],
            invoice_count=plan.invoice_count,
            total=plan.total,
        )
        for card_plan in plan.plans:
            services.consumption_create(
                user=user,
                card=card_plan.card,
                month=month,
                mode=mode,
                title=title,
                email=email,
                trip_ids=plan.trip_ids[card_plan.card.pk],
                whole_month=True,
                batch_id=batch.pk,
            )
    return batch


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


def written(batch: Batch, card_ids: list[int], queued: list[int]) -> dict:
    """What a submit wrote, by card (ids and times aside, the batch's id named "B")."""
    apps = {a.pk: a for a in Application.objects.filter(batch=batch)}
    by_card = {a.pk: a.card_id for a in apps.values()}
    skip = {"id", "created_at", "queued_at", "batch"}

    def fields(obj) -> dict:
        return {f.attname: getattr(obj, f.attname) for f in Application._meta.concrete_fields if f.name not in skip}

    history = Application.history.model.objects.filter(id__in=list(apps)).order_by("history_id")
    return {
        "batch": {
            f.attname: getattr(batch, f.attname)
            for f in Batch._meta.concrete_fields
            if f.name not in {"id", "created_at"}
        },
        "applications": sorted(
            tuple(sorted((fields(a) | {"batch": a.batch_id == batch.pk}).items())) for a in apps.values()
        ),
        "history": sorted(
            (
                by_card[h.id],
                h.history_type,
                h.history_user_id,
                h.history_change_reason,
                tuple(sorted(fields(h).items())),
                h.batch_id == batch.pk,
            )
            for h in history
        ),
        "items": {
            card: sorted(
                ApplicationItem.objects.filter(
                    application__in=[a for a, c in by_card.items() if c == card]
                ).values_list("transit_id", "recharge_id")
            )
            for card in set(by_card.values())
        },
        "events": sorted(
            (
                by_card[e.application_id],
                e.kind,
                e.actor_id,
                e.reason,
                tuple(sorted({**e.detail, "batch": e.detail["batch"] == batch.pk}.items())),
            )
            for e in ApplicationEvent.objects.filter(application__in=list(apps))
        ),
        "bases": sorted(
            (b.card_id, b.basis, by_card.get(b.fixed_by_id, "before"))
            for b in CardInvoiceBasis.objects.filter(card_id__in=card_ids)
        ),
        "trips": sorted(Transit.objects.filter(card_id__in=card_ids).values_list("id", "month", "state")),
        "queued": sorted(by_card[pk] for pk in queued),
    }


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


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["per_trip", "monthly"])
def test_the_submit_writes_what_card_by_card_wrote(mixed, mode, monkeypatch):
    """The same batch submitted card by card (then rolled back) and set-wise: the same batch
    row, applications, history rows (same user, as a request's save writes them), items,
    events, stored-value choices, trip states and issuing queued for each application."""
    user = mixed.user.user
    title_ = services._title(user, mixed.company)
    ids = [c.pk for c in _cards(mixed.mixed)]
    queued: list[int] = []
    monkeypatch.setattr(services, "_queue", queued.append)  # card by card: one a card-month
    monkeypatch.setattr(services, "_queue_each", queued.extend)  # set-wise: all at once
    request = RequestFactory().post("/api/v1/app/batches")
    request.user = user
    HistoricalRecords.context.request = request
    try:

        class Undo(Exception):
            pass

        with pytest.raises(Undo), transaction.atomic():
            old = per_card_submit(user=user, month=MONTH, mode=mode, title=title_, card_nos=mixed.mixed, email="a@b.cn")
            before = written(old, ids, queued)
            raise Undo
        assert not Batch.objects.exists()
        queued.clear()
        new = batches.batch_submit(
            user=user, month=MONTH, mode=mode, title_id=mixed.company, card_nos=mixed.mixed, email="a@b.cn"
        )
        after = written(new, ids, queued)
    finally:
        del HistoricalRecords.context.request
    assert after == before
    assert len(after["applications"]) == 5 and len(after["queued"]) == 5
    assert {h[2] for h in after["history"]} == {user.pk}
    # in the order of the cards, as card by card wrote them: the batch's page pages by id
    apps = Application.objects.filter(batch=new).order_by("id").values_list("card_id", flat=True)
    assert list(apps) == sorted(apps)


@pytest.mark.django_db
def test_the_set_wise_writer_refuses_as_a_single_application_does(mixed, monkeypatch):
    """Under the batch's locks neither can happen; the writer still refuses, as
    ``services.consumption_create`` does, a stored-value card that took recharge invoices and
    a trip applied for a moment ago, and writes nothing."""
    monkeypatch.setattr(services, "_queue", lambda pk: None)
    user = mixed.user.user
    title_ = services._title(user, mixed.company)
    [plain, *_rest] = mixed.mixed
    recharge = mixed.mixed[6]
    with transaction.atomic():
        plan = batches._plan(
            month=MONTH, mode="per_trip", title=title_, cards=_cards([plain]), all_cards=False, lock=True
        )
    [card_plan] = plan.plans
    batch = Batch.objects.create(user=user, month=MONTH, mode="per_trip", title=title_)

    def write(plans, trip_ids):
        with transaction.atomic():
            batch_plan.consumption_create_many(
                user=user,
                plans=plans,
                trip_ids=trip_ids,
                month=MONTH,
                mode="per_trip",
                title=title_,
                email="",
                batch_id=batch.pk,
            )

    recharge_card = Card.objects.get(card_no=recharge)
    locked_basis = services.ApplicationPlan(
        "consumption", recharge_card, MONTH, "per_trip", title_, [], [], basis=recharge_card.invoice_basis
    )
    with pytest.raises(ServiceError) as refused:
        write([card_plan, locked_basis], plan.trip_ids | {recharge_card.pk: []})
    assert refused.value.code == "basis_locked"
    taken = Transit.objects.filter(card__card_no=mixed.mixed[2], month=MONTH).values_list("id", flat=True)
    with pytest.raises(ServiceError) as refused:
        write([card_plan], {card_plan.card.pk: [*plan.trip_ids[card_plan.card.pk], *taken]})
    assert refused.value.code == "already_applied" and "刚刚被申请" in refused.value.message
    assert not Application.objects.filter(batch=batch).exists()
    assert set(Transit.objects.filter(card__card_no=plain, month=MONTH).values_list("state", flat=True)) == {"open"}


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
def test_preview_and_submit_take_as_many_statements_for_30_cards_as_for_3(world, monkeypatch):
    monkeypatch.setattr(services, "_queue", lambda pk: None)
    user = world.user.user
    company = title(world.user, kind="enterprise", name="演示物流有限公司", tax_id=COMPANY_TAX_ID)
    counts = {}
    for n, serials in ((3, range(301, 304)), (30, range(401, 431))):
        card_nos = fleet_of(world, list(serials), stored_value=1)
        inputs = {"user": user, "month": MONTH, "mode": "per_trip", "title_id": company, "card_nos": card_nos}
        with CaptureQueriesContext(connection) as preview:
            plan = batches.batch_preview(**inputs)
        with CaptureQueriesContext(connection) as submit:
            batch = batches.batch_submit(**inputs, plan_digest=plan.digest)
        assert Application.objects.filter(batch=batch).count() == n - 1
        assert ApplicationItem.objects.filter(application__batch=batch).count() == 2 * (n - 1)
        counts[n] = (len(preview.captured_queries), len(submit.captured_queries))
    assert counts[3] == counts[30], counts
    # The preview: the cards, the title, the cards' trip counts, the stored-value cards'
    # choices, the open trips, their segments, operators, sections, covered shares. The submit:
    # those with the cards locked, then the batch, the applications, their history rows, the
    # stored-value choices, the trips marked, the events; the items' COPY (on PostgreSQL) is
    # not a query Django sees; the test's transaction adds a savepoint and its release.
    assert counts[30] == (9, 18 if connection.vendor == "postgresql" else 19), counts


# --- locks -------------------------------------------------------------------------------------------


def _at_once(*calls) -> list:
    """Runs each call in a thread of its own, all started together; what each returned or
    raised."""
    start = threading.Barrier(len(calls))
    out: list = [None] * len(calls)

    def run(i, call):
        try:
            start.wait(10)
            out[i] = call()
        except Exception as exc:  # the refusal is the point: recorded and asserted
            out[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out


def _each_trip_applied_once(card_nos: list[str]) -> None:
    items = list(
        ApplicationItem.objects.filter(transit__card__card_no__in=card_nos).values_list("transit_id", flat=True)
    )
    trips = Transit.objects.filter(card__card_no__in=card_nos, month=MONTH)
    assert sorted(items) == sorted(trips.values_list("id", flat=True))  # every trip once, none twice
    assert set(trips.values_list("state", flat=True)) == {InvoiceState.APPLIED}


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_batches_over_the_same_cards_at_once_apply_each_trip_once(world, no_queue):
    user = world.user.user
    company = title(world.user, kind="enterprise", name="演示物流有限公司", tax_id=COMPANY_TAX_ID)
    card_nos = fleet_of(world, list(range(501, 512)), stored_value=2)

    def batch():
        return batches.batch_submit(user=user, month=MONTH, mode="per_trip", title_id=company, card_nos=card_nos)

    outcomes = _at_once(batch, batch)
    made = [o for o in outcomes if isinstance(o, Batch)]
    refused = [o for o in outcomes if isinstance(o, ServiceError)]
    assert len(made) == 1 and [r.code for r in refused] == ["nothing_to_invoice"], outcomes
    assert {s["code"] for s in refused[0].extra["skipped"]} == {"already_applied", "nothing_to_invoice"}
    assert Application.objects.filter(batch=made[0]).count() == 10 and Batch.objects.count() == 1
    _each_trip_applied_once(card_nos)
    assert CardInvoiceBasis.objects.filter(card__card_no__in=card_nos).count() == 2


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_batch_and_single_applications_at_once_apply_each_trip_once(world, no_queue):
    user = world.user.user
    company = title(world.user, kind="enterprise", name="演示物流有限公司", tax_id=COMPANY_TAX_ID)
    card_nos = fleet_of(world, list(range(601, 609)), stored_value=1)

    def batch():
        return batches.batch_submit(user=user, month=MONTH, mode="monthly", title_id=company, card_nos=card_nos)

    def single(card_no):
        return lambda: services.application_submit_consumption(
            user=user, card_no=card_no, month=MONTH, title_id=company
        )

    outcomes = _at_once(batch, single(card_nos[0]), single(card_nos[3]), single(card_nos[-2]))
    assert all(isinstance(o, Batch | Application) or getattr(o, "code", "") == "already_applied" for o in outcomes), (
        outcomes
    )
    _each_trip_applied_once(card_nos[:-1])
    apps = Application.objects.filter(card__card_no__in=card_nos)
    assert apps.count() == 7  # one per card-month with trips, whichever took it
    assert CardInvoiceBasis.objects.get(card__card_no=card_nos[-2]).fixed_by in apps
