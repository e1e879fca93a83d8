"""Demo operators of every tax kind, their sections, and a few months of trips and recharges
for the demo users' bound cards. All names say 演示 (demo); tax ids are demo values."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from accounts.models import Partner
from accounts.services import partner_create
from cards.models import Binding, CardType, InvoiceTitle
from piaogen.demo import demo_uscc

from . import services
from .ingest import operator_upsert_batch, recharge_upsert_batch, transit_upsert_batch
from .models import Application, Invoice, Recharge
from .regimes import DocumentKind

SHANGHAI = ZoneInfo("Asia/Shanghai")
CLEARING_NAME = "演示全国清分结算中心"

# code, name, province, USCC body, [(section code, name, grade, property, start, simplified)]
OPERATORS = [
    (
        "DEMO-OP-HA1",
        "演示河南中原高速公路股份有限公司",
        "4100",
        "9141000017000001A",
        [
            ("DEMO-S-HA-G4", "演示京港澳高速郑州段", "expressway", "operating", "2008-06-01", True),  # 3 %
            ("DEMO-S-HA-G30", "演示连霍高速郑州段", "expressway", "operating", "2012-03-15", True),  # 3 %
        ],
    ),
    (
        "DEMO-OP-HA2",
        "演示郑州绕城一级公路有限公司",
        "4100",
        "9141000017000002B",
        [
            ("DEMO-S-HA-R1", "演示郑州西南绕城一级公路", "class1", "operating", "2013-09-01", True),  # 5 %
        ],
    ),
    (
        "DEMO-OP-HA3",
        "演示河南省收费还贷高速公路管理中心",
        "4100",
        "1241000017000003C",
        [
            ("DEMO-S-HA-L1", "演示许广高速还贷段", "expressway", "loan_repayment", "2004-05-01", True),  # 不征税
        ],
    ),
    (
        "DEMO-OP-HB1",
        "演示河北新建高速公路有限公司",
        "1300",
        "9113000017000004D",
        [
            ("DEMO-S-HE-G4", "演示京港澳高速石家庄新线", "expressway", "operating", "2017-07-01", True),  # 9 %
        ],
    ),
    (
        "DEMO-OP-SX1",
        "演示山西晋中高速公路有限公司（一般计税）",
        "1400",
        "9114000017000005E",
        [
            ("DEMO-S-SX-G5", "演示京昆高速晋中段", "expressway", "operating", "2011-10-01", False),  # opted out: 9 %
        ],
    ),
    (
        "DEMO-OP-BJ1",
        "演示北京隧道桥梁运营有限公司",
        "1100",
        "9111000017000006F",
        [
            ("DEMO-S-BJ-T1", "演示长安隧道", "bridge_tunnel", "operating", "2014-04-01", True),  # 5 %
        ],
    ),
]

# Routes as lists of section codes: the first crosses three operators.
ROUTES = [
    (("演示郑州站", "演示安阳站"), ["DEMO-S-HA-G4", "DEMO-S-HA-R1", "DEMO-S-HA-L1"]),
    (("演示郑州站", "演示石家庄站"), ["DEMO-S-HA-G4", "DEMO-S-HE-G4"]),
    (("演示郑州西站", "演示洛阳站"), ["DEMO-S-HA-G30"]),
    (("演示太原站", "演示晋中站"), ["DEMO-S-SX-G5"]),
    (("演示长安街东", "演示长安街西"), ["DEMO-S-BJ-T1"]),
    (("演示许昌站", "演示漯河站"), ["DEMO-S-HA-L1"]),
]


def clearing_partner() -> Partner:
    partner = Partner.objects.filter(kind=Partner.Kind.CLEARING, name=CLEARING_NAME).first()
    if partner is None:
        partner, _token = partner_create(kind=Partner.Kind.CLEARING, name=CLEARING_NAME)
    return partner


def issuer_partner(card) -> Partner:
    """The partner account of the card's issuer, made for the demo when there is none."""
    owner = Partner.objects.filter(issuers__network_codes__code=card.card_no[:4]).first()  # the issuer owns it
    if owner:
        return owner
    partner, _token = partner_create(
        kind=Partner.Kind.ISSUER, name=f"{card.issuer.name}（演示）", network_codes=[card.card_no[:4]]
    )
    return partner


def _operators_body() -> dict:
    return {
        "operators": [
            {
                "code": code,
                "name": name,
                "tax_id": demo_uscc(body),
                "province_code": province,
                "address": "演示地址（非真实）",
                "phone": "0000-0000000（演示）",
                "bank": "演示银行",
                "bank_account": "6200000000000000（演示）",
                "machine_no": f"{province}{index:08d}",
                "sections": [
                    {
                        "code": c,
                        "name": n,
                        "grade": g,
                        "property": p,
                        "construction_start": s,
                        "simplified_method": simp,
                    }
                    for c, n, g, p, s, simp in sections
                ],
            }
            for index, (code, name, province, body, sections) in enumerate(OPERATORS, start=1)
        ]
    }


def _months_back(today: date, n: int) -> list[date]:
    firsts, y, m = [], today.year, today.month
    for _ in range(n):
        m -= 1
        if m == 0:
            y, m = y - 1, 12
        firsts.append(date(y, m, 1))
    return firsts


def trips_for(card, today: date, months: int = 3) -> list[dict]:
    rng = random.Random(card.card_no)
    trips = []
    for first in _months_back(today, months):
        for n in range(8):
            (entry, exit_), route = ROUTES[0] if n == 0 else rng.choice(ROUTES)
            day = first + timedelta(days=rng.randrange(0, 27))
            start = datetime.combine(day, time(rng.randrange(6, 20), rng.randrange(0, 60)), SHANGHAI)
            fees = [rng.randrange(800, 6000) for _ in route]
            if n == 1:
                fees[0] = 9733  # the 97.33 yuan of the well-known 3 % invoice
            trips.append(
                {
                    "transit_id": f"DEMO-{card.card_no}-{first:%Y%m}-{n:02d}",
                    "card_no": card.card_no,
                    "plate": card.plate,
                    "plate_color": card.plate_color,
                    "vehicle_class": card.vehicle_class,
                    "entry_station": entry,
                    "entry_time": start.isoformat(),
                    "exit_station": exit_,
                    "exit_time": (start + timedelta(minutes=40 * len(route))).isoformat(),
                    "fee": sum(fees),
                    "segments": [{"section_code": c, "fee": f} for c, f in zip(route, fees, strict=True)],
                }
            )
    return trips


# A month before the 2020 switch (the default TOLL_REGIME_2020_FROM): its trips get VAT e-invoices
# only — the 不征税 one for the loan-repayment share included — as trips did under the 2018 rules.
LEGACY_MONTH = date(2019, 6, 1)


def legacy_trips_for(card) -> list[dict]:
    """A few trips of June 2019 over the same roads: demo data of the legacy VAT e-invoices."""
    trips = []
    for n, ((entry, exit_), route) in enumerate(ROUTES[:3]):
        start = datetime.combine(LEGACY_MONTH + timedelta(days=3 + 7 * n), time(9 + n, 20), SHANGHAI)
        fees = [2000 + 700 * i + 300 * n for i in range(len(route))]
        trips.append(
            {
                "transit_id": f"DEMO-{card.card_no}-{LEGACY_MONTH:%Y%m}-L{n}",
                "card_no": card.card_no,
                "plate": card.plate,
                "plate_color": card.plate_color,
                "vehicle_class": card.vehicle_class,
                "entry_station": entry,
                "entry_time": start.isoformat(),
                "exit_station": exit_,
                "exit_time": (start + timedelta(minutes=40 * len(route))).isoformat(),
                "fee": sum(fees),
                "segments": [{"section_code": c, "fee": f} for c, f in zip(route, fees, strict=True)],
            }
        )
    return trips


def recharges_for(card, today: date) -> list[dict]:
    rng = random.Random("r" + card.card_no)
    out = []
    for first in _months_back(today, 3):
        for n in range(2):
            at = datetime.combine(first + timedelta(days=rng.randrange(0, 27)), time(10, 0), SHANGHAI)
            out.append(
                {
                    "recharge_id": f"DEMO-R-{card.card_no}-{first:%Y%m}-{n}",
                    "card_no": card.card_no,
                    "amount": rng.choice([10000, 20000, 50000]),
                    "recharged_at": at.isoformat(),
                }
            )
    return out


def run(out) -> list[str]:
    partner = clearing_partner()
    operator_upsert_batch(partner=partner, body=_operators_body())
    today = timezone.localdate()
    cards = [b.card for b in Binding.objects.filter(ended_at__isnull=True).select_related("card", "card__issuer")]
    transits = [t for card in cards for t in [*legacy_trips_for(card), *trips_for(card, today)]]
    created = 0
    for i in range(0, len(transits), 5000):
        result = transit_upsert_batch(partner=partner, body={"transits": transits[i : i + 5000]})
        created += result.created
        assert not result.rejected, result.rejected
    for card in cards:
        if card.card_type == CardType.STORED_VALUE:
            recharge_upsert_batch(partner=issuer_partner(card), body={"recharges": recharges_for(card, today)})
    issued = _applications(today)
    return [
        f"通行记录 trips: {len(OPERATORS)} 家演示经营单位, {created} 条新通行记录（演示）",
        f"开票申请 applications: {issued}",
        f"自动开票 automatic invoicing: {_auto_invoicing(today)}",
    ]


def _auto_invoicing(today: date) -> str:
    """The demo company's account has automatic invoicing on (monthly, to a demo address) and
    the job has run once for the latest available month, through the real sweep: its cards'
    applications are issued, and 自动开票 and the console show the runs. Made once."""
    from accounts.seed import demo_enterprise_user
    from cards.autoinvoice import auto_invoice_set
    from cards.models import AutoInvoiceRun, AutoInvoiceSetting

    from .autoinvoice import auto_invoice_sweep

    company = demo_enterprise_user()
    if AutoInvoiceSetting.objects.filter(user=company).exists():
        return "已存在，未重复创建"
    auto_invoice_set(user=company, enabled=True, mode="monthly", email="demo-fleet@piaogen.invalid")
    auto_invoice_sweep(today=today, inline=True)
    runs = list(AutoInvoiceRun.objects.filter(user=company).select_related("application"))
    for run in runs:
        if run.application_id and run.application.status == Application.Status.SUBMITTED:
            _issue(run.application)
    return (
        f"{company.mobile} 已开启（按月汇总，演示邮箱 demo-fleet@piaogen.invalid），"
        f"已为 {len(runs)} 张卡运行一次 → 登录后打开 /cards/auto-invoice/"
    )


def _issue(app) -> None:
    services.application_issue(application_id=app.pk)


def _applications(today: date) -> str:
    """Issued applications of every kind for the demo user, made once: per-trip and monthly
    consumption, a recharge application, a title change and a reversal — and documents of every
    kind (docs/regimes.md): legacy VAT e-invoices for the trips of June 2019, fiscal e-bills and
    数电 invoices for recent trips, a red-letter 数电 invoice with its 红字确认单 (the reversal),
    and a recharge application without a summary sheet (recharges after 2020)."""
    from accounts.seed import demo_user

    user = demo_user()
    if Application.objects.filter(user=user).exists():
        return "已存在，未重复创建"
    bindings = list(Binding.objects.filter(user=user, ended_at__isnull=True).select_related("card").order_by("pk"))
    titles = list(InvoiceTitle.objects.filter(user=user, deleted_at__isnull=True).order_by("pk"))
    if not bindings or not titles:
        return "无演示卡或抬头，跳过"
    personal = next((t for t in titles if t.kind == InvoiceTitle.Kind.PERSONAL), titles[0])
    company = next((t for t in titles if t.kind == InvoiceTitle.Kind.ENTERPRISE), personal)
    months = [m.strftime("%Y-%m") for m in _months_back(today, 3)]
    account = next((b.card for b in bindings if b.card.card_type == CardType.ACCOUNT), None)
    stored = next((b.card for b in bindings if b.card.card_type == CardType.STORED_VALUE), None)
    made = []
    if account:
        per_trip = services.application_submit_consumption(
            user=user, card_no=account.card_no, month=months[2], title_id=personal.pk, mode="per_trip"
        )
        _issue(per_trip)
        monthly = services.application_submit_consumption(
            user=user,
            card_no=account.card_no,
            month=months[1],
            title_id=company.pk,
            mode="monthly",
            email="demo-user@piaogen.invalid",
        )
        _issue(monthly)
        change = services.application_title_change(user=user, application_id=per_trip.pk, title_id=company.pk)
        _issue(change)
        # the reversal takes a 数电 invoice where there is one: it goes through a 红字确认单
        reversible = Invoice.objects.filter(application=monthly, red=False).order_by("pk")
        first = reversible.filter(document_kind=DocumentKind.DIGITAL_E_INVOICE).first() or reversible.first()
        if first:
            _issue(services.invoice_reverse(user=user, invoice_id=first.pk, reason="演示：红冲一张发票"))
        legacy = services.application_submit_consumption(
            user=user,
            card_no=account.card_no,
            month=f"{LEGACY_MONTH:%Y-%m}",
            title_id=company.pk,
            mode="per_trip",
        )
        _issue(legacy)
        made += ["按次开票", "按月汇总", "换票", "红冲", "2019年的增值税电子普通发票"]
    if stored:
        ids = list(Recharge.objects.filter(card=stored, state="open").values_list("recharge_id", flat=True)[:2])
        if ids:
            _issue(
                services.application_submit_recharge(
                    user=user, card_no=stored.card_no, recharge_ids=ids, title_id=personal.pk
                )
            )
            made.append("充值开票")
    return "、".join(made) + "（演示，已开票）"
