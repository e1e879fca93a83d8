"""Verification and strangers: wrong checks are counted per (client, invoice) as well as per
invoice, so a stranger's guesses stop the stranger; everyone's together reach a ceiling well
above a client's limit; the invoice's owner signed in (page) or with their App token (API) is
never stopped by anyone else's checks."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from invoices import verification
from invoices.models import Invoice, VerificationCounter
from piaogen import throttling

from . import test_verification
from .test_verification import REDIS_URL, URL, params, wrong_check

# the fixtures
applied, issued, counters = test_verification.applied, test_verification.issued, test_verification.counters


def check(client: APIClient, inv, address: str, **override):
    return client.get(URL, params(inv, **override), REMOTE_ADDR=address)


def total_today(inv: Invoice, backend: str) -> int:
    if backend == "redis":
        from django.core.cache import cache

        return cache.get(verification.checks_counter(inv.code, inv.number, verification.timezone.localdate()).key)
    return VerificationCounter.objects.get(invoice=inv, client="").count


def stranger_guesses(api, inv, addresses: int, each: int, first: int = 0) -> list[int]:
    """``each`` wrong checks of ``inv`` from each of ``addresses`` addresses; their statuses."""
    return [
        check(api, inv, f"10.40.{first + a}.1", **wrong_check(inv)).status_code
        for a in range(addresses)
        for _ in range(each)
    ]


@pytest.mark.django_db
def test_a_strangers_five_wrong_checks_stop_the_stranger_not_the_holder(api, issued, counters, settings):
    per_client = settings.VERIFY_MAX_CHECKS_PER_CLIENT_INVOICE
    assert stranger_guesses(api, issued, 1, per_client) == [200] * per_client
    r = check(api, issued, "10.40.0.1", **wrong_check(issued))
    assert r.status_code == 429 and r.json()["limit"] == "invoice" and 0 < int(r["Retry-After"]) <= 86400
    r = check(api, issued, "10.40.0.1")  # not even the right check code, for this client
    assert r.status_code == 429 and r.json()["result"] == "too_many_checks"
    # The accountant holding the paper invoice, on another client: genuine, a whole day's checks left.
    r = check(api, issued, "10.41.0.1")
    assert r.status_code == 200 and r.json()["result"] == "genuine"
    assert total_today(issued, counters) == per_client + 1  # the refused checks did not count


@pytest.mark.django_db
def test_many_strangers_reach_the_ceiling_and_the_owner_still_verifies(api, issued, counters, settings, client, world):
    settings.VERIFY_MAX_CHECKS_PER_INVOICE = 20  # the default 50, smaller to keep the test short
    per_client, ceiling = settings.VERIFY_MAX_CHECKS_PER_CLIENT_INVOICE, settings.VERIFY_MAX_CHECKS_PER_INVOICE
    statuses = stranger_guesses(api, issued, ceiling // per_client, per_client + 2)
    assert statuses.count(200) == ceiling and statuses.count(429) == 2 * (ceiling // per_client)
    assert total_today(issued, counters) == ceiling
    # Now anyone else is refused, and told why.
    r = check(api, issued, "10.42.0.1")
    assert r.status_code == 429
    body = r.json()
    assert body["limit"] == "invoice_total" and body["code"] == "too_many_checks"
    assert f"已被查验 {ceiling} 次" in body["message"] and "登录票根账户后可照常查验" in body["message"]
    page = client.post(reverse("verify"), {"code": issued.code, "number": issued.number, "date": "", "check": ""})
    assert page.status_code == 400  # malformed input is no check
    form = {
        "code": issued.code,
        "number": issued.number,
        "date": f"{issued.issued_on:%Y%m%d}",
        "check": issued.check_code[-6:],
    }
    page = client.post(reverse("verify"), form, REMOTE_ADDR="10.42.0.2")
    text = page.content.decode()
    assert page.status_code == 429 and "今天暂停公开查验" in text and 'href="/accounts/login/?next=/verify/"' in text
    refused = total_today(issued, counters)  # past the ceiling now, by the refused checks
    # The owner, signed in on the page: genuine, counted for them alone.
    owner = world.user.user
    client.force_login(owner)
    page = client.post(reverse("verify"), form, REMOTE_ADDR="10.42.0.2")
    text = page.content.decode()
    assert page.status_code == 200 and "发票信息一致" in text
    assert f"这是今天第 1 次查验这张发票，今天还可再查验 {per_client - 1} 次" in text
    # The owner's App token on the API: genuine too; a wrong token changes nothing.
    r = world.user.get(URL, params(issued), REMOTE_ADDR="10.42.0.3")
    assert r.status_code == 200 and r.json()["result"] == "genuine"
    assert total_today(issued, counters) == refused  # the owner's checks are not everyone's
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    r = bad.get(URL, params(issued), REMOTE_ADDR="10.42.0.3")
    assert r.status_code == 429 and r.json()["limit"] == "invoice_total"
    # Another signed-in user is a stranger to this invoice.
    client.force_login(_someone())
    assert client.post(reverse("verify"), form, REMOTE_ADDR="10.42.0.4").status_code == 429
    # The owner's own limit is theirs (page and App alike): their 6th check is refused.
    client.force_login(owner)
    for _ in range(per_client - 2):
        assert client.post(reverse("verify"), form, REMOTE_ADDR="10.42.0.5").status_code == 200
    assert client.post(reverse("verify"), form, REMOTE_ADDR="10.42.0.5").status_code == 429


def _someone():
    from accounts.models import User

    return User.objects.create_user("13711112222", "secret123abc")


@pytest.mark.django_db
def test_the_page_explains_a_clients_own_limit(client, issued, counters, settings):
    per_client = settings.VERIFY_MAX_CHECKS_PER_CLIENT_INVOICE
    form = {"code": issued.code, "number": issued.number, "date": f"{issued.issued_on:%Y%m%d}", "check": "000000"}
    if issued.check_code.endswith("000000"):
        form["check"] = "111111"
    for used in range(1, per_client + 1):
        text = client.post(reverse("verify"), form).content.decode()
        assert "发票信息不一致" in text and f"这是今天第 {used} 次查验这张发票" in text
    r = client.post(reverse("verify"), form)
    text = r.content.decode()
    assert r.status_code == 429 and f"您今天查验这张发票的次数已超过 {per_client} 次" in text
    assert "今天再查验都会被拒绝" in text and "/accounts/login/?next=" not in text


def test_on_redis_concurrent_checks_from_many_clients_stop_at_each_limit(settings):
    """12 clients × 8 checks of one invoice at once, each chain (the client's count, then the
    invoice's) one atomic script: every client gets exactly its 5, and everyone together
    exactly the ceiling."""
    settings.CACHES = {"default": {"BACKEND": "piaogen.cache.PooledRedisCache", "LOCATION": REDIS_URL}}
    from django.core.cache import cache, caches

    cache.clear()
    settings.VERIFY_MAX_CHECKS_PER_INVOICE = 50
    day = verification.timezone.localdate()
    per_client = settings.VERIFY_MAX_CHECKS_PER_CLIENT_INVOICE

    def one(n):
        client = verification.client_key(address=f"10.43.0.{n % 12}")
        chain = [
            (verification.checks_counter("041002600112", "00000001", day, client), per_client),
            (verification.checks_counter("041002600112", "00000001", day), throttling.NO_LIMIT),
        ]
        try:
            return n % 12, throttling.incr_chain(chain, cache=caches["default"])
        finally:
            caches["default"].close()

    try:
        with ThreadPoolExecutor(max_workers=16) as pool:
            results = list(pool.map(one, range(96)))
        answered = [
            (c, mine, total)
            for c, (mine, total) in results
            if mine <= per_client and total <= settings.VERIFY_MAX_CHECKS_PER_INVOICE
        ]
        assert len(answered) == 50  # 12 clients could have had 60: the ceiling held
        by_client = {c: sum(1 for who, mine, _t in answered if who == c) for c in range(12)}
        assert max(by_client.values()) <= per_client
        assert sorted(total for _c, (mine, total) in results if total) == list(range(1, 61))  # 5 a client counted
    finally:
        cache.clear()
