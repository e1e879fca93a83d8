"""Bulk binding (批量绑卡): an enterprise account binds a list of its cards with one code sent to
the contact mobile. Each card is judged as in single binding (``binding``), with the same refusal
codes, sentences and daily caps, and the eligible ones are bound together or not at all."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history

from accounts import services as account_services
from accounts.models import SmsCode, User
from piaogen.errors import ServiceError

from .. import identity, selectors
from ..models import Binding, BindingAttempt, BulkBinding, Card, IdType, Issuer
from .binding import (
    Outcome,
    _cap_refusal,
    _finish_attempt,
    _held_refusal,
    _Refusal,
    _sole_title,
    _stale_card_refusal,
    client_digest,
)
from .shared import _issuer_phrase, id_number_digest, issuer_info

logger = logging.getLogger(__name__)


def bulk_max_cards() -> int:
    """How many card numbers one bulk binding takes (``BINDING_BULK_MAX_CARDS``, 500)."""
    return int(getattr(settings, "BINDING_BULK_MAX_CARDS", 500))


@dataclass
class BulkLine:
    """What the clerk is told about one line of the list that is not bound."""

    line: int | None  # None: a card refused at the confirmation, not a line of the list
    card_no: str
    code: str
    message: str
    issuer: Issuer | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "card_no": self.card_no,
            "code": self.code,
            "message": self.message,
            "issuer": issuer_info(self.issuer) if self.issuer is not None else None,
        }


def _not_enterprise_error() -> ServiceError:
    return ServiceError(
        "not_enterprise_contact",
        _(
            "批量绑卡仅限单位账户：请用发行方登记的单位联系人手机号注册或登录单位账户（含统一社会信用代码）后再提交。"
            "个人账户请在“绑定ETC卡”逐张绑定。"
        ),
    )


def _bulk_entries(card_nos: Any) -> list[tuple[int, str]]:
    """The non-blank entries of the list with their line numbers (1-based positions)."""
    if not isinstance(card_nos, list):
        message = _("请提供卡号列表。")
        raise ServiceError("invalid", message, errors={"card_nos": [message]})
    limit = bulk_max_cards()
    entries: list[tuple[int, str]] = []
    for index, raw in enumerate(card_nos, start=1):
        text = raw if isinstance(raw, str) else ("" if raw is None else str(raw))
        text = text.strip()[:64]
        if text:
            entries.append((index, text))
        if len(entries) > limit:
            break  # the answer below needs only to know there are too many
    if not entries:
        message = _("请至少填写一个卡号（每行一个）。")
        raise ServiceError("invalid", message, errors={"card_nos": [message]})
    if len(entries) > limit:
        counted = sum(1 for raw in card_nos if (raw if isinstance(raw, str) else str(raw or "")).strip())
        message = _("一次最多批量绑定 %(limit)s 张卡，本次为 %(n)s 张，请分批提交。") % {"limit": limit, "n": counted}
        raise ServiceError("too_many_items", message, errors={"card_nos": [message]})
    return entries


def _bulk_mobile_message(issuer: Issuer) -> str:
    return _(
        "该卡在%(issuer)s预留的手机号不是本账户的登录手机号（单位联系人手机号）。请联系发行方核对或更新预留手机号，"
        "更新后再重新绑定。"
    ) % {"issuer": _issuer_phrase(issuer)}


def _bulk_holder_message(issuer: Issuer) -> str:
    return _(
        "该卡在%(issuer)s登记的持卡人证件不是本单位的统一社会信用代码。如确属本单位的卡，请联系发行方核对或更新预留"
        "信息，更新后再重新绑定；个人名下的卡请在“绑定ETC卡”逐张绑定。"
    ) % {"issuer": _issuer_phrase(issuer)}


def _bulk_compare(
    *, user: User, card: Card | None, card_no: str, prefix_issuer: Issuer, holder: int | None
) -> _Refusal | None:
    """One card of the list against the account: registered, active, reserved to the account's
    mobile (the contact mobile) and held by the account's USCC, not bound. The mobile is compared
    before the holder, so an account that is not the reserved mobile's learns nothing of the
    holder's ID."""
    if card is None:
        message = _(
            "未找到卡号 %(card_no)s。请核对卡号（20位数字，印在ETC卡正面）。如卡号无误，可能发行方尚未向平台报送该卡，"
            "请联系%(issuer)s。"
        ) % {"card_no": card_no, "issuer": _issuer_phrase(prefix_issuer)}
        return _Refusal(Outcome.CARD_NOT_FOUND, message, prefix_issuer)
    issuer = card.issuer
    if card.status == Card.Status.CANCELLED:
        message = _(
            "卡号 %(card_no)s 在%(issuer)s登记为已注销，不能绑定。如该卡仍在使用，请联系发行方核实卡片状态，"
            "处理后再重新绑定。"
        ) % {"card_no": card_no, "issuer": _issuer_phrase(issuer)}
        return _Refusal(Outcome.CARD_CANCELLED, message, issuer)
    if not secrets.compare_digest(card.mobile_digest, user.mobile_digest):
        return _Refusal(Outcome.MOBILE_MISMATCH, _bulk_mobile_message(issuer), issuer)
    held = card.id_type == IdType.USCC and secrets.compare_digest(card.id_number_digest, id_number_digest(user.tax_id))
    if not held:
        return _Refusal(Outcome.ID_MISMATCH, _bulk_holder_message(issuer), issuer)
    return _held_refusal(holder, user, yours=Outcome.ALREADY_YOURS)


# The code each outcome is reported with (the refusal codes of single binding).
_BULK_CODES: dict[str, str] = {Outcome.ALREADY_YOURS: "already_bound"}


def bulk_binding_start(*, user: User, card_nos: Any, address: str = "") -> BulkBinding:
    """First step of bulk binding (批量绑卡): an enterprise account gives a list of card numbers
    (at most ``bulk_max_cards()``). Every card reserved to the account's mobile (the contact
    mobile) and held by its USCC (compared by keyed digest) is eligible; one code goes to that
    mobile (purpose ``bind``, scoped to the batch). Every other line is refused with the code and
    sentence single binding uses (duplicates in the list are reported once, as ``duplicate``).

    Each card gets its ``BindingAttempt`` (outcome, message, client), so caps and the contact
    centre see bulk attempts as they see single ones. The list is checked in order; the failures
    count towards the same daily caps as single binding (a card already bound to this account
    does not count: it says nothing of anyone else's card), and once a cap is reached the rest
    of the list is refused ``too_many_attempts`` without being compared.

    Raises ``ServiceError`` ``not_enterprise_contact``, ``invalid`` (empty list),
    ``too_many_items``, ``too_many_attempts`` (the account's cap was reached before), and
    ``nothing_to_bind`` (no eligible card; ``extra["refused"]`` says why for each line)."""
    if not (user.is_enterprise and user.tax_id):
        raise _not_enterprise_error()
    entries = _bulk_entries(card_nos)
    issuers = selectors.issuers_by_network_code()
    refused: list[BulkLine] = []
    first_line: dict[str, int] = {}
    to_check: list[tuple[int, str]] = []
    invalid: list[tuple[str, str]] = []
    for line, text in entries:
        card_no = identity.normalize_card_no(text)
        try:
            identity.validate_card_no(card_no, network_codes=issuers)
        except ValidationError as exc:
            message = exc.messages[0]
            refused.append(BulkLine(line, text, "invalid", message))
            invalid.append((card_no, message))
            continue
        if card_no in first_line:
            message = _("与第 %(line)s 行的卡号重复，只按一张卡处理。") % {"line": first_line[card_no]}
            refused.append(BulkLine(line, card_no, "duplicate", message))
            continue
        first_line[card_no] = line
        to_check.append((line, card_no))

    client = client_digest(address)
    per_account = settings.BINDING_MAX_FAILURES_PER_ACCOUNT
    per_client_card = settings.BINDING_MAX_FAILURES_PER_CLIENT_CARD
    now = timezone.now()
    with transaction.atomic():
        # The lock single binding takes: attempts of one account are counted one at a time.
        User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True).first()
        numbers = [card_no for _line, card_no in to_check]
        cards = {
            card.card_no: card
            for card in Card.objects.select_for_update(of=("self",))
            .select_related("issuer")
            .filter(card_no__in=numbers)
            .order_by("pk")
        }
        holders = dict(
            Binding.objects.filter(card__in=list(cards.values()), ended_at__isnull=True).values_list(
                "card_id", "user_id"
            )
        )
        counts = selectors.bulk_failures_today(user=user, client=client, card_nos=numbers)
        refusal = _cap_refusal(counts.account, 0)
        if refusal is not None:
            raise refusal.error()
        account_failures = counts.account
        attempts: list[BindingAttempt] = []
        eligible = 0
        for line, card_no in to_check:
            card = cards.get(card_no)
            if account_failures >= per_account or counts.client_card.get(card_no, 0) >= per_client_card:
                refusal = _cap_refusal(account_failures, counts.client_card.get(card_no, 0))
            else:
                refusal = _bulk_compare(
                    user=user,
                    card=card,
                    card_no=card_no,
                    prefix_issuer=issuers[card_no[:4]],
                    holder=holders.get(card.pk) if card else None,
                )
            outcome: str
            if refusal is None:
                eligible += 1
                outcome, message = Outcome.PENDING, _("信息一致，等待短信验证。")
            else:
                outcome, message = refusal.outcome, refusal.message
                refused.append(BulkLine(line, card_no, _BULK_CODES.get(outcome, outcome), message, refusal.issuer))
                if outcome in BindingAttempt.FAILURES:
                    counts.client_card[card_no] = counts.client_card.get(card_no, 0) + 1
                    # A number the registry does not hold counts once a day, as in single binding.
                    if outcome != Outcome.CARD_NOT_FOUND or card_no not in counts.not_found:
                        account_failures += 1
                    if outcome == Outcome.CARD_NOT_FOUND:
                        counts.not_found.add(card_no)
            attempts.append(
                BindingAttempt(
                    user=user,
                    card_no=card_no,
                    card=card,
                    id_type=IdType.USCC,
                    outcome=outcome,
                    message=message[:300],
                    client_digest=client,
                    created_at=now,
                )
            )
        refused.sort(key=lambda r: r.line or 0)
        if eligible:
            summary = _("%(n)s 张卡信息一致，验证码已发送至 %(mobile)s。") % {
                "n": eligible,
                "mobile": user.mobile_masked,
            }
        else:
            summary = _("列表中没有可以绑定的卡，每张卡的原因见下表。")
        bulk = BulkBinding.objects.create(
            user=user,
            status=BulkBinding.Status.PENDING if eligible else BulkBinding.Status.FAILED,
            lines=len(entries),
            eligible=eligible,
            refused=[r.as_dict() for r in refused],
            message=summary[:300],
            created_at=now,
            finished_at=None if eligible else now,
        )
        for attempt in attempts:
            attempt.bulk = bulk
        invalid_rows = [
            BindingAttempt(
                user=user,
                card_no=card_no[:32],
                id_type=IdType.USCC,
                outcome=Outcome.INVALID,
                message=message[:300],
                client_digest=client,
                created_at=now,
                bulk=bulk,
            )
            for card_no, message in invalid
        ]
        BindingAttempt.objects.bulk_create([*attempts, *invalid_rows], batch_size=500)
    logger.info(
        "bulk binding bulk=%s user=%s lines=%s eligible=%s refused=%s",
        bulk.pk,
        user.pk,
        len(entries),
        eligible,
        len(refused),
    )
    if not eligible:
        raise ServiceError("nothing_to_bind", summary, extra={"bulk_id": str(bulk.public_id), "refused": bulk.refused})
    try:
        account_services.sms_code_send(
            mobile=user.mobile,
            purpose=SmsCode.Purpose.BIND,
            scope=str(bulk.public_id),
            client_key=f"account:{user.pk}",
        )
    except ServiceError as exc:
        _finish_bulk(bulk, BulkBinding.Status.FAILED, exc.message, Outcome.CODE_FAILED)
        raise
    return bulk


def _finish_bulk(bulk: BulkBinding, status: str, message: str, outcome: str, *, now=None) -> None:
    """Ends a batch: its status, and the outcome of every attempt still pending."""
    now = now or timezone.now()
    BulkBinding.objects.filter(pk=bulk.pk).update(status=status, message=str(message)[:300], finished_at=now)
    BindingAttempt.objects.filter(bulk=bulk, outcome=Outcome.PENDING).update(
        outcome=outcome, message=str(message)[:300], confirmed_at=now
    )


def _bulk_gone() -> ServiceError:
    message = _("该批量绑卡申请不存在或已失效，请重新提交卡号列表。")
    return ServiceError("invalid", message, errors={"bulk_id": [message]})


def bulk_binding_code_resend(*, user: User, bulk_id: Any) -> BulkBinding:
    """Sends the pending batch's code again (subject to the SMS resend rules)."""
    bulk = selectors.pending_bulk(user, bulk_id)
    if bulk is None:
        raise _bulk_gone()
    account_services.sms_code_send(
        mobile=user.mobile, purpose=SmsCode.Purpose.BIND, scope=str(bulk.public_id), client_key=f"account:{user.pk}"
    )
    return bulk


def bulk_binding_confirm(*, user: User, bulk_id: Any, code: str) -> list[Binding]:
    """Second step: the code sent to the contact mobile comes back, and every eligible card of
    the batch is bound in one transaction, or none is. Each card is locked and checked again
    (still active, unchanged by its issuer since the first step, not bound meanwhile); when one
    fails, nothing is bound, the batch ends, and the answer (``extra["refused"]``) names the
    cards at fault. A wrong code counts as in single binding (the code's tries)."""
    bulk = selectors.pending_bulk(user, bulk_id)
    if bulk is None:
        raise _bulk_gone()
    try:
        account_services.sms_code_verify(
            mobile=user.mobile, purpose=SmsCode.Purpose.BIND, code=code, scope=str(bulk.public_id)
        )
    except ServiceError as exc:
        if exc.code in ("code_locked", "code_expired", "code_missing"):
            _finish_bulk(bulk, BulkBinding.Status.FAILED, exc.message, Outcome.CODE_FAILED)
        raise
    now = timezone.now()
    problems: list[tuple[BindingAttempt, _Refusal]] = []
    created: list[Binding] = []
    with transaction.atomic():
        locked = BulkBinding.objects.select_for_update().filter(pk=bulk.pk, status=BulkBinding.Status.PENDING).first()
        if locked is None:  # confirmed by a concurrent request with the same code
            raise _bulk_gone()
        attempts = list(
            BindingAttempt.objects.filter(bulk=bulk, outcome=Outcome.PENDING, card__isnull=False).order_by("pk")
        )
        cards = {
            card.pk: card
            for card in Card.objects.select_for_update(of=("self",))
            .select_related("issuer")
            .filter(pk__in=[a.card_id for a in attempts])
            .order_by("pk")
        }
        card_of = {a.pk: cards[a.card_id] for a in attempts if a.card_id is not None}
        holders = dict(
            Binding.objects.filter(card_id__in=list(cards), ended_at__isnull=True).values_list("card_id", "user_id")
        )
        for attempt in attempts:
            card = card_of[attempt.pk]
            refusal = _stale_card_refusal(card, attempt)
            if refusal is None and holders.get(card.pk) is not None:
                refusal = _Refusal(
                    Outcome.ALREADY_BOUND,
                    _("该卡刚刚被其他票根账户绑定。如这是您的卡，请拨打票根客服热线 %(hotline)s。")
                    % {"hotline": settings.SUPPORT_HOTLINE},
                )
            if refusal is not None:
                problems.append((attempt, refusal))
        if not problems:
            title = _sole_title(user)
            try:
                with transaction.atomic():
                    created = bulk_create_with_history(
                        [Binding(user=user, card=card_of[a.pk], bound_at=now, default_title=title) for a in attempts],
                        Binding,
                        batch_size=500,
                        default_user=user,
                        default_change_reason=str(_("批量绑卡")),
                    )
            except IntegrityError:  # a card was bound by a concurrent confirmation
                taken = set(
                    Binding.objects.filter(card_id__in=list(cards), ended_at__isnull=True).values_list(
                        "card_id", flat=True
                    )
                )
                message = _("该卡刚刚被其他票根账户绑定。如这是您的卡，请拨打票根客服热线 %(hotline)s。") % {
                    "hotline": settings.SUPPORT_HOTLINE
                }
                problems = [(a, _Refusal(Outcome.ALREADY_BOUND, message)) for a in attempts if a.card_id in taken] or [
                    (a, _Refusal(Outcome.ALREADY_BOUND, message)) for a in attempts[:1]
                ]
        if problems:
            for attempt, refusal in problems:
                _finish_attempt(attempt, refusal.outcome, refusal.message, now=now)
            summary = _(
                "本批未绑定：有 %(n)s 张卡在您验证之后发生了变化（见下表）。为安全起见，本批其他卡也未绑定，"
                "请重新提交卡号列表。"
            ) % {"n": len(problems)}
            _finish_bulk(locked, BulkBinding.Status.FAILED, summary, Outcome.BATCH_ABORTED, now=now)
        else:
            BindingAttempt.objects.filter(pk__in=[a.pk for a in attempts]).update(
                outcome=Outcome.BOUND, message=_("绑定成功。"), confirmed_at=now
            )
            BulkBinding.objects.filter(pk=bulk.pk).update(
                status=BulkBinding.Status.BOUND,
                message=(_("已绑定 %(n)s 张卡。") % {"n": len(attempts)})[:300],
                finished_at=now,
            )
    if problems:
        logger.info("bulk binding bulk=%s refused at confirm problems=%s", bulk.pk, len(problems))
        refused = [
            BulkLine(None, card_of[a.pk].card_no, refusal.outcome, refusal.message, refusal.issuer).as_dict()
            for a, refusal in problems
        ]
        first = problems[0][1]
        raise ServiceError(first.outcome, summary, extra={"refused": refused})
    logger.info("bulk binding bulk=%s bound=%s", bulk.pk, len(created))
    return list(selectors.bound_cards(user).filter(pk__in=[b.pk for b in created]))
