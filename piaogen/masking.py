"""Masking of personal data for display and logs.

Mobiles show their first 3 and last 4 digits (138****5678), as Chinese platforms do;
ID numbers their first and last character groups only (1101**********123X); tokens only
their first characters. ``MaskingFilter`` rewrites log records so that a mobile or an
ID number that slips into a message never reaches a log in full.
"""

from __future__ import annotations

import logging
import re

from django.views.debug import ExceptionReporter

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


def mask_text(text: str) -> str:
    text = MOBILE_RE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
    return ID_RE.sub(lambda m: f"{m.group(1)}{'*' * 10}{m.group(3)}", text)


class MaskingFilter(logging.Filter):
    """Masks mobiles and ID numbers in every record that passes through a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the caller's bug, not ours to hide
            return True
        masked = mask_text(message)
        if masked != message:
            record.msg = masked
            record.args = None
        return True


class MaskingExceptionReporter(ExceptionReporter):
    """Error reports (the debug page and the mails to ``ADMINS``) show request data, local
    variables and exception messages: every mobile and ID number in them is masked, as in logs."""

    def get_traceback_html(self):
        return mask_text(str(super().get_traceback_html()))

    def get_traceback_text(self):
        return mask_text(str(super().get_traceback_text()))
