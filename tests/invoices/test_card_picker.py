"""The card picker of 通行记录, 充值记录, 我要开票 and 我的发票 for a fleet: a ``<select>`` of every
card up to ``CARDS_PAGE_SIZE`` cards, as always; past that the chosen card, a search by plate or
card number and at most a page of what it finds, in the same few queries whatever the cards."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cards.models import Binding, Card

from .conftest import card_item, resident_id

PAGES = {"通行记录": "/trips/", "我要开票": "/apply/", "我的发票": "/invoices/"}
SELECT_ID = {"/trips/": "f-card", "/apply/": "f-card", "/trips/recharges/": "f-card", "/invoices/": "i-card"}


def plate(serial: int) -> str:
    return f"豫F{serial:05d}"


def bind_fleet(world, serials, *, user=None, card_type="account") -> list[str]:
    """Registry cards of plates 豫F<serial> bound to ``user`` (the world's by default), the later
    serials bound later (newest first on the pages). Bound in the database: the binding itself
    is tested elsewhere, and a fleet of 30 through SMS codes would be slow for nothing."""
    items = [
        card_item(f"4101{s:016d}", f"1370{s:07d}", resident_id(s), card_type=card_type, plate=plate(s)) for s in serials
    ]
    r = world.issuer.post("/api/v1/partner/cards", {"cards": items}, format="json")
    assert r.status_code == 200 and not r.json()["rejected"], r.content
    owner = user or world.user.user
    start = timezone.now()
    for i, item in enumerate(items):
        card = Card.objects.get(card_no=item["card_no"])
        Binding.objects.create(user=owner, card=card, bound_at=start + timedelta(seconds=i + 1))
    return [i["card_no"] for i in items]


def options(body: str, select_id: str) -> tuple[list[str], str | None]:
    """The card numbers a page's card <select> offers, and the selected one."""
    found = re.search(rf'<select id="{select_id}" name="card"[^>]*>(.*?)</select>', body, re.S)
    assert found, f"no card select #{select_id}"
    values = re.findall(r'<option value="(\d{20})"', found.group(1))
    chosen = re.search(r'<option value="(\d{20})" selected', found.group(1))
    return values, chosen.group(1) if chosen else None


@pytest.fixture
def clerk(client, world):
    client.force_login(world.user.user)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/trips/", "/apply/", "/invoices/"])
def test_a_small_account_keeps_the_select_of_every_card(world, clerk, settings, url):
    settings.CARDS_PAGE_SIZE = 4
    fleet = bind_fleet(world, [101, 102, 103])
    body = clerk.get(url).content.decode()
    values, chosen = options(body, SELECT_ID[url])
    assert values == [*reversed(fleet), world.card_no]  # every card, newest bound first
    assert 'name="q"' not in body and "共绑定" not in body
    assert chosen == (None if url == "/invoices/" else fleet[-1])


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/trips/", "/apply/", "/invoices/"])
def test_a_fleet_gets_a_page_of_cards_and_a_search(world, clerk, settings, url):
    settings.CARDS_PAGE_SIZE = 4
    fleet = bind_fleet(world, range(101, 111))  # 11 cards with the world's
    body = clerk.get(url).content.decode()
    values, chosen = options(body, SELECT_ID[url])
    assert values == list(reversed(fleet))[:4]
    assert 'name="q"' in body and "共绑定 11 张卡" in body
    assert chosen == (None if url == "/invoices/" else fleet[-1])

    # the oldest card, by its plate: found and opened beyond the first page
    body = clerk.get(url, {"q": plate(101)}).content.decode()
    values, chosen = options(body, SELECT_ID[url])
    assert chosen == fleet[0] and values == [fleet[0]]
    assert "“豫F00101”的查找结果（共绑定 11 张卡）" in body
    # by the end of its number: every card whose number holds it, at most a page
    body = clerk.get(url, {"q": "0001"}).content.decode()
    values, chosen = options(body, SELECT_ID[url])
    assert len(values) == 4 and chosen == fleet[-1]
    # nothing found: said so, never "no cards bound"
    body = clerk.get(url, {"q": "京Z99999"}).content.decode()
    assert "没有车牌或卡号包含“京Z99999”的已绑定ETC卡" in body and "请先绑定ETC卡" not in body
    assert "您还没有绑定ETC卡" not in body


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/trips/", "/apply/", "/invoices/"])
def test_a_card_asked_for_beyond_the_first_page_is_the_one_selected(world, clerk, settings, url):
    settings.CARDS_PAGE_SIZE = 4
    fleet = bind_fleet(world, range(101, 111))
    body = clerk.get(url, {"card": fleet[2]}).content.decode()
    values, chosen = options(body, SELECT_ID[url])
    assert chosen == fleet[2] and values == [fleet[2], *list(reversed(fleet))[:4]]
    # a search kept while another card is chosen: the chosen one first, then what it found
    body = clerk.get(url, {"card": fleet[2], "q": plate(109)}).content.decode()
    values, chosen = options(body, SELECT_ID[url])
    assert chosen == fleet[2] and values == [fleet[2], fleet[8]]
    assert f'name="q" value="{plate(109)}"' in body  # kept by the card-and-month form


@pytest.mark.django_db
def test_the_search_keeps_the_month_asked_for(world, clerk, settings):
    settings.CARDS_PAGE_SIZE = 2
    bind_fleet(world, range(101, 106))
    body = clerk.get("/trips/", {"month": "2026-09"}).content.decode()
    search = re.search(r'<form method="get" class="card-search".*?</form>', body, re.S).group(0)
    assert '<input type="hidden" name="month" value="2026-09">' in search
    body = clerk.get("/trips/", {"month": "2026-09", "q": plate(101)}).content.decode()
    assert unescape(re.search(r'<a href="([^"]*)">显示全部</a>', body).group(1)) == "?month=2026-09"


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/trips/", "/apply/", "/invoices/", "/trips/recharges/"])
def test_another_accounts_card_is_never_shown_nor_taken(world, clerk, settings, make_user, url):
    settings.CARDS_PAGE_SIZE = 2
    mine = bind_fleet(world, range(101, 106), card_type="stored_value")
    stranger = make_user()
    theirs = bind_fleet(world, range(201, 206), user=stranger, card_type="stored_value")
    assert clerk.get(url, {"card": theirs[0]}).status_code == 404
    body = clerk.get(url, {"q": plate(201)}).content.decode()
    assert not any(no in body for no in theirs) and "没有车牌或卡号包含“豫F00201”" in body
    body = clerk.get(url, {"q": "4101"}).content.decode()  # every number holds it: only mine
    values, _chosen = options(body, SELECT_ID[url])
    assert values and set(values) <= {*mine, world.card_no} and not any(no in body for no in theirs)


@pytest.mark.django_db
def test_recharges_pick_among_stored_value_cards_only(world, clerk, settings):
    settings.CARDS_PAGE_SIZE = 2
    stored = bind_fleet(world, range(101, 106), card_type="stored_value")
    bind_fleet(world, range(111, 116))  # account cards, bound later
    body = clerk.get("/trips/recharges/").content.decode()
    values, chosen = options(body, "f-card")
    assert values == list(reversed(stored))[:2] and chosen == stored[-1] and "共绑定 5 张卡" in body
    # an account card of theirs asked for: the first stored-value card instead, as before
    values, chosen = options(clerk.get("/trips/recharges/", {"card": world.card_no}).content.decode(), "f-card")
    assert chosen == stored[-1]
    # a stored-value card beyond the first page
    values, chosen = options(clerk.get("/trips/recharges/", {"q": plate(101)}).content.decode(), "f-card")
    assert chosen == stored[0] and values == [stored[0]]


def query_counts(clerk, requests) -> list[int]:
    counts = []
    for url, params in requests:
        clerk.get(url, params)  # warm (sessions, caches)
        with CaptureQueriesContext(connection) as ctx:
            assert clerk.get(url, params).status_code == 200
        counts.append(len(ctx.captured_queries))
    return counts


@pytest.mark.django_db
def test_the_pickers_queries_do_not_grow_with_the_cards(world, clerk, settings):
    settings.CARDS_PAGE_SIZE = 2
    few = bind_fleet(world, range(101, 104), card_type="stored_value")  # beyond a page, 充值记录's too

    def requests(cards):
        return [
            (url, params)
            for url in ["/trips/", "/apply/", "/invoices/", "/trips/recharges/", "/batches/new/"]
            for params in ({}, {"q": plate(101)}, {"card": cards[0]}, {"q": "4101", "card": cards[0]})
            if not (url == "/batches/new/" and "card" in params)
        ]

    three = query_counts(clerk, requests(few))
    bind_fleet(world, range(104, 131), card_type="stored_value")  # 30 of them
    thirty = query_counts(clerk, requests(few))
    assert thirty == three, list(zip(requests(few), three, thirty, strict=True))
