"""The user's pages at phone size (390×844), doing what a person does there: the signed-in home,
an invoice's lines and an application's lists without sideways scrolling, taps on radios and
checkboxes, registration (personal and company fields, 获取验证码 beside the mobile, the link on
to binding), verification with the date as the hint says and the checks left explained, and
全部标为已读 ending the banner of new ticket replies."""

from __future__ import annotations

import re
from datetime import date

import pytest
from playwright.sync_api import expect

from .conftest import (
    AGENT_MOBILE,
    INVOICES_PER_MONTH,
    TRIPS,
    at_path,
    log_in,
    nav,
    previous_month,
    staff_log_in,
    wait_for,
)

pytestmark = pytest.mark.browser

PHONE_WIDTH = 390


@pytest.fixture
def viewport() -> str:
    """These journeys are about the phone: one viewport, 390×844."""
    return "phone"


def facts(page, term: str) -> str:
    return (
        page.locator("dl.facts dt", has_text=re.compile(f"^{term}$"))
        .locator("xpath=following-sibling::dd[1]")
        .first.inner_text()
        .strip()
    )


def yuan(fen: int) -> str:
    return f"{fen / 100:,.2f}"


def boxes(page, rows: str, cells: dict[str, str]) -> list[dict]:
    """For every row matched by ``rows``: each named cell's box, its text, the label the page
    shows above it, and how many lines its text takes."""
    return page.evaluate(
        """([rows, cells]) => [...document.querySelectorAll(rows)].map(tr => {
            const out = {};
            for (const [name, selector] of Object.entries(cells)) {
                const td = tr.querySelector(selector);
                const box = td.getBoundingClientRect();
                const range = document.createRange();
                range.selectNodeContents(td);
                const lines = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
                out[name] = {left: box.left, right: box.right, width: box.width, height: box.height,
                             text: td.innerText.replace(/\\s+/g, " ").trim(), lines: lines.size,
                             label: getComputedStyle(td, "::before").content};
            }
            return out;
        })""",
        [rows, cells],
    )


def assert_within_phone(row: dict, names) -> None:
    for name in names:
        cell = row[name]
        assert cell["width"] > 0 and cell["height"] > 0, (name, cell)
        assert 0 <= cell["left"] and cell["right"] <= PHONE_WIDTH, (name, cell)


def target_sizes(page, selector: str) -> list[tuple[float, float]]:
    return [(b["width"], b["height"]) for b in (el.bounding_box() for el in page.locator(selector).all()) if b]


# --- home, an invoice, an application, 我要开票, verification -------------------------------------


def test_home_invoice_and_lists_on_a_phone(open_page, world, live, journey):
    """An issued user logs in on a phone: the home shows their card and newest invoice; the
    invoice's lines show every 金额/税率/税额 without scrolling sideways; the application's lists
    too; the radios and checkboxes of 我要开票 are big enough to tap; the invoice verifies with the
    date typed either way, and the answer tells how many checks are left today."""
    person = world.issued_person()
    invoices = world.app("GET", "invoices", person=person)
    newest = invoices[0]
    page = open_page()

    log_in(page, person, journey)
    journey.user_page(page, "home")
    card = page.locator(".home-card")
    expect(card).to_have_count(1)
    expect(card.locator(".plate")).to_have_text(person.plate)
    expect(card.locator(".card-no")).to_have_text(person.card_no)
    expect(page.get_by_role("heading", name="最新发票")).to_be_visible()
    listed = page.locator("table.invoices tbody tr")
    expect(listed).to_have_count(min(5, len(invoices)))
    expect(listed.first).to_contain_text(newest["number"])
    expect(listed.first).to_contain_text(f"¥{yuan(newest['total'])}")
    expect(page.get_by_text("您还没有绑定ETC卡")).to_have_count(0)
    for row in boxes(page, "table.invoices tbody tr", {"number": "td:nth-child(1)", "total": "td.figure"}):
        assert_within_phone(row, ("number", "total"))
        assert row["total"]["label"] == '"价税合计"'

    # The newest 数电 invoice (today's rules: the loan-repayment share is a fiscal e-bill), from the home page.
    digital = next(i for i in invoices if i["document_kind"] == "digital_e_invoice")
    listed.filter(has_text=digital["number"]).get_by_role("link").click()
    page.wait_for_url(re.compile(r"/invoices/\d+/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("电子发票（普通发票）")
    journey.user_page(page, "invoice")
    lines = boxes(
        page,
        "table.lines tbody tr",
        {"item": "td.item", "plate": "td:nth-child(2)", "net": "td.net", "rate": "td.rate", "tax": "td.tax"},
    )
    assert len(lines) == len(digital["lines"]) >= 1
    for row, line in zip(lines, digital["lines"], strict=True):
        assert_within_phone(row, ("item", "plate", "net", "rate", "tax"))
        assert row["item"]["text"] == "*经营租赁*通行费" and row["item"]["lines"] == 1, row["item"]
        assert row["net"]["text"] == yuan(line["net"]) and row["tax"]["text"] == yuan(line["tax"])
        assert [row[n]["label"] for n in ("item", "net", "rate", "tax")] == ['"项目名称"', '"金额"', '"税率"', '"税额"']
    total = page.locator("table.lines tfoot td.total")
    expect(total).to_have_text(f"¥{yuan(digital['total'])}")
    [sums] = boxes(page, "table.lines tfoot tr:last-child", {"total": "td.total"})
    assert_within_phone(sums, ("total",))
    printed = {"number": facts(page, "发票号码"), "date": facts(page, "开票日期")}

    # Its application: the per-seller summary and the list of invoices, every figure on screen.
    page.get_by_role("link", name="所属申请").click()
    page.wait_for_url(re.compile(r"/applications/\d+/$"))
    expect(page.locator("#progress")).to_have_attribute("data-status", "issued")
    journey.user_page(page, "application")
    sellers = boxes(
        page, "table.seller-summary tbody tr", {"seller": "td.wide", "count": "td:nth-child(3)", "total": "td.figure"}
    )
    assert len(sellers) == 3
    for row in sellers:
        assert_within_phone(row, ("seller", "count", "total"))
        assert row["total"]["text"].startswith("¥") and row["count"]["label"] == '"张数"'
    rows = boxes(
        page,
        "table.invoices tbody tr",
        {"number": "td:nth-child(1)", "kind": "td:nth-child(3)", "total": "td.figure", "status": "td:nth-child(5)"},
    )
    assert len(rows) == INVOICES_PER_MONTH
    for row in rows:
        assert_within_phone(row, ("number", "kind", "total", "status"))

    # 我要开票 for another month: radios and checkboxes a finger can hit.
    earlier = (previous_month() - date.resolution).replace(day=1)
    world.push_trips(person, month=earlier)
    nav(page, "我要开票")
    page.get_by_label("月份", exact=True).select_option(f"{earlier:%Y-%m}")
    page.get_by_role("button", name="查询").click()
    page.wait_for_url(re.compile(rf"month={earlier:%Y-%m}"))
    expect(page.locator("ul.pick li")).to_have_count(len(TRIPS))
    journey.user_page(page, "apply")
    sizes = target_sizes(page, "#apply-form input[type=radio], #apply-form input[type=checkbox]")
    assert len(sizes) == 2 + len(TRIPS)  # the two modes and a box per trip
    assert all(w >= 24 and h >= 24 for w, h in sizes), sizes
    page.get_by_text(re.compile("按月汇总：")).click()  # the label's text, as a thumb lands on it
    expect(page.get_by_role("radio", name=re.compile("按月汇总"))).to_be_checked()
    first_trip = page.locator("ul.pick li").first
    first_trip.locator("strong").click()  # the trip's text, as a thumb lands on it
    expect(first_trip.get_by_role("checkbox")).to_be_checked()
    journey.shot(page, "apply-picked")

    # The invoice checked on /verify/: the date as printed in figures, with and without dashes.
    y, m, d = re.match(r"(\d{4})年(\d{2})月(\d{2})日", printed["date"]).groups()
    for used, typed in enumerate((f"{y}-{m}-{d}", f"{y}{m}{d}"), start=1):
        page.get_by_role("contentinfo").get_by_role("link", name="发票查验").click()
        page.wait_for_url(at_path("/verify/"))
        expect(page.get_by_text("YYYYMMDD 或 YYYY-MM-DD")).to_be_visible()
        page.get_by_label("发票号码", exact=True).fill(printed["number"])  # 20 digits: a 数电 invoice
        page.get_by_label("开票日期", exact=True).fill(typed)
        page.get_by_label("价税合计（元）", exact=True).fill(yuan(digital["total"]))
        page.get_by_role("button", name="查验", exact=True).click()
        result = page.locator("#result")
        expect(result).to_contain_text("查验结果：发票信息一致")
        expect(result.locator("#checks-left")).to_contain_text(
            f"这是今天第 {used} 次查验这张发票，今天还可再查验 {5 - used} 次"
        )
        expect(result.locator("#checks-left")).to_contain_text("00:00（北京时间）起重新计数")
        journey.user_page(page, f"verified-{used}")
        verified = boxes(page, "#result table.lines tbody tr", {"net": "td.net", "tax": "td.tax"})
        for row in verified:
            assert_within_phone(row, ("net", "tax"))


# --- registration ---------------------------------------------------------------------------------


def test_register_on_a_phone(open_page, world, live, journey):
    """个人 shows no company fields and 单位 shows them; 获取验证码 sits beside the mobile; the code
    comes by SMS; after sign-up, 下一步：绑定您的ETC卡 is a link that leads to 绑定ETC卡."""
    person = world.new_person()
    page = open_page()
    page.goto("/")
    journey.user_page(page, "intro")
    page.get_by_role("main").get_by_role("link", name="注册", exact=True).click()
    page.wait_for_url(at_path("/accounts/register/"))

    personal, company = page.get_by_label("个人", exact=True), page.get_by_label("单位", exact=True)
    name, company_name, tax_id = (
        page.get_by_label("姓名（选填）", exact=True),
        page.get_by_label("单位名称", exact=True),
        page.get_by_label("统一社会信用代码", exact=True),
    )
    expect(personal).to_be_checked()
    expect(name).to_be_visible()
    expect(company_name).to_be_hidden()
    expect(tax_id).to_be_hidden()
    journey.user_page(page, "register-personal")
    for radio in (personal, company):
        box = radio.bounding_box()
        assert box["width"] >= 24 and box["height"] >= 24, box
    company.check()
    expect(company_name).to_be_visible()
    expect(tax_id).to_be_visible()
    expect(name).to_be_hidden()
    journey.user_page(page, "register-company")
    personal.check()
    expect(company_name).to_be_hidden()
    expect(tax_id).to_be_hidden()

    # 获取验证码 beside the mobile field, on the same line and on screen.
    mobile = page.get_by_label("手机号", exact=True)
    send = page.get_by_role("button", name="获取验证码")
    field, button = mobile.bounding_box(), send.bounding_box()
    assert abs((field["y"] + field["height"] / 2) - (button["y"] + button["height"] / 2)) < 4, (field, button)
    assert field["x"] + field["width"] <= button["x"] and button["x"] + button["width"] <= PHONE_WIDTH
    mobile.fill(person.mobile)
    send.click()
    expect(page.locator(".notice-success")).to_contain_text(
        f"验证码已发送至 {person.mobile[:3]}****{person.mobile[-4:]}"
    )
    code = live.sms.wait_code(person.mobile, "register")
    expect(mobile).to_have_value(person.mobile)
    page.get_by_label("短信验证码", exact=True).fill(code)
    name.fill(person.holder)
    page.get_by_label("密码", exact=True).fill(person.password)
    journey.user_page(page, "register-filled")
    page.get_by_label("密码", exact=True).press("Enter")  # the phone keyboard's 前往 registers
    page.wait_for_url(at_path("/"))
    notice = page.locator(".notice-success")
    expect(notice).to_contain_text("注册成功")
    expect(page.get_by_text("您还没有绑定ETC卡")).to_be_visible()
    journey.user_page(page, "registered")
    notice.get_by_role("link", name="下一步：绑定您的ETC卡").click()
    page.wait_for_url(at_path("/cards/bind/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("绑定ETC卡")
    journey.user_page(page, "bind")


# --- the message centre ----------------------------------------------------------------------------


def test_mark_all_read_ends_the_reply_banner_on_a_phone(open_page, world, live, journey):
    """Two tickets get staff replies; the user sees the banner, taps 全部标为已读 in 消息中心, and
    the banner and the badge are gone, there and on the next page."""
    person = world.bound_person(trips=False)
    tickets = [
        world.app(
            "POST",
            "tickets",
            {"category": "binding", "subject": subject, "description": "请帮忙看看。"},
            person=person,
            expect=201,
        )
        for subject in ("绑卡提示手机号不一致", "发票抬头想修改")
    ]
    agent = open_page()
    staff_log_in(agent, AGENT_MOBILE)
    for ticket in tickets:
        agent.goto(f"/admin/support/ticket/{ticket['id']}/change/")
        agent.get_by_label("新增消息").select_option("public_reply")
        agent.get_by_label("内容").fill("您好，已为您处理，请查看。")
        agent.locator("input[name=_save]").first.click()
        expect(agent.locator(".messagelist")).to_contain_text("已回复用户")
    wait_for(lambda: len(live.sms.messages(person.mobile, "ticket_reply")) == 2, what="two SMS about the replies")

    page = open_page()
    log_in(page, person)
    banner = page.locator(".notice", has_text="您有 2 个工单有新的客服回复")
    expect(banner).to_be_visible()
    journey.user_page(page, "banner")
    page.locator("header").get_by_role("link", name=re.compile("^消息")).click()
    page.wait_for_url(at_path("/messages/"))
    expect(banner).to_be_visible()
    expect(page.locator("header .badge")).to_contain_text("2")
    journey.user_page(page, "messages")
    page.get_by_role("button", name="全部标为已读").click()
    page.wait_for_url(at_path("/messages/"))
    expect(page.locator(".notice-success")).to_contain_text("已将 2 条消息标为已读")
    expect(page.get_by_text("个工单有新的客服回复")).to_have_count(0)
    expect(page.locator("header .badge")).to_have_count(0)
    journey.user_page(page, "all-read")
    nav(page, "首页")
    expect(page.get_by_text("个工单有新的客服回复")).to_have_count(0)
    journey.user_page(page, "home-after")
