import logging
import os
import subprocess
import sys

import pytest
from django.conf import settings

from piaogen.masking import MaskingFilter, mask_id_number, mask_mobile


@pytest.mark.django_db
def test_healthz_reports_database_and_broker(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["database"] == "ok" and body["broker"] == "ok" and body["status"] == "ok"
    expected = "redis" if settings.CELERY_BROKER_URL.startswith("redis") else "filesystem"
    assert body["broker_transport"] == expected


@pytest.mark.django_db
def test_healthz_reports_an_unreachable_broker(client, monkeypatch):
    from piaogen.celery import app

    # Celery reads CELERY_BROKER_URL from the environment before its own configuration.
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setitem(app.conf, "broker_url", "redis://127.0.0.1:1/0")
    r = client.get("/healthz")
    body = r.json()
    assert r.status_code == 200  # the database answers: the site can serve, issuing waits
    assert body["broker"] == "unavailable" and body["status"] == "degraded"


@pytest.mark.django_db
def test_openapi_schema_builds_and_names_the_endpoints(client):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = schema["paths"]
    for path in ["/api/v1/app/sms-codes", "/api/v1/app/register", "/api/v1/app/login"]:
        assert path in paths
    r = client.get("/api/schema/")
    assert r.status_code == 200 and b"openapi" in r.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()


def test_production_settings_refuse_to_start_without_a_secret_key():
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE"}}
    env["DEBUG"] = "false"
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='piaogen.settings'; django.setup()",
        ],
        env=env,
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
    )
    assert r.returncode != 0 and "SECRET_KEY must be set" in r.stderr


@pytest.mark.parametrize(
    "value, masked",
    [("13812345678", "138****5678"), ("", "")],
)
def test_mask_mobile(value, masked):
    assert mask_mobile(value) == masked


def test_mask_id_number():
    assert mask_id_number("11010519491231002X") == "1101**********002X"


def test_logs_never_carry_a_full_mobile_or_id_number(caplog):
    logger = logging.getLogger("piaogen.test")
    record = logger.makeRecord(
        "piaogen.test", logging.INFO, __file__, 1, "bind %s id %s", ("13812345678", "11010519491231002X"), None
    )
    MaskingFilter().filter(record)
    text = record.getMessage()
    assert "13812345678" not in text and "11010519491231002X" not in text
    assert "138****5678" in text and "1101**********002X" in text
