import pytest
from django.conf import settings
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.models import SmsCode
from tests.helpers.sms import SmsOutbox


def pytest_collection_modifyitems(config, items):
    """Tests marked ``postgresql`` race connections against each other to prove a row lock; SQLite
    runs one write transaction at a time (``transaction_mode`` IMMEDIATE), where they cannot lose."""
    from django.db import connection

    if connection.vendor == "postgresql":
        return
    only_postgresql = pytest.mark.skip(reason="a race of connections: PostgreSQL's row locks only (CI runs PostgreSQL)")
    for item in items:
        if item.get_closest_marker("postgresql"):
            item.add_marker(only_postgresql)


@pytest.fixture
def local_midday(monkeypatch):
    """Runs the test's clock from noon of today (Asia/Shanghai) onwards: a test that moves SMS codes
    back by minutes and counts them per local day must not see them fall into yesterday when it
    happens to run just after midnight."""
    from django.utils import timezone

    real_now = timezone.now
    local = timezone.localtime(real_now())
    noon = local.replace(hour=12, minute=0, second=0, microsecond=0)
    offset = noon - local
    monkeypatch.setattr(timezone, "now", lambda: real_now() + offset)
    return noon


@pytest.fixture
def sms(settings, tmp_path) -> SmsOutbox:
    settings.SMS_BACKEND = "accounts.sms.FileBackend"
    settings.SMS_FILE_PATH = str(tmp_path / "sms.jsonl")
    return SmsOutbox(tmp_path / "sms.jsonl")


def age_sms_codes(seconds: int = 61) -> None:
    """Moves every SMS code back in time, as if the user had waited before asking again."""
    from datetime import timedelta

    for row in SmsCode.objects.all():
        SmsCode.objects.filter(pk=row.pk).update(
            created_at=row.created_at - timedelta(seconds=seconds),
            expires_at=row.expires_at - timedelta(seconds=seconds),
        )


@pytest.fixture(autouse=True)
def _regime_2018(request, settings):
    """Most of the suite states the rules of the service's first years (the 2018 regime: VAT
    e-invoices for every share, 12-digit codes): its trips travel in 2026, so it pins the later
    regimes' start dates past them. Tests marked ``regimes`` run under the settings' dates (the
    product's defaults, or dates they set) and state the rules of fiscal e-bills and 数电 invoices."""
    if request.node.get_closest_marker("regimes") is None:
        settings.TOLL_REGIME_2020_FROM = "2999-01-01"
        settings.TOLL_REGIME_DIGITAL_FROM = "2999-01-01"


@pytest.fixture(autouse=True)
def _documents_only_where_asked(request, monkeypatch):
    """Issuing queues each invoice's PDF and XML; with Celery eager in the test process that is a
    real WeasyPrint render of every invoice every test issues, most of the suite's time, though
    few tests look at a document. So the queueing is a no-op (the invoices stay ``pending``, as
    they are between issuing and a render worker) except in tests marked ``documents``, and in
    the worker and browser tests, whose servers and workers render as in production."""
    if any(request.node.get_closest_marker(m) for m in ("documents", "worker", "browser")):
        return
    from invoices import tasks

    monkeypatch.setattr(tasks.render_invoices, "delay", lambda *args, **kwargs: None)


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    from piaogen.throttling import local_counters, refusals

    cache.clear()
    local_counters.clear()
    refusals.clear()
    yield


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def make_user(db, sms):
    """Registers a user through the service, as a person would (SMS code and all)."""
    counter = {"n": 0}

    def make(mobile: str | None = None, password: str = "secret123abc", **fields):
        counter["n"] += 1
        mobile = mobile or f"1370000{counter['n']:04d}"
        account_services.sms_code_send(mobile=mobile, purpose=SmsCode.Purpose.REGISTER)
        code = sms.last_code(mobile, "register")
        return account_services.user_register(mobile=mobile, code=code, password=password, **fields)

    return make


@pytest.fixture
def app_client(make_user):
    def client_for(user=None):
        user = user or make_user()
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {account_services.app_token_issue(user=user)}")
        client.user = user
        return client

    return client_for


@pytest.fixture
def partner_client(db):
    def client_for(kind: str, name: str = "合作方", network_codes=(), tax_id: str = ""):
        partner, token = account_services.partner_create(
            kind=kind, name=name, network_codes=list(network_codes), tax_id=tax_id
        )
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        client.partner = partner
        return client

    return client_for


__all__ = ["settings"]
