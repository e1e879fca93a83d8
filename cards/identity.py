"""Pure rules of ETC cards: card numbers, plates and their colours, holder ID numbers.

No I/O: the network codes a card number may start with are passed in by the caller.
Plates follow GA 36-2018 as the domain states it; ID numbers and USCCs are checked with
python-stdnum (``cn.ric``, ``cn.uscc``), never with a hand-written checksum.
"""

from __future__ import annotations

import datetime
import re
import secrets
import unicodedata
from collections.abc import Collection

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from stdnum.cn import ric
from stdnum.exceptions import ValidationError as StdnumError

from accounts.identity import fold, normalize_mobile, normalize_uscc, validate_mobile, validate_uscc

from .models import IdType, PlateColor

CARD_NO_RE = re.compile(r"^\d{20}$", re.ASCII)

# The one-character abbreviations of the provincial-level divisions that issue plates.
PROVINCE_CHARS = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_LETTER = "A-HJ-NP-Z"  # Latin capitals without I and O
_SERIAL = "A-HJ-NP-Z0-9"
_ENERGY = "DABCEFGHJK"  # D pure electric, F (and the rest) hybrids
ORDINARY_PLATE_RE = re.compile(rf"^[{PROVINCE_CHARS}][{_LETTER}][{_SERIAL}]{{5}}$")
# New-energy plates: 沪AD12345 (small vehicles) and 粤B12345D (large vehicles).
NEW_ENERGY_SMALL_RE = re.compile(rf"^[{PROVINCE_CHARS}][{_LETTER}][{_ENERGY}][{_SERIAL}]\d{{4}}$")
NEW_ENERGY_LARGE_RE = re.compile(rf"^[{PROVINCE_CHARS}][{_LETTER}]\d{{5}}[{_ENERGY}]$")

# Colours only new-energy plates carry, and the colours a new-energy plate may carry.
NEW_ENERGY_ONLY_COLORS = frozenset({PlateColor.GRADIENT_GREEN, PlateColor.YELLOW_GREEN})
NEW_ENERGY_COLORS = frozenset({PlateColor.GRADIENT_GREEN, PlateColor.YELLOW_GREEN, PlateColor.GREEN})

PASSPORT_RE = re.compile(r"^[A-Z0-9]{5,20}$")
OTHER_ID_RE = re.compile(r"^[A-Z0-9\-]{2,32}$")


# --- Card numbers ----------------------------------------------------------------


def normalize_card_no(value) -> str:
    """Card numbers are printed in groups: spaces and dashes are dropped."""
    return re.sub(r"[\s\-]", "", fold(value))


def network_code(card_no: str) -> str:
    return card_no[:4]


def validate_card_no(value: str, *, network_codes: Collection[str] | None = None) -> None:
    """20 digits; when ``network_codes`` is given, the first four must be one of them."""
    if not CARD_NO_RE.match(value or ""):
        raise ValidationError(_("卡号应为20位数字（印在ETC卡正面）。"), code="invalid_card_no")
    if network_codes is not None and network_code(value) not in network_codes:
        raise ValidationError(
            _("卡号前4位（卡片网络编号）%(code)s 不属于任何已知的发行方，请核对卡号。") % {"code": value[:4]},
            code="unknown_network_code",
        )


# --- Plates ------------------------------------------------------------------------


def normalize_plate(value) -> str:
    """Upper-cases the Latin letters and drops spaces and the middle dot of 京A·12345."""
    return re.sub(r"[\s·•\.\-]", "", str(value or "")).upper()


def plate_kind(value: str) -> str | None:
    """``ordinary`` (7 characters), ``new_energy`` (8) or None when the plate is malformed."""
    if ORDINARY_PLATE_RE.match(value or ""):
        return "ordinary"
    if NEW_ENERGY_SMALL_RE.match(value or "") or NEW_ENERGY_LARGE_RE.match(value or ""):
        return "new_energy"
    return None


def validate_plate(value: str) -> None:
    if plate_kind(value) is None:
        raise ValidationError(
            _(
                "车牌号格式不正确：普通车牌为7位（省份简称+字母+5位字母或数字，不含I、O），"
                "新能源车牌为8位（如 沪AD12345、粤B12345D）。"
            ),
            code="invalid_plate",
        )


def parse_plate_color(value) -> int | None:
    """The integer colour code, or None when it is not one. Booleans are not codes."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        code = value
    elif isinstance(value, str) and value.strip().isdigit():
        code = int(value.strip())
    else:
        return None
    return code if code in PlateColor.values else None


def validate_plate_color(plate: str, color) -> None:
    """A known colour code that fits the plate: gradient green and yellow-green belong to
    new-energy plates only, and a new-energy plate is green."""
    code = parse_plate_color(color)
    if code is None:
        raise ValidationError(
            _("车牌颜色代码无效，应为：0蓝 1黄 2黑 3白 4渐变绿 5黄绿双拼 6蓝白渐变 7临时牌照 11绿 12红。"),
            code="invalid_plate_color",
        )
    kind = plate_kind(plate)
    if kind == "new_energy" and code not in NEW_ENERGY_COLORS:
        raise ValidationError(
            _("新能源车牌（8位）的颜色应为 4 渐变绿色、5 黄绿双拼色或 11 绿色。"), code="plate_color_mismatch"
        )
    if kind == "ordinary" and code in NEW_ENERGY_ONLY_COLORS:
        raise ValidationError(
            _("渐变绿色和黄绿双拼色只用于8位新能源车牌，请核对车牌号或颜色。"), code="plate_color_mismatch"
        )


# --- Holder identities -------------------------------------------------------------


def normalize_id_number(value) -> str:
    return re.sub(r"\s", "", fold(value)).upper()


def validate_resident_id(value: str, *, today: datetime.date | None = None) -> None:
    """18 digits with the ISO 7064 MOD 11-2 check digit and a real, past birth date."""
    try:
        ric.validate(value)
        born = ric.get_birth_date(value)
    except StdnumError:
        raise ValidationError(
            _("居民身份证号码无效：应为18位，含真实的出生日期，末位校验码须正确（可能为X）。请核对证件。"),
            code="invalid_resident_id",
        ) from None
    today = today or datetime.date.today()
    if born > today or born.year < 1900:
        raise ValidationError(_("居民身份证号码中的出生日期不正确，请核对证件。"), code="invalid_resident_id")


def validate_id_number(id_type: str, value: str) -> None:
    """Checks ``value`` (already normalised) as a number of ``id_type``."""
    if id_type == IdType.RESIDENT_ID:
        validate_resident_id(value)
    elif id_type == IdType.USCC:
        validate_uscc(normalize_uscc(value))
    elif id_type == IdType.PASSPORT:
        if not PASSPORT_RE.match(value or ""):
            raise ValidationError(_("护照号码应为5–20位字母或数字。"), code="invalid_passport")
    elif id_type == IdType.OTHER:
        if not OTHER_ID_RE.match(value or ""):
            raise ValidationError(_("证件号码应为2–32位字母、数字或连字符。"), code="invalid_id_number")
    else:
        raise ValidationError(_("证件类型无效，应为 resident_id、uscc、passport 或 other。"), code="invalid_id_type")


def validate_id_type(value) -> None:
    if value not in IdType.values:
        raise ValidationError(
            _(
                "证件类型无效，应为 resident_id（居民身份证）、uscc（统一社会信用代码）、passport（护照）或 other（其他）。"
            ),
            code="invalid_id_type",
        )


def validate_holder_name(value: str) -> None:
    if not value:
        raise ValidationError(_("请填写持卡人姓名或单位名称。"), code="required")
    if len(value) > 100:
        raise ValidationError(_("持卡人姓名或单位名称不能超过100个字符。"), code="too_long")
    if any(ord(c) < 32 for c in value):
        raise ValidationError(_("持卡人姓名含有无效字符。"), code="invalid")


# The middle dot of names such as 阿卜杜·热合曼 is typed in many forms; one of them is kept.
_NAME_DOTS = str.maketrans({c: "·" for c in "\u2022\u2027\u2219\u22c5\u30fb\uff0e"})
NAME_MAX_LENGTH = 100


def _word_char(c: str) -> bool:
    """A letter or digit of an alphabetic script (Latin, Cyrillic, Greek…): a space between two
    of them separates words (ZHANG SAN); next to a Chinese character or a bracket it does not."""
    return c.isalnum() and ord(c) < 0x2E80


def normalize_holder_name(value) -> str:
    """The form in which a typed holder name (开户人名称) and the issuer's reserved one are
    compared: NFKC (full-width letters, digits, brackets and spaces become their plain forms,
    so （北京） and (北京) are one), case folded (passport names), the middle dot in one form,
    invisible format characters (a zero-width space pasted along) dropped, the ends stripped,
    and inner whitespace dropped except one space between two words of an alphabetic script.
    Never stored or shown: only compared, or digested."""
    text = unicodedata.normalize("NFKC", str(value or "")).casefold().translate(_NAME_DOTS)
    text = "".join(c for c in text if unicodedata.category(c) != "Cf")
    out = ""
    for word in text.split():
        if out and _word_char(out[-1]) and _word_char(word[0]):
            out += " "
        out += word
    return out


def holder_names_match(typed: str, reserved: str) -> bool:
    """Whether a typed holder name is the reserved one, once both are normalised; in constant
    time for names of one length."""
    return secrets.compare_digest(normalize_holder_name(typed).encode(), normalize_holder_name(reserved).encode())


def validate_typed_holder_name(value: str) -> None:
    """The holder name a user types when binding (开户人名称): something to compare."""
    if not normalize_holder_name(value):
        raise ValidationError(_("请填写开户人名称：个人卡填写持卡人姓名，单位卡填写单位全称。"), code="required")
    if len(value) > NAME_MAX_LENGTH:
        raise ValidationError(_("开户人名称不能超过 %(n)s 个字符。") % {"n": NAME_MAX_LENGTH}, code="too_long")
    if any(unicodedata.category(c) in ("Cc", "Co", "Cs") and not c.isspace() for c in value):
        raise ValidationError(_("开户人名称含有无效字符，请重新输入。"), code="invalid")


__all__ = [
    "holder_names_match",
    "normalize_card_no",
    "normalize_holder_name",
    "normalize_id_number",
    "normalize_mobile",
    "normalize_plate",
    "parse_plate_color",
    "plate_kind",
    "validate_card_no",
    "validate_holder_name",
    "validate_id_number",
    "validate_id_type",
    "validate_mobile",
    "validate_plate",
    "validate_plate_color",
    "validate_typed_holder_name",
]
