"""我的ETC卡 for a fleet: a page of cards at a time (newest bound first), and a search by plate or
card number once there is more than a page."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cards.models import Binding
from cards.services.bulk_binding import bulk_binding_confirm, bulk_binding_start

from .conftest import COMPANY_MOBILE, COMPANY_USCC
from .test_bulk_binding import company_card

URL = "/cards/"


@pytest.fixture
def fleet(client, make_user, registry, sms, settings):
    """An enterprise account with 7 trucks bound in one bulk binding; 3 cards a page."""
    from tests.conftest import age_sms_codes

    settings.CARDS_PAGE_SIZE = 3
    company = make_user(account_type="enterprise", name="演示物流有限公司", tax_id=COMPANY_USCC, mobile=COMPANY_MOBILE)
    registry(*(company_card(n) for n in range(1, 8)))
    age_sms_codes()
    numbers = [company_card(n)["card_no"] for n in range(1, 8)]
    bulk = bulk_binding_start(user=company, card_nos=numbers)
    bulk_binding_confirm(user=company, bulk_id=bulk.public_id, code=sms.last_code(COMPANY_MOBILE, "bind"))
    client.force_login(company)
    return company


def plates(body: str) -> list[str]:
    return re.findall(r'<strong class="plate[^"]*">([^<]+)</strong>', body)


def follow(client, body: str, rel: str) -> str | None:
    found = re.search(rf'href="([^"]+)" rel="{rel}"', body)
    return client.get(URL + unescape(found.group(1))).content.decode() if found else None


@pytest.mark.django_db
def test_the_cards_come_a_page_at_a_time_newest_first_and_back(fleet, client):
    newest_first = list(
        Binding.objects.filter(user=fleet, ended_at__isnull=True)
        .order_by("-bound_at", "-pk")
        .values_list("card__plate", flat=True)
    )
    pages, body = [], client.get(URL).content.decode()
    assert "共绑定 7 张卡" in body and 'name="q"' in body
    while body:
        pages.append(plates(body))
        body = follow(client, body, "next")
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [plate for page in pages for plate in page] == newest_first
    # back from the last page to the first
    last = client.get(URL).content.decode()
    while (nxt := follow(client, last, "next")) is not None:
        last = nxt
    back = follow(client, follow(client, last, "prev"), "prev")
    assert plates(back) == pages[0]


@pytest.mark.django_db
def test_a_search_finds_a_card_by_plate_or_by_the_end_of_its_number(fleet, client):
    target = company_card(5)
    body = client.get(URL, {"q": target["plate"][-5:]}).content.decode()
    assert plates(body) == [target["plate"]] and "显示全部" in body and "共绑定 7 张卡" in body
    body = client.get(URL, {"q": target["card_no"][-6:]}).content.decode()
    assert plates(body) == [target["plate"]]
    body = client.get(URL, {"q": "京Z99999"}).content.decode()
    assert plates(body) == [] and "没有车牌或卡号包含“京Z99999”的已绑定ETC卡" in body
    assert "您还没有绑定ETC卡" not in body  # the account has cards: only the search found none


@pytest.mark.django_db
def test_a_search_never_shows_a_card_of_another_account(fleet, client, make_user):
    other = make_user()
    client.force_login(other)
    body = client.get(URL, {"q": company_card(5)["plate"]}).content.decode()
    assert plates(body) == [] and company_card(5)["card_no"] not in body


@pytest.mark.django_db
def test_a_page_costs_the_same_queries_whatever_the_cards(fleet, client, settings):
    client.get(URL)
    with CaptureQueriesContext(connection) as three:
        client.get(URL)  # 3 of 7 cards
    settings.CARDS_PAGE_SIZE = 6
    with CaptureQueriesContext(connection) as six:
        body = client.get(URL).content.decode()
    assert len(plates(body)) == 6 and len(six.captured_queries) == len(three.captured_queries)
    # every card on one page: no search, no pager, and no count (the page's length is the count)
    settings.CARDS_PAGE_SIZE = 7
    with CaptureQueriesContext(connection) as seven:
        body = client.get(URL).content.decode()
    assert len(plates(body)) == 7 and 'name="q"' not in body and 'rel="next"' not in body
    assert len(seven.captured_queries) == len(three.captured_queries) - 1
