"""Access: another user's card, title, trip, application, invoice, ticket, message and file are 404
on every page and App endpoint (and nothing of them changes); each partner is kept to its own
network codes and buyer; each staff role gets in the console exactly what docs/staff-roles.md's table says."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.urls import reverse

from accounts.models import User
from accounts.roles import ADMIN, AGENT, DATA_FIX, SUPERVISOR
from cards.models import Binding, BindingAttempt, InvoiceTitle
from invoices import services
from invoices.models import Application, Invoice
from piaogen.demo import demo_uscc
from support import notifications
from support.models import Notification, Ticket, TicketMessage
from tests.conftest import age_sms_codes

from .conftest import push_trips, submit, title, trip


@pytest.fixture
def owner(world, sms):
    """User A with everything a user can own: a card, a title, trips, an issued application with
    its invoices, a ticket with a message, a pending binding attempt."""
    trips = push_trips(world, 2)
    app_id = submit(world)
    services.application_issue(application_id=app_id)
    notifications.notify_application_issued(app_id, [])  # written by the issuing; adds nothing
    world.user.post(
        "/api/v1/app/tickets",
        {"category": "invoicing", "subject": "发票问题", "description": "想问一下发票", "card_no": world.card_no},
        format="json",
    )
    age_sms_codes()
    pending = world.user.post(
        "/api/v1/app/cards",
        {
            "card_no": world.cards[1]["card_no"],
            "id_type": "resident_id",
            "id_number": world.cards[1]["id_number"],
            "mobile": world.cards[1]["mobile"],
        },
        format="json",
    ).json()["binding_id"]

    class A:
        user = world.user.user
        card_no = world.card_no
        title = InvoiceTitle.objects.filter(user=world.user.user).first()
        trip = trips[0]
        application = Application.objects.get(pk=app_id)
        invoice = Invoice.objects.filter(application_id=app_id).first()
        ticket = Ticket.objects.get(user=world.user.user)
        notification = Notification.objects.get(user=world.user.user, application_id=app_id)
        binding_id = pending

    return A


@pytest.fixture
def intruder(world, app_client, client):
    """User B: signed in on the site and holding an App token; a title of their own."""
    api = app_client()
    title(api)
    client.force_login(api.user)
    return api, client


def snapshot():
    return (
        list(Binding.objects.order_by("pk").values_list("pk", "ended_at", "default_title_id")),
        list(InvoiceTitle.objects.order_by("pk").values_list("pk", "name", "deleted_at")),
        list(Application.objects.order_by("pk").values_list("pk", "status")),
        list(Invoice.objects.order_by("pk").values_list("pk", "status")),
        list(Ticket.objects.order_by("pk").values_list("pk", "status", "rating")),
        TicketMessage.objects.count(),
        list(BindingAttempt.objects.filter(outcome="bound").values_list("pk", flat=True)),
        list(Notification.objects.order_by("pk").values_list("pk", "read_at")),
    )


@pytest.mark.django_db
def test_another_users_things_are_404_on_every_page(owner, intruder):
    _api, page = intruder
    a = owner
    before = snapshot()
    gets = [
        reverse("cards:unbind", args=[a.card_no]),
        reverse("cards:title_edit", args=[a.title.pk]),
        reverse("cards:title_delete", args=[a.title.pk]),
        reverse("invoices:transits") + f"?card={a.card_no}",
        reverse("invoices:recharges") + f"?card={a.card_no}",
        reverse("invoices:apply") + f"?card={a.card_no}",
        reverse("invoices:list") + f"?card={a.card_no}",
        reverse("invoices:application", args=[a.application.pk]),
        reverse("invoices:application_status", args=[a.application.pk]),
        reverse("invoices:title_change", args=[a.application.pk]),
        reverse("invoices:application_zip", args=[a.application.pk]),
        reverse("invoices:invoice", args=[a.invoice.pk]),
        reverse("invoices:reverse", args=[a.invoice.pk]),
        reverse("invoices:invoice_pdf", args=[a.invoice.pk]),
        reverse("invoices:invoice_xml", args=[a.invoice.pk]),
        reverse("invoices:ledger") + f"?application={a.application.pk}",
        reverse("invoices:ledger") + f"?card={a.card_no}",
        reverse("support:ticket", args=[a.ticket.pk]),
        reverse("support:diagnose") + f"?application={a.application.pk}",
        reverse("support:diagnose") + f"?transit={a.trip}",
        reverse("support:diagnose") + f"?invoice={a.invoice.pk}",
        reverse("notifications:message_open", args=[a.notification.pk]),
    ]
    posts = [
        (reverse("cards:unbind", args=[a.card_no]), {"confirm": "1"}),
        (reverse("cards:default_title", args=[a.card_no]), {"title_id": a.title.pk}),
        (reverse("cards:title_edit", args=[a.title.pk]), {"kind": "personal", "name": "被改了"}),
        (reverse("cards:title_delete", args=[a.title.pk]), {"confirm": "1"}),
        (reverse("invoices:title_change", args=[a.application.pk]), {"title_id": a.title.pk}),
        (reverse("invoices:reverse", args=[a.invoice.pk]), {"confirm": "1"}),
        (reverse("invoices:apply"), {"card": a.card_no, "month": "2026-09", "scope": "month", "title_id": a.title.pk}),
        (reverse("support:ticket_message", args=[a.ticket.pk]), {"body": "插一句"}),
        (reverse("support:ticket_reopen", args=[a.ticket.pk]), {"reason": "再开"}),
        (reverse("support:ticket_rate", args=[a.ticket.pk]), {"rating": "1"}),
    ]
    answers = [("GET", url, page.get(url).status_code) for url in gets]
    answers += [("POST", url, page.post(url, data).status_code) for url, data in posts]
    wrong = [a for a in answers if a[2] != 404]
    assert not wrong, wrong
    print(f"\npages: {len(answers)} requests for another user's things, all 404")
    # A's pending binding (its second step) is answered as an unknown one: back to step one.
    for binding_id in (a.binding_id, "00000000-0000-4000-8000-000000000000"):
        url = reverse("cards:bind_confirm", args=[binding_id])
        for r in (page.get(url), page.post(url, {"code": "000000", "confirm": "1"})):
            assert r.status_code == 302 and r["Location"] == reverse("cards:bind")
    assert snapshot() == before


@pytest.mark.django_db
def test_another_users_things_are_404_on_every_app_endpoint(owner, intruder):
    api, _page = intruder
    a = owner
    before = snapshot()
    calls = [
        ("get", f"/api/v1/app/cards/{a.card_no}", None),
        ("delete", f"/api/v1/app/cards/{a.card_no}", None),
        ("put", f"/api/v1/app/cards/{a.card_no}/default-title", {"title_id": a.title.pk}),
        ("get", f"/api/v1/app/titles/{a.title.pk}", None),
        ("patch", f"/api/v1/app/titles/{a.title.pk}", {"name": "被改了"}),
        ("delete", f"/api/v1/app/titles/{a.title.pk}", None),
        ("get", f"/api/v1/app/transits?card_no={a.card_no}&month=2026-09", None),
        ("get", f"/api/v1/app/recharges?card_no={a.card_no}", None),
        ("get", f"/api/v1/app/invoices?card_no={a.card_no}", None),
        (
            "post",
            "/api/v1/app/applications",
            {"kind": "consumption", "card_no": a.card_no, "month": "2026-09", "title_id": a.title.pk},
        ),
        ("get", f"/api/v1/app/applications/{a.application.pk}", None),
        ("get", f"/api/v1/app/applications/{a.application.pk}/zip", None),
        ("post", f"/api/v1/app/applications/{a.application.pk}/title-change", {"title_id": a.title.pk}),
        ("get", f"/api/v1/app/invoices/{a.invoice.pk}", None),
        ("get", f"/api/v1/app/invoices/{a.invoice.pk}/pdf", None),
        ("get", f"/api/v1/app/invoices/{a.invoice.pk}/xml", None),
        ("post", f"/api/v1/app/invoices/{a.invoice.pk}/reverse", None),
        ("get", f"/api/v1/app/invoices/ledger?application_id={a.application.pk}", None),
        ("get", f"/api/v1/app/invoices/ledger?card_no={a.card_no}", None),
        ("get", f"/api/v1/app/tickets/{a.ticket.pk}", None),
        ("post", f"/api/v1/app/tickets/{a.ticket.pk}/messages", {"body": "插一句"}),
        ("post", f"/api/v1/app/tickets/{a.ticket.pk}/rate", {"rating": 1}),
        ("post", f"/api/v1/app/tickets/{a.ticket.pk}/reopen", {"reason": "再开"}),
        ("post", f"/api/v1/app/notifications/{a.notification.pk}/read", None),
    ]
    wrong = []
    for method, url, body in calls:
        r = getattr(api, method)(url, body, format="json") if body is not None else getattr(api, method)(url)
        if r.status_code != 404 or r["Content-Type"] != "application/json" or r.json()["code"] != "not_found":
            wrong.append((method, url, r.status_code, r.content[:200]))
    assert not wrong, wrong
    print(f"\nApp: {len(calls)} calls for another user's things, all 404")
    # Things of A named inside a body get the same answer as things that do not exist: no oracle.
    mine = api.post("/api/v1/app/cards/confirm", {"binding_id": a.binding_id, "code": "123456"}, format="json")
    nobody = api.post(
        "/api/v1/app/cards/confirm",
        {"binding_id": "00000000-0000-4000-8000-000000000000", "code": "123456"},
        format="json",
    )
    assert mine.status_code == nobody.status_code == 400 and mine.json() == nobody.json()
    for field, value, missing in [
        ("card_no", a.card_no, "41010000000000000999"),
        ("application_id", a.application.pk, 10**9),
        ("invoice_id", a.invoice.pk, 10**9),
        ("transit_id", a.trip, "NO-SUCH-TRIP"),
    ]:
        body = {"category": "invoicing", "subject": "问题", "description": "描述"}
        theirs = api.post("/api/v1/app/tickets", body | {field: value}, format="json")
        absent = api.post("/api/v1/app/tickets", body | {field: missing}, format="json")
        assert theirs.status_code == absent.status_code == 400, (field, theirs.content)
        assert theirs.json()["errors"].keys() == absent.json()["errors"].keys() == {field}
    assert not Ticket.objects.filter(user=api.user).exists()
    assert snapshot() == before


# --- partners ------------------------------------------------------------------------------------

PARTNER_ENDPOINTS = {
    ("post", "/api/v1/partner/cards"): "issuer",
    ("post", "/api/v1/partner/recharges"): "issuer",
    ("post", "/api/v1/partner/operators"): "clearing",
    ("post", "/api/v1/partner/transits"): "clearing",
    ("get", "/api/v1/partner/invoices"): "enterprise",
}


@pytest.mark.django_db
def test_each_partner_kind_reaches_only_its_endpoints(world, partner_client):
    enterprise = partner_client("enterprise", name="某企业", tax_id=demo_uscc("91410000MA0ACCE01"))
    partners = {"issuer": world.issuer, "clearing": world.clearing, "enterprise": enterprise}
    for (method, url), kind in PARTNER_ENDPOINTS.items():
        for name, client in partners.items():
            r = getattr(client, method)(url, {}, format="json") if method == "post" else client.get(url)
            if name == kind:
                assert r.status_code in (200, 400), (name, url, r.status_code)
            else:
                assert r.status_code == 403 and r.json()["code"] == "forbidden", (name, url, r.status_code)
        # App tokens are unknown on partner endpoints, and no token at all is a 401.
        assert getattr(world.user, method)(url).status_code == 401
    assert enterprise.get("/api/v1/app/me").status_code == 401


@pytest.mark.django_db
def test_an_issuer_is_kept_to_its_network_codes(world, partner_client):
    other = partner_client("issuer", name="江苏发行方", network_codes=["3201"])
    foreign = dict(world.cards[0], card_no="32010000000000000042", plate="苏A12345")
    mine_changed = dict(world.cards[0], holder_name="被改的持卡人")
    r = other.post("/api/v1/partner/cards", {"cards": [mine_changed, foreign]}, format="json").json()
    assert r["created"] == 1 and [x["code"] for x in r["rejected"]] == ["foreign_network_code"]
    assert Binding.objects.filter(card__card_no=world.card_no, ended_at__isnull=True).exists()  # untouched
    stored_value = world.cards[1]["card_no"]
    recharge = {
        "recharge_id": "R-X1",
        "card_no": stored_value,
        "amount": 10000,
        "recharged_at": (world.when - timedelta(days=1)).isoformat(),
    }
    r = other.post("/api/v1/partner/recharges", {"recharges": [recharge]}, format="json").json()
    assert r["created"] == 0 and r["rejected"][0]["code"] == "foreign_network_code"
    assert (
        world.issuer.post("/api/v1/partner/recharges", {"recharges": [recharge]}, format="json").json()["created"] == 1
    )


@pytest.mark.django_db
def test_an_enterprise_is_kept_to_its_own_invoices(world, partner_client):
    tax_a, tax_b = demo_uscc("91410000MA0ACCE01"), demo_uscc("91410000MA0ACCE02")
    company_a = partner_client("enterprise", name="甲企业", tax_id=tax_a)
    company_b = partner_client("enterprise", name="乙企业", tax_id=tax_b)
    world.clearing.post(
        "/api/v1/partner/transits",
        {"transits": [trip("E1", world.card_no, world.when, [("S-A3", 500)])]},
        format="json",
    )
    title_id = world.user.post(
        "/api/v1/app/titles", {"kind": "enterprise", "name": "甲企业", "tax_id": tax_a}, format="json"
    ).json()["id"]
    app_id = world.user.post(
        "/api/v1/app/applications",
        {"kind": "consumption", "card_no": world.card_no, "month": "2026-09", "title_id": title_id},
        format="json",
    ).json()["id"]
    services.application_issue(application_id=app_id)
    invoice = Invoice.objects.get(application_id=app_id)
    assert [i["number"] for i in company_a.get("/api/v1/partner/invoices").json()["results"]] == [invoice.number]
    assert company_b.get("/api/v1/partner/invoices").json()["results"] == []
    for kind in ("pdf", "xml"):
        r = company_b.get(f"/api/v1/partner/invoices/{invoice.code}/{invoice.number}/{kind}")
        assert r.status_code == 404 and r.json()["code"] == "not_found"
        assert company_a.get(f"/api/v1/partner/invoices/{invoice.code}/{invoice.number}/{kind}").status_code in (
            200,
            409,
        )


# --- staff roles -----------------------------------------------------------------------------------

# What each role may open in the console, as docs/staff-roles.md's tables state it.
CUSTOMER_DATA = {
    "accounts.user",
    "cards.issuer",
    "cards.card",
    "cards.binding",
    "cards.bindingattempt",
    "cards.invoicetitle",
    "cards.autoinvoicesetting",  # 自动开票 as the customer set it, and what the job did
    "cards.autoinvoicerun",
    "invoices.operator",
    "invoices.roadsection",
    "invoices.transit",
    "invoices.recharge",
    "invoices.application",
    "invoices.invoice",
    "invoices.redletterconfirmation",
    "support.faq",
    "support.ticket",
    "support.call",
    "support.notification",
    "support.customer",
    "support.staffaudit",  # 我的操作记录: every staff member's own
}
MAY_VIEW = {
    # 待回拨来电: the callback list of missed calls
    AGENT: CUSTOMER_DATA | {"support.callback"},
    # the records of openings of masked text and of lifted binding caps; agents' extensions
    SUPERVISOR: CUSTOMER_DATA
    | {"support.dashboard", "support.reveal", "cards.bindingcaplift", "support.callback", "support.agentextension"},
    DATA_FIX: CUSTOMER_DATA,
}
MAY_ADD = {
    AGENT: {"support.ticket", "support.call"},
    SUPERVISOR: {"support.ticket", "support.call", "support.faq", "support.agentextension"},
    DATA_FIX: set(),
}


@pytest.fixture
def staff(db, client):
    def login(role: str) -> None:
        mobile = {AGENT: "13900000101", SUPERVISOR: "13900000102", DATA_FIX: "13900000103", ADMIN: "13900000104"}[role]
        user = User.objects.create_user(mobile, "Console2026x", name=role, is_staff=True, is_superuser=role == ADMIN)
        user.groups.add(Group.objects.get(name=role))
        client.force_login(user)
        return client

    return login


# What each role may change (docs/staff-roles.md: agents handle tickets and calls, supervisors also edit the
# FAQ, data-fix operators correct trips, applications, invoices' documents and titles), and the
# rights that are not a model's add/change/view.
MAY_CHANGE = {
    AGENT: {"support.ticket", "support.call"},
    SUPERVISOR: {"support.ticket", "support.call", "support.faq", "support.agentextension"},
    DATA_FIX: {"invoices.transit", "invoices.application", "invoices.invoice", "cards.invoicetitle"},
}
SPECIAL = {
    AGENT: set(),
    SUPERVISOR: {"support.assign", "support.reopen", "support.view_report", "accounts.view_historicaluser"},
    DATA_FIX: set(),
}


@pytest.mark.django_db
@pytest.mark.parametrize("role", [AGENT, SUPERVISOR, DATA_FIX])
def test_each_staff_role_may_change_what_readme_says(role):
    user = User.objects.create_user("13900000199", "Console2026x", name=role, is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    user = User.objects.get(pk=user.pk)
    wrong = []
    for model in admin.site._registry:
        opts = model._meta
        label = opts.label_lower
        for action in ("change", "delete"):
            may = user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}")
            expected = action == "change" and label in MAY_CHANGE[role]
            if may != expected:
                wrong.append((action, label, may))
    for perm in ("support.assign", "support.reopen", "support.view_report", "accounts.view_historicaluser"):
        if user.has_perm(perm) != (perm in SPECIAL[role]):
            wrong.append(("special", perm, user.has_perm(perm)))
    assert not wrong, wrong


@pytest.mark.django_db
@pytest.mark.parametrize("role", [AGENT, SUPERVISOR, DATA_FIX, ADMIN])
def test_each_staff_role_opens_what_readme_says(role, staff, world):
    client = staff(role)
    wrong = []
    for model in admin.site._registry:
        label = model._meta.label_lower
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        expected = 200 if role == ADMIN or label in MAY_VIEW[role] else 403
        status = client.get(url).status_code
        if status != expected:
            wrong.append(("view", label, status, expected))
        if role == ADMIN or label in (
            "support.customer",
            "support.dashboard",
            "support.staffaudit",
            "support.callback",
        ):
            continue  # admins may add what can be added; the customer view and dashboard are pages
        add_url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_add")
        expected = 200 if label in MAY_ADD[role] else 403
        status = client.get(add_url).status_code
        if status != expected:
            wrong.append(("add", label, status, expected))
    assert not wrong, wrong
    # Issued invoices are read-only for everybody, admins included.
    assert client.get(reverse("admin:invoices_invoice_add")).status_code == 403
