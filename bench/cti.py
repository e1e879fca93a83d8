"""The hotline's switch endpoint under load, and how soon the answering agent's console hears.

    .venv/bin/python bench/cti.py [--rate 200] [--seconds 30] [--agents 20] [--senders 16]

gunicorn the production way (2 workers × 4 threads, DEBUG off, PostgreSQL, Redis as the cache).
A switch in this process posts call events at ``--rate`` a second, paced: each call rings
(``newCall``), is answered 0.5 s later and hangs up 1.5 s after that; one call in ten is
abandoned instead (no answer, ``cancel``); one event in twenty is sent twice (answered
``duplicate``). Answers go to extensions nobody sits at, except that each of ``--agents``
polled agents, whenever free, takes the next call. Each agent's "page" polls
``/admin/support/call/live/`` every 0.6 s with its session, as ``call-notice.js`` does; the
notice latency is the time from the answer's 200 to the first poll that shows the call. The
agent then wraps the call up (in the database, with the version moved on) and is free again.

Figures: events a second achieved, the endpoint's p50 / p99 / max, non-200 answers, the notice's
p50 / p95 / max, and a check that every call holds what its events said.
"""

from __future__ import annotations

import argparse
import heapq
import http.client
import json
import queue
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402

POLL_EVERY = 0.6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--senders", type=int, default=16)
    parser.add_argument("--port", type=int, default=8771)
    args = parser.parse_args()

    common.ensure_database()
    common.manage("migrate", "--noinput")
    common.setup_django(STAFF_2FA_REQUIRED="0")

    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import Group
    from django.utils import timezone

    from accounts.models import User, mobile_digest
    from support import cti
    from support.models import AgentExtension, Call

    run = f"B{int(time.time())}"
    token = cti.switch_token_issue(name=f"bench {run}")
    group = Group.objects.get(name="agent")
    store = import_module(settings.SESSION_ENGINE).SessionStore
    agents = []
    for n in range(args.agents):
        mobile = f"1390{n:07d}"
        user = User.objects.filter(mobile_digest=mobile_digest(mobile)).first()
        if user is None:
            user = User.objects.create_user(mobile=mobile, password=None, name=f"压测坐席{n}", is_staff=True)
            user.groups.add(group)
        AgentExtension.objects.filter(staff=user).delete()
        AgentExtension.objects.filter(extension=f"81{n:02d}").delete()
        AgentExtension.objects.create(staff=user, extension=f"81{n:02d}")
        session = store()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.save()
        agents.append(
            {"user": user, "ext": f"81{n:02d}", "cookie": f"{settings.SESSION_COOKIE_NAME}={session.session_key}"}
        )
    Call.objects.filter(agent__in=[a["user"] for a in agents], wrapped_at__isnull=True).update(
        wrapped_at=timezone.now()
    )

    total = args.rate * args.seconds
    free = queue.Queue()
    for a in agents:
        free.put(a)
    waiting: dict[int, tuple[str, float]] = {}  # agent index -> (call id, when the answer was acknowledged)
    lock = threading.Lock()
    latencies: list[float] = []
    notices: list[float] = []
    statuses: dict[int, int] = {}
    calls_expected: dict[str, str] = {}

    with common.server(port=args.port, workers=2, threads=4) as base:
        host = urlsplit(base).netloc
        local = threading.local()

        def send(body: bytes) -> tuple[int, dict]:
            conn = getattr(local, "conn", None)
            if conn is None:
                conn = local.conn = http.client.HTTPConnection(host, timeout=30)
            headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
            try:
                conn.request("POST", "/api/v1/cti/events", body, headers)
                r = conn.getresponse()
                data = r.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                local.conn = None
                return 0, {}
            return r.status, json.loads(data) if data else {}

        # The plan: (due time, sequence, event), paced at --rate with answers and hang-ups later.
        plan: list = []
        seq = 0
        k = 0
        per_call = 2.8  # events per call on average (3, or 2 when abandoned), plus duplicates
        t0 = time.monotonic() + 1.0
        while seq < total:
            start = t0 + k * per_call / args.rate
            cid = f"{run}-{k}"
            abandoned = k % 10 == 9
            events = [
                (
                    start,
                    {
                        "event": "newCall",
                        "call_id": cid,
                        "from": f"139{k % 10**8:08d}",
                        "to": "95022",
                        "queue": "binding",
                    },
                )
            ]
            if abandoned:
                events.append((start + 0.5, {"event": "hangup", "call_id": cid, "cause": "cancel"}))
                calls_expected[cid] = "abandoned"
            else:
                events.append((start + 0.5, {"event": "answer", "call_id": cid}))
                events.append((start + 2.0, {"event": "hangup", "call_id": cid, "cause": "normalClearing"}))
                calls_expected[cid] = "answered"
            for due, event in events:
                heapq.heappush(plan, (due, seq, event))
                seq += 1
                if seq % 20 == 0 and event["event"] != "answer":
                    heapq.heappush(plan, (due + 0.05, seq, dict(event)))  # sent twice
                    seq += 1
            k += 1
        work: queue.Queue = queue.Queue(maxsize=args.senders * 4)
        done = threading.Event()

        def sender():
            while True:
                item = work.get()
                if item is None:
                    return
                due, event = item
                if event["event"] == "answer" and "extension" not in event:
                    try:
                        agent = free.get_nowait()
                    except queue.Empty:
                        agent = None
                    event["extension"] = agent["ext"] if agent else "7000"
                else:
                    agent = None
                began = time.monotonic()
                status, answer = send(json.dumps(event).encode())
                ended = time.monotonic()
                with lock:
                    latencies.append(ended - began)
                    statuses[status] = statuses.get(status, 0) + 1
                    if agent is not None and status == 200:
                        waiting[agents.index(agent)] = (answer["call"]["id"], ended)
                    elif agent is not None:
                        free.put(agent)

        def poller(index: int):
            agent = agents[index]
            conn = http.client.HTTPConnection(host, timeout=30)
            version = ""
            seen: dict[int, float] = {}  # call id -> when a poll first showed it
            while not done.is_set():
                began = time.monotonic()
                try:
                    conn.request("GET", f"/admin/support/call/live/?v={version}", headers={"Cookie": agent["cookie"]})
                    r = conn.getresponse()
                    data = json.loads(r.read() or b"{}")
                except (OSError, http.client.HTTPException, ValueError):
                    conn.close()
                    conn = http.client.HTTPConnection(host, timeout=30)
                    data = {}
                seen_at = time.monotonic()
                version = data.get("v", version)
                for item in data.get("calls", []):
                    seen.setdefault(item["id"], seen_at)
                with lock:
                    expected = waiting.get(index)
                if expected and expected[0] in seen:
                    with lock:
                        notices.append(max(0.0, seen[expected[0]] - expected[1]))
                        waiting.pop(index, None)
                    Call.objects.filter(pk=expected[0]).update(wrapped_at=timezone.now())
                    cti.notice_changed(agent["user"].pk)
                    free.put(agent)
                time.sleep(max(0.0, POLL_EVERY - (time.monotonic() - began)))

        senders = [threading.Thread(target=sender, daemon=True) for _ in range(args.senders)]
        pollers = [threading.Thread(target=poller, args=(i,), daemon=True) for i in range(len(agents))]
        for t in senders + pollers:
            t.start()
        first = None
        late = 0.0
        while plan:
            due, _seq, event = heapq.heappop(plan)
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            else:
                late = max(late, now - due)
            first = first or time.monotonic()
            work.put((due, event))
        for _ in senders:
            work.put(None)
        for t in senders:
            t.join()
        elapsed = time.monotonic() - first
        time.sleep(2 * POLL_EVERY)
        done.set()
        for t in pollers:
            t.join(timeout=5)

    from django.db.models import Count

    outcomes = dict(
        Call.objects.filter(switch_call_id__startswith=f"{run}-")
        .values_list("outcome")
        .annotate(n=Count("id"))
        .order_by()
    )
    expected = {}
    for outcome in calls_expected.values():
        expected[outcome] = expected.get(outcome, 0) + 1
    sent = sum(statuses.values())
    common.report(
        "cti",
        rate_target=args.rate,
        events=sent,
        seconds=round(elapsed, 1),
        events_per_second=round(sent / elapsed, 1),
        pacing_late_max_ms=round(late * 1000),
        statuses={str(k): v for k, v in statuses.items()},
        endpoint_p50_ms=round(common.percentile(latencies, 50) * 1000, 1),
        endpoint_p99_ms=round(common.percentile(latencies, 99) * 1000, 1),
        endpoint_max_ms=round(max(latencies or [0]) * 1000, 1),
        notices=len(notices),
        notice_p50_ms=round(common.percentile(notices, 50) * 1000),
        notice_p95_ms=round(common.percentile(notices, 95) * 1000),
        notice_max_ms=round(max(notices or [0]) * 1000),
        notices_over_1s=sum(1 for n in notices if n > 1.0),
        agents=len(agents),
        calls_expected=expected,
        calls_logged=outcomes,
        consistent=outcomes == expected,
    )


if __name__ == "__main__":
    main()
