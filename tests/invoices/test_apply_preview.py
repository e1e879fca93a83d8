"""The confirmation step plans with the function that issues: what it shows is what is issued."""

from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from invoices import services
from invoices.models import Application, CardInvoiceBasis, Invoice, Recharge, Transit
from piaogen.errors import ServiceError

from .conftest import trip
from .test_invoicing import THREE, push, title

# 丙还贷中心 runs a loan-repayment section (不征税) and an operating one (9%): a trip over both
# and two other operators yields four invoices per trip, two of them from the same seller.
MIXED = [("S-A3", 9733), ("S-B5", 1200), ("S-C0", 500), ("S-C9", 2180)]


def issued_by_seller(app: Application) -> Counter:
    out: Counter = Counter()
    for seller, tax_id, kind, total in Invoice.objects.filter(application=app).values_list(
        "seller_name", "seller_tax_id", "kind", "total"
    ):
        out[(seller, tax_id, kind, "n")] += 1
        out[(seller, tax_id, kind, "total")] += total
    return out


def planned_by_seller(plan: services.ApplicationPlan) -> Counter:
    out: Counter = Counter()
    for s in plan.sellers:
        out[(s.name, s.tax_id, s.kind, "n")] += s.invoices
        out[(s.name, s.tax_id, s.kind, "total")] += s.total
    return out


def submit_and_issue(capture, world, plan, **inputs):
    with capture(execute=True):
        app = services.application_submit_consumption(
            user=world.user.user, card_no=world.card_no, month="2026-09", plan_digest=plan.digest, **inputs
        )
    app.refresh_from_db()
    assert app.status == Application.Status.ISSUED, app.failure_reason
    return app


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("mode", "transit_ids", "invoices"),
    [
        ("per_trip", ["T2"], 4),  # one trip, four sellers-and-kinds
        ("per_trip", ["T1", "T3"], 3 + 1),
        ("per_trip", None, 3 + 4 + 1),
        ("monthly", None, 4),  # 甲 3%, 乙 5%, 丙 不征税, 丙 9%
        ("monthly", ["T1", "T2"], 4),
    ],
)
def test_preview_equals_what_issuing_writes(world, django_capture_on_commit_callbacks, mode, transit_ids, invoices):
    push(world, [("T1", THREE), ("T2", MIXED), ("T3", [("S-A3", 1000)]), ("T4", [("S-B5", 800)])])
    tid = title(world.user)
    if transit_ids is None:  # whole month: T4 is already applied for, so it is not in the month's plan
        services.application_submit_consumption(
            user=world.user.user, card_no=world.card_no, month="2026-09", title_id=tid, transit_ids=["T4"]
        )
    inputs = {"title_id": tid, "mode": mode, "transit_ids": transit_ids}
    plan = services.application_preview_consumption(
        user=world.user.user, card_no=world.card_no, month="2026-09", **inputs
    )
    assert plan.invoice_count == invoices
    assert not Application.objects.filter(status="issued").exists()  # the preview wrote nothing
    app = submit_and_issue(django_capture_on_commit_callbacks, world, plan, **inputs)
    assert app.invoice_count == plan.invoice_count and app.total == plan.total
    assert issued_by_seller(app) == planned_by_seller(plan)
    assert {s.kind for s in plan.sellers if s.name == "丙还贷中心"} >= (
        {"taxable", "non_taxable"} if "T2" in (transit_ids or ["T2"]) else set()
    )


@pytest.mark.django_db
def test_preview_sellers_total_and_title(world):
    push(world, [("T1", MIXED)])
    tid = title(world.user, name="李四")
    plan = services.application_preview_consumption(
        user=world.user.user, card_no=world.card_no, month="2026-09", title_id=tid, transit_ids=["T1"]
    )
    assert plan.total == 9733 + 1200 + 500 + 2180 and plan.items == 1 and plan.title.name == "李四"
    assert [(s.name, s.kind, s.invoices) for s in plan.sellers] == [
        ("丙还贷中心", "non_taxable", 1),
        ("丙还贷中心", "taxable", 1),
        ("乙一级公路公司", "taxable", 1),
        ("甲高速公司", "taxable", 1),
    ]
    assert not plan.whole_month and not plan.fixes_basis  # an account card has no basis to fix


@pytest.mark.django_db
def test_preview_refusals_match_the_submit(world, app_client):
    push(world, [("T1", THREE)])
    tid = title(world.user)

    def preview(**kw):
        args = {"user": world.user.user, "card_no": world.card_no, "month": "2026-09", "title_id": tid} | kw
        with pytest.raises(ServiceError) as caught:
            services.application_preview_consumption(**args)
        return caught.value.code

    assert preview(transit_ids=["T1", "FORGED"]) == "invalid"
    assert preview(transit_ids=[]) == "nothing_to_invoice"
    assert preview(month="2026-08") == "nothing_to_invoice"
    assert preview(month="2026-13") == "invalid"
    assert preview(mode="yearly") == "invalid"
    assert preview(title_id="1") == "invalid"
    services.application_submit_consumption(
        user=world.user.user, card_no=world.card_no, month="2026-09", title_id=tid, transit_ids=["T1"]
    )
    assert preview(transit_ids=["T1"]) == "already_applied"
    assert preview() == "already_applied"


@pytest.mark.django_db
def test_a_confirmation_that_no_longer_holds_issues_nothing(world):
    push(world, [("T1", THREE)])
    tid = title(world.user)
    args = {"user": world.user.user, "card_no": world.card_no, "month": "2026-09", "title_id": tid}
    plan = services.application_preview_consumption(**args)
    # a trip arrives between the confirmation page and the click: the whole month is no longer what was shown
    world.clearing.post(
        "/api/v1/partner/transits",
        {"transits": [trip("T9", world.card_no, world.when + timedelta(days=1), THREE)]},
        format="json",
    )
    with pytest.raises(ServiceError) as caught:
        services.application_submit_consumption(**args, plan_digest=plan.digest)
    assert caught.value.code == "plan_changed" and caught.value.status == 409
    assert not Application.objects.exists() and set(Transit.objects.values_list("state", flat=True)) == {"open"}
    # a digest that was never a preview's (tampered) is refused the same way
    with pytest.raises(ServiceError) as caught:
        services.application_submit_consumption(**args, plan_digest="0" * 32)
    assert caught.value.code == "plan_changed" and not Application.objects.exists()
    # the mode is part of what was confirmed
    with pytest.raises(ServiceError):
        services.application_submit_consumption(**args, mode="monthly", plan_digest=plan.digest)
    fresh = services.application_preview_consumption(**args)
    assert services.application_submit_consumption(**args, plan_digest=fresh.digest).pk


@pytest.mark.django_db
def test_whole_month_preview_is_one_planning_query(world, django_assert_max_num_queries):
    push(world, [("T1", THREE)])
    tid = title(world.user)
    args = {"user": world.user.user, "card_no": world.card_no, "month": "2026-09", "title_id": tid}
    with CaptureQueriesContext(connection) as few:
        services.application_preview_consumption(**args)
    baseline = len(few.captured_queries)  # now: the query log is a bounded deque that the push below rotates
    assert 0 < baseline <= 8
    more = [trip(f"U{i}", world.card_no, world.when + timedelta(hours=i), MIXED) for i in range(300)]
    assert world.clearing.post("/api/v1/partner/transits", {"transits": more}, format="json").status_code == 200
    with django_assert_max_num_queries(baseline):
        plan = services.application_preview_consumption(**args)
    assert plan.items == 301 and plan.invoice_count == 3 + 300 * 4


def push_recharges(world, card_no, specs):
    items = [
        {"recharge_id": rid, "card_no": card_no, "amount": amount, "recharged_at": at} for rid, amount, at in specs
    ]
    r = world.issuer.post("/api/v1/partner/recharges", {"recharges": items}, format="json").json()
    assert r["created"] == len(specs), r


@pytest.mark.django_db
def test_recharge_preview_equals_issue_and_the_month_is_the_recharges(world, django_capture_on_commit_callbacks):
    stored = world.cards[1]
    world.bind(world.user, stored)
    push_recharges(
        world,
        stored["card_no"],
        [("R1", 50000, "2026-08-03T10:00:00+08:00"), ("R2", 20000, "2026-08-20T23:30:00+08:00")],
    )
    tid = title(world.user)
    args = {"user": world.user.user, "card_no": stored["card_no"], "title_id": tid, "recharge_ids": ["R1", "R2"]}
    plan = services.application_preview_recharge(**args)
    assert plan.fixes_basis and plan.month == "2026-08" and plan.total == 70000 and plan.invoice_count == 1
    assert not CardInvoiceBasis.objects.exists()  # the preview fixes nothing
    [seller] = plan.sellers
    issuer = plan.card.issuer
    assert (seller.kind, seller.name, seller.tax_id) == ("non_taxable", issuer.name, issuer.tax_id) and issuer.tax_id
    with django_capture_on_commit_callbacks(execute=True):
        app = services.application_submit_recharge(**args, plan_digest=plan.digest)
    app.refresh_from_db()
    assert app.month == "2026-08" and app.status == "issued"
    [inv] = Invoice.objects.filter(application=app)
    assert inv.month == "2026-08" and inv.kind == "non_taxable" and inv.total == plan.total
    assert (inv.seller_name, inv.seller_tax_id) == (seller.name, seller.tax_id) and inv.operator_id is None
    assert CardInvoiceBasis.objects.get().basis == "recharge"
    assert set(Recharge.objects.values_list("state", flat=True)) == {"invoiced"}
    # the choice is final: travel invoices are refused in the preview already
    world.clearing.post(
        "/api/v1/partner/transits", {"transits": [trip("S1", stored["card_no"], world.when, THREE)]}, format="json"
    )
    with pytest.raises(ServiceError) as caught:
        services.application_preview_consumption(
            user=world.user.user, card_no=stored["card_no"], month="2026-09", title_id=tid
        )
    assert caught.value.code == "basis_locked"


@pytest.mark.django_db
def test_recharge_preview_refusals(world):
    stored = world.cards[1]
    world.bind(world.user, stored)
    push_recharges(world, stored["card_no"], [("R1", 100, "2026-09-01T10:00:00+08:00")])
    tid = title(world.user)

    def code(**kw):
        args = {"user": world.user.user, "card_no": stored["card_no"], "title_id": tid, "recharge_ids": ["R1"]} | kw
        with pytest.raises(ServiceError) as caught:
            services.application_preview_recharge(**args)
        return caught.value.code

    assert code(recharge_ids=[]) == "invalid"
    assert code(recharge_ids=["R1", "FORGED"]) == "invalid"
    assert code(card_no=world.card_no) == "invalid"  # an account card takes no recharge invoices
    # the card's first application takes travel invoices: recharge invoices are refused from now on
    world.clearing.post(
        "/api/v1/partner/transits", {"transits": [trip("S1", stored["card_no"], world.when, THREE)]}, format="json"
    )
    services.application_submit_consumption(
        user=world.user.user, card_no=stored["card_no"], month="2026-09", title_id=tid
    )
    assert code() == "basis_locked"


@pytest.mark.django_db
def test_app_preview_endpoint_and_digest(world, django_capture_on_commit_callbacks):
    push(world, [("T1", MIXED), ("T2", THREE)])
    tid = title(world.user)
    body = {"kind": "consumption", "card_no": world.card_no, "month": "2026-09", "title_id": tid, "mode": "monthly"}
    r = world.user.post("/api/v1/app/applications/preview", body, format="json")
    assert r.status_code == 200, r.content
    preview = r.json()
    assert preview["invoice_count"] == 4 and preview["items"] == 2 and preview["whole_month"] is True
    assert preview["total"] == sum(f for _c, f in MIXED) + sum(f for _c, f in THREE)
    assert sum(s["invoices"] for s in preview["sellers"]) == 4 and preview["title"]["id"] == tid
    assert not Application.objects.exists()
    bad = world.user.post("/api/v1/app/applications/preview", body | {"transit_ids": ["NOPE"]}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid"
    assert world.user.post("/api/v1/app/applications/preview", [1], format="json").status_code == 400
    assert world.user.post("/api/v1/app/applications/preview", {"kind": "x"}, format="json").status_code == 400
    stale = world.user.post("/api/v1/app/applications", body | {"plan_digest": "f" * 32}, format="json")
    assert stale.status_code == 409 and stale.json()["code"] == "plan_changed"
    with django_capture_on_commit_callbacks(execute=True):
        r = world.user.post("/api/v1/app/applications", body | {"plan_digest": preview["plan_digest"]}, format="json")
    assert r.status_code == 202
    app = world.user.get(f"/api/v1/app/applications/{r.json()['id']}").json()
    assert len(app["invoices"]) == preview["invoice_count"] and app["total"] == preview["total"]
