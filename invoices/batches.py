"""批量开票: one request of a fleet for a month across all, or the chosen, of its bound cards.

A batch is a grouping, not a new kind of issuing. Its preview plans every card-month as a single
application of it would be planned, and refuses, per card, what a single application of that
card-month would refuse: those cards are left out with the reason, and only when no card is left
is the whole request refused. Its submit runs the same planning again on the locked cards and
trips, compares the batch's digest with the one confirmed (409 ``plan_changed`` when anything
moved), and writes one consumption application per card-month in one transaction: the batch
stands with all its applications or not at all. Each application is then issued on its own by
the issuing task, with its own numbering, failure and reversal; the batch's progress is read
from them.

The cards are planned in one pass and the applications written set-wise (``batch_plan``): the
preview and the submit send the same handful of statements for 500 cards as for one. Every
query of trips names the batch's month: on PostgreSQL the trips' table is partitioned by month,
and a batch reads one partition however many cards it spans.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Count, Q, Sum
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from cards.identity import normalize_card_no
from cards.models import Card, CardType, InvoiceTitle
from cards.selectors import bound_cards
from piaogen.errors import ServiceError

from . import batch_plan, services
from .documents import archive, storage
from .models import Application, Batch, CardInvoiceBasis, Invoice, InvoiceState, Transit
from .regimes import DocumentKind

# The most cards one batch may span: its submit plans and writes them in one transaction.
MAX_CARDS = 500


@dataclass
class LeftOut:
    """A card the batch leaves out, and why (the refusal a single application would give)."""

    card: Card
    code: str
    reason: str

    def as_dict(self) -> dict:
        return {"card_no": self.card.card_no, "plate": self.card.plate, "code": self.code, "reason": self.reason}


@dataclass
class BatchPlan:
    """What a batch will issue: a plan per card-month that has something to invoice, made by the
    planner that issues, and the cards left out."""

    month: str
    mode: str
    title: InvoiceTitle
    cards: list[Card]
    all_cards: bool
    plans: list[services.ApplicationPlan] = field(default_factory=list)
    skipped: list[LeftOut] = field(default_factory=list)
    trip_ids: dict[int, list[int]] = field(default_factory=dict)  # per card, when planned under lock

    @property
    def invoice_count(self) -> int:
        return sum(p.invoice_count for p in self.plans)

    @property
    def total(self) -> int:
        return sum(p.total for p in self.plans)

    @property
    def items(self) -> int:
        return sum(p.items for p in self.plans)

    @property
    def sellers(self) -> list[services.SellerShare]:
        """Every seller of every card-month, by kind and kind of document: count and total."""
        out: dict[tuple[str, str, str], services.SellerShare] = {}
        for plan in self.plans:
            for s in plan.sellers:
                key = (s.tax_id, s.kind, s.document_kind)
                share = out.get(key)
                if share is None:
                    share = out[key] = services.SellerShare(s.name, s.tax_id, s.kind, s.document_kind)
                share.invoices += s.invoices
                share.total += s.total
        return sorted(out.values(), key=lambda s: (s.name, s.kind, s.document_kind))

    @property
    def seller_count(self) -> int:
        return len({s.tax_id for s in self.sellers})

    @property
    def document_kinds(self) -> list[tuple[str, object, int]]:
        counts: dict[str, int] = {}
        for plan in self.plans:
            for kind, _label, n in plan.document_kinds:
                counts[kind] = counts.get(kind, 0) + n
        return [(k, DocumentKind(k).label, counts[k]) for k in DocumentKind.values if k in counts]

    @property
    def fixes_basis(self) -> list[services.ApplicationPlan]:
        """The stored-value cards whose first application this is: it fixes their choice."""
        return [p for p in self.plans if p.fixes_basis]

    @property
    def digest(self) -> str:
        """A fingerprint of everything confirmed: month, mode, title, every card-month's own
        plan digest and every card left out with its reason's code."""
        h = hashlib.sha256()
        title = self.title
        h.update(repr(("batch", self.month, self.mode, title.pk, title.name, title.tax_id)).encode())
        for plan in sorted(self.plans, key=lambda p: p.card.pk):
            h.update(repr((plan.card.pk, plan.digest)).encode())
        for left in sorted(self.skipped, key=lambda s: s.card.pk):
            h.update(repr((left.card.pk, left.code)).encode())
        return h.hexdigest()[:32]


def _args(month, mode) -> None:
    services._consumption_args(month, mode, None)


def _cards(user: User, card_nos) -> tuple[list[Card], bool]:
    """The cards a batch spans, ordered by id (the order their rows are locked in): every card
    bound to ``user`` when ``card_nos`` is None, else the ones named, each of which must be
    bound to them (404 otherwise, as for a single application)."""
    if card_nos is None:
        cards = [b.card for b in bound_cards(user)[: MAX_CARDS + 1]]
        all_cards = True
    else:
        if not isinstance(card_nos, list) or not all(isinstance(c, str) for c in card_nos):
            raise ServiceError("invalid", _("card_nos 须为卡号的列表。"), errors={"card_nos": [_("须为字符串列表。")]})
        wanted = {normalize_card_no(c[:40]) for c in card_nos}
        if len(wanted) > MAX_CARDS:
            raise _too_many()
        found = {b.card.card_no: b.card for b in bound_cards(user).filter(card__card_no__in=wanted)}
        if wanted - set(found):
            raise Http404("card not bound to this account")
        cards = list(found.values())
        all_cards = False
    if not cards:
        raise ServiceError(
            "no_cards",
            _("请先绑定ETC卡，或选择至少一张卡。") if all_cards else _("请选择至少一张ETC卡。"),
            errors={"card_nos": [_("没有可开票的卡。")]},
        )
    if len(cards) > MAX_CARDS:
        raise _too_many()
    return sorted(cards, key=lambda c: c.pk), all_cards


def _too_many() -> ServiceError:
    return ServiceError(
        "too_many_cards",
        _("一次批量开票最多 %(n)s 张卡，请分批选择。") % {"n": MAX_CARDS},
        errors={"card_nos": [_("最多 %(n)s 张。") % {"n": MAX_CARDS}]},
    )


def _trip_counts(card_ids: list[int], month: str) -> dict[int, tuple[int, int]]:
    """Of these cards, (trips, open trips) in ``month`` of each that has any: one query, in the
    month's partition."""
    rows = (
        Transit.objects.filter(card_id__in=card_ids, month=month)
        .values("card_id")
        .annotate(n=Count("id"), open=Count("id", filter=Q(state=InvoiceState.OPEN)))
        .order_by()
    )
    return {r["card_id"]: (r["n"], r["open"]) for r in rows}


def _plan(*, month: str, mode: str, title: InvoiceTitle, cards: list[Card], all_cards: bool, lock: bool) -> BatchPlan:
    """Every card-month planned and every card left out, as card by card the single
    application's planner (``services._consumption_selection``, ``services._consumption_plan``)
    would: the same plans, the same refusals in the same words. A constant number of
    statements however many cards: the cards' trip counts, the stored-value cards' choices,
    then the open trips (locked, with ``lock``), their segments, operators, sections and
    covered shares for every card together (``batch_plan``)."""
    batch = BatchPlan(month=month, mode=mode, title=title, cards=cards, all_cards=all_cards)
    counts = _trip_counts([c.pk for c in cards], month)
    stored_value = [c.pk for c in cards if c.card_type == CardType.STORED_VALUE]
    bases: dict[int, CardInvoiceBasis] = {}
    if stored_value:
        qs = CardInvoiceBasis.objects.filter(card_id__in=stored_value).order_by("card_id")
        bases = {b.card_id: b for b in (qs.select_for_update() if lock else qs)}
    due: list[Card] = []
    left_out: dict[int, LeftOut] = {}
    for card in cards:
        trips, open_trips = counts.get(card.pk, (0, 0))
        basis = bases.get(card.pk)
        if not open_trips:
            left_out[card.pk] = _none_open(card, month, applied=trips > 0)
        elif basis is not None and basis.basis != CardInvoiceBasis.Basis.CONSUMPTION:
            left_out[card.pk] = LeftOut(card, "basis_locked", services._basis_refusal(basis).message)
        else:
            due.append(card)
    trips_of = batch_plan.read_open_trips([c.pk for c in due], month, lock=lock) if due else {}
    planned = batch_plan.plan_cards(trips_of, month=month, mode=mode, title=title)
    for card in cards:
        if card.pk in left_out:
            batch.skipped.append(left_out[card.pk])
            continue
        if card.pk not in trips_of:  # its open trips were applied for since they were counted
            batch.skipped.append(_none_open(card, month, applied=True))
            continue
        invoices, item_ids = planned[card.pk]
        plan = services.ApplicationPlan(
            Application.Kind.CONSUMPTION, card, month, mode, title, item_ids, invoices, whole_month=True
        )
        plan.basis = bases.get(card.pk)
        if not plan.invoices:
            batch.skipped.append(
                LeftOut(
                    card,
                    "nothing_to_invoice",
                    _("这张卡在 %(m)s 待开票的通行金额为零，没有需要开具的发票。") % {"m": month},
                )
            )
            continue
        batch.plans.append(plan)
        if lock:
            batch.trip_ids[card.pk] = [t[0] for t in trips_of[card.pk]]
    return batch


def _none_open(card: Card, month: str, *, applied: bool) -> LeftOut:
    """A card with no open trip in ``month``: every trip applied for or invoiced, or none."""
    if applied:
        return LeftOut(card, "already_applied", _("这个月的通行记录都已申请或开具发票。"))
    return LeftOut(card, "nothing_to_invoice", _("这张卡在 %(m)s 没有可开票的通行记录。") % {"m": month})


def _nothing(plan: BatchPlan) -> ServiceError:
    return ServiceError(
        "nothing_to_invoice",
        _("所选的 %(n)s 张卡在 %(m)s 都没有可开票的通行记录。") % {"n": len(plan.cards), "m": plan.month},
        extra={"skipped": [s.as_dict() for s in plan.skipped]},
    )


def batch_preview(*, user: User, month, mode, title_id, card_nos=None) -> BatchPlan:
    """What ``batch_submit`` with these inputs would issue, card by card, and the cards it
    leaves out; writes nothing. Refused (``nothing_to_invoice``) only when no card is left."""
    _args(month, mode)
    cards, all_cards = _cards(user, card_nos)
    title = services._title(user, title_id)
    plan = _plan(month=month, mode=mode, title=title, cards=cards, all_cards=all_cards, lock=False)
    if not plan.plans:
        raise _nothing(plan)
    return plan


def batch_submit(*, user: User, month, mode, title_id, card_nos=None, email: str = "", plan_digest: str = "") -> Batch:
    """Submits a batch: one consumption application per card-month with something to invoice,
    all in one transaction, written as ``services.consumption_create`` writes one
    (``batch_plan.consumption_create_many``). With ``plan_digest`` (from ``batch_preview``),
    refused with 409 ``plan_changed`` and nothing written unless the planning, run again under
    the locks, comes to exactly what was confirmed."""
    _args(month, mode)
    cards, all_cards = _cards(user, card_nos)
    title = services._title(user, title_id)
    email = services._email(email, title)
    with transaction.atomic():
        locked = {
            c.pk: c
            for c in Card.objects.select_for_update(of=("self",))
            .filter(pk__in=[c.pk for c in cards])
            .order_by("pk")
            .defer("id_number", "mobile")
        }
        cards = [locked[c.pk] for c in cards if c.pk in locked]
        plan = _plan(month=month, mode=mode, title=title, cards=cards, all_cards=all_cards, lock=True)
        if plan_digest:
            services._check_digest(plan, plan_digest)  # type: ignore[arg-type]  # anything with .digest
        if not plan.plans:
            raise _nothing(plan)
        batch = Batch.objects.create(
            user=user,
            month=month,
            mode=mode,
            title=title,
            email=email,
            all_cards=all_cards,
            card_count=len(cards),
            skipped=[s.as_dict() for s in plan.skipped],
            invoice_count=plan.invoice_count,
            total=plan.total,
        )
        batch_plan.consumption_create_many(
            user=user,
            plans=plan.plans,
            trip_ids=plan.trip_ids,
            month=month,
            mode=mode,
            title=title,
            email=email,
            batch_id=batch.pk,
        )
    return batch


# --- reading a batch --------------------------------------------------------------------------


STATUS_LABELS = {
    "submitted": gettext_lazy("已提交"),
    "issuing": gettext_lazy("开票中"),
    "issued": gettext_lazy("已开票"),
    "partly_failed": gettext_lazy("部分开票失败"),
    "failed": gettext_lazy("开票失败"),
}


@dataclass
class Progress:
    """Where a batch's applications stand, from one query."""

    applications: int = 0
    submitted: int = 0
    issuing: int = 0
    issued: int = 0
    failed: int = 0
    invoice_count: int = 0
    total: int = 0

    @property
    def done(self) -> int:
        return self.issued + self.failed

    @property
    def pending(self) -> bool:
        return self.done < self.applications

    @property
    def status(self) -> str:
        if self.pending:
            return "issuing" if self.issuing or self.done else "submitted"
        if not self.failed:
            return "issued"
        return "failed" if not self.issued else "partly_failed"

    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS[self.status])


def batch_of(user: User, batch_id) -> Batch:
    """The user's batch; 404 for anyone else's and for what is not an id."""
    try:
        pk = int(batch_id)
    except (TypeError, ValueError):
        raise Http404 from None
    batch = Batch.objects.filter(pk=pk, user=user).select_related("title").first() if 0 < pk < 2**63 else None
    if batch is None:
        raise Http404("batch not found")
    return batch


def batch_progress(batch: Batch) -> Progress:
    rows = (
        Application.objects.filter(batch=batch)
        .values("status")
        .annotate(n=Count("id"), issued_invoices=Sum("invoice_count"), issued_total=Sum("total"))
        .order_by()
    )
    p = Progress()
    for r in rows:
        p.applications += r["n"]
        setattr(p, r["status"], r["n"])
        if r["status"] == Application.Status.ISSUED:
            p.invoice_count += r["issued_invoices"] or 0
            p.total += r["issued_total"] or 0
    return p


def batch_applications(batch: Batch) -> list[Application]:
    """The batch's applications with their cards, by card number (one query)."""
    return list(
        Application.objects.filter(batch=batch)
        .select_related("card")
        .defer("card__id_number", "card__mobile")
        .order_by("card__card_no", "id")
    )


# The batch's page shows this many card-months a page (a fleet's batch spans up to 500).
PAGE_SIZE = 50


def batch_application_page(batch: Batch, *, after=None, before=None, size: int | None = None):
    """A page of the batch's applications with their cards, in the order the batch wrote them
    (its cards in the order they were registered; keyset on the id): one query however many
    cards the batch spans."""
    from .selectors import keyset_page

    qs = Application.objects.filter(batch=batch).select_related("card").defer("card__id_number", "card__mobile")
    return keyset_page(qs, ("id",), after=after, before=before, size=size or PAGE_SIZE)


def recent_batches(user: User, limit: int = 5) -> list[Batch]:
    return list(Batch.objects.filter(user=user).order_by("-created_at", "-id")[:limit])


# --- the batch's ZIP ------------------------------------------------------------------------------


class NotReady(Exception):
    """Some application is still issuing or some document is not stored yet."""


_FILE_FIELDS = ("id", "code", "number", "document_kind", "pdf_path", "xml_path")


def zip_members(batch: Batch) -> tuple[int, Iterator[archive.Member]]:
    """The number of invoices in the batch's ZIP, and its members, read lazily an application
    at a time (one card-month's rows in memory, never the batch's): each card's PDFs and XMLs
    and its summary sheet in a folder named by the card. NotReady while any application is
    issuing or any document is not stored; no invoices at all: (0, empty)."""
    progress = batch_progress(batch)
    if progress.pending:
        raise NotReady
    issued = list(
        Application.objects.filter(batch=batch, status=Application.Status.ISSUED)
        .order_by("card__card_no", "id")
        .values_list("id", "card__card_no", "summary_no")
    )
    invoices = Invoice.objects.filter(
        application__batch=batch, application__status=Application.Status.ISSUED, month=batch.month
    )
    if invoices.exclude(render_status=Invoice.RenderStatus.RENDERED).exists():
        raise NotReady
    for app_id, _card_no, summary_no in issued:
        if summary_no and not storage.exists(storage.summary_path(Application(pk=app_id, summary_no=summary_no))):
            raise NotReady

    def members() -> Iterator[archive.Member]:
        for app_id, card_no, summary_no in issued:
            rows = Invoice.objects.filter(application_id=app_id, month=batch.month).order_by("id").only(*_FILE_FIELDS)
            for member in archive.invoice_members(rows.iterator(chunk_size=500)):
                yield archive.Member(f"{card_no}/{member.name}", member.path)
            if summary_no:
                summary = archive.summary_member(Application(pk=app_id, summary_no=summary_no))
                if summary is not None:
                    yield archive.Member(f"{card_no}/{summary.name}", summary.path)

    return progress.invoice_count, members()


def zip_filename(batch: Batch) -> str:
    return f"invoices-batch-{batch.pk}-{batch.month}.zip"
