"""What the registry, binding and titles share: the keyed digests binding compares, how
refusals and notices name a card's issuer, and the helpers that gather field errors."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from piaogen.crypto import lookup_digest

from .. import identity
from ..models import Issuer


def _first_message(errors: dict[str, list[str]]) -> str:
    return next(iter(errors.values()))[0]


def id_number_digest(id_number: str) -> str:
    """The keyed digest that binding compares; the same for registry and user input."""
    return lookup_digest(identity.normalize_id_number(id_number), purpose="id-number")


def holder_name_digest(holder_name: str) -> str:
    """The keyed digest of a holder name once normalised (``identity.normalize_holder_name``):
    what a proof-first attempt keeps of the name typed, to compare once the code comes back."""
    return lookup_digest(identity.normalize_holder_name(holder_name), purpose="holder-name")


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


def _collect(errors: dict, name: str, check, *args) -> None:
    try:
        check(*args)
    except ValidationError as exc:
        errors[name] = exc.messages
