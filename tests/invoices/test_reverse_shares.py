"""Reversing one invoice of a trip reopens exactly its share (seller and rate): the trip is open
again for that share alone, applying again issues it and nothing a live invoice still covers."""

from collections import Counter

import pytest
from django.urls import reverse

from invoices import services
from invoices.models import Application, Invoice, InvoiceLine, Transit
from invoices.selectors import covered_shares
from tests.helpers.races import issue_at_once

from . import test_invoicing
from .conftest import trip
from .test_invoicing import THREE, push, title

applied = test_invoicing.applied  # the fixture that submits and issues through the App API

B_ONLY = ("乙一级公路公司",)


def reverse_invoice(world, capture, invoice):
    with capture(execute=True):
        r = world.user.post(f"/api/v1/app/invoices/{invoice.pk}/reverse")
    assert r.status_code == 202, r.content
    assert Application.objects.get(pk=r.json()["id"]).status == "issued"


def live_shares():
    """Every (trip, seller, rate) covered by a live invoice, counted: never more than once."""
    return Counter(
        InvoiceLine.objects.filter(invoice__red=False, invoice__status="normal").values_list(
            "transit__transit_id", "invoice__seller_name", "rate"
        )
    )


def app_trip(world, transit_id):
    [row] = [
        t
        for t in world.user.get("/api/v1/app/transits", {"card_no": world.card_no, "month": "2026-09"}).json()
        if t["transit_id"] == transit_id
    ]
    return row


@pytest.mark.django_db
def test_reversing_one_invoice_of_a_three_operator_trip_reopens_that_share_only(
    world, applied, django_capture_on_commit_callbacks
):
    push(world, [("T1", THREE)])
    tid = title(world.user)
    applied(title_id=tid)
    assert Invoice.objects.count() == 3
    b = Invoice.objects.get(seller_name="乙一级公路公司")
    reverse_invoice(world, django_capture_on_commit_callbacks, b)

    assert Transit.objects.get().state == "open"
    row = app_trip(world, "T1")
    assert row["invoice_state"] == "open" and row["partly_invoiced"] is True
    assert row["invoice_count"] == 1 and row["invoices"] == [{"seller": "乙一级公路公司", "rate": "0.05"}]
    assert {i["seller"] for i in row["invoiced"]} == {"甲高速公司", "丙还贷中心"}

    r = applied(title_id=tid)  # the whole month again: only the reversed share is due
    again = world.user.get(f"/api/v1/app/applications/{r.json()['id']}").json()
    assert again["status"] == "issued"
    [new] = again["invoices"]
    assert new["seller"]["name"] == "乙一级公路公司" and new["kind"] == b.kind
    assert (new["total_net"], new["total_tax"], new["total"]) == (b.total_net, b.total_tax, b.total)
    assert [ln["transit_id"] for ln in new["lines"]] == ["T1"]
    assert Transit.objects.get().state == "invoiced"
    assert set(live_shares().values()) == {1} and len(live_shares()) == 3
    row = app_trip(world, "T1")
    assert row["invoice_state"] == "invoiced" and row["partly_invoiced"] is False
    # nothing is left to invoice: a third application is refused
    r = applied(title_id=tid)
    assert r.status_code == 400 and r.json()["code"] == "already_applied"


@pytest.mark.django_db
def test_selected_trip_after_a_reversal_issues_the_share_not_the_trip(
    world, applied, django_capture_on_commit_callbacks
):
    push(world, [("T1", THREE), ("T2", THREE)])
    tid = title(world.user)
    applied(title_id=tid)
    a = Invoice.objects.get(seller_name="甲高速公司", lines__transit__transit_id="T2")
    reverse_invoice(world, django_capture_on_commit_callbacks, a)
    assert dict(Transit.objects.values_list("transit_id", "state")) == {"T1": "invoiced", "T2": "open"}
    r = applied(title_id=tid, transit_ids=["T2"])
    [new] = world.user.get(f"/api/v1/app/applications/{r.json()['id']}").json()["invoices"]
    assert new["seller"]["name"] == "甲高速公司" and new["total"] == a.total == 9733
    assert new["lines"][0]["net"] == 9450 and new["lines"][0]["tax"] == 283
    assert set(live_shares().values()) == {1} and len(live_shares()) == 6


@pytest.mark.django_db
def test_monthly_mode_reversal_reopens_every_trip_line_of_the_invoice(
    world, applied, django_capture_on_commit_callbacks
):
    push(world, [("T1", THREE), ("T2", THREE), ("T3", [("S-A3", 500)])])
    tid = title(world.user)
    applied(title_id=tid, mode="monthly")
    assert Invoice.objects.count() == 3
    b = Invoice.objects.get(seller_name="乙一级公路公司")
    assert b.lines.count() == 2
    reverse_invoice(world, django_capture_on_commit_callbacks, b)
    assert dict(Transit.objects.values_list("transit_id", "state")) == {"T1": "open", "T2": "open", "T3": "invoiced"}
    r = applied(title_id=tid, mode="monthly")
    [new] = world.user.get(f"/api/v1/app/applications/{r.json()['id']}").json()["invoices"]
    assert new["seller"]["name"] == "乙一级公路公司"
    assert [ln["transit_id"] for ln in new["lines"]] == ["T1", "T2"]
    assert (new["total_net"], new["total_tax"], new["total"]) == (b.total_net, b.total_tax, b.total)
    assert set(Transit.objects.values_list("state", flat=True)) == {"invoiced"}
    assert set(live_shares().values()) == {1}


@pytest.mark.django_db
def test_a_trip_whose_every_invoice_is_reversed_is_fully_open(world, applied, django_capture_on_commit_callbacks):
    push(world, [("T1", THREE)])
    tid = title(world.user)
    applied(title_id=tid)
    for inv in list(Invoice.objects.filter(red=False)):
        reverse_invoice(world, django_capture_on_commit_callbacks, inv)
    row = app_trip(world, "T1")
    assert row["invoice_state"] == "open" and row["partly_invoiced"] is False and row["invoiced"] == []
    assert row["invoice_count"] == 3
    r = applied(title_id=tid)
    assert len(world.user.get(f"/api/v1/app/applications/{r.json()['id']}").json()["invoices"]) == 3
    assert Transit.objects.get().state == "invoiced"


@pytest.mark.django_db
def test_covered_shares_names_trip_seller_and_rate_of_live_invoices_only(
    world, applied, django_capture_on_commit_callbacks
):
    push(world, [("T1", THREE)])
    applied(title_id=title(world.user))
    t1 = Transit.objects.get()
    ops = dict(Invoice.objects.values_list("seller_name", "operator_id"))
    assert covered_shares([t1.pk]) == {
        (t1.pk, ops["甲高速公司"], 3),
        (t1.pk, ops["乙一级公路公司"], 5),
        (t1.pk, ops["丙还贷中心"], None),
    }
    reverse_invoice(world, django_capture_on_commit_callbacks, Invoice.objects.get(seller_name="丙还贷中心"))
    assert covered_shares([t1.pk]) == {(t1.pk, ops["甲高速公司"], 3), (t1.pk, ops["乙一级公路公司"], 5)}
    assert covered_shares([]) == set()


@pytest.mark.django_db
def test_a_partly_invoiced_trip_keeps_its_split_a_fully_reversed_one_takes_a_new_one(
    world, applied, django_capture_on_commit_callbacks
):
    push(world, [("T1", THREE), ("T2", [("S-A3", 1000)])])
    applied(title_id=title(world.user))
    reverse_invoice(world, django_capture_on_commit_callbacks, Invoice.objects.get(seller_name="乙一级公路公司"))
    reverse_invoice(
        world, django_capture_on_commit_callbacks, Invoice.objects.get(red=False, lines__transit__transit_id="T2")
    )
    assert set(Transit.objects.values_list("state", flat=True)) == {"open"}
    changed = [
        trip("T1", world.card_no, world.when, [("S-A3", 9000), ("S-B5", 1933), ("S-C0", 500)]),
        trip("T2", world.card_no, world.when, [("S-A3", 1100)]),
    ]
    r = world.clearing.post("/api/v1/partner/transits", {"transits": changed}, format="json").json()
    assert r["updated"] == 1
    assert [(x["id"], x["code"]) for x in r["rejected"]] == [("T1", "already_invoiced")]
    assert sorted(Transit.objects.get(transit_id="T1").segments.values_list("fee", flat=True)) == [500, 1200, 9733]
    assert Transit.objects.get(transit_id="T2").fee == 1100


@pytest.mark.django_db
def test_pages_show_the_remaining_share_of_a_partly_invoiced_trip(
    client, world, applied, django_capture_on_commit_callbacks
):
    push(world, [("T1", THREE)])
    applied(title_id=title(world.user))
    b = Invoice.objects.get(seller_name="乙一级公路公司")
    client.force_login(world.user.user)
    page = client.get(reverse("invoices:reverse", args=[b.pk])).content.decode()
    assert "重新变为可开票" in page and "乙一级公路公司" in page
    reverse_invoice(world, django_capture_on_commit_callbacks, b)
    trips = client.get(reverse("invoices:transits"), {"card": world.card_no, "month": "2026-09"}).content.decode()
    assert "部分待开票" in trips and "甲高速公司、丙还贷中心 的发票仍然有效" in trips
    apply = client.get(reverse("invoices:apply"), {"card": world.card_no, "month": "2026-09"}).content.decode()
    assert "¥12.00" in apply and "1 张发票" in apply and "部分待开票" in apply


# --- reversing and applying at once, on a real database ---------------------------------------------


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_reversing_one_share_while_another_is_applied_for_never_covers_a_share_twice(world, no_queue):
    push(world, [("T1", THREE)])
    tid = title(world.user)
    first = world.user.post(
        "/api/v1/app/applications",
        {"kind": "consumption", "card_no": world.card_no, "month": "2026-09", "title_id": tid},
        format="json",
    ).json()["id"]
    services.application_issue(application_id=first)
    a = Invoice.objects.get(seller_name="甲高速公司")
    services.application_issue(application_id=services.invoice_reverse(user=world.user.user, invoice_id=a.pk).pk)
    assert Transit.objects.get().state == "open"
    # the reversed share applied for again while a second invoice of the trip is being reversed
    again = services.application_submit_consumption(
        user=world.user.user, card_no=world.card_no, month="2026-09", title_id=tid
    )
    b = Invoice.objects.get(seller_name="乙一级公路公司", status="normal")
    second = services.invoice_reverse(user=world.user.user, invoice_id=b.pk)
    assert issue_at_once([again.pk, second.pk], barrier=True) == []
    assert set(Application.objects.values_list("status", flat=True)) == {"issued"}
    shares = live_shares()
    assert set(shares.values()) == {1}  # never a share covered twice
    state = Transit.objects.get().state
    # either order is right: the reversal first (the application issues 甲 and 乙) or the
    # application first (it issues 甲; the reversal then reopens the trip for 乙)
    if ("T1", "乙一级公路公司", 5) in shares:
        assert len(shares) == 3 and state == "invoiced"
    else:
        assert len(shares) == 2 and state == "open"
