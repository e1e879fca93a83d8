"""The issuers' card registry: a pushed batch validated item by item, stored (created, updated
or unchanged), and the bindings a change of holder details or a cancellation ends, each user told
by SMS once the batch is committed."""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
from typing import Any, cast

from django.db import IntegrityError, connection, transaction
from django.db.models import Field
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history

from accounts import services as account_services
from accounts.models import Partner, mobile_digest
from accounts.sms import SmsMessage
from piaogen.bulk import BatchResult, batch_list
from piaogen.crypto import lookup_digest
from piaogen.errors import ServiceError
from piaogen.masking import mask_id_number, mask_mobile

from .. import identity, selectors
from ..models import Binding, Card, CardType, Issuer, IssuerNetworkCode, VehicleClass
from .shared import _collect, _issuer_phrase, id_number_digest
from .unbinding import _binding_ended

logger = logging.getLogger(__name__)

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


def card_fingerprint(item: dict[str, Any]) -> str:
    """A keyed digest of everything pushed for a card: an unchanged re-push is recognised
    without decrypting anything."""
    payload = json.dumps([item["card_no"], *(item[f] for f in REGISTRY_FIELDS)], ensure_ascii=False)
    return lookup_digest(payload, purpose="card-registry")


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


def card_registry_upsert(*, partner: Partner | None, items: Any) -> dict[str, Any]:
    """Stores an issuer's batch of cards: created, updated or unchanged, each bad item rejected
    with a code. ``partner`` None is the platform operator loading configuration (every known
    network code allowed); an issuer partner may only push cards of its own network codes.

    A change of holder name, ID type, ID number or mobile, or a cancellation, ends the card's
    binding and tells its user by SMS once the batch is committed.
    """
    items = batch_list(items, "cards")
    issuer_by_code = dict(IssuerNetworkCode.objects.values_list("code", "issuer_id"))
    if partner is None:
        owned = set(issuer_by_code)
        reason = _("平台载入发行方登记数据")
    else:
        owned = selectors.network_codes_of(partner)
        reason = _("发行方推送：%(name)s") % {"name": partner.name}
    result = BatchResult(extra={"unbound": 0})
    good: dict[str, tuple[int, dict[str, Any]]] = {}

    def reject(index: int, raw: Any, code: str, errors: dict[str, list[str]]) -> None:
        raw_id = raw.get("card_no") if isinstance(raw, dict) else None
        result.reject(index, raw_id if isinstance(raw_id, str) else None, code, errors)

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
        result.created, result.updated, result.unchanged, result.extra["unbound"] = counts
    logger.info(
        "card registry push partner=%s created=%s updated=%s unchanged=%s unbound=%s rejected=%s",
        partner.pk if partner else "-",
        result.created,
        result.updated,
        result.unchanged,
        result.extra["unbound"],
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
