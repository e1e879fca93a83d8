"""Every page a person meets handles every kind of document: 通行记录 says which document each
share of a trip will get under the regime of its travel date, the confirmation counts documents
per kind, the lists and detail pages show each kind's reference and fields, 换票 explains why
fiscal e-bills stay as they are, and a recharge application says why it has no summary sheet."""

import re
from datetime import datetime, timedelta

import pytest
from django.urls import reverse

from invoices.models import Application, Invoice, RedLetterConfirmation
from invoices.regimes import DocumentKind

from . import test_regimes
from .conftest import SHANGHAI, trip
from .test_invoicing import COMPANY_TAX_ID, THREE, title
from .test_regimes import push

pytestmark = [pytest.mark.regimes, pytest.mark.django_db]
applied = test_regimes.applied  # the fixture: submits through the App API and issues

VAT, FISCAL, DIGITAL = DocumentKind.VAT_E_INVOICE, DocumentKind.FISCAL_E_BILL, DocumentKind.DIGITAL_E_INVOICE
APPLY = "/apply/"
LEGACY_DAY = datetime(2019, 6, 5, 8, 0, tzinfo=SHANGHAI)


@pytest.fixture
def person(client, world):
    client.force_login(world.user.user)
    return client


def trips_page(person, world, month="2026-09") -> str:
    r = person.get(reverse("invoices:transits"), {"card": world.card_no, "month": month})
    assert r.status_code == 200
    return r.content.decode()


def test_trips_say_which_document_each_share_gets_today(person, world):
    push(world, [("T1", world.when, THREE)])
    body = trips_page(person, world)
    assert "这次通行将开出 3 张票据：您经过了不同经营单位的路段" in body
    assert "<li>丙还贷中心 · 通行费财政电子票据（政府还贷，不征税）</li>" in body
    assert "<li>甲高速公司 · 数电发票 3%</li>" in body
    assert "<li>乙一级公路公司 · 数电发票 5%</li>" in body
    assert "政府还贷路段收取的部分按通行日期适用的规定开具通行费财政电子票据" in body
    assert "只有20位发票号码" in body
    # trips show from the 7th natural day under today's regime
    assert "第 7 个自然日" in body and "第 10 个自然日" not in body


def test_trips_before_2020_get_vat_invoices_and_the_page_says_so(person, world):
    push(world, [("OLD", LEGACY_DAY, THREE)])
    body = trips_page(person, world, month="2019-06")
    assert "这次通行将开出 3 张发票：" in body and "张票据" not in body
    assert "<li>丙还贷中心 · 增值税电子普通发票 不征税</li>" in body
    assert "<li>甲高速公司 · 增值税电子普通发票 3%</li>" in body
    assert "财政电子票据" not in body and "数电发票" not in body


def test_the_kind_follows_the_travel_date_across_a_switch_within_the_month(person, world, settings):
    settings.TOLL_REGIME_DIGITAL_FROM = "2026-09-06"
    push(world, [("T1", world.when, [("S-A3", 9733)]), ("T2", world.when + timedelta(days=2), [("S-A3", 9733)])])
    body = trips_page(person, world)
    assert body.count("这次通行将开出 1 张增值税电子普通发票。") == 1
    assert body.count("这次通行将开出 1 张数电发票。") == 1


def test_trip_page_query_count_stays_the_same_with_the_kinds(person, world, django_assert_max_num_queries):
    push(world, [("T1", world.when, THREE), ("OLD", LEGACY_DAY, THREE)])
    with django_assert_max_num_queries(50) as few:
        trips_page(person, world)
    baseline = len(few.captured_queries)
    more = [trip(f"U{i}", world.card_no, world.when + timedelta(hours=i + 1), THREE) for i in range(30)]
    assert world.clearing.post("/api/v1/partner/transits", {"transits": more}, format="json").status_code == 200
    with django_assert_max_num_queries(baseline) as many:
        body = trips_page(person, world)
    assert body.count("通行费财政电子票据（政府还贷，不征税）") == 31
    assert len(many.captured_queries) == baseline


def test_the_confirmation_counts_documents_per_kind_and_says_why(person, world):
    push(world, [("T1", world.when, THREE)])
    tid = title(world.user)
    r = person.post(
        APPLY,
        {"card": world.card_no, "month": "2026-09", "kind": "consumption", "title_id": str(tid), "scope": "month"},
    )
    body = r.content.decode()
    kinds = re.search(r'<div id="plan-kinds">.*?</div>', body, re.S).group(0)
    assert "通行费财政电子票据 1 张" in kinds and "电子发票（普通发票） 2 张" in kinds
    assert "为什么是多张" in kinds and "政府还贷路段的部分开具通行费财政电子票据" in kinds
    sellers = re.search(r'<table id="plan-sellers">.*?</table>', body, re.S).group(0)
    assert "<td>丙还贷中心</td><td>通行费财政电子票据 · 不征税</td>" in sellers
    assert "<td>甲高速公司</td><td>电子发票（普通发票） · 征税</td>" in sellers
    assert not Application.objects.exists()


def issued_mixed(world, applied):
    push(world, [("T1", world.when, THREE)])
    tid = title(world.user, kind="enterprise", name="演示公司", tax_id=COMPANY_TAX_ID)
    app = applied(title_id=tid)
    assert app.status == "issued", app.failure_reason
    return app


def test_my_invoices_and_the_application_show_each_kind_with_its_reference(person, world, applied):
    app = issued_mixed(world, applied)
    fiscal = app.invoices.get(document_kind=FISCAL)
    digital = app.invoices.filter(document_kind=DIGITAL).order_by("id")
    body = person.get(reverse("invoices:list")).content.decode()
    assert f"{fiscal.code}<br>{fiscal.number}</a>" in body
    for inv in digital:
        assert re.fullmatch(r"\d{20}", inv.number)
        assert f'">{inv.number}</a>' in body and f"<br>{inv.number}" not in body  # the number alone
    assert body.count("通行费财政电子票据 · 不征税") == 1 and body.count("数电发票 · 征税") == 2
    page = person.get(reverse("invoices:application", args=[app.pk])).content.decode()
    assert re.search(r'<p id="app-kinds">票据种类：通行费财政电子票据 1 张；数电发票 2 张</p>', page)
    assert '<td data-label="票据种类">通行费财政电子票据</td>' in page
    assert "汇总单号" in page and app.summary_no in page


def facts(body: str) -> dict[str, str]:
    return {
        dt: re.sub(r"<[^>]+>", " ", dd).strip()
        for dt, dd in re.findall(r"<dt>(.*?)</dt><dd[^>]*>(.*?)</dd>", body, re.S)
    }


def test_each_kind_shows_its_own_fields(person, world, applied):
    app = issued_mixed(world, applied)
    fiscal = app.invoices.get(document_kind=FISCAL)
    body = person.get(reverse("invoices:invoice", args=[fiscal.pk])).content.decode()
    shown = facts(body)
    assert "<h1>通行费财政电子票据" in body
    assert shown["票据代码"] == fiscal.code and shown["票据号码"] == fiscal.number
    assert re.fullmatch(r"[0-9a-f]{6}", shown["校验码"]) and shown["校验码"] == fiscal.check_code
    assert "机器编号" not in shown and "发票代码" not in shown
    assert shown["交款人"].startswith("演示公司") and shown["收款单位"].startswith("丙还贷中心")
    assert shown["进项抵扣"] == "不可抵扣：财政电子票据"

    digital = app.invoices.filter(document_kind=DIGITAL).first()
    body = person.get(reverse("invoices:invoice", args=[digital.pk])).content.decode()
    shown = facts(body)
    assert '<h1>电子发票（普通发票） <span class="tag">通行费</span>' in body
    assert shown["发票号码"] == digital.number and shown["特定业务"] == "通行费"
    assert not {"发票代码", "校验码", "机器编号"} & set(shown)
    assert shown["进项抵扣"] == "可抵扣：单位抬头的征税发票"


def test_a_legacy_invoice_shows_code_check_code_in_groups_and_machine_number(person, world, applied):
    push(world, [("OLD", LEGACY_DAY, [("S-A3", 9733)])])
    app = applied(month="2019-06", title_id=title(world.user))
    inv = app.invoices.get()
    assert inv.document_kind == VAT
    shown = facts(person.get(reverse("invoices:invoice", args=[inv.pk])).content.decode())
    assert shown["发票代码"] == inv.code and shown["发票号码"] == inv.number
    assert shown["校验码"].replace(" ", "") == inv.check_code and len(shown["校验码"].split()) == 4
    assert shown["机器编号"] == inv.machine_no
    assert shown["进项抵扣"] == "不可抵扣：个人抬头"


def test_a_reversed_digital_invoice_names_its_red_letter_confirmation(
    person,
    world,
    applied,
    django_capture_on_commit_callbacks,
):
    app = issued_mixed(world, applied)
    blue = app.invoices.filter(document_kind=DIGITAL).first()
    page = person.get(reverse("invoices:reverse", args=[blue.pk])).content.decode()
    assert f"将为发票 {blue.number}（" in page and "红字确认单" in page
    with django_capture_on_commit_callbacks(execute=True):
        r = person.post(reverse("invoices:reverse", args=[blue.pk]), {"confirm": "yes", "reason": "开错"})
    assert r.status_code == 302
    confirmation = RedLetterConfirmation.objects.get(original=blue)
    red = confirmation.red_invoice
    body = person.get(reverse("invoices:invoice", args=[red.pk])).content.decode()
    assert '<span class="tag">红字发票</span>' in body
    assert facts(body)["红字确认单编号"] == confirmation.number
    body = person.get(reverse("invoices:invoice", args=[blue.pk])).content.decode()
    assert "这张发票已红冲作废" in body and f"红字确认单编号：{confirmation.number}" in body
    assert f'对应的红字发票：<a href="{reverse("invoices:invoice", args=[red.pk])}">{red.number}</a>' in body
    outcome = person.get(r["Location"]).content.decode()
    assert f">{blue.number}</a>（甲高速公司" in outcome or f">{blue.number}</a>（乙一级公路公司" in outcome


def test_title_change_explains_that_fiscal_e_bills_stay(person, world, applied):
    app = issued_mixed(world, applied)
    title(world.user, name="李四")
    body = person.get(reverse("invoices:title_change", args=[app.pk])).content.decode()
    assert "这个申请有 1 张通行费财政电子票据，换票不会换开它们" in body
    assert "交款人以通行前登记的信息为准" in body and "请在通行前修改这张ETC卡的默认抬头" in body
    assert f"申请 #{app.pk} 的 2 张发票（当前抬头：演示公司）将全部红冲" in body
    assert 'name="title_id"' in body


def test_title_change_of_fiscal_e_bills_alone_is_refused_readably(person, world, applied):
    push(world, [("T1", world.when, [("S-C0", 800)])])
    app = applied(title_id=title(world.user))
    other = title(world.user, name="李四")
    body = person.get(reverse("invoices:title_change", args=[app.pk])).content.decode()
    assert f"申请 #{app.pk} 只有通行费财政电子票据，没有可换开的发票。" in body
    assert 'name="title_id"' not in body  # no form to fill in for nothing
    # a submit anyway (an old tab) gets the service's refusal, in words, and changes nothing
    r = person.post(reverse("invoices:title_change", args=[app.pk]), {"title_id": other, "confirm": "yes"})
    body = r.content.decode()
    assert r.status_code == 200 and 'class="notice notice-error"' in body
    assert "财政电子票据的交款人信息以通行前登记的为准" in body and "fiscal_not_changeable" not in body
    assert Application.objects.count() == 1 and Invoice.objects.filter(red=True).count() == 0


def test_a_recharge_application_says_why_it_has_no_summary_sheet(person, world, applied):
    stored = world.cards[1]
    world.bind(world.user, stored)
    body = {
        "recharges": [
            {
                "recharge_id": "R1",
                "card_no": stored["card_no"],
                "amount": 50000,
                "recharged_at": "2026-09-02T10:00:00+08:00",
            }
        ]
    }
    assert world.issuer.post("/api/v1/partner/recharges", body, format="json").json()["created"] == 1
    app = applied(kind="recharge", card_no=stored["card_no"], recharge_ids=["R1"], title_id=title(world.user))
    assert app.summary_no is None
    page = person.get(reverse("invoices:application", args=[app.pk])).content.decode()
    assert '<dd id="no-summary">无：2020年起充值交易不开具电子汇总单' in page
    assert "数电发票 · 不征税" in page


def test_the_pages_of_every_kind_render_in_english(person, world, applied, settings):
    """The strings are marked for translation: the English pages render, in English where the
    catalogue has them (the new strings join the catalogue when it is regenerated)."""
    app = issued_mixed(world, applied)
    person.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    pages = [
        reverse("invoices:transits") + f"?card={world.card_no}&month=2026-09",
        reverse("invoices:list"),
        reverse("invoices:application", args=[app.pk]),
        reverse("invoices:title_change", args=[app.pk]),
        *(reverse("invoices:invoice", args=[inv.pk]) for inv in app.invoices.all()),
    ]
    for path in pages:
        r = person.get(path)
        assert r.status_code == 200, path
        assert '<html lang="en"' in r.content.decode(), path
