"""A person whose password logins a stranger locked gets in with an SMS login code, on a phone.

The stranger types wrong passwords for the person's mobile through the App API from the same
network as the person (the journeys' server sees every client as 127.0.0.1), until the limit of
failures for that (client, account) pauses password logins there. The person, on the login
page, is refused even with the right password, reads that password logins are paused and that
an SMS code gets them in, taps 获取验证码, types the code from their phone and is signed in.
"""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from .conftest import at_path, http

pytestmark = pytest.mark.browser

# LOGIN_MAX_FAILURES_PER_CLIENT_ACCOUNT's and LOGIN_FAILURE_WINDOW_SECONDS's defaults
STRANGER_FAILURES = 10
WINDOW_SECONDS = 900
# Failures are counted in fixed windows (piaogen/limits.py): the lock ends with its window, so
# the journey starts only when the current window has this long left.
JOURNEY_SECONDS = 90


def wait_for_a_whole_window() -> None:
    left = WINDOW_SECONDS - time.time() % WINDOW_SECONDS
    if left < JOURNEY_SECONDS:
        time.sleep(left + 1)


@pytest.fixture
def viewport() -> str:
    """A person on their phone: 390×844."""
    return "phone"


def test_locked_login_gets_in_by_sms_code_on_a_phone(open_page, world, live, journey):
    person = world.new_person()
    world.register(person)
    wait_for_a_whole_window()
    # The stranger's wrong passwords, through the App.
    answers = [
        http("POST", f"{world.api}/app/login", {"mobile": person.mobile, "password": f"guess-{n}-x1"})[0]
        for n in range(STRANGER_FAILURES + 1)
    ]
    assert answers == [400] * STRANGER_FAILURES + [429], answers

    page = open_page()
    page.goto("/accounts/login/")
    journey.user_page(page, "login")
    page.get_by_label("手机号").fill(person.mobile)
    page.get_by_label("密码", exact=True).fill(person.password)
    page.get_by_role("button", name="登录").click()
    refusal = page.locator("#login-refusal")
    expect(refusal).to_contain_text("密码登录已暂停")
    expect(refusal).to_contain_text("现在就可以用短信验证码登录")
    expect(refusal).to_contain_text("获取验证码")
    journey.user_page(page, "locked")

    # As the message says: 获取验证码, then the code from the phone instead of the password.
    sent = live.sms.count(person.mobile, "login")
    page.get_by_role("button", name="获取验证码").click()
    expect(page.get_by_text("验证码已发送至")).to_be_visible()
    expect(page.get_by_label("手机号")).to_have_value(person.mobile)  # kept
    code = live.sms.wait_code(person.mobile, "login", after=sent)
    page.get_by_label("短信验证码").fill(code)
    journey.user_page(page, "code-typed")
    page.get_by_label("短信验证码").press("Enter")
    page.wait_for_url(at_path("/"))
    expect(page.get_by_role("button", name="退出")).to_be_visible()
    journey.user_page(page, "signed-in")
