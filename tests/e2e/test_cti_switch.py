"""The hotline's switch against the site served as in production: gunicorn with two worker
processes of four threads, the cache shared between them (Redis where the suite has it), the
database of the suite.

A switch's day in a few seconds: forty calls ring, are answered, abandoned or missed; their
events go out from eight connections at once in any order, some of them twice, so that the first
events of a call race each other in different processes. Every call is logged once with what its
events said; each event applies once and its repeats are answered ``duplicate``; a caller's number
never reaches the server's log in full; a token revoked from the command line is refused at once
by both processes, though they keep tokens in the cache.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from accounts.models import User
from support import cti
from support.models import AgentExtension, Call
from tests.e2e.conftest import gunicorn
from tests.helpers.processes import database_url

pytestmark = pytest.mark.worker

CALLS = 40
CUSTOMER = "13512340001"


def _post(url: str, body: dict, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


@pytest.fixture
def site(transactional_db, django_db_serialized_rollback, tmp_path):
    """gunicorn on a free port, two processes × four threads, production settings but plain http."""
    log = tmp_path / "gunicorn.log"
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "REDIS_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="piaogen.settings",
        DEBUG="0",
        SECURE_SSL_REDIRECT="0",
        SECRET_KEY=settings.SECRET_KEY,  # the same keys: mobiles are found by their digest
        DATABASE_URL=database_url(),
        PIAOGEN_VAR_DIR=str(tmp_path / "var"),
        PYTHONUNBUFFERED="1",
    )
    if os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = os.environ["REDIS_URL"]
    with gunicorn(env, log, workers=2, threads=4) as url:
        yield type("Site", (), {"url": url, "log": log, "env": env})


def test_a_switch_drives_the_hotline_from_many_connections_in_any_order(site):
    customer = User.objects.create_user(mobile=CUSTOMER, password=None, name="赵来电")
    agents = []
    for n in range(2):
        agent = User.objects.create_user(mobile=f"1390077{n:04d}", password=None, name=f"坐席{n}", is_staff=True)
        AgentExtension.objects.create(staff=agent, extension=f"80{n:02d}")
        agents.append(agent)
    token = cti.switch_token_issue(name="端到端测试交换机")
    events_url = f"{site.url}/api/v1/cti/events"
    rng = random.Random(22)
    start = timezone.now() - timedelta(hours=1)

    # The plan: each call's events with their times, and what the call must look like after.
    expected: dict[str, dict] = {}
    sends: list[dict] = []
    for k in range(CALLS):
        cid = f"E2E-{k}"
        rang = start + timedelta(seconds=30 * k)
        caller = CUSTOMER if k % 5 == 0 else ("anonymous" if k % 7 == 0 else f"1370022{k:04d}")
        ring = {"event": "newCall", "call_id": cid, "from": caller, "to": "95022", "queue": "binding"}
        ring["at"] = rang.isoformat()
        kind = ("answered", "answered", "answered", "abandoned", "missed")[k % 5]
        if kind == "answered":
            ext = f"80{k % 2:02d}"
            call = [
                ring,
                {"event": "answer", "call_id": cid, "extension": ext, "at": (rang + timedelta(seconds=7)).isoformat()},
                {
                    "event": "hangup",
                    "call_id": cid,
                    "cause": "normalClearing",
                    "at": (rang + timedelta(seconds=7 + 95)).isoformat(),
                },
            ]
            expected[cid] = {"outcome": "answered", "wait": 7, "handle": 95, "agent": agents[k % 2].pk}
        else:
            cause = "cancel" if kind == "abandoned" else "noAnswer"
            call = [
                ring,
                {"event": "hangup", "call_id": cid, "cause": cause, "at": (rang + timedelta(seconds=41)).isoformat()},
            ]
            expected[cid] = {"outcome": kind, "wait": 41, "handle": None, "agent": None}
        expected[cid]["user"] = customer.pk if caller == CUSTOMER else None
        expected[cid]["masked"] = "" if caller == "anonymous" else f"{caller[:3]}****{caller[-4:]}"
        rng.shuffle(call)  # a hang-up may come before its ring
        sends.extend(call)
        sends.extend(dict(e) for e in call if rng.random() < 0.3)  # sent twice
    rng.shuffle(sends)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda body: (body, *_post(events_url, body, token)), sends))

    assert [status for _b, status, _a in answers] == [200] * len(sends), [a for a in answers if a[1] != 200][:3]
    applied: dict[tuple[str, str], int] = {}
    for body, _status, answer in answers:
        key = (body["call_id"], body["event"])
        applied[key] = applied.get(key, 0) + (answer["result"] == "applied")
    assert set(applied.values()) == {1}  # each event of each call applied exactly once
    assert len(applied) == sum(3 if e["outcome"] == "answered" else 2 for e in expected.values())

    calls = {c.switch_call_id: c for c in Call.objects.filter(switch_call_id__startswith="E2E-")}
    assert len(calls) == CALLS == Call.objects.count()  # one row a call, whatever raced
    for cid, want in expected.items():
        call = calls[cid]
        got = {
            "outcome": call.outcome,
            "wait": call.wait_seconds,
            "handle": call.handle_seconds,
            "agent": call.agent_id,
            "user": call.user_id,
            "masked": call.caller_masked,
        }
        assert got == want, cid
        assert call.source == Call.Source.SWITCH and call.switch_events in (5, 7)
    assert Call.objects.get(switch_call_id="E2E-0").caller_number == CUSTOMER  # kept, encrypted

    log = site.log.read_text(errors="replace")
    assert "POST /api/v1/cti/events" in log
    assert CUSTOMER not in log and "13700220001" not in log

    # Revoked from the command line: both processes refuse the token from the next event on.
    revoke = subprocess.run(
        [sys.executable, "manage.py", "cti_token", "revoke", token[:8]],
        cwd=settings.BASE_DIR,
        env=site.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert revoke.returncode == 0, revoke.stderr
    late = [
        _post(events_url, {"event": "newCall", "call_id": f"E2E-late-{n}", "from": CUSTOMER}, token)[0]
        for n in range(8)
    ]
    assert late == [401] * 8
    assert not Call.objects.filter(switch_call_id__startswith="E2E-late-").exists()
    # Not a stale session of the processes: a new token works at once.
    fresh = cti.switch_token_issue(name="端到端测试交换机二")
    status, answer = _post(events_url, {"event": "newCall", "call_id": "E2E-after", "from": CUSTOMER}, fresh)
    assert status == 200 and answer["call"]["caller_known"] is True
    assert Call.objects.filter(switch_call_id="E2E-after", user=customer).exists()
