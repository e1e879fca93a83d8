"""A supervisor lifts today's cap on failed binding attempts of an account or of one card
number, and the user is told by SMS and in their message centre (``CAP_LIFTED_HOOKS``)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from accounts import services as account_services
from accounts.models import User
from accounts.sms import SmsMessage
from piaogen.errors import ServiceError

from .. import identity, selectors
from ..models import BindingAttempt, BindingCapLift

logger = logging.getLogger(__name__)

PERM_LIFT_CAP = "cards.lift_cap"
LIFT_REASON_MAX = 200


def binding_cap_lift(*, staff: User, user: User, reason: str, card_no: str = "") -> BindingCapLift:
    """A supervisor lifts today's cap on failed binding attempts: the account's (no
    ``card_no``) or one card number's, which the account tried today. Failures before the lift
    stop counting towards that cap today; new ones count, so the protection stays. Refused
    without the permission, without a reason, and when the cap is not reached (nothing to lift).

    The row written is the audit (who, when, which cap, how many failures it held, why). The
    user is told by SMS (outbox, sent once committed) and in their message centre
    (``CAP_LIFTED_HOOKS``, in this transaction). The reason stays inside the centre."""
    if not (staff.is_active and staff.is_staff and staff.has_perm(PERM_LIFT_CAP)):
        raise ServiceError("forbidden", _("只有班长可以解除绑卡失败上限。"), status=403)
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("invalid", _("请填写解除原因。"), errors={"reason": [_("请填写解除原因。")]})
    if len(reason) > LIFT_REASON_MAX:
        message = _("解除原因不能超过 %(n)s 个字。") % {"n": LIFT_REASON_MAX}
        raise ServiceError("invalid", message, errors={"reason": [message]})
    card_no = identity.normalize_card_no(card_no or "")
    with transaction.atomic():
        # The same lock binding takes: an attempt running now is counted before or after.
        customer = User.objects.select_for_update().filter(pk=user.pk, is_staff=False).first()
        if customer is None:
            raise ServiceError("not_found", _("找不到该客户账户。"), status=404)
        status = selectors.binding_cap_status(customer)
        if card_no:
            tried = BindingAttempt.objects.filter(
                user=customer,
                card_no=card_no,
                outcome__in=BindingAttempt.FAILURES,
                created_at__gte=selectors.local_day_start(),
            ).exists()
            if not tried:
                message = _("该客户今日没有绑定卡 %(card_no)s 失败的记录，无法解除该卡的上限。") % {"card_no": card_no}
                raise ServiceError("invalid", message, errors={"card_no": [message]})
            failures = dict(status.cards_liftable).get(card_no)
            if failures is None:
                raise ServiceError(
                    "cap_not_reached",
                    _("卡 %(card_no)s 今日的绑卡失败次数未达上限（%(cap)s 次），无需解除。")
                    % {"card_no": card_no, "cap": settings.BINDING_MAX_FAILURES_PER_CLIENT_CARD},
                )
            scope = BindingCapLift.Scope.CARD
        else:
            if not status.account_reached:
                raise ServiceError(
                    "cap_not_reached",
                    _("该账户今日计入上限的绑卡失败为 %(n)s 次，未达上限（%(cap)s 次），无需解除。")
                    % {"n": status.account_failures, "cap": status.account_cap},
                )
            failures = status.account_failures
            scope = BindingCapLift.Scope.ACCOUNT
        lift = BindingCapLift.objects.create(
            user=customer, scope=scope, card_no=card_no, failures=failures, staff=staff, reason=reason
        )
        with translation.override("zh-hans"):  # SMS texts are the filed Chinese ones (docs/i18n.md)
            sms = SmsMessage(mobile=customer.mobile, text=cap_lift_sms_text(lift), purpose="notice")
        ids = account_services.sms_outbox_add([sms])
        for hook in CAP_LIFTED_HOOKS:
            hook(lift)
        transaction.on_commit(lambda: account_services.sms_queue(ids))
    logger.info(
        "binding cap lifted lift=%s user=%s scope=%s card=%s failures=%s staff=%s",
        lift.pk,
        customer.pk,
        scope,
        card_no or "-",
        failures,
        staff.pk,
    )
    return lift


def cap_lift_what(lift: BindingCapLift) -> str:
    """Which cap, in words: 账户 or 卡号尾号NNNN的ETC卡."""
    if lift.scope == BindingCapLift.Scope.CARD:
        return _("卡号尾号%(tail)s的ETC卡") % {"tail": lift.card_no[-4:]}
    return _("您账户")


def cap_lift_sms_text(lift: BindingCapLift) -> str:
    return _(
        "【票根】客服已解除%(what)s今日的绑卡验证失败次数限制，您现在可以重新绑定。请核对卡号、证件号码和办卡时"
        "预留的手机号后再试；如有疑问请拨打票根客服热线 %(hotline)s。"
    ) % {"what": cap_lift_what(lift), "hotline": settings.SUPPORT_HOTLINE}


# Callables (lift) run inside the transaction that lifts a cap; the message centre registers one
# (support/apps.py). A hook that raises undoes the lift: database writes only.
CAP_LIFTED_HOOKS: list = []
