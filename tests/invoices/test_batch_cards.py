"""批量开票 for a fleet: every bound card counted (not listed), a page of cards to tick with a
search, and a pasted list of card numbers or plates resolved against the account's own cards —
an entry that is not one of them is refused with its line, and nothing is submitted."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from invoices.models import Batch

from .test_batches import MONTH, fleet  # noqa: F401 (the fixture)
from .test_card_picker import bind_fleet, plate

URL = reverse("invoices:batch_apply")


def ticks(body: str) -> list[str]:
    return re.findall(r'<input type="checkbox" name="card_nos" value="(\d{20})"', body)


def form(world, **extra) -> dict:
    return {
        "month": MONTH,
        "mode": "monthly",
        "scope": "selected",
        "title_id": world.company,
        "step": "preview",
    } | extra


@pytest.fixture
def clerk(client, fleet):  # noqa: F811
    client.force_login(fleet.user.user)
    return client


@pytest.mark.django_db
def test_a_small_account_ticks_every_card(fleet, clerk, settings):  # noqa: F811
    settings.CARDS_PAGE_SIZE = 4
    body = clerk.get(URL).content.decode()
    assert sorted(ticks(body)) == sorted(fleet.fleet) and "全部已绑定的ETC卡（4 张）" in body
    assert 'name="q"' not in body and 'name="card_list"' in body


@pytest.mark.django_db
def test_a_fleet_ticks_a_page_with_a_search_and_every_card_is_counted(fleet, clerk, settings):  # noqa: F811
    settings.CARDS_PAGE_SIZE = 3
    more = bind_fleet(fleet, range(101, 111))
    body = clerk.get(URL).content.decode()
    assert ticks(body) == list(reversed(more))[:3]
    assert "全部已绑定的ETC卡（14 张）" in body and 'name="q"' in body and 'rel="next"' in body
    body = clerk.get(URL, {"q": plate(101)}).content.decode()
    assert ticks(body) == [more[0]] and "全部已绑定的ETC卡（14 张）" in body
    body = clerk.get(URL, {"q": "京Z99999"}).content.decode()
    assert ticks(body) == [] and "没有车牌或卡号包含“京Z99999”的已绑定ETC卡" in body


@pytest.mark.django_db
def test_a_pasted_list_is_merged_with_the_ticked_cards(fleet, clerk, settings):  # noqa: F811
    settings.CARDS_PAGE_SIZE = 2
    more = bind_fleet(fleet, range(101, 111))
    # the world's card by its number printed in groups, another by a row copied from a sheet
    # (plate, tab, number), one by its plate in lower case, a duplicate and blank lines
    spaced = " ".join(re.findall(r"\d{4}", fleet.fleet[1]))
    pasted = f"{spaced}\n\n{plate(103)}\t{more[2]}\n{plate(105).lower()}\n{fleet.fleet[1]}\n"
    r = clerk.post(URL, form(fleet, card_nos=[fleet.fleet[0], more[-1]], card_list=pasted))
    assert r.status_code == 200 and r.templates[0].name == "invoices/batch_confirm.html"
    assert r.context["card_nos"] == [fleet.fleet[0], more[-1], fleet.fleet[1], more[2], more[4]]
    body = r.content.decode()
    assert "所选 5 张卡" in body
    for number in r.context["card_nos"]:
        assert f'<input type="hidden" name="card_nos" value="{number}">' in body
    # back from the confirmation: the chosen cards this page does not show are in the list
    r = clerk.post(URL, form(fleet, step="edit", card_nos=r.context["card_nos"]))
    body = r.content.decode()
    assert re.findall(r'value="(\d{20})" checked', body) == [more[-1]]
    listed = re.search(r'<textarea id="b-list" name="card_list"[^>]*>(.*?)</textarea>', body, re.S).group(1)
    assert listed.split() == [fleet.fleet[0], fleet.fleet[1], more[2], more[4]]


@pytest.mark.django_db
def test_entries_not_of_the_account_are_refused_line_by_line(fleet, clerk, settings, make_user):  # noqa: F811
    settings.CARDS_PAGE_SIZE = 2
    more = bind_fleet(fleet, range(101, 104))
    theirs = bind_fleet(fleet, [201], user=make_user())
    pasted = f"{more[0]}\n{theirs[0]}\n京Z99999\n41011234\n{plate(201)}\n"
    r = clerk.post(URL, form(fleet, card_nos=[fleet.card_no], card_list=pasted))
    assert r.status_code == 200 and r.templates[0].name == "invoices/batch_apply.html"
    body = r.content.decode()
    assert "粘贴的内容中有 4 项没有对应本账户已绑定的ETC卡，批量开票没有提交" in body
    assert f"第 2 行：“{theirs[0]}”不是本账户已绑定的ETC卡。" in body
    assert "第 3 行：“京Z99999”不是本账户已绑定的ETC卡。" in body
    assert "第 4 行：“41011234”不是完整的卡号（卡号为20位数字）。" in body
    assert f"第 5 行：“{plate(201)}”不是本账户已绑定的ETC卡。" in body
    assert "第 1 行" not in body
    # what was typed is kept to be corrected, nothing was planned, nothing submitted
    assert f"{theirs[0]}\n京Z99999" in body and "plan" not in r.context
    r = clerk.post(URL, form(fleet, step="confirm", plan_digest="0" * 32, card_list=theirs[0]))
    assert "不是本账户已绑定的ETC卡" in r.content.decode()
    assert not Batch.objects.exists()


@pytest.mark.django_db
def test_a_plate_of_several_cards_asks_for_the_number(fleet, clerk):  # noqa: F811
    # the world's cards all carry 豫A12345 (tests/invoices/conftest.card_item)
    r = clerk.post(URL, form(fleet, card_list="豫A12345"))
    assert "第 1 行：车牌“豫A12345”对应本账户的 4 张ETC卡，请改填卡号。" in r.content.decode()


@pytest.mark.django_db
def test_a_pasted_list_with_every_card_chosen_asks_which(fleet, clerk):  # noqa: F811
    r = clerk.post(URL, form(fleet, scope="all", card_list=fleet.card_no))
    body = r.content.decode()
    assert r.templates[0].name == "invoices/batch_apply.html" and "您粘贴了卡号或车牌" in body
