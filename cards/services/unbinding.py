"""Unbinding: the user's own and contact-centre staff's (an issuer's push ends bindings in
``registry``); the hooks that run in every ending transaction (``BINDING_ENDED_HOOKS``); and the
notices of endings the user has not been shown yet."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from piaogen.errors import ServiceError

from .. import identity, selectors
from ..models import Binding
from .shared import _issuer_phrase

logger = logging.getLogger(__name__)


def binding_end(*, user: User, card_no: str) -> Binding:
    """The user unbinds a card (active unbinding). History stays."""
    card_no = identity.normalize_card_no(card_no)
    now = timezone.now()
    with transaction.atomic():
        binding = (
            Binding.objects.select_for_update(of=("self",))
            .filter(user=user, card__card_no=card_no, ended_at__isnull=True)
            .first()
        )
        if binding is None:
            raise ServiceError("not_found", _("您的账户没有绑定该卡。"), status=404)
        binding.ended_at = now
        binding.end_kind = Binding.EndKind.ACTIVE
        binding.end_reason = _("用户主动解绑")
        binding.save(update_fields=["ended_at", "end_kind", "end_reason"])
    logger.info("binding ended active binding=%s card=%s", binding.pk, card_no)
    return binding


def binding_end_by_staff(*, staff: User, binding: Binding, reason: str) -> Binding:
    """Contact-centre unbinding, with the written reason the user will be shown."""
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("invalid", _("请填写解绑原因。"), errors={"reason": [_("请填写解绑原因。")]})
    with transaction.atomic():
        locked = (
            Binding.objects.select_for_update(of=("self",))
            .select_related("card__issuer")
            .defer(*selectors.SENSITIVE_CARD_FIELDS)
            .filter(pk=binding.pk, ended_at__isnull=True)
            .first()
        )
        if locked is None:
            raise ServiceError("invalid", _("该绑定已经解除。"))
        locked.ended_at = timezone.now()
        locked.end_kind = Binding.EndKind.STAFF
        locked.end_reason = reason[:200]
        # Read by django-simple-history when it writes the history row of this save.
        locked._history_user = staff  # type: ignore[attr-defined]
        locked._change_reason = reason[:100]  # type: ignore[attr-defined]
        locked.save(update_fields=["ended_at", "end_kind", "end_reason"])
        _binding_ended([locked])
    logger.info("binding ended staff binding=%s staff=%s", locked.pk, staff.pk)
    return locked


# Callables (bindings) run inside the transaction that ends bindings by an issuer's push or by
# staff, each binding with its card and the card's issuer; the contact centre's message centre
# registers one (support/apps.py). A hook that raises undoes the unbinding: database writes only.
BINDING_ENDED_HOOKS: list = []


def _binding_ended(bindings: list[Binding]) -> None:
    for hook in BINDING_ENDED_HOOKS:
        hook(bindings)


# The message centre (support.Notification) is the one store of the notices of bindings ended by
# an issuer or by staff: it writes them in the ending transaction (BINDING_ENDED_HOOKS above) and
# registers here what takes those the user has not been shown yet (support/apps.py).
BINDING_NOTICE_SOURCES: list = []


def binding_notices_take(*, user: User) -> list[Binding]:
    """The user's endings by issuer or staff not shown yet, each with its card and issuer; marks
    them shown (the App's cards answer; pages announce them through the message centre)."""
    taken: list[Binding] = []
    for source in BINDING_NOTICE_SOURCES:
        taken.extend(source(user))
    return taken


def notice_text(binding: Binding) -> str:
    card = binding.card
    text = _("您的ETC卡 %(plate)s（卡号尾号%(tail)s）已解绑：%(reason)s。") % {
        "plate": card.plate,
        "tail": card.card_no[-4:],
        "reason": _(binding.end_reason) if binding.end_reason else "",
    }
    if binding.end_kind == Binding.EndKind.PASSIVE:
        text += _("如需继续开票，请重新绑定；如有疑问请联系%(issuer)s。") % {"issuer": _issuer_phrase(card.issuer)}
    else:
        text += _("如有疑问请拨打票根客服热线 %(hotline)s。") % {"hotline": settings.SUPPORT_HOTLINE}
    return text
