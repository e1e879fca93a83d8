"""Pieces of the test worlds: identity numbers, trips as the clearing centre pushes them, and a
card bound through the App API."""

from __future__ import annotations

from datetime import datetime, timedelta

from stdnum.cn import ric


def resident_id(serial: int, prefix: str = "41010519900101") -> str:
    """A valid resident ID number: region and birth date ``prefix``, then a serial (mod 1000)."""
    body = f"{prefix}{serial % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")  # stdnum wants a placeholder check digit


def trip(transit_id: str, card_no: str, when: datetime, split: list[tuple[str, int]], **extra) -> dict:
    """A trip entering at ``when`` and leaving two hours later, its fee split over sections as
    ``split`` ((section code, fee in fen) pairs) says; ``extra`` overrides any field."""
    return {
        "transit_id": transit_id,
        "card_no": card_no,
        "plate": "豫A12345",
        "plate_color": 0,
        "vehicle_class": "passenger",
        "entry_station": "郑州站",
        "entry_time": when.isoformat(),
        "exit_station": "安阳站",
        "exit_time": (when + timedelta(hours=2)).isoformat(),
        "fee": sum(f for _, f in split),
        "segments": [{"section_code": c, "fee": f} for c, f in split],
        **extra,
    }


def bind_card(client, item: dict, sms) -> None:
    """Binds the registry card ``item`` to ``client``'s user through the App API, the code read
    from the reserved mobile's SMS."""
    r = client.post(
        "/api/v1/app/cards",
        {
            "card_no": item["card_no"],
            "id_type": "resident_id",
            "id_number": item["id_number"],
            "mobile": item["mobile"],
        },
        format="json",
    )
    assert r.status_code == 202, r.content
    code = sms.last_code(item["mobile"], "bind")
    r = client.post("/api/v1/app/cards/confirm", {"binding_id": r.json()["binding_id"], "code": code}, format="json")
    assert r.status_code == 201, r.content
