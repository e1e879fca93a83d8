"""自动开票: the settings a user keeps, and when the next automatic application comes.

A setting is kept for the whole account (every bound card) and, where the user chose so, for one
card (its own choice overrides the account's, on or off). What the job does with them lives in
``invoices/autoinvoice.py``: once a month's trips are all available, each card-month is applied
for with the card's default title and mailed, at most once (``AutoInvoiceRun``).

When a month is complete: trips appear from the N-th natural day after travel, N of the regime
in force on the travel day (``invoices.regimes.regime_on(day).available_after_days``), so the
last trips of a month are available on its last day + N, and that is the day the month is
applied for. A month missed (a job that did not run, a pause) is caught up: the latest available
month is applied for if it has not been yet; older months are left to the user.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from invoices.regimes import regime_on
from piaogen.errors import ServiceError

from .models import AutoInvoiceMode, AutoInvoiceRun, AutoInvoiceSetting, Binding
from .selectors import SENSITIVE_CARD_FIELDS, binding_for

# --- months ----------------------------------------------------------------------------------


def month_end(month: str) -> date:
    year, mon = int(month[:4]), int(month[5:7])
    return date(year, mon, calendar.monthrange(year, mon)[1])


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def next_month(month: str) -> str:
    return month_of(month_end(month) + timedelta(days=1))


def previous_month(month: str) -> str:
    return month_of(date(int(month[:4]), int(month[5:7]), 1) - timedelta(days=1))


def available_on(month: str) -> date:
    """The first day every trip of ``month`` is available: its last day + N natural days, N of
    the regime in force on that last travel day."""
    end = month_end(month)
    return end + timedelta(days=regime_on(end).available_after_days)


def latest_available_month(today: date | None = None) -> str:
    """The newest month whose trips are all available on ``today``."""
    today = today or timezone.localdate()
    month = previous_month(month_of(today))
    while available_on(month) > today:
        month = previous_month(month)
    return month


# --- reading the settings --------------------------------------------------------------------


@dataclass
class Effective:
    """The setting that governs one card: its own, else the account's, else none."""

    setting: AutoInvoiceSetting | None
    source: str  # "card" | "account" | "none"

    @property
    def enabled(self) -> bool:
        return bool(self.setting and self.setting.enabled)

    @property
    def paused(self) -> bool:
        return bool(self.setting and self.setting.enabled and self.setting.paused_at is not None)

    @property
    def active(self) -> bool:
        return bool(self.setting and self.setting.active)

    @property
    def mode(self) -> str:
        return self.setting.mode if self.setting else AutoInvoiceMode.MONTHLY

    @property
    def email(self) -> str:
        return self.setting.email if self.setting else ""

    @property
    def state(self) -> str:
        """on | paused | off"""
        return "paused" if self.paused else "on" if self.enabled else "off"


def settings_of(user: User) -> tuple[AutoInvoiceSetting | None, dict[int, AutoInvoiceSetting]]:
    """The account's setting and the per-card ones by binding id, in one query."""
    account, per_card = None, {}
    # The join to the binding is an outer one: the account's row (no binding) matches too.
    for row in AutoInvoiceSetting.objects.filter(user=user, binding__ended_at__isnull=True):
        if row.binding_id is None:
            account = row
        else:
            per_card[row.binding_id] = row
    return account, per_card


def effective(binding_id: int, account: AutoInvoiceSetting | None, per_card: dict) -> Effective:
    own = per_card.get(binding_id)
    if own is not None:
        return Effective(own, "card")
    if account is not None:
        return Effective(account, "account")
    return Effective(None, "none")


def effective_for_binding(binding: Binding) -> Effective:
    """The setting of one binding, read afresh (the job reads it under the card's lock)."""
    rows = list(
        AutoInvoiceSetting.objects.filter(user_id=binding.user_id, binding__isnull=True)
        | AutoInvoiceSetting.objects.filter(binding=binding)
    )
    account = next((r for r in rows if r.binding_id is None), None)
    return effective(binding.pk, account, {r.binding_id: r for r in rows if r.binding_id is not None})


@dataclass
class NextRun:
    month: str
    on: date
    due: bool  # available already: applied for at the job's next run (hourly)


def next_run(eff: Effective, done_months: set[str], today: date | None = None) -> NextRun | None:
    """When the card's next automatic application comes; None while it is off or paused.
    ``done_months``: the months the card already has a run for that needs nothing more."""
    if not eff.active:
        return None
    today = today or timezone.localdate()
    latest = latest_available_month(today)
    if latest not in done_months:
        return NextRun(latest, available_on(latest), True)
    month = next_month(latest)
    return NextRun(month, available_on(month), False)


def account_next_run(setting: AutoInvoiceSetting | None, today: date | None = None) -> NextRun | None:
    """The next month the account's setting applies for, and the day."""
    if setting is None or not setting.active:
        return None
    today = today or timezone.localdate()
    month = next_month(latest_available_month(today))
    return NextRun(month, available_on(month), False)


def runs_of(user: User, *, card_id: int | None = None, limit: int = 24) -> list[AutoInvoiceRun]:
    """The user's automatic runs, newest month first, with card and application (one query)."""
    qs = AutoInvoiceRun.objects.filter(user=user)
    if card_id is not None:
        qs = qs.filter(card_id=card_id)
    return list(
        qs.select_related("card", "application").defer(*SENSITIVE_CARD_FIELDS).order_by("-month", "-id")[:limit]
    )


def settled_months(runs: list[AutoInvoiceRun]) -> set[str]:
    return {r.month for r in runs if r.status != AutoInvoiceRun.Status.REFUSED}


# --- writing the settings ----------------------------------------------------------------------


def _invalid(field: str, message: str) -> ServiceError:
    return ServiceError("invalid", message, errors={field: [message]})


def _clean(enabled, mode, email, paused) -> tuple[bool | None, str | None, str | None, bool | None]:
    if enabled is not None and not isinstance(enabled, bool):
        raise _invalid("enabled", _("enabled 须为 true 或 false。"))
    if paused is not None and not isinstance(paused, bool):
        raise _invalid("paused", _("paused 须为 true 或 false。"))
    if mode is not None and mode not in AutoInvoiceMode.values:
        raise ServiceError(
            "invalid", _("开票方式须为按次或按月汇总。"), errors={"mode": [_("取值须为 per_trip 或 monthly。")]}
        )
    if email is not None:
        if not isinstance(email, str):
            raise _invalid("email", _("邮箱地址格式不正确。"))
        email = email.strip()
        if email:
            try:
                validate_email(email)
            except ValidationError:
                raise _invalid("email", _("邮箱地址格式不正确。")) from None
            if len(email) > 254:
                raise _invalid("email", _("邮箱地址格式不正确。"))
    return enabled, mode, email, paused


def _conflict() -> ServiceError:
    return ServiceError("conflict", _("设置正在被同时修改，请稍后重试。"), status=409)


@transaction.atomic
def auto_invoice_set(
    *,
    user: User,
    card_no: str | None = None,
    enabled: bool | None = None,
    mode: str | None = None,
    email: str | None = None,
    paused: bool | None = None,
) -> AutoInvoiceSetting:
    """Turns automatic invoicing on or off, for the account (``card_no`` None) or one bound card
    (404 when it is not the user's), and sets its mode, mail address and pause. What is not given
    stays; a card's first own setting starts from the account's mode and address. Turning off
    ends a pause; turning on again keeps the mode and the address."""
    enabled, mode, email, paused = _clean(enabled, mode, email, paused)
    binding = binding_for(user, card_no) if card_no is not None else None
    qs = AutoInvoiceSetting.objects.select_for_update()
    row = (qs.filter(binding=binding) if binding else qs.filter(user=user, binding__isnull=True)).first()
    created = row is None
    if row is None:
        row = AutoInvoiceSetting(user=user, binding=binding)
        account = AutoInvoiceSetting.objects.filter(user=user, binding__isnull=True).first() if binding else None
        if account is not None:
            row.enabled, row.mode, row.email, row.paused_at = (
                account.enabled,
                account.mode,
                account.email,
                account.paused_at,
            )
    if enabled is not None:
        row.enabled = enabled
    if mode is not None:
        row.mode = mode
    if email is not None:
        row.email = email
    if not row.enabled:
        row.paused_at = None
    elif paused is not None:
        if paused and row.paused_at is None:
            row.paused_at = timezone.now()
        elif not paused:
            row.paused_at = None
    row.updated_at = timezone.now()
    if created:
        try:
            with transaction.atomic():  # two first settings at once: the unique constraint keeps one
                row.save()
        except IntegrityError:
            raise _conflict() from None
    else:
        row.save()
    return row


@transaction.atomic
def auto_invoice_follow_account(*, user: User, card_no: str) -> None:
    """Drops a card's own setting: the account's governs it again. The run records stay."""
    binding = binding_for(user, card_no)
    row = AutoInvoiceSetting.objects.select_for_update().filter(binding=binding).first()
    if row is not None:
        row.delete()
