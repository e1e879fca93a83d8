import pytest
from django.core.exceptions import ValidationError

from accounts.identity import is_mobile, normalize_mobile, validate_uscc


@pytest.mark.parametrize(
    "value, ok",
    [
        ("13800138000", True),
        ("19912345678", True),
        ("12800138000", False),  # second digit must be 3-9
        ("1380013800", False),  # 10 digits
        ("138001380001", False),  # 12 digits
        ("23800138000", False),
        ("1380013800a", False),
        ("", False),
    ],
)
def test_mobile_rule(value, ok):
    assert is_mobile(value) is ok


@pytest.mark.parametrize("raw", ["+8613800138000", "0086 138 0013 8000", "138-0013-8000"])
def test_mobile_normalisation(raw):
    assert normalize_mobile(raw) == "13800138000"


@pytest.mark.parametrize(
    "value, ok",
    [
        ("91110000MA01DEM005", True),
        ("91110000MA01DEM006", False),  # wrong check character
        ("91110000MA01DEM00", False),  # 17 characters
        ("91110000MA01DEMO05", False),  # O is not in the GB 32100 alphabet
    ],
)
def test_uscc_check(value, ok):
    if ok:
        validate_uscc(value)
    else:
        with pytest.raises(ValidationError):
            validate_uscc(value)
