"""Pluggable SMS delivery, shaped like Django's e-mail backends.

``SMS_BACKEND`` picks one: ``console`` prints one line a message (mobile masked; a code
stands at the end of its line, ``短信验证码 138****0001 注册: 123456``), ``file`` appends
one JSON object a line to ``SMS_FILE_PATH`` (for tests and demos), ``gateway`` posts to an
HTTP SMS gateway at ``SMS_GATEWAY_URL``.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from celery.utils.log import LoggingProxy
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone, translation
from django.utils.module_loading import import_string

from piaogen.masking import mask_mobile


@dataclass(frozen=True)
class SmsMessage:
    mobile: str
    text: str
    purpose: str
    code: str = ""


class BaseSmsBackend:
    def send(self, message: SmsMessage) -> None:  # pragma: no cover - interface
        raise NotImplementedError


def purpose_label(purpose: str) -> str:
    """注册, 绑定ETC卡, …: what a code is for, in the site's language (whatever the request's)."""
    from .models import SmsCode

    try:
        label = SmsCode.Purpose(purpose).label
    except ValueError:  # a notice, not a code
        return purpose
    with translation.override(settings.LANGUAGE_CODE):
        return str(label)


def console_line(message: SmsMessage) -> str:
    """One line a message, easy to find among the web server's log lines: a code as
    ``短信验证码 138****0001 注册: 123456``, any other message as ``短信 138****0001 notice: …``."""
    mobile = mask_mobile(message.mobile)
    if message.code:
        return f"短信验证码 {mobile} {purpose_label(message.purpose)}: {message.code}"
    text = " ".join(message.text.split())  # one line, whatever the text holds
    return f"短信 {mobile} {message.purpose}: {text}"


class ConsoleBackend(BaseSmsBackend):
    """Development: one line a message on standard output, the mobile masked."""

    stream = None

    def send(self, message: SmsMessage) -> None:
        stream = self.stream or sys.stdout
        if isinstance(stream, LoggingProxy):
            # Inside a Celery worker standard output is redirected into the log, which would put
            # a log prefix before the line: the code goes to the process's real output instead.
            stream = sys.__stdout__
        stream.write(console_line(message) + "\n")
        stream.flush()


class FileBackend(BaseSmsBackend):
    """Tests and demos: one JSON object a line, appended under a lock."""

    _lock = threading.Lock()

    def send(self, message: SmsMessage) -> None:
        path = Path(settings.SMS_FILE_PATH)
        path.parent.mkdir(parents=True, exist_ok=True)
        record = asdict(message) | {"sent_at": timezone.now().isoformat()}
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode())
            finally:
                os.close(fd)


class GatewayBackend(BaseSmsBackend):
    """A real SMS gateway: JSON POST with a bearer token; any non-2xx answer raises."""

    def __init__(self) -> None:
        if not settings.SMS_GATEWAY_URL:
            raise ImproperlyConfigured("SMS_BACKEND=gateway needs SMS_GATEWAY_URL.")

    def send(self, message: SmsMessage) -> None:
        body = json.dumps({"mobile": message.mobile, "text": message.text}).encode()
        request = urllib.request.Request(
            settings.SMS_GATEWAY_URL,
            data=body,
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {settings.SMS_GATEWAY_TOKEN}",
            },
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - configured URL
            if response.status >= 300:
                raise RuntimeError(f"SMS gateway answered {response.status}")


def get_backend() -> BaseSmsBackend:
    return import_string(settings.SMS_BACKEND)()


def send_sms(message: SmsMessage) -> None:
    get_backend().send(message)
