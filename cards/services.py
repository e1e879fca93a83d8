"""Every write of the cards app: the issuers' card registry, binding and unbinding, invoice titles.

Refusals are ``ServiceError``s with the codes of the API contract; pages and the App API show
the same messages. Binding compares keyed digests of what the user typed with the digests the
registry keeps, so neither side's full ID number or mobile is ever compared, logged or shown.
"""

from __future__ import annotations

import json
import logging
import math
import secrets
import sqlite3
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import Field
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history

from accounts import services as account_services
from accounts.identity import normalize_uscc, validate_uscc
from accounts.models import Partner, SmsCode, User, mobile_digest
from accounts.sms import SmsMessage
from piaogen.crypto import lookup_digest
from piaogen.errors import ServiceError
from piaogen.masking import mask_id_number, mask_mobile

from . import identity, selectors
from .models import (
    Binding,
    BindingAttempt,
    BindingCapLift,
    BulkBinding,
    Card,
    CardType,
    IdType,
    InvoiceTitle,
    Issuer,
    IssuerNetworkCode,
    VehicleClass,
)

logger = logging.getLogger(__name__)

Outcome = BindingAttempt.Outcome

# What an issuer pushes for a card, in the order the fingerprint digests them.
REGISTRY_FIELDS = (
    "card_type",
    "plate",
    "plate_color",
    "vehicle_class",
    "holder_name",
    "id_type",
    "id_number",
    "mobile",
    "status",
)
# The columns a changed push rewrites.
REGISTRY_UPDATE_FIELDS = (
    "card_type",
    "plate",
    "plate_color",
    "vehicle_class",
    "holder_name",
    "id_type",
    "id_number",
    "id_number_digest",
    "id_number_masked",
    "mobile",
    "mobile_digest",
    "mobile_masked",
    "status",
    "fingerprint",
    "updated_at",
)
MAX_TITLES_PER_USER = 20


def _first_message(errors: dict[str, list[str]]) -> str:
    return next(iter(errors.values()))[0]


def _local_day_start():
    return timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)


def id_number_digest(id_number: str) -> str:
    """The keyed digest that binding compares; the same for registry and user input."""
    return lookup_digest(identity.normalize_id_number(id_number), purpose="id-number")


def holder_name_digest(holder_name: str) -> str:
    """The keyed digest of a holder name once normalised (``identity.normalize_holder_name``):
    what a proof-first attempt keeps of the name typed, to compare once the code comes back."""
    return lookup_digest(identity.normalize_holder_name(holder_name), purpose="holder-name")


def card_fingerprint(item: dict[str, Any]) -> str:
    """A keyed digest of everything pushed for a card: an unchanged re-push is recognised
    without decrypting anything."""
    payload = json.dumps([item["card_no"], *(item[f] for f in REGISTRY_FIELDS)], ensure_ascii=False)
    return lookup_digest(payload, purpose="card-registry")


def issuer_info(issuer: Issuer | None) -> dict[str, Any]:
    """The issuer as refusals name it (``"issuer"`` of the API answer)."""
    if issuer is None:
        return {}
    return {
        "name": issuer.name,
        "province": issuer.province,
        "hotline": issuer.hotline,
        "hotline_label": issuer.hotline_label,
        "is_demo": issuer.is_demo,
    }


def _province(issuer: Issuer) -> str:
    """The issuer's province in the reader's language (the names as shipped are in locale/en)."""
    return _(issuer.province) if issuer.province else ""


def _issuer_phrase(issuer: Issuer) -> str:
    if issuer.hotline:
        return _("%(province)s的发行方 %(name)s（客服热线 %(hotline)s）") % {
            "province": _province(issuer),
            "name": issuer.name,
            "hotline": issuer.hotline_label,
        }
    return _("%(province)s的发行方 %(name)s") % {"province": _province(issuer), "name": issuer.name}


# --- The registry ------------------------------------------------------------------


def _text(raw: dict, name: str, errors: dict, *, required: bool = True, max_length: int = 100) -> str:
    value = raw.get(name)
    if value is None or value == "":
        if required:
            errors[name] = [_("此项必填。")]
        return ""
    if not isinstance(value, str):
        errors[name] = [_("应为字符串。")]
        return ""
    if len(value) > max_length:
        errors[name] = [_("不能超过 %(n)s 个字符。") % {"n": max_length}]
        return ""
    return value.strip()


def _collect(errors: dict, name: str, check, *args) -> None:
    try:
        check(*args)
    except ValidationError as exc:
        errors[name] = exc.messages


def clean_registry_item(raw: Any) -> tuple[dict[str, Any] | None, dict[str, list[str]]]:
    """Validates one pushed card; returns the normalised item or the errors by field."""
    if not isinstance(raw, dict):
        return None, {"non_field_errors": [_("每一项应为一个 JSON 对象。")]}
    errors: dict[str, list[str]] = {}
    card_no = identity.normalize_card_no(_text(raw, "card_no", errors, max_length=40))
    if "card_no" not in errors:
        _collect(errors, "card_no", identity.validate_card_no, card_no)
    card_type = _text(raw, "card_type", errors, max_length=32)
    if card_type and card_type not in CardType.values:
        errors["card_type"] = [_("卡类型应为 stored_value（储值卡）或 account（记账卡）。")]
    plate = identity.normalize_plate(_text(raw, "plate", errors, max_length=16))
    if "plate" not in errors:
        _collect(errors, "plate", identity.validate_plate, plate)
    plate_color = raw.get("plate_color")
    if plate_color is None or plate_color == "":
        errors["plate_color"] = [_("此项必填。")]
    else:
        _collect(errors, "plate_color", identity.validate_plate_color, plate, plate_color)
    vehicle_class = _text(raw, "vehicle_class", errors, max_length=32)
    if vehicle_class and vehicle_class not in VehicleClass.values:
        errors["vehicle_class"] = [_("车辆类别应为 passenger（客车）或 truck（货车）。")]
    holder_name = _text(raw, "holder_name", errors, max_length=100)
    if "holder_name" not in errors:
        _collect(errors, "holder_name", identity.validate_holder_name, holder_name)
    id_type = _text(raw, "id_type", errors, max_length=32)
    if id_type:
        _collect(errors, "id_type", identity.validate_id_type, id_type)
    id_number = identity.normalize_id_number(_text(raw, "id_number", errors, max_length=64))
    if id_number and id_type and "id_type" not in errors:
        _collect(errors, "id_number", identity.validate_id_number, id_type, id_number)
    mobile = identity.normalize_mobile(_text(raw, "mobile", errors, max_length=32))
    if mobile:
        _collect(errors, "mobile", identity.validate_mobile, mobile)
    status = _text(raw, "status", errors, required=False, max_length=32) or Card.Status.ACTIVE
    if status not in Card.Status.values:
        errors["status"] = [_("状态应为 active（正常）或 cancelled（已注销）。")]
    if errors:
        return None, errors
    item = {
        "card_no": card_no,
        "card_type": card_type,
        "plate": plate,
        "plate_color": identity.parse_plate_color(plate_color),
        "vehicle_class": vehicle_class,
        "holder_name": holder_name,
        "id_type": id_type,
        "id_number": id_number,
        "mobile": mobile,
        "status": status,
    }
    item["fingerprint"] = card_fingerprint(item)
    item["id_number_digest"] = id_number_digest(id_number)
    item["mobile_digest"] = mobile_digest(mobile)
    return item, {}


def _assign(card: Card, item: dict[str, Any]) -> None:
    for name in ("card_type", "plate", "plate_color", "vehicle_class", "holder_name", "id_type", "status"):
        setattr(card, name, item[name])
    card.id_number = item["id_number"]
    card.id_number_digest = item["id_number_digest"]
    card.id_number_masked = mask_id_number(item["id_number"])
    card.mobile = item["mobile"]
    card.mobile_digest = item["mobile_digest"]
    card.mobile_masked = mask_mobile(item["mobile"])
    card.fingerprint = item["fingerprint"]


def _unbinding_reason(card: Card, item: dict[str, Any]) -> str:
    """Why a push ends the card's binding, in plain Chinese; empty when it does not."""
    changed = []
    # The same holder written another way (full-width brackets, spacing) is not a new holder.
    if not identity.holder_names_match(item["holder_name"], card.holder_name):
        changed.append(_("持卡人姓名"))
    if card.id_type != item["id_type"]:
        changed.append(_("证件类型"))
    if not secrets.compare_digest(card.id_number_digest, item["id_number_digest"]):
        changed.append(_("证件号码"))
    if not secrets.compare_digest(card.mobile_digest, item["mobile_digest"]):
        changed.append(_("预留手机号"))
    cancelled = item["status"] == Card.Status.CANCELLED and card.status != Card.Status.CANCELLED
    if cancelled and changed:
        return _("发行方已注销该卡，并更新了%(items)s") % {"items": "、".join(changed)}
    if cancelled:
        return _("发行方已注销该卡")
    if changed:
        return _("发行方更新了%(items)s") % {"items": "、".join(changed)}
    return ""


def _unbinding_sms(binding: Binding, card: Card, issuer: Issuer) -> SmsMessage:
    text = _(
        "【票根】您绑定的ETC卡（%(plate)s，卡号尾号%(tail)s）已自动解绑：%(reason)s。"
        "如需继续开票，请登录票根重新绑定；如有疑问请联系%(issuer)s。"
    ) % {
        "plate": card.plate,
        "tail": card.card_no[-4:],
        "reason": binding.end_reason,
        "issuer": _issuer_phrase(issuer),
    }
    return SmsMessage(mobile=binding.user.mobile, text=text, purpose="notice")


@dataclass
class RegistryResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    unbound: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "unbound": self.unbound,
            "rejected": self.rejected,
        }


def card_registry_upsert(*, partner: Partner | None, items: Any) -> dict[str, Any]:
    """Stores an issuer's batch of cards: created, updated or unchanged, each bad item rejected
    with a code. ``partner`` None is the platform operator loading configuration (every known
    network code allowed); an issuer partner may only push cards of its own network codes.

    A change of holder name, ID type, ID number or mobile, or a cancellation, ends the card's
    binding and tells its user by SMS once the batch is committed.
    """
    if not isinstance(items, list):
        raise ServiceError("invalid", _('请求体应为 {"cards": [ … ]}。'), errors={"cards": [_("应为一个数组。")]})
    limit = settings.PARTNER_BATCH_LIMIT
    if len(items) > limit:
        message = _("一次最多推送 %(limit)s 张卡，本次为 %(n)s 张，请分批推送。") % {"limit": limit, "n": len(items)}
        raise ServiceError("too_many_items", message, errors={"cards": [message]})

    issuer_by_code = dict(IssuerNetworkCode.objects.values_list("code", "issuer_id"))
    if partner is None:
        owned = set(issuer_by_code)
        reason = _("平台载入发行方登记数据")
    else:
        owned = selectors.network_codes_of(partner)
        reason = _("发行方推送：%(name)s") % {"name": partner.name}
    result = RegistryResult()
    good: dict[str, tuple[int, dict[str, Any]]] = {}

    def reject(index: int, raw: Any, code: str, errors: dict[str, list[str]]) -> None:
        raw_id = raw.get("card_no") if isinstance(raw, dict) else None
        result.rejected.append(
            {"index": index, "id": raw_id[:40] if isinstance(raw_id, str) else "", "code": code, "errors": errors}
        )

    for index, raw in enumerate(items):
        item, errors = clean_registry_item(raw)
        if item is None:  # then errors says why
            reject(index, raw, "invalid", errors)
            continue
        code = item["card_no"][:4]
        if code not in owned:  # every owned code has its issuer: the issuer owns the code
            if code in issuer_by_code:
                reject(
                    index,
                    raw,
                    "foreign_network_code",
                    {"card_no": [_("卡片网络编号 %(code)s 不属于本发行方，不能推送该卡。") % {"code": code}]},
                )
            else:
                reject(
                    index,
                    raw,
                    "unknown_network_code",
                    {"card_no": [_("卡片网络编号 %(code)s 不属于任何已知的发行方。") % {"code": code}]},
                )
            continue
        if item["card_no"] in good:
            first = good[item["card_no"]][0]
            reject(
                index,
                raw,
                "duplicate_in_batch",
                {"card_no": [_("与本批第 %(first)s 项卡号重复，只采用第一次出现的一项。") % {"first": first}]},
            )
            continue
        good[item["card_no"]] = (index, item)

    if good:
        for attempt in range(2):
            try:
                counts = _registry_apply(good, issuer_by_code, reason)
                break
            except IntegrityError:
                # Another push created one of these cards at the same moment: read again.
                if attempt:
                    raise ServiceError("conflict", _("同一批卡正在被另一请求写入，请稍后重试。"), status=409) from None
        result.created, result.updated, result.unchanged, result.unbound = counts
    logger.info(
        "card registry push partner=%s created=%s updated=%s unchanged=%s unbound=%s rejected=%s",
        partner.pk if partner else "-",
        result.created,
        result.updated,
        result.unchanged,
        result.unbound,
        len(result.rejected),
    )
    return result.as_dict()


def _registry_apply(
    good: dict[str, tuple[int, dict[str, Any]]], issuer_by_code: dict[str, int], reason: str
) -> tuple[int, int, int, int]:
    now = timezone.now()
    change_reason = reason[:100]
    with transaction.atomic():
        # Locked in primary-key order so that two pushes never deadlock; the encrypted columns
        # are not even read: the fingerprint and the digests tell what changed.
        existing = {
            card.card_no: card
            for card in Card.objects.select_for_update()
            .defer("id_number", "mobile")
            .filter(card_no__in=list(good))
            .order_by("pk")
        }
        to_create: list[Card] = []
        to_update: list[Card] = []
        endings: dict[int, str] = {}
        unchanged = 0
        for card_no, (_index, item) in good.items():
            card = existing.get(card_no)
            if card is None:
                card = Card(card_no=card_no, issuer_id=issuer_by_code[card_no[:4]], created_at=now, updated_at=now)
                _assign(card, item)
                to_create.append(card)
                continue
            if secrets.compare_digest(card.fingerprint, item["fingerprint"]):
                unchanged += 1
                continue
            why = _unbinding_reason(card, item)
            _assign(card, item)
            card.updated_at = now
            to_update.append(card)
            if why:
                endings[card.pk] = why
        if to_create:
            bulk_create_with_history(to_create, Card, batch_size=500, default_change_reason=change_reason)
        if to_update:
            _rewrite_cards(to_update, REGISTRY_UPDATE_FIELDS)
            Card.history.bulk_history_create(
                to_update, batch_size=500, update=True, default_change_reason=change_reason
            )
        ended: list[Binding] = []
        if endings:
            ended = list(
                Binding.objects.select_for_update(of=("self",))
                .select_related("user")
                .filter(card_id__in=list(endings), ended_at__isnull=True)
                .order_by("pk")
            )
            for binding in ended:
                binding.ended_at = now
                binding.end_kind = Binding.EndKind.PASSIVE
                binding.end_reason = endings[binding.card_id][:200]
            if ended:
                # One UPDATE per distinct reason (a batch has a handful) instead of bulk_update's
                # CASE over every row: 5,000 unbindings took most of the partner's answer time.
                by_reason: dict[str, list[int]] = {}
                for binding in ended:
                    by_reason.setdefault(binding.end_reason, []).append(binding.pk)
                for end_reason, pks in by_reason.items():
                    Binding.objects.filter(pk__in=pks).update(
                        ended_at=now, end_kind=Binding.EndKind.PASSIVE, end_reason=end_reason
                    )
                Binding.history.bulk_history_create(
                    ended, batch_size=500, update=True, default_change_reason=change_reason
                )
                cards_by_pk = {card.pk: card for card in to_update}
                issuers = Issuer.objects.in_bulk({cards_by_pk[b.card_id].issuer_id for b in ended})
                for binding in ended:
                    binding.card = cards_by_pk[binding.card_id]
                    binding.card.issuer = issuers[binding.card.issuer_id]
                notices = [_unbinding_sms(b, b.card, b.card.issuer) for b in ended]
                _binding_ended(ended)
                # Written to the SMS outbox with the unbinding; Celery tasks send them once it
                # is committed, never the partner's request.
                notice_ids = account_services.sms_outbox_add(notices)
                transaction.on_commit(lambda: account_services.sms_queue(notice_ids))
                for binding in ended:
                    logger.info(
                        "binding ended passive binding=%s card=%s reason=%s",
                        binding.pk,
                        binding.card_id,
                        binding.end_reason,
                    )
    return len(to_create), len(to_update), unchanged, len(ended)


def _rewrite_cards(cards: list[Card], fields: tuple[str, ...]) -> None:
    """Rewrites whole rows in a few statements: ``WITH v(...) AS (VALUES ...) UPDATE ... FROM v``.

    Django's ``bulk_update`` builds a CASE expression per field and row, which costs seconds
    for a few thousand cards; PostgreSQL and SQLite (3.33+) both take an UPDATE ... FROM a
    VALUES list instead. Values go through each field's own preparation, so the encrypted
    columns are encrypted exactly as ``save()`` would.
    """
    vendor = connection.vendor
    if vendor not in ("postgresql", "sqlite") or (vendor == "sqlite" and sqlite3.sqlite_version_info < (3, 33)):
        Card.objects.bulk_update(cards, list(fields), batch_size=500)
        return
    # Concrete columns of the card table, by construction of ``fields``.
    columns = [cast("Field[Any, Any]", Card._meta.get_field(name)) for name in fields]
    qn = connection.ops.quote_name
    table = qn(Card._meta.db_table)
    quoted = [qn(cast(str, f.column)) for f in columns]
    names = ", ".join(["pk", *quoted])
    assignments = ", ".join(f"{q} = v.{q}" for q in quoted)
    per_row = len(columns) + 1
    limit = connection.features.max_query_params or 65535
    size = max(1, min(1000, limit // per_row))
    placeholder = "(" + ", ".join(["%s"] * per_row) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(cards), size):
            part = cards[start : start + size]
            params: list[Any] = []
            for card in part:
                params.append(card.pk)
                params.extend(f.get_db_prep_save(getattr(card, f.attname), connection) for f in columns)
            values = ", ".join([placeholder] * len(part))
            cursor.execute(
                f"WITH v ({names}) AS (VALUES {values}) UPDATE {table} SET {assignments} FROM v WHERE {table}.id = v.pk",
                params,
            )


# --- Binding -----------------------------------------------------------------------


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
    if holder == user.pk:
        return _Refusal(Outcome.ALREADY_BOUND, _("该卡已绑定在您的账户中，无需重复绑定。"))
    if holder is not None:
        message = _(
            "该卡已被其他票根账户绑定。如这是您的卡，请登录原账户解绑后再绑定；无法登录原账户时，请拨打票根客服热线 "
            "%(hotline)s。"
        ) % {"hotline": settings.SUPPORT_HOTLINE}
        return _Refusal(Outcome.ALREADY_BOUND, message)
    return None


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


# --- Bulk binding (批量绑卡) -----------------------------------------------------------------


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
    if holder == user.pk:
        return _Refusal(Outcome.ALREADY_YOURS, _("该卡已绑定在您的账户中，无需重复绑定。"))
    if holder is not None:
        message = _(
            "该卡已被其他票根账户绑定。如这是您的卡，请登录原账户解绑后再绑定；无法登录原账户时，请拨打票根客服热线 "
            "%(hotline)s。"
        ) % {"hotline": settings.SUPPORT_HOTLINE}
        return _Refusal(Outcome.ALREADY_BOUND, message)
    return None


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


# --- Invoice titles ------------------------------------------------------------------

TITLE_FIELDS = ("kind", "name", "tax_id", "address", "phone", "bank", "bank_account", "email")
_TITLE_LIMITS = {"name": 100, "tax_id": 32, "address": 200, "phone": 32, "bank": 100, "bank_account": 40, "email": 254}


def clean_title_fields(values: dict[str, Any]) -> dict[str, str]:
    """Validates and normalises the fields of a title; raises ServiceError with field errors."""
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, str] = {}
    for name in TITLE_FIELDS:
        value = values.get(name)
        if value is None:
            value = ""
        if not isinstance(value, str):
            errors[name] = [_("应为字符串。")]
            continue
        value = value.strip()
        limit = _TITLE_LIMITS.get(name)
        if limit and len(value) > limit:
            errors[name] = [_("不能超过 %(n)s 个字符。") % {"n": limit}]
        cleaned[name] = value
    kind = cleaned.get("kind", "")
    if kind not in InvoiceTitle.Kind.values:
        errors["kind"] = [_("抬头类型应为 personal（个人）或 enterprise（单位）。")]
    if not cleaned.get("name") and "name" not in errors:
        errors["name"] = [_("请填写抬头名称（个人姓名或单位全称）。")]
    if kind == InvoiceTitle.Kind.ENTERPRISE and "tax_id" not in errors:
        cleaned["tax_id"] = normalize_uscc(cleaned.get("tax_id", ""))
        if not cleaned["tax_id"]:
            errors["tax_id"] = [_("单位抬头须填写纳税人识别号（统一社会信用代码）。")]
        else:
            _collect(errors, "tax_id", validate_uscc, cleaned["tax_id"])
    elif kind == InvoiceTitle.Kind.PERSONAL:
        cleaned["tax_id"] = ""  # a personal title is a name only
    if cleaned.get("email") and "email" not in errors:
        _collect(errors, "email", validate_email, cleaned["email"])
        if "email" in errors:
            errors["email"] = [_("请输入有效的电子邮箱地址。")]
    if errors:
        raise ServiceError("invalid", _first_message(errors), errors=errors)
    return cleaned


def _owned_title(user: User, title_id: Any) -> InvoiceTitle:
    if isinstance(title_id, bool):
        title_id = None
    try:
        title_id = int(title_id)
    except (TypeError, ValueError):
        title_id = None
    if title_id is not None and not (0 < title_id < 2**63):
        title_id = None
    title = selectors.titles(user).filter(pk=title_id).first() if title_id else None
    if title is None:
        raise ServiceError("not_found", _("找不到该发票抬头。"), status=404)
    return title


def invoice_title_create(
    *,
    user: User,
    kind: str,
    name: str,
    tax_id: str = "",
    address: str = "",
    phone: str = "",
    bank: str = "",
    bank_account: str = "",
    email: str = "",
) -> InvoiceTitle:
    cleaned = clean_title_fields(
        {
            "kind": kind,
            "name": name,
            "tax_id": tax_id,
            "address": address,
            "phone": phone,
            "bank": bank,
            "bank_account": bank_account,
            "email": email,
        }
    )
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True).first()
        if selectors.titles(user).count() >= MAX_TITLES_PER_USER:
            raise ServiceError(
                "too_many_titles",
                _("每个账户最多保存 %(n)s 个发票抬头，请先删除不用的抬头。") % {"n": MAX_TITLES_PER_USER},
            )
        return InvoiceTitle.objects.create(user=user, **cleaned)


def invoice_title_update(*, user: User, title_id: Any, **changes: Any) -> InvoiceTitle:
    """Changes some fields of one of the user's titles. Invoices already issued keep the
    title they were issued with (it is copied onto them)."""
    unknown = set(changes) - set(TITLE_FIELDS)
    if unknown:
        raise ServiceError("invalid", _("未知字段：%(f)s") % {"f": ", ".join(sorted(unknown))})
    with transaction.atomic():
        title = _owned_title(user, title_id)
        title = InvoiceTitle.objects.select_for_update().get(pk=title.pk)
        current = {name: getattr(title, name) for name in TITLE_FIELDS}
        cleaned = clean_title_fields({**current, **changes})
        changed = [name for name in TITLE_FIELDS if cleaned[name] != current[name]]
        for name in changed:
            setattr(title, name, cleaned[name])
        if changed:
            title.save(update_fields=changed)
    return title


def invoice_title_delete(*, user: User, title_id: Any) -> None:
    """Soft delete: the title leaves the user's lists and stops being any card's default."""
    with transaction.atomic():
        title = _owned_title(user, title_id)
        InvoiceTitle.objects.filter(pk=title.pk).update(deleted_at=timezone.now())
        for binding in Binding.objects.filter(user=user, default_title=title):
            binding.default_title = None
            binding.save(update_fields=["default_title"])


def binding_set_default_title(*, user: User, card_no: str, title_id: Any) -> Binding:
    """Sets (or, with ``title_id`` None, clears) the default title of one of the user's cards."""
    card_no = identity.normalize_card_no(card_no)
    with transaction.atomic():
        binding = (
            Binding.objects.select_for_update(of=("self",))
            .filter(user=user, card__card_no=card_no, ended_at__isnull=True)
            .first()
        )
        if binding is None:
            raise ServiceError("not_found", _("您的账户没有绑定该卡。"), status=404)
        title = None
        if title_id not in (None, ""):
            try:
                title = _owned_title(user, title_id)
            except ServiceError:
                message = _("请选择您自己的发票抬头。")
                raise ServiceError("invalid", message, errors={"title_id": [message]}) from None
        if binding.default_title_id != (title.pk if title else None):
            binding.default_title = title
            binding.save(update_fields=["default_title"])
    return selectors.bound_cards(user).get(pk=binding.pk)
