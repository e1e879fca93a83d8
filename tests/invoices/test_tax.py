from datetime import date
from decimal import Decimal

import pytest

from invoices import tax
from invoices.tax import rate_decimal, rate_label, rate_percent, split

OLD = date(2016, 4, 30)  # last day of the simplified-method era
NEW = date(2016, 5, 1)


@pytest.mark.parametrize(
    "grade, prop, started, simplified, travel, expected",
    [
        # construction start on the boundary
        ("expressway", "operating", OLD, True, date(2024, 1, 1), 3),
        ("expressway", "operating", NEW, True, date(2024, 1, 1), 9),
        ("class1", "operating", OLD, True, date(2024, 1, 1), 5),
        ("class2", "operating", OLD, True, date(2024, 1, 1), 5),
        ("bridge_tunnel", "operating", OLD, True, date(2024, 1, 1), 5),
        ("bridge_tunnel", "operating", NEW, True, date(2024, 1, 1), 9),
        # travel-date boundaries of the general rate
        ("expressway", "operating", NEW, True, date(2018, 4, 30), 11),
        ("expressway", "operating", NEW, True, date(2018, 5, 1), 10),
        ("expressway", "operating", NEW, True, date(2019, 3, 31), 10),
        ("expressway", "operating", NEW, True, date(2019, 4, 1), 9),
        # the simplified rate does not move with the travel date
        ("expressway", "operating", OLD, True, date(2018, 4, 30), 3),
        ("expressway", "operating", OLD, True, date(2019, 4, 1), 3),
        # an operator opting out of the simplified method pays the general rate
        ("expressway", "operating", OLD, False, date(2018, 4, 30), 11),
        ("expressway", "operating", OLD, False, date(2019, 3, 31), 10),
        ("class1", "operating", OLD, False, date(2019, 4, 1), 9),
        # loan-repayment roads are not taxable, whatever else holds
        ("expressway", "loan_repayment", OLD, True, date(2024, 1, 1), None),
        ("class1", "loan_repayment", NEW, False, date(2018, 1, 1), None),
    ],
)
def test_rate(grade, prop, started, simplified, travel, expected):
    assert (
        rate_percent(
            grade=grade, property=prop, construction_start=started, simplified_method=simplified, travel_date=travel
        )
        == expected
    )


@pytest.mark.parametrize(
    "total, percent, net, tax",
    [
        (9733, 3, 9450, 283),  # the real invoice: 97.33 → 94.50 + 2.83 (net × r would give 2.84)
        (1, 3, 1, 0),  # 0.01: tax 0.00
        (1, 9, 1, 0),
        (17, 3, 17, 0),  # 0.17 / 1.03 = 0.165 → 0.17, tax 0.00
        (17, 9, 16, 1),  # 0.17 / 1.09 = 0.1559… → 0.16
        (17, 5, 16, 1),  # 0.17 / 1.05 = 0.1619… → 0.16
        (9733, 9, 8929, 804),  # 97.33 / 1.09 = 89.293… → 89.29
        (10300, 3, 10000, 300),
        (10500, 5, 10000, 500),
        (11100, 11, 10000, 1100),
        (0, 9, 0, 0),
        (9733, None, 9733, 0),  # 不征税: net = T, tax = 0
    ],
)
def test_split(total, percent, net, tax):
    assert split(total, percent) == (net, tax)
    assert net + tax == total


def test_split_rounds_half_up_exactly():
    # A quotient of exactly half a fen rounds up: at r = 100 %, 3.01 / 2 = 1.505 → 1.51.
    assert split(301, 100) == (151, 150)
    # 97.33 / 1.03 = 94.4951… rounds up to 94.50; 89.2935… at 9 % rounds down to 89.29.
    assert split(9733, 3)[0] == 9450 and split(9733, 9)[0] == 8929


def test_red_letter_split_mirrors_the_original():
    for total in (1, 17, 9733, 123457):
        for percent in (3, 5, 9, 10, 11, None):
            net, tax = split(total, percent)
            assert split(-total, percent) == (-net, -tax)


def test_rate_forms():
    assert rate_decimal(9) == Decimal("0.09") and str(rate_decimal(3)) == "0.03"
    assert rate_decimal(None) is None
    assert rate_label(None) == "不征税" and rate_label(9) == "9%"


@pytest.mark.parametrize(
    "taxable, buyer_tax_id, expected",
    [
        (True, "91110000MA01DEM005", tax.DEDUCTIBLE),  # 征税, enterprise title
        (True, "", tax.NOT_DEDUCTIBLE_PERSONAL_TITLE),  # 征税, personal title (a name only)
        (True, "   ", tax.NOT_DEDUCTIBLE_PERSONAL_TITLE),
        (False, "91110000MA01DEM005", tax.NOT_DEDUCTIBLE_NON_TAXABLE),  # 不征税, whoever the buyer
        (False, "", tax.NOT_DEDUCTIBLE_NON_TAXABLE),
    ],
)
def test_deductibility(taxable, buyer_tax_id, expected):
    assert tax.deductibility(taxable=taxable, buyer_tax_id=buyer_tax_id) == expected


@pytest.mark.parametrize(
    "document_kind, taxable, buyer_tax_id, expected",
    [
        ("vat_e_invoice", True, "91110000MA01DEM005", tax.DEDUCTIBLE),
        ("digital_e_invoice", True, "91110000MA01DEM005", tax.DEDUCTIBLE),  # 数电, enterprise title
        ("digital_e_invoice", True, "", tax.NOT_DEDUCTIBLE_PERSONAL_TITLE),
        ("digital_e_invoice", False, "91110000MA01DEM005", tax.NOT_DEDUCTIBLE_NON_TAXABLE),  # a recharge's
        ("fiscal_e_bill", False, "91110000MA01DEM005", tax.NOT_DEDUCTIBLE_FISCAL),  # never, whoever pays
        ("fiscal_e_bill", True, "91110000MA01DEM005", tax.NOT_DEDUCTIBLE_FISCAL),
        ("fiscal_e_bill", False, "", tax.NOT_DEDUCTIBLE_FISCAL),
        ("", True, "91110000MA01DEM005", tax.DEDUCTIBLE),  # no kind given: a VAT e-invoice
    ],
)
def test_deductibility_by_kind_of_document(document_kind, taxable, buyer_tax_id, expected):
    assert tax.deductibility(taxable=taxable, buyer_tax_id=buyer_tax_id, document_kind=document_kind) == expected
