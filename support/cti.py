"""The telephone switch's side of the hotline (CTI): its token, and the call events it posts.

The switch posts one event per request to ``POST /api/v1/cti/events`` with a switch token
(``SwitchToken``, ``manage.py cti_token``); that token opens nothing else, and partner or App
tokens are unknown there. Three events make a call (docs/contact-centre.md has the contract):

- ``newCall``: the call rings in a queue (call id, the caller's number, the number dialled,
  direction, queue, extension);
- ``answer``: an agent took it (by extension, or by staff id);
- ``hangup``: it ended (cause).

Each event applies once per call id: the same event again is answered ``duplicate`` and
changes nothing. Events may arrive in any order: the first one of a call creates its row, the
others fill in their part, and the outcome and durations are worked out again from what is
known (``Call.settle``). An unknown or hidden caller is never an error: the call is logged
without an account. Numbers are written to the log masked.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication

from accounts.authentication import _bearer
from accounts.identity import normalize_mobile
from accounts.models import User, mobile_digest
from piaogen.crypto import new_token, token_digest
from piaogen.masking import mask_mobile

from .models import AgentExtension, Call, SwitchToken

logger = logging.getLogger(__name__)

NEW_CALL, ANSWER, HANGUP = "newCall", "answer", "hangup"
EVENT_BITS = {NEW_CALL: 1, ANSWER: 2, HANGUP: 4}
CALL_ID_RE = re.compile(r"^[A-Za-z0-9._:@-]{1,64}$")
# Hang-up causes as switches name them (Zammad's generic CTI list); others are kept as sent.
# An unanswered call ended by the caller is abandoned; any other unanswered end is missed.
CAUSES = ("normalClearing", "cancel", "noAnswer", "busy", "congestion", "notFound", "forwarded")


# --- the token ---------------------------------------------------------------------------------


def switch_token_issue(*, name: str) -> str:
    """A new switch token; returned in clear once, only its digest is stored."""
    token = new_token()
    SwitchToken.objects.create(name=name[:64], digest=token_digest(token), prefix=token[:8])
    logger.info("cti: new switch token %s… (%s)", token[:8], name[:64])
    return token


def switch_token_revoke(*, token: SwitchToken) -> bool:
    revoked = SwitchToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    if revoked:
        logger.info("cti: switch token %s… revoked", token.prefix)
    return bool(revoked)


class Switch:
    """``request.user`` of the CTI endpoint: the switch the token belongs to."""

    is_authenticated = True
    is_active = True
    is_staff = False

    def __init__(self, token: SwitchToken):
        self.token = token
        self.pk = token.pk
        self.name = token.name


class SwitchTokenAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        raw = _bearer(request)
        if raw is None:
            return None
        token = SwitchToken.objects.filter(digest=token_digest(raw), revoked_at__isnull=True).first()
        if token is None:
            raise exceptions.AuthenticationFailed(_("交换机令牌无效或已吊销。"))
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 300:
            SwitchToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return Switch(token), token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="cti"'


class SwitchTokenScheme(OpenApiAuthenticationExtension):
    target_class = "support.cti.SwitchTokenAuthentication"
    name = "SwitchToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "交换机令牌（manage.py cti_token issue）"}


# --- what the agent's console polls ------------------------------------------------------------

# The console's call notice polls every agent's open calls several times a second. A version per
# agent in the cache, moved on whenever one of their calls changes (after the commit), lets a
# poll that has seen the current version answer without reading the database.
VERSION_KEY = "cti:notice:%s"


def notice_version(agent_id: int) -> str | None:
    try:
        value = cache.get(VERSION_KEY % agent_id)
        if value is None:
            value = timezone.now().strftime("%H%M%S%f")
            if not cache.add(VERSION_KEY % agent_id, value, timeout=None):
                value = cache.get(VERSION_KEY % agent_id)
        return None if value is None else str(value)
    except Exception:  # the cache is out: every poll reads the database
        logger.warning("cti: notice version unavailable", exc_info=True)
        return None


def notice_changed(agent_id: int | None) -> None:
    """Moves the agent's version on once the current transaction commits."""
    if agent_id is None:
        return

    def bump():
        try:
            cache.set(VERSION_KEY % agent_id, f"{timezone.now():%H%M%S%f}-{agent_id}", timeout=None)
        except Exception:
            logger.warning("cti: notice version not moved on", exc_info=True)

    transaction.on_commit(bump)


# --- the events --------------------------------------------------------------------------------


@dataclass
class EventResult:
    call: Call
    applied: bool  # False: this event of this call had been applied already
    warnings: list[str] = field(default_factory=list)


def clean_number(raw: str | None) -> str:
    """The digits of a number as the switch sent it, or "" when it is hidden or not a number
    (``anonymous``, ``unknown``, empty): such a caller is logged without a number."""
    number = normalize_mobile(str(raw or "")).replace("(", "").replace(")", "")
    return number if number.isdigit() and 3 <= len(number) <= 20 else ""


def _agent_for(*, extension: str, agent_id: int | None) -> User | None:
    if agent_id is not None:
        return User.objects.filter(pk=agent_id, is_staff=True, is_active=True).defer("mobile").first()
    if extension:
        row = AgentExtension.objects.filter(extension=extension, staff__is_active=True).select_related("staff").first()
        return row.staff if row else None
    return None


# What an event writes, besides the outcome and durations ``settle`` works out.
SETTLED = ["started_at", "outcome", "wait_seconds", "handle_seconds", "switch_events"]
WRITES = {
    NEW_CALL: ["direction", "caller_number", "caller_digest", "caller_masked", "line", "queue", "extension", "user"],
    ANSWER: ["answered_at", "extension", "agent"],
    HANGUP: ["ended_at", "hangup_cause"],
}


@transaction.atomic
def switch_event(
    *,
    event: str,
    call_id: str,
    at: datetime | None = None,
    caller: str = "",
    called: str = "",
    direction: str = Call.Direction.INBOUND,
    queue: str = "",
    extension: str = "",
    agent_id: int | None = None,
    cause: str = "",
) -> EventResult:
    """Applies one event of the switch to the call it names (see the module's docstring).

    One locked read and one write a call: the first event of a call inserts its row (a second
    event racing it waits on the unique call id, then updates); a later one updates only the
    fields it brings. The switch's events leave no history rows: the call's row is their record
    (what staff change afterwards is in the history as everywhere)."""
    at = at or timezone.now()
    bit = EVENT_BITS[event]
    call = Call.objects.select_for_update().filter(switch_call_id=call_id).defer("caller_number", "summary").first()
    if call is not None and call.switch_events & bit:
        return EventResult(call, applied=False)
    fresh = call is None
    if fresh:
        call = Call(
            switch_call_id=call_id,
            caller_number="",
            summary="",
            source=Call.Source.SWITCH,
            started_at=at,
            outcome=Call.Outcome.RINGING,
        )
    warnings = _apply(
        call,
        event,
        at,
        caller=caller,
        called=called,
        direction=direction,
        queue=queue,
        extension=extension,
        agent_id=agent_id,
        cause=cause,
    )
    call.skip_history_when_saving = True
    if fresh:
        try:
            with transaction.atomic():
                call.save(force_insert=True)
        except IntegrityError:  # another event of the same call created it meanwhile: apply to that
            return switch_event(
                event=event,
                call_id=call_id,
                at=at,
                caller=caller,
                called=called,
                direction=direction,
                queue=queue,
                extension=extension,
                agent_id=agent_id,
                cause=cause,
            )
    else:
        call.save(update_fields=[*SETTLED, *WRITES[event]])
    notice_changed(call.agent_id)
    logger.info(
        "cti %s call=%s from=%s outcome=%s agent=%s",
        event,
        call.pk,
        call.caller_masked or "-",
        call.outcome,
        call.agent_id or "-",
    )
    return EventResult(call, applied=True, warnings=warnings)


def _apply(call: Call, event: str, at: datetime, *, caller, called, direction, queue, extension, agent_id, cause):
    call.switch_events |= EVENT_BITS[event]
    warnings: list[str] = []
    if event == NEW_CALL:
        number = clean_number(caller)
        call.direction = direction
        call.caller_number = number
        call.caller_digest = mobile_digest(number) if number else ""
        call.caller_masked = mask_mobile(number) if number else ""
        call.line = clean_number(called)
        call.queue = queue[:32]
        if extension and not call.extension:
            call.extension = extension[:16]
        call.started_at = at  # the ring is the start (clamped below)
        if number and call.user_id is None:
            holders = list(
                User.objects.filter(mobile_digest=call.caller_digest, is_staff=False).values_list("pk", flat=True)[:2]
            )
            if len(holders) == 1:
                call.user_id = holders[0]
        if not number:
            warnings.append("caller_hidden")
        elif call.user_id is None:
            warnings.append("caller_unknown")
    elif event == ANSWER:
        call.answered_at = at
        if extension:
            call.extension = extension[:16]
        agent = _agent_for(extension=extension, agent_id=agent_id)
        if agent is None:
            warnings.append("agent_unknown")
        else:
            call.agent = agent
    else:
        call.ended_at = at
        call.hangup_cause = cause[:24]
    # Until the ring is known the earliest event holds its place; an answer or a hang-up never
    # lies before the ring.
    known = [t for t in (call.answered_at, call.ended_at) if t is not None]
    if call.switch_events & EVENT_BITS[NEW_CALL]:
        call.started_at = min([call.started_at, *known])
    else:
        call.started_at = min(known)
    call.settle()
    return warnings
