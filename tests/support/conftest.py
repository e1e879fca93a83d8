"""A small world for the contact centre's tests, made the way partners and users make it:
operators and trips through the clearing centre's API, cards through the issuer's API,
binding and invoicing through the App API (issuing runs eagerly once the submit commits)."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group

from accounts.models import User
from piaogen.demo import demo_uscc
from tests.conftest import age_sms_codes
from tests.helpers.world import bind_card, resident_id, trip

SHANGHAI = ZoneInfo("Asia/Shanghai")
USER_MOBILE = "13512340001"
OTHER_MOBILE = "13512340002"
CARD_A = "41010000000000000101"
CARD_B = "41010000000000000102"
CARD_OTHER = "41010000000000000103"
RESERVED_A = "13611110001"
RESERVED_B = "13611110002"
RESERVED_OTHER = "13611110003"
PLATE_A = "豫A12345"
COMPANY_TAX_ID = demo_uscc("91110000MA01DEM00")

OPERATORS = {
    "operators": [
        {
            "code": "SUP-OP-A",
            "name": "测试甲高速公司",
            "tax_id": demo_uscc("9141000017000011A"),
            "province_code": "4100",
            "machine_no": "410000000011",
            "sections": [
                {
                    "code": "SUP-A3",
                    "name": "测试甲高速",
                    "grade": "expressway",
                    "property": "operating",
                    "construction_start": "2010-01-01",
                },
            ],
        },
        {
            "code": "SUP-OP-C",
            "name": "测试丙还贷中心",
            "tax_id": demo_uscc("1241000017000013C"),
            "province_code": "4100",
            "machine_no": "410000000013",
            "sections": [
                {
                    "code": "SUP-C0",
                    "name": "测试丙还贷高速",
                    "grade": "expressway",
                    "property": "loan_repayment",
                    "construction_start": "2004-01-01",
                },
            ],
        },
    ]
}


def card_item(card_no: str, mobile: str, id_number: str, plate: str = PLATE_A) -> dict:
    return {
        "card_no": card_no,
        "card_type": "account",
        "plate": plate,
        "plate_color": 0,
        "vehicle_class": "passenger",
        "holder_name": "王小明",
        "id_type": "resident_id",
        "id_number": id_number,
        "mobile": mobile,
        "status": "active",
    }


@pytest.fixture
def staff(db, make_user):
    """A console user of a role (agent, supervisor, data_fix, admin), registered as anyone is."""
    counter = {"n": 0}

    def make(role: str, name: str = ""):
        counter["n"] += 1
        user = make_user(f"1390099{counter['n']:04d}", name=name or f"测试{role}{counter['n']}")
        user.is_staff = True
        user.save(update_fields=["is_staff"])
        user.groups.add(Group.objects.get(name=role))
        return User.objects.get(pk=user.pk)

    return make


class World:
    pass


@pytest.fixture
def world(db, partner_client, app_client, make_user, sms, django_capture_on_commit_callbacks):
    """A user with card A bound (two trips, one across two operators, invoiced per trip to an
    enterprise title), a failed binding of card B (reserved mobile mismatch), and another
    user with a card, a trip and invoices of their own."""
    w = World()
    w.clearing = partner_client("clearing", name="测试清分中心")
    assert w.clearing.post("/api/v1/partner/operators", OPERATORS, format="json").status_code == 200
    w.issuer = partner_client("issuer", name="测试河南发行方", network_codes=["4101"])
    cards = [
        card_item(CARD_A, RESERVED_A, resident_id(1)),
        card_item(CARD_B, RESERVED_B, resident_id(2), plate="豫B54321"),
        card_item(CARD_OTHER, RESERVED_OTHER, resident_id(3), plate="豫C11111"),
    ]
    r = w.issuer.post("/api/v1/partner/cards", {"cards": cards}, format="json")
    assert r.status_code == 200 and not r.json()["rejected"], r.content
    w.user = make_user(USER_MOBILE, name="王小明")
    w.app = app_client(w.user)
    w.other = make_user(OTHER_MOBILE, name="李四")
    w.other_app = app_client(w.other)

    def bind(client, item):
        age_sms_codes()
        bind_card(client, item, sms)

    bind(w.app, cards[0])
    bind(w.other_app, cards[2])
    age_sms_codes()
    r = w.app.post(
        "/api/v1/app/cards",
        {"card_no": CARD_B, "id_type": "resident_id", "id_number": resident_id(2), "mobile": "13699998888"},
        format="json",
    )
    assert r.status_code == 400 and r.json()["code"] == "mobile_mismatch", r.content

    when = datetime(2026, 9, 5, 8, 0, tzinfo=SHANGHAI)
    trips = [
        trip("SUP-T1", CARD_A, when, [("SUP-A3", 9733), ("SUP-C0", 500)]),
        trip("SUP-T2", CARD_A, when + timedelta(days=1), [("SUP-A3", 1200)]),
        trip("SUP-T9", CARD_OTHER, when, [("SUP-A3", 800)], plate="豫C11111"),
    ]
    r = w.clearing.post("/api/v1/partner/transits", {"transits": trips}, format="json")
    assert r.json()["created"] == 3, r.content

    def invoice(client, card_no, title):
        r = client.post("/api/v1/app/titles", title, format="json")
        assert r.status_code == 201, r.content
        body = {
            "kind": "consumption",
            "card_no": card_no,
            "month": "2026-09",
            "mode": "per_trip",
            "title_id": r.json()["id"],
        }
        with django_capture_on_commit_callbacks(execute=True):
            r = client.post("/api/v1/app/applications", body, format="json")
        assert r.status_code == 202, r.content
        app = client.get(f"/api/v1/app/applications/{r.json()['id']}").json()
        assert app["status"] == "issued", app
        return app

    w.application = invoice(w.app, CARD_A, {"kind": "enterprise", "name": "测试物流公司", "tax_id": COMPANY_TAX_ID})
    w.other_application = invoice(w.other_app, CARD_OTHER, {"kind": "personal", "name": "李四"})
    w.invoices = w.application["invoices"]
    w.card_no, w.plate = CARD_A, PLATE_A
    return w
