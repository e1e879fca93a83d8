"""Verification of every kind of document with that kind's inputs: a fiscal e-bill by code,
number, date and check code; a 数电 invoice by number, date and 价税合计 (negative for a red-letter
one); the kind chosen or read from the number's length; every refusal; the daily limits per kind;
the page; and the kind in the Invoice JSON of the App, the enterprise feed, the verification
answer and the schema."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from invoices import verification
from invoices.api.invoicing import invoice_json
from invoices.models import Invoice, RedLetterConfirmation, VerificationCounter
from invoices.regimes import DocumentKind

from . import test_invoicing
from .test_invoicing import COMPANY_TAX_ID, THREE, push, title

pytestmark = pytest.mark.regimes

applied = test_invoicing.applied  # the fixture that submits and issues through the App API
URL = "/api/v1/verify"
VAT, FISCAL, DIGITAL = DocumentKind.VAT_E_INVOICE, DocumentKind.FISCAL_E_BILL, DocumentKind.DIGITAL_E_INVOICE


def yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def params(inv: Invoice, **override) -> dict:
    """What a person holding the document types, by its kind."""
    day = inv.issued_on.strftime("%Y%m%d")
    if inv.document_kind == DIGITAL:
        base = {"number": inv.number, "date": day, "total": yuan(inv.total)}
    elif inv.document_kind == FISCAL:
        base = {"code": inv.code, "number": inv.number, "date": day, "check": inv.check_code}
    else:
        base = {"code": inv.code, "number": inv.number, "date": day, "check": inv.check_code[-6:]}
    return {k: v for k, v in (base | override).items() if v is not None}


def wrong(inv: Invoice) -> dict:
    """The kind's second input, wrong."""
    if inv.document_kind == DIGITAL:
        return {"total": yuan(inv.total + 1)}
    if inv.document_kind == FISCAL:
        return {"check": "000000" if inv.check_code != "000000" else "111111"}
    return {"check": "000000" if inv.check_code[-6:] != "000000" else "111111"}


@pytest.fixture
def issued(world, applied):
    """Today's rules: a trip over three roads gives a fiscal e-bill (the loan road) and two 数电
    invoices, under an enterprise title."""
    push(world, [("T1", THREE)])
    applied(title_id=title(world.user, kind="enterprise", name="演示科技有限公司", tax_id=COMPANY_TAX_ID))
    return {
        "digital": Invoice.objects.get(total=9733, document_kind=DIGITAL),
        "fiscal": Invoice.objects.get(document_kind=FISCAL),
    }


@pytest.fixture
def reversed_digital(world, issued, django_capture_on_commit_callbacks):
    blue = issued["digital"]
    with django_capture_on_commit_callbacks(execute=True):
        assert world.user.post(f"/api/v1/app/invoices/{blue.pk}/reverse").status_code == 202
    blue.refresh_from_db()
    return blue, Invoice.objects.get(original=blue)


# --- the API, per kind --------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_digital_invoice_is_verified_by_number_date_and_total(api, issued):
    inv = issued["digital"]
    assert inv.code == "" and inv.check_code == "" and len(inv.number) == 20
    r = api.get(URL, params(inv))
    assert r.status_code == 200, r.content
    body = r.json()["invoice"]
    assert r.json()["result"] == "genuine"
    assert (body["code"], body["number"], body["check_code"]) == ("", inv.number, "")
    assert body["document_kind"] == "digital_e_invoice" and body["document_kind_label"] == "电子发票（普通发票）"
    assert body["red_confirmation"] is None and body["total"] == 9733 and body["kind"] == "taxable"
    # the total as a person may type it: one decimal, or the whole yuan of a round amount
    assert api.get(URL, params(inv, total="97.330")).status_code == 400
    assert api.get(URL, params(inv, document_kind="digital_e_invoice")).json()["result"] == "genuine"


@pytest.mark.django_db
def test_a_fiscal_e_bill_is_verified_by_code_number_date_and_check_code(api, issued):
    inv = issued["fiscal"]
    assert len(inv.code) == 8 and len(inv.number) == 10 and len(inv.check_code) == 6
    body = api.get(URL, params(inv)).json()
    assert body["result"] == "genuine"
    assert body["invoice"]["document_kind"] == "fiscal_e_bill"
    assert body["invoice"]["document_kind_label"] == "通行费财政电子票据"
    assert body["invoice"]["check_code"] == inv.check_code and body["invoice"]["red_confirmation"] is None
    # the check code as printed, in capitals or not
    assert api.get(URL, params(inv, check=inv.check_code.upper())).json()["result"] == "genuine"


@pytest.mark.django_db
def test_a_legacy_vat_invoice_keeps_its_contract_beside_the_new_kinds(api, world, applied, settings):
    settings.TOLL_REGIME_DIGITAL_FROM = "2026-12-01"  # the trip's day falls under the 2020 regime
    push(world, [("T1", [("S-A3", 9733)])])
    applied(title_id=title(world.user))
    inv = Invoice.objects.get()
    assert inv.document_kind == VAT and len(inv.code) == 12
    body = api.get(URL, params(inv)).json()
    assert body["result"] == "genuine" and body["invoice"]["document_kind"] == "vat_e_invoice"
    assert body["invoice"]["document_kind_label"] == "增值税电子普通发票（通行费）"
    assert api.get(URL, params(inv, **wrong(inv))).json()["result"] == "mismatch"


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["digital", "fiscal"])
def test_not_found_and_mismatch_per_kind(api, issued, kind):
    inv = issued[kind]
    other_number = inv.number[:-1] + ("0" if inv.number[-1] != "0" else "1")
    assert not Invoice.objects.filter(code=inv.code, number=other_number).exists()
    r = api.get(URL, params(inv, number=other_number))
    assert r.status_code == 200 and r.json()["result"] == "not_found" and r.json()["message"]
    r = api.get(URL, params(inv, **wrong(inv)))
    assert r.status_code == 200 and r.json()["result"] == "mismatch" and "invoice" not in r.json()
    other_day = (inv.issued_on - timedelta(days=1)).strftime("%Y%m%d")
    assert api.get(URL, params(inv, date=other_day)).json()["result"] == "mismatch"


@pytest.mark.django_db
def test_the_messages_name_the_inputs_of_the_kind(api, issued):
    digital, fiscal = issued["digital"], issued["fiscal"]
    assert "价税合计" in api.get(URL, params(digital, **wrong(digital))).json()["message"]
    assert "20 位发票号码" in api.get(URL, params(digital, number="9" * 20)).json()["message"]
    assert "校验码" in api.get(URL, params(fiscal, **wrong(fiscal))).json()["message"]
    assert "票据代码" in api.get(URL, params(fiscal, number="9" * 10)).json()["message"]


@pytest.mark.django_db
def test_a_red_digital_invoice_is_checked_with_its_negative_total_and_names_its_confirmation(api, reversed_digital):
    blue, red = reversed_digital
    confirmation = RedLetterConfirmation.objects.get(original=blue)
    body = api.get(URL, params(red)).json()
    assert body["result"] == "genuine", body
    inv = body["invoice"]
    assert inv["red"] is True and inv["total"] == -9733 and inv["document_kind"] == "digital_e_invoice"
    assert inv["red_confirmation"] == {"number": confirmation.number}
    assert inv["original"] == {"code": "", "number": blue.number}
    # the amount without its sign is not the red invoice's total
    assert api.get(URL, params(red, total="97.33")).json()["result"] == "mismatch"
    blue_body = api.get(URL, params(blue)).json()
    assert blue_body["invoice"]["status"] == "reversed" and blue_body["invoice"]["red_confirmation"] is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query, fields",
    [
        # 数电: the number's 20 digits, the total as an amount in yuan
        ({"number": "2641100000000000001", "date": "20260905", "total": "97.33"}, {"number"}),
        ({"number": "2641100000000000001x", "date": "20260905", "total": "97.33"}, {"number"}),
        ({"number": "26411000000000000001", "date": "20260905", "total": "97.333"}, {"total"}),
        ({"number": "26411000000000000001", "date": "20260905", "total": "abc"}, {"total"}),
        ({"number": "26411000000000000001", "date": "20260905", "total": "--1"}, {"total"}),
        ({"number": "26411000000000000001", "date": "20260905"}, {"total"}),
        ({"number": "26411000000000000001", "date": "2026-09-05", "total": "1"}, {"date"}),
        ({"number": "26411000000000000001", "date": "20260905", "total": "９７.３３"}, {"total"}),
        ({"total": "97.33"}, {"number", "date"}),
        # fiscal e-bill: 8-digit code, 10-digit number, 6-character check code of digits and a–f
        ({"code": "4102992", "number": "0000000001", "date": "20260905", "check": "a1b2c3"}, {"code"}),
        ({"code": "41029926", "number": "000000001", "date": "20260905", "check": "a1b2c3"}, {"number"}),
        ({"code": "41029926", "number": "0000000001", "date": "20260905", "check": "g1b2c3"}, {"check"}),
        ({"code": "41029926", "number": "0000000001", "date": "20260905", "check": "a1b2c"}, {"check"}),
        ({"code": "41029926", "number": "0000000001", "date": "20260905"}, {"check"}),
        # an explicit kind is taken at its word
        ({"document_kind": "paper", "number": "0000000001"}, {"document_kind"}),
        (
            {"document_kind": "fiscal_e_bill", "code": "041002600112", "number": "00000001", "check": "123456"},
            {"code", "number", "date"},
        ),
        ({"document_kind": "digital_e_invoice", "number": "00000001", "date": "20260905"}, {"number", "total"}),
    ],
)
def test_malformed_input_of_each_kind_is_a_400_naming_each_field(api, query, fields):
    r = api.get(URL, query)
    assert r.status_code == 400, r.content
    body = r.json()
    assert body["result"] == "malformed" and body["code"] == "malformed" and body["message"]
    assert set(body["errors"]) == fields, body["errors"]


def test_the_kind_is_read_from_the_parameters():
    kind_of = verification.kind_of
    assert kind_of({"number": "2" * 20}) == DIGITAL
    assert kind_of({"number": "2" * 10}) == FISCAL
    assert kind_of({"code": "0" * 12, "number": "2" * 8}) == VAT
    assert kind_of({"code": "41029926", "number": "123"}) == FISCAL
    assert kind_of({"number": "123", "total": "1.00"}) == DIGITAL
    assert kind_of({}) == VAT
    assert kind_of({"document_kind": "fiscal_e_bill", "number": "2" * 20}) == FISCAL
    assert verification.parse_total("-97.33") == -9733 and verification.parse_total("97.3") == 9730
    assert verification.parse_total("97") == 9700 and verification.parse_total("0.05") == 5
    assert verification.parse_total("97.") is None and verification.parse_total(".5") is None


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["digital", "fiscal"])
def test_the_sixth_check_of_a_document_in_a_day_is_refused_for_each_kind(api, issued, kind):
    inv = issued[kind]
    for _ in range(3):
        assert api.get(URL, params(inv, **wrong(inv))).json()["result"] == "mismatch"  # guesses count too
    for _ in range(2):
        assert api.get(URL, params(inv)).json()["result"] == "genuine"
    r = api.get(URL, params(inv))
    assert r.status_code == 429 and r.json()["result"] == "too_many_checks" and r.json()["limit"] == "invoice"
    assert 0 < int(r["Retry-After"]) <= 86400
    assert api.get(URL, params(inv, **wrong(inv))).status_code == 429
    other = issued["fiscal" if kind == "digital" else "digital"]
    assert api.get(URL, params(other)).json()["result"] == "genuine"  # the limit is per document
    assert VerificationCounter.objects.get(invoice=inv, client="").count == 5


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["digital", "fiscal"])
def test_everyones_checks_reach_the_ceiling_for_each_kind_and_the_owner_still_checks(
    api, world, issued, kind, settings
):
    settings.VERIFY_MAX_CHECKS_PER_INVOICE = 4
    settings.VERIFY_MAX_CHECKS_PER_CLIENT_INVOICE = 2
    inv = issued[kind]
    statuses = [
        api.get(URL, params(inv, **wrong(inv)), REMOTE_ADDR=f"10.50.{a}.1").status_code
        for a in range(3)
        for _ in range(2)
    ]
    assert statuses == [200, 200, 200, 200, 429, 429]
    r = api.get(URL, params(inv), REMOTE_ADDR="10.50.9.1")
    assert r.status_code == 429 and r.json()["limit"] == "invoice_total"
    # the owner with their App token is counted alone
    r = world.user.get(URL, params(inv), REMOTE_ADDR="10.50.9.1")
    assert r.status_code == 200 and r.json()["result"] == "genuine"


@pytest.mark.django_db
def test_the_answer_is_invoice_json_for_every_kind(api, issued, reversed_digital):
    blue, red = reversed_digital
    for inv in (issued["fiscal"], blue, red):
        record = verification.find(inv.code, inv.number)
        assert record.as_json() == invoice_json(inv), inv
        body = api.get(URL, params(inv)).json()
        assert body == {"result": "genuine", "invoice": invoice_json(inv)}


# --- the Invoice JSON of the App and the enterprise feed ----------------------------------------


@pytest.mark.django_db
def test_the_app_lists_and_details_carry_the_kind_and_the_red_confirmation(world, issued, reversed_digital):
    blue, red = reversed_digital
    listed = {i["number"]: i for i in world.user.get("/api/v1/app/invoices").json()}
    assert {i["document_kind"] for i in listed.values()} == {"fiscal_e_bill", "digital_e_invoice"}
    for inv in Invoice.objects.all():
        assert listed[inv.number] == invoice_json(inv), inv  # the rows' builder and the model's agree
    confirmation = RedLetterConfirmation.objects.get(original=blue)
    assert listed[red.number]["red_confirmation"] == {"number": confirmation.number}
    assert listed[blue.number]["red_confirmation"] is None
    detail = world.user.get(f"/api/v1/app/invoices/{red.pk}").json()
    assert detail["red_confirmation"] == {"number": confirmation.number} and detail["code"] == ""
    app = world.user.get(f"/api/v1/app/applications/{issued['fiscal'].application_id}").json()
    assert sorted(i["document_kind"] for i in app["invoices"]) == [
        "digital_e_invoice",
        "digital_e_invoice",
        "fiscal_e_bill",
    ]


@pytest.mark.django_db
def test_the_enterprise_feed_carries_the_kind_with_its_fields_unchanged(partner_client, issued, reversed_digital):
    blue, red = reversed_digital
    enterprise = partner_client("enterprise", name="演示科技有限公司", tax_id=COMPANY_TAX_ID)
    body = enterprise.get("/api/v1/partner/invoices", {"limit": 2}).json()
    assert len(body["results"]) == 2 and body["next"]
    rest = enterprise.get("/api/v1/partner/invoices", {"cursor": body["next"]}).json()
    results = body["results"] + rest["results"]
    assert rest["next"] is None and len(results) == Invoice.objects.count() == 4
    for item in results:
        inv = Invoice.objects.get(pk=item["id"])
        assert item == invoice_json(inv)
        assert item["document_kind"] == inv.document_kind
        assert {"code", "number", "issued_on", "check_code", "kind", "red", "status", "total"} <= set(item)
    by_number = {i["number"]: i for i in results}
    assert by_number[red.number]["red_confirmation"]["number"] == RedLetterConfirmation.objects.get().number


@pytest.mark.django_db
def test_the_preview_names_the_kind_of_each_sellers_documents(world):
    push(world, [("T1", THREE)])
    tid = title(world.user)
    r = world.user.post(
        "/api/v1/app/applications/preview",
        {"kind": "consumption", "card_no": world.card_no, "month": "2026-09", "title_id": tid},
        format="json",
    )
    assert r.status_code == 200, r.content
    kinds = {s["name"]: (s["document_kind"], s["document_kind_label"]) for s in r.json()["sellers"]}
    assert kinds["丙还贷中心"] == ("fiscal_e_bill", "通行费财政电子票据")
    assert kinds["甲高速公司"] == ("digital_e_invoice", "电子发票（普通发票）")


def test_the_schema_documents_the_kind_and_the_inputs_of_each_kind():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    invoice = schema["components"]["schemas"]["InvoiceSchema"]
    assert {"document_kind", "document_kind_label", "red_confirmation"} <= set(invoice["required"])
    props = invoice["properties"]
    assert "red_confirmation" in props and "document_kind_label" in props
    ref = props["document_kind"].get("$ref") or props["document_kind"]["allOf"][0]["$ref"]
    kind_enum = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]["enum"]
    assert set(kind_enum) == {"vat_e_invoice", "fiscal_e_bill", "digital_e_invoice"}
    verify = {p["name"]: p for p in schema["paths"]["/api/v1/verify"]["get"]["parameters"]}
    assert {"document_kind", "code", "number", "date", "check", "total"} <= set(verify)
    assert verify["number"]["required"] and not verify.get("total", {}).get("required")
    assert not verify["code"].get("required") and not verify["check"].get("required")


# --- the page ------------------------------------------------------------------------------------


def page_form(inv: Invoice, **override) -> dict:
    form = params(inv) | {"document_kind": inv.document_kind, "date": inv.issued_on.isoformat()}
    return {k: v for k, v in (form | override).items() if v is not None}


@pytest.mark.django_db
def test_the_page_verifies_a_digital_invoice_and_shows_its_fields(client, issued):
    inv = issued["digital"]
    page = client.get(reverse("verify")).content.decode()
    for name in ("document_kind", "number", "code", "date", "check", "total"):
        assert f'name="{name}"' in page
    assert "invoices/verify.js" in page and 'data-kinds="digital_e_invoice"' in page
    r = client.post(reverse("verify"), page_form(inv, total=f"¥{yuan(inv.total)}"))
    body = r.content.decode()
    assert r.status_code == 200 and "发票信息一致" in body, body
    assert "电子发票（普通发票）" in body and inv.number in body and "97.33" in body
    assert "<dt>校验码</dt>" not in body and "<dt>发票代码</dt>" not in body


@pytest.mark.django_db
def test_the_page_verifies_a_fiscal_e_bill_and_names_its_fields(client, issued):
    inv = issued["fiscal"]
    body = client.post(reverse("verify"), page_form(inv)).content.decode()
    assert "发票信息一致" in body and "通行费财政电子票据" in body
    assert "<dt>票据代码</dt>" in body and "<dt>票据号码</dt>" in body and "<dt>交款人</dt>" in body
    assert f"<dd>{inv.check_code}</dd>" in body and "<dt>税额合计</dt>" not in body


@pytest.mark.django_db
def test_on_the_page_the_number_says_the_kind_whatever_was_left_chosen(client, issued):
    inv = issued["digital"]
    # the page opens on the VAT e-invoice; a person without scripts types a 数电 number and total
    form = page_form(inv, document_kind="vat_e_invoice", code="041002600112", check="123456")
    body = client.post(reverse("verify"), form).content.decode()
    assert "发票信息一致" in body and 'value="digital_e_invoice" data-verify-kind="1"' in body.replace(" checked", "")
    assert VerificationCounter.objects.filter(invoice=inv, client="").get().count == 1


@pytest.mark.django_db
def test_the_page_refuses_each_kinds_malformed_input_with_its_hint(client, issued):
    digital, fiscal = issued["digital"], issued["fiscal"]
    r = client.post(reverse("verify"), page_form(digital, total="九十七"))
    assert r.status_code == 400 and "红字发票填负数" in r.content.decode()
    r = client.post(reverse("verify"), page_form(fiscal, check="zzzzzz"))
    assert r.status_code == 400 and "6 位校验码" in r.content.decode()
    r = client.post(reverse("verify"), page_form(fiscal, code="4102"))
    assert r.status_code == 400 and "票据代码为 8 位数字" in r.content.decode()
    r = client.post(reverse("verify"), page_form(digital, document_kind="paper", number="123"))
    assert r.status_code == 200 and "发票信息一致" not in r.content.decode()  # the form refuses the choice
    r = client.post(reverse("verify"), page_form(digital, total=yuan(digital.total + 100)))
    assert r.status_code == 200 and "价税合计" in r.content.decode() and "发票信息不一致" in r.content.decode()
    assert not VerificationCounter.objects.filter(invoice=fiscal).exists()  # malformed checks count nothing


@pytest.mark.django_db
def test_the_page_shows_a_red_digital_invoice_with_its_confirmation(client, reversed_digital):
    blue, red = reversed_digital
    confirmation = RedLetterConfirmation.objects.get()
    body = client.post(reverse("verify"), page_form(red, total="－97.33")).content.decode()
    assert "发票信息一致" in body and "红字确认单编号" in body and confirmation.number in body
    assert blue.number in body and "-97.33" in body
    body = client.post(reverse("verify"), page_form(blue)).content.decode()
    assert "这张发票已红冲作废" in body and "红字确认单编号" not in body


@pytest.mark.django_db
def test_a_link_may_choose_the_kind_or_let_the_number_choose_it(client):
    page = client.get(reverse("verify"), {"number": "2" * 20}).content.decode()
    assert 'value="digital_e_invoice" data-verify-kind="1" id="id_document_kind_2" checked' in page
    page = client.get(reverse("verify"), {"document_kind": "fiscal_e_bill"}).content.decode()
    assert 'value="fiscal_e_bill" data-verify-kind="1" id="id_document_kind_1" checked' in page
    page = client.get(reverse("verify"), {"document_kind": "nonsense"}).content.decode()
    assert 'value="vat_e_invoice" data-verify-kind="1" id="id_document_kind_0" checked' in page
