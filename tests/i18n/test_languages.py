"""Which language a page, an API answer, a mail and a message speak (piaogen/i18n.py)."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import User
from invoices.documents.mail import compose
from invoices.models import Invoice
from piaogen.i18n import language_of, languages_of, speaking_to
from support.models import Faq

MOBILE = "13512345678"
COOKIE = settings.LANGUAGE_COOKIE_NAME


def choose(client, language: str, next_url: str = "/"):
    r = client.post(reverse("set_language"), {"language": language, "next": next_url})
    assert r.status_code == 302 and r["Location"] == next_url
    return r


@pytest.mark.django_db
def test_zh_hans_is_the_default_whatever_the_browser_prefers(client):
    body = client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert '<html lang="zh-CN">' in body and "我的ETC卡" in body and "My ETC cards" not in body


@pytest.mark.django_db
def test_choosing_english_in_the_footer_shows_english_and_back(client):
    choose(client, "en")
    r = client.get("/")
    body = r.content.decode()
    assert '<html lang="en">' in body and r["Content-Language"] == "en"
    for text in ("My ETC cards", "Get invoices", "Verify an invoice", "Help centre", "Hotline 95022 (24 hours)"):
        assert text in body
    assert "我的ETC卡" not in body and "客服热线" not in body
    choose(client, "zh-hans")
    assert "我的ETC卡" in client.get("/").content.decode()


@pytest.mark.django_db
def test_a_language_the_site_does_not_offer_is_ignored(client):
    client.cookies[COOKIE] = "fr"
    assert '<html lang="zh-CN">' in client.get("/").content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "language, shown, not_shown",
    [
        ("zh-hans", ["密码强度不够", "密码太短，至少需要 8 个字符。"], ["This password", "too short"]),
        ("en", ["The password is not strong enough", "This password is too short"], ["密码"]),
    ],
)
def test_password_rules_speak_the_page_language(client, sms, language, shown, not_shown):
    client.cookies[COOKIE] = language
    url = reverse("accounts:register")
    client.post(url, {"mobile": MOBILE, "send_code": "1"})
    code = sms.last_code(MOBILE)
    form = {"mobile": MOBILE, "code": code, "password": "ab1", "account_type": "personal", "register": "1"}
    body = client.post(url, form).content.decode()
    errors = " ".join(re.findall(r'class="[^"]*error[^"]*"[^>]*>(.*?)</', body, flags=re.S))
    for text in shown:
        assert text in body
    for text in not_shown:
        assert text not in errors
    assert not User.objects.exists()


@pytest.mark.django_db
def test_the_apis_answer_in_zh_hans_whatever_the_client_sends(api):
    api.cookies[COOKIE] = "en"
    r = api.get("/api/v1/app/cards", HTTP_ACCEPT_LANGUAGE="en")
    assert r.status_code == 401 and r["Content-Language"] == "zh-hans"
    assert re.search(r"[\u4e00-\u9fff]", r.json()["message"])


@pytest.mark.django_db
def test_the_choice_is_kept_on_the_account_and_follows_it_to_another_device(client, make_user):
    user = make_user(MOBILE, password="road2026ok")
    assert user.language == "" and language_of(user) == "zh-hans"
    client.force_login(user)
    choose(client, "en")
    user.refresh_from_db()
    assert user.language == "en" and languages_of([user.pk]) == {user.pk: "en"}
    other_device = type(client)()
    other_device.force_login(user)
    assert '<html lang="en">' in other_device.get("/").content.decode()


@pytest.mark.django_db
def test_chosen_before_signing_in_the_account_follows_what_is_read(client, make_user):
    user = make_user(MOBILE, password="road2026ok")
    choose(client, "en")
    assert client.post(reverse("accounts:login"), {"mobile": MOBILE, "password": "road2026ok"}).status_code == 302
    client.get("/")
    user.refresh_from_db()
    assert user.language == "en"


@pytest.mark.django_db
def test_the_invoice_mail_speaks_the_language_of_its_user(make_user):
    english, chinese = make_user(), make_user()
    User.objects.filter(pk=english.pk).update(language="en")

    def app_of(user):
        return SimpleNamespace(
            user_id=user.pk,
            card=SimpleNamespace(plate="豫A12345"),
            issued_at=timezone.now(),
            invoice_count=3,
            total=11433,
            summary_no="4120260900000001",
            email="finance@example.com",
            invoices=Invoice.objects.none(),  # no document of another kind: the VAT wording
        )

    mail = compose(app_of(english), zip_name="invoices.zip", zip_bytes=b"PK")
    assert mail.subject.startswith("[Piaogen] Toll e-invoices for plate 豫A12345")
    assert "total including tax ¥114.33" in mail.body and "Dear user," in mail.body
    assert not re.search(r"[\u4e00-\u9fff]", mail.body.replace("豫A12345", "").split("(", 1)[0])
    assert "尊敬的用户" in compose(app_of(chinese), zip_name="invoices.zip", zip_bytes=b"PK").body
    assert translation.get_language() == "zh-hans"  # nothing leaks out of the mail


@pytest.mark.django_db
def test_speaking_to_a_user_composes_in_their_language(make_user):
    user = make_user()
    User.objects.filter(pk=user.pk).update(language="en")
    with speaking_to(user.pk):
        assert translation.gettext("发票已开具") == "Invoices issued"
    with speaking_to(None):
        assert translation.gettext("发票已开具") == "发票已开具"


@pytest.mark.django_db
def test_the_faq_as_shipped_reads_in_english(client):
    faq = Faq.objects.get(question="为什么通行一次开出了好几张发票？")
    client.cookies[COOKIE] = "en"
    body = client.get(reverse("support:faq", args=[faq.pk])).content.decode()
    assert "Why did one trip produce several invoices?" in body and "each operator issues one invoice" in body
    assert "为什么通行一次" not in body
    Faq.objects.filter(pk=faq.pk).update(question="改过的问题？")  # edited by staff: shown as stored
    assert "改过的问题？" in client.get(reverse("support:faq", args=[faq.pk])).content.decode()


@pytest.mark.django_db
def test_the_console_has_its_own_switch_and_reads_in_english(client, make_user):
    from django.contrib.auth.models import Group

    agent = make_user(MOBILE, password="road2026ok")
    User.objects.filter(pk=agent.pk).update(is_staff=True)
    agent.groups.add(Group.objects.get(name="agent"))
    client.force_login(User.objects.get(pk=agent.pk))
    body = client.get("/admin/").content.decode()
    assert 'id="console-language"' in body and "工作台" in body
    choose(client, "en", "/admin/support/ticket/")
    body = client.get("/admin/support/ticket/").content.decode()
    assert '<html lang="en"' in body and "Ticket" in body and "Customer service" in body
    assert "工单" not in body and "客服" not in body
