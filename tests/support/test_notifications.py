"""The message centre (消息中心): what writes a message, the pages, the App API, the console."""

from datetime import timedelta

import pytest
from django.core import signing
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from cards.models import Binding
from cards.services.unbinding import binding_end, binding_end_by_staff
from invoices import services as invoice_services
from invoices.models import Application
from support import notifications, selectors, services
from support.models import Notification

from .conftest import CARD_A, PLATE_A, RESERVED_A, USER_MOBILE, card_item, resident_id

pytestmark = pytest.mark.django_db

LIST = "/messages/"
API = "/api/v1/app/notifications"
NEW_RESERVED = "13622223333"


def notices(user, kind=None):
    found = Notification.objects.filter(user=user).order_by("-created_at", "-pk")
    return list(found.filter(kind=kind) if kind else found)


def ticket_for(user, **extra):
    fields = {"channel": "web", "category": "binding", "subject": "绑卡失败", "description": "提示不一致"}
    return services.ticket_open(user=user, **(fields | extra))


def many(user, n, *, read=False):
    now = timezone.now()
    Notification.objects.bulk_create(
        Notification(
            user=user,
            kind=Notification.Kind.TICKET_REPLY,
            title=f"消息{i}",
            body="内容",
            link="/help/tickets/",
            created_at=now - timedelta(minutes=n - i),
            read_at=now if read else None,
        )
        for i in range(n)
    )


def assert_clean(text: str) -> None:
    for secret in (USER_MOBILE, RESERVED_A, NEW_RESERVED, resident_id(1)):
        assert secret not in text, secret


# --- what writes a message ---------------------------------------------------------------------


def test_an_issued_application_is_told_with_plate_month_count_and_total(world):
    [notice] = notices(world.user, "invoices_issued")
    invoices = world.application["invoices"]
    total = sum(i["total"] for i in invoices)
    assert notice.application_id == world.application["id"] and notice.read_at is None
    assert PLATE_A in notice.title and "2026年9月" in notice.title
    assert f"共 {len(invoices)} 张" in notice.body and f"¥{total // 100}.{total % 100:02d}" in notice.body
    assert notice.link == reverse("invoices:application", args=[world.application["id"]])
    # Written with the issuing; writing it again (a backfill) adds nothing.
    notifications.notify_application_issued(world.application["id"], [])
    assert len(notices(world.user, "invoices_issued")) == 1
    assert [n.application_id for n in notices(world.other)] == [world.other_application["id"]]


def title_changed(world, capture) -> Notification:
    """The user's application changed to a new personal title and issued; its message."""
    title = world.app.post("/api/v1/app/titles", {"kind": "personal", "name": "王小明"}, format="json").json()
    with capture(execute=True):
        r = world.app.post(
            f"/api/v1/app/applications/{world.application['id']}/title-change", {"title_id": title["id"]}, format="json"
        )
    assert r.status_code == 202, r.content
    return Notification.objects.get(application_id=r.json()["id"])


def test_a_title_change_is_told_with_its_new_invoices(world, django_capture_on_commit_callbacks):
    notice = title_changed(world, django_capture_on_commit_callbacks)
    count = len(world.application["invoices"])
    assert "换票已完成" in notice.title and f"红冲原发票 {count} 张" in notice.body
    assert f"重新开具 {count} 张" in notice.body


def test_an_issued_application_is_told_in_the_language_its_user_chose(world, django_capture_on_commit_callbacks):
    """Issuing reads the user with the application: the message speaks their language without
    a query of its own (tests/invoices/test_issuing_statements.py counts the statements)."""
    type(world.user).objects.filter(pk=world.user.pk).update(language="en")
    notice = title_changed(world, django_capture_on_commit_callbacks)
    assert notice.title == f"{PLATE_A}: title change completed" and "换票" not in notice.body
    # the other user chose nothing: their messages stay in zh-hans
    assert "已开具" in notices(world.other, "invoices_issued")[0].title


def test_a_failed_application_is_told_with_its_reason_masked(world, django_capture_on_commit_callbacks):
    world.clearing.post(
        "/api/v1/partner/transits",
        {
            "transits": [
                {
                    "transit_id": "SUP-F1",
                    "card_no": CARD_A,
                    "plate": PLATE_A,
                    "plate_color": 0,
                    "vehicle_class": "passenger",
                    "entry_station": "郑州站",
                    "entry_time": "2026-10-03T08:00:00+08:00",
                    "exit_station": "安阳站",
                    "exit_time": "2026-10-03T10:00:00+08:00",
                    "fee": 500,
                    "segments": [{"section_code": "SUP-A3", "fee": 500}],
                }
            ]
        },
        format="json",
    )
    app = Application.objects.filter(user=world.user).first()
    with django_capture_on_commit_callbacks(execute=True):
        created = invoice_services.application_submit_consumption(
            user=world.user, card_no=CARD_A, month="2026-10", title_id=app.title_id
        )
        invoice_services.application_fail(application_id=created.pk, reason=f"购买方信息有误，请致电 {USER_MOBILE}")
    [notice] = notices(world.user, "application_failed")
    assert notice.application_id == created.pk and PLATE_A in notice.title and "失败" in notice.title
    assert "2026年10月" in notice.body and "购买方信息有误" in notice.body and "135****0001" in notice.body
    assert_clean(notice.title + notice.body)


def test_a_failure_rolled_back_tells_nobody(world, django_capture_on_commit_callbacks):
    from django.db import transaction

    from invoices.models import ApplicationEvent

    app = Application.objects.filter(user=world.user).first()
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            ApplicationEvent.objects.create(application=app, kind="failed", reason="不会提交")
            raise RuntimeError
    assert not notices(world.user, "application_failed")


def test_a_passive_unbinding_is_told_in_the_message_centre_and_on_the_next_page(world, client, sms):
    r = world.issuer.post(
        "/api/v1/partner/cards", {"cards": [card_item(CARD_A, NEW_RESERVED, resident_id(1))]}, format="json"
    )
    assert r.json()["unbound"] == 1
    [notice] = notices(world.user, "binding_ended")
    binding = Binding.objects.get(user=world.user, card__card_no=CARD_A)
    assert notice.binding == binding and notice.link == reverse("cards:bind")
    assert PLATE_A in notice.title and "发行方更新了预留手机号" in notice.body and "000-4101" in notice.body
    assert "0101" in notice.body  # the card's last digits
    assert_clean(notice.title + notice.body)
    # The one-time notice of the next page still comes, and the message stays unread.
    client.force_login(world.user)
    page = client.get(reverse("home")).content.decode()
    assert "已解绑" in page and "发行方更新了预留手机号" in page
    notice.refresh_from_db()
    assert notice.read_at is None
    # Pushed again unchanged: nothing new.
    world.issuer.post(
        "/api/v1/partner/cards", {"cards": [card_item(CARD_A, NEW_RESERVED, resident_id(1))]}, format="json"
    )
    assert len(notices(world.user, "binding_ended")) == 1


def test_an_unbinding_by_staff_is_told_with_its_reason_masked(world, staff):
    binding = Binding.objects.get(user=world.user, card__card_no=CARD_A, ended_at__isnull=True)
    binding_end_by_staff(staff=staff("admin"), binding=binding, reason=f"持卡人 {USER_MOBILE} 来电要求解绑")
    [notice] = notices(world.user, "binding_ended")
    assert notice.link == reverse("cards:list") and "135****0001" in notice.body and "95022" in notice.body
    assert_clean(notice.body)


def test_an_active_unbinding_tells_nothing(world):
    binding_end(user=world.user, card_no=CARD_A)
    assert not notices(world.user, "binding_ended")


def test_staff_replies_are_told_once_per_ticket_until_read(world, staff, client):
    agent = staff("agent")
    ticket = ticket_for(world.user)
    services.ticket_note(ticket=ticket, by=agent, body="内部备注不通知")
    assert not notices(world.user, "ticket_reply")
    services.ticket_reply(ticket=ticket, by=agent, body="请联系发行方。", notify=False)
    services.ticket_reply(
        ticket=ticket, by=agent, body=f"或拨打 {USER_MOBILE} 找我们，证件 {resident_id(1)}", notify=False
    )
    [notice] = notices(world.user, "ticket_reply")
    assert (
        notice.ticket == ticket
        and ticket.ref in notice.title
        and notice.link == reverse("support:ticket", args=[ticket.pk])
    )
    assert "135****0001" in notice.body and "4101**********" in notice.body
    assert_clean(notice.body)
    # Reading the ticket reads its message; the next reply is a new one.
    client.force_login(world.user)
    client.get(reverse("support:ticket", args=[ticket.pk]))
    notice.refresh_from_db()
    assert notice.read_at is not None
    services.ticket_resolve(ticket=ticket, by=agent, reply="已解决。", notify=False)
    assert len(notices(world.user, "ticket_reply")) == 2 and notices(world.user, "ticket_reply")[0].read_at is None


# --- the pages --------------------------------------------------------------------------------


def test_the_message_centre_needs_a_login(client):
    for url in (LIST, reverse("notifications:message_open", args=[1])):
        r = client.get(url)
        assert r.status_code == 302 and reverse("accounts:login") in r["Location"]
    r = client.post(reverse("notifications:mark_all_read"))
    assert r.status_code == 302 and reverse("accounts:login") in r["Location"]


def test_the_list_is_newest_first_with_unread_ones_marked_and_a_badge(world, client):
    client.force_login(world.user)
    many(world.user, 3)
    Notification.objects.filter(user=world.user, title="消息0").update(read_at=timezone.now())
    body = client.get(LIST).content.decode()
    assert body.index("消息2") < body.index("消息1") < body.index("消息0")
    assert body.count("note-unread") == 3  # 消息1, 消息2 and the issued application's
    assert "全部标为已读" in body and 'class="badge">3<' in body and "条未读" in body
    unread_only = client.get(LIST, {"unread": "1"}).content.decode()
    assert "消息1" in unread_only and "消息0" not in unread_only
    assert "豫C11111" not in body  # the other user's message


def test_the_list_pages_through_and_keeps_a_fixed_number_of_queries(world, client, django_assert_max_num_queries):
    client.force_login(world.user)
    client.get(LIST)
    with django_assert_max_num_queries(12) as few:
        client.get(LIST)
    budget = len(few.captured_queries)
    many(world.user, 45)
    with django_assert_max_num_queries(budget):
        first = client.get(LIST).content.decode()
    assert "第 1 / 3 页" in first and "消息44" in first and "消息20" not in first
    last = client.get(LIST, {"page": "3"}).content.decode()
    assert "消息0" in last and 'rel="prev"' in last
    assert client.get(LIST, {"page": "abc"}).status_code == 200


def test_opening_a_message_reads_it_and_goes_to_its_page(world, client):
    client.force_login(world.user)
    [notice] = notices(world.user)
    r = client.get(reverse("notifications:message_open", args=[notice.pk]))
    assert r.status_code == 302 and r["Location"] == reverse("invoices:application", args=[world.application["id"]])
    notice.refresh_from_db()
    assert notice.read_at is not None
    # A link that is not a page of this site goes to the list instead.
    Notification.objects.filter(pk=notice.pk).update(link="//evil.example/x")
    r = client.get(reverse("notifications:message_open", args=[notice.pk]))
    assert r["Location"] == LIST


def test_someone_elses_message_is_404_and_stays_unread(world, client):
    [theirs] = notices(world.other)
    client.force_login(world.user)
    assert client.get(reverse("notifications:message_open", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("notifications:message_open", args=[2**62])).status_code == 404
    client.post(reverse("notifications:mark_all_read"))
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_mark_all_read(world, client):
    client.force_login(world.user)
    many(world.user, 4)
    assert client.get(reverse("notifications:mark_all_read")).status_code == 405
    r = client.post(reverse("notifications:mark_all_read"), follow=True)
    assert "已将 5 条消息标为已读" in r.content.decode()
    assert not Notification.objects.filter(user=world.user, read_at__isnull=True).exists()
    assert 'class="badge"' not in client.get(reverse("home")).content.decode()


def test_mark_all_read_also_ends_the_banner_of_new_ticket_replies(world, staff, client):
    agent = staff("agent")
    for subject in ("绑卡失败", "发票抬头错了"):
        services.ticket_reply(ticket=ticket_for(world.user, subject=subject), by=agent, body="已处理。", notify=False)
    theirs = ticket_for(world.other)
    services.ticket_reply(ticket=theirs, by=agent, body="已处理。", notify=False)
    client.force_login(world.user)
    assert "您有 2 个工单有新的客服回复" in client.get(reverse("home")).content.decode()
    page = client.post(reverse("notifications:mark_all_read"), follow=True).content.decode()
    assert "已将 3 条消息标为已读" in page and "个工单有新的客服回复" not in page
    assert "个工单有新的客服回复" not in client.get(reverse("home")).content.decode()
    # The other user's reply is still theirs to read.
    assert selectors.unseen_replies(world.other) == [theirs.pk]


def test_the_badge_is_one_query_on_pages_and_none_on_api_calls(world, client):
    client.force_login(world.user)

    def badge_queries(fetch) -> int:
        with CaptureQueriesContext(connection) as seen:
            fetch()
        return sum("support_notification" in q["sql"] for q in seen.captured_queries)

    assert badge_queries(lambda: client.get(reverse("home"))) == 1
    assert badge_queries(lambda: client.get(reverse("support:help"))) == 1
    assert badge_queries(lambda: world.app.get("/api/v1/app/me")) == 0
    assert badge_queries(lambda: client.get("/healthz")) == 0
    many(world.user, 120)
    assert 'class="badge">99+<' in client.get(reverse("home")).content.decode()


# --- the App API ------------------------------------------------------------------------------


def test_the_api_needs_an_app_token(world, partner_client):
    partner = partner_client("clearing", name="另一清分中心")
    for client in (APIClient(), partner):
        assert client.get(API).status_code == 401
        assert client.post(f"{API}/1/read").status_code == 401
        assert client.post(f"{API}/read-all").status_code == 401


def test_the_api_lists_newest_first_page_by_page(world):
    many(world.user, 25)
    r = world.app.get(API, {"limit": 10})
    body = r.json()
    assert r.status_code == 200 and body["unread_count"] == 26
    assert [n["title"] for n in body["results"][1:3]] == ["消息24", "消息23"]  # after the issued one
    seen = [n["id"] for n in body["results"]]
    while body["next"]:
        body = world.app.get(API, {"limit": 10, "cursor": body["next"]}).json()
        seen += [n["id"] for n in body["results"]]
    assert len(seen) == len(set(seen)) == 26
    # a cursor of the former signed format is still read
    first = world.app.get(API, {"limit": 10}).json()
    tenth = Notification.objects.get(pk=first["results"][-1]["id"])
    former = signing.dumps([tenth.created_at.isoformat(), tenth.pk], salt="support.notifications")
    assert (
        world.app.get(API, {"limit": 10, "cursor": former}).json()
        == world.app.get(API, {"limit": 10, "cursor": first["next"]}).json()
    )
    issued = [n for n in world.app.get(API, {"limit": 100}).json()["results"] if n["kind"] == "invoices_issued"]
    assert issued[0]["application_id"] == world.application["id"] and issued[0]["read"] is False
    assert issued[0]["link"] == f"/applications/{world.application['id']}/" and issued[0]["kind_label"] == "发票已开具"


def test_the_api_filters_unread_and_marks_read(world):
    many(world.user, 3, read=True)
    unread = world.app.get(API, {"unread": "1"}).json()
    assert [n["kind"] for n in unread["results"]] == ["invoices_issued"] and unread["unread_count"] == 1
    notice_id = unread["results"][0]["id"]
    r = world.app.post(f"{API}/{notice_id}/read")
    assert r.status_code == 200 and r.json()["read"] is True
    read_at = r.json()["read_at"]
    assert world.app.post(f"{API}/{notice_id}/read").json()["read_at"] == read_at  # once
    assert world.app.get(API, {"unread": "true"}).json() == {"results": [], "next": None, "unread_count": 0}


def test_the_api_reads_all(world):
    many(world.user, 2)
    r = world.app.post(f"{API}/read-all")
    assert r.status_code == 200 and r.json() == {"updated": 3, "unread_count": 0}
    assert world.app.post(f"{API}/read-all").json()["updated"] == 0
    assert Notification.objects.filter(user=world.other, read_at__isnull=True).count() == 1


def test_someone_elses_message_is_404_on_the_api(world):
    [theirs] = notices(world.other)
    for pk in (theirs.pk, 999999, 2**62):
        r = world.app.post(f"{API}/{pk}/read")
        assert r.status_code == 404 and r.json()["code"] == "not_found", pk
    theirs.refresh_from_db()
    assert theirs.read_at is None
    assert theirs.pk not in [n["id"] for n in world.app.get(API).json()["results"]]


@pytest.mark.parametrize("params", [{"cursor": "forged"}, {"limit": "0"}, {"limit": "101"}, {"unread": "maybe"}])
def test_the_api_refuses_bad_parameters(world, params):
    r = world.app.get(API, params)
    assert r.status_code == 400 and r.json()["code"] == "invalid"


def test_the_api_is_in_the_schema(client):
    paths = client.get("/api/schema/", {"format": "json"}).json()["paths"]
    assert {"get"} <= set(paths["/api/v1/app/notifications"])
    assert "post" in paths["/api/v1/app/notifications/{id}/read"]
    assert "post" in paths["/api/v1/app/notifications/read-all"]


# --- the console ------------------------------------------------------------------------------


def test_staff_read_messages_in_the_console_but_change_nothing(world, staff, client):
    client.force_login(staff("agent"))
    changelist = reverse("admin:support_notification_changelist")
    body = client.get(changelist).content.decode()
    assert PLATE_A in body and "135****0001" in body and USER_MOBILE not in body
    assert client.get(changelist, {"q": USER_MOBILE}).context["cl"].result_count == 1
    [notice] = notices(world.user)
    change = reverse("admin:support_notification_change", args=[notice.pk])
    assert client.get(change).status_code == 200
    client.post(change, {"title": "改了"})
    notice.refresh_from_db()
    assert notice.title != "改了"
    assert client.get(reverse("admin:support_notification_add")).status_code == 403
    assert client.post(reverse("admin:support_notification_delete", args=[notice.pk])).status_code == 403
    # …and the customer view lists what the customer was told.
    page = client.get(reverse("admin:support_customer_view", args=[world.user.pk])).content.decode()
    assert "站内消息" in page and notice.title in page


def test_users_without_staff_rights_do_not_see_messages_in_the_console(world, client):
    client.force_login(world.user)
    r = client.get(reverse("admin:support_notification_changelist"))
    assert r.status_code == 302 and "/admin/login/" in r["Location"]
