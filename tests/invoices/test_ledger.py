"""The finance ledger: rows, totals, the deductible tax (taxable invoices with an enterprise title
only, red-letter invoices netted) and why a row is not deductible, CSV and Excel, its filters and
who may have it."""

import csv
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from invoices import ledger, tasks
from invoices.models import Invoice

from . import test_invoicing
from .test_invoicing import COMPANY_TAX_ID, THREE, push, title

applied = test_invoicing.applied  # the fixture that submits and issues through the App API


@pytest.fixture(autouse=True)
def _no_rendering(monkeypatch):
    """The ledger reads invoice rows only; their PDFs are beside the point here."""
    monkeypatch.setattr(tasks.render_invoice, "delay", lambda *a: None)
    monkeypatch.setattr(tasks.render_summary, "delay", lambda *a: None)


@pytest.fixture
def books(world, applied, django_capture_on_commit_callbacks):
    """3 % taxable 97.33 (tax 2.83), 5 % taxable 12.00 (tax 0.57), 不征税 5.00; then the 97.33
    one reversed by a red-letter invoice."""
    push(world, [("T1", THREE)])
    app_id = applied(
        title_id=title(world.user, kind="enterprise", name="演示科技有限公司", tax_id=COMPANY_TAX_ID)
    ).json()["id"]
    big = Invoice.objects.get(total=9733)
    with django_capture_on_commit_callbacks(execute=True):
        assert world.user.post(f"/api/v1/app/invoices/{big.pk}/reverse").status_code == 202
    return app_id


def read_csv(response) -> list[list[str]]:
    content = b"".join(response.streaming_content)
    assert content.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel opens Chinese text right
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


@pytest.mark.django_db
def test_csv_rows_and_totals_with_the_red_letter_invoice_netted(world, books):
    r = world.user.get("/api/v1/app/invoices/ledger", {"format": "csv", "month": "2026-09"})
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    assert 'filename="ledger-2026-09.csv"' in r["Content-Disposition"]
    rows = read_csv(r)
    header, body, total, deductible = rows[0], rows[1:-2], rows[-2], rows[-1]
    assert header == ledger.header() and header[14] == "可抵扣税额" and header[17] == "抵扣说明"
    assert {len(row) for row in rows} == {19} and header[18] == "票据种类"
    assert {row[18] for row in rows[1:-2]} == {"增值税电子普通发票（通行费）"}  # one kind: no subtotals
    assert len(body) == 4
    by_number = {row[1]: row for row in body}
    for inv in Invoice.objects.all():
        row = by_number[inv.number]
        assert row[0] == inv.code and row[2] == inv.issued_on.isoformat() and row[3] == inv.seller_name
        assert row[5] == "演示科技有限公司" and row[6] == COMPANY_TAX_ID
    red = Invoice.objects.get(red=True)
    red_row = by_number[red.number]
    assert red_row[8] == "是" and red_row[10:15] == ["-94.50", "3%", "-2.83", "-97.33", "-2.83"]
    assert red_row[17] == "红字发票：冲减原发票的可抵扣税额"
    non_taxable = by_number[Invoice.objects.get(kind="non_taxable").number]
    assert non_taxable[10:15] == ["5.00", "不征税", "0.00", "5.00", "0.00"]
    assert non_taxable[17] == "不征税发票：不可抵扣"
    original = by_number[red.original.number]
    assert original[9] == "已红冲" and original[14] == "2.83" and original[17] == "征税发票，单位抬头：可抵扣"
    five = by_number[Invoice.objects.get(total=1200).number]
    assert five[10:15] == ["11.43", "5%", "0.57", "12.00", "0.57"] and five[17] == "征税发票，单位抬头：可抵扣"
    # 2.83 + 0.57 − 2.83: only the 5 % invoice's tax is left to deduct; the 不征税 one never counts
    assert total[0] == "合计" and total[1] == "4 张"
    assert total[10] == "16.43" and total[12] == "0.57" and total[13] == "17.00" and total[14] == "0.57"
    assert deductible[0] == "可抵扣税额合计（单位抬头的征税发票，红字发票已冲减）" and deductible[14] == "0.57"
    assert deductible[17] == "财政电子票据、不征税发票和个人抬头的发票不可抵扣"


@pytest.mark.django_db
def test_xlsx_has_the_same_rows_as_numbers(world, books):
    r = world.user.get("/api/v1/app/invoices/ledger", {"format": "xlsx", "card_no": world.card_no})
    assert r.status_code == 200
    assert r["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    workbook = load_workbook(io.BytesIO(b"".join(r.streaming_content)))
    sheet = workbook["发票台账"]
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[0] == ledger.header() and len(rows) == 1 + 4 + 2
    assert sorted(row[17] for row in rows[1:5]) == sorted(
        [
            "征税发票，单位抬头：可抵扣",
            "征税发票，单位抬头：可抵扣",
            "不征税发票：不可抵扣",
            "红字发票：冲减原发票的可抵扣税额",
        ]
    )
    amounts = [row[12] for row in rows[1:5]]
    assert all(isinstance(a, (int, float, Decimal)) for a in amounts)
    assert sorted(float(a) for a in amounts) == [-2.83, 0.0, 0.57, 2.83]
    assert float(rows[-2][14]) == 0.57 and float(rows[-1][14]) == 0.57 and rows[-2][1] == "4 张"


def by_number(rows: list[list[str]]) -> dict[str, list[str]]:
    return {row[1]: row for row in rows[1:-2]}


@pytest.mark.django_db
def test_a_personal_title_deducts_nothing_and_says_why(world, applied, django_capture_on_commit_callbacks):
    """The same trip on a personal title: the two taxable invoices carry tax (2.83, 0.57) but no
    deductible tax, and the red-letter invoice of one takes back nothing."""
    push(world, [("T1", THREE)])
    assert applied(title_id=title(world.user, kind="personal", name="张三")).status_code == 202
    big = Invoice.objects.get(total=9733)
    with django_capture_on_commit_callbacks(execute=True):
        assert world.user.post(f"/api/v1/app/invoices/{big.pk}/reverse").status_code == 202
    rows = read_csv(world.user.get("/api/v1/app/invoices/ledger", {"month": "2026-09"}))
    body = by_number(rows)
    assert len(body) == 4
    row = body[big.number]
    assert row[5:7] == ["张三", ""] and row[10:15] == ["94.50", "3%", "2.83", "97.33", "0.00"]
    assert row[17] == "个人抬头（无纳税人识别号）：不可抵扣"
    row = body[Invoice.objects.get(total=1200).number]
    assert row[10:15] == ["11.43", "5%", "0.57", "12.00", "0.00"] and row[17] == "个人抬头（无纳税人识别号）：不可抵扣"
    row = body[Invoice.objects.get(kind="non_taxable").number]
    assert row[10:15] == ["5.00", "不征税", "0.00", "5.00", "0.00"] and row[17] == "不征税发票：不可抵扣"
    row = body[Invoice.objects.get(red=True).number]
    assert (
        row[10:15] == ["-94.50", "3%", "-2.83", "-97.33", "0.00"] and row[17] == "红字发票，原发票为个人抬头：不可抵扣"
    )
    total, deductible = rows[-2], rows[-1]
    assert total[1] == "4 张" and total[12] == "0.57" and total[13] == "17.00"
    assert total[14] == "0.00" and deductible[14] == "0.00"


@pytest.mark.django_db
def test_a_title_change_from_personal_to_enterprise(world, applied, django_capture_on_commit_callbacks):
    """Personal → enterprise by 换票: the red-letter invoices of the personal ones take back 0,
    the new enterprise invoices deduct their tax: 2.83 + 0.57 in all."""
    push(world, [("T1", THREE)])
    first = applied(title_id=title(world.user, kind="personal", name="张三")).json()["id"]
    company = title(world.user, kind="enterprise", name="演示科技有限公司", tax_id=COMPANY_TAX_ID)
    with django_capture_on_commit_callbacks(execute=True):
        r = world.user.post(f"/api/v1/app/applications/{first}/title-change", {"title_id": company}, format="json")
    assert r.status_code == 202
    change = r.json()["id"]
    rows = read_csv(world.user.get("/api/v1/app/invoices/ledger", {"month": "2026-09"}))
    body = list(by_number(rows).values())
    assert len(body) == 9  # 3 personal (reversed), 3 red-letter, 3 new
    deductible = {(row[5], row[8], row[11]): (row[14], row[17]) for row in body}
    assert deductible == {
        ("张三", "否", "3%"): ("0.00", "个人抬头（无纳税人识别号）：不可抵扣"),
        ("张三", "否", "5%"): ("0.00", "个人抬头（无纳税人识别号）：不可抵扣"),
        ("张三", "否", "不征税"): ("0.00", "不征税发票：不可抵扣"),
        ("张三", "是", "3%"): ("0.00", "红字发票，原发票为个人抬头：不可抵扣"),
        ("张三", "是", "5%"): ("0.00", "红字发票，原发票为个人抬头：不可抵扣"),
        ("张三", "是", "不征税"): ("0.00", "红字发票，原发票为不征税发票：不可抵扣"),
        ("演示科技有限公司", "否", "3%"): ("2.83", "征税发票，单位抬头：可抵扣"),
        ("演示科技有限公司", "否", "5%"): ("0.57", "征税发票，单位抬头：可抵扣"),
        ("演示科技有限公司", "否", "不征税"): ("0.00", "不征税发票：不可抵扣"),
    }
    assert rows[-2][1] == "9 张" and rows[-2][13] == "114.33" and rows[-1][14] == "3.40"
    # the title change's own application: the red-letter invoices and the new ones
    rows = read_csv(world.user.get("/api/v1/app/invoices/ledger", {"application_id": change}))
    assert rows[-2][1] == "6 张" and rows[-2][12] == "0.00" and rows[-1][14] == "3.40"
    # and an enterprise original reversed by 换票 to a personal title nets to 0
    personal = title(world.user, kind="personal", name="李四")
    with django_capture_on_commit_callbacks(execute=True):
        r = world.user.post(f"/api/v1/app/applications/{change}/title-change", {"title_id": personal}, format="json")
    assert r.status_code == 202, r.content
    rows = read_csv(world.user.get("/api/v1/app/invoices/ledger", {"month": "2026-09"}))
    assert rows[-2][1] == "15 张" and rows[-1][14] == "0.00"


@pytest.mark.django_db
def test_by_application_month_and_card(world, books):
    first_app = books
    rows = read_csv(world.user.get("/api/v1/app/invoices/ledger", {"application_id": first_app}))
    body = rows[1:-2]
    assert len(body) == 3 and "是" not in [row[8] for row in body]  # the reversal is another application
    assert rows[-1][14] == "3.40"  # 2.83 + 0.57 on the original application alone
    rows = read_csv(world.user.get("/api/v1/app/invoices/ledger", {"month": "2026-08"}))
    assert rows[1:-2] == [] and rows[-2][1] == "0 张" and rows[-1][14] == "0.00"
    collected, totals = ledger.collect(world.user.user, ledger.ledger_filter(world.user.user, card_no=world.card_no))
    assert len(collected) == 4 and (totals.count, totals.tax, totals.deductible, totals.total) == (4, 57, 57, 1700)


@pytest.mark.django_db
def test_refusals(world, books, app_client):
    get = world.user.get
    r = get("/api/v1/app/invoices/ledger", {"format": "pdf"})
    assert r.status_code == 400 and r.json()["errors"] == {"format": ["取值无效。"]}
    assert get("/api/v1/app/invoices/ledger", {"month": "2026-13"}).status_code == 400
    assert get("/api/v1/app/invoices/ledger", {"month": "2026-9"}).status_code == 400
    assert get("/api/v1/app/invoices/ledger", {"application_id": "x"}).status_code == 400
    assert get("/api/v1/app/invoices/ledger", {"application_id": "99999999999999999999999"}).status_code == 404
    assert get("/api/v1/app/invoices/ledger", {"card_no": "41010000000000000002"}).status_code == 404  # not theirs
    other = app_client()
    assert other.get("/api/v1/app/invoices/ledger", {"application_id": books}).status_code == 404
    rows = read_csv(other.get("/api/v1/app/invoices/ledger"))
    assert rows[1:-2] == [] and rows[-2][1] == "0 张"  # nobody else's invoices
    assert len(read_csv(world.user.get("/api/v1/app/invoices/ledger"))) == 1 + 4 + 2  # no filter: all of theirs


@pytest.mark.django_db
def test_the_ledger_from_the_invoices_page(client, world, books):
    client.force_login(world.user.user)
    listing = client.get(reverse("invoices:list"), {"card": world.card_no, "month": "2026-09"}).content.decode()
    assert f"{reverse('invoices:ledger')}?format=xlsx&amp;card={world.card_no}&amp;month=2026-09" in listing
    r = client.get(reverse("invoices:ledger"), {"format": "csv", "card": world.card_no, "month": "2026-09"})
    assert r.status_code == 200 and len(read_csv(r)) == 1 + 4 + 2
    r = client.get(reverse("invoices:ledger"), {"format": "xlsx", "application": books})
    assert (
        r.status_code == 200
        and load_workbook(io.BytesIO(b"".join(r.streaming_content)))["发票台账"].max_row == 1 + 3 + 2
    )
    r = client.get(reverse("invoices:ledger"), {"month": "bad"})
    assert r.status_code == 400 and "YYYY-MM" in r.content.decode()
    client.logout()
    assert client.get(reverse("invoices:ledger")).status_code == 302  # to the login page


@pytest.mark.parametrize(
    "text, safe", [("=1+1", "'=1+1"), ("+86", "'+86"), ("@SUM(A1)", "'@SUM(A1)"), ("演示公司", "演示公司")]
)
def test_text_never_becomes_a_spreadsheet_formula(text, safe):
    assert ledger.safe_text(text) == safe


# --- every kind of document ---------------------------------------------------------------------


@pytest.fixture
def mixed_books(world, applied, settings, django_capture_on_commit_callbacks):
    """Under an enterprise title: a trip of September 2026 under the 数电 rules (a fiscal e-bill
    for the loan road, two 数电 invoices, the 97.33 one then reversed through a 红字确认 record) and
    a trip of the same month under the 2020 rules' VAT invoice (the 数电 switch set after it)."""
    from datetime import timedelta

    from .conftest import trip

    settings.TOLL_REGIME_2020_FROM = "2020-01-01"
    settings.TOLL_REGIME_DIGITAL_FROM = "2026-09-06"
    early = trip("T0", world.card_no, world.when, [("S-A3", 2060)])
    late = trip("T1", world.card_no, world.when + timedelta(days=1), THREE)
    r = world.clearing.post("/api/v1/partner/transits", {"transits": [early, late]}, format="json").json()
    assert r["created"] == 2, r
    applied(title_id=title(world.user, kind="enterprise", name="演示科技有限公司", tax_id=COMPANY_TAX_ID))
    big = Invoice.objects.get(total=9733)
    with django_capture_on_commit_callbacks(execute=True):
        assert world.user.post(f"/api/v1/app/invoices/{big.pk}/reverse").status_code == 202


@pytest.mark.regimes
@pytest.mark.django_db
def test_every_kind_in_the_ledger_with_its_deductible_tax_and_subtotals_to_the_fen(world, mixed_books):
    kinds = dict(Invoice.objects.values_list("number", "document_kind"))
    assert sorted(kinds.values()) == sorted(
        ["vat_e_invoice", "fiscal_e_bill", "digital_e_invoice", "digital_e_invoice", "digital_e_invoice"]
    )
    rows = read_csv(world.user.get("/api/v1/app/invoices/ledger", {"format": "csv", "month": "2026-09"}))
    body, subtotals, total, deductible = rows[1:6], rows[6:9], rows[-2], rows[-1]
    assert {len(row) for row in rows} == {19} and len(rows) == 1 + 5 + 3 + 2
    labels = {"vat_e_invoice": "增值税电子普通发票（通行费）", "fiscal_e_bill": "通行费财政电子票据"}
    labels["digital_e_invoice"] = "电子发票（普通发票）"
    for row in body:
        assert row[18] == labels[kinds[row[1]]]
    by_total = {row[13]: row for row in body}
    # the fiscal e-bill: never deductible, whatever the title
    fiscal = by_total["5.00"]
    assert fiscal[18] == "通行费财政电子票据" and fiscal[14] == "0.00" and fiscal[17] == "财政电子票据：不可抵扣"
    assert fiscal[0] and len(fiscal[0]) == 8 and len(fiscal[1]) == 10
    # the 数电 invoices: no code, deductible with the enterprise title; the red one takes its tax back
    five = by_total["12.00"]
    assert five[0] == "" and len(five[1]) == 20 and five[14] == "0.57" and five[17] == "征税发票，单位抬头：可抵扣"
    assert by_total["97.33"][14] == "2.83" and by_total["97.33"][9] == "已红冲"
    red = by_total["-97.33"]
    assert red[18] == "电子发票（普通发票）" and red[14] == "-2.83" and red[17] == "红字发票：冲减原发票的可抵扣税额"
    # the VAT invoice of the day before the switch: 20.60 at 3% = 20.00 + 0.60
    vat = by_total["20.60"]
    assert vat[18] == "增值税电子普通发票（通行费）" and len(vat[0]) == 12 and vat[14] == "0.60"
    # a subtotal per kind, in the table's order, adding up to the totals to the fen
    assert [s[0] for s in subtotals] == [
        "小计：增值税电子普通发票（通行费）",
        "小计：通行费财政电子票据",
        "小计：电子发票（普通发票）",
    ]
    assert [s[1] for s in subtotals] == ["1 张", "1 张", "3 张"]
    assert [(s[12], s[13], s[14]) for s in subtotals] == [
        ("0.60", "20.60", "0.60"),
        ("0.00", "5.00", "0.00"),
        ("0.57", "12.00", "0.57"),
    ]
    assert total[1] == "5 张" and total[13] == "37.60" and total[14] == deductible[14] == "1.17"

    def fen(text: str) -> int:
        return int(Decimal(text) * 100)

    for column in (10, 12, 13, 14):
        assert sum(fen(s[column]) for s in subtotals) == fen(total[column]) == sum(fen(r[column]) for r in body)
    assert fen(total[13]) == sum(Invoice.objects.values_list("total", flat=True))


@pytest.mark.regimes
@pytest.mark.django_db
def test_the_xlsx_carries_the_kind_and_the_subtotals_as_numbers(world, mixed_books):
    r = world.user.get("/api/v1/app/invoices/ledger", {"format": "xlsx", "month": "2026-09"})
    rows = [
        list(row)
        for row in load_workbook(io.BytesIO(b"".join(r.streaming_content)))["发票台账"].iter_rows(values_only=True)
    ]
    assert rows[0][18] == "票据种类" and len(rows) == 1 + 5 + 3 + 2
    assert sorted(row[18] for row in rows[1:6]).count("电子发票（普通发票）") == 3
    assert [float(s[14]) for s in rows[6:9]] == [0.6, 0.0, 0.57] and float(rows[-2][14]) == 1.17


@pytest.mark.regimes
@pytest.mark.django_db
def test_the_self_service_diagnosis_follows_the_ledgers_rule_for_every_kind(world, mixed_books):
    from support.diagnosis import invoice_tax

    user = world.user.user
    by_total = {inv.total: inv for inv in Invoice.objects.all()}
    fiscal = invoice_tax(user, by_total[500].pk)
    assert not fiscal.deductible and fiscal.deductible_tax == 0 and not fiscal.taxable
    assert any("财政电子票据" in reason for reason in fiscal.reasons)
    digital = invoice_tax(user, by_total[1200].pk)
    assert digital.deductible and digital.deductible_tax == 57 and digital.rates == [5]
    vat = invoice_tax(user, by_total[2060].pk)
    assert vat.deductible and vat.deductible_tax == 60
    reversed_one, red = invoice_tax(user, by_total[9733].pk), invoice_tax(user, by_total[-9733].pk)
    assert not reversed_one.deductible and any("已被红冲" in r for r in reversed_one.reasons)
    assert not red.deductible and any("红字发票" in r for r in red.reasons)
