"""我的操作记录: the audit entries staff actions left, read as people write.

An entry is one of

- a history row (django-simple-history) whose ``history_user`` is the staff member: tickets,
  calls, the FAQ and its categories, the SLA table, bindings (staff unbinding), invoice titles
  (data fixes), accounts, issuers, partners, operators and road sections. Applications are left
  out: ``ApplicationEvent`` is their audit of record (a data fix writes both, and the event
  carries the reason);
- an ``ApplicationEvent`` with the staff member as ``actor`` (title corrected before issuing,
  e-mail re-sent, issuing retried);
- a ``Reveal`` (the original of a masked text opened) and a ``BindingCapLift`` (a binding cap
  lifted).

Every entry says who, when (Asia/Shanghai, to the minute), what (the action's name and the
object in words), why (the reason given) and, for changes, each changed field as its label with
the value before and after (choices by name, links by what they point to, free text through
``mask_text``).

Whose entries: a staff member's own; with ``support.view_team_audit`` (supervisors, admins)
their team's too. The roles model has no teams of its own: the contact centre is one floor, so a
supervisor's team is every active staff member in the ``agent`` group (the people a supervisor
assigns tickets to and answers for), plus the supervisor.

One page costs a fixed number of queries whatever the amount of history: one COUNT and one
UNION over the sources for the page's keys, then, per source on the page, the rows with the key
of their previous version and those previous versions.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.apps import apps
from django.contrib.auth.models import Group
from django.core.paginator import Page, Paginator
from django.db import models
from django.db.models import F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from accounts.roles import AGENT
from piaogen.history import EMPTY, readable_value
from piaogen.masking import mask_text

PERM_TEAM = "support.view_team_audit"
PER_PAGE = 20

# Historical models whose rows are not listed here, and why: an application's audit of record
# is its ApplicationEvent (reason included); the rest are never changed by staff.
SKIPPED_HISTORY = {"invoices.application"}
# Columns a change never shows: bookkeeping and copies of what is shown already.
SKIPPED_FIELDS = {"updated_at", "fingerprint", "question_tokens", "answer_tokens"}

EVENT_LABELS = {
    "title_corrected": gettext_lazy("开票前更正抬头"),
    "resend_requested": gettext_lazy("重发发票邮件"),
    "retried": gettext_lazy("重新开票"),
    "failed": gettext_lazy("标记开票失败"),
}


@dataclass
class Change:
    label: str
    old: str
    new: str


@dataclass
class Entry:
    when: datetime
    staff: User | None
    action: str
    obj: str
    reason: str = ""
    changes: list[Change] = field(default_factory=list)
    link: str = ""

    @property
    def who(self) -> str:
        if self.staff is None:
            return EMPTY
        return self.staff.name or self.staff.mobile_masked


# --- whose entries ---------------------------------------------------------------------------


def team_of(viewer: User) -> list[User]:
    """The staff whose entries ``viewer`` may read: themselves, and with ``view_team_audit``
    every active agent. The viewer comes first, the others by name."""
    members = [viewer]
    if viewer.has_perm(PERM_TEAM):
        agents = Group.objects.filter(name=AGENT).first()
        if agents is not None:
            members += list(
                agents.user_set.filter(is_active=True, is_staff=True)
                .exclude(pk=viewer.pk)
                .defer("mobile")
                .order_by("name", "pk")
            )
    return members


# --- the sources -------------------------------------------------------------------------------


@dataclass
class Source:
    key: int
    model: type[models.Model]
    when: str  # the time column
    staff: str  # the staff column (a foreign key to the user)
    render: object  # callable(list of rows, viewer) -> dict[pk, Entry]
    exclude: Q | None = None

    def keys(self, staff_ids: list[int]) -> QuerySet:
        rows = self.model._default_manager.filter(**{f"{self.staff}_id__in": staff_ids})
        if self.exclude is not None:
            rows = rows.exclude(self.exclude)
        return (
            rows.annotate(a_src=Value(self.key, output_field=IntegerField()), a_when=F(self.when), a_id=F("pk"))
            .values_list("a_src", "a_when", "a_id")
            .order_by()
        )


def _left_out(history_model) -> Q | None:
    """History rows not listed: a staff member's own account touched by their login (no field
    shown changes, no reason) is not an action on anyone's data."""
    if history_model.instance_type is User:
        return Q(id=F("history_user_id"), history_change_reason__isnull=True)
    return None


def _history_models() -> list[type[models.Model]]:
    from simple_history.models import HistoricalChanges

    found = []
    for model in apps.get_models():
        if not issubclass(model, HistoricalChanges):
            continue
        original = model.instance_type
        if original._meta.app_label not in {"accounts", "cards", "invoices", "support"}:
            continue
        if original._meta.label_lower in SKIPPED_HISTORY:
            continue
        found.append(model)
    return sorted(found, key=lambda m: m._meta.label_lower)


_SOURCES: list[Source] | None = None


def sources() -> list[Source]:
    global _SOURCES
    if _SOURCES is None:
        from cards.models import BindingCapLift
        from invoices.models import ApplicationEvent

        from .models import Reveal

        found: list[Source] = []
        for model in _history_models():
            found.append(Source(len(found), model, "history_date", "history_user", _render_history, _left_out(model)))
        found.append(Source(len(found), ApplicationEvent, "at", "actor", _render_events))
        found.append(Source(len(found), Reveal, "created_at", "staff", _render_reveals))
        found.append(Source(len(found), BindingCapLift, "created_at", "staff", _render_lifts))
        _SOURCES = found
    return _SOURCES


# --- the page ------------------------------------------------------------------------------------


def entries_page(*, viewer: User, staff_ids: list[int], page_number) -> tuple[Page, list[Entry]]:
    """One page of the entries of ``staff_ids``, newest first, rendered for ``viewer``."""
    all_sources = sources()
    parts = [source.keys(staff_ids) for source in all_sources]
    union = parts[0].union(*parts[1:], all=True).order_by("-a_when", "-a_src", "-a_id")
    page = Paginator(union, PER_PAGE).get_page(page_number)
    wanted: dict[int, list[int]] = defaultdict(list)
    for src, _when, pk in page.object_list:
        wanted[src].append(pk)
    staff = {u.pk: u for u in User.objects.filter(pk__in=staff_ids).defer("mobile")}
    rendered: dict[tuple[int, int], Entry] = {}
    for src, pks in wanted.items():
        source = all_sources[src]
        for pk, entry in source.render(source, pks, viewer).items():
            entry.staff = staff.get(entry.staff.pk if entry.staff else None, entry.staff)
            rendered[(src, pk)] = entry
    entries = [rendered[(src, pk)] for src, _when, pk in page.object_list if (src, pk) in rendered]
    return page, entries


def _local(when: datetime) -> datetime:
    return timezone.localtime(when) if timezone.is_aware(when) else when


def _change_link(viewer: User, model: type[models.Model], pk) -> str:
    opts = model._meta
    if not viewer.has_perm(f"{opts.app_label}.view_{opts.model_name}"):
        return ""
    try:
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[pk])
    except NoReverseMatch:
        return ""


# --- history rows --------------------------------------------------------------------------------


def _object_words(original: type[models.Model], record, cards: dict) -> str:
    """The object of a history row in words, masked."""
    label = original._meta.label_lower
    name = str(original._meta.verbose_name)
    if label == "cards.binding":
        card = cards.get(record.card_id)
        what = f"{card.card_no}（{card.plate}）" if card else f"#{record.card_id}"
        return f"{name} {what}"
    if label == "support.ticket":
        return f"T{record.id:08d} {record.subject_masked}"
    try:
        words = str(record.instance)
    except Exception:  # an object whose words need what the history row does not keep
        words = f"#{record.pk}"
    return f"{name} {mask_text(words)}"


def _changes(original: type[models.Model], record, previous) -> list[Change]:
    if previous is None:
        return []
    tracked = {f.name for f in original._meta.concrete_fields}
    skipped = [
        name
        for name in tracked
        if name in SKIPPED_FIELDS
        or name.endswith("_digest")
        or (name.endswith("_masked") and name.removesuffix("_masked") in tracked)
    ]
    delta = record.diff_against(previous, excluded_fields=skipped, foreign_keys_are_objs=True)
    out = []
    for change in delta.changes:
        try:
            model_field = original._meta.get_field(change.field)
        except Exception:
            continue
        old, new = readable_value(model_field, change.old), readable_value(model_field, change.new)
        if old != new:  # a time moved by seconds reads the same to the minute: not a change to a person
            out.append(Change(label=str(model_field.verbose_name), old=old, new=new))
    return out


def _render_history(source: Source, pks: list[int], viewer: User) -> dict[int, Entry]:
    history = source.model
    original = history.instance_type
    earlier = history.objects.filter(id=OuterRef("id")).filter(
        Q(history_date__lt=OuterRef("history_date"))
        | Q(history_date=OuterRef("history_date"), history_id__lt=OuterRef("history_id"))
    )
    rows = list(
        history.objects.filter(history_id__in=pks).annotate(
            prev_id=Subquery(earlier.order_by("-history_date", "-history_id").values("history_id")[:1])
        )
    )
    previous = history.objects.in_bulk([r.prev_id for r in rows if r.prev_id], field_name="history_id")
    cards = {}
    if original._meta.label_lower == "cards.binding":
        from cards.models import Card

        cards = Card.objects.only("card_no", "plate").in_bulk({r.card_id for r in rows})
    verbs = {"+": _("创建"), "~": _("修改"), "-": _("删除")}
    out = {}
    for record in rows:
        prev = previous.get(record.prev_id)
        out[record.history_id] = Entry(
            when=_local(record.history_date),
            staff=User(pk=record.history_user_id),
            action=f"{verbs.get(record.history_type, _('修改'))}{original._meta.verbose_name}",
            obj=_object_words(original, record, cards),
            reason=mask_text(record.history_change_reason or ""),
            changes=_changes(original, record, prev) if record.history_type == "~" else [],
            link=_change_link(viewer, original, record.id) if record.history_type != "-" else "",
        )
    return out


# --- application events, openings of originals, lifted caps ----------------------------------------


def _render_events(source: Source, pks: list[int], viewer: User) -> dict[int, Entry]:
    from cards.models import InvoiceTitle
    from invoices.models import Application, ApplicationEvent

    rows = list(ApplicationEvent.objects.filter(pk__in=pks))
    titles = InvoiceTitle.objects.only("name").in_bulk(
        {r.detail.get("title_id") for r in rows if isinstance(r.detail, dict) and r.detail.get("title_id")}
    )
    status = Application._meta.get_field("status")
    title_field = Application._meta.get_field("title")
    out = {}
    for event in rows:
        detail = event.detail if isinstance(event.detail, dict) else {}
        changes = []
        if event.kind == "title_corrected":
            before = titles.get(detail.get("title_id"))
            changes.append(
                Change(
                    str(title_field.verbose_name),
                    mask_text(before.name) if before else EMPTY,
                    mask_text(str(detail.get("name_after") or EMPTY)),
                )
            )
        elif event.kind == "retried":
            changes.append(
                Change(
                    str(status.verbose_name),
                    readable_value(status, Application.Status.FAILED),
                    readable_value(status, Application.Status.SUBMITTED),
                )
            )
        elif event.kind == "resend_requested" and detail.get("changed_email"):
            changes.append(Change(str(Application._meta.get_field("email").verbose_name), _("原邮箱"), _("新邮箱")))
        out[event.pk] = Entry(
            when=_local(event.at),
            staff=User(pk=event.actor_id),
            action=str(EVENT_LABELS.get(event.kind, _("处理开票申请"))),
            obj=_("开票申请 #%(id)s") % {"id": event.application_id},
            reason=mask_text(event.reason or ""),
            changes=changes,
            link=_change_link(viewer, Application, event.application_id),
        )
    return out


def _render_reveals(source: Source, pks: list[int], viewer: User) -> dict[int, Entry]:
    from .models import Reveal

    rows = (
        Reveal.objects.filter(pk__in=pks)
        .select_related("ticket", "call")
        .defer("ticket__subject", "call__summary", "call__caller_number")
    )
    out = {}
    for reveal in rows:
        about = reveal.ticket.ref if reveal.ticket_id else (str(reveal.call) if reveal.call_id else "")
        out[reveal.pk] = Entry(
            when=_local(reveal.created_at),
            staff=User(pk=reveal.staff_id),
            action=_("查看原文"),
            obj=f"{reveal.get_text_display()} {about}".strip(),
            reason=mask_text(reveal.reason),
        )
    return out


def _render_lifts(source: Source, pks: list[int], viewer: User) -> dict[int, Entry]:
    from cards.models import BindingCapLift

    rows = BindingCapLift.objects.filter(pk__in=pks).select_related("user").defer("user__mobile")
    label = str(BindingCapLift._meta.get_field("failures").verbose_name)
    out = {}
    for lift in rows:
        customer = lift.user.name or lift.user.mobile_masked
        link = ""
        if viewer.has_perm("accounts.view_user"):
            link = reverse("admin:support_customer_view", args=[lift.user_id])
        out[lift.pk] = Entry(
            when=_local(lift.created_at),
            staff=User(pk=lift.staff_id),
            action=_("解除绑卡失败上限"),
            obj=_("客户 %(who)s：%(what)s") % {"who": customer, "what": str(lift)},
            reason=mask_text(lift.reason),
            changes=[Change(label, str(lift.failures), "0")],
            link=link,
        )
    return out
