import datetime

import pytest
from django.core.exceptions import ValidationError
from stdnum.cn import ric

from cards import identity


def _raises(check, *args, **kwargs) -> bool:
    try:
        check(*args, **kwargs)
    except ValidationError:
        return True
    return False


def _with_check_digit(base17: str) -> str:
    return base17 + ric.calc_check_digit(base17 + "0")


@pytest.mark.parametrize(
    "value, codes, ok",
    [
        ("11010000000000000001", None, True),
        ("1101000000000000001", None, False),  # 19 digits
        ("110100000000000000011", None, False),  # 21 digits
        ("1101000000000000000A", None, False),
        ("", None, False),
        ("11010000000000000001", {"1101", "3201"}, True),
        ("88010000000000000001", {"1101", "3201"}, False),  # unknown network code
    ],
)
def test_card_number_rule(value, codes, ok):
    assert _raises(identity.validate_card_no, value, network_codes=codes) is not ok


@pytest.mark.parametrize("raw", ["1101 0000 0000 0000 0001", "1101-0000-0000-0000-0001", " 11010000000000000001 "])
def test_card_number_normalisation(raw):
    assert identity.normalize_card_no(raw) == "11010000000000000001"


@pytest.mark.parametrize(
    "plate, kind",
    [
        ("京A12345", "ordinary"),
        ("粤BD7X21", "ordinary"),
        ("苏E0A9Z8", "ordinary"),
        ("京I12345", None),  # I is not a letter of plates
        ("京O12345", None),
        ("京A1234O", None),  # nor O in the serial
        ("京A1234", None),  # 6 characters
        ("AA12345", None),  # no province character
        ("港A12345", None),
        ("沪AD12345", "new_energy"),  # small new-energy: letter at the third position
        ("沪AFA1234", "new_energy"),
        ("粤B12345D", "new_energy"),  # large new-energy: letter at the end
        ("粤B1234DD", None),
        ("沪AZ12345", None),  # Z is not a new-energy letter
        ("沪AD1234A", None),  # the last four are digits
        ("京A123456", None),
    ],
)
def test_plate_rule(plate, kind):
    assert identity.plate_kind(plate) == kind
    assert _raises(identity.validate_plate, plate) is (kind is None)


@pytest.mark.parametrize(
    "raw, plate", [("京a12345", "京A12345"), ("京A·12345", "京A12345"), (" 粤b 12345d ", "粤B12345D")]
)
def test_plate_normalisation(raw, plate):
    assert identity.normalize_plate(raw) == plate


@pytest.mark.parametrize(
    "plate, color, ok",
    [
        ("京A12345", 0, True),
        ("京A12345", 1, True),
        ("京A12345", "2", True),
        ("京A12345", 12, True),
        ("京A12345", 8, False),  # not a colour code
        ("京A12345", -1, False),
        ("京A12345", True, False),  # a boolean is not a code
        ("京A12345", "blue", False),
        ("京A12345", 1.5, False),
        ("京A12345", 4, False),  # gradient green belongs to new-energy plates
        ("京A12345", 5, False),
        ("沪AD12345", 4, True),
        ("粤B12345D", 5, True),
        ("沪AD12345", 11, True),
        ("沪AD12345", 0, False),  # a new-energy plate is not blue
    ],
)
def test_plate_colour_rule(plate, color, ok):
    assert _raises(identity.validate_plate_color, plate, color) is not ok


@pytest.mark.parametrize(
    "number, ok",
    [
        ("110101199001010015", True),
        ("11010519491231002X", True),
        ("110101199001010016", False),  # wrong check digit
        (_with_check_digit("11010119900230001"), False),  # 30 February
        (_with_check_digit("11010120990101001"), False),  # born in the future
        (_with_check_digit("11010118500101001"), False),  # before 1900
        ("11010119900101001", False),  # 17 characters
        ("1101011990010100151", False),
        ("X10101199001010015", False),
    ],
)
def test_resident_id_rule(number, ok):
    assert _raises(identity.validate_id_number, "resident_id", number) is not ok


def test_resident_id_birth_date_is_checked_against_today():
    number = _with_check_digit("11010120300101001")
    assert not _raises(identity.validate_resident_id, number, today=datetime.date(2031, 1, 1))
    assert _raises(identity.validate_resident_id, number, today=datetime.date(2029, 12, 31))


def test_id_number_normalisation_upper_cases_the_check_character():
    assert identity.normalize_id_number(" 11010519491231002x ") == "11010519491231002X"


@pytest.mark.parametrize(
    "id_type, number, ok",
    [
        ("uscc", "91110000MA01DEM005", True),
        ("uscc", "91110000MA01DEM006", False),
        ("uscc", "91110000MA01DEMO05", False),
        ("passport", "E12345678", True),
        ("passport", "E1", False),
        ("passport", "E1234567$", False),
        ("other", "HK-1234567", True),
        ("other", "中文", False),
        ("driving", "110101199001010015", False),  # unknown id type
    ],
)
def test_id_number_by_type(id_type, number, ok):
    assert _raises(identity.validate_id_number, id_type, number) is not ok


@pytest.mark.parametrize(
    "value, ok",
    [("resident_id", True), ("uscc", True), ("passport", True), ("other", True), ("", False), ("id", False)],
)
def test_id_type_rule(value, ok):
    assert _raises(identity.validate_id_type, value) is not ok


@pytest.mark.parametrize(
    "value, ok", [("张三", True), ("买买提·艾力", True), ("", False), ("名" * 101, False), ("张\x00三", False)]
)
def test_holder_name_rule(value, ok):
    assert _raises(identity.validate_holder_name, value) is not ok


@pytest.mark.parametrize("value, ok", [("13912345678", True), ("12912345678", False), ("1391234567", False)])
def test_reserved_mobile_uses_the_account_rule(value, ok):
    assert _raises(identity.validate_mobile, value) is not ok
