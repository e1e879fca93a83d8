"""The finance ledger of a period across every card of the account: every document of the
months from/to, its deductible tax by the ledger's one rule, and per-seller and per-rate
subtotals that match the documents to the fen (sums computed here, independently, from the
invoice and line rows)."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from invoices import ledger, services
from invoices.models import Invoice, InvoiceLine
from invoices.tax import rate_label

from .test_batches import add_cards, push_trips
from .test_invoicing import COMPANY_TAX_ID, THREE, title

API = "/api/v1/app/ledger"
PERIOD = {"from": "2026-08", "to": "2026-10"}


def run(capture, fn, **kwargs):
    with capture(execute=True):
        app = fn(**kwargs)
    app.refresh_from_db()
    assert app.status == "issued", app.failure_reason
    return app


@pytest.fixture
def books(world, app_client, django_capture_on_commit_callbacks):
    """Three cards, four months. In the period (2026-08 to 2026-10): card 1's September per trip
    under the company (one invoice then reversed), card 2's August monthly under the company,
    card 1's October under a personal title. Outside it: card 3's November. And another
    account's September, which is never theirs."""
    user = world.user.user
    [second, third] = add_cards(world, [41, 42])
    company = title(world.user, kind="enterprise", name="演示物流有限公司", tax_id=COMPANY_TAX_ID)
    person = title(world.user, name="王五")
    push_trips(world, world.card_no, [("S1", THREE), ("S2", [("S-C0", 700), ("S-C9", 2180)])])
    push_trips(world, second, [("A1", THREE), ("A2", [("S-A3", 1999)])], when=world.when - timedelta(days=20))
    push_trips(world, world.card_no, [("O1", [("S-B5", 1234), ("S-C9", 333)])], when=world.when + timedelta(days=30))
    push_trips(world, third, [("N1", THREE)], when=world.when + timedelta(days=60))
    submit = services.application_submit_consumption
    sep = run(
        django_capture_on_commit_callbacks, submit, user=user, card_no=world.card_no, month="2026-09", title_id=company
    )
    run(
        django_capture_on_commit_callbacks,
        submit,
        user=user,
        card_no=second,
        month="2026-08",
        title_id=company,
        mode="monthly",
    )
    run(django_capture_on_commit_callbacks, submit, user=user, card_no=world.card_no, month="2026-10", title_id=person)
    run(django_capture_on_commit_callbacks, submit, user=user, card_no=third, month="2026-11", title_id=company)
    big = Invoice.objects.get(application=sep, total=9733)
    run(django_capture_on_commit_callbacks, services.invoice_reverse, user=user, invoice_id=big.pk)
    other = app_client()
    [theirs] = add_cards(world, [43], client=other)
    push_trips(world, theirs, [("X1", THREE)])
    run(
        django_capture_on_commit_callbacks,
        submit,
        user=other.user,
        card_no=theirs,
        month="2026-09",
        title_id=title(other, kind="enterprise", name="别家公司", tax_id=COMPANY_TAX_ID),
    )
    return world


def read_csv(response) -> list[list[str]]:
    content = b"".join(response.streaming_content)
    assert content.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def yuan(fen: int) -> str:
    return str((Decimal(fen) / 100).quantize(Decimal("0.01")))


def deductible(inv: Invoice) -> bool:
    """The rule as the tax office states it, written out here: taxable, enterprise title, not a
    fiscal e-bill."""
    return inv.kind == "taxable" and bool(inv.buyer_tax_id) and inv.document_kind != "fiscal_e_bill"


def expected(user) -> tuple[list[Invoice], dict, dict]:
    invoices = list(Invoice.objects.filter(user=user, month__gte="2026-08", month__lte="2026-10"))
    sellers: dict = defaultdict(lambda: [0, 0, 0, 0, 0])
    for inv in invoices:
        s = sellers[(inv.seller_name, inv.seller_tax_id)]
        s[0] += 1
        s[1] += inv.total_net
        s[2] += inv.total_tax
        s[3] += inv.total
        s[4] += inv.total_tax if deductible(inv) else 0
    rates: dict = defaultdict(lambda: [set(), 0, 0, 0, 0])
    by_id = {inv.pk: inv for inv in invoices}
    for line in InvoiceLine.objects.filter(invoice_id__in=list(by_id)):
        r = rates[line.rate]
        r[0].add(line.invoice_id)
        r[1] += line.net
        r[2] += line.tax
        r[3] += line.net + line.tax
        r[4] += line.tax if deductible(by_id[line.invoice_id]) else 0
    return invoices, dict(sellers), {k: [len(v[0]), *v[1:]] for k, v in rates.items()}


@pytest.mark.django_db
def test_the_period_across_every_card_with_subtotals_to_the_fen(books):
    r = books.user.get(API, PERIOD | {"format": "csv"})
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    assert 'filename="ledger-2026-08_2026-10.csv"' in r["Content-Disposition"]
    rows = read_csv(r)
    assert rows[0] == ledger.header()
    invoices, sellers, rates = expected(books.user.user)
    assert len({i.card_id for i in invoices}) == 2 and {i.month for i in invoices} == {"2026-08", "2026-09", "2026-10"}
    body = [row for row in rows[1:] if row[1] and row[0] and row[0][0].isdigit()]
    assert sorted(row[1] for row in body) == sorted(i.number for i in invoices)  # every document, no other
    assert not any(row[16] == "2026-11" for row in body) and not any(row[5] == "别家公司" for row in body)

    seller_lines = [row for row in rows if row[0] == "小计（销售方）"]
    rate_lines = [row for row in rows if row[0] == "小计（税率）"]
    assert {(row[3], row[4]): [row[1], row[10], row[12], row[13], row[14]] for row in seller_lines} == {
        key: [f"{n} 张", yuan(net), yuan(tax), yuan(total), yuan(ded)]
        for key, (n, net, tax, total, ded) in sellers.items()
    }
    assert {row[11]: [row[1], row[10], row[12], row[13], row[14]] for row in rate_lines} == {
        rate_label(rate): [f"{n} 张", yuan(net), yuan(tax), yuan(total), yuan(ded)]
        for rate, (n, net, tax, total, ded) in rates.items()
    }
    assert len(seller_lines) == 3 and len(rate_lines) == 4  # 3 %, 5 %, 9 % and 不征税
    [total] = [row for row in rows if row[0] == "合计"]
    grand = [sum(i.total_net for i in invoices), sum(i.total_tax for i in invoices), sum(i.total for i in invoices)]
    grand_ded = sum(i.total_tax for i in invoices if deductible(i))
    assert total[1] == f"{len(invoices)} 张" and total[10] == yuan(grand[0]) and total[12] == yuan(grand[1])
    assert total[13] == yuan(grand[2]) and total[14] == yuan(grand_ded)
    # the subtotals add up to the totals, both ways
    for column in (10, 12, 13, 14):
        for lines in (seller_lines, rate_lines):
            assert sum(Decimal(row[column]) for row in lines) == Decimal(total[column])
    # the reversal took back exactly what its original counted; the personal title counted nothing
    red = Invoice.objects.get(user=books.user.user, red=True)
    red_row = next(row for row in body if row[1] == red.number)
    assert red_row[14] == "-2.83" and red_row[17] == "红字发票：冲减原发票的可抵扣税额"
    personal = [row for row in body if row[5] == "王五"]
    assert personal and {row[14] for row in personal} == {"0.00"}
    assert grand_ded == sum(i.total_tax for i in invoices if i.buyer_tax_id and i.kind == "taxable") > 0


@pytest.mark.django_db
def test_the_xlsx_carries_the_same_subtotals_as_numbers(books):
    csv_rows = read_csv(books.user.get(API, PERIOD))  # csv is the default
    r = books.user.get(API, PERIOD | {"format": "xlsx"})
    assert r.status_code == 200
    assert r["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load_workbook(io.BytesIO(b"".join(r.streaming_content)))["发票台账"]
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert len(rows) == len(csv_rows)
    for x_row, c_row in zip(rows, csv_rows, strict=True):
        if c_row[0] in ("小计（销售方）", "小计（税率）", "合计"):
            assert x_row[0] == c_row[0]
            for column in (10, 12, 13, 14):
                assert isinstance(x_row[column], (int, float, Decimal))
                assert Decimal(str(x_row[column])).quantize(Decimal("0.01")) == Decimal(c_row[column])


@pytest.mark.django_db
def test_refusals(books, app_client):
    def refused(params, field):
        r = books.user.get(API, params)
        assert r.status_code == 400 and r.json()["code"] == "invalid", r.content
        assert field in r.json()["errors"], r.json()

    refused({"to": "2026-10"}, "from")
    refused({"from": "2026-08"}, "to")
    refused({"from": "2026-8", "to": "2026-10"}, "from")
    refused({"from": "2026-08", "to": "2026-13"}, "to")
    refused({"from": "2026-10", "to": "2026-08"}, "from")  # backwards
    refused({"from": "2024-10", "to": "2026-10"}, "to")  # 25 months
    refused(PERIOD | {"format": "pdf"}, "format")
    assert books.user.get(API, {"from": "2024-11", "to": "2026-10"}).status_code == 200  # 24 months
    # too many documents for one file: refused, never cut short
    cap = ledger.MAX_ROWS
    try:
        ledger.MAX_ROWS = 3
        r = books.user.get(API, PERIOD)
        assert r.status_code == 400 and r.json()["code"] == "too_many_rows"
    finally:
        ledger.MAX_ROWS = cap
    # nobody else's documents; a stranger's ledger of the same period is empty
    rows = read_csv(app_client().get(API, PERIOD))
    assert [row for row in rows if row[0] == "合计"][0][1] == "0 张"
    from rest_framework.test import APIClient

    assert APIClient().get(API, PERIOD).status_code == 401


@pytest.mark.django_db
def test_the_period_ledger_from_the_invoices_page(client, books):
    client.force_login(books.user.user)
    page = client.get(reverse("invoices:list")).content.decode()
    assert f'action="{reverse("invoices:period_ledger")}"' in page and 'name="from"' in page and 'name="to"' in page
    r = client.get(reverse("invoices:period_ledger"), PERIOD | {"format": "csv"})
    assert r.status_code == 200 and any(row[0] == "小计（销售方）" for row in read_csv(r))
    r = client.get(reverse("invoices:period_ledger"), {"from": "2026-10", "to": "2026-08"})
    assert r.status_code == 400 and "起始月份不能晚于结束月份" in r.content.decode()
    client.logout()
    assert client.get(reverse("invoices:period_ledger"), PERIOD).status_code == 302


def test_a_period_names_each_of_its_months_across_a_year_end():
    from invoices.ledger import period_months

    assert period_months("2025-11", "2026-02") == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert period_months("2026-09", "2026-09") == ["2026-09"]
    assert len(period_months("2025-01", "2026-12")) == 24
