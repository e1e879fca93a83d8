"""The broker's edge, for every worker and publisher of the project.

- The embedded broker (``filesystem://``, what ``make run`` uses without Redis) is kombu's
  filesystem transport with two changes: a message is written under a temporary name in a
  folder beside the queue and renamed into place (a rename is atomic, so a reader never sees a
  half-written file), and a reader claims a file by renaming it into its claim folder before
  reading it (only one reader can win a rename, so two workers never take the same message).
- A message that cannot be decoded, on the filesystem or on Redis, is *set aside*: logged with
  a line naming it and stored in ``SetAsideMessage`` (the console's "搁置的消息" list), and the
  worker goes on with the next one. Before, kombu raised out of the consumer and Celery stopped
  the worker with ``Unrecoverable error: JSONDecodeError``.
- A message whose envelope decodes but whose body does not, or that names no task of ours,
  is set aside the same way by the worker's consumer (``Consumer`` below).

Settings pick these classes: ``CELERY_BROKER_TRANSPORT`` and ``CELERY_WORKER_CONSUMER``.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections import deque
from pathlib import Path
from queue import Empty
from time import monotonic

from celery.worker.consumer import Consumer as CeleryConsumer
from kombu.transport import filesystem, redis
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads
from kombu.utils.objects import cached_property

logger = logging.getLogger("piaogen.broker")

BODY_KEPT = 64 * 1024  # characters of a set-aside message kept in the database


class Undecodable(ValueError):
    pass


def decode(raw: bytes | str) -> dict:
    """One message envelope as the virtual transports store it; ``Undecodable`` otherwise."""
    try:
        message = loads(bytes_to_str(raw))
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise Undecodable(f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(message, dict) or "body" not in message:
        raise Undecodable("not a message envelope")
    return message


def set_aside(raw: bytes | str | None, *, broker: str, queue: str, reason: str, name: str = "") -> None:
    """Logs the message by name and keeps it for the console. Never raises: the consumer must
    go on whatever happens here (a database that is down leaves the log line and, for the
    filesystem broker, the file in its set-aside folder)."""
    if isinstance(raw, bytes):
        text = raw.decode("utf-8", errors="replace")
    else:
        text = raw or ""
    logger.error(
        "broker %s: message %s on queue %s set aside (%s, %d characters); the worker goes on",
        broker,
        name or "-",
        queue or "-",
        reason,
        len(text),
    )
    try:
        from django.db import close_old_connections, connection

        from piaogen.models import SetAsideMessage

        if not connection.in_atomic_block:  # a long-lived consumer's connection may have gone stale
            close_old_connections()
        from django.db import transaction

        # PostgreSQL's text holds no NUL character: a binary message is kept with them replaced.
        with transaction.atomic():  # a savepoint: a failed insert never spoils the caller's transaction
            SetAsideMessage.objects.create(
                broker=broker[:20],
                queue=(queue or "")[:200].replace("\x00", "\ufffd"),
                name=(name or "")[:200].replace("\x00", "\ufffd"),
                reason=reason[:300].replace("\x00", "\ufffd"),
                size=len(text),
                body=text[:BODY_KEPT].replace("\x00", "\ufffd"),
            )
    except Exception:
        logger.exception("broker %s: message %s set aside but not recorded in the database", broker, name or "-")


# --- the embedded broker: kombu's filesystem transport, written and claimed by rename ----------


class FilesystemChannel(filesystem.Channel):
    """Folders (transport options; settings derive them from ``var/broker/``): the queue
    (``data_folder_in`` = ``data_folder_out``), ``tmp_folder`` where a message is written
    before its rename into the queue, ``claim_folder`` where a reader moves a file it takes,
    and ``set_aside_folder`` for files that could not be decoded. All on one filesystem, so
    every move is a rename."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._listings: dict[str, deque[str]] = {}
        for folder in (self.tmp_folder, self.claim_folder, self.set_aside_folder):
            Path(folder).mkdir(parents=True, exist_ok=True)

    def _folder(self, option: str, default: str) -> str:
        value = self.transport_options.get(option)
        if value:
            return value
        return os.path.join(os.path.dirname(os.path.abspath(self.data_folder_in)), default)

    @cached_property
    def tmp_folder(self) -> str:
        return self._folder("tmp_folder", "tmp")

    @cached_property
    def claim_folder(self) -> str:
        return self._folder("claim_folder", "claimed")

    @cached_property
    def set_aside_folder(self) -> str:
        return self._folder("set_aside_folder", "set-aside")

    def _put(self, queue, payload, **kwargs):
        # Zero-padded milliseconds, so that names sort in publishing order.
        name = f"{int(monotonic() * 1000):015d}_{uuid.uuid4()}.{queue}.msg"
        tmp = os.path.join(self.tmp_folder, name)
        try:
            with open(tmp, "xb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(tmp, os.path.join(self.data_folder_out, name))
        except OSError as exc:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise filesystem.ChannelError(f"Cannot add file {name!r} to the queue") from exc

    def _candidates(self, queue: str) -> deque[str]:
        """The queue's files in order, listed once and then taken one by one (listing and
        sorting a folder of 10,000 files for every message would cost seconds)."""
        listing = self._listings.get(queue)
        if not listing:
            wanted = f"{queue}.msg"
            listing = deque(sorted(n for n in os.listdir(self.data_folder_in) if n.partition(".")[2] == wanted))
            self._listings[queue] = listing
        return listing

    def _get(self, queue):
        listing = self._candidates(queue)
        while listing:
            filename = listing.popleft()
            claimed = os.path.join(self.claim_folder, filename)
            try:
                os.rename(os.path.join(self.data_folder_in, filename), claimed)
            except FileNotFoundError:
                continue  # another reader took it first
            except OSError as exc:
                raise filesystem.ChannelError(f"Cannot claim {filename!r}") from exc
            try:
                with open(claimed, "rb") as f:
                    payload = f.read()
            except OSError as exc:
                raise filesystem.ChannelError(f"Cannot read {filename!r}") from exc
            try:
                message = decode(payload)
            except Undecodable as exc:
                os.replace(claimed, os.path.join(self.set_aside_folder, filename))
                set_aside(payload, broker="filesystem", queue=queue, reason=str(exc), name=filename)
                continue
            os.unlink(claimed)
            return message
        raise Empty()

    def _queue_bind(self, exchange, routing_key, pattern, queue):
        """kombu creates the exchange file empty and then writes it: a reader in between read
        nothing and raised. The first version is now written aside and renamed into place."""
        file = self._exchange_file(exchange)
        if not file.exists():
            self.control_folder.mkdir(parents=True, exist_ok=True)
            tmp = os.path.join(self.tmp_folder, f"{uuid.uuid4()}.exchange")
            with open(tmp, "wb") as f:
                f.write(str_to_bytes(dumps([])))
            try:
                os.link(tmp, file)  # fails if another process created it meanwhile
            except FileExistsError:
                pass
            finally:
                os.unlink(tmp)
        super()._queue_bind(exchange, routing_key, pattern, queue)


class FilesystemTransport(filesystem.Transport):
    Channel = FilesystemChannel


# --- Redis: the same two reads as kombu's, with the envelope decoded safely ---------------------


class RedisChannel(redis.Channel):
    def _brpop_read(self, **options):
        try:
            try:
                dest__item = self.client.parse_response(self.client.connection, "BRPOP", **options)
            except self.connection_errors:
                self.client.connection.disconnect()
                raise
            if not dest__item:
                raise Empty()
            dest, item = dest__item
            dest = bytes_to_str(dest).rsplit(self.sep, 1)[0]
            self._queue_cycle.rotate(dest)
            try:
                message = decode(item)
            except Undecodable as exc:
                set_aside(item, broker="redis", queue=dest, reason=str(exc))
                raise Empty() from None
            self.connection._deliver(message, dest)
            return True
        finally:
            self._in_poll = None
            flush = getattr(self, "_flush_brpop_reauth", None)
            if flush is not None:
                flush()

    def _get(self, queue):
        with self.conn_or_acquire() as client:
            for pri in self.priority_steps:
                item = client.rpop(self._q_for_pri(queue, pri))
                if item:
                    self._maybe_update_queues_expire(client, queue)
                    try:
                        return decode(item)
                    except Undecodable as exc:
                        set_aside(item, broker="redis", queue=queue, reason=str(exc))
                        raise Empty() from None
            self._maybe_update_queues_expire(client, queue)
            raise Empty()


class RedisTransport(redis.Transport):
    Channel = RedisChannel


# --- the worker's consumer: bodies that do not decode, tasks that are not ours -----------------


def _raw_body(message) -> bytes | str:
    body = getattr(message, "body", b"")
    return body if isinstance(body, bytes | str) else repr(body)


def _label(message) -> tuple[str, str]:
    info = getattr(message, "delivery_info", None) or {}
    headers = getattr(message, "headers", None) or {}
    return info.get("routing_key") or "", str(headers.get("id") or "")


class Consumer(CeleryConsumer):
    """Celery's consumer; what it would log and drop is set aside first."""

    def _broker_name(self) -> str:
        transport = getattr(self.connection, "transport", None)
        return str(getattr(transport, "driver_type", "") or "broker")

    def on_decode_error(self, message, exc):
        queue, name = _label(message)
        set_aside(_raw_body(message), broker=self._broker_name(), queue=queue, reason=f"body: {exc}", name=name)
        message.ack()

    def on_unknown_message(self, body, message):
        queue, name = _label(message)
        set_aside(_raw_body(message), broker=self._broker_name(), queue=queue, reason="not a task message", name=name)
        super().on_unknown_message(body, message)

    def on_unknown_task(self, body, message, exc):
        queue, name = _label(message)
        set_aside(_raw_body(message), broker=self._broker_name(), queue=queue, reason=f"unknown task: {exc}", name=name)
        super().on_unknown_task(body, message, exc)

    def on_invalid_task(self, body, message, exc):
        queue, name = _label(message)
        set_aside(_raw_body(message), broker=self._broker_name(), queue=queue, reason=f"invalid task: {exc}", name=name)
        super().on_invalid_task(body, message, exc)
