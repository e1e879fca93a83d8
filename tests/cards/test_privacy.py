"""No full ID number or mobile in any page, console list, App answer or log line."""

import logging

import pytest
from django.urls import reverse

from cards.models import Binding, BindingAttempt, Card
from tests.conftest import age_sms_codes

from .conftest import CARD_NO, OTHER_ID, PERSON_ID, RESERVED, card_item

USER_MOBILE = "13612345678"
SECOND_MOBILE = "13911112222"
SECOND_ID = "440305199001010026"
NEW_MOBILE = "13700001111"
TYPED_WRONG_MOBILE = "13800138000"
TYPED_WRONG_NAME = "错名测试人"
SECRETS = (
    PERSON_ID,
    RESERVED,
    USER_MOBILE,
    SECOND_MOBILE,
    SECOND_ID,
    NEW_MOBILE,
    OTHER_ID,
    TYPED_WRONG_MOBILE,
    TYPED_WRONG_NAME,
)
SECOND = "32010000000000000002"
THIRD = "32010000000000000003"


class RawLog(logging.Handler):
    """Sees each record before any handler's masking filter rewrites it: the code itself must
    not put a full number into a log message, not merely rely on the filter."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[str, str]] = []

    def emit(self, record):
        self.lines.append((record.name, record.getMessage()))


@pytest.fixture
def raw_log():
    handler = RawLog()
    root = logging.getLogger()
    root.handlers.insert(0, handler)
    yield handler
    root.handlers.remove(handler)


def assert_clean(where: str, text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret} appears in {where}"


@pytest.mark.django_db
def test_nothing_shows_a_full_id_number_or_mobile(
    caplog,
    raw_log,
    client,
    admin_client,
    partner_client,
    app_client,
    make_user,
    bind,
    sms,
    django_capture_on_commit_callbacks,
):
    caplog.set_level(logging.DEBUG)
    issuer = partner_client("issuer", name="演示江苏苏通卡", network_codes=["3201"])
    answers: list[tuple[str, str]] = []

    def keep(where, response):
        answers.append((where, response.content.decode()))
        return response

    # The issuer pushes: good cards and a rejected one (its errors must not echo the numbers).
    keep(
        "partner push",
        issuer.post(
            "/api/v1/partner/cards",
            {
                "cards": [
                    card_item(),
                    card_item(card_no=SECOND, plate="苏B77777", id_number=SECOND_ID, mobile=SECOND_MOBILE),
                    card_item(card_no=THIRD, plate="苏C88888", id_number=SECOND_ID, mobile=SECOND_MOBILE),
                    card_item(card_no="32010000000000000004", id_number=OTHER_ID[:-1] + "9", mobile="1" + RESERVED),
                ]
            },
            format="json",
        ),
    )
    user = make_user(mobile=USER_MOBILE, name="演示客户")
    api = app_client(user)

    # Binding through the App: a refused attempt with typed numbers, then success.
    age_sms_codes()
    keep(
        "app refusal",
        api.post(
            "/api/v1/app/cards",
            {
                "card_no": CARD_NO,
                "holder_name": TYPED_WRONG_NAME,
                "id_type": "resident_id",
                "id_number": OTHER_ID,
                "mobile": TYPED_WRONG_MOBILE,
            },
            format="json",
        ),
    )
    started = keep(
        "app bind",
        api.post(
            "/api/v1/app/cards",
            {"card_no": CARD_NO, "id_type": "resident_id", "id_number": PERSON_ID, "mobile": RESERVED},
            format="json",
        ),
    ).json()
    keep(
        "app confirm",
        api.post(
            "/api/v1/app/cards/confirm",
            {"binding_id": started["binding_id"], "code": sms.last_code(RESERVED, "bind")},
            format="json",
        ),
    )
    bind(user, card_no=SECOND, id_number=SECOND_ID, mobile=SECOND_MOBILE)
    keep("app title", api.post("/api/v1/app/titles", {"kind": "personal", "name": "演示客户"}, format="json"))

    # The issuer changes the reserved mobile of the second card: passive unbinding and notices.
    with django_capture_on_commit_callbacks(execute=True):
        keep(
            "partner change",
            issuer.post(
                "/api/v1/partner/cards",
                {"cards": [card_item(card_no=SECOND, plate="苏B77777", id_number=SECOND_ID, mobile=NEW_MOBILE)]},
                format="json",
            ),
        )
    assert Binding.objects.filter(end_kind="passive").count() == 1
    keep("app cards", api.get("/api/v1/app/cards"))
    keep("app card", api.get(f"/api/v1/app/cards/{CARD_NO}"))
    keep("app titles", api.get("/api/v1/app/titles"))
    keep("app me", api.get("/api/v1/app/me"))

    # Every cards page, including a refused bind form and the second step.
    client.force_login(user)
    keep("list page with notice", client.get(reverse("cards:list")))
    age_sms_codes()
    keep(
        "bind refusal page",
        client.post(
            reverse("cards:bind"),
            {
                "card_no": THIRD,
                "holder_name": TYPED_WRONG_NAME,
                "id_type": "resident_id",
                "id_number": OTHER_ID,
                "mobile": TYPED_WRONG_MOBILE,
            },
        ),
    )
    pending = client.post(
        reverse("cards:bind"),
        {
            "card_no": THIRD,
            "holder_name": "演示持卡人",
            "id_type": "resident_id",
            "id_number": SECOND_ID,
            "mobile": SECOND_MOBILE,
        },
    )
    assert pending.status_code == 302
    keep("bind second step", client.get(pending["Location"]))
    keep("bind wrong code", client.post(pending["Location"], {"code": "000000", "confirm": "1"}))
    title = user.invoice_titles.get()
    for name, args in [
        ("cards:list", []),
        ("cards:bind", []),
        ("cards:unbind", [CARD_NO]),
        ("cards:titles", []),
        ("cards:title_new", []),
        ("cards:title_edit", [title.pk]),
        ("cards:title_delete", [title.pk]),
        ("accounts:profile", []),
        ("home", []),
    ]:
        response = keep(name, client.get(reverse(name, args=args)))
        assert response.status_code == 200, name

    # The console: lists and detail pages.
    binding = Binding.objects.get(card__card_no=CARD_NO, ended_at__isnull=True)
    attempt = BindingAttempt.objects.filter(card__card_no=THIRD).first()
    card = Card.objects.get(card_no=SECOND)
    for url in [
        reverse("admin:cards_issuer_changelist"),
        reverse("admin:cards_card_changelist"),
        reverse("admin:cards_card_change", args=[card.pk]),
        reverse("admin:cards_card_history", args=[card.pk]),
        reverse("admin:cards_binding_changelist"),
        reverse("admin:cards_binding_change", args=[binding.pk]),
        reverse("admin:cards_binding_history", args=[binding.pk]),
        reverse("admin:cards_bindingattempt_changelist"),
        reverse("admin:cards_bindingattempt_change", args=[attempt.pk]),
        reverse("admin:cards_invoicetitle_changelist"),
        reverse("admin:cards_card_changelist") + "?q=苏B",
        reverse("admin:cards_bindingattempt_changelist") + "?outcome__exact=id_mismatch",
    ]:
        response = keep(url, admin_client.get(url))
        assert response.status_code == 200, url

    assert len(answers) > 30
    for where, text in answers:
        assert_clean(where, text)
    # Logs: every record as the code wrote it, and every line as captured.
    assert raw_log.lines and caplog.records
    for name, message in raw_log.lines:
        assert_clean(f"log {name}", message)
    for record in caplog.records:
        assert_clean(f"log {record.name}", record.getMessage())
    assert_clean("log text", caplog.text)
    # The SMS texts themselves mask what they mention (the transport needs the recipient only).
    for message in sms.messages():
        assert_clean("sms text", message["text"])
    # Attempts keep outcomes and messages, never the typed numbers.
    for text in BindingAttempt.objects.values_list("message", flat=True):
        assert_clean("attempt message", text)
