from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from support import services
from support.models import Call, Ticket

from .conftest import (
    CARD_A,
    CARD_B,
    OTHER_MOBILE,
    PLATE_A,
    RESERVED_A,
    RESERVED_B,
    SHANGHAI,
    USER_MOBILE,
    resident_id,
    trip,
)

pytestmark = pytest.mark.django_db

CUSTOMER = "/admin/support/customer/"
DASHBOARD = "/admin/support/dashboard/"


@pytest.fixture
def console(client, staff):
    def login(role):
        user = staff(role)
        client.force_login(user)
        client.staff = user
        return client

    return login


def find(client, q):
    return client.post(CUSTOMER, {"q": q})


def customer_url(user):
    return reverse("admin:support_customer_view", args=[user.pk])


@pytest.mark.parametrize(
    "query",
    [USER_MOBILE, "+86 135-1234-0001", CARD_A, CARD_B, PLATE_A, "豫a12345", "王小明", "小明"],
)
def test_the_customer_view_finds_an_account(world, console, query):
    r = find(console("agent"), query)
    assert r.status_code == 302 and r["Location"] == customer_url(world.user), query


def test_the_customer_view_finds_an_account_by_invoice(world, console):
    client = console("agent")
    invoice = world.invoices[0]
    assert find(client, invoice["number"])["Location"] == customer_url(world.user)
    assert find(client, f"{invoice['code']} {invoice['number']}")["Location"] == customer_url(world.user)
    assert find(client, f"{invoice['code']}{invoice['number']}")["Location"] == customer_url(world.user)
    theirs = world.other_application["invoices"][0]
    assert find(client, theirs["number"])["Location"] == customer_url(world.other)


def test_the_customer_view_finds_an_account_by_ticket_and_by_a_calls_number(world, console):
    client = console("agent")
    ticket = services.ticket_open(user=world.other, channel="web", category="other", subject="问", description="答")
    assert find(client, ticket.ref)["Location"] == customer_url(world.other)
    now = timezone.now()
    services.call_log(
        agent=client.staff,
        caller_number="13312345678",
        started_at=now - timedelta(minutes=2),
        ended_at=now,
        category="binding",
        summary="家人代为来电",
        user=world.user,
    )
    assert find(client, "13312345678")["Location"] == customer_url(world.user)


def test_several_matches_are_listed_masked_and_no_match_says_so(world, console):
    client = console("agent")
    r = find(client, "1")  # a name search matching nothing
    assert r.status_code == 200 and "没有找到" in r.content.decode()
    world.other.name = "王小明"
    world.other.save(update_fields=["name"])
    r = find(client, "王小明")
    body = r.content.decode()
    assert r.status_code == 200 and "找到 2 个账户" in body
    assert "135****0001" in body and "135****0002" in body
    assert USER_MOBILE not in body and OTHER_MOBILE not in body
    r = find(client, USER_MOBILE + "9")  # not a mobile: no account, and the input is not echoed in full
    assert USER_MOBILE not in r.content.decode()


def test_one_screen_shows_everything_about_the_customer_and_no_full_mobile_or_id(world, console, staff):
    client = console("agent")
    services.ticket_open(user=world.user, channel="web", category="binding", subject="绑卡失败求助", description="x")
    now = timezone.now()
    services.call_log(
        agent=client.staff,
        caller_number=USER_MOBILE,
        started_at=now - timedelta(minutes=3),
        ended_at=now,
        category="tax",
        summary="咨询抵扣政策",
    )
    r = client.get(customer_url(world.user))
    assert r.status_code == 200
    body = r.content.decode()
    for expected in [
        "王小明",
        "135****0001",  # account
        CARD_A,
        "豫A12345",
        "河南中原通",
        "136****0001",
        "4101**********",  # cards, binding, issuer
        CARD_B,
        "预留手机号不符",
        "000-4101（演示）",  # failed attempt, its cause and whom to call
        "SUP-T1",
        "测试甲高速公司",
        "测试丙还贷中心",  # trips with their operators
        f"#{world.application['id']}",
        "已开票",  # applications
        world.invoices[0]["number"],  # invoices
        "绑卡失败求助",
        "咨询抵扣政策",
        "135****0001",  # tickets and calls
    ]:
        assert expected in body, expected
    for secret in (USER_MOBILE, OTHER_MOBILE, RESERVED_A, RESERVED_B, resident_id(1), resident_id(2)):
        assert secret not in body, secret
    assert "41010000000000000103" not in body and "李四" not in body  # nobody else's data


def test_the_customer_view_runs_a_fixed_number_of_queries(
    world, console, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    client = console("agent")
    client.get(customer_url(world.user))  # warm the login and permission caches
    # 25: the invoices list first reads which months hold the newest invoices (InvoiceMonth),
    # the latest trips are read band by band of months (at most three queries), 自动开票 takes two
    with django_assert_max_num_queries(25) as small:
        client.get(customer_url(world.user))
    budget = len(small.captured_queries)  # read now: the next request resets the query log
    # Much more of everything: trips, tickets with replies, calls.
    when = datetime(2026, 10, 3, 9, 0, tzinfo=SHANGHAI)
    trips = [
        trip(f"SUP-M{i}", CARD_A, when + timedelta(hours=i), [("SUP-A3", 100 + i), ("SUP-C0", 50)]) for i in range(25)
    ]
    assert world.clearing.post("/api/v1/partner/transits", {"transits": trips}, format="json").json()["created"] == 25
    agent = client.staff
    now = timezone.now()
    for i in range(25):
        ticket = services.ticket_open(
            user=world.user, channel="hotline", category="trips", subject=f"问题{i}", description="d", by=agent
        )
        services.ticket_assign(ticket=ticket, assignee=agent, by=agent)
        services.call_log(
            agent=agent,
            caller_number=USER_MOBILE,
            started_at=now - timedelta(minutes=i + 1),
            ended_at=now,
            category="trips",
            summary=f"来电{i}",
            ticket=ticket,
        )
    with django_assert_max_num_queries(budget):
        r = client.get(customer_url(world.user))
    assert "SUP-M24" in r.content.decode() and "问题24" in r.content.decode()


def test_who_may_open_the_customer_view(world, console, client, make_user):
    assert client.get(CUSTOMER).status_code == 302  # anonymous: to the console's login
    client.force_login(make_user(name="普通用户"))
    assert client.get(customer_url(world.user)).status_code == 302
    for role in ("agent", "supervisor", "data_fix"):
        assert console(role).get(customer_url(world.user)).status_code == 200
    assert console("agent").get("/admin/support/customer/99999999/").status_code == 404


def test_dashboard_is_for_supervisors(world, console, staff):
    agent_client = console("agent")
    assert agent_client.get(DASHBOARD).status_code == 403
    assert "数据看板" not in agent_client.get("/admin/").content.decode()
    supervisor_client = console("supervisor")
    services.ticket_open(user=world.user, channel="web", category="binding", subject="s", description="d")
    late = services.ticket_open(user=world.user, channel="web", category="tax", subject="s2", description="d")
    Ticket.objects.filter(pk=late.pk).update(due_at=timezone.now() - timedelta(hours=1))
    now = timezone.now()
    services.call_log(
        agent=staff("agent", name="坐席小刘"),
        caller_number="01012345678",
        started_at=now - timedelta(minutes=1),
        ended_at=now,
        category="other",
        summary="咨询",
    )
    r = supervisor_client.get(DASHBOARD)
    assert r.status_code == 200
    data = r.context["data"]
    assert data["tickets_total"] == 2 and data["sla"]["overdue_open"] == 1
    assert [b.value for b in data["calls_by_agent"]] == [1] and data["calls_by_agent"][0].label == "坐席小刘"
    assert data["invoices_total"] >= 0 and len(data["tickets_by_day"]) == 14
    body = r.content.decode()
    assert "vbar-fill" in body and "hbar-fill" in body and "坐席小刘" in body
    assert "数据看板" in supervisor_client.get("/admin/").content.decode()


# --- tickets in the console -----------------------------------------------------------------


def ticket_for(world, **extra):
    fields = {"channel": "web", "category": "binding", "subject": "绑卡失败", "description": "提示不一致"}
    return services.ticket_open(user=world.user, **(fields | extra))


def test_queues_filter_and_search(world, console):
    client = console("agent")
    mine = ticket_for(world, subject="我的工单")
    services.ticket_assign(ticket=mine, assignee=client.staff, by=client.staff)
    late = ticket_for(world, subject="超时工单")
    Ticket.objects.filter(pk=late.pk).update(due_at=timezone.now() - timedelta(hours=2))
    base = reverse("admin:support_ticket_changelist")
    body = client.get(base, {"assignee": "me"}).content.decode()
    assert "我的工单" in body and "超时工单" not in body
    body = client.get(base, {"overdue": "yes"}).content.decode()
    assert "超时工单" in body and "我的工单" not in body and "sla-breach" in body
    body = client.get(base, {"group": "binding", "state": "active"}).content.decode()
    assert "超时工单" in body and "我的工单" in body
    assert "我的工单" in client.get(base, {"q": USER_MOBILE}).content.decode()
    assert "我的工单" in client.get(base, {"q": mine.ref}).content.decode()
    assert USER_MOBILE not in client.get(base).content.decode()


def test_ticket_list_query_count_does_not_grow(world, console, django_assert_max_num_queries):
    client = console("agent")
    base = reverse("admin:support_ticket_changelist")
    ticket_for(world)
    client.get(base)
    with django_assert_max_num_queries(20) as few:
        client.get(base)
    budget = len(few.captured_queries)
    for i in range(20):
        t = ticket_for(world, subject=f"t{i}", by=client.staff, channel="hotline")
        services.ticket_assign(ticket=t, assignee=client.staff, by=client.staff)
    with django_assert_max_num_queries(budget):
        client.get(base)


def change_form_data(response) -> dict:
    """The POST a browser would send back from an admin change page, inline forms included."""
    data = {}
    form = response.context["adminform"].form
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        data[name] = "" if value is None else getattr(value, "pk", value)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for key, value in formset.management_form.initial.items():
            data[f"{formset.prefix}-{key}"] = value
        for f in formset.forms:
            for name in f.fields:
                value = f.initial.get(name, f[name].value())
                data[f.add_prefix(name)] = "" if value is None else getattr(value, "pk", value)
    return data


def test_thread_in_the_console_marks_internal_notes_and_replies_go_through_the_services(
    world, console, sms, django_capture_on_commit_callbacks
):
    client = console("agent")
    ticket = ticket_for(world)
    services.ticket_note(ticket=ticket, by=client.staff, body="内部：已核实身份")
    url = reverse("admin:support_ticket_change", args=[ticket.pk])
    r = client.get(url)
    body = r.content.decode()
    assert "msg-internal_note" in body and "用户不可见" in body and "内部：已核实身份" in body
    assert USER_MOBILE not in body
    data = change_form_data(r) | {"priority": "high", "reply_kind": "public_reply", "reply_body": "请联系发行方。"}
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(url, data)
    assert r.status_code == 302, r.context and r.context["adminform"].form.errors
    ticket.refresh_from_db()
    assert ticket.priority == "high" and ticket.status == "waiting_customer"
    assert [(m.body, m.author) for m in ticket.messages.filter(kind="public_reply")] == [
        ("请联系发行方。", client.staff)
    ]
    assert ticket.history.first().history_user == client.staff  # audited, with who
    assert any(m["purpose"] == "ticket_reply" and m["mobile"] == USER_MOBILE for m in sms.messages())


def test_console_actions_respect_roles(world, console):
    ticket = ticket_for(world)
    agent = console("agent")
    do = lambda action: reverse("admin:support_ticket_do", args=[ticket.pk, action])  # noqa: E731
    assert agent.post(do("assign_me")).status_code == 302
    ticket.refresh_from_db()
    assert ticket.assignee == agent.staff and ticket.status == "open"
    r = agent.post(do("resolve"), {"reply": ""})
    assert r.status_code == 302
    page = agent.get(reverse("admin:support_ticket_change", args=[ticket.pk])).content.decode()
    assert do("close") in page and do("reopen") not in page
    r = agent.post(do("reopen"), {"reason": "用户复诉"})
    assert r.status_code == 200 and "没有执行此操作的权限" in r.content.decode()
    ticket.refresh_from_db()
    assert ticket.status == "resolved"
    supervisor = console("supervisor")
    assert do("reopen") in supervisor.get(reverse("admin:support_ticket_change", args=[ticket.pk])).content.decode()
    assert supervisor.post(do("reopen"), {"reason": "用户复诉"}).status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == "open" and ticket.reopened_count == 1
    assert supervisor.get(reverse("admin:support_ticket_do", args=[ticket.pk, "nope"])).status_code == 404


def test_bulk_assign_and_hand_off(world, console):
    client = console("agent")
    a, b = ticket_for(world, subject="一"), ticket_for(world, subject="二")
    base = reverse("admin:support_ticket_changelist")
    r = client.post(base, {"action": "assign_to_me", "_selected_action": [a.pk, b.pk]})
    assert r.status_code == 302
    assert set(Ticket.objects.values_list("assignee", flat=True)) == {client.staff.pk}
    r = client.post(base, {"action": "hand_off_selected", "_selected_action": [a.pk]})
    assert r.status_code == 200 and "对方受理编号" in r.content.decode()
    from cards.models import Issuer

    issuer = Issuer.objects.get(code="henan")
    r = client.post(
        base,
        {
            "action": "hand_off_selected",
            "_selected_action": [a.pk],
            "apply": "1",
            "issuer": issuer.pk,
            "reference": "ZYT-001",
        },
    )
    assert r.status_code == 302
    a.refresh_from_db()
    assert a.status == "handed_off" and a.handoff_reference == "ZYT-001" and a.handoff_to == issuer.name


def test_calls_are_logged_in_the_console_and_become_tickets(world, console):
    client = console("agent")
    now = timezone.localtime().replace(second=0, microsecond=0)
    start = now - timedelta(minutes=7)
    r = client.post(
        reverse("admin:support_call_add"),
        {
            "caller_input": USER_MOBILE,
            "started_at_0": start.strftime("%Y-%m-%d"),
            "started_at_1": start.strftime("%H:%M:%S"),
            "ended_at_0": now.strftime("%Y-%m-%d"),
            "ended_at_1": now.strftime("%H:%M:%S"),
            "category": "trips",
            "summary": "九月五日的通行找不到\n已说明第10个自然日",
            "user": "",
            "ticket": "",
        },
    )
    call = Call.objects.get()
    assert r.status_code == 302, r.content
    assert call.user == world.user and call.agent == client.staff and call.caller_masked == "135****0001"
    listing = client.get(reverse("admin:support_call_changelist")).content.decode()
    assert "135****0001" in listing and USER_MOBILE not in listing
    # A full number searched never stays in a URL: the box posts and comes back as its digest;
    # one typed into the address bar is redirected the same way.
    calls = reverse("admin:support_call_changelist")
    for r in (client.post(calls, {"q": USER_MOBILE}), client.get(calls, {"q": USER_MOBILE})):
        assert r.status_code == 302 and USER_MOBILE not in r["Location"] and "caller_digest=" in r["Location"]
        found = client.get(r["Location"])
        assert found.context["cl"].result_count == 1 and USER_MOBILE not in found.content.decode()
    r = client.post(calls, {"q": OTHER_MOBILE})
    assert OTHER_MOBILE not in r["Location"] and client.get(r["Location"]).context["cl"].result_count == 0
    assert client.get(calls, {"q": "0001"}).context["cl"].result_count == 1  # a tail matches the masked number
    r = client.post(
        reverse("admin:support_call_changelist"), {"action": "create_ticket", "_selected_action": [call.pk]}
    )
    call.refresh_from_db()
    assert call.ticket is not None and r["Location"] == reverse("admin:support_ticket_change", args=[call.ticket_id])
    assert call.ticket.subject == "来电咨询：通行记录" and call.ticket.channel == "hotline"
    r = client.post(reverse("admin:support_call_to_ticket", args=[call.pk]))
    assert r.status_code == 302 and Ticket.objects.count() == 1  # refused the second time, said so


def test_a_data_fix_operator_reads_tickets_but_does_not_handle_them(world, console):
    ticket = ticket_for(world)
    client = console("data_fix")
    assert client.get(reverse("admin:support_ticket_change", args=[ticket.pk])).status_code == 200
    assert client.post(reverse("admin:support_ticket_do", args=[ticket.pk, "assign_me"])).status_code == 403
    assert client.get(reverse("admin:support_call_add")).status_code == 403


def test_call_list_query_count_does_not_grow(world, console, django_assert_max_num_queries):
    client = console("agent")
    base = reverse("admin:support_call_changelist")
    now = timezone.now()

    def log(n):
        for i in range(n):
            services.call_log(
                agent=client.staff,
                caller_number=USER_MOBILE,
                started_at=now - timedelta(minutes=i + 1),
                ended_at=now,
                category="other",
                summary=f"来电{i}",
            )

    log(1)
    client.get(base)
    with django_assert_max_num_queries(20) as few:
        client.get(base)
    budget = len(few.captured_queries)
    log(15)
    with django_assert_max_num_queries(budget):
        assert client.get(base).context["cl"].result_count == 16


def test_customer_search_rejects_overlong_input_without_breaking(world, console):
    r = find(console("agent"), "9" * 100)
    assert r.status_code == 200 and "errorlist" in r.content.decode()


@pytest.mark.parametrize("key", ["mobile", "card", "plate", "invoice", "invoice_code", "ticket", "name"])
def test_finding_a_customer_by_each_key_stays_within_a_query_budget(world, console, key, django_assert_max_num_queries):
    """Whatever the key and however much data there is, a search is the request's own few
    queries (session, user, device, permissions) plus at most three."""
    from accounts.models import User

    client = console("agent")
    ticket = services.ticket_open(user=world.user, channel="web", category="other", subject="问", description="答")
    invoice = world.invoices[0]
    query = {
        "mobile": USER_MOBILE,
        "card": CARD_A,
        "plate": PLATE_A,
        "invoice": invoice["number"],
        "invoice_code": f"{invoice['code']} {invoice['number']}",
        "ticket": ticket.ref,
        "name": "王小",
    }[key]
    find(client, "热身")  # the login and permission caches

    def search():
        with django_assert_max_num_queries(8):
            return find(client, query)

    assert search()["Location"] == customer_url(world.user)
    # Many more accounts, tickets and calls: the same budget.
    for i in range(25):
        User.objects.create_user(f"1350000{i:04d}", "x", name=f"王小{i}")
        services.ticket_open(
            user=world.user, channel="hotline", category="other", subject=f"问{i}", description="答", by=client.staff
        )
    r = search()
    if key == "name":
        assert r.status_code == 200 and "找到 20 个账户" in r.content.decode()  # listed, at most 20
    else:
        assert r["Location"] == customer_url(world.user)


def test_the_dashboard_draws_binding_failures_by_issuer_and_cause(world, console):
    data = console("supervisor").get(DASHBOARD)
    chart = data.context["data"]["binding_failures"]
    [bar] = chart["bars"]  # the user's refused attempt on card B (reserved mobile mismatch)
    assert bar.label == "河南中原通" and bar.value == 1 and bar.percent == 100
    assert [(p.code, p.label, p.value) for p in bar.parts] == [("mobile_mismatch", "预留手机号不符", 1)]
    assert chart["legend"] == [{"code": "mobile_mismatch", "label": "预留手机号不符"}] and chart["total"] == 1
    body = data.content.decode()
    assert "绑卡失败：各发行方的主要原因" in body and "sbar-part cause-mobile_mismatch" in body
    assert "预留手机号不符 1" in body  # the figures are written out, not only drawn


def test_pages_with_nothing_to_change_have_no_save_button(world, console):
    """data_fix may correct trips and invoices through actions, not by editing the page: the
    pages show no 保存, and a trip says how it gets corrected."""
    from invoices.models import Invoice, Transit

    client = console("data_fix")
    transit = Transit.objects.filter(card__card_no=CARD_A).first()
    body = client.get(reverse("admin:invoices_transit_change", args=[transit.pk])).content.decode()
    assert 'name="_save"' not in body and "清分中心重新推送" in body
    invoice = Invoice.objects.first()
    body = client.get(reverse("admin:invoices_invoice_change", args=[invoice.pk])).content.decode()
    assert 'name="_save"' not in body
    agent = console("agent")
    ticket = ticket_for(world)
    assert 'name="_save"' in agent.get(reverse("admin:support_ticket_change", args=[ticket.pk])).content.decode()


def test_the_customer_view_shows_the_binding_cap(world, console, settings):
    """Today's failures against the cap, which attempts counted, the reset time; a card at its
    cap is named."""
    settings.BINDING_MAX_FAILURES_PER_ACCOUNT = 1
    settings.BINDING_MAX_FAILURES_PER_CARD = 1
    body = console("agent").get(customer_url(world.user)).content.decode()
    assert 'id="binding-cap"' in body and "今日计入账户上限的失败：1 / 1 次" in body
    assert "账户今日已达上限" in body and f"卡 {CARD_B} 今日失败 1 次，已达该卡上限" in body
    assert "00:00（北京时间）重置" in body and "预留手机号不符" in body
