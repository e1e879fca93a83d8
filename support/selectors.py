"""Reads of the contact centre, scoped and with their joins baked in.

User-facing reads are scoped to ``request.user``: someone else's ticket is ``Http404``. The
staff reads (the customer view, the dashboard) run a fixed number of queries whatever the
amount of data: lists are limited and their relations fetched in bulk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, cast

from django.db.models import Avg, Case, Count, F, Prefetch, Q, QuerySet, Value, When, prefetch_related_objects
from django.db.models.functions import ExtractHour, Substr, TruncDate
from django.http import Http404
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.identity import is_mobile, normalize_mobile
from accounts.models import User, mobile_digest
from cards.identity import normalize_card_no, normalize_plate, plate_kind
from cards.models import AutoInvoiceRun, AutoInvoiceSetting, Binding, BindingAttempt, Card, Issuer, IssuerNetworkCode
from cards.selectors import CapStatus, binding_cap_status
from invoices.models import Application, Invoice, IssueDay, Transit, TransitSegment
from invoices.selectors import newest_trips, page_months

from . import search
from .models import Call, Category, Faq, FaqCategory, Notification, Queue, Ticket, TicketMessage

# --- FAQ -------------------------------------------------------------------------------


def published_faqs() -> QuerySet[Faq]:
    return Faq.objects.filter(published=True).select_related("category")


def categories_with_faqs() -> list[FaqCategory]:
    return list(
        FaqCategory.objects.prefetch_related(
            Prefetch("faqs", queryset=Faq.objects.filter(published=True).order_by("ordering", "id"), to_attr="items")
        ).order_by("ordering", "id")
    )


def faq_search(query: str, *, limit: int = 10) -> list[Faq]:
    return search.rank(published_faqs(), query, limit=limit)


def faq_link(faq: Faq) -> str:
    """The URL of the page that solves the question, or "" when that page does not exist yet."""
    if not faq.link_url_name:
        return ""
    try:
        return reverse(faq.link_url_name)
    except NoReverseMatch:
        return ""


def issuer_hotlines() -> list[Issuer]:
    return list(Issuer.objects.order_by("province_code", "code").only("name", "province", "hotline", "is_demo"))


# --- the customer's own tickets ---------------------------------------------------------


def tickets_of(user: User) -> QuerySet[Ticket]:
    return Ticket.objects.filter(user=user).order_by("-updated_at", "-pk")


def ticket_of(user: User, ticket_id) -> Ticket:
    try:
        pk = int(str(ticket_id))
    except (TypeError, ValueError):
        raise Http404("no such ticket") from None
    if not 0 < pk < 2**62:
        raise Http404("no such ticket")
    ticket = (
        Ticket.objects.filter(user=user, pk=pk)
        .select_related("card", "transit", "invoice", "application")
        .defer("card__id_number", "card__mobile")
        .first()
    )
    if ticket is None:
        raise Http404("no such ticket")
    return ticket


def public_messages(ticket: Ticket) -> QuerySet[TicketMessage]:
    """What the customer sees of a ticket: their messages and staff's public replies."""
    return (
        TicketMessage.objects.filter(ticket=ticket, kind__in=TicketMessage.PUBLIC)
        .select_related("author")
        .only("kind", "body", "created_at", "seen_by_customer_at", "author__name", "author__is_staff")
        .order_by("created_at", "id")
    )


def unseen_replies(user: User) -> list[int]:
    """Tickets of ``user`` with a public reply they have not read yet."""
    return list(
        TicketMessage.objects.filter(
            ticket__user=user, kind=TicketMessage.Kind.PUBLIC_REPLY, seen_by_customer_at__isnull=True
        )
        .values_list("ticket_id", flat=True)
        .distinct()
        .order_by("ticket_id")[:100]
    )


# --- the customer's message centre ------------------------------------------------------

UNREAD_CAP = 100  # the badge counts up to this many ("99+")


def notifications_of(user: User, *, unread: bool = False) -> QuerySet[Notification]:
    """The user's messages, newest first; ``unread`` keeps the unread ones."""
    found = Notification.objects.filter(user=user)
    if unread:
        found = found.filter(read_at__isnull=True)
    return found.order_by("-created_at", "-pk")


def unread_notification_count(user: User) -> int:
    """Unread messages of the user, counted up to UNREAD_CAP: one query on the index
    (user, read_at, created_at)."""
    return Notification.objects.filter(user=user, read_at__isnull=True)[:UNREAD_CAP].count()


NOTICES_SHOWN = 50  # unbindings announced on one page at most; the others on the next


def message_centre_glance(user: User) -> tuple[int, list[int]]:
    """What every page shows of the user's message centre, in one query: the unread count (up to
    UNREAD_CAP, as ``unread_notification_count``) and the bindings whose ending the user has not
    been shown yet (``notifications.binding_notices_take``), oldest notices first in the rows."""
    due = Q(kind=Notification.Kind.BINDING_ENDED, shown_at__isnull=True)
    rows = list(
        Notification.objects.filter(Q(read_at__isnull=True) | due, user=user)
        .annotate(announce=Case(When(due, then=Value(1)), default=Value(0)))
        .order_by("-announce", "-created_at", "-pk")
        .values_list("announce", "read_at", "binding_id")[: UNREAD_CAP + NOTICES_SHOWN]
    )
    unread = sum(1 for _announce, read_at, _binding in rows if read_at is None)
    return min(unread, UNREAD_CAP), [binding for announce, _read, binding in rows if announce][:NOTICES_SHOWN]


def attachable(user: User) -> dict[str, Any]:
    """The user's own things a ticket may be about: cards, recent trips, applications, invoices."""
    active = Binding.objects.filter(user=user, ended_at__isnull=True).values("card_id")
    return {
        "cards": Card.objects.filter(bindings__user=user).distinct().defer("id_number", "mobile").order_by("card_no"),
        "transits": newest_trips(Transit.objects.filter(card_id__in=active), 50),
        "applications": Application.objects.filter(user=user).order_by("-created_at", "-pk")[:30],
        "invoices": Invoice.objects.filter(user=user, month__in=page_months(user, size=50)).order_by(
            "-issued_at", "-pk"
        )[:50],
    }


# --- staff: finding a customer ------------------------------------------------------------

INVOICE_NUMBER_RE = re.compile(r"^\d{8}$")
INVOICE_CODE_NUMBER_RE = re.compile(r"^(\d{12})[\s\-/]*(\d{8})$")
TICKET_REF_RE = re.compile(r"^[Tt]0*(\d{1,12})$")
MAX_CANDIDATES = 20


@dataclass
class CustomerSearch:
    query_kind: str  # mobile | card | plate | invoice | ticket | name | empty
    users: list[User]


def find_customers(query: str) -> CustomerSearch:
    """Accounts matching a full mobile (by digest), a card number, a plate, an invoice number
    (or code + number), a ticket reference, or a name."""
    raw = (query or "").strip()[:64]
    if not raw:
        return CustomerSearch("empty", [])
    compact = re.sub(r"\s", "", raw)
    users = User.objects.filter(is_staff=False).defer("mobile").order_by("-pk")
    mobile = normalize_mobile(compact)
    if is_mobile(mobile):
        digest = mobile_digest(mobile)
        found = users.filter(Q(mobile_digest=digest) | Q(support_calls__caller_digest=digest)).distinct()
        return CustomerSearch("mobile", list(found[:MAX_CANDIDATES]))
    card_no = normalize_card_no(compact)
    if re.fullmatch(r"\d{20}", card_no) and Card.objects.filter(card_no=card_no).exists():
        found = users.filter(Q(bindings__card__card_no=card_no) | Q(binding_attempts__card_no=card_no)).distinct()
        return CustomerSearch("card", list(found[:MAX_CANDIDATES]))
    match = INVOICE_CODE_NUMBER_RE.match(raw) or INVOICE_CODE_NUMBER_RE.match(compact)
    if match:
        found = users.filter(invoices__code=match.group(1), invoices__number=match.group(2)).distinct()
        return CustomerSearch("invoice", list(found[:MAX_CANDIDATES]))
    if INVOICE_NUMBER_RE.match(compact):
        found = users.filter(invoices__number=compact).distinct()
        return CustomerSearch("invoice", list(found[:MAX_CANDIDATES]))
    if re.fullmatch(r"\d{20}", card_no):
        # 20 digits and no such card: a card number attempted but never registered.
        found = users.filter(binding_attempts__card_no=card_no).distinct()
        return CustomerSearch("card", list(found[:MAX_CANDIDATES]))
    plate = normalize_plate(compact)
    if plate_kind(plate):
        found = users.filter(bindings__card__plate=plate).distinct()
        return CustomerSearch("plate", list(found[:MAX_CANDIDATES]))
    match = TICKET_REF_RE.match(compact)
    if match:
        found = users.filter(tickets__pk=min(int(match.group(1)), 2**62)).distinct()
        return CustomerSearch("ticket", list(found[:MAX_CANDIDATES]))
    found = users.filter(Q(name__icontains=raw) | Q(mobile_masked=compact))
    return CustomerSearch("name", list(found[:MAX_CANDIDATES]))


# --- staff: the customer view ------------------------------------------------------------

LIST_LIMIT = 20


@dataclass
class AttemptRow:
    attempt: BindingAttempt
    issuer: Issuer | None


@dataclass
class CustomerView:
    user: User
    bindings: list[Binding]
    failed_attempts: list[AttemptRow]
    transits: list[Transit]
    applications: list[Application]
    invoices: list[Invoice]
    tickets: list[Ticket]
    calls: list[Call]
    counts: dict[str, int] = field(default_factory=dict)
    notifications: list[Notification] = field(default_factory=list)
    cap: CapStatus | None = None
    # 自动开票: the account's setting first, then each card's; the latest runs, newest month first
    auto_settings: list[AutoInvoiceSetting] = field(default_factory=list)
    auto_runs: list[AutoInvoiceRun] = field(default_factory=list)


def customer_view(user_id) -> CustomerView:
    """Everything about one account on one screen, in a fixed number of queries."""
    try:
        pk = int(str(user_id))
    except (TypeError, ValueError):
        raise Http404("no such account") from None
    if not 0 < pk < 2**62:
        raise Http404("no such account")
    user = User.objects.filter(pk=pk, is_staff=False).defer("mobile").first()
    if user is None:
        raise Http404("no such account")
    bindings = list(
        Binding.objects.filter(user=user)
        .select_related("card", "card__issuer", "default_title")
        .defer("card__id_number", "card__mobile")
        .order_by("ended_at", "-bound_at", "-pk")[:LIST_LIMIT]
    )
    attempts = list(
        BindingAttempt.objects.filter(user=user)
        .exclude(outcome__in=(BindingAttempt.Outcome.PENDING, BindingAttempt.Outcome.BOUND))
        .select_related("card__issuer")
        .defer("card__id_number", "card__mobile")
        .order_by("-created_at", "-pk")[:LIST_LIMIT]
    )
    codes = {a.card_no[:4] for a in attempts if a.card_id is None}
    by_code = (
        {row.code: row.issuer for row in IssuerNetworkCode.objects.filter(code__in=codes).select_related("issuer")}
        if codes
        else {}
    )
    failed = [AttemptRow(a, a.card.issuer if a.card is not None else by_code.get(a.card_no[:4])) for a in attempts]
    cap = binding_cap_status(user)
    card_ids = {b.card_id for b in bindings}
    segments = TransitSegment.objects.select_related("operator").order_by("seq")
    transits = newest_trips(Transit.objects.filter(card_id__in=card_ids), LIST_LIMIT) if card_ids else []
    # their segments in their months' partitions alone
    months = sorted({t.month for t in transits})
    prefetch_related_objects(transits, Prefetch("segments", queryset=segments.filter(month__in=months)))
    applications = list(
        Application.objects.filter(user=user)
        .select_related("card", "title")
        .defer("card__id_number", "card__mobile")
        .order_by("-created_at", "-pk")[:LIST_LIMIT]
    )
    invoices = list(
        Invoice.objects.filter(user=user, month__in=page_months(user, size=LIST_LIMIT)).order_by("-issued_at", "-pk")[
            :LIST_LIMIT
        ]
    )
    tickets = list(
        Ticket.objects.filter(user=user)
        .select_related("assignee")
        .defer("assignee__mobile", "subject")
        .order_by("-created_at", "-pk")[:LIST_LIMIT]
    )
    calls = list(
        Call.objects.filter(user=user)
        .select_related("agent", "ticket")
        .defer("caller_number", "agent__mobile", "summary", "ticket__subject")
        .order_by("-started_at", "-pk")[:LIST_LIMIT]
    )
    counts = {
        "tickets_active": sum(1 for t in tickets if t.is_active),
        "bindings_active": sum(1 for b in bindings if b.ended_at is None),
    }
    notifications = list(Notification.objects.filter(user=user).order_by("-created_at", "-pk")[:LIST_LIMIT])
    auto_settings = sorted(
        AutoInvoiceSetting.objects.filter(user=user)
        .select_related("binding__card")
        .defer("binding__card__id_number", "binding__card__mobile"),
        key=lambda s: (s.binding is not None, s.binding.card.card_no if s.binding is not None else ""),
    )
    auto_runs = list(
        AutoInvoiceRun.objects.filter(user=user)
        .select_related("card", "application")
        .defer("card__id_number", "card__mobile")
        .order_by("-month", "card__card_no")[:LIST_LIMIT]
    )
    return CustomerView(
        user,
        bindings,
        failed,
        transits,
        applications,
        invoices,
        tickets,
        calls,
        counts,
        notifications,
        cap,
        auto_settings,
        auto_runs,
    )


# --- staff: the dashboard ---------------------------------------------------------------

DASHBOARD_DAYS = 14


@dataclass
class Bar:
    label: str
    value: int
    percent: int = 0
    code: str = ""  # what the bar stands for, where a colour tells it (a failure cause)


def _bars(pairs: list[tuple[str, int]]) -> list[Bar]:
    top = max((v for _, v in pairs), default=0) or 1
    return [Bar(label, value, round(value * 100 / top)) for label, value in pairs]


@dataclass
class StackedBar:
    """A bar split into parts (``code`` names the part's colour, ``value`` its share)."""

    label: str
    value: int
    percent: int
    parts: list[Bar]


BINDING_FAILURES_SHOWN = 10  # issuers on the dashboard's chart of binding failures


def binding_failures_by_issuer(start) -> dict:
    """Failed binding attempts since ``start`` by issuer (from the card number's network code)
    and cause, the issuers with most failures first: two queries whatever the volume. Every
    refusal counts but malformed input (not the issuer's business); attempts still waiting for
    their SMS code and successes do not."""
    Outcome = BindingAttempt.Outcome
    grouped = (
        BindingAttempt.objects.filter(created_at__gte=start)
        .exclude(outcome__in=(Outcome.PENDING, Outcome.BOUND, Outcome.INVALID))
        .annotate(code=Substr("card_no", 1, 4))
        .values_list("code", "outcome")
        .annotate(n=Count("id"))
        .order_by()
    )
    rows = list(grouped)
    codes = {code for code, _outcome, _n in rows}
    names = dict(IssuerNetworkCode.objects.filter(code__in=codes).values_list("code", "issuer__name") if codes else [])
    unknown = str(_("未知发行方"))
    by_issuer: dict[str, dict[str, int]] = {}
    for code, outcome, n in rows:
        causes = by_issuer.setdefault(names.get(code, unknown), {})
        causes[outcome] = causes.get(outcome, 0) + n
    labels = dict(Outcome.choices)
    ranked = sorted(by_issuer.items(), key=lambda item: (-sum(item[1].values()), item[0]))[:BINDING_FAILURES_SHOWN]
    top = max((sum(causes.values()) for _name, causes in ranked), default=0) or 1
    bars = []
    for name, causes in ranked:
        total = sum(causes.values())
        parts = [
            Bar(str(labels.get(outcome, outcome)), n, round(n * 100 / total), code=outcome)
            for outcome, n in sorted(causes.items(), key=lambda item: (-item[1], item[0]))
        ]
        bars.append(StackedBar(name, total, round(total * 100 / top), parts))
    shown = {part.code for bar in bars for part in bar.parts}
    legend = [{"code": code, "label": str(label)} for code, label in Outcome.choices if code in shown]
    return {"bars": bars, "legend": legend, "total": sum(sum(c.values()) for c in by_issuer.values())}


def dashboard(*, today=None) -> dict:
    """Counts of the last DASHBOARD_DAYS days, as bars ready to draw."""
    today = today or timezone.localdate()
    days = [today - timedelta(days=i) for i in range(DASHBOARD_DAYS - 1, -1, -1)]
    start = timezone.make_aware(datetime.combine(days[0], time.min))
    now = timezone.now()
    tz = timezone.get_current_timezone()

    recent = Ticket.objects.filter(created_at__gte=start)
    by_category = dict(recent.values_list("category").annotate(n=Count("id")).order_by())
    by_day = {
        row["day"]: row["n"]
        for row in recent.annotate(day=TruncDate("created_at", tzinfo=tz))
        .values("day")
        .annotate(n=Count("id"))
        .order_by()
    }
    overdue_open = Ticket.objects.filter(status__in=Ticket.ACTIVE, due_at__lt=now).count()
    late_resolved = Ticket.objects.filter(resolved_at__gte=start, resolved_at__gt=F("due_at")).count()
    resolved_total = Ticket.objects.filter(resolved_at__gte=start).count()
    calls = (
        Call.objects.filter(started_at__gte=start, agent__isnull=False)
        .values("agent__name", "agent__mobile_masked")
        .annotate(n=Count("id"))
        .order_by("-n")[:20]
    )
    # the months billed by the invoices of those days, so that only their partitions are read
    months = IssueDay.objects.filter(issued_on__gte=days[0]).values_list("month", flat=True).distinct()
    invoices_by_day = dict(
        Invoice.objects.filter(issued_on__gte=days[0], red=False, month__in=list(months))
        .values_list("issued_on")
        .annotate(n=Count("id"))
        .order_by()
    )
    open_by_queue = dict(
        Ticket.objects.filter(status__in=Ticket.ACTIVE).values_list("group").annotate(n=Count("id")).order_by()
    )
    binding_failures = binding_failures_by_issuer(start)
    return {
        "days": DASHBOARD_DAYS,
        "tickets_by_category": _bars([(str(label), by_category.get(code, 0)) for code, label in Category.choices]),
        "tickets_by_day": _bars([(d.strftime("%m-%d"), by_day.get(d, 0)) for d in days]),
        "invoices_by_day": _bars([(d.strftime("%m-%d"), invoices_by_day.get(d, 0)) for d in days]),
        "calls_by_agent": _bars([(c["agent__name"] or c["agent__mobile_masked"], c["n"]) for c in calls]),
        "open_by_queue": _bars([(str(label), open_by_queue.get(code, 0)) for code, label in Queue.choices]),
        "sla": {
            "overdue_open": overdue_open,
            "late_resolved": late_resolved,
            "resolved": resolved_total,
            "on_time_percent": round((resolved_total - late_resolved) * 100 / resolved_total)
            if resolved_total
            else None,
        },
        "tickets_total": sum(by_category.values()),
        "calls_total": Call.objects.filter(started_at__gte=start).count(),
        "invoices_total": sum(invoices_by_day.values()),
        "binding_failures": binding_failures,
        "hotline": hotline(start, today),
    }


# --- staff: the hotline ---------------------------------------------------------------------

NOTICE_HOURS = 12  # a call not wrapped up after this long no longer shows in the agent's notice
NOTICE_LIMIT = 5
CALLER_ACCOUNTS = 5
CALLBACK_DAYS = 7  # missed calls older than this leave the callback list
CALLBACK_LIMIT = 100


def open_calls(agent: User) -> list[Call]:
    """The calls from the switch this agent answered and has not wrapped up yet, newest first:
    what the console's call notice shows."""
    since = timezone.now() - timedelta(hours=NOTICE_HOURS)
    return list(
        Call.objects.filter(agent=agent, wrapped_at__isnull=True, started_at__gte=since)
        .exclude(source=Call.Source.CONSOLE)
        .defer("caller_number", "summary")
        .order_by("-started_at", "-pk")[:NOTICE_LIMIT]
    )


@dataclass
class CallerAccount:
    user: User
    open_tickets: list[Ticket]
    last_calls: list[Call]


def caller_accounts(call: Call) -> list[CallerAccount]:
    """Who is calling: the account the call is linked to, or else the accounts whose mobile is
    the caller's number or who called from it before; each with its open tickets and last
    calls. Three queries whatever the history."""
    users = User.objects.filter(is_staff=False).defer("mobile")
    if call.user_id:
        found = list(users.filter(pk=call.user_id))
    elif call.caller_digest:
        digest = call.caller_digest
        found = list(
            users.filter(Q(mobile_digest=digest) | Q(support_calls__caller_digest=digest))
            .distinct()
            .order_by("-pk")[:CALLER_ACCOUNTS]
        )
    else:
        found = []
    if not found:
        return []
    ids = [u.pk for u in found]
    tickets: dict[int, list[Ticket]] = {}
    for t in (
        Ticket.objects.filter(user_id__in=ids, status__in=Ticket.ACTIVE)
        .defer("subject")
        .order_by("due_at", "pk")[: 5 * len(ids)]
    ):
        tickets.setdefault(t.user_id, []).append(t)
    calls: dict[int | None, list[Call]] = {}
    for c in (
        Call.objects.filter(user_id__in=ids)
        .exclude(pk=call.pk)
        .select_related("agent")
        .defer("caller_number", "summary", "agent__mobile")
        .order_by("-started_at", "-pk")[: 5 * len(ids)]
    ):
        calls.setdefault(c.user_id, []).append(c)
    return [CallerAccount(u, tickets.get(u.pk, [])[:5], calls.get(u.pk, [])[:5]) for u in found]


def callbacks() -> list[Call]:
    """Missed and abandoned calls of the last CALLBACK_DAYS days nobody has reached back yet,
    the longest waiting first, each with the number of callbacks tried."""
    since = timezone.now() - timedelta(days=CALLBACK_DAYS)
    return list(
        Call.objects.filter(
            direction=Call.Direction.INBOUND,
            outcome__in=Call.UNANSWERED,
            called_back_at__isnull=True,
            started_at__gte=since,
        )
        .select_related("user")
        .defer("caller_number", "summary", "user__mobile")
        .annotate(attempts=Count("callbacks"))
        .order_by("started_at", "pk")[:CALLBACK_LIMIT]
    )


def mmss(seconds) -> str:
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def _rate(part: int, whole: int):
    return round(part * 100 / whole) if whole else None


def hotline(start, today) -> dict:
    """The hotline's figures since ``start``: inbound calls that finished, answered, missed and
    abandoned, answer rate, average wait (to answer) and handle time (answer to end), by agent
    and by queue; and today's calls by hour. Five queries."""
    A = Call.Outcome
    inbound = Call.objects.filter(direction=Call.Direction.INBOUND, started_at__gte=start, outcome__in=Call.FINISHED)
    figures = dict(
        total=Count("id"),
        answered=Count("id", filter=Q(outcome=A.ANSWERED)),
        missed=Count("id", filter=Q(outcome=A.MISSED)),
        abandoned=Count("id", filter=Q(outcome=A.ABANDONED)),
        wait=Avg("wait_seconds", filter=Q(outcome=A.ANSWERED)),
        handle=Avg("handle_seconds", filter=Q(outcome=A.ANSWERED)),
    )
    totals = inbound.aggregate(**figures)
    # Rows of plain dicts. django-stubs does not see annotations passed as **figures, and takes
    # the annotation "callbacks" for the model's reverse relation of that name, which values()
    # leaves out (Django refuses neither).
    queue_rows = inbound.values("queue").annotate(**figures)
    by_queue = cast("list[dict[str, Any]]", list(queue_rows.order_by("-total", "queue")[:20]))  # type: ignore[misc]
    agent_rows = (
        Call.objects.filter(started_at__gte=start, outcome=A.ANSWERED, agent__isnull=False)  # type: ignore[no-redef]
        .values("agent__name", "agent__mobile_masked")
        .annotate(
            n=Count("id"),
            inbound=Count("id", filter=Q(direction=Call.Direction.INBOUND)),
            callbacks=Count("id", filter=Q(source=Call.Source.CALLBACK)),
            handle=Avg("handle_seconds"),
            wait=Avg("wait_seconds", filter=Q(direction=Call.Direction.INBOUND)),
        )
        .order_by("-n")[:20]
    )
    by_agent = cast("list[dict[str, Any]]", list(agent_rows))
    tz = timezone.get_current_timezone()
    day_start = timezone.make_aware(datetime.combine(today, time.min))
    hours = dict(
        Call.objects.filter(direction=Call.Direction.INBOUND, started_at__gte=day_start)
        .annotate(hour=ExtractHour("started_at", tzinfo=tz))
        .values_list("hour")
        .annotate(n=Count("id"))
        .order_by()
    )
    queue_labels = dict(Queue.choices)

    def row(r: dict, label: str) -> dict:
        finished = r["total"]
        return {
            "label": label,
            "total": finished,
            "answered": r["answered"],
            "missed": r["missed"],
            "abandoned": r["abandoned"],
            "answer_rate": _rate(r["answered"], finished),
            "wait": mmss(r["wait"]),
            "handle": mmss(r["handle"]),
        }

    return {
        "totals": row(totals, str(_("全部"))),
        "by_queue": [row(r, str(queue_labels.get(r["queue"], r["queue"] or _("（未指定队列）")))) for r in by_queue],
        "by_agent": [
            {
                "label": r["agent__name"] or r["agent__mobile_masked"],
                "answered": r["n"],
                "inbound": r["inbound"],
                "callbacks": r["callbacks"],
                "wait": mmss(r["wait"]),
                "handle": mmss(r["handle"]),
            }
            for r in by_agent
        ],
        "by_hour": _bars([(f"{h:02d}", hours.get(h, 0)) for h in range(24)]),
        "today_total": sum(hours.values()),
        "waiting_callback": Call.objects.filter(
            direction=Call.Direction.INBOUND,
            outcome__in=Call.UNANSWERED,
            called_back_at__isnull=True,
            started_at__gte=timezone.now() - timedelta(days=CALLBACK_DAYS),
        ).count(),
    }


WORKSPACE_LIMIT = 20


@dataclass
class Workspace:
    mine: list[Ticket]
    unassigned: list[Ticket]
    mine_count: int
    unassigned_count: int
    overdue_count: int


def workspace(user: User) -> Workspace:
    """What an agent opens the console on: their active tickets, most urgent first, and the
    unassigned ones waiting to be taken."""
    active = (
        Ticket.objects.filter(status__in=Ticket.ACTIVE)
        .select_related("user")
        .defer("subject", "user__mobile")
        .order_by("due_at", "pk")
    )
    mine = active.filter(assignee=user)
    unassigned = active.filter(assignee__isnull=True)
    return Workspace(
        mine=list(mine[:WORKSPACE_LIMIT]),
        unassigned=list(unassigned[:WORKSPACE_LIMIT]),
        mine_count=mine.count(),
        unassigned_count=unassigned.count(),
        overdue_count=mine.filter(due_at__lt=timezone.now()).count(),
    )
