"""Bad input on the pages' forms: over-long text, wrong types, script tags, odd Unicode, NUL bytes,
several values for one field. Every answer is a page with a clear error (or the form accepted,
then stored whole), never a 500; a refused form stores nothing; nothing typed is echoed as markup."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.urls import reverse

from invoices import services
from invoices.models import Application, Invoice
from support.models import Ticket

from .conftest import push_trips, submit

SCRIPT = "<script>alert('x')</script>"
BAD_VALUES = {
    "overlong": "测" * 3000 + "x" * 7000,
    "script": SCRIPT,
    "nul": "abc\x00def",
    "bidi, zero-width, combining": "\u202e\u200b\u2066abc\u2069\ufeffe\u0301\u0301",
    "emoji": "🚗💥🧾" * 3,
    "fullwidth digits": "１３８００１３８０００",
    "huge number": "9" * 40,
    "several values": ["1", "2"],
}


# What the forms write: users, titles, bindings, applications with their items and invoices,
# tickets with their messages, and the states of trips.
WRITTEN = (
    "accounts.user",
    "cards.invoicetitle",
    "cards.binding",
    "invoices.application",
    "invoices.applicationitem",
    "invoices.invoice",
    "invoices.invoiceline",
    "support.ticket",
    "support.ticketmessage",
)


def counts() -> dict[str, object]:
    found: dict[str, object] = {label: apps.get_model(label)._default_manager.count() for label in WRITTEN}
    found["invoices.transit states"] = sorted(
        apps.get_model("invoices.transit").objects.values_list("state", flat=True)
    )
    found["cards.invoicetitle names"] = sorted(
        apps.get_model("cards.invoicetitle").objects.values_list("name", flat=True)
    )
    return found


@pytest.fixture
def pages(world, client):
    push_trips(world, 4)
    app_id = submit(world, transit_ids=["T0", "T1"])
    services.application_issue(application_id=app_id)
    world.user.post(
        "/api/v1/app/tickets", {"category": "invoicing", "subject": "问题", "description": "描述"}, format="json"
    )
    client.force_login(world.user.user)
    user = world.user.user
    title = user.invoice_titles.first()
    invoice = Invoice.objects.filter(application_id=app_id).first()
    ticket = Ticket.objects.get(user=user)
    card = world.card_no
    title_fields = {
        "kind": "personal",
        "name": "张三",
        "tax_id": "",
        "address": "",
        "phone": "",
        "bank": "",
        "bank_account": "",
        "email": "",
    }
    forms = {
        "accounts:login": (reverse("accounts:login"), {"mobile": "13700000001", "password": "secret123abc"}),
        "accounts:register": (
            reverse("accounts:register"),
            {
                "mobile": "13700000555",
                "code": "123456",
                "password": "abc12345678",
                "account_type": "personal",
                "name": "",
                "tax_id": "",
            },
        ),
        "accounts:password_reset": (
            reverse("accounts:password_reset"),
            {"mobile": "13700000001", "code": "123456", "password": "abc12345678"},
        ),
        "accounts:profile": (
            reverse("accounts:profile"),
            {"old_password": "secret123abc", "new_password": "abc12345678x"},
        ),
        "cards:bind": (
            reverse("cards:bind"),
            {
                "card_no": world.cards[1]["card_no"],
                "holder_name": world.cards[1]["holder_name"],
                "id_type": "resident_id",
                "id_number": world.cards[1]["id_number"],
                "mobile": world.cards[1]["mobile"],
            },
        ),
        "cards:title_new": (reverse("cards:title_new"), title_fields),
        "cards:title_edit": (reverse("cards:title_edit", args=[title.pk]), title_fields),
        "cards:default_title": (reverse("cards:default_title", args=[card]), {"title_id": str(title.pk)}),
        "invoices:apply": (
            reverse("invoices:apply"),
            {
                "card": card,
                "month": "2026-09",
                "transit_ids": "T2",
                "title_id": str(title.pk),
                "mode": "per_trip",
                "email": "",
                "scope": "",
            },
        ),
        "invoices:title_change": (
            reverse("invoices:title_change", args=[app_id]),
            {"title_id": str(title.pk), "email": "", "confirm": "no"},
        ),
        "invoices:reverse": (reverse("invoices:reverse", args=[invoice.pk]), {"reason": "开错了", "confirm": "no"}),
        "support:ticket_new": (
            reverse("support:ticket_new"),
            {
                "category": "invoicing",
                "subject": "问题",
                "description": "描述",
                "card": "",
                "transit": "",
                "application": "",
                "invoice": "",
            },
        ),
        "support:ticket_message": (reverse("support:ticket_message", args=[ticket.pk]), {"body": "补充"}),
        "support:ticket_rate": (reverse("support:ticket_rate", args=[ticket.pk]), {"rating": "5", "comment": ""}),
        "support:ticket_reopen": (reverse("support:ticket_reopen", args=[ticket.pk]), {"reason": "还没解决"}),
    }
    searches = {
        "verify": (
            reverse("verify"),
            {"code": "041002600112", "number": "00000001", "date": "20260905", "check": "123456"},
        ),
        "support:search": (reverse("support:search"), {"q": "绑卡"}),
        "support:diagnose": (
            reverse("support:diagnose"),
            {"date": "2026-09-05", "application": str(app_id), "invoice": str(invoice.pk)},
        ),
        "invoices:transits": (reverse("invoices:transits"), {"card": card, "month": "2026-09"}),
        "invoices:list": (reverse("invoices:list"), {"card": card, "month": "2026-09", "view": "trip"}),
    }
    return forms, searches


def _check(response, where, failures):
    if response.status_code >= 500:
        failures.append((where, response.status_code))
        return False
    body = response.content.decode("utf-8", "replace") if not getattr(response, "streaming", False) else ""
    if SCRIPT in body:
        failures.append((where, "script echoed unescaped"))
    return True


# The forms ``pages`` posts and the searches it sends, by URL name: each is a case of its own.
POSTED = [
    "accounts:login",
    "accounts:register",
    "accounts:password_reset",
    "accounts:profile",
    "cards:bind",
    "cards:title_new",
    "cards:title_edit",
    "cards:default_title",
    "invoices:apply",
    "invoices:title_change",
    "invoices:reverse",
    "support:ticket_new",
    "support:ticket_message",
    "support:ticket_rate",
    "support:ticket_reopen",
]
SEARCHED = ["verify", "support:search", "support:diagnose", "invoices:transits", "invoices:list"]


@pytest.fixture
def lenient(settings):
    """No login or SMS limit gets in the way of hundreds of submissions from one client."""
    settings.LOGIN_MAX_FAILURES_PER_ACCOUNT = settings.LOGIN_MAX_FAILURES_PER_ADDRESS = 10**6
    settings.LOGIN_MAX_FAILURES_PER_CLIENT_ACCOUNT = settings.SMS_MAX_PER_ADDRESS = 10**6


@pytest.mark.django_db
def test_the_cases_are_every_form_and_search_and_over_500_submissions(pages):
    forms, searches = pages
    assert list(forms) == POSTED and list(searches) == SEARCHED
    tried = sum(len(base) for _url, base in [*forms.values(), *searches.values()]) * len(BAD_VALUES)
    print(f"\npage forms: {tried} submissions")
    assert tried > 500


@pytest.mark.django_db
@pytest.mark.parametrize("name", POSTED)
def test_every_form_field_with_every_bad_value(name, pages, client, lenient):
    forms, _searches = pages
    url, base = forms[name]
    failures: list = []
    tried = 0
    for field in base:
        for label, value in BAD_VALUES.items():
            before = counts()
            r = client.post(url, {**base, field: value})
            tried += 1
            where = f"POST {url} {field}={label}"
            if not _check(r, where, failures):
                continue
            if r.status_code != 302:  # refused (or a confirmation step): nothing stored, not even half
                changed = {k for k, v in counts().items() if before.get(k) != v}
                if changed:
                    failures.append((where, r.status_code, sorted(changed)))
            if not client.session.get("_auth_user_id"):
                client.force_login(pages_user())
    assert tried == len(base) * len(BAD_VALUES)
    assert not failures, failures[:30]


@pytest.mark.django_db
@pytest.mark.parametrize("name", SEARCHED)
def test_every_search_field_with_every_bad_value(name, pages, client, lenient):
    _forms, searches = pages
    url, base = searches[name]
    failures: list = []
    tried = 0
    for field in base:
        for label, value in BAD_VALUES.items():
            tried += 1
            _check(client.get(url, {**base, field: value}), f"GET {url} {field}={label}", failures)
    assert tried == len(base) * len(BAD_VALUES)
    assert not failures, failures[:30]


def pages_user():
    from accounts.models import User

    return User.objects.filter(is_staff=False).order_by("pk").first()


@pytest.mark.django_db
def test_what_a_form_accepts_is_stored_whole_and_shown_escaped(pages, client):
    odd = f"{SCRIPT}\u202e🚗e\u0301"
    r = client.post(
        reverse("support:ticket_new"), {"category": "invoicing", "subject": odd, "description": odd, "confirm": "1"}
    )
    assert r.status_code == 302
    ticket = Ticket.objects.order_by("-pk").first()
    assert ticket.subject == odd  # not truncated, not altered
    page = client.get(r["Location"]).content.decode()
    assert SCRIPT not in page and "&lt;script&gt;" in page
    r = client.post(reverse("cards:title_new"), {"kind": "personal", "name": odd[:100]})
    assert r.status_code == 302
    assert client.get(reverse("cards:titles")).content.decode().count("&lt;script&gt;") >= 1
    assert Application.objects.count() == 1
