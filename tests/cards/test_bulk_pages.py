"""The 批量绑卡 pages (paste or upload a list, then one SMS code) and the list reader behind them."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook

from cards import bulk_lists
from cards.models import Binding, BulkBinding
from piaogen.errors import ServiceError
from tests.conftest import age_sms_codes

from .conftest import COMPANY_MOBILE, COMPANY_USCC, company_item

CARDS = [f"1101000000000000020{n}" for n in (1, 2, 3)]


@pytest.fixture
def clerk(client, make_user, registry):
    registry(*(company_item(card_no=no, plate=f"京D0000{i}") for i, no in enumerate(CARDS, start=1)))
    registry(company_item(card_no="11010000000000000209", plate="京D00009", mobile="13900001111"))
    user = make_user(account_type="enterprise", name="演示物流有限公司", tax_id=COMPANY_USCC, mobile=COMPANY_MOBILE)
    client.force_login(user)
    age_sms_codes()
    return user


@pytest.mark.django_db
def test_bulk_pages_need_login(client):
    r = client.get(reverse("cards:bulk"))
    assert r.status_code == 302 and "/accounts/login/" in r["Location"]


@pytest.mark.django_db
def test_a_personal_account_is_told_bulk_binding_is_for_enterprises(client, make_user):
    client.force_login(make_user())
    body = client.get(reverse("cards:bulk")).content.decode()
    assert 'id="bulk-not-enterprise"' in body and "仅限单位账户" in body and "<textarea" not in body
    assert "批量绑卡" not in client.get(reverse("cards:list")).content.decode()
    r = client.post(reverse("cards:bulk"), {"card_nos": CARDS[0]})
    assert r.status_code == 200 and "仅限单位账户" in r.content.decode()
    assert not BulkBinding.objects.exists()


@pytest.mark.django_db
def test_paste_a_list_read_the_refusals_and_confirm_with_one_code(client, clerk, sms):
    assert reverse("cards:bulk") in client.get(reverse("cards:list")).content.decode()
    pasted = "\n".join([CARDS[0], "11010000000000000209", "", CARDS[1], CARDS[0], "12345", CARDS[2]])
    r = client.post(reverse("cards:bulk"), {"card_nos": pasted})
    assert r.status_code == 302, r.content.decode()[-2000:]
    page = client.get(r["Location"]).content.decode()
    assert "3 张卡将一次绑定" in page and all(no in page for no in CARDS)
    assert "3 张卡不能绑定" in page
    assert "预留的手机号不是本账户的登录手机号" in page and "第 2 行" in page
    assert 'href="tel:' in page and "北京速通卡" in page
    assert "与第 1 行的卡号重复" in page and "卡号应为20位数字" in page
    assert "139****6666" in page and COMPANY_MOBILE not in page and COMPANY_USCC not in page
    code = sms.last_code(COMPANY_MOBILE, "bind")
    wrong = "000000" if code != "000000" else "111111"
    again = client.post(r["Location"], {"code": wrong, "confirm": "1"}).content.decode()
    assert "验证码错误" in again and "3 张卡将一次绑定" in again and "第 2 行" in again
    done = client.post(r["Location"], {"code": code, "confirm": "1"})
    assert done.status_code == 302 and done["Location"] == reverse("cards:list")
    listing = client.get(done["Location"]).content.decode()
    assert "批量绑定成功：已绑定 3 张卡" in listing and all(no in listing for no in CARDS)
    assert Binding.objects.filter(user=clerk).count() == 3
    # The finished batch's page leads back to the card list.
    assert client.get(r["Location"])["Location"] == reverse("cards:list")


@pytest.mark.django_db
def test_upload_a_csv(client, clerk):
    data = ("卡号,车牌\n" + "\n".join(f"{no},京D" for no in CARDS)).encode("gb18030")
    r = client.post(reverse("cards:bulk"), {"file": SimpleUploadedFile("车队.csv", data, "text/csv")})
    assert r.status_code == 302
    assert BulkBinding.objects.get().eligible == 3 and BulkBinding.objects.get().refused == []


@pytest.mark.django_db
def test_upload_an_xlsx(client, clerk):
    book = Workbook()
    sheet = book.active
    sheet.append(["ETC卡号"])
    for no in CARDS[:2]:
        sheet.append([no])
    sheet.append([float(CARDS[2])])  # a number cell: Excel has already lost digits
    buffer = io.BytesIO()
    book.save(buffer)
    upload = SimpleUploadedFile("fleet.xlsx", buffer.getvalue())
    r = client.post(reverse("cards:bulk"), {"file": upload})
    assert r.status_code == 302
    bulk = BulkBinding.objects.get()
    assert bulk.eligible == 2 and [line["code"] for line in bulk.refused] == ["invalid"]
    assert bulk.refused[0]["line"] == 4


@pytest.mark.django_db
def test_refusals_of_the_whole_list_are_shown_on_the_first_step(client, clerk):
    r = client.post(reverse("cards:bulk"), {"card_nos": "11010000000000000209\n12345"})
    body = r.content.decode()
    assert r.status_code == 200 and "没有可以绑定的卡" in body and "预留的手机号不是本账户的登录手机号" in body
    r = client.post(reverse("cards:bulk"), {"card_nos": "\n\n"})
    assert "请至少填写一个卡号" in r.content.decode()
    both = {"card_nos": CARDS[0], "file": SimpleUploadedFile("a.csv", CARDS[1].encode())}
    assert "二选一" in client.post(reverse("cards:bulk"), both).content.decode()
    bad = {"file": SimpleUploadedFile("a.xls", b"\xd0\xcf\x11\xe0")}
    assert ".xlsx" in client.post(reverse("cards:bulk"), bad).content.decode()


@pytest.mark.django_db
def test_someone_elses_batch_page_is_not_theirs(client, clerk, make_user):
    r = client.post(reverse("cards:bulk"), {"card_nos": CARDS[0]})
    client.force_login(make_user(account_type="enterprise", name="演示甲公司", tax_id=COMPANY_USCC))
    other = client.get(r["Location"])
    assert other.status_code == 302 and other["Location"] == reverse("cards:bulk")


# --- the list reader ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "entries"),
    [
        ("", []),
        ("1101\n\n  3201 0000  \r\n", ["1101", "", "3201 0000"]),
        ("a\tb", ["a\tb"]),
    ],
)
def test_parse_text_keeps_one_entry_a_line(text, entries):
    assert bulk_lists.parse_text(text) == entries


@pytest.mark.parametrize(
    ("data", "entries"),
    [
        (b"card_no\n11010000000000000201\n", ["", "11010000000000000201"]),
        ("\ufeff卡号,车牌\n1101,京A\n,\n".encode(), ["", "1101", ""]),
        ("卡号\n1101\n".encode("gb18030"), ["", "1101"]),
        (b"1101\n3201\n", ["1101", "3201"]),  # no header
        (b",,1101\n", ["1101"]),  # the first cell that holds something
    ],
)
def test_parse_csv(data, entries):
    assert bulk_lists.parse_upload("list.CSV", data) == entries


def test_parse_xlsx_reads_the_first_sheet_and_refuses_broken_files():
    book = Workbook()
    book.active.append(["卡号"])
    book.active.append(["11010000000000000201"])
    book.active.append([1.1010000000000002e19])
    book.active.append([12345])
    buffer = io.BytesIO()
    book.save(buffer)
    entries = bulk_lists.parse_upload("fleet.xlsx", buffer.getvalue())
    assert entries[:2] == ["", "11010000000000000201"] and entries[3] == "12345"
    assert len(entries[2]) != 20 or not entries[2].isdigit()  # never a card number made up of a float
    with pytest.raises(ServiceError) as refused:
        bulk_lists.parse_upload("fleet.xlsx", b"not a zip")
    assert refused.value.code == "invalid" and refused.value.errors["file"]


def test_uploads_of_other_kinds_or_too_big_are_refused():
    for name, data in (("a.xls", b"x"), ("a.pdf", b"x"), ("a.csv", b"1" * (bulk_lists.MAX_UPLOAD_BYTES + 1))):
        with pytest.raises(ServiceError) as refused:
            bulk_lists.parse_upload(name, data)
        assert refused.value.code == "invalid" and refused.value.errors["file"]
