import pytest
from rest_framework.test import APIClient

from invoices.models import Invoice
from support import services
from support.models import Ticket

pytestmark = pytest.mark.django_db

TICKETS = "/api/v1/app/tickets"


def body(**extra):
    return {"category": "trips", "subject": "通行记录查不到", "description": "上周的通行还看不到"} | extra


def test_tickets_need_an_app_token(world, partner_client):
    assert APIClient().get(TICKETS).status_code == 401
    partner = partner_client("clearing", name="另一清分中心")
    assert partner.get(TICKETS).status_code == 401


def test_open_list_and_read_a_ticket(world, staff):
    r = world.app.post(
        TICKETS,
        body(
            card_no=world.card_no,
            transit_id="SUP-T1",
            invoice_id=world.invoices[0]["id"],
            application_id=world.application["id"],
        ),
        format="json",
    )
    assert r.status_code == 201, r.content
    ticket = r.json()
    assert ticket["channel"] == "app_chat" and ticket["status"] == "new" and ticket["ref"].startswith("T")
    assert ticket["attachments"] == {
        "card_no": world.card_no,
        "transit_id": "SUP-T1",
        "invoice_id": world.invoices[0]["id"],
        "application_id": world.application["id"],
    }
    assert [m["kind"] for m in ticket["messages"]] == ["customer"]
    agent = staff("agent")
    obj = Ticket.objects.get(pk=ticket["id"])
    services.ticket_note(ticket=obj, by=agent, body="内部备注")
    services.ticket_reply(ticket=obj, by=agent, body="请耐心等待第10个自然日。", notify=False)
    [listed] = world.app.get(TICKETS).json()
    assert listed["unread"] is True and listed["status"] == "waiting_customer"
    detail = world.app.get(f"{TICKETS}/{ticket['id']}").json()
    assert [m["body"] for m in detail["messages"]] == ["上周的通行还看不到", "请耐心等待第10个自然日。"]
    assert world.app.get(TICKETS).json()[0]["unread"] is False


@pytest.mark.parametrize(
    "extra, field",
    [
        ({"card_no": "41010000000000000103"}, "card_no"),
        ({"transit_id": "SUP-T9"}, "transit_id"),
        ({"invoice_id": 0}, "invoice_id"),
        ({"category": "weather"}, "category"),
        ({"subject": ""}, "subject"),
    ],
)
def test_open_refuses_bad_input_and_other_peoples_things(world, extra, field):
    if field == "invoice_id":
        extra = {"invoice_id": Invoice.objects.filter(user=world.other).first().pk}
    r = world.app.post(TICKETS, body(**extra), format="json")
    assert r.status_code == 400 and field in r.json()["errors"], r.content
    assert not Ticket.objects.exists()


def test_malformed_bodies_are_400(world):
    assert world.app.post(TICKETS, "{not json", content_type="application/json").status_code == 400
    assert world.app.post(TICKETS, ["a"], format="json").status_code == 400
    assert world.app.post(TICKETS, body(invoice_id="x" * 50), format="json").status_code == 400


def test_someone_elses_ticket_is_404(world):
    theirs = world.other_app.post(TICKETS, body(), format="json").json()["id"]
    assert world.app.get(f"{TICKETS}/{theirs}").status_code == 404
    assert world.app.post(f"{TICKETS}/{theirs}/messages", {"body": "x"}, format="json").status_code == 404
    assert world.app.post(f"{TICKETS}/{theirs}/rate", {"rating": 5}, format="json").status_code == 404
    assert world.app.post(f"{TICKETS}/{theirs}/reopen", {"reason": "x"}, format="json").status_code == 404
    assert world.app.get(f"{TICKETS}/99999999999999999999").status_code == 404
    assert world.app.get(TICKETS).json() == []


def test_message_rate_and_reopen(world, staff):
    ticket = world.app.post(TICKETS, body(), format="json").json()
    url = f"{TICKETS}/{ticket['id']}"
    r = world.app.post(f"{url}/messages", {"body": "出口是安阳站"}, format="json")
    assert r.status_code == 201 and r.json()["kind"] == "customer"
    r = world.app.post(f"{url}/rate", {"rating": 5}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "not_resolved"
    services.ticket_resolve(ticket=Ticket.objects.get(pk=ticket["id"]), by=staff("agent"))
    r = world.app.post(f"{url}/messages", {"body": "还有一个问题"}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "ticket_resolved"
    r = world.app.post(f"{url}/rate", {"rating": 9}, format="json")
    assert r.status_code == 400 and "rating" in r.json()["errors"]
    r = world.app.post(f"{url}/rate", {"rating": 5, "comment": "很好"}, format="json")
    assert r.status_code == 200 and r.json()["rating"] == 5 and r.json()["can_rate"] is False
    assert world.app.post(f"{url}/rate", {"rating": 4}, format="json").json()["code"] == "already_rated"
    r = world.app.post(f"{url}/reopen", {"reason": "又查不到了"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "open"


def test_ticket_list_query_count_does_not_grow(world, django_assert_max_num_queries):
    for i in range(3):
        world.app.post(TICKETS, body(subject=f"问题{i}", card_no=world.card_no, transit_id="SUP-T1"), format="json")
    with django_assert_max_num_queries(6):
        assert len(world.app.get(TICKETS).json()) == 3
    for i in range(6):
        world.app.post(TICKETS, body(subject=f"更多{i}", card_no=world.card_no, transit_id="SUP-T2"), format="json")
    with django_assert_max_num_queries(6):
        assert len(world.app.get(TICKETS).json()) == 9


def test_faq_endpoint_searches_in_chinese(world):
    r = world.app.get("/api/v1/app/faq", {"q": "绑卡 失败 手机号 不对"})
    assert r.status_code == 200
    first = r.json()[0]
    assert "预留手机号不一致" in first["question"] and first["link"] == {"url": "/cards/", "label": "去绑定ETC卡"}
    assert first["category"] == "binding"
    everything = world.app.get("/api/v1/app/faq").json()
    assert 15 <= len(everything) <= 30 and all("{days}" not in f["answer"] for f in everything)
    assert world.app.get("/api/v1/app/faq", {"q": "x" * 500}).status_code == 400


def test_schema_documents_the_support_endpoints(client):
    r = client.get("/api/schema/", {"format": "json"})
    assert r.status_code == 200
    paths = r.json()["paths"]
    operations = {op["operationId"] for p in paths.values() for op in p.values() if isinstance(op, dict)}
    assert {
        "app_support_tickets_list",
        "app_support_tickets_create",
        "app_support_ticket_detail",
        "app_support_ticket_messages_create",
        "app_support_ticket_rate",
        "app_support_ticket_reopen",
        "app_support_faq_search",
    } <= operations
