"""Privacy, project-wide: known mobiles and ID numbers are seeded through the real paths (sign-up,
an issuer's push, binding, a call to the hotline), then looked for everywhere they must not be:
every table read with raw SQL, every page a user sees, every console page, every App and partner
answer, every log record as the code wrote it, and error reports. They are found nowhere."""

from __future__ import annotations

import logging
import sys
from datetime import timedelta

import pytest
from django.contrib import admin
from django.core import mail
from django.db import connection
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django.views.debug import technical_500_response

from accounts.models import User
from cards.models import BindingAttempt, BulkBinding
from invoices import services
from invoices.models import Application, Batch, Invoice
from support import services as support_services
from support.models import Call, Ticket
from tests.conftest import age_sms_codes
from tests.invoices.conftest import card_item, resident_id

from .conftest import push_trips, submit

USER_MOBILE = "13566667777"
RESERVED_MOBILE = "13944445555"
ID_NUMBER = resident_id(77)
OTHER_RESERVED = "13722223333"
OTHER_ID = resident_id(78)
CALLER = "13233334444"
STAFF_MOBILE = "13900005555"
WRONG_ID = resident_id(79)
SECRETS = (USER_MOBILE, RESERVED_MOBILE, ID_NUMBER, OTHER_RESERVED, OTHER_ID, CALLER, STAFF_MOBILE, WRONG_ID)
CARD_NO = "41010000000000000077"
OTHER_CARD = "41010000000000000078"

# Pages that need no object, and those that take one of the user's own (how to build the URL).
# Forms that only take a POST (their pages are the list pages) and non-pages.
SKIP_NAMES = {
    "logout",
    "set_language",
    "healthz",
    "ticket_message",
    "ticket_reopen",
    "ticket_rate",
    "schema",
    "api-docs",
    "api-verify",
    "default_title",
    "message_open",  # a redirect to the message's page
    "mark_all_read",  # POST only
    "application_resend",  # POST only
    "application_reapply",  # POST only
}


class RawLog(logging.Handler):
    """Sees every record before any handler's masking filter: the code itself must not put a
    full number into a log message."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[str, str]] = []

    def emit(self, record):
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        self.lines.append((record.name, text))


@pytest.fixture
def raw_log():
    handler = RawLog()
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(previous)


def assert_clean(where: str, text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret} appears in {where}"


@pytest.fixture
def seeded(raw_log, world, app_client, make_user, sms, django_capture_on_commit_callbacks):
    """Everything a person's numbers go through."""
    cards = [
        card_item(CARD_NO, RESERVED_MOBILE, ID_NUMBER),
        card_item(OTHER_CARD, OTHER_RESERVED, OTHER_ID, card_type="stored_value"),
    ]
    assert world.issuer.post("/api/v1/partner/cards", {"cards": cards}, format="json").json()["created"] == 2
    user = make_user(mobile=USER_MOBILE, name="隐私测试用户")
    api = app_client(user)
    age_sms_codes()
    api.post(
        "/api/v1/app/cards",
        {"card_no": CARD_NO, "id_type": "resident_id", "id_number": WRONG_ID, "mobile": RESERVED_MOBILE},
        format="json",
    )  # a refused attempt, typed numbers
    world.bind(api, cards[0])
    world.bind(api, cards[1])
    api.post("/api/v1/app/sms-codes", {"mobile": USER_MOBILE, "purpose": "login"}, format="json")
    api.post("/api/v1/app/login", {"mobile": USER_MOBILE, "password": "wrong-pass-1"}, format="json")
    push_trips(world, 3, card_no=CARD_NO)
    app_id = submit(world, client=api, card_no=CARD_NO)
    services.application_issue(application_id=app_id)
    api.post(
        "/api/v1/app/tickets",
        {"category": "binding", "subject": "绑卡问题", "description": "请帮我看看", "card_no": CARD_NO},
        format="json",
    )
    staff = User.objects.create_superuser(STAFF_MOBILE, "Console2026x", name="隐私测试管理员")
    now = timezone.now()
    call = support_services.call_log(
        agent=staff,
        caller_number=CALLER,
        started_at=now - timedelta(minutes=5),
        ended_at=now,
        category="binding",
        summary="来电咨询绑卡",
    )
    support_services.call_log(
        agent=staff,
        caller_number=USER_MOBILE,
        started_at=now - timedelta(minutes=9),
        ended_at=now - timedelta(minutes=6),
        category="invoicing",
        summary="来电咨询开票",
    )
    # The issuer changes the reserved mobile of the second card: a passive unbinding, an SMS.
    with django_capture_on_commit_callbacks(execute=True):
        changed = card_item(OTHER_CARD, "13700009999", OTHER_ID, card_type="stored_value")
        world.issuer.post("/api/v1/partner/cards", {"cards": [changed]}, format="json")
    age_sms_codes()  # and the user starts binding it again: a pending second step
    api.post(
        "/api/v1/app/cards",
        {"card_no": OTHER_CARD, "id_type": "resident_id", "id_number": OTHER_ID, "mobile": "13700009999"},
        format="json",
    )

    class Seeded:
        pass

    s = Seeded()
    s.user, s.api, s.staff, s.call = user, api, staff, call
    s.application = Application.objects.get(pk=app_id)
    s.invoice = Invoice.objects.filter(application_id=app_id).first()
    s.ticket = Ticket.objects.get(user=user)
    s.title = user.invoice_titles.first()
    s.attempt = BindingAttempt.objects.get(user=user, outcome="pending")
    s.bulk = BulkBinding.objects.create(user=user)
    s.batch = Batch.objects.create(user=user, month="2026-09", mode=Application.Mode.PER_TRIP, title=s.title)
    Application.objects.filter(pk=app_id).update(batch=s.batch)
    return s


def test_no_table_holds_a_mobile_or_an_id_number_in_clear(seeded):
    assert Call.objects.get(pk=seeded.call.pk).caller_number == CALLER  # decrypts for the code that needs it
    scanned = 0
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            for row in cursor.fetchall():
                assert_clean(f"table {table}", " ".join(str(v) for v in row))
                scanned += 1
    assert scanned > 500
    print(f"\nraw SQL: {len(connection.introspection.table_names())} tables, {scanned} rows, no plaintext")


def _site_urls(s) -> dict[str, str]:
    """Every named page of the site (outside the console and the APIs) with the user's own objects."""
    args = {
        "cards:bind_confirm": [s.attempt.public_id],
        "cards:bulk_confirm": [s.bulk.public_id],
        "invoices:batch": [s.batch.pk],
        "invoices:batch_status": [s.batch.pk],
        "invoices:batch_zip": [s.batch.pk],
        "cards:title_edit": [s.title.pk],
        "cards:title_delete": [s.title.pk],
        "cards:unbind": [CARD_NO],
        "cards:default_title": [CARD_NO],
        "cards:card_auto_invoice": [CARD_NO],
        "invoices:application": [s.application.pk],
        "invoices:application_status": [s.application.pk],
        "invoices:title_change": [s.application.pk],
        "invoices:invoice": [s.invoice.pk],
        "invoices:reverse": [s.invoice.pk],
        "invoices:invoice_pdf": [s.invoice.pk],
        "invoices:invoice_xml": [s.invoice.pk],
        "invoices:application_zip": [s.application.pk],
        "support:ticket": [s.ticket.pk],
        "support:faq": [1],
        "support:category": ["binding"],
    }
    query = {
        "invoices:transits": f"?card={CARD_NO}&month=2026-09",
        "invoices:list": f"?card={CARD_NO}",
        "invoices:ledger": f"?card={CARD_NO}&format=csv",
        "invoices:period_ledger": "?from=2026-09&to=2026-09&format=csv",
        "invoices:card_month_zip": f"?card={CARD_NO}&month=2026-09",
        "support:search": "?q=绑卡",
        "support:diagnose": f"?application={s.application.pk}&invoice={s.invoice.pk}&date=2026-09-05",
    }
    names = []

    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                if p.namespace == "admin" or str(p.pattern).startswith("api/"):
                    continue
                walk(p.url_patterns, f"{prefix}{p.namespace}:" if p.namespace else prefix)
            elif isinstance(p, URLPattern) and p.name and p.name not in SKIP_NAMES:
                names.append(prefix + p.name)

    walk(get_resolver().url_patterns)
    return {name: reverse(name, args=args.get(name, [])) + query.get(name, "") for name in names}


def test_no_page_console_page_answer_or_log_shows_one(seeded, raw_log, caplog, client, settings):
    from support.models import Faq, FaqCategory

    caplog.set_level(logging.DEBUG)
    s = seeded
    answers: list[tuple[str, str]] = []

    def keep(where, response):
        body = b"".join(response.streaming_content) if response.streaming else response.content
        answers.append((where, body.decode("utf-8", "replace")))
        return response

    # Every page of the site, as the user sees them.
    client.force_login(s.user)
    urls = _site_urls(s)
    urls["support:faq"] = reverse("support:faq", args=[Faq.objects.order_by("pk").first().pk])
    urls["support:category"] = reverse("support:category", args=[FaqCategory.objects.order_by("pk").first().code])
    assert len(urls) >= 30
    for name, url in urls.items():
        r = keep(name, client.get(url))
        assert r.status_code in (200, 409), (name, url, r.status_code)
    keep(
        "bind refusal",
        client.post(
            reverse("cards:bind"),
            {
                "card_no": CARD_NO,
                "holder_name": "隐私测试持卡人",
                "id_type": "resident_id",
                "id_number": WRONG_ID,
                "mobile": OTHER_RESERVED,
            },
        ),
    )

    # Every console page: each list, each first object's change and history page, the customer view.
    client.force_login(s.staff)
    for model in admin.site._registry:
        opts = model._meta
        r = keep(opts.label, client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")))
        assert r.status_code == 200, opts.label
        pages_only = opts.label_lower in (
            "support.customer",
            "support.dashboard",
            "support.staffaudit",
            "support.callback",
        )
        first = None if pages_only else model._default_manager.order_by("pk").first()
        if first is not None:
            for view in ("change", "history"):
                r = keep(
                    f"{opts.label} {view}",
                    client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=[first.pk])),
                )
                assert r.status_code == 200, (opts.label, view)
    for term in (USER_MOBILE, CARD_NO, "隐私测试"):
        r = keep(f"customer search {term[:3]}", client.post(reverse("admin:support_customer_changelist"), {"q": term}))
        assert r.status_code in (200, 302)
        if r.status_code == 302:
            keep("customer view", client.get(r["Location"]))
    keep("customer view", client.get(reverse("admin:support_customer_view", args=[s.user.pk])))
    found = client.get(reverse("admin:accounts_user_changelist"), {"q": USER_MOBILE}, follow=True)
    assert "隐私测试用户" in keep("user search", found).content.decode()
    assert all(USER_MOBILE not in url for url, _status in found.redirect_chain)

    # Every App answer of the user, and the partners'.
    for url in [
        "/api/v1/app/me",
        "/api/v1/app/cards",
        f"/api/v1/app/cards/{CARD_NO}",
        "/api/v1/app/titles",
        f"/api/v1/app/transits?card_no={CARD_NO}&month=2026-09",
        "/api/v1/app/applications",
        f"/api/v1/app/applications/{s.application.pk}",
        "/api/v1/app/invoices",
        f"/api/v1/app/invoices/{s.invoice.pk}",
        "/api/v1/app/tickets",
        f"/api/v1/app/tickets/{s.ticket.pk}",
        f"/api/v1/app/invoices/ledger?card_no={CARD_NO}",
    ]:
        r = keep(url, s.api.get(url))
        assert r.status_code == 200, url
    keep(
        "bind refusal api",
        s.api.post(
            "/api/v1/app/cards",
            {"card_no": OTHER_CARD, "id_type": "resident_id", "id_number": WRONG_ID, "mobile": OTHER_RESERVED},
            format="json",
        ),
    )

    assert len(answers) > 100
    for where, text in answers:
        assert_clean(where, text)
    assert raw_log.lines
    for name, message in raw_log.lines:
        assert_clean(f"log {name}", message)
    for record in caplog.records:
        assert_clean(f"log {record.name}", record.getMessage())
    print(f"\nscanned {len(answers)} pages and answers, {len(raw_log.lines)} log records")


def test_error_reports_mask_them(db, settings):
    """The debug page and the mails to ADMINS show request data, local variables and the
    exception: all masked."""
    settings.ADMINS = [("运维", "ops@example.com")]
    request = RequestFactory().post("/cards/bind/", {"mobile": RESERVED_MOBILE, "id_number": ID_NUMBER})
    request.user = type("Anon", (), {"is_authenticated": False})()
    holder = {"mobile": USER_MOBILE, "id": ID_NUMBER}  # a local variable the report lists
    try:
        raise ValueError(f"cannot bind {holder['mobile']} / {holder['id']}")
    except ValueError:
        info = sys.exc_info()
        page = technical_500_response(request, *info)
        logging.getLogger("django.request").error(
            "Internal Server Error: %s", request.path, exc_info=info, extra={"status_code": 500, "request": request}
        )
    html = page.content.decode()
    assert "cannot bind" in html
    assert_clean("debug page", html)
    assert len(mail.outbox) == 1
    report = mail.outbox[0]
    assert "cannot bind" in report.body
    assert_clean("error mail", report.subject + report.body + "".join(str(a[0]) for a in report.alternatives))
