"""Reads of the cards app, scoped to a user (or to staff), with their joins baked in.

Lists never load the encrypted ID number and mobile of a card: they are deferred, so a page
cannot show them by accident and no row is decrypted for nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, QuerySet
from django.http import Http404
from django.utils import timezone

from accounts.models import User

from .identity import normalize_card_no
from .models import Binding, BindingAttempt, Card, InvoiceTitle, Issuer, IssuerNetworkCode

SENSITIVE_CARD_FIELDS = ("card__id_number", "card__mobile")


def bound_cards(user: User) -> QuerySet[Binding]:
    """The user's active bindings, newest first, with card, issuer and default title."""
    return (
        Binding.objects.filter(user=user, ended_at__isnull=True)
        .select_related("card", "card__issuer", "default_title")
        .defer(*SENSITIVE_CARD_FIELDS)
        .order_by("-bound_at", "-pk")
    )


def binding_for(user: User, card_no: str) -> Binding:
    """The user's active binding of ``card_no``; Http404 when the card is not bound to them."""
    binding = bound_cards(user).filter(card__card_no=normalize_card_no(card_no)).first()
    if binding is None:
        raise Http404("card not bound to this account")
    return binding


def unseen_endings(user: User) -> QuerySet[Binding]:
    """Bindings ended by the issuer or by staff that the user has not been told about yet."""
    return (
        Binding.objects.filter(
            user=user,
            ended_at__isnull=False,
            end_kind__in=[Binding.EndKind.PASSIVE, Binding.EndKind.STAFF],
            notice_seen_at__isnull=True,
        )
        .select_related("card", "card__issuer")
        .defer(*SENSITIVE_CARD_FIELDS)
        .order_by("ended_at", "pk")
    )


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
    return (
        BindingAttempt.objects.select_related("card", "card__issuer")
        .filter(public_id=binding_id, user=user, outcome=BindingAttempt.Outcome.PENDING, card__isnull=False)
        .first()
    )


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


def failures_today(*, user: User, card_no: str) -> tuple[int, int]:
    """Today's failed attempts of the account and of the card. A number the registry does not
    hold (a typo) counts towards the account's cap once however often it is tried again;
    malformed input never reaches the count."""
    failed = BindingAttempt.objects.filter(outcome__in=BindingAttempt.FAILURES, created_at__gte=local_day_start())
    mine = failed.filter(user=user)
    account = (
        mine.exclude(outcome=BindingAttempt.Outcome.CARD_NOT_FOUND).count()
        + mine.filter(outcome=BindingAttempt.Outcome.CARD_NOT_FOUND).values("card_no").distinct().count()
    )
    return account, failed.filter(card_no=card_no).count()


def client_card_failures_today(*, client: str, card_no: str) -> int:
    """Today's failed attempts at one card from one client (``client_digest``)."""
    if not client:
        return 0
    return BindingAttempt.objects.filter(
        card_no=card_no, client_digest=client, outcome__in=BindingAttempt.FAILURES, created_at__gte=local_day_start()
    ).count()


@dataclass
class CapStatus:
    account_failures: int
    account_cap: int
    account_reached: bool
    cards_reached: list[tuple[str, int]]  # (card number, failures today) of cards at their cap
    counted: list[BindingAttempt]  # today's failed attempts of the account
    resets_at: datetime


def binding_cap_status(user: User) -> CapStatus:
    """For the console: whether the account, or a card it tried today, reached today's cap,
    which attempts counted, and when the caps reset (the next 00:00 Asia/Shanghai)."""
    start = local_day_start()
    counted = list(
        BindingAttempt.objects.filter(user=user, outcome__in=BindingAttempt.FAILURES, created_at__gte=start)
        .defer("message")
        .order_by("created_at", "pk")
    )
    not_found = BindingAttempt.Outcome.CARD_NOT_FOUND
    account = sum(1 for a in counted if a.outcome != not_found) + len(
        {a.card_no for a in counted if a.outcome == not_found}
    )
    per_card = settings.BINDING_MAX_FAILURES_PER_CARD
    card_nos = {a.card_no for a in counted}
    per_card_failures = (
        BindingAttempt.objects.filter(card_no__in=card_nos, outcome__in=BindingAttempt.FAILURES, created_at__gte=start)
        .values("card_no")
        .annotate(n=Count("pk"))
        .order_by("card_no")
        if card_nos
        else []
    )
    reached = [(row["card_no"], row["n"]) for row in per_card_failures if row["n"] >= per_card]
    cap = settings.BINDING_MAX_FAILURES_PER_ACCOUNT
    return CapStatus(
        account_failures=account,
        account_cap=cap,
        account_reached=account >= cap,
        cards_reached=reached,
        counted=counted,
        resets_at=start + timedelta(days=1),
    )
