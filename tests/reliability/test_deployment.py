"""Deployment: the production settings pass `manage.py check --deploy` with no warning; HTTPS
only (redirect, HSTS, secure cookies) with DEBUG off; a content security policy without inline
scripts; CSRF on every form; no debug pages."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from .conftest import push_trips, submit

BASE = Path(django_settings.BASE_DIR)


def production_env(tmp_path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SECURE_", "STAFF_2FA", "DEBUG"))}
    env.update(
        DJANGO_SETTINGS_MODULE="piaogen.settings",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="piaogen.example.cn",
        CSRF_TRUSTED_ORIGINS="https://piaogen.example.cn",
        PIAOGEN_VAR_DIR=str(tmp_path / "var"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'prod.sqlite3'}",
        DEMO_MODE="0",
    )
    env.update(extra)
    return env


def manage(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE, env=env, capture_output=True, text=True, timeout=120
    )


def test_production_settings_pass_check_deploy_without_a_warning(tmp_path):
    result = manage(production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_defaults_and_make_runs_defaults(tmp_path):
    show = (
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings as s; print(s.STAFF_2FA_REQUIRED, s.SECURE_SSL_REDIRECT, "
        "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, s.DEBUG)",
    )
    production = manage(production_env(tmp_path), *show)
    assert production.stdout.splitlines()[-1].split() == ["True", "True", "True", "True", "31536000", "False"], (
        production.stderr
    )
    laptop = manage(production_env(tmp_path, DEBUG="1"), *show)  # make run: DEBUG on, demo staff log in with a password
    assert laptop.stdout.splitlines()[-1].split() == ["False", "False", "False", "False", "0", "True"], laptop.stderr
    # Without a SECRET_KEY production refuses to start at all.
    env = production_env(tmp_path)
    del env["SECRET_KEY"]
    assert manage(env, "check").returncode != 0


@pytest.fixture
def https(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    return settings


@pytest.mark.django_db
def test_https_only_with_hsts_and_secure_cookies(https, make_user):
    client = Client()
    r = client.get("/accounts/login/")
    assert r.status_code == 301 and r["Location"] == "https://testserver/accounts/login/"
    assert client.get("/healthz").status_code == 200  # load balancers check over plain http
    r = client.get("/accounts/login/", secure=True)
    assert r.status_code == 200
    assert r["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert r.cookies["csrftoken"]["secure"] is True
    user = make_user(password="secret123abc")
    r = client.post("/accounts/login/", {"mobile": user.mobile, "password": "secret123abc"}, secure=True)
    assert r.status_code == 302
    session = r.cookies["sessionid"]
    assert session["secure"] is True and session["httponly"] is True and session["samesite"] == "Lax"


def test_no_template_has_an_inline_script():
    inline = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
    offenders = []
    for folder in ("piaogen", "accounts", "cards", "invoices", "support"):
        for path in (BASE / folder).rglob("*.html"):
            if "documents" in path.parts:  # PDFs are rendered by WeasyPrint, never by a browser
                continue
            text = path.read_text()
            if inline.search(text) or re.search(r"\son[a-z]+=\"", text):
                offenders.append(str(path.relative_to(BASE)))
    assert not offenders


@pytest.mark.django_db
def test_pages_send_a_content_security_policy_and_csrf_on_every_form(world, client):
    push_trips(world, 1)
    app_id = submit(world)  # submitted, not issued: the progress page with its polling script
    client.force_login(world.user.user)
    pages = [
        "/",
        "/cards/",
        "/cards/bind/",
        "/cards/titles/new/",
        "/trips/",
        "/apply/",
        "/invoices/",
        f"/applications/{app_id}/",
        "/help/",
        "/help/tickets/new/",
        "/verify/",
        "/accounts/me/",
        "/api/docs/",
    ]
    forms = 0
    for url in pages:
        r = client.get(url)
        assert r.status_code == 200, url
        policy = r["Content-Security-Policy"]
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if d.strip())
        assert directives["script-src"] == "'self'" and directives["object-src"] == "'none'", url
        assert directives["frame-ancestors"] == "'none'" and r["X-Frame-Options"] == "DENY"
        body = r.content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", body, re.I), url
        for form in re.findall(r"<form[^>]*method=\"post\"[^>]*>.*?</form>", body, re.S | re.I):
            forms += 1
            assert "csrfmiddlewaretoken" in form, (url, form[:200])
    assert forms >= 10
    assert 'src="/static/invoices/progress.js"' in client.get(f"/applications/{app_id}/").content.decode()
    swagger = client.get("/api/docs/?script=")
    assert swagger.status_code == 200 and "SwaggerUIBundle" in swagger.content.decode()
    # A POST without the token is refused.
    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/accounts/login/", {"mobile": "13700000001", "password": "x"}).status_code == 403


@pytest.mark.django_db
def test_no_debug_pages(client, monkeypatch):
    assert django_settings.DEBUG is False
    r = client.get("/no-such-page/")
    assert r.status_code == 404 and "URLconf" not in r.content.decode()
    r = client.get("/api/v1/app/no-such-endpoint")
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    from piaogen import views

    def boom(*args, **kwargs):
        raise RuntimeError("a bug with a secret 13566667777")

    from accounts.api.views import SmsCodeView

    monkeypatch.setattr(views.HomeView, "get", boom)
    monkeypatch.setattr(SmsCodeView, "post", boom)
    crashing = Client(raise_request_exception=False)
    r = crashing.get(reverse("home"))
    assert r.status_code == 500
    text = r.content.decode()
    assert "Traceback" not in text and "RuntimeError" not in text and "13566667777" not in text
    r = crashing.post("/api/v1/app/sms-codes", {}, content_type="application/json")
    assert r.status_code == 500 and r.json()["code"] == "server_error" and "13566667777" not in r.content.decode()
