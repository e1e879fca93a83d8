"""自动开票: each card-month applied for once, by itself, on the first day its trips are all
available, with the card's default title and mailed; paused when the user pauses it; refusals
and failures told by message and SMS; the App API and pages that set it, with every refusal."""

from __future__ import annotations

import logging
from datetime import date, timedelta

import pytest
from django.core import mail
from django.urls import reverse

from cards import autoinvoice as rules
from cards.models import AutoInvoiceRun, AutoInvoiceSetting, Binding
from invoices import autoinvoice, services, tasks
from invoices.models import Application, CardInvoiceBasis, Invoice, Transit
from support.models import Notification

from .conftest import trip
from .test_batches import add_cards, push_trips
from .test_invoicing import THREE, title

MONTH = "2026-09"  # the world's trips travel in September 2026
AVAILABLE = date(2026, 10, 10)  # 30 September + 10 natural days (the 2018 regime of the suite)
ACCOUNT = "/api/v1/app/auto-invoice"
EMAIL = "finance@example.com"
# constant, whatever the number of cards (the account page: 8, reading the shown cards' own runs)
BUDGET_PAGE, BUDGET_API = 8, 5


def card_url(card_no: str) -> str:
    return f"/api/v1/app/cards/{card_no}/auto-invoice"


def default_title(world, card_no=None, **fields) -> int:
    title_id = title(world.user, **({"email": "title@example.com"} | fields))
    r = world.user.put(
        f"/api/v1/app/cards/{card_no or world.card_no}/default-title", {"title_id": title_id}, format="json"
    )
    assert r.status_code == 200, r.content
    return title_id


def turn_on(world, **body) -> dict:
    r = world.user.put(ACCOUNT, {"enabled": True, "mode": "monthly", "email": EMAIL} | body, format="json")
    assert r.status_code == 200, r.content
    return r.json()


def sweep(capture, today=AVAILABLE) -> int:
    with capture(execute=True):
        return autoinvoice.auto_invoice_sweep(today=today)


@pytest.fixture
def trips(world):
    push_trips(world, world.card_no, [("T1", THREE), ("T2", [("S-A3", 1000)]), ("T3", [("S-C9", 2180)])])
    return world


# --- when a month is available ---------------------------------------------------------------


def test_a_month_is_complete_on_its_last_day_plus_the_regimes_days(settings):
    settings.TRANSIT_AVAILABLE_AFTER_DAYS = 10
    assert rules.available_on("2026-09") == AVAILABLE
    assert rules.available_on("2026-02") == date(2026, 3, 10)  # 28 days
    assert rules.latest_available_month(AVAILABLE - timedelta(days=1)) == "2026-08"
    assert rules.latest_available_month(AVAILABLE) == "2026-09"
    assert rules.latest_available_month(date(2027, 1, 9)) == "2026-11"
    # the regime in force on the month's last travel day decides: 7 days under the 2020 rules
    settings.TOLL_REGIME_2020_FROM = "2026-09-15"
    settings.TRANSIT_AVAILABLE_AFTER_DAYS_2020 = 7
    assert rules.available_on("2026-09") == date(2026, 10, 7)
    assert rules.available_on("2026-08") == date(2026, 9, 10)


# --- the job ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_month_not_yet_available_gets_nothing(trips, django_capture_on_commit_callbacks):
    default_title(trips)
    turn_on(trips)
    binding = Binding.objects.get(card__card_no=trips.card_no, ended_at__isnull=True)
    assert (
        autoinvoice.auto_invoice_card(binding_id=binding.pk, month=MONTH, today=AVAILABLE - timedelta(days=1)) is None
    )
    sweep(django_capture_on_commit_callbacks, today=AVAILABLE - timedelta(days=1))
    assert not Application.objects.exists()
    assert not AutoInvoiceRun.objects.filter(month=MONTH).exists()
    # August is the latest available then: it has no trips, and is recorded as such
    [august] = AutoInvoiceRun.objects.all()
    assert (august.month, august.status, august.code) == ("2026-08", "skipped", "nothing_to_invoice")


@pytest.mark.django_db
@pytest.mark.parametrize(("mode", "invoices"), [("monthly", 4), ("per_trip", 5)])
def test_the_month_is_applied_for_once_with_the_default_title_and_mailed(
    trips, django_capture_on_commit_callbacks, mode, invoices
):
    title_id = default_title(trips)
    turn_on(trips, mode=mode)
    assert sweep(django_capture_on_commit_callbacks) == 1
    [app] = Application.objects.all()
    assert (app.month, app.mode, app.whole_month, app.title_id, app.email) == (MONTH, mode, True, title_id, EMAIL)
    assert app.status == "issued" and app.invoice_count == invoices
    assert set(Transit.objects.filter(month=MONTH).values_list("state", flat=True)) == {"invoiced"}
    run = AutoInvoiceRun.objects.get(month=MONTH)
    assert (run.status, run.application_id, run.mode) == ("applied", app.pk, mode)
    # the job runs again (the next hour, or twice at once): nothing more
    assert sweep(django_capture_on_commit_callbacks) == 0
    binding = Binding.objects.get(card__card_no=trips.card_no, ended_at__isnull=True)
    with django_capture_on_commit_callbacks(execute=True):
        again = autoinvoice.auto_invoice_card(binding_id=binding.pk, month=MONTH, today=AVAILABLE)
    assert again.pk == run.pk and Application.objects.count() == 1 and AutoInvoiceRun.objects.count() == 1
    # the user sees it: the card's run, linked to its issued application
    got = trips.user.get(card_url(trips.card_no)).json()
    assert got["runs"][0] | {"created_at": None, "updated_at": None} == {
        "card_no": trips.card_no,
        "plate": "豫A12345",
        "month": MONTH,
        "status": "applied",
        "code": "",
        "message": "",
        "mode": mode,
        "application_id": app.pk,
        "application_status": "issued",
        "created_at": None,
        "updated_at": None,
    }
    assert got["next_run"] == {"month": "2026-10", "date": "2026-11-10", "due": False} or got["next_run"]["due"]


@pytest.mark.django_db
@pytest.mark.documents
def test_the_issued_month_is_mailed_as_a_zip(trips, django_capture_on_commit_callbacks):
    default_title(trips)
    turn_on(trips)
    sweep(django_capture_on_commit_callbacks)
    [app] = Application.objects.all()
    [message] = mail.outbox
    assert message.to == [EMAIL]
    [(name, _content, mimetype)] = message.attachments
    assert name == f"invoices-{app.summary_no}.zip" and mimetype == "application/zip"


@pytest.mark.django_db
def test_only_the_months_uninvoiced_trips_are_applied_for(trips, django_capture_on_commit_callbacks):
    title_id = default_title(trips)
    with django_capture_on_commit_callbacks(execute=True):
        r = trips.user.post(
            "/api/v1/app/applications",
            {
                "kind": "consumption",
                "card_no": trips.card_no,
                "month": MONTH,
                "title_id": title_id,
                "transit_ids": ["0001-T1"],
            },
            format="json",
        )
    assert r.status_code == 202, r.content
    turn_on(trips)
    sweep(django_capture_on_commit_callbacks)
    auto = AutoInvoiceRun.objects.get(month=MONTH).application
    assert sorted(auto.items.values_list("transit__transit_id", flat=True)) == ["0001-T2", "0001-T3"]
    assert Invoice.objects.filter(application=auto).count() == 2


@pytest.mark.django_db
def test_a_paused_setting_applies_for_nothing_until_resumed(trips, django_capture_on_commit_callbacks):
    default_title(trips)
    turn_on(trips)
    r = trips.user.put(ACCOUNT, {"paused": True}, format="json")
    assert r.status_code == 200 and r.json()["paused"] is True and r.json()["next_run"] is None
    assert sweep(django_capture_on_commit_callbacks) == 0 and not Application.objects.exists()
    # a pause that lands between the sweep and the card's task holds too
    binding = Binding.objects.get(card__card_no=trips.card_no, ended_at__isnull=True)
    assert autoinvoice.auto_invoice_card(binding_id=binding.pk, month=MONTH, today=AVAILABLE) is None
    r = trips.user.put(ACCOUNT, {"paused": False}, format="json")
    assert r.json()["paused"] is False and r.json()["enabled"] is True
    # resumed later: the latest available month is caught up
    assert sweep(django_capture_on_commit_callbacks, today=AVAILABLE + timedelta(days=15)) == 1
    assert Application.objects.get().month == MONTH


@pytest.mark.django_db
def test_a_card_without_a_default_title_is_told_once_by_message_and_sms(
    trips, django_capture_on_commit_callbacks, sms, caplog
):
    caplog.set_level(logging.INFO)
    turn_on(trips)
    sweep(django_capture_on_commit_callbacks)
    run = AutoInvoiceRun.objects.get(month=MONTH)
    assert (run.status, run.code) == ("refused", "no_default_title") and not Application.objects.exists()
    user = trips.user.user
    [notice] = Notification.objects.filter(user=user)
    assert notice.title == "豫A12345 2026年9月自动开票未能申请" and "没有默认发票抬头" in notice.body
    assert notice.link == reverse("cards:card_auto_invoice", args=[trips.card_no])
    [text] = [m["text"] for m in sms.messages(user.mobile, "auto_invoice")]
    assert text.startswith("【票根】") and "豫A12345" in text and "没有默认发票抬头" in text
    assert user.mobile not in caplog.text and user.mobile_masked in caplog.text
    # the next runs try again, silently, until the user sets a title
    sweep(django_capture_on_commit_callbacks)
    assert Notification.objects.filter(user=user).count() == 1 and len(sms.messages(user.mobile, "auto_invoice")) == 1
    default_title(trips)
    assert sweep(django_capture_on_commit_callbacks) == 1
    run.refresh_from_db()
    assert run.status == "applied" and run.application.status == "issued"


@pytest.mark.django_db
def test_an_automatic_application_that_fails_is_told_by_message_and_sms(
    trips, django_capture_on_commit_callbacks, monkeypatch, sms
):
    default_title(trips)
    turn_on(trips)

    def refuse(app):
        raise services.IssueRefused("开票服务暂时不可用。")

    monkeypatch.setattr(services, "_issue", refuse)
    sweep(django_capture_on_commit_callbacks)
    app = AutoInvoiceRun.objects.get(month=MONTH).application
    assert app.status == "failed"
    user = trips.user.user
    assert Notification.objects.filter(user=user, kind="application_failed", application=app).count() == 1
    [text] = [m["text"] for m in sms.messages(user.mobile, "auto_invoice")]
    assert "未能开具" in text and "2026年9月" in text
    assert set(Transit.objects.filter(month=MONTH).values_list("state", flat=True)) == {"open"}


@pytest.mark.django_db
def test_skipped_cards_stored_value_on_recharges_and_cards_turned_off(world, django_capture_on_commit_callbacks, sms):
    stored, own_off = add_cards(world, [21], card_type="stored_value") + add_cards(world, [22])
    for card_no in (world.card_no, stored, own_off):
        push_trips(world, card_no, [("T1", THREE)])
        default_title(world, card_no)
    # the stored-value card took recharge invoices (as test_batches fixes that choice)
    stored_id = Binding.objects.get(card__card_no=stored, ended_at__isnull=True).card_id
    app = Application.objects.create(
        user=world.user.user,
        card_id=stored_id,
        kind="recharge",
        title=Binding.objects.get(card_id=stored_id).default_title,
    )
    CardInvoiceBasis.objects.create(card_id=stored_id, basis="recharge", fixed_by=app)
    turn_on(world)
    r = world.user.put(card_url(own_off), {"enabled": False}, format="json")
    assert r.status_code == 200 and r.json()["source"] == "card" and r.json()["enabled"] is False
    assert sweep(django_capture_on_commit_callbacks) == 2
    runs = {r.card.card_no: r for r in AutoInvoiceRun.objects.select_related("card")}
    assert runs[world.card_no].status == "applied" and runs[world.card_no].application.status == "issued"
    assert (runs[stored].status, runs[stored].code) == ("skipped", "basis_locked")
    assert own_off not in runs
    assert not sms.messages(world.user.user.mobile, "auto_invoice")  # skipping is no failure
    # the card follows the account again: applied at the next run
    r = world.user.delete(card_url(own_off))
    assert r.status_code == 200 and r.json()["source"] == "account" and r.json()["enabled"] is True
    assert sweep(django_capture_on_commit_callbacks) == 1
    assert AutoInvoiceRun.objects.get(card__card_no=own_off).status == "applied"


@pytest.mark.django_db
def test_a_card_of_its_own_applies_when_the_account_is_off(trips, django_capture_on_commit_callbacks):
    default_title(trips)
    r = trips.user.put(card_url(trips.card_no), {"enabled": True, "mode": "per_trip"}, format="json")
    assert r.status_code == 200 and r.json()["source"] == "card" and r.json()["mode"] == "per_trip"
    assert trips.user.get(ACCOUNT).json()["enabled"] is False
    assert sweep(django_capture_on_commit_callbacks) == 1
    assert Application.objects.get().mode == "per_trip"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.postgresql
def test_two_runs_at_once_apply_once(trips):
    import threading

    from django.db import connection

    default_title(trips)
    turn_on(trips)
    binding = Binding.objects.get(card__card_no=trips.card_no, ended_at__isnull=True)
    start, errors = threading.Barrier(3), []

    def run():
        try:
            start.wait(10)
            autoinvoice.auto_invoice_card(binding_id=binding.pk, month=MONTH, today=AVAILABLE)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert Application.objects.count() == 1 and AutoInvoiceRun.objects.count() == 1


@pytest.mark.django_db
def test_the_beat_task_applies_the_latest_available_month(world, django_capture_on_commit_callbacks, settings):
    """The task as beat starts it (eager Celery, no worker), on today's date."""
    latest = rules.latest_available_month()
    first = date(int(latest[:4]), int(latest[5:7]), 3)
    from datetime import datetime

    from .conftest import SHANGHAI

    when = datetime(first.year, first.month, first.day, 8, 0, tzinfo=SHANGHAI)
    r = world.clearing.post(
        "/api/v1/partner/transits", {"transits": [trip("B1", world.card_no, when, THREE)]}, format="json"
    ).json()
    assert r["created"] == 1, r
    default_title(world)
    turn_on(world)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.run_auto_invoices.delay()
    [app] = Application.objects.all()
    assert app.month == latest and app.status == "issued"
    with django_capture_on_commit_callbacks(execute=True):
        tasks.run_auto_invoices.delay()
    assert Application.objects.count() == 1


# --- the App API: refusals ----------------------------------------------------------------------


@pytest.mark.django_db
def test_the_api_refuses_what_is_not_right(world, api, app_client):
    for path in (ACCOUNT, card_url(world.card_no)):
        assert api.get(path).status_code == 401
        assert api.put(path, {"enabled": True}, format="json").status_code == 401
    for body, field in (
        ({"enabled": True, "mode": "weekly"}, "mode"),
        ({"enabled": "maybe"}, "enabled"),
        ({"email": "not-an-address"}, "email"),
        ({"paused": [1]}, "paused"),
    ):
        r = world.user.put(ACCOUNT, body, format="json")
        assert r.status_code == 400 and r.json()["code"] == "invalid" and field in r.json()["errors"], (body, r.content)
    r = world.user.put(ACCOUNT, ["not", "an", "object"], format="json")
    assert r.status_code == 400
    assert not AutoInvoiceSetting.objects.exists()
    # someone else's card, an unknown one, a malformed one: 404, nothing written
    stranger = app_client()
    for path in (card_url(world.card_no), card_url("41019999999999999999"), card_url("x" * 300)):
        assert stranger.get(path).status_code == 404
        assert stranger.put(path, {"enabled": True}, format="json").status_code == 404
        assert stranger.delete(path).status_code == 404
    assert not AutoInvoiceSetting.objects.exists()
    # an unbound card is not the user's any more
    world.user.delete(f"/api/v1/app/cards/{world.card_no}")
    assert world.user.get(card_url(world.card_no)).status_code == 404


@pytest.mark.django_db
def test_the_account_setting_round_trips(world):
    got = world.user.get(ACCOUNT).json()
    assert got["enabled"] is False and got["next_run"] is None and got["runs"] == []
    assert [c["card_no"] for c in got["cards"]] == [world.card_no] and got["cards"][0]["default_title_id"] is None
    got = turn_on(world, mode="per_trip", email=" ")
    assert (got["enabled"], got["mode"], got["email"], got["paused"]) == (True, "per_trip", "", False)
    assert got["next_run"]["month"] and got["cards"][0]["source"] == "account" and got["cards"][0]["enabled"]
    # turning off ends a pause; on again keeps the mode
    world.user.put(ACCOUNT, {"paused": True}, format="json")
    got = world.user.put(ACCOUNT, {"enabled": False}, format="json").json()
    assert (got["enabled"], got["paused"]) == (False, False)
    got = world.user.put(ACCOUNT, {"enabled": True}, format="json").json()
    assert (got["enabled"], got["mode"]) == (True, "per_trip")
    assert AutoInvoiceSetting.objects.count() == 1 and AutoInvoiceSetting.history.count() == 4


# --- pages ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_pages_set_pause_and_show_the_history(trips, client, django_capture_on_commit_callbacks, app_client):
    default_title(trips)
    client.force_login(trips.user.user)
    page = reverse("cards:auto_invoice")
    r = client.post(page, {"action": "save", "choice": "on", "mode": "monthly", "email": EMAIL})
    assert r.status_code == 302
    r = client.get(page)
    body = r.content.decode()
    assert "全部ETC卡：已开启" in body and "按月汇总" in body and EMAIL in body
    sweep(django_capture_on_commit_callbacks)
    app = Application.objects.get()
    card_page = reverse("cards:card_auto_invoice", args=[trips.card_no])
    body = client.get(card_page).content.decode()
    assert reverse("invoices:application", args=[app.pk]) in body and "已开票" in body
    r = client.post(card_page, {"action": "pause"})
    assert r.status_code == 302
    body = client.get(card_page).content.decode()
    assert "自动开票：已暂停" in body and "恢复自动开票" in body
    # refusals come back as messages on the page, never a 500
    r = client.post(page, {"action": "save", "choice": "on", "mode": "weekly"})
    assert r.status_code == 200 and "开票方式须为按次或按月汇总" in r.content.decode()
    r = client.post(page, {"action": "save", "choice": "on", "mode": "monthly", "email": "nope"})
    assert r.status_code == 200 and "邮箱地址格式不正确" in r.content.decode()
    # someone else's card is a 404; a visitor is sent to log in
    other = app_client().user
    client.force_login(other)
    assert client.get(card_page).status_code == 404 and client.post(card_page, {"action": "pause"}).status_code == 404
    client.logout()
    assert client.get(page).status_code == 302 and client.get(card_page).status_code == 302


# --- the console --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_console_shows_the_state_read_only_and_masked(trips, client, make_user, django_capture_on_commit_callbacks):
    from django.contrib.auth.models import Group

    from accounts.roles import AGENT

    turn_on(trips)
    sweep(django_capture_on_commit_callbacks)  # no default title: refused, told
    agent = make_user(mobile="13900000001")
    agent.is_staff = True
    agent.save()
    agent.groups.add(Group.objects.get(name=AGENT))
    client.force_login(agent)
    setting = AutoInvoiceSetting.objects.get()
    customer = trips.user.user
    for url in (
        reverse("admin:cards_autoinvoicesetting_changelist"),
        reverse("admin:cards_autoinvoicesetting_change", args=[setting.pk]),
        reverse("admin:cards_autoinvoicesetting_history", args=[setting.pk]),
        reverse("admin:cards_autoinvoicerun_changelist"),
        reverse("admin:cards_autoinvoicerun_changelist") + f"?q={customer.mobile}",
        reverse("admin:cards_autoinvoicerun_change", args=[AutoInvoiceRun.objects.get().pk]),
    ):
        r = client.get(url)
        body = r.content.decode()
        assert r.status_code == 200, url
        echoed = (
            body.replace(f"q={customer.mobile}", "")
            .replace(f'value="{customer.mobile}"', "")
            .replace(f"q%3D{customer.mobile}", "")
        )  # the search typed
        assert EMAIL not in body and customer.mobile not in echoed, url
    body = client.get(reverse("admin:cards_autoinvoicesetting_changelist")).content.decode()
    assert "f***@example.com" in body and "账户下全部卡" in body
    body = client.get(reverse("admin:cards_autoinvoicerun_changelist") + f"?q={customer.mobile}").content.decode()
    assert "no_default_title" in body and MONTH in body
    # The customer view, where an agent on the phone looks first: the setting, the refused
    # month with what the customer was told, the address masked.
    body = client.get(reverse("admin:support_customer_view", args=[customer.pk])).content.decode()
    section = body[body.index('id="auto-invoice"') : body.index('id="invoices"')]
    assert "账户下全部卡" in section and "已开启" in section and "f***@example.com" in section
    assert MONTH in section and "未能申请" in section and "已通知用户" in section and "没有默认发票抬头" in section
    assert EMAIL not in body and customer.mobile not in body
    # read-only: nothing to add, change or delete
    assert client.get(reverse("admin:cards_autoinvoicerun_add")).status_code == 403
    r = client.post(reverse("admin:cards_autoinvoicesetting_change", args=[setting.pk]), {"enabled": ""})
    assert r.status_code == 403
    setting.refresh_from_db()
    assert setting.enabled is True


@pytest.mark.django_db
def test_pages_and_answers_cost_the_same_whatever_the_cards(
    world, client, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    """Query budgets: the pages and the App answers read settings, cards and runs in a fixed
    number of queries, with one card or five, each with a run."""
    client.force_login(world.user.user)

    def measure():
        sweep(django_capture_on_commit_callbacks)
        for url in (reverse("cards:auto_invoice"), reverse("cards:list")):
            with django_assert_max_num_queries(BUDGET_PAGE):
                assert client.get(url).status_code == 200
        with django_assert_max_num_queries(BUDGET_API):
            assert world.user.get(ACCOUNT).status_code == 200
        with django_assert_max_num_queries(BUDGET_PAGE):
            assert client.get(reverse("cards:card_auto_invoice", args=[world.card_no])).status_code == 200
        with django_assert_max_num_queries(BUDGET_API):
            assert world.user.get(card_url(world.card_no)).status_code == 200

    turn_on(world)
    measure()
    add_cards(world, [31, 32, 33, 34])
    assert AutoInvoiceRun.objects.count() == 1
    measure()
    assert AutoInvoiceRun.objects.count() == 5


@pytest.mark.django_db
def test_the_account_page_pages_its_cards_and_reads_each_cards_own_runs(world, client, settings, monkeypatch):
    """A fleet's 自动开票 page: ``CARDS_PAGE_SIZE`` cards at a time with a search, and whether a
    card's month is still due read from that card's own runs, not from the account's latest
    ones (which a fleet's other cards fill: 500 cards make 500 runs a month)."""
    from django.utils import timezone

    from cards.models import Card

    numbers = [world.card_no, *add_cards(world, [41, 42, 43, 44])]
    turn_on(world)
    user = world.user.user
    latest = rules.latest_available_month(timezone.localdate())
    AutoInvoiceRun.objects.bulk_create(
        AutoInvoiceRun(user=user, card=card, month=latest, status="skipped", mode="monthly")
        for card in Card.objects.filter(card_no__in=numbers)
    )
    monkeypatch.setattr(rules, "runs_of", lambda *a, **k: [])  # the account's latest runs: none of these
    client.force_login(user)
    settings.CARDS_PAGE_SIZE = 2
    url = reverse("cards:auto_invoice")
    body = client.get(url).content.decode()
    listed = body[body.index('id="auto-cards"') : body.index("</ul>", body.index('id="auto-cards"'))]
    assert listed.count("<li>") == 2 and "共绑定 5 张卡" in body and 'rel="next"' in body
    assert f"{latest} 待自动申请" not in body and listed.count("下一次") == 2
    body = client.get(url, {"q": numbers[3][-4:]}).content.decode()
    listed = body[body.index('id="auto-cards"') : body.index("</ul>", body.index('id="auto-cards"'))]
    assert listed.count("<li>") == 1 and numbers[3] in listed and "显示全部" in body
    body = client.get(url, {"q": "京Z99999"}).content.decode()
    assert 'id="auto-cards"' not in body and "没有车牌或卡号包含“京Z99999”的已绑定ETC卡" in body
    assert "请先绑定ETC卡" not in body
