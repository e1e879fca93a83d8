"""Applications and invoice issuing.

Submitting writes the application (the outbox) and locks its trips or recharges; the issuing
task then claims it, plans every invoice in memory, takes the invoice numbers in blocks from the
sellers' counters, writes invoices and lines in bulk and marks the trips invoiced — all in one
transaction that either issues everything or nothing. Rendering and mail come after commit.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, validate_email
from django.db import transaction
from django.db.models import Prefetch, Q
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts.models import User
from cards.models import Card, CardType, InvoiceTitle, VehicleClass
from cards.selectors import binding_for, titles
from piaogen.bulk import insert_dicts, insert_rows
from piaogen.errors import ServiceError
from piaogen.queueing import enqueue, enqueue_each

from . import application_rows, numbering, partitions, regimes
from .documents import services as documents
from .models import (
    Application,
    ApplicationEvent,
    ApplicationItem,
    BuyerMonth,
    CardInvoiceBasis,
    Invoice,
    InvoiceKey,
    InvoiceLine,
    InvoiceMonth,
    InvoiceState,
    IssueDay,
    Operator,
    Recharge,
    RedLetterConfirmation,
    RoadSection,
    Transit,
    TransitSegment,
)
from .regimes import DocumentKind
from .selectors import application_months, covered_shares, invoice_month
from .tax import rate_for_section, split

logger = logging.getLogger(__name__)

TOLL_ITEM = "*经营租赁*通行费"
RECHARGE_ITEM = "*预付卡销售*ETC卡充值"
MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
# An application still 'issuing' this long after it started is taken to be orphaned.
STALE_ISSUING = timedelta(minutes=10)
# Why an application that retries and runs again could not be issued (the task's retries, or
# ISSUE_MAX_ATTEMPTS runs): what the user reads.
GAVE_UP = gettext_noop("系统繁忙，自动重试多次仍未成功。您的通行记录已释放，可重新申请；如多次失败请联系客服 95022。")
STALE_SUBMITTED = timedelta(minutes=2)


class IssueRefused(Exception):
    """A failure the user can read; the application ends 'failed' with this reason."""


def _event(app: Application, kind: str, *, actor: User | None = None, reason: str = "", **detail) -> None:
    ApplicationEvent.objects.create(application=app, kind=kind, actor=actor, reason=reason, detail=detail)


def enqueue_issue(app_id: int) -> bool:
    """Queues the issuing task; never raises. False when the broker could not take it: the
    application is committed (the outbox) and the sweep queues it once the broker is back.
    Publishing gives up within a second (``CELERY_TASK_PUBLISH_RETRY_POLICY``)."""
    return enqueue("invoices.tasks.issue_application", app_id, what=f"application {app_id}: issuing")


def _queue(app_id: int) -> None:
    transaction.on_commit(lambda: enqueue_issue(app_id))


# ids a fan-out message carries at most (a few KB of JSON; a worker queues them in about a second)
ISSUE_FAN_OUT_CHUNK = 1000


def enqueue_issue_each(app_ids: list[int]) -> bool:
    """Queues the issuing of many applications (a batch's card-months) in one publish, not one
    a card: a fan-out message (``invoices.tasks.issue_fan_out``) that a worker turns into one
    issuing task each (``applications_queue``), so that each keeps its own retries, time limit
    and redelivery. Never raises. False when the broker could not take it: the applications
    are committed in state ``submitted`` (the outbox) and the sweep queues them."""
    if len(app_ids) == 1:
        return enqueue_issue(app_ids[0])
    for first in range(0, len(app_ids), ISSUE_FAN_OUT_CHUNK):
        chunk = app_ids[first : first + ISSUE_FAN_OUT_CHUNK]
        what = f"applications {chunk[0]}…{chunk[-1]} ({len(chunk)}): issuing"
        if not enqueue("invoices.tasks.issue_fan_out", chunk, what=what):
            return False  # the next would wait out the same refusal; the sweep takes them all
    return True


def _queue_each(app_ids: list[int]) -> None:
    transaction.on_commit(lambda: enqueue_issue_each(app_ids))


def applications_queue(*, application_ids: list[int]) -> int:
    """The fan-out's work, in a worker: queues the issuing of each of these applications that
    is still ``submitted`` (a redelivered fan-out finds most issued already); returns how many
    were queued. A broker that refuses leaves the rest to the sweep
    (``piaogen.queueing.enqueue_each``)."""
    waiting = list(
        Application.objects.filter(pk__in=application_ids, status=Application.Status.SUBMITTED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return enqueue_each(
        "invoices.tasks.issue_application", [(pk,) for pk in waiting], what=f"{len(waiting)} applications: issuing"
    )


# --- submitting ---------------------------------------------------------------------------


def _title(user: User, title_id) -> InvoiceTitle:
    title = None
    if isinstance(title_id, int) and not isinstance(title_id, bool):
        title = InvoiceTitle.objects.filter(pk=title_id, user=user, deleted_at__isnull=True).first()
    if title is None:
        raise ServiceError("invalid", _("请选择您自己的一个发票抬头。"), errors={"title_id": [_("发票抬头不存在。")]})
    return title


def _email(email: str | None, title: InvoiceTitle) -> str:
    email = (email or "").strip() or title.email
    if email:
        try:
            validate_email(email)
            MaxLengthValidator(254)(email)  # what the column stores (EmailField)
        except ValidationError:
            raise ServiceError(
                "invalid", _("邮箱地址格式不正确。"), errors={"email": [_("邮箱地址格式不正确。")]}
            ) from None
    return email


def _basis_refusal(current: CardInvoiceBasis) -> ServiceError:
    label = _("按充值开票") if current.basis == CardInvoiceBasis.Basis.RECHARGE else _("按通行开票")
    return ServiceError(
        "basis_locked",
        _("这张储值卡已选择“%(basis)s”，同一张卡只能选择一种开票方式（充值发票或通行费发票），不能再更改。")
        % {"basis": label},
        extra={"basis": current.basis},
    )


def _basis_allows(card: Card, basis: str) -> CardInvoiceBasis | None:
    """The card's fixed choice (None while a stored-value card has none), or the refusal when
    it is not ``basis``: what the preview checks without locking or writing."""
    if card.card_type != CardType.STORED_VALUE:
        return None
    current = CardInvoiceBasis.objects.filter(card=card).first()
    if current is not None and current.basis != basis:
        raise _basis_refusal(current)
    return current


def _fix_basis(card: Card, basis: str, app: Application) -> None:
    """A stored-value card takes recharge or consumption invoices; the first application decides."""
    if card.card_type != CardType.STORED_VALUE:
        if basis == CardInvoiceBasis.Basis.RECHARGE:
            raise ServiceError(
                "invalid",
                _("只有储值卡可以按充值开票；记账卡请按通行记录开票。"),
                errors={"card_no": [_("不是储值卡。")]},
            )
        return
    current = CardInvoiceBasis.objects.select_for_update().filter(card=card).first()
    if current is None:
        CardInvoiceBasis.objects.create(card=card, basis=basis, fixed_by=app)
    elif current.basis != basis:
        raise _basis_refusal(current)


def _consumption_args(month, mode, transit_ids) -> None:
    if not isinstance(month, str) or not MONTH_RE.match(month):
        raise ServiceError("invalid", _("月份格式应为 YYYY-MM。"), errors={"month": [_("格式应为 YYYY-MM。")]})
    if mode not in Application.Mode.values:
        raise ServiceError(
            "invalid", _("开票方式须为按次或按月汇总。"), errors={"mode": [_("取值须为 per_trip 或 monthly。")]}
        )
    if transit_ids is not None and (
        not isinstance(transit_ids, list) or not all(isinstance(t, str) for t in transit_ids) or len(transit_ids) > 5000
    ):
        raise ServiceError(
            "invalid", _("transit_ids 须为通行记录编号的列表。"), errors={"transit_ids": [_("须为字符串列表。")]}
        )


def _consumption_selection(card: Card, month: str, transit_ids: list[str] | None, *, lock: bool):
    """The trips an application of ``card`` and ``month`` covers — the ones named, or every open
    trip of the month — as a queryset for the planner, or the refusal a person reads. Shared by
    the preview and the submit, so that both refuse the same things in the same words."""
    qs = Transit.objects.filter(card=card, month=month)
    if lock:
        qs = qs.select_for_update()
    rows: list[tuple[int, str, str]] | None
    if transit_ids is not None:
        wanted = set(transit_ids)
        selection = qs.filter(transit_id__in=wanted)
        rows = list(selection.values_list("id", "transit_id", "state"))
        missing = wanted - {r[1] for r in rows}
        if missing:
            raise ServiceError(
                "invalid",
                _("有通行记录不属于这张卡的这个月份：%(ids)s") % {"ids": ", ".join(sorted(missing)[:5])},
                errors={"transit_ids": [_("不属于该卡该月份。")]},
            )
        taken = [r[1] for r in rows if r[2] != InvoiceState.OPEN]
        if taken:
            raise ServiceError(
                "already_applied",
                _("所选通行记录中有 %(n)s 条已申请或已开票，请刷新后重新选择。") % {"n": len(taken)},
                extra={"transit_ids": taken[:50]},
            )
    else:
        selection = qs.filter(state=InvoiceState.OPEN)
        rows = list(selection.values_list("id", "transit_id", "state")) if lock else None
    if rows == [] or (rows is None and not selection.exists()):
        already = qs.exclude(state=InvoiceState.OPEN).exists()
        raise ServiceError(
            "already_applied" if already and transit_ids is None else "nothing_to_invoice",
            _("这个月的通行记录都已申请或开具发票。")
            if already
            else _("这张卡在 %(m)s 没有可开票的通行记录。") % {"m": month},
        )
    return selection, rows


def _check_digest(plan: ApplicationPlan, plan_digest: str) -> None:
    if plan_digest and plan.digest != plan_digest:
        raise ServiceError(
            "plan_changed",
            _("开票内容在您核对之后有了变化（例如有记录刚被申请或刚刚到达），没有开票；请重新核对后再确认。"),
            status=409,
        )


def application_submit_consumption(
    *,
    user: User,
    card_no: str,
    month: str,
    title_id,
    mode: str = Application.Mode.PER_TRIP,
    transit_ids: list[str] | None = None,
    email: str = "",
    plan_digest: str = "",
) -> Application:
    """Submits a consumption application. With ``plan_digest`` (from ``application_preview``),
    it is refused with ``plan_changed`` unless the planner, run again on the locked trips, plans
    exactly what the person confirmed."""
    _consumption_args(month, mode, transit_ids)
    binding = binding_for(user, card_no)
    title = _title(user, title_id)
    email = _email(email, title)
    with transaction.atomic():
        card = Card.objects.select_for_update().get(pk=binding.card_id)
        selection, rows = _consumption_selection(card, month, transit_ids, lock=True)
        if plan_digest:
            _check_digest(_consumption_plan(card, month, mode, title, selection), plan_digest)
        app = consumption_create(
            user=user,
            card=card,
            month=month,
            mode=mode,
            title=title,
            email=email,
            trip_ids=[r[0] for r in rows],
            whole_month=transit_ids is None,
        )
    return app


def consumption_create(
    *,
    user: User,
    card: Card,
    month: str,
    mode: str,
    title: InvoiceTitle,
    email: str,
    trip_ids: list[int],
    whole_month: bool,
    batch_id: int | None = None,
) -> Application:
    """Writes a consumption application (the outbox row) for trips already selected and locked
    by ``_consumption_selection``: fixes a stored-value card's basis, marks the trips applied,
    records its items and queues the issuing on commit. Runs inside the caller's transaction,
    the card row locked: a single application and 自动开票's card-months go through it. A
    batch's card-months are written together by ``batch_plan.consumption_create_many``, which
    writes for each what this writes for one (``tests/invoices/test_batch_plan.py``)."""
    app = Application.objects.create(
        user=user,
        card=card,
        kind=Application.Kind.CONSUMPTION,
        mode=mode,
        month=month,
        whole_month=whole_month,
        title=title,
        email=email,
        batch_id=batch_id,
    )
    _fix_basis(card, CardInvoiceBasis.Basis.CONSUMPTION, app)
    locked = Transit.objects.filter(id__in=trip_ids, month=month, state=InvoiceState.OPEN).update(
        state=InvoiceState.APPLIED, updated_at=timezone.now()
    )
    if locked != len(trip_ids):
        raise ServiceError("already_applied", _("所选通行记录刚刚被申请，请刷新后重试。"))
    ApplicationItem.objects.bulk_create(
        [ApplicationItem(application=app, transit_id=i) for i in trip_ids], batch_size=2000
    )
    if batch_id:
        _event(app, "submitted", actor=user, trips=len(trip_ids), batch=batch_id)
    else:
        _event(app, "submitted", actor=user, trips=len(trip_ids))
    _queue(app.pk)
    return app


def application_reapply(*, user: User, application_id: int, title_id=None, email: str = "") -> Application:
    """重新申请 in one step: a failed consumption application's trips that are open again,
    applied for anew with its month and mode, under the title given (by default its own, as
    it reads now: a corrected title is what the new invoices carry)."""
    failed = Application.objects.filter(pk=application_id, user=user).select_related("card").first()
    if failed is None:
        raise ServiceError("not_found", _("找不到该开票申请。"), status=404)
    if failed.status != Application.Status.FAILED or failed.kind != Application.Kind.CONSUMPTION:
        raise ServiceError("invalid", _("只有开票失败的通行费申请可以一键重新申请。"))
    trips = list(
        Transit.objects.filter(application_items__application=failed, month=failed.month, state=InvoiceState.OPEN)
        .order_by("id")
        .values_list("transit_id", flat=True)
    )
    if not trips:
        raise ServiceError("nothing_to_invoice", _("这个申请的通行记录都已重新申请或开票，无需再申请。"))
    app = application_submit_consumption(
        user=user,
        card_no=failed.card.card_no,
        month=failed.month,
        title_id=failed.title_id if title_id is None else title_id,
        mode=failed.mode or Application.Mode.PER_TRIP,
        transit_ids=trips,
        email=email or failed.email,
    )
    return app


def _recharge_args(recharge_ids) -> None:
    if (
        not isinstance(recharge_ids, list)
        or not recharge_ids
        or len(recharge_ids) > 5000
        or not all(isinstance(r, str) for r in recharge_ids)
    ):
        raise ServiceError(
            "invalid", _("请选择要开票的充值记录。"), errors={"recharge_ids": [_("须为非空的充值流水号列表。")]}
        )


def _recharge_selection(card: Card, recharge_ids: list[str], *, lock: bool):
    """The named recharges of ``card`` (a queryset for the planner) and their (id, month) rows,
    or the refusal a person reads; shared by the preview and the submit."""
    if card.card_type != CardType.STORED_VALUE:
        raise ServiceError(
            "invalid", _("只有储值卡可以按充值开票；记账卡请按通行记录开票。"), errors={"card_no": [_("不是储值卡。")]}
        )
    qs = Recharge.objects.filter(card=card, recharge_id__in=set(recharge_ids))
    if lock:
        qs = qs.select_for_update()
    rows = list(qs.values_list("id", "recharge_id", "state", "month"))
    if set(recharge_ids) - {r[1] for r in rows}:
        raise ServiceError("invalid", _("有充值记录不属于这张卡。"), errors={"recharge_ids": [_("不属于该卡。")]})
    if any(r[2] != InvoiceState.OPEN for r in rows):
        raise ServiceError("already_applied", _("所选充值记录中有已申请或已开票的，请刷新后重新选择。"))
    return qs, rows


def application_submit_recharge(
    *, user: User, card_no: str, recharge_ids, title_id, email: str = "", plan_digest: str = ""
) -> Application:
    """Submits a recharge application; its month is the recharges' month (the latest one when
    they span several). ``plan_digest`` as for consumption."""
    _recharge_args(recharge_ids)
    binding = binding_for(user, card_no)
    title = _title(user, title_id)
    email = _email(email, title)
    with transaction.atomic():
        card = Card.objects.select_for_update().get(pk=binding.card_id)
        selection, rows = _recharge_selection(card, recharge_ids, lock=True)
        if plan_digest:
            _check_digest(_recharge_plan(card, title, selection), plan_digest)
        app = Application.objects.create(
            user=user,
            card=card,
            kind=Application.Kind.RECHARGE,
            title=title,
            email=email,
            month=max(r[3] for r in rows),
        )
        _fix_basis(card, CardInvoiceBasis.Basis.RECHARGE, app)
        ids = [r[0] for r in rows]
        Recharge.objects.filter(id__in=ids).update(state=InvoiceState.APPLIED, updated_at=timezone.now())
        ApplicationItem.objects.bulk_create([ApplicationItem(application=app, recharge_id=i) for i in ids])
        _event(app, "submitted", actor=user, recharges=len(ids))
        _queue(app.pk)
    return app


def _pending_change_exists(invoice_ids, month: str | None = None) -> bool:
    """A title change or reversal already waiting on any of these invoices (of ``month``, when
    the caller knows it: their partition alone is read)."""
    pending = Q(status__in=[Application.Status.SUBMITTED, Application.Status.ISSUING])
    of_invoices = Q(original__invoices__id__in=invoice_ids)
    if month:
        of_invoices &= Q(original__invoices__month=month)
    return (
        Application.objects.filter(
            pending, kind=Application.Kind.REVERSAL, invoice_to_reverse_id__in=invoice_ids
        ).exists()
        or Application.objects.filter(pending, of_invoices, kind=Application.Kind.TITLE_CHANGE).exists()
    )


def invoices_buyer(app: Application) -> dict | None:
    """The buyer block printed on an application's live invoices (what a title change would
    replace), as ``_buyer`` gives it for a title; None when none stands."""
    buyer = (
        app.invoices.filter(red=False, status=Invoice.Status.NORMAL)
        .order_by("id")
        .values("buyer_name", "buyer_tax_id", "buyer_address_phone", "buyer_bank_account")
        .first()
    )
    return cast("dict[str, Any] | None", buyer)


def title_change_choices(*, user: User, app: Application) -> tuple[dict | None, list[InvoiceTitle]]:
    """What 换票 offers: the buyer block on the application's live invoices, and the user's
    titles that would print a different one (the same block would change nothing)."""
    current = invoices_buyer(app)
    return current, [t for t in titles(user) if _buyer(t) != current]


def reversal_pending(invoice_id: int) -> bool:
    """A reversal or title change of this invoice is submitted and not issued yet."""
    return _pending_change_exists([invoice_id])


def application_title_change(*, user: User, application_id: int, title_id, email: str = "") -> Application:
    original = Application.objects.filter(pk=application_id, user=user).first()
    if original is None:
        raise ServiceError("not_found", _("找不到该开票申请。"), status=404)
    title = _title(user, title_id)
    email = _email(email, title) if email else original.email
    with transaction.atomic():
        original = Application.objects.select_for_update().get(pk=original.pk)
        if original.status != Application.Status.ISSUED:
            raise ServiceError("invalid", _("只有已开票的申请可以换票。"))
        live = original.invoices.filter(red=False, status=Invoice.Status.NORMAL)
        if not live.exists():
            raise ServiceError("already_reversed", _("这个申请的发票都已红冲，无需换票。"))
        # A fiscal e-bill's payer is the one registered before the trip (2020 regime): it is not
        # re-issued under another title. The application's other documents are.
        targets = list(live.exclude(document_kind=DocumentKind.FISCAL_E_BILL).values_list("id", flat=True))
        if not targets:
            raise ServiceError(
                "fiscal_not_changeable",
                _(
                    "这个申请只有通行费财政电子票据。财政电子票据的交款人信息以通行前登记的为准，"
                    "不能换开；请在下次通行前修改ETC卡的默认抬头。"
                ),
            )
        if _buyer(title) == invoices_buyer(original):
            raise ServiceError(
                "same_title",
                _("这些发票的抬头已经是“%(name)s”，换票不会改变任何内容；请选择另一个抬头，或先修改抬头信息。")
                % {"name": title.name},
                errors={"title_id": [_("与发票上现有的抬头相同。")]},
            )
        if _pending_change_exists(targets):
            raise ServiceError("already_applied", _("这个申请已有正在处理的换票或红冲，请稍候。"))
        app = Application.objects.create(
            user=user,
            card=original.card,
            kind=Application.Kind.TITLE_CHANGE,
            mode=original.mode,
            month=original.month,
            title=title,
            email=email,
            original=original,
        )
        _event(app, "submitted", actor=user, invoices=len(targets))
        _queue(app.pk)
    return app


def invoice_reverse(*, user: User, invoice_id: int, reason: str = "") -> Application:
    month = invoice_month(invoice_id)
    invoice = Invoice.objects.filter(pk=invoice_id, month=month, user=user).first() if month else None
    if invoice is None:
        raise ServiceError("not_found", _("找不到该发票。"), status=404)
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk, month=invoice.month)
        if invoice.red:
            raise ServiceError("invalid", _("红字发票不能再红冲。"))
        if invoice.status == Invoice.Status.REVERSED:
            raise ServiceError("already_reversed", _("这张发票已经红冲，不能重复红冲。"))
        if _pending_change_exists([invoice.pk], invoice.month):
            raise ServiceError("already_reversed", _("这张发票的红冲或换票正在处理中，不能重复申请。"))
        app = Application.objects.create(
            user=user,
            card=invoice.card,
            kind=Application.Kind.REVERSAL,
            month=invoice.month,
            title=invoice.application.title,
            email=invoice.application.email,
            invoice_to_reverse=invoice,
        )
        _event(app, "submitted", actor=user, reason=reason[:300], invoice=invoice.reference)
        _queue(app.pk)
    return app


# --- issuing --------------------------------------------------------------------------------


@dataclass
class LinePlan:
    item: str
    plate: str
    vehicle_class: str
    date_from: date
    date_to: date
    net: int
    rate: int | None
    tax: int
    transit_id: int | None = None
    recharge_id: int | None = None


@dataclass
class InvoicePlan:
    province_code: str
    seller: dict
    buyer: dict
    kind: str
    plate: str
    month: str
    lines: list[LinePlan] = field(default_factory=list)
    red: bool = False
    original_id: int | None = None
    remarks: str = ""
    document_kind: str = DocumentKind.VAT_E_INVOICE
    # 数电 red-letter: the original's number, for the 红字确认 record written with it
    original_number: str = ""

    @property
    def total_net(self) -> int:
        return sum(line.net for line in self.lines)

    @property
    def total_tax(self) -> int:
        return sum(line.tax for line in self.lines)


def _vehicle_label(value: str) -> str:
    return str(VehicleClass(value).label) if value in VehicleClass.values else value


def _buyer(title: InvoiceTitle) -> dict:
    return {
        "buyer_name": title.name,
        "buyer_tax_id": title.tax_id,
        "buyer_address_phone": " ".join(x for x in (title.address, title.phone) if x),
        "buyer_bank_account": " ".join(x for x in (title.bank, title.bank_account) if x),
    }


def _operator_seller(op) -> dict:
    return {
        "operator_id": op.pk,
        "seller_name": op.name,
        "seller_tax_id": op.tax_id,
        "seller_address_phone": " ".join(x for x in (op.address, op.phone) if x),
        "seller_bank_account": " ".join(x for x in (op.bank, op.bank_account) if x),
        "machine_no": op.machine_no,
    }


OPERATOR_FIELDS = ("name", "tax_id", "address", "phone", "bank", "bank_account", "machine_no", "province_code")
SECTION_FIELDS = ("grade", "property", "construction_start", "simplified_method")
# (id, plate, vehicle class, entry time, travel date, exit time) of a trip to plan
PlannedTrip = tuple[int, str, str, datetime, date, datetime]
# (operator id, section id, fee) of one of a trip's segments, in their order
PlannedSegment = tuple[int, int, int]


class ConsumptionPlanner:
    """The one planner of consumption invoices: a card-month's trips and their segments, rows
    already read, into the invoices they yield in ``mode``. ``plan_consumption`` reads the rows
    of one application and plans it; ``batch_plan.plan_cards`` reads every card of a batch at
    once and plans each card-month with the same planner. What does not depend on the card
    (rates, kinds of document, labels, sellers) is worked out once. Writes nothing."""

    def __init__(
        self,
        *,
        month: str,
        mode: str,
        operators: dict[int, Operator],
        sections: dict[int, RoadSection],
        covered: set,
    ) -> None:
        self.month = month
        self.monthly = mode == Application.Mode.MONTHLY
        self.operators = operators
        self.sections = sections
        self.sellers = {pk: _operator_seller(op) for pk, op in operators.items()}
        # Shares a live invoice still covers (the trip was partly reversed) are not issued again.
        self.covered = covered
        self.tz = timezone.get_current_timezone()
        self.rates: dict[tuple[int, date], int | None] = {}
        self.kinds: dict[tuple[date, bool], str] = {}
        self.labels: dict[str, str] = {}

    def card(
        self, trips: list[PlannedTrip], segments: dict[int, list[PlannedSegment]], buyer: dict
    ) -> tuple[list[InvoicePlan], list[int]]:
        """The invoices of one card-month's ``trips`` and the ids of the trips they bill (a trip
        with no segment, or none on a known operator and section, bills nothing)."""
        plans: dict[tuple, InvoicePlan] = {}
        ordered: list[InvoicePlan] = []
        trip_ids: list[int] = []
        # by exit time, then trip, then segment (the order ``segments`` holds them in)
        for transit_id, plate, vehicle_class, entry_time, travel_date, _exit in sorted(
            trips, key=lambda t: (t[5], t[0])
        ):
            shares: dict[tuple[int, int | None], int] = {}
            for op_id, section_id, fee in segments.get(transit_id, ()):
                if op_id not in self.operators or section_id not in self.sections:
                    continue  # a segment whose operator or section was not read: not billed
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

    def _flush(
        self,
        plans: dict[tuple, InvoicePlan],
        ordered: list[InvoicePlan],
        buyer: dict,
        trip: tuple,
        shares: dict[tuple[int, int | None], int],
    ) -> None:
        transit_id, plate, vehicle_class, entry_time, travel_date = trip
        label = self.labels.get(vehicle_class)
        if label is None:
            label = self.labels[vehicle_class] = _vehicle_label(vehicle_class)
        date_from = entry_time.astimezone(self.tz).date()
        for (op_id, rate), fee in shares.items():
            if fee == 0 or (transit_id, op_id, rate) in self.covered:
                continue
            # The kind of document: the regime in force on the travel date (regimes.py).
            kind_key = (travel_date, rate is not None)
            document_kind = self.kinds.get(kind_key)
            if document_kind is None:
                document_kind = self.kinds[kind_key] = regimes.document_kind(day=travel_date, taxable=rate is not None)
            # Monthly: one invoice per seller, rate, kind of document and card-month, a line per
            # trip. Per trip: one invoice per trip, seller and tax kind.
            key = (op_id, rate, document_kind) if self.monthly else (transit_id, op_id, rate is not None)
            plan = plans.get(key)
            if plan is None:
                op = self.operators[op_id]
                plan = plans[key] = InvoicePlan(
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
                LinePlan(
                    item=TOLL_ITEM,
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


def plan_consumption(transits, *, mode: str, buyer: dict, month: str) -> tuple[list[InvoicePlan], list[int]]:
    """Every invoice that ``transits`` (a queryset of trips) yield in ``mode``, and the trips'
    ids, from one query over their segments (plain rows, no model instances, the sections and
    operators they name joined) and one for the shares live invoices cover; planned by
    ``ConsumptionPlanner``. Writes nothing: the confirmation step shows what it plans, and
    issuing writes what it plans."""
    rows = (
        TransitSegment.objects.filter(transit__in=transits, month=month, transit__month=month)
        .order_by("transit__exit_time", "transit_id", "seq")
        .values_list(
            "transit_id",
            "transit__plate",
            "transit__vehicle_class",
            "transit__entry_time",
            "transit__travel_date",
            "transit__exit_time",
            "operator_id",
            "section_id",
            "fee",
            *(f"section__{f}" for f in SECTION_FIELDS),
            *(f"operator__{f}" for f in OPERATOR_FIELDS),
        )
    )
    trips: dict[int, PlannedTrip] = {}
    segments: dict[int, list[PlannedSegment]] = defaultdict(list)
    operators: dict[int, Operator] = {}
    sections: dict[int, RoadSection] = {}
    for row in rows:
        transit_id, op_id, section_id, fee = row[0], row[6], row[7], row[8]
        if transit_id not in trips:
            trips[transit_id] = row[:6]
        segments[transit_id].append((op_id, section_id, fee))
        if section_id not in sections:
            sections[section_id] = RoadSection(pk=section_id, **dict(zip(SECTION_FIELDS, row[9:13], strict=True)))
        if op_id not in operators:
            operators[op_id] = Operator(pk=op_id, **dict(zip(OPERATOR_FIELDS, row[13:], strict=True)))
    covered = covered_shares(transits.values("id"), [month] if month else None)
    planner = ConsumptionPlanner(month=month, mode=mode, operators=operators, sections=sections, covered=covered)
    return planner.card(list(trips.values()), segments, buyer)


def plan_recharge(recharges, *, card: Card, buyer: dict) -> tuple[list[InvoicePlan], list[int]]:
    """The 不征税 invoices of ``recharges`` (a queryset), the card's issuer as the seller: one
    per recharge month, a line per recharge; and the recharges' ids. Writes nothing."""
    rows = list(recharges.order_by("recharged_at", "id").values_list("id", "amount", "recharged_at", "month"))
    issuer = card.issuer
    seller = {
        "operator_id": None,
        "seller_name": issuer.name,
        "seller_tax_id": issuer.tax_id,
        "seller_address_phone": issuer.address_phone,
        "seller_bank_account": issuer.bank_account,
        "machine_no": issuer.machine_no,
    }
    label = _vehicle_label(card.vehicle_class)
    plans: dict[tuple[str, str], InvoicePlan] = {}
    for pk, amount, recharged_at, month in rows:
        day = timezone.localtime(recharged_at).date()
        document_kind = regimes.recharge_document_kind(day)
        plan = plans.get((month, document_kind))
        if plan is None:
            plan = plans[(month, document_kind)] = InvoicePlan(
                province_code=f"{issuer.province_code}00",
                seller=seller,
                buyer=buyer,
                kind=Invoice.Kind.NON_TAXABLE,
                plate=card.plate,
                month=month,
                document_kind=document_kind,
            )
        plan.lines.append(
            LinePlan(
                item=RECHARGE_ITEM,
                plate=card.plate,
                vehicle_class=label,
                date_from=day,
                date_to=day,
                net=amount,
                rate=None,
                tax=0,
                recharge_id=pk,
            )
        )
    return [p for p in plans.values() if p.lines], [r[0] for r in rows]


@dataclass
class SellerShare:
    """What one seller issues in a plan: of one tax kind, how many invoices, what total."""

    name: str
    tax_id: str
    kind: str
    document_kind: str = DocumentKind.VAT_E_INVOICE
    invoices: int = 0
    total: int = 0

    @property
    def kind_label(self) -> str | Promise:
        return Invoice.Kind(self.kind).label

    @property
    def document_kind_label(self) -> str | Promise:
        return DocumentKind(self.document_kind).label


@dataclass
class ApplicationPlan:
    """What an application will issue, planned by the same functions that issue it: the
    confirmation step shows it, and the submit compares its ``digest`` with the one confirmed."""

    kind: str
    card: Card
    month: str
    mode: str
    title: InvoiceTitle
    item_ids: list[int]
    invoices: list[InvoicePlan]
    whole_month: bool = False
    basis: CardInvoiceBasis | None = None

    @property
    def items(self) -> int:
        return len(self.item_ids)

    @property
    def invoice_count(self) -> int:
        return len(self.invoices)

    @property
    def total(self) -> int:
        return sum(p.total_net + p.total_tax for p in self.invoices)

    @property
    def sellers(self) -> list[SellerShare]:
        out: dict[tuple[str, str, str], SellerShare] = {}
        for p in self.invoices:
            key = (p.seller["seller_tax_id"], p.kind, p.document_kind)
            share = out.get(key)
            if share is None:
                share = out[key] = SellerShare(
                    p.seller["seller_name"], p.seller["seller_tax_id"], p.kind, p.document_kind
                )
            share.invoices += 1
            share.total += p.total_net + p.total_tax
        return sorted(out.values(), key=lambda s: (s.name, s.kind, s.document_kind))

    @property
    def document_kinds(self) -> list[tuple[str, object, int]]:
        """(kind, label, count) of the documents this plan issues, in the table's order."""
        counts: dict[str, int] = {}
        for p in self.invoices:
            counts[p.document_kind] = counts.get(p.document_kind, 0) + 1
        return [(k, DocumentKind(k).label, counts[k]) for k in DocumentKind.values if k in counts]

    @property
    def fixes_basis(self) -> bool:
        """The first application of a stored-value card: submitting it fixes the card's choice."""
        return self.card.card_type == CardType.STORED_VALUE and self.basis is None

    @property
    def digest(self) -> str:
        """A fingerprint of everything the person confirms: the items, the title, and every
        invoice's seller, kind, month, lines and amounts."""
        h = hashlib.sha256()
        title = self.title
        h.update(repr((self.kind, self.card.pk, self.month, self.mode, title.pk, title.name, title.tax_id)).encode())
        h.update(repr(sorted(self.item_ids)).encode())
        for p in self.invoices:
            h.update(
                repr(
                    (
                        p.seller["seller_tax_id"],
                        p.kind,
                        p.document_kind,
                        p.month,
                        p.total_net,
                        p.total_tax,
                        len(p.lines),
                    )
                ).encode()
            )
        return h.hexdigest()[:32]


def _consumption_plan(card: Card, month: str, mode: str, title: InvoiceTitle, transits, *, whole_month: bool = False):
    invoices, ids = plan_consumption(transits, mode=mode, buyer=_buyer(title), month=month)
    return ApplicationPlan(
        Application.Kind.CONSUMPTION, card, month, mode, title, ids, invoices, whole_month=whole_month
    )


def _recharge_plan(card: Card, title: InvoiceTitle, recharges) -> ApplicationPlan:
    invoices, ids = plan_recharge(recharges, card=card, buyer=_buyer(title))
    month = max((p.month for p in invoices), default="")
    return ApplicationPlan(Application.Kind.RECHARGE, card, month, "", title, ids, invoices)


def application_preview_consumption(
    *,
    user: User,
    card_no: str,
    month: str,
    title_id,
    mode: str = Application.Mode.PER_TRIP,
    transit_ids: list[str] | None = None,
) -> ApplicationPlan:
    """What ``application_submit_consumption`` with these inputs would issue, and the refusal
    it would give; writes nothing. A whole month costs one planning query however many trips."""
    _consumption_args(month, mode, transit_ids)
    binding = binding_for(user, card_no)
    title = _title(user, title_id)
    card = Card.objects.select_related("issuer").get(pk=binding.card_id)
    selection, _rows = _consumption_selection(card, month, transit_ids, lock=False)
    basis = _basis_allows(card, CardInvoiceBasis.Basis.CONSUMPTION)
    plan = _consumption_plan(card, month, mode, title, selection, whole_month=transit_ids is None)
    plan.basis = basis
    return plan


def application_preview_recharge(*, user: User, card_no: str, recharge_ids, title_id) -> ApplicationPlan:
    """What ``application_submit_recharge`` would issue; writes nothing."""
    _recharge_args(recharge_ids)
    binding = binding_for(user, card_no)
    title = _title(user, title_id)
    card = Card.objects.select_related("issuer").get(pk=binding.card_id)
    selection, _rows = _recharge_selection(card, recharge_ids, lock=False)
    basis = _basis_allows(card, CardInvoiceBasis.Basis.RECHARGE)
    plan = _recharge_plan(card, title, selection)
    plan.basis = basis
    return plan


def document_province(invoice: Invoice) -> str:
    """The 4-digit province code an invoice was numbered under, read back from its numbers."""
    if invoice.document_kind == DocumentKind.FISCAL_E_BILL:
        return f"{invoice.code[:2]}00"
    if invoice.document_kind == DocumentKind.DIGITAL_E_INVOICE:
        return f"{invoice.number[2:4]}00"
    return invoice.code[1:5]


def _red_remarks(invoice: Invoice) -> str:
    if invoice.document_kind == DocumentKind.FISCAL_E_BILL:
        return f"冲红原票据代码:{invoice.code} 号码:{invoice.number}"
    if invoice.document_kind == DocumentKind.DIGITAL_E_INVOICE:
        return f"被红冲蓝字数电发票号码:{invoice.number}"  # the confirmation number is added at writing
    return f"对应正数发票代码:{invoice.code} 号码:{invoice.number}"


def _copy_plan(invoice: Invoice, *, red: bool, buyer: dict | None = None) -> InvoicePlan:
    sign = -1 if red else 1
    plan = InvoicePlan(
        province_code=document_province(invoice),
        seller={
            "operator_id": invoice.operator_id,
            "seller_name": invoice.seller_name,
            "seller_tax_id": invoice.seller_tax_id,
            "seller_address_phone": invoice.seller_address_phone,
            "seller_bank_account": invoice.seller_bank_account,
            "machine_no": invoice.machine_no,
        },
        buyer=buyer
        or {
            "buyer_name": invoice.buyer_name,
            "buyer_tax_id": invoice.buyer_tax_id,
            "buyer_address_phone": invoice.buyer_address_phone,
            "buyer_bank_account": invoice.buyer_bank_account,
        },
        kind=invoice.kind,
        plate=invoice.plate,
        month=invoice.month,
        red=red,
        original_id=invoice.pk if red else None,
        remarks=_red_remarks(invoice) if red else "",
        # A document keeps its kind: its red-letter twin and its re-issue under a new title too.
        document_kind=invoice.document_kind,
        original_number=invoice.number if red else "",
    )
    for line in invoice.lines.all():
        plan.lines.append(
            LinePlan(
                item=line.item,
                plate=line.plate,
                vehicle_class=line.vehicle_class,
                date_from=line.date_from,
                date_to=line.date_to,
                net=sign * line.net,
                rate=line.rate,
                tax=sign * line.tax,
                transit_id=line.transit_id,
                recharge_id=line.recharge_id,
            )
        )
    return plan


def _targets(app: Application) -> list[Invoice]:
    """The invoices a reversal or a title change cancels, locked, with their lines, read in the
    months that hold them (a title change of a recharge application: its recharges' months)."""
    if app.kind == Application.Kind.REVERSAL:
        # A reversal always names its invoice (invoice_reverse) and bills its month.
        months = {"month": app.month}
        qs = Invoice.objects.filter(pk=app.invoice_to_reverse_id, **months)  # type: ignore[misc]
    else:
        assert app.original is not None  # a title change names the application it changes
        months = application_months(app.original)
        qs = app.original.invoices.filter(red=False, **months)
    lines = InvoiceLine.objects.filter(**months)
    return list(qs.select_for_update().order_by("id").prefetch_related(Prefetch("lines", queryset=lines)))


KEY_COLUMNS = ["invoice_id", "code", "number", "month"]
TABLES_WRITTEN = (Invoice._meta.db_table, InvoiceLine._meta.db_table)
LINE_COLUMNS = [
    "invoice_id",
    "seq",
    "item",
    "plate",
    "vehicle_class",
    "date_from",
    "date_to",
    "net",
    "rate",
    "tax",
    "transit_id",
    "recharge_id",
    "month",
]


def _write(app: Application, plans: list[InvoicePlan], today: date) -> list[dict]:
    """Builds every invoice and line first, then numbers them (a block per seller province, in
    a fixed order so that two issuers never wait on each other's counters crosswise) and writes
    them at once: the counter rows stay locked only for the writes and the commit, never for
    the planning (architecture.md). Rows are plain dicts with every column, their defaults
    taken from an unsaved instance; the answer is those dicts with their ids."""
    now = timezone.now()
    issued_on = today.isoformat()
    template = Invoice(
        application=app,
        user_id=app.user_id,
        card_id=app.card_id,
        issued_on=today,
        issued_at=now,
        payee="系统",
        reviewer="系统",
        drawer="票根平台",
    )
    base = {f.attname: getattr(template, f.attname) for f in Invoice._meta.concrete_fields if not f.primary_key}
    by_series: dict[tuple[str, str], list[tuple[dict, InvoicePlan]]] = defaultdict(list)
    for plan in plans:
        total_net, total_tax = plan.total_net, plan.total_tax
        row = dict(base)
        row.update(plan.seller)
        row.update(plan.buyer)
        row.update(
            kind=plan.kind,
            red=plan.red,
            original_id=plan.original_id,
            month=plan.month,
            plate=plan.plate,
            total_net=total_net,
            total_tax=total_tax,
            total=total_net + total_tax,
            remarks=plan.remarks,
            document_kind=plan.document_kind,
        )
        if plan.document_kind != DocumentKind.VAT_E_INVOICE:
            row["machine_no"] = ""  # neither a fiscal e-bill nor a 数电 invoice has one
        by_series[(plan.document_kind, plan.province_code)].append((row, plan))
    # An application's invoices and lines bill one month (a recharge application's may bill
    # several): written straight into that month's partitions where they exist, looked up before
    # any counter is locked.
    months = {plan.month for plan in plans}
    into = partitions.month_partitions(TABLES_WRITTEN, months.pop()) if len(months) == 1 else {}
    rows: list[tuple[dict, InvoicePlan]] = []
    confirmations: list[tuple[dict, InvoicePlan]] = []
    # Every counter in one fixed order (kind, then province), so that two issuers never wait on
    # each other's counters crosswise.
    for document_kind, province in sorted(by_series):
        group = by_series[(document_kind, province)]
        if document_kind == DocumentKind.FISCAL_E_BILL:
            taken = numbering.fiscal_numbers(province[:2], today.year, len(group))
        elif document_kind == DocumentKind.DIGITAL_E_INVOICE:
            taken = numbering.digital_numbers(province[:2], today.year, len(group))
        else:
            taken = numbering.numbers(province, today.year, len(group))
        for (row, plan), (code, number) in zip(group, taken, strict=True):
            row["code"], row["number"] = code, number
            if document_kind == DocumentKind.FISCAL_E_BILL:
                row["check_code"] = numbering.fiscal_check_code(
                    code=code, number=number, issued_on=issued_on, total=row["total"]
                )
            elif document_kind == DocumentKind.DIGITAL_E_INVOICE:
                row["check_code"] = ""  # a 数电 invoice has none: it is verified by number, date, total
                if plan.red:
                    confirmations.append((row, plan))
            else:
                row["check_code"] = numbering.check_code(
                    code=code, number=number, issued_on=issued_on, total=row["total"]
                )
        rows.extend(group)
    for row, plan in confirmations:
        # The 红字确认 record first, so the red invoice's remarks can name it.
        row["confirmation_no"] = numbering.red_confirmation_number(plan.province_code[:2], today.year)
        row["remarks"] = f"{plan.remarks} 红字发票信息确认单编号:{row['confirmation_no']}"
    confirmation_nos = {id(row): row.pop("confirmation_no") for row, _plan in confirmations}
    created = insert_dicts(Invoice, [row for row, _ in rows], into=into.get(Invoice._meta.db_table))
    # The global key of each invoice: its (code, number) is unique across all months here.
    insert_rows(InvoiceKey, KEY_COLUMNS, [(row["id"], row["code"], row["number"], row["month"]) for row in created])
    _count_months(created)
    if confirmations:
        RedLetterConfirmation.objects.bulk_create(
            [
                RedLetterConfirmation(
                    number=confirmation_nos[id(row)],
                    original_id=plan.original_id,  # type: ignore[misc]  # a red plan names its original
                    application=app,
                    red_invoice_id=row["id"],
                    total_net=-row["total_net"],
                    total_tax=-row["total_tax"],
                    reason=_red_reason(app),
                )
                for row, plan in confirmations
            ]
        )
    insert_rows(
        InvoiceLine,
        LINE_COLUMNS,
        [
            (
                row["id"],
                seq,
                line.item,
                line.plate,
                line.vehicle_class,
                line.date_from,
                line.date_to,
                line.net,
                line.rate,
                line.tax,
                line.transit_id,
                line.recharge_id,
                row["month"],
            )
            for row, plan in rows
            for seq, line in enumerate(plan.lines, start=1)
        ],
        into=into.get(InvoiceLine._meta.db_table),
    )
    return created


def _count_months(created: list[dict]) -> None:
    """Adds the invoices just written to their user's, card's and month's ``InvoiceMonth`` row,
    and those with an enterprise title to their buyer's and month's ``BuyerMonth`` row (one
    statement each; rows in key order, so that two issuers lock shared rows in the same order:
    seller counters first, then these, then those)."""
    by_card: dict[tuple, list] = {}
    by_buyer: dict[tuple, list] = {}
    for row in created:
        keys: list[tuple[dict[tuple, list], tuple]] = [(by_card, (row["user_id"], row["card_id"], row["month"]))]
        if row.get("buyer_tax_id"):
            keys.append((by_buyer, (row["buyer_tax_id"], row["month"])))
        for groups, key in keys:
            group = groups.setdefault(key, [0, row["issued_at"], row["issued_at"]])
            group[0] += 1
            group[1] = min(group[1], row["issued_at"])
            group[2] = max(group[2], row["issued_at"])
    _add_counts(InvoiceMonth._meta.db_table, ("user_id", "card_id", "month"), by_card)
    _add_counts(BuyerMonth._meta.db_table, ("buyer_tax_id", "month"), by_buyer)
    days = sorted({(row["issued_on"], row["month"]) for row in created})
    if days:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {IssueDay._meta.db_table} (issued_on, month) "
                f"VALUES {', '.join(['(%s, %s)'] * len(days))} ON CONFLICT (issued_on, month) DO NOTHING",
                [value for day, month in days for value in (connection.ops.adapt_datefield_value(day), month)],
            )


def _add_counts(table: str, key: tuple[str, ...], groups: dict[tuple, list]) -> None:
    """Upserts (key…, count, first_issued_at, last_issued_at) rows: counts added, the range widened."""
    from django.db import connection

    if not groups:
        return
    least, greatest = ("LEAST", "GREATEST") if connection.vendor == "postgresql" else ("MIN", "MAX")
    adapt = connection.ops.adapt_datetimefield_value
    columns = ", ".join(key)
    row = "(" + ", ".join(["%s"] * (len(key) + 3)) + ")"
    params: list = []
    for group_key, (count, first, last) in sorted(groups.items()):
        params += [*group_key, count, adapt(first), adapt(last)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}, count, first_issued_at, last_issued_at) "
            f"VALUES {', '.join([row] * len(groups))} "
            f"ON CONFLICT ({columns}) DO UPDATE SET "
            f"count = {table}.count + excluded.count, "
            f"first_issued_at = {least}({table}.first_issued_at, excluded.first_issued_at), "
            f"last_issued_at = {greatest}({table}.last_issued_at, excluded.last_issued_at)",
            params,
        )


def _red_reason(app: Application) -> str:
    if app.kind == Application.Kind.TITLE_CHANGE:
        return "换票：购买方信息变更"
    event = app.events.filter(kind="submitted").only("reason").first()
    return (event.reason if event and event.reason else "申请红冲")[:300]


def _lock_trips(ids, month: str) -> None:
    """Row locks on trips, in id order, before their shares are read: issuing and reversing
    take them before the invoice counters, so the two never wait on each other crosswise, and
    each reads the shares the other committed. The trips of one application or invoice are of
    its month: only that month's partition is read."""
    qs = Transit.objects.select_for_update().filter(id__in=ids, month=month)
    list(qs.order_by("id").values_list("id", flat=True))


def _invoice_trips(app: Application) -> None:
    """A consumption application's trips locked as ``_lock_trips`` locks them (in id order,
    before their shares are read) and marked invoiced, in one statement: before the numbers are
    taken, so that the counters stay locked only for the writes. A refusal further on rolls the
    mark back with everything else. Written out: the ORM spent more building this statement
    (about 0.8 ms) than PostgreSQL running it."""
    from django.db import connection

    transit, item = Transit._meta.db_table, ApplicationItem._meta.db_table
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {transit} SET state = %s, updated_at = %s WHERE month = %s AND state = %s AND id IN"
            f" (SELECT id FROM {transit} WHERE month = %s AND id IN"
            f" (SELECT transit_id FROM {item} WHERE application_id = %s) ORDER BY id{lock})",
            [
                InvoiceState.INVOICED.value,
                connection.ops.adapt_datetimefield_value(timezone.now()),
                app.month,
                InvoiceState.APPLIED.value,
                app.month,
                app.pk,
            ],
        )


def _reopen_if_uncovered(
    shares: set[tuple[int, int | None, int | None]], recharge_ids: set[int], *, month: str
) -> None:
    """After a reversal, the reversed shares (trip, seller, rate) no live invoice covers make
    their invoiced trip open again, for those shares only; a recharge no live invoice covers
    can be applied for again. Trips in an application under way stay as they are: its issuing
    reads the shares when it runs and issues what is uncovered then."""
    if shares:
        still = covered_shares({s[0] for s in shares}, [month])
        reopen = {s[0] for s in shares if s not in still}
        Transit.objects.filter(id__in=reopen, month=month, state=InvoiceState.INVOICED).update(
            state=InvoiceState.OPEN, updated_at=timezone.now()
        )
    if recharge_ids:
        live = InvoiceLine.objects.filter(invoice__red=False, invoice__status=Invoice.Status.NORMAL)
        covered = set(live.filter(recharge_id__in=recharge_ids).values_list("recharge_id", flat=True))
        Recharge.objects.filter(id__in=recharge_ids - covered, state=InvoiceState.INVOICED).update(
            state=InvoiceState.OPEN, updated_at=timezone.now()
        )


def _issue(app: Application) -> list[dict]:
    today = timezone.localdate()
    if app.kind == Application.Kind.CONSUMPTION:
        _invoice_trips(app)
        # A consumption application covers trips of its card and month only
        # (_consumption_selection), and an applied trip cannot change: its month's partition.
        transits = Transit.objects.filter(application_items__application=app, month=app.month)
        plans, _ids = plan_consumption(transits, mode=app.mode, buyer=_buyer(app.title), month=app.month)
    elif app.kind == Application.Kind.RECHARGE:
        recharges = Recharge.objects.filter(application_items__application=app)
        plans, _ids = plan_recharge(recharges, card=app.card, buyer=_buyer(app.title))
    else:
        targets = _targets(app)
        if app.kind == Application.Kind.REVERSAL:
            _lock_trips({line.transit_id for t in targets for line in t.lines.all() if line.transit_id}, app.month)
        if app.kind == Application.Kind.REVERSAL and (not targets or targets[0].status != Invoice.Status.NORMAL):
            raise IssueRefused(_("这张发票已经红冲，不能重复红冲。"))
        targets = [t for t in targets if t.status == Invoice.Status.NORMAL]
        if app.kind == Application.Kind.TITLE_CHANGE:
            targets = [t for t in targets if t.document_kind != DocumentKind.FISCAL_E_BILL]
        if not targets:
            raise IssueRefused(_("原申请的发票都已红冲，没有可换开的发票。"))
        plans = [_copy_plan(t, red=True) for t in targets]
        if app.kind == Application.Kind.TITLE_CHANGE:
            buyer = _buyer(app.title)
            plans += [_copy_plan(t, red=False, buyer=buyer) for t in targets]
    if not plans:
        raise IssueRefused(_("所选记录的金额为零，没有需要开具的发票。"))
    for plan in plans:
        if not plan.seller["seller_tax_id"]:
            raise IssueRefused(
                _("销售方“%(s)s”缺少纳税人识别号，暂不能开票；平台已记录，请稍后重试或联系客服。")
                % {"s": plan.seller["seller_name"]}
            )
    if app.kind == Application.Kind.RECHARGE:
        Recharge.objects.filter(application_items__application=app, state=InvoiceState.APPLIED).update(
            state=InvoiceState.INVOICED, updated_at=timezone.now()
        )
    invoices = _write(app, plans, today)
    if app.kind in (Application.Kind.TITLE_CHANGE, Application.Kind.REVERSAL):
        reversed_ids = [p.original_id for p in plans if p.red]  # a red plan names its original
        Invoice.objects.filter(  # type: ignore[misc]
            id__in=reversed_ids, month__in={t.month for t in targets}
        ).update(status=Invoice.Status.REVERSED)
        if app.kind == Application.Kind.REVERSAL:
            reversed_lines = [(t.operator_id, line) for t in targets for line in t.lines.all()]
            _reopen_if_uncovered(
                {(line.transit_id, op, line.rate) for op, line in reversed_lines if line.transit_id},
                {line.recharge_id for _op, line in reversed_lines if line.recharge_id},
                month=app.month,
            )
    return invoices


def _gets_summary(app: Application) -> bool:
    """Whether the application gets a summary sheet (电子汇总单): every one does but a recharge
    application whose recharges all fall under regimes without one (2020 on: 充值交易无电子汇总单);
    a reversal or re-issue follows the application it changes."""
    if app.kind == Application.Kind.RECHARGE:
        days = Recharge.objects.filter(application_items__application=app).values_list("recharged_at", flat=True)
        return any(regimes.regime_on(timezone.localtime(d).date()).recharge_summary for d in days)
    source = app.original if app.kind == Application.Kind.TITLE_CHANGE else None
    if app.kind == Application.Kind.REVERSAL and app.invoice_to_reverse_id:
        source = Application.objects.filter(
            invoices__id=app.invoice_to_reverse_id,
            invoices__month=app.month,  # a reversal bills its invoice's month
        ).first()
    if source is not None and source.kind == Application.Kind.RECHARGE and not source.summary_no:
        return False
    return True


def _summary_no(app: Application, today: date) -> str:
    return numbering.summary_number(app.card.issuer.province_code, today.strftime("%Y%m"))


def application_issue(*, application_id: int) -> Application | None:
    """Issues an application exactly once. Safe to run twice, concurrently or after a crash:
    the row lock and the status make every run after the first a no-op."""
    # The claim commits on its own first (application_rows.claim says why); then one
    # transaction issues everything or nothing.
    attempts = application_rows.claim(application_id, timezone.now())
    if attempts is not None and attempts > settings.ISSUE_MAX_ATTEMPTS:
        # Run again and again without ever finishing (a worker dying under it each time): given
        # up, its trips released, the user told, instead of a worker killed for ever.
        logger.error("application %s: given up after %d attempts", application_id, attempts - 1)
        application_fail(application_id=application_id, reason=GAVE_UP)
        return Application.objects.filter(pk=application_id).first()
    try:
        with transaction.atomic():
            try:
                # What every kind of application needs (the user for the language of their
                # message, ISSUED_HOOKS); a title change reads its original when it gets to it
                # (a join less for all the others).
                app = (
                    Application.objects.select_for_update(of=("self",))
                    .select_related("title", "card__issuer", "user")
                    .get(pk=application_id)
                )
            except Application.DoesNotExist:
                return None
            if app.status != Application.Status.ISSUING:
                return app
            invoices = _issue(app)
            app.status = Application.Status.ISSUED
            app.issued_at = timezone.now()
            app.invoice_count = len(invoices)
            app.total = sum(i["total"] for i in invoices)
            _issued_hooks(app, invoices)
            # The summary sheet's number last: its counter stays locked until the commit.
            app.summary_no = _summary_no(app, timezone.localdate()) if _gets_summary(app) else None
            application_rows.mark_issued(app, invoices=len(invoices), now=timezone.now())
            ids = [i["id"] for i in invoices]
            transaction.on_commit(lambda: _after_issue(app.pk, ids))
        logger.info("application %s issued: %d invoices", app.pk, app.invoice_count)
        return app
    except IssueRefused as exc:
        application_fail(application_id=application_id, reason=str(exc))
        return Application.objects.get(pk=application_id)


def _after_issue(app_id: int, invoice_ids: list[int]) -> None:
    """Work that follows issuing (documents, then mail), queued after the invoices are committed."""
    documents.on_issued(app_id, invoice_ids)


def _issued_hooks(app: Application, invoices: list[dict]) -> None:
    """Writes that belong with the issuing itself (the user's message): inside its transaction,
    so they commit with it or not at all and cost no commit of their own, each in a savepoint,
    so that a failing one is logged and undone alone, never the issuing."""
    for hook in ISSUED_HOOKS:
        try:
            with transaction.atomic():
                hook(app, invoices)
        except Exception:
            logger.exception("application %s: an issuing hook failed; the invoices stand", app.pk)


# Callables (application, the new invoices' rows as dicts of column values) run inside the
# issuing transaction, after the invoices are written. They must not take long: the seller's
# invoice counter stays locked until the commit.
ISSUED_HOOKS: list = []


def application_fail(*, application_id: int, reason: str, actor: User | None = None) -> None:
    """Ends an application as failed and releases what it had locked, in one transaction."""
    with transaction.atomic():
        app = Application.objects.select_for_update().get(pk=application_id)
        if app.status in (Application.Status.ISSUED, Application.Status.FAILED):
            return
        app.status = Application.Status.FAILED
        app.failure_reason = reason[:300]
        app.save(update_fields=["status", "failure_reason"])
        items = ApplicationItem.objects.filter(application=app)
        Transit.objects.filter(id__in=items.values("transit_id"), month=app.month, state=InvoiceState.APPLIED).update(
            state=InvoiceState.OPEN
        )
        Recharge.objects.filter(id__in=items.values("recharge_id"), state=InvoiceState.APPLIED).update(
            state=InvoiceState.OPEN
        )
        if app.kind in (Application.Kind.CONSUMPTION, Application.Kind.RECHARGE):
            # The first application of a stored-value card fixed its basis; a failure un-fixes it
            # unless another application of the card stands.
            basis = CardInvoiceBasis.objects.filter(card_id=app.card_id, fixed_by=app).first()
            if basis:
                other = (
                    Application.objects.filter(card_id=app.card_id, kind=app.kind)
                    .exclude(pk=app.pk)
                    .exclude(status=Application.Status.FAILED)
                    .order_by("id")
                    .first()
                )
                if other:
                    basis.fixed_by = other
                    basis.save(update_fields=["fixed_by"])
                else:
                    basis.delete()
        _event(app, "failed", actor=actor, reason=reason[:300])
        transaction.on_commit(lambda: _after_fail(application_id, reason[:300]))
    logger.warning("application %s failed: %s", application_id, reason)


def _after_fail(app_id: int, reason: str) -> None:
    """Work that follows a failure (the user's message), once it is committed. Never raises."""
    for hook in AFTER_FAIL_HOOKS:
        try:
            hook(app_id, reason)
        except Exception:
            logger.exception("application %s: an after-failure hook failed", app_id)


# Callables (application id, reason) run after an application's failure commits.
AFTER_FAIL_HOOKS: list = []


def application_retry(*, application_id: int, actor: User, reason: str) -> Application:
    """Console action: a failed application back to the outbox, with a reason."""
    if not (reason or "").strip():
        raise ServiceError("invalid", _("请填写操作原因。"), errors={"reason": [_("必填。")]})
    with transaction.atomic():
        app = Application.objects.select_for_update().get(pk=application_id)
        if app.status != Application.Status.FAILED:
            raise ServiceError("invalid", _("只有开票失败的申请可以重试。"))
        items = ApplicationItem.objects.filter(application=app)
        if app.kind == Application.Kind.CONSUMPTION:
            locked = Transit.objects.filter(
                id__in=items.values("transit_id"), month=app.month, state=InvoiceState.OPEN
            ).update(state=InvoiceState.APPLIED)
            if locked != items.count():
                raise ServiceError(
                    "already_applied", _("该申请的部分通行记录已被其他申请占用，不能重试；请用户重新申请。")
                )
        elif app.kind == Application.Kind.RECHARGE:
            locked = Recharge.objects.filter(id__in=items.values("recharge_id"), state=InvoiceState.OPEN).update(
                state=InvoiceState.APPLIED
            )
            if locked != items.count():
                raise ServiceError("already_applied", _("该申请的部分充值记录已被其他申请占用，不能重试。"))
        app.status = Application.Status.SUBMITTED
        app.failure_reason = ""
        app.queued_at = timezone.now()
        app.save(update_fields=["status", "failure_reason", "queued_at"])
        _event(app, "retried", actor=actor, reason=reason.strip()[:300])
        _queue(app.pk)
    return app


def applications_sweep(*, now=None, stale_submitted=STALE_SUBMITTED, stale_issuing=STALE_ISSUING) -> int:
    """Re-queues applications the broker may have lost: submitted for too long, or issuing
    long after the worker that claimed them should have finished (a starting worker passes 0
    for both: invoices/tasks.py ``resume_in_flight``)."""
    now = now or timezone.now()
    stale = (
        Application.objects.filter(
            Q(status=Application.Status.SUBMITTED, queued_at__lte=now - stale_submitted)
            | Q(status=Application.Status.ISSUING, started_at__lte=now - stale_issuing)
        )
        .order_by("pk")
        .values_list("id", flat=True)[:1000]
    )
    ids = list(stale)
    if not ids:
        return 0
    Application.objects.filter(id__in=ids).update(queued_at=now)
    Application.objects.filter(id__in=ids, status=Application.Status.ISSUING).update(
        status=Application.Status.SUBMITTED
    )
    # One message each (each keeps its own retries and redelivery), stopping at the first the
    # broker refuses: the rest wait for the next run rather than each for the publish retries.
    queued = enqueue_each(
        "invoices.tasks.issue_application",
        [(app_id,) for app_id in ids],
        what=f"sweep: {len(ids)} applications: issuing",
    )
    logger.info("sweep re-queued %d of %d applications", queued, len(ids))
    return queued
