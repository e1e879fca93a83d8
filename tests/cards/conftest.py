"""Helpers of the cards tests: registry items, pushes and bindings made through the services."""

import pytest

from cards.models import Issuer
from cards.services.binding import binding_confirm, binding_start
from cards.services.registry import card_registry_upsert
from tests.conftest import age_sms_codes

PERSON_ID = "320102199001010037"  # valid check digit, demo birth date
OTHER_ID = "110101199001010015"
RESERVED = "13912345678"
CARD_NO = "32010000000000000001"
COMPANY_USCC = "91110000MA01DEM005"
COMPANY_MOBILE = "13955556666"


def card_item(**overrides) -> dict:
    item = {
        "card_no": CARD_NO,
        "card_type": "stored_value",
        "plate": "苏A12345",
        "plate_color": 0,
        "vehicle_class": "passenger",
        "holder_name": "演示持卡人",
        "id_type": "resident_id",
        "id_number": PERSON_ID,
        "mobile": RESERVED,
        "status": "active",
    }
    item.update(overrides)
    return item


def company_item(**overrides) -> dict:
    fields = {
        "card_no": "11010000000000000009",
        "card_type": "account",
        "plate": "京C23456",
        "plate_color": 1,
        "vehicle_class": "truck",
        "holder_name": "演示物流有限公司",
        "id_type": "uscc",
        "id_number": COMPANY_USCC,
        "mobile": COMPANY_MOBILE,
    }
    return card_item(**{**fields, **overrides})


@pytest.fixture
def registry(db, django_capture_on_commit_callbacks):
    """Loads cards as the platform operator would (every network code allowed); commit
    callbacks (the unbinding SMS) run as they would after a real commit."""

    def push(*items):
        with django_capture_on_commit_callbacks(execute=True):
            return card_registry_upsert(partner=None, items=list(items))

    return push


@pytest.fixture
def jiangsu(db) -> Issuer:
    return Issuer.objects.get(network_codes__code="3201")


@pytest.fixture
def beijing(db) -> Issuer:
    return Issuer.objects.get(network_codes__code="1101")


@pytest.fixture
def person(client, make_user, registry):
    """A signed-in user, the card registered and SMS codes free to be asked for again."""
    registry(card_item())
    user = make_user()
    client.force_login(user)
    age_sms_codes()
    return user


@pytest.fixture
def start(sms):
    def run(user, *, card_no=CARD_NO, id_type="resident_id", id_number=PERSON_ID, mobile=RESERVED):
        age_sms_codes()
        return binding_start(user=user, card_no=card_no, id_type=id_type, id_number=id_number, mobile=mobile)

    return run


@pytest.fixture
def bind(sms, start):
    """Binds a card through both steps, reading the code from the reserved mobile's SMS."""

    def run(user, *, card_no=CARD_NO, id_type="resident_id", id_number=PERSON_ID, mobile=RESERVED):
        attempt = start(user, card_no=card_no, id_type=id_type, id_number=id_number, mobile=mobile)
        code = sms.last_code(mobile, "bind")
        return binding_confirm(user=user, binding_id=attempt.public_id, code=code)

    return run
