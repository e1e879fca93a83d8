"""Demo registry cards (personal and enterprise, stored-value and account, several provinces),
some bound to the demo users, and demo invoice titles. All numbers are demo values."""

from __future__ import annotations

from django.db.models import Q
from stdnum.cn import ric, uscc

from accounts.seed import DEMO_USERS, demo_enterprise_user, demo_user
from piaogen.demo import demo_uscc as demo_uscc_of

from .models import Binding, Card, InvoiceTitle
from .services.registry import card_registry_upsert
from .services.titles import invoice_title_create

PERSONAL_MOBILE = DEMO_USERS[0][0]  # 13800000001
ENTERPRISE_MOBILE = DEMO_USERS[1][0]  # 13800000002
ENTERPRISE_NAME = DEMO_USERS[1][2]
ENTERPRISE_USCC = DEMO_USERS[1][3]


def demo_resident_id(region: str, sequence: str) -> str:
    """An 18-digit ID number with an obviously demo birth date (1990-01-01) and a correct
    check digit, computed by python-stdnum."""
    base = f"{region}19900101{sequence}"
    return base + ric.calc_check_digit(base + "0")


def demo_uscc(base17: str) -> str:
    return base17 + uscc.calc_check_digit(base17)


PERSON_ID = demo_resident_id("110101", "001")  # 110101199001010015
OTHER_PERSON_ID = demo_resident_id("440305", "002")
SECOND_COMPANY_USCC = demo_uscc("91440300MA5DEM001")


def _card(card_no, card_type, plate, color, vehicle, holder, id_type, id_number, mobile, status="active"):
    return {
        "card_no": card_no,
        "card_type": card_type,
        "plate": plate,
        "plate_color": color,
        "vehicle_class": vehicle,
        "holder_name": holder,
        "id_type": id_type,
        "id_number": id_number,
        "mobile": mobile,
        "status": status,
    }


PERSON = DEMO_USERS[0][2]
CARDS = [
    # Bound to the personal demo user.
    _card(
        "11010000000000000001",
        "stored_value",
        "京A12345",
        0,
        "passenger",
        PERSON,
        "resident_id",
        PERSON_ID,
        PERSONAL_MOBILE,
    ),
    _card(
        "44010000000000000001",
        "account",
        "粤B12345D",
        5,
        "passenger",
        PERSON,
        "resident_id",
        PERSON_ID,
        PERSONAL_MOBILE,
    ),
    _card(
        "32010000000000000001",
        "account",
        "苏AD12345",
        4,
        "passenger",
        PERSON,
        "resident_id",
        PERSON_ID,
        PERSONAL_MOBILE,
    ),
    # Left unbound, for trying the binding pages by hand.
    _card(
        "61010000000000000001",
        "stored_value",
        "陕A54321",
        0,
        "passenger",
        PERSON,
        "resident_id",
        PERSON_ID,
        PERSONAL_MOBILE,
    ),
    _card(
        "52010000000000000001",
        "account",
        "贵A67890",
        0,
        "passenger",
        "演示用户李四",
        "resident_id",
        OTHER_PERSON_ID,
        "13800000009",
        "cancelled",
    ),
    # Enterprise cards: the first bound to the demo enterprise account (its contact mobile).
    _card(
        "11010000000000000002",
        "account",
        "京C23456",
        1,
        "truck",
        ENTERPRISE_NAME,
        "uscc",
        ENTERPRISE_USCC,
        ENTERPRISE_MOBILE,
    ),
    _card(
        "13010000000000000001",
        "account",
        "冀A34567",
        1,
        "truck",
        ENTERPRISE_NAME,
        "uscc",
        ENTERPRISE_USCC,
        ENTERPRISE_MOBILE,
    ),
    _card(
        "44010000000000000002",
        "stored_value",
        "粤B45678",
        0,
        "passenger",
        "演示科技（深圳）有限公司",
        "uscc",
        SECOND_COMPANY_USCC,
        "13800000008",
    ),
]
# A demo fleet for 批量绑卡 (bulk binding): trucks of the demo company, unbound, reserved to its
# contact mobile, and one of its trucks reserved to another mobile (refused, to show why).
FLEET = [
    _card(
        f"{network}0000000000000{n:03d}", "account", plate, 1, "truck", ENTERPRISE_NAME, "uscc", ENTERPRISE_USCC, mobile
    )
    for network, n, plate, mobile in (
        ("1101", 11, "京C60011", ENTERPRISE_MOBILE),
        ("1101", 12, "京C60012", ENTERPRISE_MOBILE),
        ("1201", 13, "津B60013", ENTERPRISE_MOBILE),
        ("3701", 14, "鲁A60014", ENTERPRISE_MOBILE),
        ("4101", 15, "豫A60015", ENTERPRISE_MOBILE),
        ("1101", 16, "京C60016", "13800000007"),
    )
]
# A demo card of another company, reserved to the demo company's contact mobile (refused: not
# held by the company's USCC).
OTHER_COMPANY_USCC = demo_uscc_of("91110000MA5DEM002")
FLEET.append(
    _card(
        "11010000000000000017",
        "account",
        "京C60017",
        1,
        "truck",
        "演示运输（北京）有限公司",
        "uscc",
        OTHER_COMPANY_USCC,
        ENTERPRISE_MOBILE,
    )
)
CARDS.extend(FLEET)
PERSONAL_BOUND = ["11010000000000000001", "44010000000000000001", "32010000000000000001"]
ENTERPRISE_BOUND = ["11010000000000000002"]


def _bind(user, card_no: str, title: InvoiceTitle | None) -> None:
    """Demo data: bound directly, as if the SMS code had come back."""
    card = Card.objects.get(card_no=card_no)
    if not Binding.objects.filter(card=card, ended_at__isnull=True).exists():
        Binding.objects.create(user=user, card=card, default_title=title)


def _title(user, **fields) -> InvoiceTitle:
    title = (
        InvoiceTitle.objects.filter(user=user, deleted_at__isnull=True)
        .filter(Q(kind=fields["kind"]) & Q(name=fields["name"]))
        .first()
    )
    return title or invoice_title_create(user=user, **fields)


def run(out) -> list[str]:
    card_registry_upsert(partner=None, items=CARDS)
    person = demo_user()
    company = demo_enterprise_user()
    personal_title = _title(person, kind="personal", name=PERSON, email="demo-user@piaogen.invalid")
    company_title = _title(
        person,
        kind="enterprise",
        name=ENTERPRISE_NAME,
        tax_id=ENTERPRISE_USCC,
        address="北京市东城区演示路1号",
        phone="010-00000000",
        bank="演示银行北京分行",
        bank_account="0000000000000001",
    )
    own_title = _title(
        company,
        kind="enterprise",
        name=ENTERPRISE_NAME,
        tax_id=ENTERPRISE_USCC,
        address="北京市东城区演示路1号",
        phone="010-00000000",
    )
    for card_no in PERSONAL_BOUND:
        _bind(person, card_no, personal_title if card_no != PERSONAL_BOUND[-1] else company_title)
    for card_no in ENTERPRISE_BOUND:
        _bind(company, card_no, own_title)
    return [
        f"ETC卡（演示）: {PERSONAL_MOBILE} 已绑定 {len(PERSONAL_BOUND)} 张，{ENTERPRISE_MOBILE} 已绑定 "
        f"{len(ENTERPRISE_BOUND)} 张单位卡",
        f"试绑（演示数据）: 卡号 61010000000000000001，居民身份证 {PERSON_ID}，预留手机 {PERSONAL_MOBILE}"
        " → 用 13800000001 登录后打开 /cards/bind/",
        f"试绑单位卡（演示数据）: 卡号 13010000000000000001，统一社会信用代码 {ENTERPRISE_USCC}，"
        f"预留手机 {ENTERPRISE_MOBILE} → 用 13800000002 登录",
        "已注销卡（演示）: 52010000000000000001，绑定时会提示联系发行方",
        f"批量绑卡（演示车队）: 用 {ENTERPRISE_MOBILE} 登录后打开 /cards/bulk/，粘贴卡号 "
        + "、".join(card["card_no"] for card in FLEET)
        + f"（前 {len(FLEET) - 2} 张可绑定，后 2 张会列出原因）",
    ]
