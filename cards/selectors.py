"""Reads of the cards app, scoped to a user (or to staff), with their joins baked in.

Lists never load the encrypted ID number and mobile of a card: they are deferred, so a page
cannot show them by accident and no row is decrypted for nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Max, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from accounts.models import Partner, User

from .identity import normalize_card_no
from .models import (
    Binding,
    BindingAttempt,
    BindingCapLift,
    BulkBinding,
    Card,
    InvoiceTitle,
    Issuer,
    IssuerNetworkCode,
)

SENSITIVE_CARD_FIELDS = ("card__id_number", "card__mobile")


def bound_cards(user: User) -> QuerySet[Binding]:
    """The user's active bindings, newest first, with card, issuer and default title."""
    return (
        Binding.objects.filter(user=user, ended_at__isnull=True)
        .select_related("card", "card__issuer", "default_title")
        .defer(*SENSITIVE_CARD_FIELDS)
        .order_by("-bound_at", "-pk")
    )


# A bound card as the App lists it, in plain values: the binding, its card and the card's
# issuer in one query, no model instance (cards.api.serializers.bound_cards_json shapes them).
BOUND_CARD_VALUES = (
    "id",
    "bound_at",
    "default_title_id",
    "card__card_no",
    "card__card_type",
    "card__plate",
    "card__plate_color",
    "card__vehicle_class",
    "card__holder_name",
    "card__issuer_id",
    "card__issuer__name",
    "card__issuer__province",
    "card__issuer__hotline",
    "card__issuer__is_demo",
)
BOUND_CARD_ORDER = ("bound_at", "id")  # newest bound first: read descending


def bound_card_values(user: User) -> QuerySet:
    """The user's active bindings as ``BOUND_CARD_VALUES`` dicts, newest bound first (the order
    of ``bound_cards``)."""
    return (
        Binding.objects.filter(user=user, ended_at__isnull=True).order_by("-bound_at", "-pk").values(*BOUND_CARD_VALUES)
    )


def card_search(query: str) -> Q:
    """Bindings whose card's plate or number holds ``query`` (what a fleet's clerk types to find
    one of hundreds of cards: "F00012", "豫F", the last digits of the number)."""
    digits = "".join(query.split())
    condition = Q(card__plate__icontains=digits)
    if digits.isdigit():
        condition |= Q(card__card_no__contains=digits)
    return condition


def bound_cards_named(user: User, *, card_nos: list[str], plates: list[str]) -> list[tuple[str, str]]:
    """(card number, plate) of the user's bound cards whose number is one of ``card_nos`` or
    whose plate is one of ``plates``, in one query: what a pasted list of a fleet's cards is
    resolved against (another account's card is never among them)."""
    if not card_nos and not plates:
        return []
    return list(
        Binding.objects.filter(user=user, ended_at__isnull=True)
        .filter(Q(card__card_no__in=card_nos) | Q(card__plate__in=plates))
        .order_by("-bound_at", "-pk")
        .values_list("card__card_no", "card__plate")
    )


def binding_for(user: User, card_no: str) -> Binding:
    """The user's active binding of ``card_no``; Http404 when the card is not bound to them."""
    binding = bound_cards(user).filter(card__card_no=normalize_card_no(card_no)).first()
    if binding is None:
        raise Http404("card not bound to this account")
    return binding


def titles(user: User) -> QuerySet[InvoiceTitle]:
    """The user's invoice titles (not deleted), newest first."""
    return InvoiceTitle.objects.filter(user=user, deleted_at__isnull=True).order_by("-created_at", "-pk")


def title_for(user: User, title_id: int) -> InvoiceTitle:
    if not 0 < int(title_id) < 2**63:
        raise Http404("title not found")
    title = titles(user).filter(pk=title_id).first()
    if title is None:
        raise Http404("title not found")
    return title


def issuer_for_card_no(card_no: str) -> Issuer | None:
    row = IssuerNetworkCode.objects.select_related("issuer").filter(code=normalize_card_no(card_no)[:4]).first()
    return row.issuer if row else None


def pending_attempt(user: User, binding_id) -> BindingAttempt | None:
    """The user's attempt waiting for its SMS code, or None (unknown, someone else's, or done)."""
    try:
        binding_id = uuid.UUID(str(binding_id))
    except (TypeError, ValueError, AttributeError):
        return None
    # An attempt of a bulk binding is confirmed with its batch (``pending_bulk``), never alone.
    return (
        BindingAttempt.objects.select_related("card", "card__issuer")
        .filter(
            public_id=binding_id,
            user=user,
            outcome=BindingAttempt.Outcome.PENDING,
            card__isnull=False,
            bulk__isnull=True,
        )
        .first()
    )


def network_codes_of(partner: Partner) -> set[str]:
    """The card network codes a partner may push cards and recharges of: those of the issuers it
    is the partner account of (``Issuer.partner``). The issuer owns the code; this is the one
    check of code ownership, for card registry pushes and recharge pushes alike."""
    return set(IssuerNetworkCode.objects.filter(issuer__partner=partner).values_list("code", flat=True))


def issuers_by_network_code() -> dict[str, Issuer]:
    """Every known network code with its issuer (a few dozen rows): what a list of card numbers
    is checked against in one query."""
    return {row.code: row.issuer for row in IssuerNetworkCode.objects.select_related("issuer")}


def _bulk_id(bulk_id) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(bulk_id))
    except (TypeError, ValueError, AttributeError):
        return None


def bulk_for(user: User, bulk_id) -> BulkBinding | None:
    """The user's bulk binding (批量绑卡), whatever its status, or None (unknown or someone else's)."""
    found = _bulk_id(bulk_id)
    return BulkBinding.objects.filter(public_id=found, user=user).first() if found else None


def pending_bulk(user: User, bulk_id) -> BulkBinding | None:
    """The user's bulk binding waiting for its SMS code, or None (unknown, someone else's, or done)."""
    found = _bulk_id(bulk_id)
    if found is None:
        return None
    return BulkBinding.objects.filter(public_id=found, user=user, status=BulkBinding.Status.PENDING).first()


def bulk_attempts(bulk: BulkBinding, *, outcome: str | None = None) -> QuerySet[BindingAttempt]:
    """The attempts of a bulk binding with their cards (never the encrypted ID and mobile), in
    the order of the list."""
    qs = (
        BindingAttempt.objects.filter(bulk=bulk, card__isnull=False)
        .select_related("card", "card__issuer")
        .defer(*SENSITIVE_CARD_FIELDS)
    )
    if outcome is not None:
        qs = qs.filter(outcome=outcome)
    return qs.order_by("pk")


# --- Staff -------------------------------------------------------------------------


def attempts(*, user: User | None = None, card_no: str | None = None) -> QuerySet[BindingAttempt]:
    """Binding attempts with their outcomes, newest first, for the contact centre."""
    qs = BindingAttempt.objects.select_related("user", "card", "card__issuer").defer(
        "user__mobile", *SENSITIVE_CARD_FIELDS
    )
    if user is not None:
        qs = qs.filter(user=user)
    if card_no:
        qs = qs.filter(card_no=normalize_card_no(card_no))
    return qs.order_by("-created_at", "-pk")


def binding_history(*, user: User | None = None, card: Card | None = None) -> QuerySet[Binding]:
    """Every binding, active and ended, for the contact centre."""
    qs = Binding.objects.select_related("user", "card", "card__issuer").defer("user__mobile", *SENSITIVE_CARD_FIELDS)
    if user is not None:
        qs = qs.filter(user=user)
    if card is not None:
        qs = qs.filter(card=card)
    return qs.order_by("-bound_at", "-pk")


# --- the daily caps on failed binding attempts ---------------------------------------------


def local_day_start() -> datetime:
    return timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)


def latest_lifts(*, user: User, card_nos, start: datetime) -> tuple[datetime | None, dict[str, datetime]]:
    """Today's latest lift of the account's cap, and of each card number's cap, in one query."""
    rows = (
        BindingCapLift.objects.filter(created_at__gte=start)
        .filter(
            Q(scope=BindingCapLift.Scope.ACCOUNT, user=user)
            | Q(scope=BindingCapLift.Scope.CARD, card_no__in=list(card_nos))
        )
        .values("scope", "card_no")
        .annotate(latest=Max("created_at"))
        .order_by()
    )
    account = None
    cards: dict[str, datetime] = {}
    for row in rows:
        if row["scope"] == BindingCapLift.Scope.ACCOUNT:
            account = row["latest"]
        else:
            cards[row["card_no"]] = row["latest"]
    return account, cards


def _account_count(attempts) -> int:
    """A number the registry does not hold (a typo) counts once however often it is tried."""
    not_found = BindingAttempt.Outcome.CARD_NOT_FOUND
    return sum(1 for a in attempts if a.outcome != not_found) + len(
        {a.card_no for a in attempts if a.outcome == not_found}
    )


def failures_today(*, user: User, card_no: str) -> tuple[int, int]:
    """Today's failed attempts of the account and of the card, each counted from the latest
    lift of its cap today (a supervisor's ``BindingCapLift``). A number the registry does not
    hold (a typo) counts towards the account's cap once however often it is tried again;
    malformed input never reaches the count."""
    start = local_day_start()
    account_lift, card_lifts = latest_lifts(user=user, card_nos=[card_no], start=start)
    failed = BindingAttempt.objects.filter(outcome__in=BindingAttempt.FAILURES, created_at__gte=start)
    mine = failed.filter(user=user, created_at__gt=account_lift) if account_lift else failed.filter(user=user)
    account = (
        mine.exclude(outcome=BindingAttempt.Outcome.CARD_NOT_FOUND).count()
        + mine.filter(outcome=BindingAttempt.Outcome.CARD_NOT_FOUND).values("card_no").distinct().count()
    )
    card = failed.filter(card_no=card_no)
    if card_no in card_lifts:
        card = card.filter(created_at__gt=card_lifts[card_no])
    return account, card.count()


@dataclass
class BulkFailures:
    """Today's failures that count towards the caps, for a list of card numbers at once."""

    account: int  # the account's, as ``failures_today`` counts them
    not_found: set[str]  # numbers the account already failed as unknown today (they count once)
    client_card: dict[str, int]  # this client's failures at each card of the list


def bulk_failures_today(*, user: User, client: str, card_nos: list[str]) -> BulkFailures:
    """``failures_today`` and ``client_card_failures_today`` for many cards in a few queries,
    each count from the latest lift of its cap today."""
    start = local_day_start()
    account_lift, card_lifts = latest_lifts(user=user, card_nos=card_nos, start=start)
    failed = BindingAttempt.objects.filter(outcome__in=BindingAttempt.FAILURES, created_at__gte=start)
    mine = failed.filter(user=user)
    if account_lift:
        mine = mine.filter(created_at__gt=account_lift)
    rows = list(mine.values_list("outcome", "card_no"))
    not_found = {card_no for outcome, card_no in rows if outcome == BindingAttempt.Outcome.CARD_NOT_FOUND}
    account = sum(1 for outcome, _card_no in rows if outcome != BindingAttempt.Outcome.CARD_NOT_FOUND)
    client_card: dict[str, int] = {}
    if client and card_nos:
        for card_no, at in failed.filter(client_digest=client, card_no__in=card_nos).values_list(
            "card_no", "created_at"
        ):
            lifted = card_lifts.get(card_no)
            if lifted is None or at > lifted:
                client_card[card_no] = client_card.get(card_no, 0) + 1
    return BulkFailures(account=account + len(not_found), not_found=not_found, client_card=client_card)


def _latest_card_lift(card_no: str, start: datetime) -> datetime | None:
    return (
        BindingCapLift.objects.filter(scope=BindingCapLift.Scope.CARD, card_no=card_no, created_at__gte=start)
        .aggregate(latest=Max("created_at"))
        .get("latest")
    )


def client_card_failures_today(*, client: str, card_no: str) -> int:
    """Today's failed attempts at one card from one client (``client_digest``), counted from
    the latest lift of that card's cap today (a supervisor's ``BindingCapLift``)."""
    if not client:
        return 0
    start = local_day_start()
    failed = BindingAttempt.objects.filter(
        card_no=card_no, client_digest=client, outcome__in=BindingAttempt.FAILURES, created_at__gte=start
    )
    lifted = _latest_card_lift(card_no, start)
    if lifted is not None:
        failed = failed.filter(created_at__gt=lifted)
    return failed.count()


@dataclass
class CapStatus:
    account_failures: int
    account_cap: int
    account_reached: bool
    cards_reached: list[tuple[str, int]]  # (card number, failures today) of cards at the ceiling
    counted: list[BindingAttempt]  # today's failed attempts of the account that count
    resets_at: datetime
    lifts: list[BindingCapLift] = field(default_factory=list)  # today's lifts for this account
    # (card number, failures) of cards this account is stopped on from a client it used today:
    # the per-(client, card) cap (``BINDING_MAX_FAILURES_PER_CLIENT_CARD``).
    cards_blocked: list[tuple[str, int]] = field(default_factory=list)

    @property
    def cards_liftable(self) -> list[tuple[str, int]]:
        """Every card whose cap a supervisor may lift: blocked for this account's client, or at
        the ceiling of all clients (one entry a card, the larger count)."""
        merged: dict[str, int] = {}
        for card_no, n in [*self.cards_blocked, *self.cards_reached]:
            merged[card_no] = max(n, merged.get(card_no, 0))
        return sorted(merged.items())


def binding_cap_status(user: User) -> CapStatus:
    """For the console: whether the account, or a card it tried today, reached today's cap,
    which attempts counted (those after the latest lift, if a supervisor lifted it), the lifts
    of today, and when the caps reset (the next 00:00 Asia/Shanghai)."""
    start = local_day_start()
    today = list(
        BindingAttempt.objects.filter(user=user, outcome__in=BindingAttempt.FAILURES, created_at__gte=start)
        .defer("message")
        .order_by("created_at", "pk")
    )
    card_nos = {a.card_no for a in today}
    account_lift, card_lifts = latest_lifts(user=user, card_nos=card_nos, start=start)
    counted = [a for a in today if account_lift is None or a.created_at > account_lift]
    account = _account_count(counted)
    per_card = settings.BINDING_MAX_FAILURES_PER_CARD
    per_client_card = settings.BINDING_MAX_FAILURES_PER_CLIENT_CARD
    per_card_failures: dict[str, int] = {}
    per_client_failures: dict[tuple[str, str], int] = {}
    my_clients = {(a.card_no, a.client_digest) for a in today if a.client_digest}
    if card_nos:
        # Every account's failures on these cards today (a few rows: a card at its cap records
        # no more failures), counted from each card's latest lift.
        for card_no, client, at in BindingAttempt.objects.filter(
            card_no__in=card_nos, outcome__in=BindingAttempt.FAILURES, created_at__gte=start
        ).values_list("card_no", "client_digest", "created_at"):
            lifted = card_lifts.get(card_no)
            if lifted is None or at > lifted:
                per_card_failures[card_no] = per_card_failures.get(card_no, 0) + 1
                if (card_no, client) in my_clients:
                    per_client_failures[(card_no, client)] = per_client_failures.get((card_no, client), 0) + 1
    reached = sorted((card_no, n) for card_no, n in per_card_failures.items() if n >= per_card)
    blocked_by_card: dict[str, int] = {}
    for (card_no, _client), n in per_client_failures.items():
        if n >= per_client_card:
            blocked_by_card[card_no] = max(n, blocked_by_card.get(card_no, 0))
    blocked = sorted(blocked_by_card.items())
    lifts = list(
        BindingCapLift.objects.filter(user=user, created_at__gte=start)
        .select_related("staff")
        .defer("staff__mobile")
        .order_by("created_at", "pk")
    )
    cap = settings.BINDING_MAX_FAILURES_PER_ACCOUNT
    return CapStatus(
        account_failures=account,
        account_cap=cap,
        account_reached=account >= cap,
        cards_reached=reached,
        counted=counted,
        resets_at=start + timedelta(days=1),
        lifts=lifts,
        cards_blocked=blocked,
    )
