"""批量开票 and the finance ledger as a fleet uses them: one month across several bound cards,
the confirmation's figures are what is issued, the batch page follows the issuing by itself,
the batch ZIP holds every card's documents, and the ledger of the period carries the
subtotals per seller."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import zipfile
from io import BytesIO

import pytest
from playwright.sync_api import expect

from .conftest import (
    INVOICES_PER_MONTH,
    ISSUER_NETWORK_CODE,
    OPERATOR_NAMES,
    TRIPS,
    log_in,
    make_uscc,
    nav,
    previous_month,
    wait_for,
)

pytestmark = pytest.mark.browser

CARDS_WITH_TRIPS = 3


def fleet(world):
    """A company's user with four bound cards: three with last month's trips, one without."""
    person = world.bound_person()
    cards = [person]
    for index in range(CARDS_WITH_TRIPS):  # three more cards of the same holder, each its driver's mobile
        n = next(world._serial)
        card = dataclasses.replace(
            person, card_no=f"{ISSUER_NETWORK_CODE}9{n:015d}", plate=f"粤B{n:05d}", mobile=f"1360000{n:04d}"
        )
        world.push_card(card)
        world.bind(card)
        if index < CARDS_WITH_TRIPS - 1:
            world.push_trips(card)
        cards.append(card)
    name = f"测试车队{person.serial}有限公司"
    made = world.app(
        "POST",
        "titles",
        {"kind": "enterprise", "name": name, "tax_id": make_uscc("91440300MA5BRW003")},
        person=person,
        expect=201,
    )
    return person, cards, made["id"]


def fen(text: str) -> int:
    yuan, _dot, cents = text.replace("¥", "").replace(",", "").strip().partition(".")
    return int(yuan) * 100 + int(cents or 0)


def test_batch_apply_and_ledger(open_page, world, journey):
    person, cards, title_id = fleet(world)
    month = previous_month().strftime("%Y-%m")
    per_card_total = sum(fee for _day, _stations, split in TRIPS for _code, fee in split)
    expected_invoices = INVOICES_PER_MONTH * CARDS_WITH_TRIPS
    page = open_page()
    log_in(page, person)

    nav(page, "我要开票")
    # Four cards, two a page on this server (CARDS_PAGE_SIZE): the card picker offers the newest
    # two and a search; the clerk finds an older card by its plate and it is the one shown.
    picker = page.locator("#f-card")
    expect(picker.locator("option")).to_have_count(2)
    expect(page.locator("#card-count")).to_contain_text(f"共绑定 {len(cards)} 张卡")
    page.get_by_label("查找车牌或卡号").fill(cards[1].plate)
    page.get_by_role("button", name="查找", exact=True).click()
    page.wait_for_url(re.compile(r"/apply/\?q="))
    expect(picker).to_have_value(cards[1].card_no)
    expect(page.locator("#card-count")).to_contain_text(f"“{cards[1].plate}”的查找结果")
    journey.user_page(page, "apply-card-search")

    page.get_by_role("link", name="批量开票：一次为多张卡的同一个月开票").click()
    page.wait_for_url(re.compile(r"/batches/new/$"))
    form = page.locator("#batch-form")
    expect(form).to_contain_text(f"全部已绑定的ETC卡（{len(cards)} 张）")
    expect(form.locator("#batch-cards input[type=checkbox]")).to_have_count(2)  # a page of them
    expect(page.get_by_label("月份", exact=True)).to_have_value(month)
    journey.user_page(page, "batch-apply")

    # the oldest card found by its plate and ticked, another pasted with a plate no card of the
    # account carries: refused line by line, nothing planned
    page.get_by_label("查找车牌或卡号").fill(cards[0].plate)
    page.get_by_role("button", name="查找", exact=True).click()
    page.wait_for_url(re.compile(r"/batches/new/\?q="))
    found = form.locator("#batch-cards input[type=checkbox]")
    expect(found).to_have_count(1)
    expect(found).to_have_value(cards[0].card_no)
    journey.user_page(page, "batch-apply-search")
    form.get_by_label("只开下面勾选的卡").check()
    found.check()
    pasted = form.get_by_label("或粘贴卡号/车牌，每行一个")
    pasted.fill(f"{cards[1].plate}\n京Z99999")
    form.get_by_label("发票抬头").select_option(str(title_id))
    form.get_by_role("button", name="下一步：核对开票内容").click()
    expect(page.locator("#b-list-errors")).to_contain_text("第 2 行：“京Z99999”不是本账户已绑定的ETC卡。")
    expect(page.get_by_role("alert")).to_contain_text("批量开票没有提交")
    journey.user_page(page, "batch-apply-paste-refused")
    # corrected: the ticked card and the pasted one make the batch's two cards
    pasted.fill(cards[1].plate)
    form.get_by_role("button", name="下一步：核对开票内容").click()
    expect(page.get_by_role("heading", name="核对批量开票内容")).to_be_visible()
    expect(page.locator("#plan-cards")).to_contain_text("所选 2 张卡")
    journey.user_page(page, "batch-confirm-chosen")
    page.get_by_role("button", name="返回修改").click()
    expect(form.get_by_label("或粘贴卡号/车牌，每行一个")).to_have_value(cards[1].card_no)
    # every card after all: the list emptied, 全部已绑定的ETC卡
    form.get_by_label("或粘贴卡号/车牌，每行一个").fill("")
    form.get_by_label(re.compile("全部已绑定的ETC卡")).check()
    form.get_by_label("按次开票：每次通行、每个经营单位一张").check()
    form.get_by_label("发票抬头").select_option(str(title_id))
    form.get_by_role("button", name="下一步：核对开票内容").click()

    expect(page.get_by_role("heading", name="核对批量开票内容")).to_be_visible()
    journey.user_page(page, "batch-confirm")
    shown_count = int(page.locator("#plan-count").inner_text())
    shown_sellers = int(re.search(r"\d+", page.locator("#plan-seller-count").inner_text()).group())
    shown_total = fen(page.locator("#plan-total").inner_text())
    assert shown_count == expected_invoices
    assert shown_sellers == len(OPERATOR_NAMES)
    assert shown_total == per_card_total * CARDS_WITH_TRIPS
    expect(page.locator("#plan-cards")).to_contain_text(f"所选 {len(cards)} 张卡：{CARDS_WITH_TRIPS} 张开票，1 张跳过")
    expect(page.locator("#plan-per-card tbody tr")).to_have_count(CARDS_WITH_TRIPS)
    expect(page.locator("#plan-skipped")).to_contain_text(cards[-1].card_no)
    expect(page.locator("#plan-skipped")).to_contain_text("没有可开票的通行记录")
    for name in OPERATOR_NAMES:
        expect(page.locator("#batch-sellers")).to_contain_text(name)
    page.get_by_role("button", name=f"确认开票（{shown_count} 张）").click()

    page.wait_for_url(re.compile(r"/batches/\d+/$"))
    batch_id = int(re.search(r"/batches/(\d+)/", page.url).group(1))
    journey.shot(page, "batch-progress")
    expect(page.locator("#progress")).to_have_attribute("data-status", "issued", timeout=120_000)
    page.wait_for_load_state("load")
    journey.user_page(page, "batch-issued")
    status = page.locator("#status-text").inner_text()
    issued = re.search(r"已为 (\d+) 张卡开出 (\d+) 张发票，价税合计 ¥([\d.,]+)", status)
    assert issued, status
    assert int(issued.group(1)) == CARDS_WITH_TRIPS
    assert int(issued.group(2)) == shown_count  # what the confirmation said is what was issued
    assert fen(issued.group(3)) == shown_total
    detail = world.app("GET", f"batches/{batch_id}", person=person)
    assert detail["status"] == "issued" and detail["invoice_count"] == shown_count
    assert sorted(a["card_no"] for a in detail["applications"]) == sorted(c.card_no for c in cards[:CARDS_WITH_TRIPS])
    assert sum(a["invoice_count"] for a in detail["applications"]) == shown_count
    rows = page.locator("#batch-applications tbody tr")
    expect(rows).to_have_count(CARDS_WITH_TRIPS)
    for card in cards[:CARDS_WITH_TRIPS]:
        row = rows.filter(has_text=card.card_no)
        expect(row).to_contain_text("已开票")
        expect(row.get_by_role("link", name=re.compile("当月 ZIP"))).to_have_attribute(
            "href", re.compile(f"card={card.card_no}&month={month}")
        )
    expect(page.locator("#batch-skipped")).to_contain_text(cards[-1].card_no)

    zip_link = page.locator("#batch-zip")
    zip_url = zip_link.get_attribute("href")
    wait_for(lambda: page.request.head(zip_url).status == 200, timeout=120, interval=0.5, what="documents stored")
    with page.expect_download() as download_info:
        zip_link.click()
    archive = zipfile.ZipFile(BytesIO(download_info.value.path().read_bytes()))
    names = archive.namelist()
    pdfs = [n for n in names if n.endswith(".pdf")]
    summaries = [n for n in pdfs if n.rsplit("/", 1)[-1].startswith("summary-")]
    assert len(pdfs) == shown_count + CARDS_WITH_TRIPS, names  # every invoice and each card's summary sheet
    assert len(summaries) == CARDS_WITH_TRIPS
    assert {n.split("/", 1)[0] for n in names} == {c.card_no for c in cards[:CARDS_WITH_TRIPS]}

    # the finance ledger of the month, across every card
    nav(page, "我的发票")
    ledger = page.locator("#ledger-form")
    ledger.get_by_label("起始月份").select_option(month)
    ledger.get_by_label("结束月份").select_option(month)
    ledger.get_by_label("文件格式").select_option("csv")
    journey.user_page(page, "invoices-ledger-form")
    with page.expect_download() as download_info:
        ledger.get_by_role("button", name="导出财务台账").click()
    text = download_info.value.path().read_bytes().decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text)))
    seller_lines = {row[3]: row for row in lines if row[0] == "小计（销售方）"}
    assert set(seller_lines) == set(OPERATOR_NAMES)
    for code, name in zip(("BRW-S-1", "BRW-S-2", "BRW-S-3"), OPERATOR_NAMES, strict=True):
        fees = sum(fee for _day, _stations, split in TRIPS for c, fee in split if c == code) * CARDS_WITH_TRIPS
        assert fen(seller_lines[name][13]) == fees, seller_lines[name]
        count = sum(1 for _day, _stations, split in TRIPS if code in {c for c, _fee in split}) * CARDS_WITH_TRIPS
        assert seller_lines[name][1] == f"{count} 张"
    [total] = [row for row in lines if row[0] == "合计"]
    assert total[1] == f"{shown_count} 张" and fen(total[13]) == shown_total
