"""Relay of the change-event outbox to NATS JetStream, for scale beyond one database.

The hub's ``change_event`` table is the outbox: every golden change writes a row in the
same transaction. The relay reads it in sequence order from its stored position and
publishes each event to the subject ``<prefix>.<entity type>`` of one stream, with the
event's sequence number as the JetStream message id (``Nats-Msg-Id``). JetStream drops a
message whose id it has seen within the stream's duplicate window, so a relay killed
between publishing a batch and storing its position publishes that batch again on restart
and the stream still holds each event once, in order. The position is a row of
``consumer_offset`` (consumer ``relay:<stream>``), advanced only after JetStream
acknowledged every message of the batch.

Thousands of consumers, or other sites, then read the stream (a durable JetStream
consumer each, or a mirror stream per site) instead of the hub's database.

Example:
    mdm relay nats://127.0.0.1:4222
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Text, cast, select

from mdm.errors import InvalidInputError, UnavailableError
from mdm.store import ChangeEvent, ConsumerOffset, Database, core_connection

log = logging.getLogger("mdm.relay")

DEFAULT_STREAM = "MDM_CHANGES"
DEFAULT_SUBJECT_PREFIX = "mdm.changes"
# Long enough that a relay restarted after a day still has its last batch de-duplicated.
DUPLICATE_WINDOW_SECONDS = 24 * 3600.0


@dataclass(frozen=True)
class RelayConfig:
    """Where and how the relay publishes."""

    url: str = "nats://127.0.0.1:4222"
    stream: str = DEFAULT_STREAM
    subject_prefix: str = DEFAULT_SUBJECT_PREFIX
    batch: int = 500
    idle_seconds: float = 0.5  # pause when caught up, before reading again
    max_rate: float = 0.0  # events per second at most (0: as fast as JetStream takes them)

    @property
    def consumer(self) -> str:
        return f"relay:{self.stream}"

    def validate(self) -> None:
        if not self.url.startswith(("nats://", "tls://", "ws://", "wss://")):
            raise InvalidInputError(f"not a NATS URL: {self.url!r}", field="url")
        if not self.stream.replace("_", "").replace("-", "").isalnum():
            raise InvalidInputError(
                f"stream name {self.stream!r}: letters, digits, _ and - only", field="stream"
            )
        if not self.subject_prefix or any(c in self.subject_prefix for c in " *>"):
            raise InvalidInputError(
                f"subject prefix {self.subject_prefix!r} may not hold spaces or wildcards",
                field="subjectPrefix",
            )
        if not 1 <= self.batch <= 10_000:
            raise InvalidInputError("batch must be between 1 and 10,000", field="batch")
        if self.max_rate < 0:
            raise InvalidInputError("max rate must not be negative", field="maxRate")


@dataclass(frozen=True)
class RelayedEvent:
    seq: int
    entity_type: str
    body: bytes


def stored_position(database: Database, consumer: str) -> int:
    """The last sequence number the consumer has finished with (0: none)."""
    with database.read_session() as session:
        found = session.get(ConsumerOffset, consumer)
        return found.position if found is not None else 0


def store_position(database: Database, consumer: str, position: int) -> None:
    """Advance the consumer to ``position`` (never back)."""
    with database.session() as session:
        found = session.get(ConsumerOffset, consumer, with_for_update=True)
        if found is None:
            session.add(ConsumerOffset(consumer=consumer, position=position))
        elif position > found.position:
            found.position = position


def read_events(database: Database, after: int, limit: int) -> list[RelayedEvent]:
    """Up to ``limit`` events after sequence number ``after``, in order, as message bodies."""
    with database.read_session() as session:
        rows = (
            core_connection(session)
            .execute(
                select(*_COLUMNS)
                .where(ChangeEvent.seq > after)
                .order_by(ChangeEvent.seq)
                .limit(limit)
            )
            .all()
        )
    return [RelayedEvent(r.seq, r.entity_type, event_body(r)) for r in rows]


_COLUMNS = (
    ChangeEvent.seq,
    ChangeEvent.kind,
    ChangeEvent.entity_type,
    ChangeEvent.golden_public_id,
    ChangeEvent.version,
    # As stored JSON text: spliced into the message as it is, never decoded and re-encoded.
    cast(ChangeEvent.payload, Text).label("payload"),
    ChangeEvent.actor,
    ChangeEvent.correlation_id,
    ChangeEvent.created_at,
)


def event_body(row: Any) -> bytes:
    """The JSON a subscriber of the stream receives for one event (a ``change_event`` row)."""
    document: dict[str, Any] = {
        "seq": row.seq,
        "kind": row.kind,
        "entityType": row.entity_type,
        "goldenId": row.golden_public_id,
        "version": row.version,
        "payload": orjson.Fragment(row.payload) if isinstance(row.payload, str) else row.payload,
        "actor": row.actor,
        "correlationId": row.correlation_id,
        "createdAt": row.created_at,  # orjson writes it as isoformat() does
    }
    return orjson.dumps(document)


async def _log_client_error(error: Exception) -> None:
    log.debug("nats: %s", error or type(error).__name__)


ACK_SECONDS = 30.0  # JetStream's acknowledgements of a batch must arrive within this


class _Acks:
    """JetStream's acknowledgements of the messages in flight, each asked to the subject
    ``<inbox>.<sequence number>`` (one subscription for all, instead of a future, a
    semaphore and a callback per message)."""

    def __init__(self, inbox: str) -> None:
        self.inbox = inbox
        self._waiting: set[int] = set()
        self._failure: str | None = None
        self._all_in: asyncio.Future[None] | None = None

    def expect(self, seq: int) -> str:
        """The reply subject of the message with this sequence number."""
        self._waiting.add(seq)
        return f"{self.inbox}.{seq}"

    async def received(self, message: Any) -> None:
        """A reply: a PubAck (``duplicate`` included), an error, or no responders."""
        _, _, token = message.subject.rpartition(".")
        status = (message.headers or {}).get("Status")
        try:
            reply = orjson.loads(message.data) if message.data else {}
        except orjson.JSONDecodeError:
            reply = {}
        if status or "error" in reply or "seq" not in reply:
            found = reply.get("error") or {}
            self._failure = (
                f"JetStream refused event {token}: "
                f"{found.get('description') or (f'status {status}' if status else 'no ack')}"
            )
        elif token.isdigit():
            self._waiting.discard(int(token))
        if (self._failure or not self._waiting) and self._all_in and not self._all_in.done():
            self._all_in.set_result(None)

    async def wait(self) -> None:
        """Until every message sent is acknowledged.

        Raises:
            UnavailableError: one was refused, or not acknowledged within ACK_SECONDS.
        """
        if self._waiting and self._failure is None:
            self._all_in = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(self._all_in, ACK_SECONDS)
            except TimeoutError:
                raise UnavailableError(
                    f"JetStream acknowledged no message of {len(self._waiting):,} within "
                    f"{ACK_SECONDS:.0f} s; the relay resumes from its stored position",
                    field="url",
                ) from None
            finally:
                self._all_in = None
        if self._failure is not None:
            raise UnavailableError(self._failure, field="url")


class Relay:
    """Publishes the outbox to JetStream from the stored position; see the module doc."""

    def __init__(self, database: Database, config: RelayConfig) -> None:
        config.validate()
        self.database = database
        self.config = config
        self.published = 0

    async def run(self, *, until_caught_up: bool = False, stop: asyncio.Event | None = None) -> int:
        """Relay until ``stop`` is set (or, with ``until_caught_up``, until no event is
        left); returns how many events were published (duplicates included)."""
        import nats  # imported here: only a relay needs the client

        try:
            client = await nats.connect(
                self.config.url,
                connect_timeout=5,
                allow_reconnect=False,
                max_reconnect_attempts=1,
                error_cb=_log_client_error,  # the client's default prints a traceback
            )
        except Exception as error:  # the client raises several kinds; all mean the same here
            raise UnavailableError(
                f"cannot reach NATS at {self.config.url}: {error or type(error).__name__}",
                field="url",
            ) from None
        try:
            stream = client.jetstream()
            await self._ensure_stream(stream)
            acks = _Acks(client.new_inbox())
            await client.subscribe(f"{acks.inbox}.*", cb=acks.received)
            position = await asyncio.to_thread(stored_position, self.database, self.config.consumer)
            # Pipelined: the next batch is read while this one is published, and a
            # position is stored while the next batch is in flight (never ahead of acks).
            reading = self._read(position)
            storing: asyncio.Task[None] | None = None
            while stop is None or not stop.is_set():
                events = await reading
                if not events:
                    if until_caught_up:
                        break
                    await asyncio.sleep(self.config.idle_seconds)
                    reading = self._read(position)
                    continue
                reading = self._read(events[-1].seq)
                started = time.monotonic()
                await self._publish(client, acks, events)
                position = events[-1].seq
                if storing is not None:
                    await storing
                storing = asyncio.create_task(
                    asyncio.to_thread(store_position, self.database, self.config.consumer, position)
                )
                if self.config.max_rate:
                    spare = len(events) / self.config.max_rate - (time.monotonic() - started)
                    if spare > 0:
                        await asyncio.sleep(spare)
            if storing is not None:
                await storing
            reading.cancel()
        finally:
            await client.drain()
        return self.published

    def _read(self, after: int) -> asyncio.Task[list[RelayedEvent]]:
        return asyncio.create_task(
            asyncio.to_thread(read_events, self.database, after, self.config.batch)
        )

    async def _ensure_stream(self, stream: Any) -> None:
        from nats.js.errors import NotFoundError

        subjects = [f"{self.config.subject_prefix}.>"]
        try:
            await stream.stream_info(self.config.stream)
        except NotFoundError:
            await stream.add_stream(
                name=self.config.stream,
                subjects=subjects,
                duplicate_window=DUPLICATE_WINDOW_SECONDS,
            )
            log.info("created stream %s for %s", self.config.stream, subjects)

    async def _publish(self, client: Any, acks: _Acks, events: Sequence[RelayedEvent]) -> None:
        """Publish a batch, every message in flight at once, and wait for every ack.
        One connection keeps the order of its messages, so the stream holds them in
        sequence order."""
        prefix = self.config.subject_prefix
        for event in events:
            await client.publish(
                f"{prefix}.{event.entity_type}",
                event.body,
                reply=acks.expect(event.seq),
                headers={"Nats-Msg-Id": str(event.seq)},
            )
        await acks.wait()
        self.published += len(events)
