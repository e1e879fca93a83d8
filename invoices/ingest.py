"""Bulk upserts from partners: operators with their sections, transit records, recharges.

Designed for volume: a batch is validated in Python, then read and written in a handful of
statements (one read of existing rows, one of cards, one of sections, bulk inserts and
updates), all in one transaction — a database error stores nothing of the batch and the
whole batch is reported as not stored, so every item is either stored or reported.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.identity import validate_uscc
from accounts.models import Partner
from accounts.services import cross_partner_refusals_record
from cards.models import Card, CardType, PlateColor, VehicleClass
from cards.selectors import network_codes_of
from piaogen import bulk
from piaogen.bulk import BatchResult, Fields, ItemError, batch_items, copy_text, fingerprint

from .models import InvoiceState, Operator, Recharge, RoadSection, Transit, TransitChange, TransitKey, TransitSegment
from .selectors import covered_shares

logger = logging.getLogger(__name__)
_js = json.encoder.encode_basestring  # a JSON string literal, non-ASCII kept (ensure_ascii=False)
SHANGHAI = ZoneInfo("Asia/Shanghai")
MAX_FEE = 10**9  # ten million yuan: anything above is a unit error (yuan sent as fen ×100…)
MAX_SEGMENTS = 64
# Enum .values builds a new list on every call: taken once here for the per-item checks.
PLATE_COLORS = frozenset(PlateColor.values)
VEHICLE_CLASSES = frozenset(VehicleClass.values)
GRADES = frozenset(RoadSection.Grade.values)
PROPERTIES = frozenset(RoadSection.Property.values)


def _not_owner_count(result: BatchResult) -> int:
    return sum(1 for r in result.rejected if r["code"] == "not_owner")


def _iso(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).isoformat()


# --- operators and sections ---------------------------------------------------------


def _clean_operator(item: Any) -> dict:
    f = Fields(item)
    data = {
        "code": f.text("code", max_length=32),
        "name": f.text("name", max_length=100),
        "tax_id": f.text("tax_id", max_length=18).upper(),
        "address": f.text("address", max_length=200, required=False),
        "phone": f.text("phone", max_length=32, required=False),
        "bank": f.text("bank", max_length=100, required=False),
        "bank_account": f.text("bank_account", max_length=40, required=False),
        "province_code": f.digits("province_code", length=4),
        "machine_no": f.digits("machine_no", length=12),
    }
    if data["tax_id"] and "tax_id" not in f.errors:
        try:
            validate_uscc(data["tax_id"])
        except Exception as exc:  # django ValidationError: its message says what is wrong
            f.error("tax_id", str(getattr(exc, "messages", [exc])[0]))
    sections = item.get("sections", [])
    clean_sections = []
    if not isinstance(sections, list):
        f.error("sections", _("须为列表。"))
    else:
        seen = set()
        for i, raw in enumerate(sections):
            try:
                s = Fields(raw)
            except ItemError as exc:
                f.errors[f"sections.{i}"] = exc.errors["non_field_errors"]
                continue
            section = {
                "code": s.text("code", max_length=32),
                "name": s.text("name", max_length=100),
                "grade": s.choice("grade", GRADES),
                "property": s.choice("property", PROPERTIES),
                "construction_start": s.day("construction_start"),
                "simplified_method": s.boolean("simplified_method", default=True),
            }
            if section["code"] in seen:
                s.error("code", _("同一经营单位内路段代码重复。"))
            seen.add(section["code"])
            for name, msgs in s.errors.items():
                f.errors[f"sections.{i}.{name}"] = msgs
            clean_sections.append(section)
    f.check()
    data["sections"] = clean_sections
    return data


def operator_upsert_batch(*, partner: Partner, body: Any) -> BatchResult:
    items = batch_items(body, "operators")
    result = BatchResult(extra={"sections_created": 0, "sections_updated": 0, "not_owner": 0})
    clean: dict[str, tuple[int, dict]] = {}
    for index, item in enumerate(items):
        item_id = item.get("code") if isinstance(item, dict) else None
        try:
            data = _clean_operator(item)
        except ItemError as exc:
            result.reject(index, item_id, exc.code, exc.errors)
            continue
        if data["code"] in clean:
            result.reject(index, item_id, "duplicate_in_batch", {"code": [_("同一批次内重复。")]})
            continue
        clean[data["code"]] = (index, data)
    section_codes = [s["code"] for _, d in clean.values() for s in d["sections"]]
    duplicate_sections = {c for c in section_codes if section_codes.count(c) > 1} if section_codes else set()
    for code, (index, data) in list(clean.items()):
        clash = [s["code"] for s in data["sections"] if s["code"] in duplicate_sections]
        if clash:
            result.reject(
                index,
                code,
                "duplicate_in_batch",
                {"sections": [_("路段 %(c)s 在本批次中属于多个经营单位。") % {"c": ", ".join(clash)}]},
            )
            del clean[code]
    now = timezone.now()
    refused: list[tuple[str, int | None]] = []
    refused_sections: list[tuple[str, int | None]] = []
    with transaction.atomic():
        existing = {o.code: o for o in Operator.objects.select_for_update().filter(code__in=list(clean))}
        existing_sections = {
            s.code: s
            for s in RoadSection.objects.select_for_update(of=("self",))
            .select_related("operator")
            .filter(code__in=[s["code"] for _, d in clean.values() for s in d["sections"]])
        }
        for code, (index, data) in clean.items():
            sections = data.pop("sections")
            operator = existing.get(code)
            # An operator, and its sections, belong to the partner that registered it: another
            # partner's push of the same code is refused, never merged (docs/partners-trips.md).
            if operator is not None and operator.pushed_by_id != partner.pk:
                result.reject(index, code, "not_owner", {"code": [_("该经营单位由其他合作方登记，本合作方不能修改。")]})
                refused.append((code, operator.pushed_by_id))
                continue
            foreign = [
                (s["code"], current.operator.pushed_by_id)
                for s in sections
                if (current := existing_sections.get(s["code"])) is not None
                and current.operator.pushed_by_id != partner.pk
            ]
            if foreign:
                result.reject(
                    index,
                    code,
                    "not_owner",
                    {
                        "sections": [
                            _("路段 %(c)s 属于其他合作方登记的经营单位。") % {"c": ", ".join(c for c, _o in foreign)}
                        ]
                    },
                )
                refused_sections.extend(foreign)
                continue
            fp = fingerprint(data)
            if operator is None:
                operator = Operator.objects.create(
                    **data, fingerprint=fp, pushed_by=partner, created_at=now, updated_at=now
                )
                result.created += 1
            elif operator.fingerprint != fp:
                for key, value in data.items():
                    setattr(operator, key, value)
                operator.fingerprint, operator.updated_at = fp, now
                operator.save()
                result.updated += 1
            else:
                result.unchanged += 1
            for section in sections:
                sfp = fingerprint({**section, "operator": code})
                current = existing_sections.get(section["code"])
                if current is None:
                    RoadSection.objects.create(
                        operator=operator, fingerprint=sfp, created_at=now, updated_at=now, **section
                    )
                    result.extra["sections_created"] += 1
                elif current.fingerprint != sfp:
                    for key, value in section.items():
                        setattr(current, key, value)
                    current.operator, current.fingerprint, current.updated_at = operator, sfp, now
                    current.save()
                    result.extra["sections_updated"] += 1
        result.extra["not_owner"] = _not_owner_count(result)
        cross_partner_refusals_record(partner=partner, kind="operator", refused=refused)
        cross_partner_refusals_record(partner=partner, kind="section", refused=refused_sections)
    return result


# --- transits ---------------------------------------------------------------------------


def _clean_transit(item: Any) -> dict:
    f = Fields(item)
    data = {
        "transit_id": f.text("transit_id", max_length=64),
        "card_no": f.digits("card_no", length=20),
        "plate": f.text("plate", max_length=8),
        "plate_color": f.choice("plate_color", PLATE_COLORS),
        "vehicle_class": f.choice("vehicle_class", VEHICLE_CLASSES),
        "entry_station": f.text("entry_station", max_length=64),
        "entry_time": f.moment("entry_time"),
        "exit_station": f.text("exit_station", max_length=64),
        "exit_time": f.moment("exit_time"),
        "fee": f.integer("fee", minimum=0, maximum=MAX_FEE),
    }
    if data["entry_time"] and data["exit_time"] and data["exit_time"] < data["entry_time"]:
        f.error("exit_time", _("出口时间不能早于入口时间。"))
    if data["exit_time"] and data["exit_time"] > timezone.now() + timedelta(hours=1):
        f.error("exit_time", _("出口时间不能晚于当前时间。"))
    raw_segments = item.get("segments")
    segments = []
    if not isinstance(raw_segments, list) or not raw_segments:
        f.error("segments", _("须为非空列表，每个路段一项。"))
    elif len(raw_segments) > MAX_SEGMENTS:
        f.error("segments", _("最多 %(n)s 个路段。") % {"n": MAX_SEGMENTS})
    else:
        for i, raw in enumerate(raw_segments):
            try:
                s = Fields(raw)
            except ItemError as exc:
                f.errors[f"segments.{i}"] = exc.errors["non_field_errors"]
                continue
            segment = {
                "section_code": s.text("section_code", max_length=32),
                "fee": s.integer("fee", minimum=0, maximum=MAX_FEE),
            }
            for name, msgs in s.errors.items():
                f.errors[f"segments.{i}.{name}"] = msgs
            segments.append(segment)
    f.check()
    total = sum(s["fee"] for s in segments)
    if total != data["fee"]:
        raise ItemError(
            "split_mismatch",
            {
                "segments": [
                    _("各路段金额之和 %(sum)s 分不等于通行费 %(fee)s 分。") % {"sum": total, "fee": data["fee"]}
                ]
            },
        )
    data["segments"] = segments
    return data


def _transit_fingerprint(data: dict) -> str:
    """``fingerprint`` of a clean trip, byte for byte, without json.dumps's generic walk (a
    third of a batch's Python time): the keys in sorted order, compact separators, no ASCII
    escaping. tests/invoices/test_ingest.py checks it against the generic digest."""
    segments = ",".join(f'{{"fee":{s["fee"]},"section_code":{_js(s["section_code"])}}}' for s in data["segments"])
    text = (
        f'{{"card_no":{_js(data["card_no"])},"entry_station":{_js(data["entry_station"])},'
        f'"entry_time":"{data["entry_time"].isoformat()}","exit_station":{_js(data["exit_station"])},'
        f'"exit_time":"{data["exit_time"].isoformat()}","fee":{data["fee"]},"plate":{_js(data["plate"])},'
        f'"plate_color":{data["plate_color"]},"segments":[{segments}],"transit_id":{_js(data["transit_id"])},'
        f'"vehicle_class":{_js(data["vehicle_class"])}}}'
    )
    return hashlib.blake2b(text.encode(), digest_size=20).hexdigest()


def _fast_transit(item: Any, latest_exit: datetime) -> dict | None:
    """The clean trip when ``item`` is well formed in every respect, else None and the caller
    runs ``_clean_transit``, which finds and words every error. Most batches are all good, and
    this path costs a fifth of the field-by-field one; it accepts exactly what that one accepts
    unchanged (no stripping, no coercion)."""
    if type(item) is not dict:
        return None
    try:
        tid, card, plate, color, vclass = (
            item["transit_id"],
            item["card_no"],
            item["plate"],
            item["plate_color"],
            item["vehicle_class"],
        )
        entry_station, exit_station, fee, raw_segments = (
            item["entry_station"],
            item["exit_station"],
            item["fee"],
            item["segments"],
        )
        entry_time, exit_time = datetime.fromisoformat(item["entry_time"]), datetime.fromisoformat(item["exit_time"])
    except (KeyError, TypeError, ValueError):
        return None
    for value, limit in ((tid, 64), (plate, 8), (entry_station, 64), (exit_station, 64)):
        if type(value) is not str or not 0 < len(value) <= limit or value != value.strip() or "\x00" in value:
            return None
    if not (
        type(card) is str
        and len(card) == 20
        and card.isdigit()
        and card.isascii()
        and type(color) is int
        and color in PLATE_COLORS
        and type(vclass) is str
        and vclass in VEHICLE_CLASSES
        and type(fee) is int
        and 0 <= fee <= MAX_FEE
        and entry_time.tzinfo is not None
        and exit_time.tzinfo is not None
        and entry_time.utcoffset() is not None
        and exit_time.utcoffset() is not None
        and 2000 <= entry_time.year <= 2100
        and 2000 <= exit_time.year <= 2100
        and entry_time <= exit_time <= latest_exit
        and type(raw_segments) is list
        and 0 < len(raw_segments) <= MAX_SEGMENTS
    ):
        return None
    segments, total = [], 0
    for raw in raw_segments:
        if type(raw) is not dict:
            return None
        code, seg_fee = raw.get("section_code"), raw.get("fee")
        if not (
            type(code) is str
            and 0 < len(code) <= 32
            and code == code.strip()
            and "\x00" not in code
            and type(seg_fee) is int
            and 0 <= seg_fee <= MAX_FEE
        ):
            return None
        segments.append({"section_code": code, "fee": seg_fee})
        total += seg_fee
    if total != fee:
        return None
    return {
        "transit_id": tid,
        "card_no": card,
        "plate": plate,
        "plate_color": color,
        "vehicle_class": vclass,
        "entry_station": entry_station,
        "entry_time": entry_time,
        "exit_station": exit_station,
        "exit_time": exit_time,
        "fee": fee,
        "segments": segments,
    }


def _by_keys(
    model, key: str, columns: tuple[str, ...], values, *, for_update: bool = False, months=None
) -> list[tuple]:
    """Rows of ``model`` whose ``key`` is one of ``values`` (thousands of them, all text or all
    integers), as tuples of ``columns``. On PostgreSQL the values travel as one array parameter
    written by ``bulk.array_literal`` (``= ANY(%s::text[])``): with the driver's client-side
    binding, thousands of separate placeholders cost more to send than the query costs to run,
    and its adaptation of a list quotes it element by element. ``months``: only rows of those
    months (a partitioned table is then read in those months' partitions alone)."""
    values = list(values)
    if not values:
        return []
    if connection.vendor != "postgresql":
        qs = model.objects.filter(**{f"{key}__in": values})
        if months is not None:
            qs = qs.filter(month__in=list(months))
        return list((qs.select_for_update() if for_update else qs).values_list(*columns))
    fields = {f.attname: f.column for f in model._meta.concrete_fields} | {
        f.name: f.column for f in model._meta.concrete_fields
    }
    q = connection.ops.quote_name
    sql = (
        f"SELECT {', '.join(q(fields[c]) for c in columns)} FROM {q(model._meta.db_table)} "  # noqa: S608 - our names
        f"WHERE {q(fields[key])} = ANY(%s::{'bigint' if type(values[0]) is int else 'text'}[])"
        f"{' AND month = ANY(%s::text[])' if months is not None else ''}"
        f"{' FOR UPDATE' if for_update else ''}"
    )
    params = [bulk.array_literal(values)]
    if months is not None:
        params.append(bulk.array_literal(sorted(months)))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _existing_trips(transit_ids: list[str]) -> dict[str, tuple]:
    """The stored trips among ``transit_ids``: transit id → (id, fingerprint, state, pushed by,
    month). Found through their keys (locked, so that two pushes of one trip take turns), then
    read, locked, in their months' partitions only."""
    keys = _by_keys(TransitKey, "transit_id", ("transit_id", "trip_id", "month"), transit_ids, for_update=True)
    if not keys:
        return {}
    by_pk = {pk: tid for tid, pk, _month in keys}
    rows = _by_keys(
        Transit,
        "id",
        ("id", "fingerprint", "state", "pushed_by", "month"),
        list(by_pk),
        for_update=True,
        months={month for _tid, _pk, month in keys},
    )
    return {by_pk[row[0]]: row for row in rows}


def transit_upsert_batch(*, partner: Partner, body: Any) -> BatchResult:
    items = batch_items(body, "transits")
    result = BatchResult(extra={"not_owner": 0})
    clean: dict[str, tuple[int, dict]] = {}
    latest_exit = timezone.now() + timedelta(hours=1)
    for index, item in enumerate(items):
        data = _fast_transit(item, latest_exit)
        if data is None:
            item_id = item.get("transit_id") if isinstance(item, dict) else None
            try:
                data = _clean_transit(item)
            except ItemError as exc:
                result.reject(index, item_id, exc.code, exc.errors)
                continue
        if data["transit_id"] in clean:
            result.reject(index, item.get("transit_id"), "duplicate_in_batch", {"transit_id": [_("同一批次内重复。")]})
            continue
        clean[data["transit_id"]] = (index, data)
    if not clean:
        return result

    cards = dict(_by_keys(Card, "card_no", ("card_no", "id"), {d["card_no"] for _, d in clean.values()}))
    sections = {
        code: (sid, op)
        for code, sid, op in RoadSection.objects.filter(
            code__in={s["section_code"] for _, d in clean.values() for s in d["segments"]}
        ).values_list("code", "id", "operator_id")
    }
    ready: dict[str, tuple[int, dict, str]] = {}
    for transit_id, (index, data) in clean.items():
        if data["card_no"] not in cards:
            result.reject(index, transit_id, "unknown_card", {"card_no": [_("平台没有该卡号的登记信息。")]})
            continue
        unknown = sorted({s["section_code"] for s in data["segments"] if s["section_code"] not in sections})
        if unknown:
            result.reject(
                index, transit_id, "unknown_section", {"segments": [_("未知路段：%(c)s。") % {"c": ", ".join(unknown)}]}
            )
            continue
        ready[transit_id] = (index, data, _transit_fingerprint(data))

    now = timezone.now()
    with transaction.atomic():
        existing = _existing_trips(list(ready))
        old_month = {pk: month for pk, _fp, _state, _owner, month in existing.values()}
        new_rows, changed, refused, foreign = [], {}, [], []
        for transit_id, (index, data, fp) in ready.items():
            found = existing.get(transit_id)
            if found is None:
                new_rows.append((data, fp))
            elif found[3] != partner.pk:
                # Trip ids are national, so one id is one trip: a trip pushed by another partner
                # is never read, matched or changed through this partner's push.
                result.reject(
                    index,
                    transit_id,
                    "not_owner",
                    {"transit_id": [_("该通行记录由其他合作方推送，本合作方不能修改。")]},
                )
                foreign.append((transit_id, found[3]))
            elif found[1] == fp:
                result.unchanged += 1
            elif found[2] != InvoiceState.OPEN:
                result.reject(
                    index,
                    transit_id,
                    "already_invoiced",
                    {"segments": [_("该通行记录已申请或已开具发票，不能再变更；如拆分有误，请联系平台处理。")]},
                )
                refused.append((found[0], data))
            else:
                changed[found[0]] = (data, fp)
        if changed:
            # Open again after one of its invoices was reversed, while others still stand: the
            # split they were issued on stays.
            for pk in {share[0] for share in covered_shares(list(changed))}:
                data, _fp = changed.pop(pk)
                result.reject(
                    ready[data["transit_id"]][0],
                    data["transit_id"],
                    "already_invoiced",
                    {"segments": [_("该通行记录已申请或已开具发票，不能再变更；如拆分有误，请联系平台处理。")]},
                )
                refused.append((pk, data))

        def row(data: dict, fp: str) -> Transit:
            local_exit = data["exit_time"].astimezone(SHANGHAI)
            return Transit(
                transit_id=data["transit_id"],
                card_id=cards[data["card_no"]],
                plate=data["plate"],
                plate_color=data["plate_color"],
                vehicle_class=data["vehicle_class"],
                entry_station=data["entry_station"],
                entry_time=data["entry_time"],
                exit_station=data["exit_station"],
                exit_time=data["exit_time"],
                fee=data["fee"],
                month=local_exit.strftime("%Y-%m"),
                travel_date=local_exit.date(),
                fingerprint=fp,
                pushed_by=partner,
                created_at=now,
                updated_at=now,
            )

        def segment_rows(transit_pk: int, data: dict) -> list[TransitSegment]:
            month = data["exit_time"].astimezone(SHANGHAI).strftime("%Y-%m")
            return [
                TransitSegment(
                    transit_id=transit_pk,
                    seq=i,
                    section_id=sections[s["section_code"]][0],
                    operator_id=sections[s["section_code"]][1],
                    fee=s["fee"],
                    month=month,
                )
                for i, s in enumerate(data["segments"], start=1)
            ]

        segments: list[TransitSegment] = []
        if new_rows and connection.vendor == "postgresql":
            _copy_new_transits(new_rows, cards, sections, partner, now)
        else:
            created = Transit.objects.bulk_create([row(d, fp) for d, fp in new_rows], batch_size=1000)
            TransitKey.objects.bulk_create(
                [TransitKey(transit_id=obj.transit_id, trip_id=obj.pk, month=obj.month) for obj in created],
                batch_size=1000,
            )
            segments = [seg for obj, (d, _fp) in zip(created, new_rows, strict=True) for seg in segment_rows(obj.pk, d)]
        result.created = len(new_rows)

        if changed:
            before = defaultdict(list)
            changed_months = {old_month[pk] for pk in changed}
            for tid, code, fee in TransitSegment.objects.filter(
                transit_id__in=list(changed), month__in=changed_months
            ).values_list("transit_id", "section__code", "fee"):
                before[tid].append({"section_code": code, "fee": fee})
            updates = []
            for pk, (data, fp) in changed.items():
                obj = row(data, fp)
                obj.pk = pk
                updates.append(obj)
            # Found in their months' partitions (the months before this push: a corrected exit
            # time may move a trip to another month's partition).
            Transit.objects.filter(month__in=changed_months).bulk_update(
                updates,
                [
                    "card",
                    "plate",
                    "plate_color",
                    "vehicle_class",
                    "entry_station",
                    "entry_time",
                    "exit_station",
                    "exit_time",
                    "fee",
                    "month",
                    "travel_date",
                    "fingerprint",
                    "updated_at",
                ],
                batch_size=1000,
            )
            TransitSegment.objects.filter(transit_id__in=list(changed), month__in=changed_months).delete()
            moved = [obj for obj in updates if obj.month != old_month[obj.pk]]
            if moved:
                # A corrected exit time that changes the month: the trip moves partition (the
                # UPDATE above) and its key follows.
                TransitKey.objects.bulk_update(
                    [TransitKey(transit_id=obj.transit_id, trip_id=obj.pk, month=obj.month) for obj in moved],
                    ["month"],
                )
            for pk, (data, _fp) in changed.items():
                segments.extend(segment_rows(pk, data))
            TransitChange.objects.bulk_create(
                [
                    TransitChange(
                        transit_id=pk,
                        kind=TransitChange.Kind.REPLACED,
                        partner=partner,
                        before=before[pk],
                        after=data["segments"],
                        at=now,
                    )
                    for pk, (data, _fp) in changed.items()
                ]
            )
            result.updated = len(changed)
        if refused:
            TransitChange.objects.bulk_create(
                [
                    TransitChange(
                        transit_id=pk,
                        kind=TransitChange.Kind.REFUSED,
                        partner=partner,
                        before={},
                        after={"fee": d["fee"], "segments": d["segments"]},
                        at=now,
                    )
                    for pk, d in refused
                ]
            )
        TransitSegment.objects.bulk_create(segments, batch_size=2000)
        cross_partner_refusals_record(partner=partner, kind="transit", refused=foreign)
    result.extra["not_owner"] = _not_owner_count(result)
    if refused:
        logger.warning("partner %s tried to change %d invoiced transits", partner.pk, len(refused))
    return result


def _copy_new_transits(new_rows, cards, sections, partner, now) -> None:
    """PostgreSQL: new trips and their segments written with COPY (``piaogen.bulk``), ids taken
    from the table's own sequence first — the ORM's INSERT building costs ten times the
    database's work here. The rows are written in COPY's text format directly: the driver's
    per-row adaptation costs about twice as much. Text from partners is escaped (``copy_text``);
    everything else is ours. A database error answers like any other (503, nothing of the batch
    stored)."""
    ids = bulk.reserve_ids(Transit._meta.db_table, len(new_rows))
    transit_cols = (
        "id, transit_id, card_id, plate, plate_color, vehicle_class, entry_station, entry_time, exit_station,"
        " exit_time, fee, month, travel_date, state, fingerprint, pushed_by_id, created_at, updated_at"
    )
    text = copy_text
    tail = f"{InvoiceState.OPEN}\t%s\t{partner.pk if partner else bulk.NULL}\t{now.isoformat()}\t{now.isoformat()}\n"
    months: list[str] = []

    def trip_lines():
        for pk, (d, fp) in zip(ids, new_rows, strict=True):
            local_exit = d["exit_time"].astimezone(SHANGHAI)
            month = local_exit.strftime("%Y-%m")
            months.append(month)
            yield (
                f"{pk}\t{text(d['transit_id'])}\t{cards[d['card_no']]}\t{text(d['plate'])}\t"
                f"{d['plate_color']}\t{d['vehicle_class']}\t{text(d['entry_station'])}\t"
                f"{d['entry_time'].isoformat()}\t{text(d['exit_station'])}\t{d['exit_time'].isoformat()}\t"
                f"{d['fee']}\t{month}\t{local_exit.date().isoformat()}\t" + tail % fp
            )

    # Each COPY is sent in pieces as its rows are made: the server writes the first rows while
    # the rest are made (the two overlap on a machine of several cores).
    bulk.copy_lines(Transit._meta.db_table, transit_cols, bulk.in_pieces(trip_lines()))
    bulk.copy_lines(
        TransitKey._meta.db_table,
        "transit_id, trip_id, month",
        bulk.in_pieces(
            f"{text(d['transit_id'])}\t{pk}\t{month}\n"
            for pk, (d, _fp), month in zip(ids, new_rows, months, strict=True)
        ),
    )
    bulk.copy_lines(
        TransitSegment._meta.db_table,
        "transit_id, seq, section_id, operator_id, fee, month",
        bulk.in_pieces(
            f"{pk}\t{seq}\t{sections[s['section_code']][0]}\t{sections[s['section_code']][1]}\t{s['fee']}\t{month}\n"
            for pk, (d, _fp), month in zip(ids, new_rows, months, strict=True)
            for seq, s in enumerate(d["segments"], start=1)
        ),
    )


# --- recharges ------------------------------------------------------------------------


def recharge_upsert_batch(*, partner: Partner, body: Any) -> BatchResult:
    items = batch_items(body, "recharges")
    result = BatchResult(extra={"not_owner": 0})
    own_codes = network_codes_of(partner)
    clean: dict[str, tuple[int, dict]] = {}
    for index, item in enumerate(items):
        item_id = item.get("recharge_id") if isinstance(item, dict) else None
        try:
            f = Fields(item)
            data = {
                "recharge_id": f.text("recharge_id", max_length=64),
                "card_no": f.digits("card_no", length=20),
                "amount": f.integer("amount", minimum=1, maximum=MAX_FEE),
                "recharged_at": f.moment("recharged_at"),
            }
            f.check()
        except ItemError as exc:
            result.reject(index, item_id, exc.code, exc.errors)
            continue
        if data["card_no"][:4] not in own_codes:
            result.reject(
                index, item_id, "foreign_network_code", {"card_no": [_("该卡不属于本发行方的卡片网络编号。")]}
            )
            continue
        if data["recharge_id"] in clean:
            result.reject(index, item_id, "duplicate_in_batch", {"recharge_id": [_("同一批次内重复。")]})
            continue
        clean[data["recharge_id"]] = (index, data)
    if not clean:
        return result
    cards = {
        no: (pk, kind)
        for no, pk, kind in Card.objects.filter(card_no__in={d["card_no"] for _, d in clean.values()}).values_list(
            "card_no", "id", "card_type"
        )
    }
    now = timezone.now()
    with transaction.atomic():
        existing = {
            rid: (pk, fp, state, owner)
            for rid, pk, fp, state, owner in Recharge.objects.select_for_update()
            .filter(recharge_id__in=list(clean))
            .values_list("recharge_id", "id", "fingerprint", "state", "pushed_by")
        }
        new, updates, foreign = [], [], []
        for rid, (index, data) in clean.items():
            card = cards.get(data["card_no"])
            if card is None:
                result.reject(index, rid, "unknown_card", {"card_no": [_("平台没有该卡号的登记信息。")]})
                continue
            if card[1] != CardType.STORED_VALUE:
                result.reject(index, rid, "not_stored_value", {"card_no": [_("只有储值卡有充值记录。")]})
                continue
            fp = fingerprint({**data, "recharged_at": data["recharged_at"].isoformat()})
            local = data["recharged_at"].astimezone(SHANGHAI)
            obj = Recharge(
                recharge_id=rid,
                card_id=card[0],
                amount=data["amount"],
                recharged_at=data["recharged_at"],
                month=local.strftime("%Y-%m"),
                fingerprint=fp,
                pushed_by=partner,
                created_at=now,
                updated_at=now,
            )
            found = existing.get(rid)
            if found is None:
                new.append(obj)
            elif found[3] != partner.pk:
                result.reject(
                    index, rid, "not_owner", {"recharge_id": [_("该充值记录由其他发行方推送，本发行方不能修改。")]}
                )
                foreign.append((rid, found[3]))
            elif found[1] == fp:
                result.unchanged += 1
            elif found[2] != InvoiceState.OPEN:
                result.reject(index, rid, "already_invoiced", {"amount": [_("该充值记录已开具发票，不能再变更。")]})
            else:
                obj.pk = found[0]
                updates.append(obj)
        Recharge.objects.bulk_create(new, batch_size=1000)
        if updates:
            Recharge.objects.bulk_update(
                updates, ["card", "amount", "recharged_at", "month", "fingerprint", "updated_at"], batch_size=1000
            )
        result.created, result.updated = len(new), len(updates)
        cross_partner_refusals_record(partner=partner, kind="recharge", refused=foreign)
    result.extra["not_owner"] = _not_owner_count(result)
    return result
