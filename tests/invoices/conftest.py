"""Trips need operators, a registry card and a binding: made through the partner and App APIs,
as the real partners and users make them."""

from datetime import datetime
from functools import partial
from zoneinfo import ZoneInfo

import pytest

from piaogen.demo import demo_uscc
from tests.helpers.world import bind_card, resident_id, trip

SHANGHAI = ZoneInfo("Asia/Shanghai")

__all__ = ["OPERATORS", "SHANGHAI", "card_item", "resident_id", "trip", "world"]


def card_item(card_no: str, mobile: str, id_number: str, card_type: str = "account", **extra) -> dict:
    return {
        "card_no": card_no,
        "card_type": card_type,
        "plate": "豫A12345",
        "plate_color": 0,
        "vehicle_class": "passenger",
        "holder_name": "测试持卡人",
        "id_type": "resident_id",
        "id_number": id_number,
        "mobile": mobile,
        "status": "active",
        **extra,
    }


OPERATORS = {
    "operators": [
        {
            "code": "OP-A",
            "name": "甲高速公司",
            "tax_id": demo_uscc("9141000017000001A"),
            "province_code": "4100",
            "machine_no": "410000000001",
            "sections": [
                {
                    "code": "S-A3",
                    "name": "甲老高速",
                    "grade": "expressway",
                    "property": "operating",
                    "construction_start": "2010-01-01",
                },
            ],
        },
        {
            "code": "OP-B",
            "name": "乙一级公路公司",
            "tax_id": demo_uscc("9141000017000002B"),
            "province_code": "4100",
            "machine_no": "410000000002",
            "sections": [
                {
                    "code": "S-B5",
                    "name": "乙一级公路",
                    "grade": "class1",
                    "property": "operating",
                    "construction_start": "2015-01-01",
                },
            ],
        },
        {
            "code": "OP-C",
            "name": "丙还贷中心",
            "tax_id": demo_uscc("1241000017000003C"),
            "province_code": "4100",
            "machine_no": "410000000003",
            "sections": [
                {
                    "code": "S-C0",
                    "name": "丙还贷高速",
                    "grade": "expressway",
                    "property": "loan_repayment",
                    "construction_start": "2004-01-01",
                },
                {
                    "code": "S-C9",
                    "name": "丙新高速",
                    "grade": "expressway",
                    "property": "operating",
                    "construction_start": "2017-01-01",
                },
            ],
        },
    ]
}


@pytest.fixture
def world(db, partner_client, app_client, sms):
    """A clearing centre with operators, an issuer with two cards, a user with one bound card."""
    clearing = partner_client("clearing", name="测试清分中心")
    assert clearing.post("/api/v1/partner/operators", OPERATORS, format="json").status_code == 200
    issuer = partner_client("issuer", name="测试河南发行方", network_codes=["4101"])
    cards = [
        card_item("41010000000000000001", "13700000001", resident_id(1)),
        card_item("41010000000000000002", "13700000002", resident_id(2), card_type="stored_value"),
    ]
    r = issuer.post("/api/v1/partner/cards", {"cards": cards}, format="json")
    assert r.status_code == 200 and not r.json()["rejected"], r.content
    user = app_client()

    bind = partial(bind_card, sms=sms)
    bind(user, cards[0])

    class World:
        pass

    w = World()
    w.clearing, w.issuer, w.user, w.cards, w.bind = clearing, issuer, user, cards, bind
    w.card_no = cards[0]["card_no"]
    w.when = datetime(2026, 9, 5, 8, 0, tzinfo=SHANGHAI)
    return w


@pytest.fixture
def no_queue(monkeypatch):
    """Submitting commits for real; the issuing tasks stay off (a batch's fan-out too) so that
    threads race for them."""
    from invoices import tasks

    monkeypatch.setattr(tasks.issue_application, "delay", lambda *a, **k: None)
    monkeypatch.setattr(tasks.issue_fan_out, "delay", lambda *a, **k: None)


@pytest.fixture(autouse=True)
def _isolated_media(settings, tmp_path):
    """Each test stores its documents in a folder of its own: invoice and summary numbers
    repeat from test to test, and a file left by another test must never be taken for ours."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
        "documents": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }


@pytest.fixture
def agent(client, django_user_model):
    """The test client logged in as a contact-centre agent (group ``agent``)."""
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user("13900008888", "console2026", is_staff=True, name="坐席甲")
    user.groups.add(Group.objects.get(name="agent"))
    client.force_login(user)
    return client


@pytest.fixture
def clock(monkeypatch):
    """The time issuing stamps on invoices, set by the test (the real clock when unset)."""
    from django.utils import timezone

    real = timezone.now
    state: dict = {"at": None}
    monkeypatch.setattr(timezone, "now", lambda: state["at"] or real())
    return state
