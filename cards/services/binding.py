"""Binding one card (绑定ETC卡) in two steps: the details typed are compared with the issuer's
reserved ones (keyed digests, never the numbers themselves) and a code goes to the reserved mobile
(``binding_start``); the code comes back and the card is bound (``binding_confirm``). Failed
attempts are capped a day per account and per client and card; past a card's ceiling the code is
proved before the ID is compared.

Refusals are ``ServiceError``s with the codes of the API contract; pages and the App API show
the same messages."""

from __future__ import annotations

import logging
import math
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import services as account_services
from accounts.models import SmsCode, User, mobile_digest
from piaogen.crypto import lookup_digest
from piaogen.errors import ServiceError
from piaogen.masking import mask_mobile

from .. import identity, selectors
from ..models import Binding, BindingAttempt, Card, IdType, InvoiceTitle, Issuer
from .shared import _collect, _first_message, _issuer_phrase, holder_name_digest, id_number_digest, issuer_info

logger = logging.getLogger(__name__)

Outcome = BindingAttempt.Outcome


def _local_day_start():
    return timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass
class _Refusal:
    outcome: str
    message: str
    issuer: Issuer | None = None
    retry_after: int | None = None

    def error(self) -> ServiceError:
        extra = {"issuer": issuer_info(self.issuer)} if self.issuer is not None else {}
        return ServiceError(self.outcome, self.message, extra=extra, retry_after=self.retry_after)


def _failures_today(*, user: User, card_no: str) -> tuple[int, int]:
    return selectors.failures_today(user=user, card_no=card_no)


def client_digest(address: str) -> str:
    """The client a binding attempt came from, as stored: a keyed digest of its address."""
    return lookup_digest(address, purpose="binding-client")[:32] if address else ""


def _client_card_failures(*, client: str, card_no: str) -> int:
    return selectors.client_card_failures_today(client=client, card_no=card_no)


def _card_at_ceiling(card_failures: int) -> bool:
    """Failures at the card from all clients reached today's ceiling: from now on the reserved
    mobile proves the code before the ID is compared (``binding_start``)."""
    return card_failures >= settings.BINDING_MAX_FAILURES_PER_CARD


def _proof_first_refusal(
    *, user: User, card: Card | None, card_no: str, prefix_issuer: Issuer, mobile: str, **counts: int
) -> _Refusal | None:
    """What a card at its ceiling is refused for before any code: what says nothing of the
    holder's ID (no such card, cancelled, a company card and not its contact's account) and a
    mobile that is not the reserved one (the code could not reach the holder). Neither the ID
    nor the holder name is compared here."""
    if card is None or card.status == Card.Status.CANCELLED or card.is_enterprise:
        refusal = _compare(
            user=user,
            card=card,
            card_no=card_no,
            prefix_issuer=prefix_issuer,
            id_type=card.id_type if card else "",
            id_number="",
            holder_name=None,
            mobile=mobile,
            **counts,
        )
        if refusal is None or refusal.outcome != Outcome.ID_MISMATCH:
            return refusal  # the company card's contact account goes on to the mobile below
    assert card is not None  # no card is refused by _compare (CARD_NOT_FOUND)
    if not secrets.compare_digest(card.mobile_digest, mobile_digest(mobile)):
        message = _(
            "您填写的手机号与%(issuer)s预留的手机号不一致。请填写办卡时登记的手机号；如已更换手机号，请联系发行方"
            "核对或更新预留手机号，更新后再重新绑定。"
        ) % {"issuer": _issuer_phrase(card.issuer)}
        return _Refusal(Outcome.MOBILE_MISMATCH, message + _tries_left(**counts), card.issuer)
    return None


def _proved_details_refusal(card: Card, attempt: BindingAttempt) -> _Refusal | None:
    """A proof-first attempt, its code proved by the reserved mobile: the ID typed at the first
    step (its keyed digest) against the reserved one, then the holder name when one was typed."""
    if not (
        card.id_type == attempt.id_type and secrets.compare_digest(card.id_number_digest, attempt.id_number_digest)
    ):
        message = _(
            "您填写的证件类型或证件号码与%(issuer)s预留的信息不一致。请核对后重新绑定；如确认无误，请联系发行方核对或"
            "更新预留信息，更新后再重新绑定。"
        ) % {"issuer": _issuer_phrase(card.issuer)}
        return _Refusal(Outcome.ID_MISMATCH, message, card.issuer)
    if attempt.holder_name_digest and not secrets.compare_digest(
        holder_name_digest(card.holder_name), attempt.holder_name_digest
    ):
        return _Refusal(Outcome.HOLDER_NAME_MISMATCH, _holder_name_message(card.issuer), card.issuer)
    return None


def _holder_name_message(issuer: Issuer) -> str:
    return _(
        "您填写的开户人名称与%(issuer)s预留的开户人名称不一致。个人卡请填写持卡人姓名，单位卡请填写单位全称（与营业执照"
        "一致）；如确认无误，请联系发行方核对或更新预留信息，更新后再重新绑定。"
    ) % {"issuer": _issuer_phrase(issuer)}


def _reset_text() -> str:
    """When the caps reset, exactly: the next 00:00 in Asia/Shanghai."""
    tomorrow = _local_day_start() + timedelta(days=1)
    return _("%(month)s月%(day)s日 00:00（北京时间）") % {"month": tomorrow.month, "day": tomorrow.day}


def _seconds_to_tomorrow() -> int:
    tomorrow = _local_day_start() + timedelta(days=1)
    return max(1, math.ceil((tomorrow - timezone.now()).total_seconds()))


def _cap_refusal(account_failures: int, card_failures: int) -> _Refusal | None:
    """``card_failures``: this client's failures at the card today (``_client_card_failures``)."""
    per_account = settings.BINDING_MAX_FAILURES_PER_ACCOUNT
    per_card = settings.BINDING_MAX_FAILURES_PER_CLIENT_CARD
    if account_failures >= per_account:
        message = _(
            "您的账户今日绑卡验证失败已达 %(cap)s 次。为保护持卡人信息，今日暂停绑卡，请于 %(at)s 后再试；"
            "如需帮助请拨打票根客服热线 %(hotline)s。"
        ) % {"cap": per_account, "hotline": settings.SUPPORT_HOTLINE, "at": _reset_text()}
        return _Refusal(Outcome.TOO_MANY_ATTEMPTS, message, retry_after=_seconds_to_tomorrow())
    if card_failures >= per_card:
        message = _(
            "您今日绑定该卡验证失败已达 %(cap)s 次。为保护持卡人信息，今日暂停您绑定该卡，请于 %(at)s 后再试；"
            "如需帮助请拨打票根客服热线 %(hotline)s。"
        ) % {"cap": per_card, "hotline": settings.SUPPORT_HOTLINE, "at": _reset_text()}
        return _Refusal(Outcome.TOO_MANY_ATTEMPTS, message, retry_after=_seconds_to_tomorrow())
    return None


def _tries_left(account_failures: int, card_failures: int) -> str:
    left = min(
        settings.BINDING_MAX_FAILURES_PER_ACCOUNT - account_failures - 1,
        settings.BINDING_MAX_FAILURES_PER_CLIENT_CARD - card_failures - 1,
    )
    if left > 0:
        return _("今日还可尝试 %(left)s 次。") % {"left": left}
    return _("今日尝试次数已用完，请于 %(at)s 后再试。") % {"at": _reset_text()}


def _compare(
    *,
    user: User,
    card: Card | None,
    card_no: str,
    prefix_issuer: Issuer,
    id_type: str,
    id_number: str,
    holder_name: str | None,
    mobile: str,
    account_failures: int,
    card_failures: int,
) -> _Refusal | None:
    """Checks the typed details against the registry. The ID, the holder name (when one was
    typed: ``None`` is not compared) and the mobile are all compared before any is reported,
    and the first that differs, in that order, is the one named. The ID and the mobile are
    compared by digest, the name once normalised (``identity.holder_names_match``)."""
    if card is None:
        issuer = prefix_issuer
        message = _(
            "未找到卡号 %(card_no)s。请核对卡号（20位数字，印在ETC卡正面）。如卡号无误，可能发行方尚未向平台报送该卡，"
            "请联系%(issuer)s。"
        ) % {"card_no": card_no, "issuer": _issuer_phrase(issuer)}
        return _Refusal(Outcome.CARD_NOT_FOUND, message + _tries_left(account_failures, card_failures), issuer)
    issuer = card.issuer
    if card.status == Card.Status.CANCELLED:
        message = _(
            "卡号 %(card_no)s 在%(issuer)s登记为已注销，不能绑定。如该卡仍在使用，请联系发行方核实卡片状态，"
            "处理后再重新绑定。"
        ) % {"card_no": card_no, "issuer": _issuer_phrase(issuer)}
        return _Refusal(Outcome.CARD_CANCELLED, message, issuer)
    if card.is_enterprise and not (
        user.is_enterprise and secrets.compare_digest(user.mobile_digest, card.mobile_digest)
    ):
        message = _(
            "这是单位卡（持卡人证件为统一社会信用代码），只能由单位账户绑定，且该账户的登录手机号须是发行方登记的"
            "单位联系人手机号。请用该手机号注册或登录单位账户后再绑定；如联系人手机号已变更，请联系%(issuer)s更新。"
        ) % {"issuer": _issuer_phrase(issuer)}
        return _Refusal(Outcome.NOT_ENTERPRISE_CONTACT, message, issuer)
    id_ok = secrets.compare_digest(card.id_number_digest, id_number_digest(id_number)) & (card.id_type == id_type)
    name_ok = holder_name is None or identity.holder_names_match(holder_name, card.holder_name)
    mobile_ok = secrets.compare_digest(card.mobile_digest, mobile_digest(mobile))
    left = _tries_left(account_failures, card_failures)
    if not id_ok:
        message = _(
            "您填写的证件类型或证件号码与%(issuer)s预留的信息不一致。请核对后重试；如确认无误，请联系发行方核对或更新"
            "预留信息，更新后再重新绑定。"
        ) % {"issuer": _issuer_phrase(issuer)}
        return _Refusal(Outcome.ID_MISMATCH, message + left, issuer)
    if not name_ok:
        return _Refusal(Outcome.HOLDER_NAME_MISMATCH, _holder_name_message(issuer) + left, issuer)
    if not mobile_ok:
        message = _(
            "您填写的手机号与%(issuer)s预留的手机号不一致。请填写办卡时登记的手机号；如已更换手机号，请联系发行方"
            "核对或更新预留手机号，更新后再重新绑定。"
        ) % {"issuer": _issuer_phrase(issuer)}
        return _Refusal(Outcome.MOBILE_MISMATCH, message + left, issuer)
    holder = Binding.objects.filter(card=card, ended_at__isnull=True).values_list("user_id", flat=True).first()
    return _held_refusal(holder, user, yours=Outcome.ALREADY_BOUND)


def _held_refusal(holder: int | None, user: User, *, yours: str) -> _Refusal | None:
    """The refusal of a card bound now to ``holder`` (a user id, None when free): ``yours`` when
    the user is the holder, already bound to another account otherwise."""
    if holder is None:
        return None
    if holder == user.pk:
        return _Refusal(yours, _("该卡已绑定在您的账户中，无需重复绑定。"))
    message = _(
        "该卡已被其他票根账户绑定。如这是您的卡，请登录原账户解绑后再绑定；无法登录原账户时，请拨打票根客服热线 "
        "%(hotline)s。"
    ) % {"hotline": settings.SUPPORT_HOTLINE}
    return _Refusal(Outcome.ALREADY_BOUND, message)


def _record_attempt(
    *, user: User, card_no: str, id_type: str, outcome: str, message: str, card: Card | None = None, **fields: Any
) -> BindingAttempt:
    return BindingAttempt.objects.create(
        user=user,
        card_no=card_no[:32],
        card=card,
        id_type=id_type if id_type in IdType.values else "",
        outcome=outcome,
        message=message[:300],
        **fields,
    )


def binding_start(
    *,
    user: User,
    card_no: str,
    id_type: str,
    id_number: str,
    mobile: str,
    holder_name: str | None = None,
    address: str = "",
) -> BindingAttempt:
    """First step of binding: the details match the issuer's reserved ones, and a code goes
    to the reserved mobile. Returns the pending attempt (its ``public_id`` is the binding id).

    ``holder_name`` (开户人名称) is compared, normalised, with the reserved holder name when
    given; the page always asks for it. Not given (``None`` or blank), it is not compared, or,
    with ``BINDING_HOLDER_NAME_REQUIRED``, refused as ``invalid``. It is never logged or kept:
    only its keyed digest, on a proof-first attempt.

    Every attempt is recorded, refusals included, in its own committed transaction. Failed
    attempts are capped a day per account and per (client ``address``, card); once a cap is
    reached nothing is compared any more. Failures at a card from all clients together reach a
    ceiling (``BINDING_MAX_FAILURES_PER_CARD``) past which the card is not refused but protected:
    the code goes to the reserved mobile when the mobile typed is that one, and the ID typed is
    compared only once the code comes back (``binding_confirm``), so strangers can neither stop
    the holder nor use the answers to guess the ID (nor the name).
    """
    card_no = identity.normalize_card_no(card_no)
    id_type = str(id_type or "").strip()
    id_number = identity.normalize_id_number(id_number)
    mobile = identity.normalize_mobile(mobile)
    if holder_name is not None and not str(holder_name).strip():
        holder_name = None
    prefix_issuer = selectors.issuer_for_card_no(card_no) if len(card_no) >= 4 else None

    errors: dict[str, list[str]] = {}
    if not card_no:
        errors["card_no"] = [_("请填写卡号。")]
    else:
        _collect(errors, "card_no", identity.validate_card_no, card_no)
        if "card_no" not in errors and prefix_issuer is None:
            errors["card_no"] = [
                _("卡号前4位（卡片网络编号）%(code)s 不属于任何已知的发行方，请核对卡号。") % {"code": card_no[:4]}
            ]
    if not id_type:
        errors["id_type"] = [_("请选择证件类型。")]
    else:
        _collect(errors, "id_type", identity.validate_id_type, id_type)
    if not id_number:
        errors["id_number"] = [_("请填写证件号码。")]
    elif "id_type" not in errors:
        _collect(errors, "id_number", identity.validate_id_number, id_type, id_number)
    if not mobile:
        errors["mobile"] = [_("请填写办卡时预留的手机号。")]
    else:
        _collect(errors, "mobile", identity.validate_mobile, mobile)
    if holder_name is not None:
        holder_name = str(holder_name)
        _collect(errors, "holder_name", identity.validate_typed_holder_name, holder_name)
    elif settings.BINDING_HOLDER_NAME_REQUIRED:
        errors["holder_name"] = [_("请填写开户人名称：个人卡填写持卡人姓名，单位卡填写单位全称。")]
    if errors:
        message = _first_message(errors)
        _record_attempt(user=user, card_no=card_no, id_type=id_type, outcome=Outcome.INVALID, message=message)
        raise ServiceError("invalid", message, errors=errors)
    assert prefix_issuer is not None  # a card number of no known issuer is refused above

    with transaction.atomic():
        # One account's attempts, and one card's, are taken one at a time: two requests at
        # once cannot both slip under a cap.
        User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True).first()
        card = Card.objects.select_for_update(of=("self",)).select_related("issuer").filter(card_no=card_no).first()
        account_failures, card_failures = _failures_today(user=user, card_no=card_no)
        client = client_digest(address)
        mine = _client_card_failures(client=client, card_no=card_no)
        refusal = _cap_refusal(account_failures, mine)
        proof_first = refusal is None and _card_at_ceiling(card_failures)
        if proof_first:
            refusal = _proof_first_refusal(
                user=user,
                card=card,
                card_no=card_no,
                prefix_issuer=prefix_issuer,
                mobile=mobile,
                account_failures=account_failures,
                card_failures=mine,
            )
        elif refusal is None:
            refusal = _compare(
                user=user,
                card=card,
                card_no=card_no,
                prefix_issuer=prefix_issuer,
                id_type=id_type,
                id_number=id_number,
                holder_name=holder_name,
                mobile=mobile,
                account_failures=account_failures,
                card_failures=mine,
            )
        if refusal is not None:
            message = refusal.message
        elif proof_first and holder_name:
            message = _("验证码已发送至预留手机号 %(mobile)s，验证码通过后再核对证件信息和开户人名称。") % {
                "mobile": mask_mobile(mobile)
            }
        elif proof_first:
            message = _("验证码已发送至预留手机号 %(mobile)s，验证码通过后再核对证件信息。") % {
                "mobile": mask_mobile(mobile)
            }
        else:
            message = _("信息一致，验证码已发送至 %(mobile)s。") % {"mobile": mask_mobile(mobile)}
        attempt = _record_attempt(
            user=user,
            card_no=card_no,
            id_type=id_type,
            card=card,
            outcome=refusal.outcome if refusal else Outcome.PENDING,
            message=message,
            client_digest=client,
            proof_first=proof_first and refusal is None,
            id_number_digest=id_number_digest(id_number) if proof_first and refusal is None else "",
            holder_name_digest=(
                holder_name_digest(holder_name) if proof_first and refusal is None and holder_name else ""
            ),
        )
    logger.info("binding attempt=%s card=%s outcome=%s", attempt.pk, card_no, attempt.outcome)
    if refusal is not None:
        raise refusal.error()
    assert card is not None  # no card is refused (CARD_NOT_FOUND)
    _send_bind_code(attempt=attempt, mobile=card.mobile)
    return attempt


def _send_bind_code(*, attempt: BindingAttempt, mobile: str) -> None:
    try:
        account_services.sms_code_send(
            mobile=mobile,
            purpose=SmsCode.Purpose.BIND,
            scope=str(attempt.public_id),
            client_key=f"account:{attempt.user_id}",
        )
    except ServiceError as exc:
        BindingAttempt.objects.filter(pk=attempt.pk).update(outcome=Outcome.CODE_FAILED, message=exc.message[:300])
        raise


def binding_code_resend(*, user: User, binding_id) -> BindingAttempt:
    """Sends the pending attempt's code again (subject to the SMS resend rules)."""
    attempt = selectors.pending_attempt(user, binding_id)
    if attempt is None:
        raise _attempt_gone()
    assert attempt.card is not None  # an attempt is pending only for a registered card
    account_services.sms_code_send(
        mobile=attempt.card.mobile,
        purpose=SmsCode.Purpose.BIND,
        scope=str(attempt.public_id),
        client_key=f"account:{user.pk}",
    )
    return attempt


def _attempt_gone() -> ServiceError:
    message = _("该绑定申请不存在或已失效，请重新填写卡号和预留信息。")
    return ServiceError("invalid", message, errors={"binding_id": [message]})


def binding_confirm(*, user: User, binding_id, code: str) -> Binding:
    """Second step: the code sent to the reserved mobile comes back, and the card is bound.

    The card row is locked and checked again (still active, unchanged since the check, not
    bound meanwhile); the partial unique constraint on active bindings backs the check.
    """
    attempt = selectors.pending_attempt(user, binding_id)
    if attempt is None:
        raise _attempt_gone()
    assert attempt.card is not None  # an attempt is pending only for a registered card
    # Checked again under lock below; checked first too, so that a card the issuer changed
    # (perhaps the very mobile the code went to) is explained instead of failing on the code.
    refusal = _stale_card_refusal(attempt.card, attempt)
    if refusal is not None:
        _finish_attempt(attempt, refusal.outcome, refusal.message)
        raise refusal.error()
    try:
        account_services.sms_code_verify(
            mobile=attempt.card.mobile, purpose=SmsCode.Purpose.BIND, code=code, scope=str(attempt.public_id)
        )
    except ServiceError as exc:
        if exc.code in ("code_locked", "code_expired", "code_missing"):
            _finish_attempt(attempt, Outcome.CODE_FAILED, exc.message)
        raise
    now = timezone.now()
    binding = None
    with transaction.atomic():
        card = Card.objects.select_for_update(of=("self",)).select_related("issuer").get(pk=attempt.card.pk)
        refusal = _stale_card_refusal(card, attempt)
        if refusal is None and attempt.proof_first:
            refusal = _proved_details_refusal(card, attempt)
        if refusal is None:
            holder = Binding.objects.filter(card=card, ended_at__isnull=True).values_list("user_id", flat=True).first()
            if holder is None:
                try:
                    with transaction.atomic():
                        binding = Binding.objects.create(
                            user=user, card=card, bound_at=now, default_title=_sole_title(user)
                        )
                except IntegrityError:  # bound by a concurrent confirmation
                    holder = -1
            if holder == user.pk:
                refusal = _Refusal(Outcome.ALREADY_BOUND, _("该卡已绑定在您的账户中，无需重复绑定。"))
            elif holder is not None:
                refusal = _Refusal(
                    Outcome.ALREADY_BOUND,
                    _("该卡刚刚被其他票根账户绑定。如这是您的卡，请拨打票根客服热线 %(hotline)s。")
                    % {"hotline": settings.SUPPORT_HOTLINE},
                )
        if refusal is None:
            _finish_attempt(attempt, Outcome.BOUND, _("绑定成功。"), now=now)
        else:
            _finish_attempt(attempt, refusal.outcome, refusal.message, now=now)
    if refusal is not None:
        logger.info("binding attempt=%s refused at confirm outcome=%s", attempt.pk, refusal.outcome)
        raise refusal.error()
    assert binding is not None  # created above when nothing was refused
    logger.info("binding created binding=%s attempt=%s card=%s", binding.pk, attempt.pk, card.card_no)
    return selectors.bound_cards(user).get(pk=binding.pk)


def _finish_attempt(attempt: BindingAttempt, outcome: str, message: str, *, now=None) -> None:
    BindingAttempt.objects.filter(pk=attempt.pk).update(
        outcome=outcome, message=str(message)[:300], confirmed_at=now or timezone.now()
    )


def _stale_card_refusal(card: Card, attempt: BindingAttempt) -> _Refusal | None:
    """The card was cancelled, or changed by its issuer, after the attempt's details matched."""
    if card.status != Card.Status.ACTIVE:
        return _Refusal(
            Outcome.CARD_CANCELLED,
            _("%(issuer)s已将该卡登记为已注销，不能绑定。请联系发行方核实卡片状态。")
            % {"issuer": _issuer_phrase(card.issuer)},
            card.issuer,
        )
    if card.updated_at > attempt.created_at:
        return _Refusal(
            Outcome.CARD_CHANGED,
            _("您验证之后，发行方更新了该卡的登记信息。为安全起见，请重新填写卡号和预留信息进行绑定。"),
        )
    return None


def _sole_title(user: User) -> InvoiceTitle | None:
    """A user with exactly one title gets it as the new card's default."""
    found = list(selectors.titles(user)[:2])
    return found[0] if len(found) == 1 else None
