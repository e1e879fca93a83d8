"""The hotline's telephone switch (CTI): its token, its events, the agent's call notice, the
wrap-up, the callback list and the dashboard's hotline figures."""

from __future__ import annotations

import importlib
import logging
from datetime import timedelta

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from support import cti, services
from support.models import AgentExtension, Call, Reveal, SwitchToken, Ticket

pytestmark = pytest.mark.django_db

EVENTS = "/api/v1/cti/events"
LIVE = "/admin/support/call/live/"
CALLBACKS = "/admin/support/callback/"
CUSTOMER_MOBILE = "13512349876"
STRANGER = "13699990000"


@pytest.fixture
def switch():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {cti.switch_token_issue(name='测试交换机')}")
    return client


@pytest.fixture
def post(switch, django_capture_on_commit_callbacks):
    def send(expect: int = 200, client=None, **body):
        with django_capture_on_commit_callbacks(execute=True):
            r = (client or switch).post(EVENTS, body, format="json")
        assert r.status_code == expect, r.content
        return r.json()

    return send


@pytest.fixture
def people(make_user, staff):
    class People:
        customer = make_user(CUSTOMER_MOBILE, name="赵来电")
        agent = staff("agent", "坐席赵")
        other_agent = staff("agent", "坐席钱")
        supervisor = staff("supervisor", "班长孙")
        data_fix = staff("data_fix", "修正李")

    AgentExtension.objects.create(staff=People.agent, extension="8001")
    AgentExtension.objects.create(staff=People.other_agent, extension="8002")
    return People


def ring(post, call_id: str, number: str = CUSTOMER_MOBILE, queue: str = "binding", at=None, **extra):
    body = {"event": "newCall", "call_id": call_id, "from": number, "to": "95022", "direction": "in", "queue": queue}
    if at is not None:
        body["at"] = at.isoformat()
    return post(**body, **extra)


# --- the token -----------------------------------------------------------------------------


def test_only_a_switch_token_opens_the_endpoint_and_it_opens_nothing_else(
    switch, partner_client, app_client, make_user
):
    body = {"event": "newCall", "call_id": "scope-1", "from": STRANGER}
    assert APIClient().post(EVENTS, body, format="json").status_code == 401
    assert partner_client("clearing").post(EVENTS, body, format="json").status_code == 401
    assert app_client(make_user()).post(EVENTS, body, format="json").status_code == 401
    assert switch.post(EVENTS, body, format="json").status_code == 200
    # The switch's token is unknown to the partner and App APIs.
    assert switch.post("/api/v1/partner/cards", {"cards": []}, format="json").status_code == 401
    assert switch.get("/api/v1/app/tickets").status_code == 401
    token = SwitchToken.objects.get()
    assert cti.switch_token_revoke(token=token) is True
    r = switch.post(EVENTS, {**body, "call_id": "scope-2"}, format="json")
    assert r.status_code == 401 and r.json()["code"] == "unauthenticated"
    assert not Call.objects.filter(switch_call_id="scope-2").exists()


def test_an_event_costs_its_call_one_locked_read_and_one_write(post, people):
    def statements(**body) -> list[str]:
        with CaptureQueriesContext(connection) as ran:
            post(**body)
        return [q["sql"] for q in ran.captured_queries if "SAVEPOINT" not in q["sql"]]

    ring(post, "q-0")
    ring(post, "q-1")  # the token is remembered from here on (and its last use written once)
    # An answer: the call read and locked, the agent found by extension, the call written.
    sql = statements(event="answer", call_id="q-1", extension="8001")
    assert len(sql) == 3 and "agentextension" in sql[1] and sql[2].startswith("UPDATE")
    assert ("FOR UPDATE" in sql[0]) == connection.features.has_select_for_update  # SQLite locks the file
    # A repeat: the locked read alone.
    assert len(statements(event="answer", call_id="q-1", extension="8001")) == 1
    # A ring of a new call: the read finds nothing, the caller is looked up, the row inserted.
    sql = statements(event="newCall", call_id="q-2", **{"from": CUSTOMER_MOBILE})
    assert len(sql) == 3 and "accounts_user" in sql[1] and "ON CONFLICT" in sql[2]


# --- the events ----------------------------------------------------------------------------


def test_a_call_logs_itself_from_its_three_events(post, people):
    start = timezone.now() - timedelta(minutes=5)
    answer = ring(post, "c-1", at=start)
    assert answer["result"] == "applied" and answer["call"]["outcome"] == "ringing"
    assert answer["call"]["caller_known"] is True and answer["warnings"] == []
    assert CUSTOMER_MOBILE not in str(answer)
    answered = post(event="answer", call_id="c-1", extension="8001", at=(start + timedelta(seconds=20)).isoformat())
    assert answered["call"]["outcome"] == "talking" and answered["call"]["agent_id"] == people.agent.pk
    ended = post(event="hangup", call_id="c-1", cause="normalClearing", at=(start + timedelta(seconds=200)).isoformat())
    assert ended["call"] | {"id": 0} == {
        "id": 0,
        "outcome": "answered",
        "caller_known": True,
        "agent_id": people.agent.pk,
        "wait_seconds": 20,
        "handle_seconds": 180,
    }
    call = Call.objects.get(switch_call_id="c-1")
    assert (call.user, call.agent, call.source, call.queue, call.line) == (
        people.customer,
        people.agent,
        "switch",
        "binding",
        "95022",
    )
    assert call.caller_number == CUSTOMER_MOBILE and call.caller_masked == "135****9876"
    assert call.started_at == start and call.ended_at == start + timedelta(seconds=200)
    assert call.wrapped_at is None  # the agent's wrap-up is still to come


def test_events_apply_once_whatever_their_order(post, people):
    start = timezone.now() - timedelta(minutes=10)
    # The hang-up first, then the answer, then the ring; then each again.
    post(event="hangup", call_id="c-2", cause="normalClearing", at=(start + timedelta(seconds=95)).isoformat())
    post(event="answer", call_id="c-2", agent_id=people.other_agent.pk, at=(start + timedelta(seconds=35)).isoformat())
    last = ring(post, "c-2", at=start)
    assert last["call"]["outcome"] == "answered"
    assert (last["call"]["wait_seconds"], last["call"]["handle_seconds"]) == (35, 60)
    history = Call.history.filter(switch_call_id="c-2").count()
    for body in (
        {"event": "newCall", "call_id": "c-2", "from": STRANGER},
        {"event": "answer", "call_id": "c-2", "extension": "8001"},
        {"event": "hangup", "call_id": "c-2", "cause": "cancel"},
    ):
        again = post(**body)
        assert again["result"] == "duplicate"
    call = Call.objects.get(switch_call_id="c-2")
    assert call.caller_number == CUSTOMER_MOBILE and call.agent == people.other_agent
    assert call.hangup_cause == "normalClearing" and call.started_at == start
    assert Call.history.filter(switch_call_id="c-2").count() == history
    assert Call.objects.filter(switch_call_id="c-2").count() == 1


def test_unknown_and_hidden_callers_and_unknown_agents_never_fail(post, people):
    unknown = ring(post, "c-3", number=STRANGER, queue="")
    assert unknown["call"]["caller_known"] is False and unknown["warnings"] == ["caller_unknown"]
    hidden = ring(post, "c-4", number="anonymous")
    assert hidden["warnings"] == ["caller_hidden"]
    nobody = post(event="answer", call_id="c-4", extension="9999")
    assert nobody["call"]["outcome"] == "talking" and nobody["warnings"] == ["agent_unknown"]
    call = Call.objects.get(switch_call_id="c-4")
    assert (call.caller_number or "", call.caller_masked, call.user, call.agent, call.extension) == (
        "",
        "",
        None,
        None,
        "9999",
    )
    assert post(event="answer", call_id="c-5", agent_id=people.customer.pk)["warnings"] == ["agent_unknown"]


def test_unanswered_calls_are_abandoned_or_missed_by_their_cause(post, people):
    start = timezone.now() - timedelta(minutes=3)
    ring(post, "c-6", at=start)
    gone = post(event="hangup", call_id="c-6", cause="cancel", at=(start + timedelta(seconds=48)).isoformat())
    assert gone["call"]["outcome"] == "abandoned" and gone["call"]["wait_seconds"] == 48
    ring(post, "c-7", number=STRANGER, at=start)
    assert post(event="hangup", call_id="c-7", cause="noAnswer")["call"]["outcome"] == "missed"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"call_id": "x"}, "event"),
        ({"event": "ring", "call_id": "x"}, "event"),
        ({"event": "newCall"}, "call_id"),
        ({"event": "newCall", "call_id": "has space"}, "call_id"),
        ({"event": "newCall", "call_id": "x" * 65}, "call_id"),
        ({"event": "newCall", "call_id": "x", "at": "yesterday"}, "at"),
        ({"event": "newCall", "call_id": "x", "direction": "sideways"}, "direction"),
        ({"event": "answer", "call_id": "x", "agent_id": "me"}, "agent_id"),
        ({"event": "hangup", "call_id": "x", "cause": "<b>"}, "cause"),
        ({"event": "newCall", "call_id": "x", "from": "1" * 40}, "from"),
    ],
)
def test_bad_events_are_refused_clearly_and_store_nothing(switch, people, body, field):
    r = switch.post(EVENTS, body, format="json")
    assert r.status_code == 400, r.content
    assert r.json()["code"] == "invalid" and field in r.json()["errors"]
    assert not Call.objects.exists()


def test_a_body_that_is_not_json_is_refused(switch):
    r = switch.post(EVENTS, data=b"event=newCall&callId=1", content_type="application/x-www-form-urlencoded")
    assert r.status_code == 415 and r.json()["code"] == "unsupported_media_type"
    r = switch.post(EVENTS, data=b"{not json", content_type="application/json")
    assert r.status_code == 400 and r.json()["code"] == "malformed"


def test_full_numbers_stay_out_of_the_logs(post, people, caplog):
    with caplog.at_level(logging.INFO):
        ring(post, "c-8")
        ring(post, "c-9", number=STRANGER)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "cti newCall" in text and "135****9876" in text
    assert CUSTOMER_MOBILE not in text and STRANGER not in text


# --- the agent's call notice -----------------------------------------------------------------


def live(client, **params):
    r = client.get(LIVE, params)
    assert r.status_code == 200
    return r.json()


def test_the_answering_agent_sees_the_caller_in_the_console(client, post, people):
    ticket = services.ticket_open(
        user=people.customer, channel="web", category="binding", subject="绑卡失败", description="……"
    )
    client.force_login(people.agent)
    idle = live(client)
    assert idle["calls"] == [] and idle["v"]
    assert live(client, v=idle["v"]) == {"v": idle["v"], "same": True}
    ring(post, "c-10")
    assert live(client, v=idle["v"]) == {"v": idle["v"], "same": True}  # ringing: not this agent's yet
    post(event="answer", call_id="c-10", extension="8001")
    seen = live(client, v=idle["v"])
    assert seen["v"] != idle["v"]
    (card,) = seen["calls"]
    assert card["state"] == "talking" and card["state_label"] == "通话中"
    html = card["html"]
    assert "赵来电" in html and "135****9876" in html and CUSTOMER_MOBILE not in html
    assert ticket.ref in html and reverse("admin:support_customer_view", args=[people.customer.pk]) in html
    # The page already shows this card: the next poll sends its state only.
    again = live(client, have=f"{card['id']}.{card['key']}")
    assert "html" not in again["calls"][0]
    post(event="hangup", call_id="c-10", cause="normalClearing")
    ended = live(client, v=seen["v"], have=f"{card['id']}.{card['key']}")
    assert ended["calls"][0]["state"] == "answered" and "请填写小结" in ended["calls"][0]["state_label"]
    # Nobody else's console shows it.
    client.force_login(people.other_agent)
    assert live(client)["calls"] == []


def test_an_unknown_caller_gets_unknown_caller_and_a_search(client, post, people):
    client.force_login(people.agent)
    ring(post, "c-11", number=STRANGER)
    post(event="answer", call_id="c-11", extension="8001")
    html = live(client)["calls"][0]["html"]
    assert "未知来电" in html and 'name="q"' in html and "136****0000" in html and STRANGER not in html


def test_the_notice_needs_the_right_to_change_calls(client, people):
    client.force_login(people.data_fix)
    r = client.get(LIVE)
    assert r.status_code == 403
    assert "call-notice.js" not in client.get("/admin/").content.decode()
    client.force_login(people.agent)
    assert "call-notice.js" in client.get("/admin/").content.decode()
    client.logout()
    assert client.get(LIVE).status_code == 302  # to the console's login


# --- the wrap-up -------------------------------------------------------------------------------


def answered_call(post, call_id: str, number: str = CUSTOMER_MOBILE, extension: str = "8001") -> Call:
    ring(post, call_id, number=number)
    post(event="answer", call_id=call_id, extension=extension)
    post(event="hangup", call_id=call_id, cause="normalClearing")
    return Call.objects.get(switch_call_id=call_id)


def wrap(client, call: Call, **fields):
    data = {f"call{call.pk}-{k}": v for k, v in fields.items()}
    data["next"] = "/admin/support/customer/"
    return client.post(reverse("admin:support_call_wrap_up", args=[call.pk]), data)


def test_the_agent_wraps_up_and_opens_a_ticket_from_the_notice(client, post, people):
    call = answered_call(post, "c-12")
    client.force_login(people.agent)
    r = wrap(client, call, account=people.customer.pk, category="binding", summary="绑卡提示手机号不一致", ticket="new")
    call.refresh_from_db()
    assert call.ticket is not None and r["Location"] == reverse("admin:support_ticket_change", args=[call.ticket_id])
    assert (call.category, call.summary, call.user) == ("binding", "绑卡提示手机号不一致", people.customer)
    assert call.wrapped_at is not None
    assert (call.ticket.channel, call.ticket.assignee, call.ticket.user) == ("hotline", people.agent, people.customer)
    assert live(client)["calls"] == []  # wrapped up: the notice is gone


def test_the_wrap_up_links_an_open_ticket_or_finds_the_account(client, post, people):
    ticket = services.ticket_open(
        user=people.customer, channel="web", category="trips", subject="查不到通行", description="……"
    )
    client.force_login(people.agent)
    call = answered_call(post, "c-13")
    r = wrap(client, call, account=people.customer.pk, category="trips", summary="询问进度", ticket=ticket.pk)
    assert r["Location"] == "/admin/support/customer/"
    call.refresh_from_db()
    assert call.ticket == ticket and Ticket.objects.count() == 1
    # A caller from another number: the agent finds the account from what they say.
    stranger = answered_call(post, "c-14", number=STRANGER)
    wrap(client, stranger, find=CUSTOMER_MOBILE, category="account", summary="换了号码打来", ticket="")
    stranger.refresh_from_db()
    assert stranger.user == people.customer and stranger.ticket is None and stranger.wrapped_at


@pytest.mark.parametrize(
    "fields, error",
    [
        ({"category": "", "summary": "x"}, "分类"),
        ({"category": "binding", "summary": ""}, "通话摘要"),
        ({"category": "binding", "summary": "x", "ticket": "new"}, "没有关联账户"),
        ({"category": "binding", "summary": "x", "find": "13000000000"}, "没有找到唯一的账户"),
        ({"category": "binding", "summary": "x", "ticket": "999999"}, "ticket"),
    ],
)
def test_a_wrap_up_with_a_mistake_saves_nothing_and_says_why(client, post, people, fields, error):
    call = answered_call(post, "c-15", number=STRANGER)
    client.force_login(people.agent)
    r = client.post(
        reverse("admin:support_call_wrap_up", args=[call.pk]),
        {f"call{call.pk}-{k}": v for k, v in fields.items()},
        follow=True,
    )
    assert "来电小结未保存" in r.content.decode()
    assert error in r.content.decode() or error == "ticket"
    call.refresh_from_db()
    assert call.wrapped_at is None and not call.summary and Ticket.objects.count() == 0


def test_only_the_answering_agent_or_a_supervisor_wraps_up(client, post, people):
    call = answered_call(post, "c-16")
    client.force_login(people.other_agent)
    assert wrap(client, call, category="other", summary="x").status_code == 403
    assert client.get(reverse("admin:support_call_wrap_up", args=[call.pk])).status_code == 403
    client.force_login(people.data_fix)
    assert wrap(client, call, category="other", summary="x").status_code == 403
    call.refresh_from_db()
    assert call.wrapped_at is None
    client.force_login(people.supervisor)
    wrap(client, call, category="other", summary="班长代填")
    call.refresh_from_db()
    assert call.summary == "班长代填"


# --- callbacks ---------------------------------------------------------------------------------


def missed(post, call_id: str, number: str = CUSTOMER_MOBILE, cause: str = "cancel") -> Call:
    ring(post, call_id, number=number, at=timezone.now() - timedelta(minutes=30))
    post(event="hangup", call_id=call_id, cause=cause, at=(timezone.now() - timedelta(minutes=29)).isoformat())
    return Call.objects.get(switch_call_id=call_id)


def test_missed_calls_wait_on_the_callback_list_until_reached(client, post, people):
    first = missed(post, "c-17")
    missed(post, "c-18", number="anonymous", cause="noAnswer")
    answered_call(post, "c-19")
    client.force_login(people.agent)
    page = client.get(CALLBACKS).content.decode()
    table = page[page.index('class="callback-list"') :].split("</table>")[0]
    assert table.count("<tr>") == 3  # the header and the two missed calls
    assert "135****9876" in page and "放弃" in page and "1:00" in page and CUSTOMER_MOBILE not in page
    url = reverse("admin:support_callback_call", args=[first.pk])
    assert client.get(url)["Location"] == CALLBACKS  # never a number behind a GET
    shown = client.post(url).content.decode()
    assert CUSTOMER_MOBILE in shown
    assert Reveal.objects.filter(staff=people.agent, text="caller_number", call=first).count() == 1
    r = client.post(url, {"record": "1", "reached": "0"})
    assert r["Location"] == CALLBACKS
    assert "135****9876" in client.get(CALLBACKS).content.decode()
    client.post(url, {"record": "1", "reached": "1", "category": "binding", "summary": "已回电说明"})
    assert "135****9876" not in client.get(CALLBACKS).content.decode()
    first.refresh_from_db()
    assert first.called_back_at is not None
    backs = list(first.callbacks.order_by("pk"))
    assert [(c.outcome, c.direction, c.source, c.agent) for c in backs] == [
        ("missed", "out", "callback", people.agent),
        ("answered", "out", "callback", people.agent),
    ]
    assert backs[1].summary == "已回电说明" and backs[1].user == people.customer
    r = client.post(url, {"record": "1", "reached": "1", "category": "binding", "summary": "再来"}, follow=True)
    assert "无需再回拨" in r.content.decode()


def test_a_reached_callback_needs_its_summary_and_roles_without_need_see_no_number(client, post, people):
    call = missed(post, "c-20")
    client.force_login(people.agent)
    url = reverse("admin:support_callback_call", args=[call.pk])
    r = client.post(url, {"record": "1", "reached": "1", "category": "", "summary": ""})
    assert r.status_code == 200 and "请选择分类" in r.content.decode()
    assert not call.callbacks.exists()
    answered = answered_call(post, "c-21")
    r = client.post(reverse("admin:support_callback_call", args=[answered.pk]), follow=True)
    assert "没有可回拨的号码" in r.content.decode()
    client.force_login(people.data_fix)
    assert client.get(CALLBACKS).status_code == 403
    assert client.post(url).status_code == 403
    page = client.get(reverse("admin:support_call_change", args=[call.pk])).content.decode()
    assert "135****9876" in page and CUSTOMER_MOBILE not in page


# --- the dashboard -----------------------------------------------------------------------------


def test_the_dashboard_shows_the_hotline_beside_the_tickets(client, post, people):
    now = timezone.now() - timedelta(minutes=20)
    for n, (wait, talk) in enumerate([(10, 100), (30, 200)]):
        ring(post, f"d-{n}", at=now, queue="binding")
        post(event="answer", call_id=f"d-{n}", extension="8001", at=(now + timedelta(seconds=wait)).isoformat())
        post(event="hangup", call_id=f"d-{n}", at=(now + timedelta(seconds=wait + talk)).isoformat())
    missed(post, "d-3")
    client.force_login(people.supervisor)
    page = client.get("/admin/support/dashboard/").content.decode()
    hotline = page[page.index('id="dash-hotline"') : page.index("每日新工单")]
    assert "67%" in hotline  # 2 answered of 3
    assert "0:20" in hotline and "2:30" in hotline  # average wait, average handle time
    queues = page[page.index('id="hotline-queues"') :]
    assert "绑卡专席" in queues.split("</table>")[0]
    agents = page[page.index('id="hotline-agents"') :].split("</table>")[0]
    assert "坐席赵" in agents
    client.force_login(people.agent)
    assert client.get("/admin/support/dashboard/").status_code == 403


# --- calls logged before the switch ------------------------------------------------------------


def test_the_migration_keeps_hand_logged_calls_as_answered_and_wrapped_up(people):
    call = services.call_log(
        agent=people.agent,
        caller_number=CUSTOMER_MOBILE,
        started_at=timezone.now() - timedelta(minutes=7),
        ended_at=timezone.now() - timedelta(minutes=2),
        category="binding",
        summary="手工记录",
    )
    assert (call.outcome, call.handle_seconds, call.wait_seconds) == ("answered", 300, 0)
    # As the rows stood before the migration: no answer time, no durations, no wrap-up.
    Call.objects.filter(pk=call.pk).update(answered_at=None, wait_seconds=None, handle_seconds=None, wrapped_at=None)
    migration = importlib.import_module("support.migrations.0008_cti_switch_calls")
    migration.settle_logged_calls(apps, None)
    call.refresh_from_db()
    assert call.answered_at == call.started_at and call.wrapped_at == call.created_at
    assert (call.outcome, call.handle_seconds, call.wait_seconds, call.summary) == ("answered", 300, 0, "手工记录")
