"""Every write of the accounts app: SMS codes, users, App tokens, partners."""

from __future__ import annotations

import logging
import math
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from cards.models import Issuer, IssuerNetworkCode  # an issuer owns its network codes
from piaogen import limits
from piaogen.crypto import lookup_digest, new_token, token_digest
from piaogen.errors import RateLimited, ServiceError
from piaogen.masking import mask_mobile
from piaogen.queueing import enqueue

from .identity import normalize_mobile, normalize_uscc, validate_mobile, validate_uscc
from .models import (
    AppToken,
    CrossPartnerRefusal,
    OutboundSms,
    Partner,
    PartnerToken,
    SmsCode,
    User,
    mobile_digest,
)
from .sms import SmsMessage, send_sms

logger = logging.getLogger(__name__)

SMS_TEXTS: dict[str, str] = {
    SmsCode.Purpose.REGISTER: "【票根】您正在注册票根账户，验证码{code}，{minutes}分钟内有效。请勿告诉他人。",
    SmsCode.Purpose.LOGIN: "【票根】您正在登录票根，验证码{code}，{minutes}分钟内有效。请勿告诉他人。",
    SmsCode.Purpose.RESET: "【票根】您正在重置票根账户密码，验证码{code}，{minutes}分钟内有效。如非本人操作请忽略。",
    SmsCode.Purpose.BIND: "【票根】您正在将ETC卡绑定到票根账户，验证码{code}，{minutes}分钟内有效。如非本人操作请勿提供给他人。",
}


def _start_of_local_day():
    return timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)


def clean_mobile(mobile: str, *, field: str = "mobile") -> str:
    mobile = normalize_mobile(mobile)
    try:
        validate_mobile(mobile)
    except ValidationError as exc:
        raise ServiceError("invalid", exc.messages[0], errors={field: exc.messages}) from None
    return mobile


def _code_digest(digest: str, purpose: str, scope: str, code: str) -> str:
    return lookup_digest(f"{digest}:{purpose}:{scope}:{code}", purpose="sms-code")


def _sms_client_limit() -> limits.Limit:
    return limits.Limit("sms-address", settings.SMS_MAX_PER_ADDRESS, settings.SMS_ADDRESS_WINDOW_SECONDS)


def _sms_global_limit() -> limits.Limit:
    return limits.Limit("sms-global", settings.SMS_MAX_PER_MINUTE, 60)


def sms_client_digest(key: str) -> str:
    """The requester of a code, as stored: a keyed digest of its address (or account key)."""
    return lookup_digest(key, purpose="sms-client")[:32] if key else ""


def sms_code_send(*, mobile: str, purpose: str, scope: str = "", address: str = "", client_key: str = "") -> SmsCode:
    """Sends a 6-digit code. Refuses a resend for the same purpose within
    ``SMS_RESEND_SECONDS``; more than ``SMS_DAILY_CAP`` codes to one number a day (Asia/Shanghai)
    asked by one client (``client_key``, else ``address``), whatever their purposes, and more
    than ``SMS_DAILY_CEILING`` to one number a day from all clients together, so that a stranger
    who asks codes for someone's number stops himself, not the owner; more than ``SMS_MAX_PER_ADDRESS`` requests from
    one client ``address`` in ``SMS_ADDRESS_WINDOW_SECONDS``, to whatever numbers; and more than
    ``SMS_MAX_PER_MINUTE`` codes a minute from the whole platform.

    A code goes out whether or not the number has an account, for every purpose, under the
    same limits and with the same answer: whether it has one is said only to whoever proves the
    code (``user_register``, ``user_authenticate``, ``user_reset_password``)."""
    if purpose not in SmsCode.Purpose.values:
        raise ServiceError("invalid", _("验证码用途无效。"), errors={"purpose": [_("无效的用途。")]})
    mobile = clean_mobile(mobile)
    digest = mobile_digest(mobile)
    client = sms_client_digest(client_key or address)
    if address:
        per_client = _sms_client_limit()
        if per_client.hit(address) > per_client.max:
            wait = per_client.blocked(address) or per_client.window
            raise RateLimited(
                "sms_too_many_from_client",
                _("获取验证码过于频繁，请 %(seconds)s 秒后再试。") % {"seconds": wait},
                retry_after=wait,
            )
    now = timezone.now()
    code = f"{secrets.randbelow(10**6):06d}"
    # Durable: the code and its outbox row are committed when the block ends, so the delivery
    # task can be queued right after it (and the caller cannot hold them in a transaction).
    with transaction.atomic(durable=True):
        # Serialise sends to one number so that two requests at once cannot both pass the limits.
        recent = list(
            SmsCode.objects.select_for_update()
            .filter(mobile_digest=digest, created_at__gte=_start_of_local_day())
            .order_by("-created_at")
            .values_list("created_at", "purpose", "client_digest")
        )
        # A resend is the same purpose again; registering and then binding a card whose
        # reserved mobile is the same number must not wait.
        same = [at for at, p, _c in recent if p == purpose]
        if same:
            waited = (now - same[0]).total_seconds()
            if waited < settings.SMS_RESEND_SECONDS:
                wait = math.ceil(settings.SMS_RESEND_SECONDS - waited)
                raise RateLimited(
                    "sms_too_soon",
                    _("验证码发送过于频繁，请 %(seconds)s 秒后再试。") % {"seconds": wait},
                    retry_after=wait,
                )
        mine = sum(1 for _at, _p, c in recent if c == client)
        if mine >= settings.SMS_DAILY_CAP or len(recent) >= settings.SMS_DAILY_CEILING:
            tomorrow = _start_of_local_day() + timedelta(days=1)
            raise RateLimited(
                "sms_daily_cap",
                _("该手机号今日获取验证码次数已达上限（%(cap)s 次），请明天再试或拨打客服热线 %(hotline)s。")
                % {"cap": settings.SMS_DAILY_CAP, "hotline": settings.SUPPORT_HOTLINE},
                retry_after=math.ceil((tomorrow - now).total_seconds()),
            )
        platform = _sms_global_limit()
        if platform.hit("all") > platform.max:
            wait = platform.blocked("all") or 60
            raise RateLimited(
                "sms_busy", _("短信发送繁忙，请 %(seconds)s 秒后再试。") % {"seconds": wait}, retry_after=wait
            )
        sms = SmsCode.objects.create(
            mobile_digest=digest,
            mobile_masked=mask_mobile(mobile),
            purpose=purpose,
            scope=scope,
            client_digest=client,
            code_digest=_code_digest(digest, purpose, scope, code),
            created_at=now,
            expires_at=now + timedelta(seconds=settings.SMS_CODE_TTL_SECONDS),
        )
        text = SMS_TEXTS[purpose].format(code=code, minutes=settings.SMS_CODE_TTL_SECONDS // 60)
        message = SmsMessage(mobile=mobile, text=text, purpose=purpose, code=code)
        ids = sms_outbox_add([message], expires_at=sms.expires_at)
    # Delivered by a task (queue "sms"), never in the request; the code stays in the database
    # (encrypted) and the message carries only the outbox row's id.
    sms_queue(ids)
    logger.info("sms code queued purpose=%s to=%s", purpose, mask_mobile(mobile))
    return sms


# --- the SMS outbox ---------------------------------------------------------------------------

# A pending message older than this is queued again by the sweep (its task may have been lost).
SMS_STALE = timedelta(minutes=2)
# Ids per fan-out message: a partner's batch that unbinds 5,000 cards publishes 5 messages.
SMS_FAN_OUT_CHUNK = 1000


class SmsNotSent(Exception):
    """The backend refused or failed; the task retries with Celery's back-off."""


def sms_outbox_add(messages: list[SmsMessage], *, expires_at=None) -> list[int]:
    """Writes messages to the outbox in the caller's transaction and returns their ids; the
    caller queues them with ``sms_queue`` once that transaction is committed."""
    if not messages:
        return []
    now = timezone.now()
    rows = OutboundSms.objects.bulk_create(
        [
            OutboundSms(
                mobile=m.mobile,
                mobile_masked=mask_mobile(m.mobile),
                purpose=m.purpose,
                text=m.text,
                code=m.code or None,
                created_at=now,
                expires_at=expires_at,
            )
            for m in messages
        ],
        batch_size=1000,
    )
    return [row.pk for row in rows]


def sms_queue(ids: list[int]) -> None:
    """Queues delivery of committed outbox rows: one task for one message, a fan-out task per
    ``SMS_FAN_OUT_CHUNK`` ids for many. A broker that refuses leaves them to ``sms_sweep``."""
    if len(ids) == 1:
        enqueue("accounts.tasks.sms_send", ids[0], what="SMS 1")
        return
    for first in range(0, len(ids), SMS_FAN_OUT_CHUNK):
        chunk = ids[first : first + SMS_FAN_OUT_CHUNK]
        enqueue("accounts.tasks.sms_fan_out", chunk, what=f"{len(chunk)} SMS")


def sms_deliver(*, sms_id: int) -> str:
    """Sends one outbox message unless it is already sent, expired or given up; returns what
    became of it. A failed send is recorded and raised as ``SmsNotSent``."""
    now = timezone.now()
    with transaction.atomic():
        row = OutboundSms.objects.select_for_update().filter(pk=sms_id).first()
        if row is None:
            return "missing"
        if row.status != OutboundSms.Status.PENDING:
            return row.status
        if row.expires_at is not None and row.expires_at <= now:
            row.status = OutboundSms.Status.EXPIRED
            row.code = row.text = None
            row.save(update_fields=["status", "code", "text"])
            logger.warning("sms %s expired before it could be sent to=%s", row.pk, row.mobile_masked)
            return row.status
        row.attempts += 1
        try:
            send_sms(SmsMessage(mobile=row.mobile, text=row.text or "", purpose=row.purpose, code=row.code or ""))
        except Exception as exc:  # SoftTimeLimitExceeded included
            failure = exc
            row.last_error = type(exc).__name__[:200]
            row.save(update_fields=["attempts", "last_error"])
        else:
            row.status = OutboundSms.Status.SENT
            row.sent_at = timezone.now()
            fields = ["attempts", "status", "sent_at"]
            if row.code:  # nothing that could log a user in stays behind
                row.code = row.text = None
                fields += ["code", "text"]
            row.save(update_fields=fields)
            logger.info("sms %s sent purpose=%s to=%s", row.pk, row.purpose, row.mobile_masked)
            return row.status
    logger.warning("sms %s not sent (%s) to=%s", sms_id, type(failure).__name__, row.mobile_masked)
    raise SmsNotSent(type(failure).__name__) from failure


def sms_give_up(*, sms_id: int) -> None:
    with transaction.atomic():
        row = OutboundSms.objects.select_for_update().filter(pk=sms_id, status=OutboundSms.Status.PENDING).first()
        if row is None:
            return
        row.status = OutboundSms.Status.FAILED
        row.code = row.text = None
        row.save(update_fields=["status", "code", "text"])
    logger.error("sms %s given up after %d attempts to=%s", sms_id, row.attempts, row.mobile_masked)


def sms_sweep(*, now=None) -> int:
    """Queues again pending messages whose task was lost (a worker killed with them on the
    embedded broker, a broker outage); ends codes that expired unsent."""
    now = now or timezone.now()
    pending = OutboundSms.objects.filter(status=OutboundSms.Status.PENDING)
    expired = pending.filter(expires_at__lte=now).update(status=OutboundSms.Status.EXPIRED, code=None, text=None)
    ids = list(pending.filter(created_at__lt=now - SMS_STALE).order_by("pk").values_list("pk", flat=True)[:5000])
    if ids:
        sms_queue(ids)
    if ids or expired:
        logger.info("sms sweep: %d queued again, %d expired unsent", len(ids), expired)
    return len(ids)


def sms_code_verify(*, mobile: str, purpose: str, code: str, scope: str = "") -> None:
    """Checks and consumes the latest code. Wrong tries are counted in their own
    transaction so that a caller's rollback cannot undo them."""
    code = (code or "").strip()
    if not (len(code) == 6 and code.isdigit()):
        raise ServiceError("code_invalid", _("请输入6位数字验证码。"), errors={"code": [_("验证码为6位数字。")]})
    mobile = clean_mobile(mobile)
    digest = mobile_digest(mobile)
    now = timezone.now()
    with transaction.atomic():
        sms = (
            SmsCode.objects.select_for_update()
            .filter(mobile_digest=digest, purpose=purpose, scope=scope)
            .order_by("-created_at")
            .first()
        )
        if sms is None or sms.consumed_at is not None:
            raise ServiceError("code_missing", _("请先获取短信验证码。"), errors={"code": [_("请先获取短信验证码。")]})
        if sms.expires_at <= now:
            raise ServiceError(
                "code_expired",
                _("验证码已过期（有效期 %(minutes)s 分钟），请重新获取。")
                % {"minutes": settings.SMS_CODE_TTL_SECONDS // 60},
                errors={"code": [_("验证码已过期。")]},
            )
        if sms.tries >= settings.SMS_CODE_MAX_TRIES:
            raise ServiceError(
                "code_locked",
                _("验证码错误次数过多，该验证码已失效，请重新获取。"),
                errors={"code": [_("错误次数过多。")]},
            )
        if not secrets.compare_digest(sms.code_digest, _code_digest(digest, purpose, scope, code)):
            SmsCode.objects.filter(pk=sms.pk).update(tries=F("tries") + 1)
            left = settings.SMS_CODE_MAX_TRIES - sms.tries - 1
            wrong = ServiceError(
                "code_wrong",
                _("验证码错误，还可尝试 %(left)s 次。") % {"left": left}
                if left > 0
                else _("验证码错误次数过多，该验证码已失效，请重新获取。"),
                errors={"code": [_("验证码错误。")]},
            )
        else:
            wrong = None
            SmsCode.objects.filter(pk=sms.pk).update(consumed_at=now)
    if wrong is not None:
        raise wrong


def _clean_password(password: str, user: User | None = None) -> None:
    try:
        validate_password(password or "", user=user)
    except ValidationError as exc:
        raise ServiceError(
            "weak_password", _("密码强度不够：") + " ".join(exc.messages), errors={"password": exc.messages}
        ) from None


def user_register(
    *,
    mobile: str,
    code: str,
    password: str,
    account_type: str = User.AccountType.PERSONAL,
    name: str = "",
    tax_id: str = "",
) -> User:
    """Creates an account after every field is valid and the SMS code matches."""
    mobile = clean_mobile(mobile)
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    tax_id = normalize_uscc(tax_id)
    if account_type not in User.AccountType.values:
        errors["account_type"] = [_("账户类型须为个人或单位。")]
    if len(name) > 100:
        errors["name"] = [_("名称不能超过100个字符。")]
    if account_type == User.AccountType.ENTERPRISE:
        if not name:
            errors["name"] = [_("单位账户须填写单位名称。")]
        if not tax_id:
            errors["tax_id"] = [_("单位账户须填写统一社会信用代码。")]
        else:
            try:
                validate_uscc(tax_id)
            except ValidationError as exc:
                errors["tax_id"] = exc.messages
    else:
        tax_id = ""
    if errors:
        first = next(iter(errors.values()))[0]
        raise ServiceError("invalid", first, errors=errors)
    candidate = User(account_type=account_type, name=name, tax_id=tax_id)
    candidate.set_mobile(mobile)
    _clean_password(password, candidate)
    # The code first: only whoever holds the number learns that it has an account.
    sms_code_verify(mobile=mobile, purpose=SmsCode.Purpose.REGISTER, code=code)
    if User.objects.filter(mobile_digest=candidate.mobile_digest).exists():
        raise ServiceError(
            "already_registered",
            _("该手机号已注册，请直接登录；忘记密码可通过短信重置。"),
            errors={"mobile": [_("该手机号已注册。")]},
        )
    try:
        with transaction.atomic():
            candidate.set_password(password)
            candidate.save()
    except IntegrityError:
        raise ServiceError(
            "already_registered",
            _("该手机号已注册，请直接登录；忘记密码可通过短信重置。"),
            errors={"mobile": [_("该手机号已注册。")]},
        ) from None
    logger.info("user registered id=%s type=%s", candidate.pk, account_type)
    return candidate


LOGIN_FAILED = _("手机号或密码不正确。")


# Failures that count towards the login limits (a wrong password, a wrong SMS code).
_LOGIN_FAILURES = ("login_failed", "code_wrong", "code_locked")


def _too_many_logins(retry_after: int, *, sms_login: bool) -> RateLimited:
    """The refusal once a login limit is reached. When it holds the account (not the client's
    address), the owner can still sign in with an SMS login code, and the message says how;
    the App's answer carries ``"sms_login": true`` to offer it."""
    minutes = max(1, math.ceil(retry_after / 60))
    if not sms_login:
        return RateLimited(
            "too_many_logins",
            _("您所在网络的登录失败次数过多，请 %(minutes)s 分钟后再试。") % {"minutes": minutes},
            retry_after=retry_after,
            extra={"sms_login": False},
        )
    return RateLimited(
        "too_many_logins",
        _(
            "该账户登录失败次数过多，为保护账户安全，密码登录已暂停 %(minutes)s 分钟。"
            "如果这是您的账户，现在就可以用短信验证码登录：点“获取验证码”，验证码将发送至该手机号。"
        )
        % {"minutes": minutes},
        retry_after=retry_after,
        extra={"sms_login": True},
    )


def user_authenticate(*, mobile: str, password: str = "", code: str = "", address: str = "") -> User:
    """Password login, or SMS-code login when a code is given.

    Failed logins are counted per account, per client ``address`` and per (address, account)
    (the page, the App and the console share the counters); once one reaches its limit in the
    window, nothing is checked any more until the window ends (429 with Retry-After), except
    that an SMS-code login is held only by the address's limit."""
    mobile = normalize_mobile(mobile)
    guard = limits.LoginLimits(account_key=mobile_digest(mobile) if mobile else "", address=address, by_code=bool(code))
    refused = guard.blocked()
    if refused:
        limit, wait = refused
        raise _too_many_logins(wait, sms_login=not guard.is_address(limit))
    try:
        user = _authenticate(mobile, password, code)
    except ServiceError as exc:
        if exc.code in _LOGIN_FAILURES:
            guard.failed()
        raise
    guard.succeeded()
    return user


def _authenticate(mobile: str, password: str, code: str) -> User:
    if code:
        mobile = clean_mobile(mobile)
        sms_code_verify(mobile=mobile, purpose=SmsCode.Purpose.LOGIN, code=code)
        user = User.objects.filter(mobile_digest=mobile_digest(mobile), is_active=True).first()
        if user is None:
            raise ServiceError("login_failed", _("该手机号尚未注册，请先注册。"), status=400)
        return user
    user = User.objects.filter(mobile_digest=mobile_digest(mobile)).first()
    if user is None:
        User().set_password(password or "x")  # same cost as a real check: no timing oracle
        raise ServiceError("login_failed", str(LOGIN_FAILED), status=400)
    if not user.check_password(password or "") or not user.is_active:
        raise ServiceError("login_failed", str(LOGIN_FAILED), status=400)
    return user


def user_reset_password(*, mobile: str, code: str, password: str) -> User:
    """Sets a new password once the reset code is proved. Until then every answer is the same
    whether or not the number has an account (the password is checked against the number
    alone, never against an account's details)."""
    mobile = clean_mobile(mobile)
    candidate = User()
    candidate.set_mobile(mobile)
    _clean_password(password, candidate)
    sms_code_verify(mobile=mobile, purpose=SmsCode.Purpose.RESET, code=code)
    user = User.objects.filter(mobile_digest=mobile_digest(mobile)).first()
    if user is None:
        raise ServiceError(
            "not_registered", _("该手机号尚未注册，请先注册。"), errors={"mobile": [_("该手机号尚未注册。")]}
        )
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        # A new password ends every App session.
        AppToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
    return user


def user_change_password(
    *, user: User, old_password: str, new_password: str, keep_token: AppToken | None = None
) -> int:
    """Changes the password and ends every App session of the account but ``keep_token`` (the
    App's own, when the change is made there); returns how many were ended. Site sessions end
    too, but the one making the change (Django's session hash)."""
    if not user.check_password(old_password or ""):
        raise ServiceError("login_failed", _("原密码不正确。"), errors={"old_password": [_("原密码不正确。")]})
    _clean_password(new_password, user)
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        others = AppToken.objects.filter(user=user, revoked_at__isnull=True)
        if keep_token is not None:
            others = others.exclude(pk=keep_token.pk)
        ended = others.update(revoked_at=timezone.now())
    logger.info("user %s changed password; %d app token(s) revoked", user.pk, ended)
    return ended


def app_token_issue(*, user: User) -> str:
    """Returns the new token; only its digest is stored."""
    token = new_token()
    AppToken.objects.create(user=user, digest=token_digest(token), prefix=token[:8])
    return token


def app_token_revoke(*, token: AppToken) -> None:
    AppToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def partner_create(
    *, kind: str, name: str, network_codes: list[str] | tuple[str, ...] = (), tax_id: str = ""
) -> tuple[Partner, str]:
    """Creates a partner and its first token; returns both (the token in clear, once).

    An issuer's partner names its card network codes: it becomes the partner account of the
    issuers that own them (``cards.Issuer.partner``), so it may push their cards and recharges.
    Each code must be configured for an issuer (the platform operator loads issuers first) whose
    codes no other partner acts for yet.
    """
    errors: dict[str, list[str]] = {}
    if kind not in Partner.Kind.values:
        errors["kind"] = [_("类型须为 issuer、clearing 或 enterprise。")]
    name = (name or "").strip()
    if not name:
        errors["name"] = [_("请填写名称。")]
    codes = [c.strip() for c in network_codes]
    if kind == Partner.Kind.ISSUER:
        if not codes:
            errors["network_codes"] = [_("发行方至少需要一个卡片网络编号。")]
        bad = [c for c in codes if not (len(c) == 4 and c.isdigit())]
        if bad:
            errors["network_codes"] = [_("卡片网络编号须为4位数字：%(codes)s") % {"codes": ", ".join(bad)}]
        else:
            known = dict(IssuerNetworkCode.objects.filter(code__in=codes).values_list("code", "issuer__partner_id"))
            unknown = [c for c in codes if c not in known]
            taken = sorted(c for c, owner in known.items() if owner is not None)
            if unknown:
                errors["network_codes"] = [
                    _("平台尚未配置卡片网络编号 %(codes)s 的发行方，请先在发行方配置中添加。")
                    % {"codes": ", ".join(unknown)}
                ]
            elif taken:
                errors["network_codes"] = [_("卡片网络编号已属于其他发行方：%(codes)s") % {"codes": ", ".join(taken)}]
    elif codes:
        errors["network_codes"] = [_("只有发行方拥有卡片网络编号。")]
    tax_id = normalize_uscc(tax_id)
    if kind == Partner.Kind.ENTERPRISE and not tax_id:
        errors["tax_id"] = [_("企业合作方须提供统一社会信用代码。")]
    if tax_id:
        try:
            validate_uscc(tax_id)
        except ValidationError as exc:
            errors["tax_id"] = exc.messages
    if errors:
        raise ServiceError("invalid", next(iter(errors.values()))[0], errors=errors)
    with transaction.atomic():
        partner = Partner.objects.create(kind=kind, name=name, tax_id=tax_id)
        if codes:
            owners = IssuerNetworkCode.objects.filter(code__in=codes).values("issuer_id")
            issuers = list(Issuer.objects.select_for_update().filter(pk__in=owners).order_by("pk"))
            if any(issuer.partner_id is not None for issuer in issuers):  # another partner came first
                message = _("卡片网络编号已属于其他发行方：%(codes)s") % {"codes": ", ".join(codes)}
                raise ServiceError("invalid", message, errors={"network_codes": [message]})
            for issuer in issuers:
                issuer.partner = partner
                issuer.save(update_fields=["partner"])
        token = partner_token_issue(partner=partner)
    return partner, token


def partner_token_issue(*, partner: Partner) -> str:
    """A new token for the partner (its other tokens stay valid until revoked); returns it in
    clear, once: only its digest is stored."""
    token = new_token()
    PartnerToken.objects.create(partner=partner, digest=token_digest(token), prefix=token[:8])
    logger.info("partner %s: new API token %s…", partner.pk, token[:8])
    return token


def partner_token_revoke(*, token: PartnerToken) -> bool:
    """Revokes the token from now on; False when it was already revoked."""
    revoked = PartnerToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    if revoked:
        logger.info("partner %s: API token %s… revoked", token.partner_id, token.prefix)
    return bool(revoked)


def cross_partner_refusals_record(*, partner: Partner, kind: str, refused: list[tuple[str, int | None]]) -> None:
    """Records the items of one batch refused as ``not_owner`` ((item id, owner id) pairs) for
    platform staff, and logs their number (item ids are partners' record numbers, no personal
    data; only the first few are logged)."""
    if not refused:
        return
    now = timezone.now()
    CrossPartnerRefusal.objects.bulk_create(
        [
            CrossPartnerRefusal(partner=partner, owner_id=owner, kind=kind, item_id=str(item_id)[:100], at=now)
            for item_id, owner in refused
        ],
        batch_size=1000,
    )
    logger.warning(
        "partner %s: %d %s item(s) of other partners refused (not_owner), e.g. %s",
        partner.pk,
        len(refused),
        kind,
        ", ".join(str(i)[:64] for i, _o in refused[:5]),
    )


def staff_totp_enrol(*, mobile: str, name: str = "console", replace: bool = False) -> tuple[User, Any, str]:
    """Gives a staff member a confirmed TOTP device for the console's second factor.

    Returns the user, the device and its ``otpauth://`` URI (the secret is in it: show it to
    the staff member once, for their authenticator app). Refuses a second device unless
    ``replace``, which deletes the old ones first (a lost phone)."""
    from base64 import b32encode
    from urllib.parse import quote, urlencode

    from django_otp.plugins.otp_totp.models import TOTPDevice

    mobile = clean_mobile(mobile)
    user = User.objects.filter(mobile_digest=mobile_digest(mobile), is_staff=True, is_active=True).first()
    if user is None:
        raise ServiceError("not_found", _("没有该手机号的在职员工账户。"), status=404)
    with transaction.atomic():
        existing = TOTPDevice.objects.filter(user=user)
        if existing.exists():
            if not replace:
                raise ServiceError("already_enrolled", _("该员工已登记身份验证器；更换设备请加 --replace。"))
            existing.delete()
        device = TOTPDevice.objects.create(user=user, name=(name or "console")[:64], confirmed=True)
    issuer = str(getattr(settings, "OTP_TOTP_ISSUER", "") or "Piaogen").replace(":", "")
    label = f"{issuer}:{user.mobile_masked}"
    params = urlencode(
        {
            "secret": b32encode(device.bin_key).decode(),
            "algorithm": "SHA1",
            "digits": device.digits,
            "period": device.step,
        }
    )
    uri = f"otpauth://totp/{quote(label)}?{params}&issuer={quote(issuer)}"
    logger.info("staff totp device enrolled user=%s replace=%s", user.pk, replace)
    return user, device, uri
