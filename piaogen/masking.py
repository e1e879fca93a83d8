"""Masking of personal data for display and logs.

``mask_text`` is the one function that hides the personal numbers found in free text (see
``find_numbers``); every page, export and log that shows text a person typed goes through it.

Mobiles show their first 3 and last 4 digits (138****5678), as Chinese platforms do;
ID numbers their first and last character groups only (1101**********123X); tokens only
their first characters. ``MaskingFilter`` rewrites log records so that a mobile or an
ID number that slips into a message never reaches a log in full.
"""

from __future__ import annotations

import datetime
import logging
import re

from django.views.debug import ExceptionReporter
from stdnum import luhn
from stdnum.cn import ric, uscc

MOBILE_RE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")
ID_RE = re.compile(r"(?<![0-9A-Za-z])(\d{4})(\d{10})(\d{3}[0-9Xx])(?![0-9A-Za-z])")


def mask_mobile(mobile: str | None) -> str:
    if not mobile:
        return ""
    mobile = str(mobile)
    if len(mobile) < 7:
        return "*" * len(mobile)
    return f"{mobile[:3]}{'*' * (len(mobile) - 7)}{mobile[-4:]}"


def mask_id_number(number: str | None) -> str:
    if not number:
        return ""
    number = str(number)
    if len(number) <= 4:
        return "*" * len(number)
    if len(number) <= 8:
        return number[0] + "*" * (len(number) - 2) + number[-1]
    return f"{number[:4]}{'*' * (len(number) - 8)}{number[-4:]}"


def mask_name(name: str | None) -> str:
    """张三丰 → 张**; keeps enough for an agent to confirm with the caller."""
    if not name:
        return ""
    return name[0] + "*" * (len(name) - 1)


def mask_token(token: str | None) -> str:
    if not token:
        return ""
    return f"{token[:6]}…"


# --- Finding personal numbers in free text ------------------------------------------------
#
# Staff and customers type numbers into subjects, messages, call summaries and reasons in any
# layout: "440106 19850312 0031", "138-0000-0001", full-width "１３８…". The detector reads the
# text through a same-length translation (full-width digits, letters and separators become ASCII,
# so positions do not move), cuts it into runs of letters and digits joined by single spaces or
# dashes, and accepts a stretch of those runs only when it is one of:
#
#   id      resident ID, 18 characters with a valid check digit (stdnum ``cn.ric``), or the
#           legacy 15 digits with a real birth date
#   uscc    unified social credit code with a valid check character (stdnum ``cn.uscc``)
#   mobile  1[3-9] and 9 more digits
#   card    an ETC card number: 20 digits
#   bank    a bank card or account: 16 to 19 digits passing the Luhn check
#
# Anything else (dates, amounts, ticket and invoice numbers, an 18-digit run with a wrong check
# digit) is left alone, so that agents still read what they need. Logs use ``lenient=True``, which
# also masks every 11-digit mobile-like and 18-character ID-like run: there a false positive costs
# nothing.

_FULL_WIDTH = str.maketrans(
    "０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ－　‐–—",
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz- ---",
)
_RUN_RE = re.compile(r"[0-9A-Za-z]+")
_SEPARATORS = {" ", "-"}
_DIGITS_RE = re.compile(r"\d+[Xx]?")

# How much of each kind stays readable: (first, last) characters.
KEEP = {"mobile": (3, 4), "id": (4, 4), "id15": (4, 3), "uscc": (4, 4), "card": (4, 4), "bank": (4, 4)}
KIND_LABELS = {
    "mobile": "手机号",
    "id": "身份证号",
    "id15": "身份证号",
    "uscc": "统一社会信用代码",
    "card": "ETC卡号",
    "bank": "银行账号",
}


def _luhn_ok(digits: str) -> bool:
    return luhn.is_valid(digits)


def _legacy_id_ok(digits: str) -> bool:
    if not digits.isdigit() or digits[0] == "0":
        return False
    try:
        datetime.date(1900 + int(digits[6:8]), int(digits[8:10]), int(digits[10:12]))
    except ValueError:
        return False
    return True


def classify_number(compact: str) -> str | None:
    """What kind of personal number ``compact`` (no separators) is, or None."""
    n = len(compact)
    if n == 11 and compact.isdigit():
        return "mobile" if compact[0] == "1" and compact[1] in "3456789" else None
    if n == 18:
        if ric.is_valid(compact):
            return "id"
        if uscc.is_valid(compact.upper()):
            return "uscc"
        return "bank" if compact.isdigit() and _luhn_ok(compact) else None
    if not compact.isdigit():
        return None
    if n == 20:
        return "card"
    if n == 15 and _legacy_id_ok(compact):
        return "id15"
    if 16 <= n <= 19 and _luhn_ok(compact):
        return "bank"
    return None


def find_numbers(text: str) -> list[tuple[int, int, str]]:
    """(start, end, kind) of every personal number in ``text``, in order, not overlapping."""
    if not text:
        return []
    plain = str(text).translate(_FULL_WIDTH)
    runs = [(m.start(), m.end()) for m in _RUN_RE.finditer(plain)]
    found: list[tuple[int, int, str]] = []
    i = 0
    while i < len(runs):
        # The runs joined to this one by a single space or dash: one number printed in groups.
        j = i + 1
        while j < len(runs) and runs[j][0] == runs[j - 1][1] + 1 and plain[runs[j - 1][1]] in _SEPARATORS:
            j += 1
        group = runs[i:j]
        k = 0
        while k < len(group):
            for end in range(len(group), k, -1):
                compact = "".join(plain[s:e] for s, e in group[k:end])
                if len(compact) > 24:
                    continue
                kind = classify_number(compact)
                if kind:
                    found.append((group[k][0], group[end - 1][1], kind))
                    k = end
                    break
            else:
                # A run glued to letters ("ID110101…", "tel13800000001"): its digits alone.
                s, e = group[k]
                for m in _DIGITS_RE.finditer(plain, s, e):
                    kind = classify_number(m.group())
                    if kind:
                        found.append((m.start(), m.end(), kind))
                k += 1
        i = j
    return found


def _mask_span(span: str, kind: str) -> str:
    first, last = KEEP[kind]
    positions = [i for i, ch in enumerate(span) if ch not in " -－　‐–—"]
    hidden = set(positions[first : len(positions) - last])
    return "".join("*" if i in hidden else ch for i, ch in enumerate(span))


_LENIENT_RES = (
    (MOBILE_RE, lambda m: f"{m.group(1)}****{m.group(3)}"),
    (ID_RE, lambda m: f"{m.group(1)}{'*' * 10}{m.group(3)}"),
)


def mask_text(text, *, lenient: bool = False) -> str:
    """``text`` with every personal number found in it masked, its layout kept
    ("来电称身份证4401**********0031，手机138****0001")."""
    text = "" if text is None else str(text)
    spans = find_numbers(text)
    if spans:
        out, at = [], 0
        for start, end, kind in spans:
            out.append(text[at:start])
            out.append(_mask_span(text[start:end], kind))
            at = end
        out.append(text[at:])
        text = "".join(out)
    if lenient:
        for pattern, repl in _LENIENT_RES:
            text = pattern.sub(repl, text)
    return text


def has_numbers(text) -> bool:
    """Whether ``text`` holds anything ``mask_text`` would hide."""
    return bool(find_numbers("" if text is None else str(text)))


class MaskingFilter(logging.Filter):
    """Masks mobiles and ID numbers in every record that passes through a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the caller's bug, not ours to hide
            return True
        masked = mask_text(message, lenient=True)
        if masked != message:
            record.msg = masked
            record.args = None
        return True


class MaskingExceptionReporter(ExceptionReporter):
    """Error reports (the debug page and the mails to ``ADMINS``) show request data, local
    variables and exception messages: every mobile and ID number in them is masked, as in logs."""

    def get_traceback_html(self):
        return mask_text(str(super().get_traceback_html()), lenient=True)

    def get_traceback_text(self):
        return mask_text(str(super().get_traceback_text()), lenient=True)
