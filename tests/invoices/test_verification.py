"""Public verification: every answer of api.md, the daily limit per invoice, the reversed status,
the client throttle, the page."""

import os
from datetime import date, timedelta

import pytest
from django.urls import reverse

from invoices import verification
from invoices.api.verification import VerifyThrottle
from invoices.models import Invoice, VerificationCounter

from . import test_invoicing
from .test_invoicing import COMPANY_TAX_ID, THREE, push, title

applied = test_invoicing.applied  # the fixture that submits and issues through the App API

URL = "/api/v1/verify"


def params(inv: Invoice, **override) -> dict:
    return {
        "code": inv.code,
        "number": inv.number,
        "date": inv.issued_on.strftime("%Y%m%d"),
        "check": inv.check_code[-6:],
    } | override


@pytest.fixture
def issued(world, applied):
    push(world, [("T1", THREE)])
    applied(title_id=title(world.user, kind="enterprise", name="演示科技有限公司", tax_id=COMPANY_TAX_ID))
    return Invoice.objects.get(total=9733)


@pytest.mark.django_db
def test_genuine_answers_with_the_invoice(api, issued):
    r = api.get(URL, params(issued))
    assert r.status_code == 200
    body = r.json()
    assert body["result"] == "genuine"
    inv = body["invoice"]
    assert (inv["code"], inv["number"], inv["status"], inv["red"]) == (issued.code, issued.number, "normal", False)
    assert inv["total"] == 9733 and inv["total_tax"] == 283 and inv["kind"] == "taxable"
    assert inv["buyer"] == {"name": "演示科技有限公司", "tax_id": COMPANY_TAX_ID}
    assert inv["lines"][0]["rate"] == "0.03"


@pytest.mark.django_db
def test_not_found_and_mismatch(api, issued):
    r = api.get(URL, params(issued, number="99999999"))
    assert r.status_code == 200 and r.json()["result"] == "not_found"
    r = api.get(URL, params(issued, code="041002699912"))
    assert r.status_code == 200 and r.json()["result"] == "not_found"
    wrong_check = f"{(int(issued.check_code[-6:]) + 1) % 10**6:06d}"
    r = api.get(URL, params(issued, check=wrong_check))
    assert r.status_code == 200 and r.json()["result"] == "mismatch" and "invoice" not in r.json()
    other_day = (issued.issued_on - timedelta(days=1)).strftime("%Y%m%d")
    assert api.get(URL, params(issued, date=other_day)).json()["result"] == "mismatch"


@pytest.mark.django_db
def test_a_reversed_invoice_is_genuine_with_status_reversed(world, api, issued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert world.user.post(f"/api/v1/app/invoices/{issued.pk}/reverse").status_code == 202
    body = api.get(URL, params(issued)).json()
    assert body["result"] == "genuine" and body["invoice"]["status"] == "reversed"
    red = Invoice.objects.get(original=issued)
    body = api.get(URL, params(red)).json()
    assert body["result"] == "genuine" and body["invoice"]["red"] is True and body["invoice"]["total"] == -9733
    assert body["invoice"]["original"] == {"code": issued.code, "number": issued.number}


@pytest.mark.django_db
def test_the_sixth_check_of_an_invoice_in_a_day_is_refused(api, issued, world):
    wrong = params(issued, check="000000" if issued.check_code[-6:] != "000000" else "111111")
    for _ in range(3):
        assert api.get(URL, wrong).json()["result"] == "mismatch"  # guesses count too
    for _ in range(2):
        assert api.get(URL, params(issued)).json()["result"] == "genuine"
    r = api.get(URL, params(issued))
    assert r.status_code == 429
    body = r.json()
    assert body["result"] == "too_many_checks" and body["code"] == "too_many_checks" and "invoice" not in body
    assert 0 < int(r["Retry-After"]) <= 86400
    assert api.get(URL, wrong).status_code == 429  # no more guessing today either
    other = Invoice.objects.exclude(pk=issued.pk).first()
    assert api.get(URL, params(other)).json()["result"] == "genuine"  # the limit is per invoice
    # this client's 7 checks, of which the 5 it was allowed count for the invoice too
    assert VerificationCounter.objects.exclude(client="").get(invoice=issued).count == 7
    assert VerificationCounter.objects.get(invoice=issued, client="").count == 5
    # the next day (Asia/Shanghai) starts again
    query = verification.parse(params(issued))
    tomorrow = VerificationCounter.objects.get(invoice=issued, client="").day + timedelta(days=1)
    assert verification.verify(query, today=tomorrow).result == "genuine"


@pytest.mark.django_db
def test_the_counter_is_one_row_per_invoice_and_day(issued):
    day = date(2026, 9, 5)
    assert [verification.count_check(issued.pk, day) for _ in range(4)] == [1, 2, 3, 4]
    assert verification.count_check(issued.pk, day + timedelta(days=1)) == 1
    assert VerificationCounter.objects.filter(invoice=issued).count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    "override, fields",
    [
        ({"code": "12345"}, {"code"}),
        ({"number": "abc"}, {"number"}),
        ({"date": "2026-09-05"}, {"date"}),
        ({"date": "20260231"}, {"date"}),
        ({"check": "12345"}, {"check"}),
        ({"check": "１２３４５６"}, {"check"}),  # full-width digits are not digits here
        ({"code": "", "number": "", "date": "", "check": ""}, {"code", "number", "date", "check"}),
        ({"code": "0" * 5000}, {"code"}),
        ({"number": "1234567\x00"}, {"number"}),
        ({"check": "123 45"}, {"check"}),
    ],
)
def test_malformed_input_is_a_400_naming_each_field(api, issued, override, fields):
    r = api.get(URL, params(issued, **override))
    assert r.status_code == 400
    body = r.json()
    assert body["result"] == "malformed" and set(body["errors"]) == fields and body["message"]


@pytest.mark.django_db
def test_no_parameters_at_all_and_repeated_ones(api):
    r = api.get(URL)
    assert r.status_code == 400 and set(r.json()["errors"]) == {"code", "number", "date", "check"}
    r = api.get(URL + "?code=1&code=041002600112&number=x&date=&check=[]")
    assert r.status_code == 400


@pytest.mark.django_db
def test_the_client_throttle(api, issued, monkeypatch):
    monkeypatch.setattr(VerifyThrottle, "rate", "3/min", raising=False)
    wrong = params(issued, number="99999999")
    assert [api.get(URL, wrong).status_code for _ in range(3)] == [200, 200, 200]
    r = api.get(URL, wrong)
    assert r.status_code == 429 and r.json()["result"] == "too_many_checks" and r.json()["limit"] == "client"
    assert "Retry-After" in r


@pytest.mark.django_db
def test_no_token_needed_and_a_token_changes_nothing(world, issued):
    r = world.user.get(URL, params(issued))
    assert r.status_code == 200 and r.json()["result"] == "genuine"


# --- the page --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_page_verifies_for_a_person(client, issued, world, django_capture_on_commit_callbacks):
    page = client.get(reverse("verify"))
    assert page.status_code == 200 and "发票查验" in page.content.decode() and 'name="check"' in page.content.decode()
    prefilled = client.get(reverse("verify"), {"code": issued.code, "date": "20260905"}).content.decode()
    assert f'value="{issued.code}"' in prefilled and 'value="2026-09-05"' in prefilled
    form = {
        "code": issued.code,
        "number": issued.number,
        "date": issued.issued_on.isoformat(),
        "check": issued.check_code[-6:],
    }
    body = client.post(reverse("verify"), form).content.decode()
    assert "发票信息一致" in body and "正常" in body and issued.seller_name in body and "演示科技有限公司" in body
    assert "97.33" in body and "通行费" in body
    assert world.user.user.mobile not in body and world.cards[0]["mobile"] not in body  # never a mobile

    with django_capture_on_commit_callbacks(execute=True):
        world.user.post(f"/api/v1/app/invoices/{issued.pk}/reverse")
    body = client.post(reverse("verify"), form | {"date": issued.issued_on.strftime("%Y%m%d")}).content.decode()
    assert "已红冲" in body and "这张发票已红冲作废" in body

    r = client.post(reverse("verify"), form | {"check": "12"})
    assert r.status_code == 400 and "校验码的后 6 位" in r.content.decode()
    r = client.post(reverse("verify"), form | {"number": "99999999"})
    assert r.status_code == 200 and "查无此票" in r.content.decode()
    r = client.post(reverse("verify"), form | {"check": f"{(int(issued.check_code[-6:]) + 1) % 10**6:06d}"})
    assert "发票信息不一致" in r.content.decode()
    # malformed and not-found checks count nothing
    assert VerificationCounter.objects.get(invoice=issued, client="").count == 3
    assert [client.post(reverse("verify"), form).status_code for _ in range(2)] == [200, 200]
    r = client.post(reverse("verify"), form)
    assert r.status_code == 429 and "超过 5 次" in r.content.decode()  # the 6th check today


@pytest.mark.django_db
def test_the_page_takes_the_date_as_its_hint_says_and_explains_the_checks_left(client, issued):
    from django.utils import timezone

    day = issued.issued_on
    form = {"code": issued.code, "number": issued.number, "check": issued.check_code[-6:]}
    page = client.get(reverse("verify")).content.decode()
    assert "YYYYMMDD 或 YYYY-MM-DD" in page and 'type="date"' not in page
    midnight = f"{timezone.localdate() + timedelta(days=1):%Y-%m-%d} 00:00（北京时间）"
    written = [f"{day:%Y-%m-%d}", f"{day:%Y%m%d}", f"{day.year}年{day.month}月{day.day}日", f" {day:%Y/%m/%d} "]
    for used, value in enumerate(written, start=1):
        body = client.post(reverse("verify"), form | {"date": value}).content.decode()
        assert "发票信息一致" in body, value
        assert f"这是今天第 {used} 次查验这张发票，今天还可再查验 {5 - used} 次" in body and midnight in body
    r = client.post(reverse("verify"), form | {"date": f"{day + timedelta(days=1):%Y%m%d}"})
    assert "发票信息不一致" in r.content.decode() and "今天的 5 次已用完" in r.content.decode()
    r = client.post(reverse("verify"), form | {"date": f"{day:%Y-%m-%d}"})
    body = r.content.decode()
    assert r.status_code == 429 and "今天再查验都会被拒绝" in body and f"{midnight}起重新计数" in body
    for bad in ("2026-13-45", "05/11/2026", "2026-1105", "二〇二六年"):
        r = client.post(reverse("verify"), form | {"date": bad})
        assert r.status_code == 400 and "请按 YYYYMMDD 或 YYYY-MM-DD 填写开票日期" in r.content.decode(), bad
    assert VerificationCounter.objects.exclude(client="").get(invoice=issued).count == 6  # malformed is no check


@pytest.mark.django_db
def test_the_page_shares_the_client_throttle(client, issued, monkeypatch):
    monkeypatch.setattr(VerifyThrottle, "rate", "2/min", raising=False)
    form = {"code": issued.code, "number": "99999999", "date": "20260905", "check": "123456"}
    assert [client.post(reverse("verify"), form).status_code for _ in range(2)] == [200, 200]
    r = client.post(reverse("verify"), form)
    assert r.status_code == 429 and "查验过于频繁" in r.content.decode()


# --- the counters on Redis, and the database when Redis is out ---------------------------------------


def _own_database(url: str) -> str:
    """A Redis database of these tests' own on the machine's server (CI starts one on
    127.0.0.1:6379): REDIS_URL's, or with pytest-xdist one per worker (REDIS_URL's number plus
    10 plus the worker's, of Redis's 16), since each test flushes it and two workers sharing one
    would wipe each other's counters mid-test."""
    base, _, number = url.rpartition("/")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw") or not number.isdigit():
        return url
    return f"{base}/{(int(number) + 10 + int(worker[2:])) % 16}"


REDIS_URL = _own_database(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/9")


@pytest.fixture
def redis_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "piaogen.cache.PooledRedisCache", "LOCATION": REDIS_URL}}
    from django.core.cache import cache

    cache.clear()  # this database only
    yield cache
    cache.clear()


@pytest.fixture(params=["database", "redis"])
def counters(request, settings):
    """The day's counts in the database (no Redis) and in Redis, as in production."""
    if request.param == "redis":
        settings.CACHES = {"default": {"BACKEND": "piaogen.cache.PooledRedisCache", "LOCATION": REDIS_URL}}
        from django.core.cache import cache

        cache.clear()
        yield request.param
        cache.clear()
    else:
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
        yield request.param


def wrong_check(inv: Invoice) -> dict:
    return params(inv, check="000000" if inv.check_code[-6:] != "000000" else "111111")


@pytest.mark.django_db
def test_on_redis_the_sixth_check_is_refused_and_nothing_is_written(
    api, issued, redis_cache, django_assert_num_queries
):
    for _ in range(3):
        with django_assert_num_queries(1):  # the invoice, found by its key: no counter row, no commit
            assert api.get(URL, wrong_check(issued)).json()["result"] == "mismatch"
    for _ in range(2):
        with django_assert_num_queries(1):  # the invoice with its lines, in one call
            body = api.get(URL, params(issued)).json()
        assert body["result"] == "genuine" and len(body["invoice"]["lines"]) == 1
    r = api.get(URL, params(issued))
    assert r.status_code == 429
    assert r.json() == {
        "result": "too_many_checks",
        "code": "too_many_checks",
        "message": r.json()["message"],
        "errors": {},
        "limit": "invoice",
    }
    assert 0 < int(r["Retry-After"]) <= 86400
    assert api.get(URL, wrong_check(issued)).status_code == 429
    other = Invoice.objects.exclude(pk=issued.pk).first()
    assert api.get(URL, params(other)).json()["result"] == "genuine"  # per invoice
    assert not VerificationCounter.objects.exists()
    today = verification.timezone.localdate()
    key = verification.checks_counter(issued.code, issued.number, today).key
    assert redis_cache.get(key) == 5  # the checks this client was allowed
    client = verification.client_key(address="127.0.0.1")
    assert redis_cache.get(verification.checks_counter(issued.code, issued.number, today, client).key) == 7
    ttl = redis_cache._cache.get_client().ttl(redis_cache.make_and_validate_key(key))
    to_midnight = verification.day_end(today).timestamp() - verification.timezone.now().timestamp()
    assert to_midnight < ttl <= to_midnight + 120  # gone after the day's midnight (Asia/Shanghai)
    # the next day starts again
    assert verification.verify(verification.parse(params(issued)), today=today + timedelta(days=1)).result == "genuine"


@pytest.mark.django_db
def test_on_redis_a_number_that_does_not_exist_is_not_found(api, issued, redis_cache):
    for _ in range(7):
        r = api.get(URL, params(issued, number="99999999"))
        assert r.status_code == 200 and r.json()["result"] == "not_found"


@pytest.mark.django_db
def test_on_redis_concurrent_checks_of_one_invoice_get_five_answers(issued, redis_cache):
    """Checks of one invoice at once from many connections: each gets its own count, so exactly
    five are answered, whatever their order."""
    from concurrent.futures import ThreadPoolExecutor

    from piaogen import throttling

    counter = verification.checks_counter(issued.code, issued.number, verification.timezone.localdate())

    def one(_):
        from django.core.cache import caches

        try:
            return throttling.incr(counter, cache=caches["default"])  # each thread its own connection
        finally:
            caches["default"].close()

    with ThreadPoolExecutor(max_workers=12) as pool:
        counts = list(pool.map(one, range(40)))
    assert sorted(counts) == list(range(1, 41))
    assert sum(c <= verification.max_per_client() for c in counts) == 5


@pytest.mark.django_db
def test_on_redis_the_client_limit_and_the_invoice_share_a_round_trip(api, issued, redis_cache, monkeypatch):
    monkeypatch.setattr(VerifyThrottle, "rate", "3/min", raising=False)
    assert [api.get(URL, wrong_check(issued)).status_code for _ in range(3)] == [200, 200, 200]
    r = api.get(URL, params(issued))
    assert r.status_code == 429 and r.json()["result"] == "too_many_checks" and r.json()["limit"] == "client"
    assert 0 < int(r["Retry-After"]) <= 60
    key = verification.checks_counter(issued.code, issued.number, verification.timezone.localdate()).key
    assert redis_cache.get(key) == 3  # a check refused for the client does not count for the invoice
    other = api.get(URL, params(issued), REMOTE_ADDR="10.9.0.2")  # another address is not limited
    assert other.json()["result"] == "genuine"
    assert api.get(URL, {"code": "1"}, REMOTE_ADDR="10.9.0.3").status_code == 400  # malformed counts too
    keys = [k for k in redis_cache._cache.get_client().keys("*") if b"throttle_verify" in k]
    assert len(keys) == 3 and all(redis_cache._cache.get_client().ttl(k) <= 120 for k in keys)


@pytest.mark.django_db
def test_with_redis_out_the_database_counts_and_the_client_limit_counts_in_the_process(
    api, issued, settings, monkeypatch, caplog
):
    settings.CACHES = {"default": {"BACKEND": "piaogen.cache.PooledRedisCache", "LOCATION": "redis://127.0.0.1:1/9"}}
    monkeypatch.setattr(VerifyThrottle, "rate", "6/min", raising=False)
    answers = [api.get(URL, wrong_check(issued)).json()["result"] for _ in range(3)]
    answers += [api.get(URL, params(issued)).json()["result"] for _ in range(2)]
    assert answers == ["mismatch"] * 3 + ["genuine"] * 2
    r = api.get(URL, params(issued))
    assert r.status_code == 429 and r.json()["limit"] == "invoice"
    assert VerificationCounter.objects.exclude(client="").get(invoice=issued).count == 6
    r = api.get(URL, params(issued))  # the 7th call of this client in the minute
    assert r.status_code == 429 and r.json()["limit"] == "client"
    assert "cache unavailable" in caplog.text


@pytest.mark.django_db
def test_the_answer_is_invoice_json_for_every_kind_of_invoice(world, api, issued, django_capture_on_commit_callbacks):
    """The verification answer builds the Invoice from rows; it must equal invoice_json: taxable
    and non-taxable lines, a reversed invoice and its red-letter one, a recharge invoice."""
    from invoices import selectors
    from invoices.api.invoicing import invoice_json

    stored = world.cards[1]
    world.bind(world.user, stored)
    recharges = [
        {
            "recharge_id": f"R{i}",
            "card_no": stored["card_no"],
            "amount": 50000,
            "recharged_at": "2026-09-01T10:00:00+08:00",
        }
        for i in range(2)
    ]
    world.issuer.post("/api/v1/partner/recharges", {"recharges": recharges}, format="json")
    body = {
        "kind": "recharge",
        "card_no": stored["card_no"],
        "recharge_ids": ["R0", "R1"],
        "title_id": title(world.user),
    }
    with django_capture_on_commit_callbacks(execute=True):
        assert world.user.post("/api/v1/app/applications", body, format="json").status_code == 202
    with django_capture_on_commit_callbacks(execute=True):
        assert world.user.post(f"/api/v1/app/invoices/{issued.pk}/reverse").status_code == 202
    invoices = list(selectors.invoice_queryset().order_by("id"))
    kinds = {(i.kind, i.red, i.status, bool(i.lines.all()[0].recharge_id)) for i in invoices}
    assert {("taxable", False, "reversed", False), ("taxable", True, "normal", False)} <= kinds
    assert ("non_taxable", False, "normal", False) in kinds and ("non_taxable", False, "normal", True) in kinds
    for inv in invoices:
        record = verification.find(inv.code, inv.number)
        assert record.as_json() == invoice_json(inv), inv
        r = api.get(URL, params(inv))
        assert r.json() == {"result": "genuine", "invoice": invoice_json(inv)}
