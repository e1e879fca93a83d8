"""Unbinding notices leave the partner's request: an issuer's registry push (POST
/api/v1/partner/cards, 5,000 cards) that unbinds 5,000 bound cards, against the same push on
5,000 cards that nobody has bound (no unbinding, no SMS), answered by gunicorn the production
way (PostgreSQL, Redis, DEBUG off). Then how long a Celery worker (queue "sms", concurrency 2)
takes to deliver the 5,000 notices from the outbox with the file SMS backend.

    .venv/bin/python bench/unbinding.py [--cards 5000] [--rounds 3]

Each round changes the reserved mobile of every card of the batch (a change that ends a
binding); the bound cards are bound again between rounds.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common, data  # noqa: E402


def _batch(start: int, count: int, round_no: int) -> bytes:
    cards = data.cards(start, count)
    for card in cards:
        card["mobile"] = f"15{round_no % 10}{int(card['mobile'][3:]):08d}"
    return json.dumps({"cards": cards}).encode()


def _bind(users, titles, card_ids) -> None:
    from cards.models import Binding

    Binding.objects.bulk_create(
        [
            Binding(user=users[i % len(users)], card_id=card_id, default_title=titles[i % len(users)])
            for i, card_id in enumerate(card_ids)
        ],
        batch_size=5000,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cards", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-delivery", action="store_true", help="measure the pushes only")
    args = parser.parse_args()
    n = args.cards

    common.ensure_database()
    common.manage("migrate", "--noinput")
    common.setup_django()
    from accounts.models import OutboundSms, Partner, User
    from accounts.services import partner_create
    from cards.models import Card, InvoiceTitle
    from cards.services.registry import card_registry_upsert

    base = 700_000_000  # card numbers of this bench only
    for start in range(0, 2 * n, 5000):
        card_registry_upsert(partner=None, items=data.cards(base + start, min(5000, 2 * n - start)))
    _, token = partner_create(kind=Partner.Kind.ISSUER, name=f"bench-issuer-{time.time_ns()}", network_codes=["4101"])
    users = []
    for i in range(max(1, n // 10)):
        u = User(name=f"解绑基准用户{i}")
        u.set_mobile(f"136{i:08d}")
        u.set_unusable_password()
        users.append(u)
    users = User.objects.bulk_create(users, batch_size=2000)
    titles = InvoiceTitle.objects.bulk_create([InvoiceTitle(user=u, kind="personal", name=u.name) for u in users])
    bound_ids = list(
        Card.objects.filter(card_no__in=[data.card_no(base + i) for i in range(n)]).values_list("id", flat=True)
    )

    timings: dict[str, list[float]] = {"without": [], "with": []}
    with common.server(workers=2, threads=1) as url:
        for round_no in range(1, args.rounds + 1):
            _bind(users, titles, bound_ids)
            for label, start in (("without", base + n), ("with", base)):
                body = _batch(start, n, round_no)
                started = time.perf_counter()
                status, answer = common.post_json(f"{url}/api/v1/partner/cards", body, token=token, timeout=600)
                timings[label].append(time.perf_counter() - started)
                assert status == 200 and answer["updated"] == n and not answer["rejected"], answer
                assert answer["unbound"] == (n if label == "with" else 0), answer
    queued = OutboundSms.objects.filter(status="pending").count()

    # The notices, delivered by a worker from the outbox.
    if args.skip_delivery:
        OutboundSms.objects.filter(status="pending").update(status="expired")
    worker = subprocess.Popen(
        [
            common.PY,
            "-m",
            "celery",
            "-A",
            "piaogen",
            "worker",
            "--queues",
            "sms",
            "--concurrency",
            "2",
            "--loglevel",
            "WARNING",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
        ],
        cwd=common.ROOT,
        env=common.bench_env(),
        start_new_session=True,
    )
    started = time.perf_counter()
    try:
        while OutboundSms.objects.filter(status="pending").exists() and time.perf_counter() - started < 1800:
            time.sleep(0.5)
        delivered = time.perf_counter() - started
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    sent = OutboundSms.objects.filter(status="sent").count()
    without, with_ = common.median(timings["without"]), common.median(timings["with"])
    common.report(
        "unbinding_notices",
        cards=n,
        rounds=args.rounds,
        push_without_unbinding_s=round(without, 2),
        push_with_unbinding_s=round(with_, 2),
        ratio=round(with_ / without, 2),
        all_s={k: [round(v, 2) for v in vs] for k, vs in timings.items()},
        notices_queued=queued,
        notices_sent=sent,
        delivery_s=round(delivered, 1),
        delivery_per_s=round(sent / delivered, 0) if delivered else None,
    )


if __name__ == "__main__":
    main()
