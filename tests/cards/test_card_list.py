"""我的ETC卡 for a fleet: a page of cards at a time (newest bound first), and a search by plate or
card number once there is more than a page."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

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


# --- the App's GET cards: every card by default, pages on request ---------------------------------

APP_CARDS = "/api/v1/app/cards"
CARD_FIELDS = {
    "card_no",
    "card_type",
    "plate",
    "plate_color",
    "vehicle_class",
    "holder_name_masked",
    "issuer",
    "bound_at",
    "default_title_id",
}


@pytest.mark.django_db
def test_app_cards_without_parameters_lists_every_card_as_the_contract_has_it(fleet, app_client):
    api = app_client(fleet)
    r = api.get(APP_CARDS)
    assert r.status_code == 200 and "Link" not in r
    body = r.json()
    assert set(body) == {"results", "notices"} and body["notices"] == []
    bindings = list(
        Binding.objects.filter(user=fleet, ended_at__isnull=True)
        .order_by("-bound_at", "-pk")
        .select_related("card__issuer")
    )
    assert [c["card_no"] for c in body["results"]] == [b.card.card_no for b in bindings]  # newest bound first
    for card, binding in zip(body["results"], bindings, strict=True):
        assert set(card) == CARD_FIELDS
        assert card["plate"] == binding.card.plate and card["plate_color"] == binding.card.plate_color
        assert card["card_type"] == "account" and card["vehicle_class"] == binding.card.vehicle_class
        assert card["holder_name_masked"] == "演" + "*" * (len(binding.card.holder_name) - 1)
        assert card["bound_at"] == timezone.localtime(binding.bound_at).isoformat()  # +08:00, as DRF writes it
        assert card["default_title_id"] == binding.default_title_id
        issuer = binding.card.issuer
        assert card["issuer"] == {
            "name": issuer.name,
            "province": issuer.province,
            "hotline": issuer.hotline,
            "hotline_label": issuer.hotline_label,
            "is_demo": issuer.is_demo,
        }
        # the same card alone, through the same builder
        assert api.get(f"{APP_CARDS}/{card['card_no']}").json() == card
    text = r.content.decode()
    assert COMPANY_MOBILE not in text and COMPANY_USCC not in text  # never the reserved identity


@pytest.mark.django_db
def test_app_cards_reads_as_many_queries_for_seven_cards_as_for_one(fleet, app_client, registry, make_user, sms):
    from tests.conftest import age_sms_codes

    api = app_client(fleet)
    api.get(APP_CARDS)
    with CaptureQueriesContext(connection) as seven:
        assert len(api.get(APP_CARDS).json()["results"]) == 7
    one_user = make_user(account_type="enterprise", name="演示物流有限公司", tax_id=COMPANY_USCC, mobile="13955550000")
    registry(company_card(20, mobile="13955550000"))
    age_sms_codes()
    bulk = bulk_binding_start(user=one_user, card_nos=[company_card(20)["card_no"]])
    bulk_binding_confirm(user=one_user, bulk_id=bulk.public_id, code=sms.last_code("13955550000", "bind"))
    single = app_client(one_user)
    single.get(APP_CARDS)
    with CaptureQueriesContext(connection) as one:
        assert len(single.get(APP_CARDS).json()["results"]) == 1
    assert len(one.captured_queries) == len(seven.captured_queries)


@pytest.mark.django_db
def test_app_cards_pages_with_limit_and_the_cursor_of_its_link(fleet, app_client):
    api = app_client(fleet)
    everything = api.get(APP_CARDS).json()["results"]
    seen, url, pages = [], f"{APP_CARDS}?limit=3", 0
    while url:
        r = api.get(url)
        assert r.status_code == 200 and set(r.json()) == {"results", "notices"}
        seen += r.json()["results"]
        pages += 1
        link = r.get("Link")
        url = None
        if link:
            assert link.endswith('>; rel="next"') and "limit=3" in link
            url = re.search(r"<http://testserver([^>]+)>", link).group(1)
    assert pages == 3 and seen == everything  # the same cards, the same order, none twice
    assert "Link" not in api.get(APP_CARDS, {"limit": 7}) and "Link" in api.get(APP_CARDS, {"limit": 6})
    # a cursor alone takes the largest page
    cursor = re.search(r"cursor=([^&>]+)", api.get(APP_CARDS, {"limit": 2})["Link"]).group(1)
    assert api.get(APP_CARDS, {"cursor": cursor}).json()["results"] == everything[2:]


@pytest.mark.django_db
def test_app_cards_refuses_a_bad_limit_or_cursor_and_a_cursor_never_shows_another_account(fleet, app_client):
    api = app_client(fleet)
    for params in ({"limit": "0"}, {"limit": "501"}, {"limit": "x"}, {"cursor": "nope"}, {"cursor": "1_2_3"}):
        r = api.get(APP_CARDS, params)
        assert r.status_code == 400, params
        assert r.json()["code"] == "invalid" and set(r.json()["errors"]) <= {"limit", "cursor"}, r.json()
    cursor = re.search(r"cursor=([^&>]+)", api.get(APP_CARDS, {"limit": 1})["Link"]).group(1)
    stranger = app_client()
    assert stranger.get(APP_CARDS, {"cursor": cursor}).json() == {"results": [], "notices": []}
