"""The broker's edge (piaogen/broker.py) in one process: the embedded filesystem transport
writes by rename and claims by rename, and a message that cannot be decoded is set aside (log
line, file moved, ``SetAsideMessage`` row) while the next one is read. Real worker processes
under load: tests/e2e/test_broker_stress.py."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from kombu import Connection

import piaogen.celery  # noqa: F401  (registers the project's transports for the URL schemes)
from piaogen.broker import Consumer, FilesystemTransport, RedisTransport
from piaogen.models import SetAsideMessage


@pytest.fixture(autouse=True)
def _fresh_broker_state():
    """kombu keeps the bindings the filesystem transport declared in one state per process: each test's folders
    must be declared anew."""
    FilesystemTransport.global_state.clear()
    yield
    FilesystemTransport.global_state.clear()


def _options(root: Path) -> dict:
    queue = root / "queue"
    for name in ("queue", "control"):
        (root / name).mkdir(parents=True, exist_ok=True)
    return {"data_folder_in": str(queue), "data_folder_out": str(queue), "control_folder": str(root / "control")}


def test_the_url_schemes_name_the_projects_transports(tmp_path):
    with Connection("filesystem://", transport_options=_options(tmp_path)) as conn:
        assert isinstance(conn.transport, FilesystemTransport)
    with Connection("redis://127.0.0.1:1/0") as conn:
        assert isinstance(conn.transport, RedisTransport)


def test_a_message_reaches_the_queue_whole_and_leaves_nothing_behind(tmp_path):
    with Connection("filesystem://", transport_options=_options(tmp_path)) as conn:
        queue = conn.SimpleQueue("default")
        queue.put({"n": 1})
        files = os.listdir(tmp_path / "queue")
        assert len(files) == 1 and files[0].endswith(".default.msg")
        assert json.loads((tmp_path / "queue" / files[0]).read_text())["body"]  # complete at once
        assert os.listdir(tmp_path / "tmp") == []  # written there, renamed into the queue
        message = queue.get(timeout=2)
        message.ack()
        assert message.payload == {"n": 1}
        assert os.listdir(tmp_path / "queue") == [] and os.listdir(tmp_path / "claimed") == []
        queue.close()


@pytest.mark.django_db
def test_an_empty_or_undecodable_file_is_set_aside_and_the_next_message_is_read(tmp_path, caplog):
    with Connection("filesystem://", transport_options=_options(tmp_path)) as conn:
        queue = conn.SimpleQueue("default")
        bad = {
            "000000000000001_empty.default.msg": b"",
            "000000000000002_half.default.msg": b'{"body": "eyJ',
            "000000000000003_list.default.msg": b"[1, 2]",
            "000000000000004_binary.default.msg": b"\xff\xfe\x00",
        }
        for name, content in bad.items():
            (tmp_path / "queue" / name).write_bytes(content)
        queue.put({"n": "after"})
        with caplog.at_level(logging.ERROR, logger="piaogen.broker"):
            message = queue.get(timeout=2)
        message.ack()
        assert message.payload == {"n": "after"}
        assert sorted(os.listdir(tmp_path / "set-aside")) == sorted(bad)
        rows = list(SetAsideMessage.objects.order_by("name"))
        assert [r.name for r in rows] == sorted(bad) and {r.broker for r in rows} == {"filesystem"}
        assert {r.queue for r in rows} == {"default"} and rows[1].body == '{"body": "eyJ'
        logged = caplog.text
        assert all(name in logged for name in bad) and "set aside" in logged
        queue.close()


def test_two_readers_never_take_the_same_message(tmp_path):
    options = _options(tmp_path)
    with (
        Connection("filesystem://", transport_options=options) as a,
        Connection("filesystem://", transport_options=options) as b,
    ):
        qa, qb = a.SimpleQueue("default"), b.SimpleQueue("default")
        for n in range(60):
            qa.put({"n": n})
        seen = []
        for _ in range(30):
            for q in (qa, qb):
                m = q.get(timeout=2)
                m.ack()
                seen.append(m.payload["n"])
        assert sorted(seen) == list(range(60))
        qa.close()
        qb.close()


@pytest.mark.django_db
def test_undecodable_messages_on_redis_are_set_aside_and_the_next_is_read(tmp_path):
    from tests.reliability.conftest import RedisServer

    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        with Connection(server.url) as conn:
            queue = conn.SimpleQueue("default")
            queue.put({"n": "first"})  # declares the queue; then garbage lands behind it
            client = server.client()
            client.lpush("default", b"")
            client.lpush("default", b"{not json")
            queue.put({"n": "after"})
            got = []
            for _ in range(2):
                m = queue.get(timeout=5)
                m.ack()
                got.append(m.payload["n"])
            assert got == ["first", "after"]
            rows = list(SetAsideMessage.objects.all())
            assert len(rows) == 2 and {r.broker for r in rows} == {"redis"} and {r.queue for r in rows} == {"default"}
            assert {r.body for r in rows} == {"", "{not json"}
            queue.close()
    finally:
        server.stop()


@pytest.mark.django_db
def test_a_body_that_does_not_decode_is_set_aside_and_acknowledged(caplog):
    acked = []
    message = SimpleNamespace(
        body=b"\x80\x04not-json",
        headers={"id": "a1b2", "task": "invoices.tasks.issue_application"},
        delivery_info={"routing_key": "default"},
        ack=lambda: acked.append(True),
    )
    consumer = SimpleNamespace(connection=SimpleNamespace(transport=SimpleNamespace(driver_type="redis")))
    consumer._broker_name = lambda: Consumer._broker_name(consumer)
    with caplog.at_level(logging.ERROR, logger="piaogen.broker"):
        Consumer.on_decode_error(consumer, message, ValueError("Expecting value"))
    assert acked == [True]
    row = SetAsideMessage.objects.get()
    assert (row.broker, row.queue, row.name) == ("redis", "default", "a1b2") and "Expecting value" in row.reason
    assert "a1b2" in caplog.text


@pytest.mark.django_db
def test_the_console_lists_set_aside_messages_to_admins(admin_client):
    SetAsideMessage.objects.create(broker="filesystem", queue="default", name="0001_x.default.msg", reason="empty")
    r = admin_client.get("/admin/piaogen/setasidemessage/")
    assert r.status_code == 200 and "0001_x.default.msg" in r.content.decode()
    assert admin_client.get("/admin/piaogen/setasidemessage/add/").status_code == 403
