"""Pure checks of identities: mobiles and unified social credit codes (USCC)."""

from __future__ import annotations

import re
import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from stdnum.cn import uscc
from stdnum.exceptions import ValidationError as StdnumError

MOBILE_RE = re.compile(r"^1[3-9]\d{9}$", re.ASCII)


def fold(value) -> str:
    """Full-width and compatibility forms folded to their plain ones (NFKC: ``１３５`` to
    ``135``, ``Ｘ`` to ``X``, ``－`` to ``-``) and every other decimal digit (Arabic-Indic,
    Devanagari…) to its ASCII digit. Applied wherever a mobile, card number, ID number or
    taxpayer id is read, so that one number is one identity with one set of limits."""
    value = unicodedata.normalize("NFKC", str(value or ""))
    if value.isascii():
        return value
    return "".join(
        str(unicodedata.decimal(c)) if not c.isascii() and unicodedata.decimal(c, None) is not None else c
        for c in value
    )


def normalize_mobile(value: str) -> str:
    """Folds the digits, strips spaces, dashes and a +86 / 0086 prefix; does not validate."""
    value = re.sub(r"[\s\-]", "", fold(value))
    for prefix in ("+86", "0086"):
        if value.startswith(prefix):
            value = value[len(prefix) :]
    return value


def is_mobile(value: str) -> bool:
    return bool(MOBILE_RE.match(value or ""))


def validate_mobile(value: str) -> None:
    if not is_mobile(value):
        raise ValidationError(_("请输入11位中国大陆手机号码（1开头，第二位为3–9）。"), code="invalid_mobile")


def normalize_uscc(value: str) -> str:
    return re.sub(r"\s", "", fold(value)).upper()


def validate_uscc(value: str) -> None:
    try:
        uscc.validate(value)
    except StdnumError:
        raise ValidationError(
            _("统一社会信用代码无效：应为18位，且末位校验码须符合 GB 32100-2015。请核对营业执照。"),
            code="invalid_uscc",
        ) from None
