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
from django.db import connection, transaction
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
    _token_forget(token.digest)
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


# The switch posts hundreds of events a second with one token: the token's row is remembered in
# the cache for a minute (by digest, never the token), and forgotten at once when it is revoked.
TOKEN_KEY = "cti:token:%s"
TOKEN_CACHE_SECONDS = 60


def _token_forget(digest: str) -> None:
    try:
        cache.delete(TOKEN_KEY % digest)
    except Exception:
        logger.warning("cti: token cache not cleared", exc_info=True)


def _token_for(raw: str) -> SwitchToken | None:
    digest = token_digest(raw)
    try:
        known = cache.get(TOKEN_KEY % digest)
    except Exception:
        known = None
    if known is not None:
        pk, name, prefix, last_used = known
        return SwitchToken(pk=pk, name=name, prefix=prefix, digest=digest, last_used_at=last_used)
    token = SwitchToken.objects.filter(digest=digest, revoked_at__isnull=True).first()
    if token is not None:
        try:
            cache.set(TOKEN_KEY % digest, (token.pk, token.name, token.prefix, token.last_used_at), TOKEN_CACHE_SECONDS)
        except Exception:
            logger.warning("cti: token not cached", exc_info=True)
    return token


class SwitchTokenAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        raw = _bearer(request)
        if raw is None:
            return None
        token = _token_for(raw)
        if token is None:
            raise exceptions.AuthenticationFailed(_("交换机令牌无效或已吊销。"))
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 300:
            SwitchToken.objects.filter(pk=token.pk).update(last_used_at=now)
            _token_forget(token.digest)
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


def _agent_for(cursor, *, extension: str, agent_id: int | None) -> int | None:
    """The staff id of the agent an ``answer`` names: by staff id, else by extension."""
    if agent_id is not None:
        cursor.execute(SQL["agent_by_id"], [agent_id])
    elif extension:
        cursor.execute(SQL["agent_by_extension"], [extension])
    else:
        return None
    row = cursor.fetchone()
    return row[0] if row else None


def _holder_for(cursor, digest: str) -> int | None:
    """The one customer account holding this mobile, or None (none, or more than one)."""
    cursor.execute(SQL["holders"], [digest])
    rows = cursor.fetchall()
    return rows[0][0] if len(rows) == 1 else None


# What an event writes, besides the outcome and durations ``settle`` works out.
SETTLED = ["started_at", "outcome", "wait_seconds", "handle_seconds", "switch_events"]
WRITES = {
    NEW_CALL: ["direction", "caller_number", "caller_digest", "caller_masked", "line", "queue", "extension", "user"],
    ANSWER: ["answered_at", "extension", "agent"],
    HANGUP: ["ended_at", "hangup_cause"],
}
# What an event reads of a call already logged: what ``_apply`` and ``settle`` look at, and what
# the switch is answered. The call's other fields (the number, the agent's summary) stay unread.
READS = [
    "id",
    "switch_events",
    "started_at",
    "answered_at",
    "ended_at",
    "hangup_cause",
    "outcome",
    "wait_seconds",
    "handle_seconds",
    "extension",
    "caller_masked",
    "user",
    "agent",
]


def _statements() -> dict[str, str]:
    """The event path's SQL, written once from the models' metadata: an event is one locked
    read and one write of its call (plus a lookup of the caller or the agent), with no query
    built per request (docs/contact-centre.md, docs/performance.md)."""

    q = connection.ops.quote_name
    call = Call._meta
    user = User._meta
    ext = AgentExtension._meta

    def col(name: str) -> str:
        return q(call.get_field(name).column)

    inserted = [f for f in call.concrete_fields if not f.primary_key]
    read = [f for f in call.concrete_fields if f.name in READS]  # in the model's order, as from_db takes them
    statements = {
        "read": "SELECT {} FROM {} WHERE {} = %s{}".format(
            ", ".join(q(f.column) for f in read),
            q(call.db_table),
            col("switch_call_id"),
            " FOR UPDATE" if connection.features.has_select_for_update else "",  # SQLite locks the file
        ),
        "insert": "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({}) DO NOTHING RETURNING {}".format(
            q(call.db_table),
            ", ".join(q(f.column) for f in inserted),
            ", ".join(["%s"] * len(inserted)),
            col("switch_call_id"),
            col("id"),
        ),
        "holders": "SELECT {} FROM {} WHERE {} = %s AND NOT {} LIMIT 2".format(
            q(user.pk.column),
            q(user.db_table),
            q(user.get_field("mobile_digest").column),
            q(user.get_field("is_staff").column),
        ),
        "agent_by_id": "SELECT {} FROM {} WHERE {} = %s AND {} AND {}".format(
            q(user.pk.column),
            q(user.db_table),
            q(user.pk.column),
            q(user.get_field("is_staff").column),
            q(user.get_field("is_active").column),
        ),
        "agent_by_extension": "SELECT e.{} FROM {} e JOIN {} u ON u.{} = e.{} WHERE e.{} = %s AND u.{}".format(
            q(ext.get_field("staff").column),
            q(ext.db_table),
            q(user.db_table),
            q(user.pk.column),
            q(ext.get_field("staff").column),
            q(ext.get_field("extension").column),
            q(user.get_field("is_active").column),
        ),
    }
    for event, names in WRITES.items():
        fields = [call.get_field(n) for n in [*SETTLED, *names]]
        statements[f"update:{event}"] = "UPDATE {} SET {} WHERE {} = %s".format(
            q(call.db_table), ", ".join(f"{q(f.column)} = %s" for f in fields), col("id")
        )
    statements["inserted"] = inserted  # the fields, in the INSERT's order
    statements["read_attnames"] = [f.attname for f in read]
    # The converters the ORM would apply to each column read (SQLite's text dates, for one).
    statements["read_converters"] = [
        (i, converters, column)
        for i, f in enumerate(read)
        for column in [f.get_col(call.db_table)]
        for converters in [connection.ops.get_db_converters(column) + f.get_db_converters(connection)]
        if converters
    ]
    return statements


_SQL: dict = {}


class _Statements:
    def __getitem__(self, key):
        if not _SQL:
            _SQL.update(_statements())
        return _SQL[key]


SQL = _Statements()


def _db_values(call: Call, fields) -> list:

    return [f.get_db_prep_save(getattr(call, f.attname), connection) for f in fields]


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

    One transaction of one locked read and one write a call: the first event of a call inserts
    its row (a second event racing it finds the row there, ``ON CONFLICT DO NOTHING``, and
    applies to it after all); a later one updates only the fields it brings. The switch's events
    leave no history rows: the call's row is their record (what staff change afterwards is in
    the history as everywhere)."""

    at = at or timezone.now()
    bit = EVENT_BITS[event]
    args = dict(
        caller=caller,
        called=called,
        direction=direction,
        queue=queue,
        extension=extension,
        agent_id=agent_id,
        cause=cause,
    )
    for _attempt in range(3):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(SQL["read"], [call_id])
            row = cursor.fetchone()
            if row is not None:
                row = list(row)
                for i, converters, column in SQL["read_converters"]:
                    for convert in converters:
                        row[i] = convert(row[i], column, connection)
                call = Call.from_db(connection.alias, SQL["read_attnames"], row)
                call.switch_call_id = call_id
                if call.switch_events & bit:
                    return EventResult(call, applied=False)
                warnings = _apply(cursor, call, event, at, **args)
                fields = [Call._meta.get_field(n) for n in [*SETTLED, *WRITES[event]]]
                cursor.execute(SQL[f"update:{event}"], [*_db_values(call, fields), call.pk])
            else:
                call = Call(
                    switch_call_id=call_id,
                    caller_number="",
                    summary="",
                    source=Call.Source.SWITCH,
                    started_at=at,
                    outcome=Call.Outcome.RINGING,
                )
                warnings = _apply(cursor, call, event, at, **args)
                call.summary_masked = ""
                cursor.execute(SQL["insert"], _db_values(call, SQL["inserted"]))
                made = cursor.fetchone()
                if made is None:  # another event of the same call created it meanwhile: apply to that
                    continue
                call.pk = made[0]
                call._state.adding = False
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
    raise RuntimeError(f"cti: call {call_id} could be neither read nor created")


def _apply(
    cursor, call: Call, event: str, at: datetime, *, caller, called, direction, queue, extension, agent_id, cause
):
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
            call.user_id = _holder_for(cursor, call.caller_digest)
        if not number:
            warnings.append("caller_hidden")
        elif call.user_id is None:
            warnings.append("caller_unknown")
    elif event == ANSWER:
        call.answered_at = at
        if extension:
            call.extension = extension[:16]
        agent = _agent_for(cursor, extension=extension, agent_id=agent_id)
        if agent is None:
            warnings.append("agent_unknown")
        else:
            call.agent_id = agent
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
