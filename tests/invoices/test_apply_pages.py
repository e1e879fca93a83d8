"""我要开票 as a person uses it: the scope is what they did, a confirmation step states what will
be issued, and issuing issues exactly that; stored-value cards get recharge invoices here too."""

from datetime import timedelta

import pytest
from django.urls import reverse

from invoices import services
from invoices.models import Application, CardInvoiceBasis, Invoice, Transit

from .conftest import trip
from .test_apply_preview import MIXED, push_recharges
from .test_invoicing import THREE, push, title

APPLY = "/apply/"


@pytest.fixture
def person(client, world):
    client.force_login(world.user.user)
    return client


def form(world, tid, **extra) -> dict:
    return {"card": world.card_no, "month": "2026-09", "kind": "consumption", "title_id": str(tid)} | extra


@pytest.mark.django_db
def test_ticking_one_trip_issues_only_that_trip(person, world, django_capture_on_commit_callbacks):
    push(world, [("T1", THREE), ("T2", MIXED), ("T3", [("S-A3", 1000)])])
    tid = title(world.user)
    # the form as sent by pressing Enter: no scope button named; the ticks decide
    r = person.post(APPLY, form(world, tid, transit_ids=["T2"], step="preview"))
    body = r.content.decode()
    assert "将开出 4 张发票，价税合计 ¥136.13" in body and "所选的 1 次通行" in body
    assert "丙还贷中心" in body and "不征税" in body and not Application.objects.exists()
    plan = r.context["plan"]
    with django_capture_on_commit_callbacks(execute=True):
        r = person.post(APPLY, form(world, tid, transit_ids=["T2"], step="confirm", plan_digest=plan.digest))
    app = Application.objects.get()
    assert r.status_code == 302 and r["Location"] == reverse("invoices:application", args=[app.pk])
    assert Invoice.objects.count() == 4 and set(
        Invoice.objects.values_list("lines__transit__transit_id", flat=True)
    ) == {"T2"}
    assert dict(Transit.objects.values_list("transit_id", "state")) == {"T1": "open", "T2": "invoiced", "T3": "open"}


@pytest.mark.django_db
def test_whole_month_button_and_ignored_ticks_are_said(person, world, django_capture_on_commit_callbacks):
    push(world, [("T1", THREE), ("T2", MIXED)])
    tid = title(world.user)
    r = person.post(APPLY, form(world, tid, transit_ids=["T1"], scope="month", mode="monthly", step="preview"))
    body = r.content.decode()
    assert "整月：全部 2 次待开票的通行" in body and "您勾选了 1 条通行记录，但点的是“整月开票”" in body
    assert "将开出 4 张发票" in body and "按月汇总" in body
    with django_capture_on_commit_callbacks(execute=True):
        person.post(
            APPLY, form(world, tid, scope="month", mode="monthly", step="confirm", plan_digest=r.context["plan"].digest)
        )
    assert Application.objects.get().invoice_count == 4 == Invoice.objects.count()


@pytest.mark.django_db
def test_selected_button_without_ticks_is_refused(person, world):
    push(world, [("T1", THREE)])
    r = person.post(APPLY, form(world, title(world.user), scope="selected"))
    assert "请先勾选要开票的通行记录" in r.content.decode() and not Application.objects.exists()


@pytest.mark.django_db
def test_confirmation_survives_bad_input(person, world):
    push(world, [("T1", THREE), ("T2", THREE)])
    tid = title(world.user)
    plan = person.post(APPLY, form(world, tid, transit_ids=["T1"])).context["plan"]
    # a tampered trip id: a clear message on the form, nothing issued
    r = person.post(APPLY, form(world, tid, transit_ids=["T1", "NOT-MINE"], step="confirm", plan_digest=plan.digest))
    assert r.status_code == 200 and "有通行记录不属于这张卡的这个月份" in r.content.decode()
    # a tampered digest: the confirmation again, recomputed, with the reason
    r = person.post(APPLY, form(world, tid, transit_ids=["T1"], step="confirm", plan_digest="x" * 32))
    assert "开票内容在您核对之后有了变化" in r.content.decode() and "将开出 3 张发票" in r.content.decode()
    # no digest at all is no confirmation either
    r = person.post(APPLY, form(world, tid, transit_ids=["T1"], step="confirm"))
    assert "开票内容在您核对之后有了变化" in r.content.decode()
    # a forged title, a malformed title, a card that is not theirs
    r = person.post(APPLY, form(world, 999999, transit_ids=["T1"], step="confirm", plan_digest=plan.digest))
    assert "请选择您自己的一个发票抬头" in r.content.decode()
    r = person.post(APPLY, form(world, tid, title_id="abc", transit_ids=["T1"]))
    assert "请选择发票抬头" in r.content.decode()
    assert person.post(APPLY, form(world, tid, card="41010000000000000099", transit_ids=["T1"])).status_code == 404
    # the trip applied for meanwhile (another tab, the App): said so, nothing issued twice
    services.application_submit_consumption(
        user=world.user.user, card_no=world.card_no, month="2026-09", title_id=tid, transit_ids=["T1"]
    )
    r = person.post(APPLY, form(world, tid, transit_ids=["T1"], step="confirm", plan_digest=plan.digest))
    assert "已申请或已开票，请刷新后重新选择" in r.content.decode()
    assert Application.objects.count() == 1


@pytest.mark.django_db
def test_edit_goes_back_to_the_form_as_left(person, world):
    push(world, [("T1", THREE), ("T2", THREE)])
    tid = title(world.user)
    r = person.post(APPLY, form(world, tid, transit_ids=["T2"], mode="monthly", email="a@example.com", step="edit"))
    body = r.content.decode()
    assert 'value="T2" checked' in body and 'value="T1">' in body
    assert 'value="monthly" checked' in body and 'value="a@example.com"' in body


@pytest.mark.django_db
def test_pages_open_on_the_newest_month_with_trips(person, world, settings):
    push(world, [("T1", THREE)])  # September 2026; today is later
    body = person.get(APPLY).content.decode()
    assert '<option value="2026-09" selected>' in body and "甲高速公司" in body
    body = person.get(reverse("invoices:transits")).content.decode()
    assert '<option value="2026-09" selected>' in body and "郑州站" in body
    # an empty month asked for: says from which date trips appear
    body = person.get(APPLY, {"month": "2026-08"}).content.decode()
    assert "没有待开票的通行记录" in body and f"第 {settings.TRANSIT_AVAILABLE_AFTER_DAYS} 个自然日" in body


@pytest.mark.django_db
def test_apply_page_opens_on_the_newest_month_with_open_trips(person, world):
    push(world, [("T1", THREE)])
    world.clearing.post(
        "/api/v1/partner/transits",
        {"transits": [trip("T8", world.card_no, world.when - timedelta(days=30), THREE)]},
        format="json",
    )
    tid = title(world.user)
    services.application_submit_consumption(user=world.user.user, card_no=world.card_no, month="2026-09", title_id=tid)
    assert '<option value="2026-08" selected>' in person.get(APPLY).content.decode()


@pytest.mark.django_db
def test_apply_page_is_a_page_of_fifty_in_fixed_queries(person, world, django_assert_max_num_queries):
    push(world, [("T1", THREE)])
    title(world.user)
    with django_assert_max_num_queries(30) as few:
        person.get(APPLY, {"card": world.card_no, "month": "2026-09"})
    baseline = len(few.captured_queries)
    more = [trip(f"U{i}", world.card_no, world.when + timedelta(hours=i), THREE) for i in range(80)]
    world.clearing.post("/api/v1/partner/transits", {"transits": more}, format="json")
    with django_assert_max_num_queries(baseline):
        r = person.get(APPLY, {"card": world.card_no, "month": "2026-09"})
    body = r.content.decode()
    assert body.count('name="transit_ids"') == 50 and "本月 81 次通行待开票" in body and "下一页" in body


@pytest.fixture
def stored(world):
    card = world.cards[1]
    world.bind(world.user, card)
    push_recharges(
        world, card["card_no"], [("R1", 50000, "2026-08-03T10:00:00+08:00"), ("R2", 20000, "2026-08-20T09:00:00+08:00")]
    )
    return card["card_no"]


@pytest.mark.django_db
def test_stored_value_card_chooses_recharge_invoicing_and_gets_the_invoice(
    person, world, stored, django_capture_on_commit_callbacks
):
    tid = title(world.user)
    body = person.get(APPLY, {"card": stored}).content.decode()
    assert "请选择这张储值卡的开票方式" in body and "选择是最终的" in body and 'name="transit_ids"' not in body
    body = person.get(APPLY, {"card": stored, "basis": "recharge"}).content.decode()
    assert (
        'name="recharge_ids"' in body and "您选择了按充值开票" in body and '<option value="2026-08" selected>' in body
    )
    data = {"card": stored, "month": "2026-08", "kind": "recharge", "title_id": str(tid), "recharge_ids": ["R1"]}
    r = person.post(APPLY, data | {"step": "preview"})
    text = r.content.decode()
    assert "将开出 1 张发票，价税合计 ¥500.00" in text and "确认后，这张卡固定为“按充值开票”" in text
    assert "不征税" in text and not CardInvoiceBasis.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        r = person.post(APPLY, data | {"step": "confirm", "plan_digest": r.context["plan"].digest})
    assert r.status_code == 302
    inv = Invoice.objects.get()
    assert inv.kind == "non_taxable" and inv.seller_name == inv.card.issuer.name and inv.month == "2026-08"
    detail = person.get(reverse("invoices:invoice", args=[inv.pk])).content.decode()
    assert "充值日期" in detail and "通行日期" not in detail and "20260803" in detail
    basis = CardInvoiceBasis.objects.get()
    body = person.get(APPLY, {"card": stored}).content.decode()
    when = f"{basis.fixed_at.year}年"
    assert "已于" in body and when in body and "按充值开票" in body and "不能再更改" in body
    assert "请选择这张储值卡的开票方式" not in body and 'value="R2"' in body and 'value="R1"' not in body
    # and asking for travel invoicing of this card now is refused, with the reason
    body = person.get(APPLY, {"card": stored, "basis": "consumption"}).content.decode()
    assert 'name="transit_ids"' not in body and 'name="recharge_ids"' in body


@pytest.mark.django_db
def test_stored_value_card_that_chose_travel_is_told_so(person, world, stored):
    world.clearing.post(
        "/api/v1/partner/transits", {"transits": [trip("S1", stored, world.when, THREE)]}, format="json"
    )
    tid = title(world.user)
    r = person.post(
        APPLY, {"card": stored, "month": "2026-09", "kind": "consumption", "title_id": str(tid), "scope": "month"}
    )
    assert "确认后，这张卡固定为“按通行开票”" in r.content.decode()
    services.application_submit_consumption(user=world.user.user, card_no=stored, month="2026-09", title_id=tid)
    body = person.get(APPLY, {"card": stored}).content.decode()
    assert "选择“按通行开票”" in body and 'name="recharge_ids"' not in body
    # a forged recharge application from the page: refused with the reason
    r = person.post(
        APPLY, {"card": stored, "kind": "recharge", "title_id": str(tid), "recharge_ids": ["R1"], "month": "2026-08"}
    )
    assert "不能再更改" in r.content.decode() and Application.objects.count() == 1


@pytest.mark.django_db
def test_recharges_page_offers_invoicing(person, world, stored):
    body = person.get(reverse("invoices:recharges"), {"card": stored}).content.decode()
    assert '<option value="2026-08" selected>' in body and f"/apply/?card={stored}" in body


@pytest.mark.documents
@pytest.mark.django_db
def test_recharge_invoice_pdf_prints_recharge_dates(world, stored, django_capture_on_commit_callbacks, tmp_path):
    from .test_documents import pdf_text
    from .test_documents import stored as stored_file

    tid = title(world.user)
    with django_capture_on_commit_callbacks(execute=True):
        services.application_submit_recharge(
            user=world.user.user, card_no=stored, recharge_ids=["R1", "R2"], title_id=tid
        )
    inv = Invoice.objects.get()
    inv.refresh_from_db()
    assert inv.render_status == "rendered", inv.render_error
    data = stored_file(inv.pdf_path)
    (tmp_path.parent / "recharge-invoice.pdf").write_bytes(data)  # for a look with pdftoppm
    text = pdf_text(data)
    assert "充值日期" in text and "通行日期" not in text
    assert "20260803" in text and "20260820" in text and "*预付卡销售*ETC卡充值" in text
    assert inv.seller_name in text and "不征税" in text


@pytest.mark.django_db
def test_a_trip_counts_the_invoices_the_planner_issues(person, world):
    # a zero-fee segment yields no invoice: the trip's count on the page says so too
    push(world, [("T1", [("S-A3", 1000), ("S-B5", 0)])])
    tid = title(world.user)
    body = person.get(APPLY, {"card": world.card_no, "month": "2026-09"}).content.decode()
    assert "按次开 1 张发票" in body and "乙一级公路公司" not in body
    plan = services.application_preview_consumption(
        user=world.user.user, card_no=world.card_no, month="2026-09", title_id=tid, transit_ids=["T1"]
    )
    assert plan.invoice_count == 1
