"""The regimes of toll documents: which kind each share gets by the day the toll was paid, the
numbering of each kind (gap-free and exactly once, under concurrency and crashes), reversal and
re-issue per kind, and the summary sheet of recharges."""

import re
from datetime import date, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import DatabaseError

from cards.models import Binding
from invoices import numbering, regimes, services
from invoices.models import Application, DocumentCounter, Invoice, RedLetterConfirmation
from invoices.regimes import DocumentKind
from tests.helpers.faults import fail_line_writes
from tests.helpers.races import issue_at_once

from .conftest import trip
from .test_invoicing import COMPANY_TAX_ID, THREE, title

pytestmark = pytest.mark.regimes

VAT, FISCAL, DIGITAL = DocumentKind.VAT_E_INVOICE, DocumentKind.FISCAL_E_BILL, DocumentKind.DIGITAL_E_INVOICE


@pytest.mark.parametrize(
    ("day", "name", "loan", "taxable", "days"),
    [
        (date(2018, 5, 1), "2018", VAT, VAT, 10),
        (date(2019, 12, 31), "2018", VAT, VAT, 10),
        (date(2020, 1, 1), "2020", FISCAL, VAT, 7),
        (date(2024, 12, 31), "2020", FISCAL, VAT, 7),
        (date(2025, 1, 1), "digital", FISCAL, DIGITAL, 7),
        (date(2026, 12, 4), "digital", FISCAL, DIGITAL, 7),
    ],
)
def test_the_regime_in_force_at_each_boundary_of_the_default_table(day, name, loan, taxable, days):
    regime = regimes.regime_on(day)
    assert regime.name == name
    assert regimes.document_kind(day=day, taxable=False) == loan
    assert regimes.document_kind(day=day, taxable=True) == taxable
    assert regime.available_after_days == days
    assert regimes.recharge_document_kind(day) == taxable  # the issuer's 不征税 invoice follows the VAT kind
    assert regime.recharge_summary is (name == "2018")
    assert regime.asks_holder_name is (name != "2018")


def test_the_switch_dates_are_settings(settings):
    settings.TOLL_REGIME_2020_FROM = "2021-07-01"
    settings.TOLL_REGIME_DIGITAL_FROM = "2026-09-06"
    assert regimes.regime_on(date(2021, 6, 30)).name == "2018"
    assert regimes.regime_on(date(2021, 7, 1)).name == "2020"
    assert regimes.regime_on(date(2026, 9, 5)).name == "2020"
    assert regimes.regime_on(date(2026, 9, 6)).name == "digital"
    settings.TRANSIT_AVAILABLE_AFTER_DAYS_2020 = 8
    assert regimes.regime_on(date(2026, 9, 6)).available_after_days == 8


def test_switch_dates_out_of_order_or_malformed_stop_the_start(settings):
    settings.TOLL_REGIME_DIGITAL_FROM = "2019-01-01"
    with pytest.raises(SystemCheckError, match="invoices.E002"):
        call_command("check")
    settings.TOLL_REGIME_DIGITAL_FROM = "next year"
    with pytest.raises(SystemCheckError, match="invoices.E001"):
        call_command("check")


def test_number_formats():
    assert numbering.fiscal_code("41", 2026) == "41029926"
    assert numbering.digital_series("41", 2026, "1") == "26411"
    with pytest.raises(ValueError):
        numbering.fiscal_code("4100", 2026)
    with pytest.raises(ValueError):
        numbering.digital_series("41", 2026, "12")


def push(world, specs):
    items = [trip(tid, world.card_no, when, split) for tid, when, split in specs]
    r = world.clearing.post("/api/v1/partner/transits", {"transits": items}, format="json").json()
    assert r["created"] == len(specs), r


@pytest.fixture
def applied(world, django_capture_on_commit_callbacks):
    def apply(client=None, **body):
        client = client or world.user
        body = {"kind": "consumption", "card_no": world.card_no, "month": "2026-09"} | body
        with django_capture_on_commit_callbacks(execute=True):
            r = client.post("/api/v1/app/applications", body, format="json")
        assert r.status_code == 202, r.content
        return Application.objects.get(pk=r.json()["id"])

    return apply


def by_kind(app) -> dict[str, list[Invoice]]:
    out: dict[str, list[Invoice]] = {}
    for inv in app.invoices.order_by("id"):
        out.setdefault(inv.document_kind, []).append(inv)
    return out


@pytest.mark.django_db
def test_a_trip_today_gives_a_fiscal_e_bill_for_the_loan_share_and_digital_invoices_for_the_rest(world, applied):
    push(world, [("T1", world.when, THREE)])
    tid = title(world.user, kind="enterprise", name="演示公司", tax_id=COMPANY_TAX_ID)
    app = applied(title_id=tid, mode="per_trip")
    assert app.status == "issued", app.failure_reason
    kinds = by_kind(app)
    [fiscal] = kinds[FISCAL]
    assert fiscal.kind == "non_taxable" and fiscal.seller_name == "丙还贷中心" and fiscal.total == 500
    assert fiscal.code == "41029926" and fiscal.number == "0000000001"
    assert re.fullmatch(r"[0-9a-f]{6}", fiscal.check_code) and fiscal.machine_no == ""
    digital = kinds[DIGITAL]
    assert sorted(i.seller_name for i in digital) == ["乙一级公路公司", "甲高速公司"]
    for inv in digital:
        assert inv.kind == "taxable" and inv.code == "" and inv.check_code == "" and inv.machine_no == ""
        assert re.fullmatch(r"26411\d{15}", inv.number), inv.number
    assert sorted(int(i.number[5:]) for i in digital) == [1, 2]
    assert VAT not in kinds
    # the summary sheet binds the three documents to the application
    assert app.summary_no and re.fullmatch(r"41\d{14}", app.summary_no)


@pytest.mark.django_db
def test_one_application_may_hold_every_kind_side_by_side(world, applied, settings):
    settings.TOLL_REGIME_DIGITAL_FROM = "2026-09-06"  # the 数电 switch falls inside the month
    before, after = world.when, world.when + timedelta(days=2)
    push(world, [("T1", before, THREE), ("T2", after, THREE)])
    app = applied(title_id=title(world.user), mode="monthly")
    kinds = by_kind(app)
    assert {k: len(v) for k, v in kinds.items()} == {FISCAL: 1, VAT: 2, DIGITAL: 2}
    [fiscal] = kinds[FISCAL]  # one per seller, rate and kind: the loan shares of both trips
    assert [ln.transit.transit_id for ln in fiscal.lines.order_by("seq")] == ["T1", "T2"]
    assert {ln.transit.transit_id for inv in kinds[VAT] for ln in inv.lines.all()} == {"T1"}
    assert {ln.transit.transit_id for inv in kinds[DIGITAL] for ln in inv.lines.all()} == {"T2"}
    for inv in kinds[VAT]:
        assert re.fullmatch(r"0410026\d{3}12", inv.code) and re.fullmatch(r"\d{8}", inv.number)
        assert re.fullmatch(r"\d{20}", inv.check_code) and inv.machine_no
    assert sum(i.total for i in app.invoices.all()) == app.total == 2 * (9733 + 1200 + 500)


@pytest.mark.django_db
def test_the_confirmation_step_says_how_many_documents_of_each_kind(world):
    push(world, [("T1", world.when, THREE)])
    user = Binding.objects.get(card__card_no=world.card_no).user
    plan = services.application_preview_consumption(
        user=user, card_no=world.card_no, month="2026-09", title_id=title(world.user)
    )
    assert plan.document_kinds == [(FISCAL, FISCAL.label, 1), (DIGITAL, DIGITAL.label, 2)]
    shares = {(s.name, s.document_kind) for s in plan.sellers}
    assert shares == {("甲高速公司", DIGITAL), ("乙一级公路公司", DIGITAL), ("丙还贷中心", FISCAL)}


@pytest.mark.django_db
def test_numbers_of_every_kind_follow_on_across_applications_without_gaps(world, applied):
    push(world, [("T1", world.when, THREE)])
    applied(title_id=title(world.user))
    world.bind(world.user, world.cards[1])
    second_card = world.cards[1]["card_no"]
    items = [
        trip("S1", second_card, world.when, THREE),
        trip("S2", second_card, world.when + timedelta(hours=3), THREE),
    ]
    world.clearing.post("/api/v1/partner/transits", {"transits": items}, format="json")
    applied(card_no=second_card, title_id=title(world.user, name="李四"))
    fiscal = sorted(Invoice.objects.filter(document_kind=FISCAL).values_list("code", "number"))
    assert fiscal == [("41029926", f"{n:010d}") for n in range(1, 4)]
    digital = sorted(int(n[5:]) for n in Invoice.objects.filter(document_kind=DIGITAL).values_list("number", flat=True))
    assert digital == list(range(1, 7))
    assert DocumentCounter.objects.get(series="F41029926").next_number == 4


@pytest.mark.django_db
def test_a_failure_mid_issue_takes_back_every_kind_of_number(
    world, applied, monkeypatch, django_capture_on_commit_callbacks
):
    push(world, [(f"T{i}", world.when + timedelta(hours=i), THREE) for i in range(3)])
    monkeypatch.setattr("invoices.tasks.issue_application.delay", lambda *a, **k: None)
    r = world.user.post(
        "/api/v1/app/applications",
        {"kind": "consumption", "card_no": world.card_no, "month": "2026-09", "title_id": title(world.user)},
        format="json",
    )
    app_id = r.json()["id"]
    heal = fail_line_writes(monkeypatch)
    with pytest.raises(DatabaseError):
        services.application_issue(application_id=app_id)
    assert not Invoice.objects.exists()
    assert not DocumentCounter.objects.filter(next_number__gt=1).exists()
    heal()
    services.application_issue(application_id=app_id)
    assert sorted(int(n) for n in Invoice.objects.filter(document_kind=FISCAL).values_list("number", flat=True)) == [
        1,
        2,
        3,
    ]
    digital = sorted(int(n[5:]) for n in Invoice.objects.filter(document_kind=DIGITAL).values_list("number", flat=True))
    assert digital == list(range(1, 7))


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_issuers_at_once_never_share_or_skip_a_fiscal_or_digital_number(world, no_queue):
    push(world, [(f"A{i}", world.when + timedelta(hours=i), THREE) for i in range(8)])
    tid = title(world.user)
    body = {"kind": "consumption", "card_no": world.card_no, "month": "2026-09", "title_id": tid}
    first = world.user.post("/api/v1/app/applications", body, format="json").json()["id"]
    world.bind(world.user, world.cards[1])
    second_card = world.cards[1]["card_no"]
    items = [trip(f"B{i}", second_card, world.when + timedelta(hours=i), THREE) for i in range(8)]
    world.clearing.post("/api/v1/partner/transits", {"transits": items}, format="json")
    second = world.user.post("/api/v1/app/applications", body | {"card_no": second_card}, format="json").json()["id"]
    assert issue_at_once([first, second, first, second]) == []
    assert set(Application.objects.values_list("status", flat=True)) == {"issued"}
    fiscal = sorted(int(n) for n in Invoice.objects.filter(document_kind=FISCAL).values_list("number", flat=True))
    assert fiscal == list(range(1, 17))
    digital = sorted(int(n[5:]) for n in Invoice.objects.filter(document_kind=DIGITAL).values_list("number", flat=True))
    assert digital == list(range(1, 33))


@pytest.mark.django_db
def test_reversing_a_digital_invoice_goes_through_a_red_letter_confirmation(
    world, applied, django_capture_on_commit_callbacks
):
    push(world, [("T1", world.when, [("S-A3", 9733)])])
    app = applied(title_id=title(world.user))
    blue = app.invoices.get()
    assert blue.document_kind == DIGITAL
    with django_capture_on_commit_callbacks(execute=True):
        r = world.user.post(f"/api/v1/app/invoices/{blue.pk}/reverse")
    assert r.status_code == 202, r.content
    red = Invoice.objects.get(red=True)
    confirmation = RedLetterConfirmation.objects.get()
    assert red.document_kind == DIGITAL and re.fullmatch(r"26411\d{15}", red.number) and red.code == ""
    assert (red.total_net, red.total_tax) == (-9450, -283)
    assert confirmation.original == blue and confirmation.red_invoice == red
    assert (confirmation.total_net, confirmation.total_tax) == (9450, 283) and confirmation.reason == "申请红冲"
    assert re.fullmatch(r"26419\d{15}", confirmation.number)
    assert blue.number in red.remarks and confirmation.number in red.remarks
    blue.refresh_from_db()
    assert blue.status == "reversed"


@pytest.mark.django_db
def test_reversing_a_fiscal_e_bill_gives_a_red_fiscal_e_bill_naming_it(
    world, applied, django_capture_on_commit_callbacks
):
    push(world, [("T1", world.when, [("S-C0", 800)])])
    bill = applied(title_id=title(world.user)).invoices.get()
    assert bill.document_kind == FISCAL
    with django_capture_on_commit_callbacks(execute=True):
        assert world.user.post(f"/api/v1/app/invoices/{bill.pk}/reverse").status_code == 202
    red = Invoice.objects.get(red=True)
    assert red.document_kind == FISCAL and red.code == bill.code and red.number == "0000000002"
    assert red.total == -800 and bill.code in red.remarks and bill.number in red.remarks
    assert not RedLetterConfirmation.objects.exists()


@pytest.mark.django_db
def test_title_change_reissues_invoices_but_not_fiscal_e_bills(world, applied, django_capture_on_commit_callbacks):
    push(world, [("T1", world.when, THREE)])
    first = applied(title_id=title(world.user))
    new_title = title(world.user, kind="enterprise", name="演示公司", tax_id=COMPANY_TAX_ID)
    with django_capture_on_commit_callbacks(execute=True):
        r = world.user.post(f"/api/v1/app/applications/{first.pk}/title-change", {"title_id": new_title}, format="json")
    assert r.status_code == 202, r.content
    change = Application.objects.get(pk=r.json()["id"])
    assert change.status == "issued"
    assert {(i.document_kind, i.red) for i in change.invoices.all()} == {(DIGITAL, True), (DIGITAL, False)}
    assert change.invoices.count() == 4 and RedLetterConfirmation.objects.count() == 2
    bill = first.invoices.get(document_kind=FISCAL)
    assert bill.status == "normal" and bill.buyer_name == "张三"
    # an application of fiscal e-bills alone cannot be re-issued under another title
    push(world, [("T2", world.when + timedelta(days=1), [("S-C0", 700)])])
    only_fiscal = applied(title_id=title(world.user, name="王五"), transit_ids=["T2"])
    r = world.user.post(
        f"/api/v1/app/applications/{only_fiscal.pk}/title-change", {"title_id": new_title}, format="json"
    )
    assert r.status_code == 400 and r.json()["code"] == "fiscal_not_changeable"
    assert "通行前" in r.json()["message"]


@pytest.mark.django_db
def test_past_invoices_keep_their_kind_when_the_rules_change(
    world, applied, settings, django_capture_on_commit_callbacks
):
    settings.TOLL_REGIME_2020_FROM = settings.TOLL_REGIME_DIGITAL_FROM = "2999-01-01"
    push(world, [("T1", world.when, THREE)])
    app = applied(title_id=title(world.user))
    assert set(app.invoices.values_list("document_kind", flat=True)) == {VAT}
    settings.TOLL_REGIME_2020_FROM, settings.TOLL_REGIME_DIGITAL_FROM = "2020-01-01", "2025-01-01"
    loan = app.invoices.get(kind="non_taxable")
    with django_capture_on_commit_callbacks(execute=True):
        assert world.user.post(f"/api/v1/app/invoices/{loan.pk}/reverse").status_code == 202
    red = Invoice.objects.get(red=True)
    assert red.document_kind == VAT and re.fullmatch(r"0410026\d{3}12", red.code)
    assert set(Invoice.objects.filter(red=False).values_list("document_kind", flat=True)) == {VAT}


@pytest.mark.django_db
def test_recharges_get_no_summary_sheet_from_2020_and_one_before(world, applied):
    stored = world.cards[1]
    world.bind(world.user, stored)

    def recharge(rid, when):
        body = {
            "recharges": [{"recharge_id": rid, "card_no": stored["card_no"], "amount": 50000, "recharged_at": when}]
        }
        assert world.issuer.post("/api/v1/partner/recharges", body, format="json").json()["created"] == 1

    recharge("R1", "2026-09-02T10:00:00+08:00")
    tid = title(world.user)
    app = applied(kind="recharge", card_no=stored["card_no"], recharge_ids=["R1"], title_id=tid)
    [inv] = app.invoices.all()
    assert app.status == "issued" and app.summary_no is None
    assert inv.document_kind == DIGITAL and inv.kind == "non_taxable" and inv.total == 50000
    recharge("R0", "2019-06-02T10:00:00+08:00")
    old = applied(kind="recharge", card_no=stored["card_no"], recharge_ids=["R0"], title_id=tid)
    assert old.summary_no and old.invoices.get().document_kind == VAT
