"""Invoice titles (发票抬头): a user's saved titles, created, changed and soft-deleted, and the
default title of each bound card."""

from __future__ import annotations

from typing import Any

from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.identity import normalize_uscc, validate_uscc
from accounts.models import User
from piaogen.errors import ServiceError

from .. import identity, selectors
from ..models import Binding, InvoiceTitle
from .shared import _collect, _first_message

MAX_TITLES_PER_USER = 20

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
