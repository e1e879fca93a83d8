"""The detector behind ``mask_text``: which numbers in free text are personal, and how they are
hidden. Table-driven cases plus properties over generated numbers and layouts."""

from __future__ import annotations

import datetime
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import luhn
from stdnum.cn import ric

from piaogen.masking import MaskingFilter, classify_number, find_numbers, has_numbers, mask_text

FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


def resident_id(region: str, birth: datetime.date, serial: int) -> str:
    body = f"{region}{birth:%Y%m%d}{serial:03d}"
    return body + ric.calc_check_digit(body + "0")


def wrong_check(number: str) -> str:
    last = number[-1]
    return number[:-1] + ("1" if last != "1" else "2")


ID = resident_id("440106", datetime.date(1985, 3, 12), 3)
USCC = "91110000600037341L"
BANK = "622202123456789012" + luhn.calc_check_digit("622202123456789012")


@pytest.mark.parametrize(
    "text, masked",
    [
        (f"来电称…身份证{ID}，手机13800000001", f"来电称…身份证{ID[:4]}{'*' * 10}{ID[-4:]}，手机138****0001"),
        ("+86 138-0000-0001 找我", "+86 138-****-0001 找我"),
        ("１３８００００１２３４", "１３８****１２３４"),
        ("卡号 4101 0000 0000 0000 0077", "卡号 4101 **** **** **** 0077"),
        (f"抬头税号{USCC}", "抬头税号9111**********341L"),
        (f"退款到 {BANK}", f"退款到 6222{'*' * 11}{BANK[-4:]}"),
        ("老证件 110101900101001", "老证件 1101********001"),
        (f"ID{ID}", f"ID{ID[:4]}{'*' * 10}{ID[-4:]}"),
        (f"13800000001 / {ID}", f"138****0001 / {ID[:4]}{'*' * 10}{ID[-4:]}"),
    ],
)
def test_personal_numbers_are_masked_in_place(text, masked):
    assert mask_text(text) == masked
    assert has_numbers(text)


@pytest.mark.parametrize(
    "text",
    [
        "2026年12月3日 14:05 金额 12345.00 元",
        "工单 T00000012，发票号码 00000001",
        f"证件号 {wrong_check(ID)}（校验位不对）",  # a wrong check digit is not an ID number
        "12800000001",  # 12 is no mobile prefix
        "138000000012",  # twelve digits: no mobile
        "6222021234567890120",  # 19 digits failing Luhn
        "110101901301001",  # legacy ID with month 13
        "",
    ],
)
def test_other_numbers_are_left_for_the_agent(text):
    assert mask_text(text) == text
    assert not has_numbers(text)


@pytest.mark.parametrize(
    "compact, kind",
    [(ID, "id"), (USCC, "uscc"), ("13912345678", "mobile"), ("4" * 20, "card"), (BANK, "bank"), ("1234", None)],
)
def test_classify_number(compact, kind):
    assert classify_number(compact) == kind


def test_none_and_non_text():
    assert mask_text(None) == "" and mask_text(13800000001) == "138****0001"


def test_logs_are_lenient():
    """Logs also hide ID-like runs with a wrong check digit: there a false positive costs nothing."""
    assert mask_text(wrong_check(ID)) == wrong_check(ID)
    assert wrong_check(ID) not in mask_text(wrong_check(ID), lenient=True)
    import logging

    record = logging.LogRecord("x", logging.INFO, __file__, 1, "id %s", (wrong_check(ID),), None)
    MaskingFilter().filter(record)
    assert wrong_check(ID) not in record.getMessage()


# --- properties -------------------------------------------------------------------------

regions = st.sampled_from(["110101", "310104", "440106", "410105", "510107", "650102"])
births = st.dates(min_value=datetime.date(1930, 1, 1), max_value=datetime.date(2020, 12, 31))
id_numbers = st.builds(resident_id, regions, births, st.integers(1, 999)).filter(ric.is_valid)
mobiles = st.builds(lambda p, r: f"1{p}{r:09d}", st.sampled_from("3456789"), st.integers(0, 10**9 - 1))
cards = st.integers(10**19, 10**20 - 1).map(str)
banks = st.integers(10**15, 10**18 - 1).map(lambda n: str(n) + luhn.calc_check_digit(str(n)))
personal = st.one_of(id_numbers, mobiles, cards, banks)
# Text around the number that does not glue onto it: Chinese, punctuation, spaces.
filler = st.text(alphabet="来电称证件号手机卡，。：（） 请核对", max_size=12)


def layout(number: str, draw_sep, full_width: bool) -> str:
    groups = [number[i : i + 4] for i in range(0, len(number), 4)]
    text = draw_sep.join(groups)
    return text.translate(FULL_WIDTH) if full_width else text


def digits_of(text: str) -> str:
    return re.sub(r"[^0-9X]", "", text.translate(str.maketrans("０１２３４５６７８９Ｘ", "0123456789X")))


@settings(max_examples=300, deadline=None)
@given(personal, filler, filler, st.sampled_from(["", " ", "-"]), st.booleans())
def test_no_personal_number_survives_any_layout(number, before, after, sep, full_width):
    text = f"{before}{layout(number, sep, full_width)}{after}"
    masked = mask_text(text)
    assert number not in digits_of(masked)
    assert len(masked) == len(text)  # masking keeps the layout: one star per hidden character
    assert masked.startswith(before) and masked.endswith(after)


@settings(max_examples=200, deadline=None)
@given(id_numbers, filler)
def test_an_id_keeps_its_first_and_last_four(number, before):
    masked = mask_text(before + number)
    assert masked == before + number[:4] + "*" * 10 + number[-4:]


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**10 - 1), filler)
def test_short_numbers_are_never_touched(n, before):
    text = f"{before}{n}"
    assert mask_text(text) == text


@settings(max_examples=200, deadline=None)
@given(id_numbers)
def test_an_id_with_a_wrong_check_digit_is_not_an_id(number):
    bad = wrong_check(number)
    assert all(kind != "id" for *_span, kind in find_numbers(bad))


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=60))
def test_masking_never_fails_and_is_idempotent(text):
    once = mask_text(text)
    assert mask_text(once) == once
