"""One ZIP per card and month: every invoice of the card-month (PDF and XML) and the summary
sheets of their applications, from 我的发票 and the App API; only for its owner; an empty month
says so."""

import html
import re
from datetime import timedelta

import pytest
from django.urls import reverse

from invoices import tasks
from invoices.models import Application, Invoice

from . import test_invoicing
from .conftest import trip
from .test_documents import stored, zip_of
from .test_invoicing import COMPANY_TAX_ID, THREE, push, title

pytestmark = pytest.mark.documents  # they read what issuing renders (tests/conftest.py)

applied = test_invoicing.applied  # the fixture that submits and issues through the App API

API = "/api/v1/app/invoices/zip"


@pytest.fixture
def september(world, applied, django_capture_on_commit_callbacks):
    """Two applications in 2026-09 (T1 over three operators: 3 invoices; T2: 1), then one of
    T1's invoices reversed: 5 invoices of the card-month, rendered."""
    push(world, [("T1", THREE), ("T2", [("S-A3", 1000)])])
    company = title(world.user, kind="enterprise", name="演示科技有限公司", tax_id=COMPANY_TAX_ID)
    first = applied(title_id=company, transit_ids=["T1"]).json()["id"]
    second = applied(title_id=company, transit_ids=["T2"]).json()["id"]
    big = Invoice.objects.get(total=9733)
    with django_capture_on_commit_callbacks(execute=True):
        assert world.user.post(f"/api/v1/app/invoices/{big.pk}/reverse").status_code == 202
    assert Invoice.objects.filter(month="2026-09").count() == 5
    return [Application.objects.get(pk=pk) for pk in (first, second)]


def expected_names(invoices, apps) -> set[str]:
    names = {f"{i.code}-{i.number}.{ext}" for i in invoices for ext in ("pdf", "xml")}
    return names | {f"summary-{a.summary_no}.pdf" for a in apps}


@pytest.mark.django_db
def test_the_app_api_zip_holds_every_invoice_of_the_card_month(world, september):
    r = world.user.get(API, {"card_no": world.card_no, "month": "2026-09"})
    assert r.status_code == 200 and r["Content-Type"] == "application/zip"
    assert f'filename="invoices-{world.card_no}-2026-09.zip"' in r["Content-Disposition"]
    archive = zip_of(r)
    assert archive.testzip() is None
    invoices = list(Invoice.objects.filter(month="2026-09"))
    summaries = list(Application.objects.filter(invoices__in=invoices, summary_no__isnull=False).distinct())
    assert {a.pk for a in september} <= {a.pk for a in summaries}
    assert set(archive.namelist()) == expected_names(invoices, summaries)
    assert len([n for n in archive.namelist() if n.endswith(".pdf") and not n.startswith("summary")]) == 5
    for inv in invoices:  # the stored files, byte for byte: the same as the application ZIP holds
        inv.refresh_from_db()
        assert archive.read(f"{inv.code}-{inv.number}.pdf") == stored(inv.pdf_path)
        assert archive.read(f"{inv.code}-{inv.number}.xml") == stored(inv.xml_path)


@pytest.mark.django_db
def test_my_invoices_links_each_card_month_and_the_link_downloads_it(client, world, september):
    client.force_login(world.user.user)
    page = client.get(reverse("invoices:list")).content.decode()
    assert "按卡按月下载" in page
    href = f"{reverse('invoices:card_month_zip')}?card={world.card_no}&amp;month=2026-09"
    assert href in page and "下载 豫A12345 2026-09 的 5 张发票（ZIP）" in page
    r = client.get(html.unescape(href))
    assert r.status_code == 200 and r["Content-Type"] == "application/zip"
    assert len(zip_of(r).namelist()) == 5 * 2 + len({a.summary_no for a in september}) + 1  # + the reversal's
    # filtered to the card and the month, the one link stays
    page = client.get(reverse("invoices:list"), {"card": world.card_no, "month": "2026-09"}).content.decode()
    assert page.count(reverse("invoices:card_month_zip")) == 1


@pytest.mark.django_db
def test_an_empty_month_says_so(client, world, september):
    client.force_login(world.user.user)
    page = client.get(reverse("invoices:list"), {"card": world.card_no, "month": "2026-08"}).content.decode()
    assert "这张卡 2026-08 没有发票，没有可下载的压缩包。" in page
    assert reverse("invoices:card_month_zip") not in page
    r = client.get(reverse("invoices:card_month_zip"), {"card": world.card_no, "month": "2026-08"})
    assert r.status_code == 404 and "这张卡 2026-08 没有发票，没有可下载的压缩包。" in r.content.decode()
    assert f"card={world.card_no}&amp;month=2026-08" in r.content.decode()  # 返回 leads back to that month
    r = world.user.get(API, {"card_no": world.card_no, "month": "2026-08"})
    assert r.status_code == 404 and r.json()["code"] == "no_invoices"
    assert r.json()["message"] == "这张卡 2026-08 没有发票，没有可下载的压缩包。"


@pytest.mark.django_db
def test_only_the_owner_downloads(client, world, september, app_client):
    other = app_client()
    r = other.get(API, {"card_no": world.card_no, "month": "2026-09"})
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    client.force_login(other.user)
    r = client.get(reverse("invoices:card_month_zip"), {"card": world.card_no, "month": "2026-09"})
    assert r.status_code == 404 and b"PK" not in r.content[:2]
    assert reverse("invoices:card_month_zip") not in client.get(reverse("invoices:list")).content.decode()
    client.logout()
    r = client.get(reverse("invoices:card_month_zip"), {"card": world.card_no, "month": "2026-09"})
    assert r.status_code == 302  # to the login page
    assert client.get(API, {"card_no": world.card_no, "month": "2026-09"}).status_code == 401


@pytest.mark.django_db
def test_an_unbound_card_keeps_its_zip(world, september):
    """History stays: the account that got the invoices downloads them after unbinding."""
    assert world.user.delete(f"/api/v1/app/cards/{world.card_no}").status_code == 204
    r = world.user.get(API, {"card_no": world.card_no, "month": "2026-09"})
    assert r.status_code == 200 and len(zip_of(r).namelist()) >= 10


@pytest.mark.django_db
def test_refusals(client, world, september):
    get = world.user.get
    r = get(API)
    assert r.status_code == 400 and r.json()["code"] == "invalid"
    assert set(r.json()["errors"]) == {"card_no", "month"}
    assert get(API, {"card_no": world.card_no}).json()["errors"] == {"month": ["必填。"]}
    assert get(API, {"card_no": world.card_no, "month": "2026-9"}).status_code == 400
    assert get(API, {"card_no": "4101000000000000000x", "month": "2026-09"}).status_code == 404
    assert get(API, {"card_no": "x" * 500, "month": "2026-09"}).status_code == 404
    client.force_login(world.user.user)
    r = client.get(reverse("invoices:card_month_zip"), {"month": "2026-09"})
    assert r.status_code == 400 and "请选择ETC卡和月份" in r.content.decode()


@pytest.mark.django_db
def test_not_rendered_yet_is_409(world, applied, monkeypatch, client):
    monkeypatch.setattr(tasks.render_invoice, "delay", lambda *a: None)
    monkeypatch.setattr(tasks.render_summary, "delay", lambda *a: None)
    push(world, [("T1", THREE)])
    applied(title_id=title(world.user))
    r = world.user.get(API, {"card_no": world.card_no, "month": "2026-09"})
    assert r.status_code == 409 and r.json()["code"] == "not_ready"
    client.force_login(world.user.user)
    r = client.get(reverse("invoices:card_month_zip"), {"card": world.card_no, "month": "2026-09"})
    assert r.status_code == 409 and 'http-equiv="refresh"' in r.content.decode()


@pytest.mark.django_db
def test_another_month_of_the_same_card_is_its_own_zip(world, applied, client):
    push(world, [("T1", [("S-A3", 1000)])])
    applied(title_id=title(world.user))
    october = world.when + timedelta(days=30)
    r = world.clearing.post(
        "/api/v1/partner/transits",
        {"transits": [trip("T9", world.card_no, october, [("S-A3", 2000)])]},
        format="json",
    )
    assert r.json()["created"] == 1
    applied(title_id=title(world.user, name="李四"), month="2026-10")
    names = {
        m: zip_of(world.user.get(API, {"card_no": world.card_no, "month": m})).namelist()
        for m in ("2026-09", "2026-10")
    }
    sept, octo = (Invoice.objects.get(month=m) for m in ("2026-09", "2026-10"))
    assert (
        f"{sept.code}-{sept.number}.pdf" in names["2026-09"]
        and f"{sept.code}-{sept.number}.pdf" not in names["2026-10"]
    )
    assert f"{octo.code}-{octo.number}.pdf" in names["2026-10"] and len(names["2026-10"]) == 3
    client.force_login(world.user.user)
    page = client.get(reverse("invoices:list")).content.decode()
    links = re.findall(r'href="/invoices/zip/\?card=(\d+)&amp;month=([\d-]+)"', page)
    assert links == [(world.card_no, "2026-10"), (world.card_no, "2026-09")]  # newest month first


@pytest.mark.django_db
def test_the_card_months_are_counted_newest_month_first(world, applied):
    """按卡按月下载's rows: one per (card, month) with its invoice count, newest month first,
    cut at the limit (counted per card-month, then the cards read: selectors.invoice_card_months)."""
    from invoices import selectors

    push(world, [("S1", THREE)])  # September: three invoices
    august = trip("A1", world.card_no, world.when - timedelta(days=31), [("S-A3", 1000)])
    assert world.clearing.post("/api/v1/partner/transits", {"transits": [august]}, format="json").json()["created"]
    personal = title(world.user)
    assert applied(title_id=personal).status_code == 202
    assert applied(title_id=personal, month="2026-08").status_code == 202
    rows = selectors.invoice_card_months(world.user.user)
    assert [(r["card__card_no"], r["card__plate"], r["month"], r["count"]) for r in rows] == [
        (world.card_no, "豫A12345", "2026-09", 3),
        (world.card_no, "豫A12345", "2026-08", 1),
    ]
    assert [r["month"] for r in selectors.invoice_card_months(world.user.user, limit=1)] == ["2026-09"]
    assert selectors.invoice_card_months(world.user.user, month="2026-07") == []
