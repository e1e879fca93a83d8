"""What `make run` prints: the product started as `make run` starts it, with the default
settings for mail and SMS, writes each mail to a file under ``var/mail`` (the invoice ZIP the demo
data's application sends included) and prints each SMS code on a line of its own, the mobile
masked, with no base64 blob in the output."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import LiveServer, http, wait_for

pytestmark = pytest.mark.worker

BASE64_LINE = re.compile(rb"^[A-Za-z0-9+/=]{60,}\r?$", re.M)


@pytest.fixture
def make_run(tmp_path):
    server = LiveServer(tmp_path)
    # `make run`'s defaults: SQLite and the filesystem broker under var/, mail and SMS backends
    # as settings.py chooses them.
    server.postgres = None
    server.redis_url = ""
    for name in ("SMS_BACKEND", "SMS_FILE_PATH", "EMAIL_BACKEND", "EMAIL_FILE_PATH", "REDIS_URL", "CELERY_BROKER_URL"):
        server.env.pop(name, None)
    server.env["DATABASE_URL"] = f"sqlite:///{server.var / 'db.sqlite3'}"
    try:
        server.start({})
        yield server
    finally:
        server.stop()


def test_mail_goes_to_files_under_var_and_sms_codes_stand_on_their_own_lines(make_run):
    mail_dir = make_run.var / "mail"
    # seed_demo's monthly application has an e-mail address: the worker renders and mails its ZIP.
    mails = wait_for(lambda: sorted(mail_dir.glob("*.log")), timeout=240, interval=1, what="a mail file in var/mail")
    mail = mails[0].read_bytes()
    assert b"Content-Type: application/zip" in mail and b"demo-user@piaogen.invalid" in mail

    status, answer = http(
        "POST", f"{make_run.url}/api/v1/app/sms-codes", {"mobile": "13800138009", "purpose": "register"}
    )
    assert status == 202, answer
    wanted = re.compile(r"^短信验证码 138\*\*\*\*8009 注册: ([0-9]{6})$".encode(), re.M)
    line = wait_for(
        lambda: wanted.search(make_run.log_path.read_bytes()),
        timeout=30,
        what="the SMS code's line in the output",
    )
    assert line.group(1).isdigit()

    output = make_run.log_path.read_bytes()
    assert b"13800138009" not in output  # the mobile stays masked
    assert not BASE64_LINE.search(output), BASE64_LINE.search(output).group(0)[:80]
    assert len(output.splitlines()) < 2000
