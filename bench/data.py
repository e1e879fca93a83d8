"""Deterministic bench data: issuers' cards, operators of every tax kind, trips, bindings."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
SECTIONS = ["B-S3", "B-S5", "B-S9", "B-L0", "B-X9", "B-T5"]


def operators_body() -> dict:
    from piaogen.demo import demo_uscc

    spec = [
        ("B-OP1", "基准甲高速", "9141000017000011A", [("B-S3", "expressway", "operating", "2008-01-01", True)]),
        ("B-OP2", "基准乙一级公路", "9141000017000012B", [("B-S5", "class1", "operating", "2010-01-01", True)]),
        ("B-OP3", "基准丙新高速", "9141000017000013C", [("B-S9", "expressway", "operating", "2018-01-01", True)]),
        (
            "B-OP4",
            "基准丁还贷中心",
            "1241000017000014D",
            [("B-L0", "expressway", "loan_repayment", "2004-01-01", True)],
        ),
        ("B-OP5", "基准戊一般计税", "9141000017000015E", [("B-X9", "expressway", "operating", "2012-01-01", False)]),
        ("B-OP6", "基准己隧道", "9141000017000016F", [("B-T5", "bridge_tunnel", "operating", "2014-01-01", True)]),
    ]
    return {
        "operators": [
            {
                "code": code,
                "name": name,
                "tax_id": demo_uscc(body),
                "province_code": "4100",
                "machine_no": f"4100{i:08d}",
                "sections": [
                    {
                        "code": c,
                        "name": f"{name}路段",
                        "grade": g,
                        "property": p,
                        "construction_start": s,
                        "simplified_method": simp,
                    }
                    for c, g, p, s, simp in sections
                ],
            }
            for i, (code, name, body, sections) in enumerate(spec, start=1)
        ]
    }


def card_no(n: int) -> str:
    return f"4101{n:016d}"


def resident_id(n: int) -> str:
    from stdnum.cn import ric

    body = f"41010519900101{n % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


def cards(start: int, count: int, card_type: str = "account") -> list[dict]:
    return [
        {
            "card_no": card_no(n),
            "card_type": card_type,
            "plate": f"豫A{n % 100000:05d}",
            "plate_color": 0,
            "vehicle_class": "passenger",
            "holder_name": "基准持卡人",
            "id_type": "resident_id",
            "id_number": resident_id(n),
            "mobile": f"137{n % 100000000:08d}",
            "status": "active",
        }
        for n in range(start, start + count)
    ]


def trips(
    prefix: str, card_numbers: list[str], count: int, *, segments: int = 3, seed: int = 1, start: datetime | None = None
) -> list[dict]:
    rng = random.Random(seed)
    start = start or datetime(2026, 9, 1, 6, 0, tzinfo=SHANGHAI)
    out = []
    for i in range(count):
        route = rng.sample(SECTIONS, segments)
        fees = [rng.randrange(100, 9000) for _ in route]
        when = start + timedelta(minutes=i % 40000)
        card = card_numbers[i % len(card_numbers)]
        out.append(
            {
                "transit_id": f"{prefix}-{i:09d}",
                "card_no": card,
                "plate": "豫A00001",
                "plate_color": 0,
                "vehicle_class": "passenger",
                "entry_station": "基准入口站",
                "entry_time": when.isoformat(),
                "exit_station": "基准出口站",
                "exit_time": (when + timedelta(minutes=50)).isoformat(),
                "fee": sum(fees),
                "segments": [{"section_code": c, "fee": f} for c, f in zip(route, fees, strict=True)],
            }
        )
    return out
