import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core import signing
from django.urls import reverse

from invoices import services
from invoices.models import Application, Invoice, InvoiceCounter, InvoiceLine, Transit
from piaogen.demo import demo_uscc

from .conftest import trip

THREE = [("S-A3", 9733), ("S-B5", 1200), ("S-C0", 500)]
COMPANY_TAX_ID = demo_uscc("91110000MA01DEM00")


def push(world, specs):
    items = [trip(tid, world.card_no, world.when + timedelta(hours=i), split) for i, (tid, split) in enumerate(specs)]
    r = world.clearing.post("/api/v1/partner/transits", {"transits": items}, format="json").json()
    assert r["created"] == len(specs), r


def title(client, **fields):
    body = {"kind": "personal", "name": "张三"} | fields
    r = client.post("/api/v1/app/titles", body, format="json")
    assert r.status_code == 201, r.content
    return r.json()["id"]


@pytest.fixture
def applied(world, django_capture_on_commit_callbacks):
    """Submits through the App API and runs the issuing task (eager) once the submit commits."""

    def apply(client=None, **body):
        client = client or world.user
        body = {"kind": "consumption", "card_no": world.card_no, "month": "2026-09"} | body
        with django_capture_on_commit_callbacks(execute=True):
            r = client.post("/api/v1/app/applications", body, format="json")
        return r

    return apply


@pytest.mark.django_db
def test_whole_month_per_trip_gives_one_invoice_per_operator_and_trip(world, applied):
    push(world, [("T1", THREE), ("T2", [("S-A3", 1000)])])
    tid = title(world.user, kind="enterprise", name="演示公司", tax_id=COMPANY_TAX_ID, address="北京", phone="010-1")
    r = applied(title_id=tid, mode="per_trip")
    assert r.status_code == 202 and r.json()["status"] == "submitted"
    app = world.user.get(f"/api/v1/app/applications/{r.json()['id']}").json()
    assert app["status"] == "issued" and app["failure_reason"] is None
    assert len(app["invoices"]) == 4
    assert re.fullmatch(r"41\d{14}", app["summary_no"])  # issuer province 41 + YYYYMM + sequence
    by_seller = {}
    for inv in app["invoices"]:
        by_seller.setdefault(inv["seller"]["name"], []).append(inv)
        assert re.fullmatch(r"0410026\d{3}12", inv["code"]) and re.fullmatch(r"\d{8}", inv["number"])
        assert re.fullmatch(r"\d{20}", inv["check_code"])
        assert inv["buyer"] == {"name": "演示公司", "tax_id": COMPANY_TAX_ID}
        assert inv["total"] == inv["total_net"] + inv["total_tax"]
    [a1, a2] = sorted(by_seller["甲高速公司"], key=lambda i: i["total"])
    assert a2["lines"][0]["net"] == 9450 and a2["lines"][0]["tax"] == 283 and a2["lines"][0]["rate"] == "0.03"
    assert a2["kind"] == "taxable" and a2["lines"][0]["item"] == "*经营租赁*通行费"
    assert a2["lines"][0]["date_from"] == "20260905" and a2["lines"][0]["transit_id"] == "T1"
    [c] = by_seller["丙还贷中心"]
    assert c["kind"] == "non_taxable" and c["lines"][0]["rate"] is None and c["total_tax"] == 0
    numbers = sorted(int(i["number"]) for i in app["invoices"])
    assert numbers == list(range(numbers[0], numbers[0] + 4))  # consecutive, no gaps
    assert set(Transit.objects.values_list("state", flat=True)) == {"invoiced"}
    assert sum(i["total"] for i in app["invoices"]) == app["total"] == 11433 + 1000


@pytest.mark.django_db
def test_monthly_mode_one_invoice_per_seller_and_rate_with_a_line_per_trip(world, applied):
    push(world, [("T1", THREE), ("T2", THREE), ("T3", [("S-A3", 500)])])
    r = applied(title_id=title(world.user), mode="monthly")
    invoices = world.user.get(f"/api/v1/app/applications/{r.json()['id']}").json()["invoices"]
    lines = {i["seller"]["name"]: [ln["transit_id"] for ln in i["lines"]] for i in invoices}
    assert lines == {"甲高速公司": ["T1", "T2", "T3"], "乙一级公路公司": ["T1", "T2"], "丙还贷中心": ["T1", "T2"]}


@pytest.mark.django_db
def test_selected_trips_only(world, applied):
    push(world, [("T1", THREE), ("T2", THREE)])
    r = applied(title_id=title(world.user), transit_ids=["T2"])
    assert r.status_code == 202
    assert dict(Transit.objects.values_list("transit_id", "state")) == {"T1": "open", "T2": "invoiced"}


@pytest.mark.django_db
def test_submit_refusals(world, applied, app_client):
    tid = title(world.user)
    r = applied(title_id=tid)
    assert r.status_code == 400 and r.json()["code"] == "nothing_to_invoice"
    push(world, [("T1", THREE)])
    assert applied(title_id=tid, month="2026-9").json()["code"] == "invalid"
    assert applied(title_id=999999).json()["code"] == "invalid"
    assert applied(title_id=tid, mode="yearly").json()["code"] == "invalid"
    assert applied(title_id=tid, transit_ids=["NOPE"]).json()["code"] == "invalid"
    assert applied(title_id=tid, transit_ids="T1").json()["code"] == "invalid"
    assert applied(title_id=tid, kind="gift").json()["code"] == "invalid"
    other = app_client()
    r = applied(client=other, title_id=title(other))
    assert r.status_code == 404  # not their card
    r = applied(client=other, title_id=tid)
    assert r.status_code == 404
    assert applied(title_id=tid).status_code == 202
    r = applied(title_id=tid)
    assert r.status_code == 400 and r.json()["code"] == "already_applied"
    r = applied(title_id=tid, transit_ids=["T1"])
    assert r.status_code == 400 and r.json()["code"] == "already_applied"
    assert Application.objects.count() == 1


@pytest.mark.django_db
def test_issuing_twice_is_a_no_op(world, applied):
    push(world, [("T1", THREE)])
    app_id = applied(title_id=title(world.user)).json()["id"]
    before = list(Invoice.objects.values_list("code", "number"))
    services.application_issue(application_id=app_id)
    services.application_issue(application_id=app_id)
    assert list(Invoice.objects.values_list("code", "number")) == before and len(before) == 3


@pytest.mark.django_db
def test_a_zero_fee_trip_fails_with_a_reason_and_releases_the_trip(world, applied):
    push(world, [("T0", [("S-A3", 0)])])
    app_id = applied(title_id=title(world.user)).json()["id"]
    app = world.user.get(f"/api/v1/app/applications/{app_id}").json()
    assert app["status"] == "failed" and "金额为零" in app["failure_reason"]
    assert Transit.objects.get().state == "open" and not Invoice.objects.exists()


@pytest.mark.django_db
def test_a_new_batch_starts_when_one_is_used_up(world, applied, settings):
    settings.INVOICE_NUMBERS_PER_BATCH = 2
    push(world, [("T1", THREE)])
    applied(title_id=title(world.user))
    pairs = sorted(Invoice.objects.values_list("code", "number"))
    assert [(c[7:10], n) for c, n in pairs] == [("001", "00000001"), ("001", "00000002"), ("002", "00000001")]
    counter = InvoiceCounter.objects.get()
    assert (counter.batch, counter.next_number) == (2, 2)


@pytest.mark.django_db
def test_title_change_reverses_and_reissues_as_one_unit(world, applied, django_capture_on_commit_callbacks):
    push(world, [("T1", THREE)])
    first = applied(title_id=title(world.user)).json()["id"]
    new_title = title(world.user, kind="enterprise", name="演示公司", tax_id=COMPANY_TAX_ID)
    with django_capture_on_commit_callbacks(execute=True):
        r = world.user.post(f"/api/v1/app/applications/{first}/title-change", {"title_id": new_title}, format="json")
    assert r.status_code == 202
    change = world.user.get(f"/api/v1/app/applications/{r.json()['id']}").json()
    assert change["kind"] == "title_change" and change["status"] == "issued"
    reds = [i for i in change["invoices"] if i["red"]]
    news = [i for i in change["invoices"] if not i["red"]]
    assert len(reds) == 3 and len(news) == 3
    originals = world.user.get(f"/api/v1/app/applications/{first}").json()["invoices"]
    assert {i["status"] for i in originals} == {"reversed"}
    assert {(r_["original"]["code"], r_["original"]["number"]) for r_ in reds} == {
        (o["code"], o["number"]) for o in originals
    }
    assert all(r_["total"] < 0 and r_["total_tax"] <= 0 for r_ in reds)
    assert sorted(-r_["total"] for r_ in reds) == sorted(o["total"] for o in originals)
    assert {n["buyer"]["tax_id"] for n in news} == {COMPANY_TAX_ID}
    assert Transit.objects.get().state == "invoiced"
    red = Invoice.objects.filter(red=True).first()
    assert red.remarks.startswith("对应正数发票代码:") and red.original.number in red.remarks
    # a second title change of the same application finds nothing left to change
    r = world.user.post(f"/api/v1/app/applications/{first}/title-change", {"title_id": new_title}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "already_reversed"


@pytest.mark.django_db
def test_reversal_once_and_the_trip_reopens(world, applied, django_capture_on_commit_callbacks):
    push(world, [("T1", [("S-A3", 9733)])])
    app_id = applied(title_id=title(world.user)).json()["id"]
    inv = Invoice.objects.get(application_id=app_id)
    with django_capture_on_commit_callbacks(execute=True):
        r = world.user.post(f"/api/v1/app/invoices/{inv.pk}/reverse")
    assert r.status_code == 202
    inv.refresh_from_db()
    assert inv.status == "reversed"
    red = Invoice.objects.get(red=True)
    assert (red.total_net, red.total_tax, red.total) == (-9450, -283, -9733)
    assert red.code[1:5] == inv.code[1:5] and red.seller_tax_id == inv.seller_tax_id
    r = world.user.post(f"/api/v1/app/invoices/{inv.pk}/reverse")
    assert r.status_code == 400 and r.json()["code"] == "already_reversed"
    r = world.user.post(f"/api/v1/app/invoices/{red.pk}/reverse")
    assert r.status_code == 400
    assert Transit.objects.get().state == "open"  # no normal invoice covers it any more


@pytest.mark.django_db
def test_another_users_application_and_invoice_are_404(world, applied, app_client):
    push(world, [("T1", THREE)])
    app_id = applied(title_id=title(world.user)).json()["id"]
    inv = Invoice.objects.first()
    other = app_client()
    assert other.get(f"/api/v1/app/applications/{app_id}").status_code == 404
    assert other.get(f"/api/v1/app/invoices/{inv.pk}").status_code == 404
    assert other.post(f"/api/v1/app/invoices/{inv.pk}/reverse").status_code == 404
    assert (
        other.post(
            f"/api/v1/app/applications/{app_id}/title-change", {"title_id": title(other)}, format="json"
        ).status_code
        == 404
    )
    assert other.get("/api/v1/app/invoices").json() == []


@pytest.mark.django_db
def test_sweep_requeues_what_waits_too_long(world, applied, monkeypatch):
    push(world, [("T1", THREE)])
    queued = []
    from invoices import tasks

    monkeypatch.setattr(tasks.issue_application, "delay", lambda app_id: queued.append(app_id))
    app_id = applied(title_id=title(world.user)).json()["id"]  # the submit's task went nowhere
    assert Application.objects.get().status == "submitted"
    assert services.applications_sweep() == 0  # not late yet
    Application.objects.update(queued_at=Application.objects.get().queued_at - timedelta(minutes=5))
    assert services.applications_sweep() == 1 and queued[-1] == app_id
    services.application_issue(application_id=app_id)
    assert Application.objects.get().status == "issued"


@pytest.mark.django_db
def test_list_endpoints_keep_their_query_count(world, applied, django_assert_max_num_queries):
    push(world, [("T1", THREE)])
    app_id = applied(title_id=title(world.user)).json()["id"]
    with django_assert_max_num_queries(10) as ctx:
        world.user.get(f"/api/v1/app/applications/{app_id}")
        world.user.get("/api/v1/app/invoices", {"month": "2026-09"})
    baseline = len(ctx.captured_queries)
    push(world, [(f"U{i}", THREE) for i in range(10)])
    app2 = applied(title_id=title(world.user)).json()["id"]
    assert Invoice.objects.count() == 33
    with django_assert_max_num_queries(baseline):
        world.user.get(f"/api/v1/app/applications/{app2}")
        world.user.get("/api/v1/app/invoices", {"month": "2026-09"})


@pytest.mark.django_db
def test_enterprise_partner_pulls_its_invoices_with_a_cursor(world, applied, partner_client):
    push(world, [("T1", THREE), ("T2", THREE)])
    applied(title_id=title(world.user, kind="enterprise", name="演示公司", tax_id=COMPANY_TAX_ID))
    company = partner_client("enterprise", name="演示公司", tax_id=COMPANY_TAX_ID)
    page = company.get("/api/v1/partner/invoices", {"limit": 4}).json()
    assert len(page["results"]) == 4 and page["next"]
    rest = company.get("/api/v1/partner/invoices", {"limit": 4, "cursor": page["next"]}).json()
    assert len(rest["results"]) == 2 and rest["next"] is None
    ids = [i["id"] for i in page["results"] + rest["results"]]
    assert ids == sorted(ids) and len(set(ids)) == 6
    stranger = partner_client("enterprise", name="别家", tax_id=demo_uscc("91110000MA01DEM01"))
    assert stranger.get("/api/v1/partner/invoices").json() == {"results": [], "next": None}
    assert company.get("/api/v1/partner/invoices", {"cursor": "forged"}).status_code == 400
    # the one cursor format of every list; a cursor handed out in the former signed format is
    # still read, so a partner paging across a release goes on where it was
    last = Invoice.objects.get(pk=page["results"][-1]["id"])
    assert (
        page["next"] == f"{(last.issued_at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)}_{last.pk}"
    )
    former = signing.dumps([last.issued_at.isoformat(), last.pk], salt="invoices.feed", compress=True)
    assert company.get("/api/v1/partner/invoices", {"limit": 4, "cursor": former}).json() == rest
    wrong = signing.dumps([last.issued_at.isoformat(), last.pk], salt="support.notifications")
    assert company.get("/api/v1/partner/invoices", {"cursor": wrong}).status_code == 400
    assert company.get("/api/v1/partner/invoices", {"since": "yesterday"}).status_code == 400
    assert world.clearing.get("/api/v1/partner/invoices").status_code == 403
    future = company.get("/api/v1/partner/invoices", {"since": "2100-01-01T00:00:00+08:00"}).json()
    assert future["results"] == []


@pytest.mark.django_db
def test_pages_apply_progress_list_detail_reverse(client, world, django_capture_on_commit_callbacks):
    push(world, [("T1", THREE)])
    tid = title(world.user)
    client.force_login(world.user.user)
    page = client.get(reverse("invoices:apply"), {"card": world.card_no, "month": "2026-09"}).content.decode()
    assert "整月开票" in page and "3 张发票" in page
    form = {"card": world.card_no, "month": "2026-09", "scope": "month", "mode": "per_trip", "title_id": str(tid)}
    confirm = client.post(reverse("invoices:apply"), form)
    assert "将开出 3 张发票" in confirm.content.decode() and not Application.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(
            reverse("invoices:apply"), form | {"step": "confirm", "plan_digest": confirm.context["plan"].digest}
        )
    assert r.status_code == 302
    app = Application.objects.get()
    status = client.get(reverse("invoices:application_status", args=[app.pk])).json()
    assert status["status"] == "issued" and status["invoice_count"] == 3
    body = client.get(reverse("invoices:application", args=[app.pk])).content.decode()
    assert app.summary_no in body and "换票" in body
    listing = client.get(reverse("invoices:list"), {"view": "trip"}).content.decode()
    assert "共 3 张发票" in listing
    inv = Invoice.objects.filter(kind="taxable").first()
    detail = client.get(reverse("invoices:invoice", args=[inv.pk])).content.decode()
    grouped = " ".join(inv.check_code[i : i + 5] for i in range(0, 20, 5))  # printed in 4 groups of 5
    assert grouped in detail and "通行费" in detail
    r = client.post(reverse("invoices:reverse", args=[inv.pk]), {})
    assert "请勾选确认" in r.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(reverse("invoices:reverse", args=[inv.pk]), {"confirm": "yes"})
    assert r.status_code == 302
    inv.refresh_from_db()
    assert inv.status == "reversed"


@pytest.mark.django_db
def test_apply_page_refusal_is_shown(client, world):
    push(world, [("T1", THREE)])
    tid = title(world.user)
    client.force_login(world.user.user)
    r = client.post(
        reverse("invoices:apply"),
        {"card": world.card_no, "month": "2026-09", "scope": "selected", "mode": "per_trip", "title_id": str(tid)},
    )
    assert r.status_code == 200 and "请先勾选要开票的通行记录" in r.content.decode()
    assert not Application.objects.exists()


@pytest.mark.django_db
def test_invoice_lines_are_stored_with_their_trip(world, applied):
    push(world, [("T1", THREE)])
    applied(title_id=title(world.user))
    assert InvoiceLine.objects.filter(transit__transit_id="T1").count() == 3


@pytest.mark.django_db
def test_recharge_invoice_from_the_issuer_and_the_stored_value_basis_lock(
    world, applied, django_capture_on_commit_callbacks
):
    stored = world.cards[1]
    world.bind(world.user, stored)
    items = [
        {
            "recharge_id": f"R{i}",
            "card_no": stored["card_no"],
            "amount": 50000,
            "recharged_at": f"2026-09-0{i + 1}T10:00:00+08:00",
        }
        for i in range(2)
    ]
    assert world.issuer.post("/api/v1/partner/recharges", {"recharges": items}, format="json").json()["created"] == 2
    tid = title(world.user)
    r = applied(kind="recharge", card_no=stored["card_no"], recharge_ids=["R0", "R1"], title_id=tid)
    assert r.status_code == 202, r.content
    app = world.user.get(f"/api/v1/app/applications/{r.json()['id']}").json()
    [inv] = app["invoices"]
    assert app["status"] == "issued" and inv["kind"] == "non_taxable" and inv["total"] == 100000
    assert inv["seller"]["name"] == Invoice.objects.get().card.issuer.name and inv["seller"]["tax_id"]
    assert [ln["recharge_id"] for ln in inv["lines"]] == ["R0", "R1"] and inv["lines"][0]["rate"] is None
    assert inv["code"][1:5] == "4100"
    # the card chose recharge invoices: travel invoices are refused for it from now on
    world.clearing.post(
        "/api/v1/partner/transits", {"transits": [trip("S1", stored["card_no"], world.when, THREE)]}, format="json"
    )
    r = applied(card_no=stored["card_no"], title_id=tid)
    assert r.status_code == 400 and r.json()["code"] == "basis_locked" and "充值" in r.json()["message"]
    # and an account card cannot take recharge invoices at all
    r = applied(kind="recharge", recharge_ids=["R0"], title_id=tid)
    assert r.status_code == 400 and r.json()["code"] == "invalid"
    r = applied(kind="recharge", card_no=stored["card_no"], recharge_ids=["R0"], title_id=tid)
    assert r.status_code == 400 and r.json()["code"] == "already_applied"


@pytest.mark.django_db
def test_stored_value_card_that_chose_travel_invoices_refuses_recharge_invoices(world, applied):
    stored = world.cards[1]
    world.bind(world.user, stored)
    world.clearing.post(
        "/api/v1/partner/transits", {"transits": [trip("S1", stored["card_no"], world.when, THREE)]}, format="json"
    )
    item = {
        "recharge_id": "R0",
        "card_no": stored["card_no"],
        "amount": 100,
        "recharged_at": "2026-09-01T10:00:00+08:00",
    }
    world.issuer.post("/api/v1/partner/recharges", {"recharges": [item]}, format="json")
    tid = title(world.user)
    assert applied(card_no=stored["card_no"], title_id=tid).status_code == 202
    r = applied(kind="recharge", card_no=stored["card_no"], recharge_ids=["R0"], title_id=tid)
    assert r.status_code == 400 and r.json()["code"] == "basis_locked"
