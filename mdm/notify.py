"""Live change delivery in one server process: wake-ups, one shared reader, bounded buffers.

- ``ChangeNotifier`` wakes the process when events may have been committed: on
  PostgreSQL, one dedicated connection LISTENs on ``mdm.events.NOTIFY_CHANNEL`` (every
  writer's transaction NOTIFYs it, delivered at commit, to every process); in any case,
  a commit of this process that wrote events wakes it directly (a Session ``after_commit``
  listener), which is all SQLite has. A wake-up is only a hint.
- ``ChangeFeed`` is the one reader of new events for every live subscriber of the
  process: woken (or every ``poll_seconds``, so a lost hint costs a second, never an
  event), it reads the events after its position and offers each to every subscriber,
  whose buffer holds at most ``buffer`` events (``MDM_SUBSCRIPTION_BUFFER``). A subscriber
  whose buffer is full is dropped: its stream ends with ``CONSUMER_TOO_SLOW`` and it
  resumes from its cursor.
- ``ChangeFeed.follow`` is one subscriber's stream: it replays from its position with
  reads of its own until it has caught up, then joins the feed at the feed's position and
  replays what lies between, then takes the live events; each event once, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import weakref
from collections.abc import AsyncIterator, Callable

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, SessionTransaction

from mdm.changes import EVERYTHING, Change, ChangeBatch, ChangeFilter, head, read_changes
from mdm.errors import ConsumerTooSlowError, CursorExpiredError
from mdm.events import CHANGES_WRITTEN, NOTIFY_CHANNEL
from mdm.store import Database

log = logging.getLogger("mdm.notify")

POLL_SECONDS = 1.0  # read anyway, this long after the last wake-up
READ_BATCH = 500  # events the feed reads at a time (offered at once: under the buffer)
REPLAY_BATCH = 2000  # events a replaying subscriber reads at a time (sent as it goes)
RECONNECT_SECONDS = 2.0  # pause before listening again after the connection was lost


class ChangeNotifier:
    """Wakes this process's readers when events may have been committed (see the module
    docstring). Start it on the event loop that waits on it."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._changed = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listener: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()  # set while the LISTEN connection is up

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        _LOCAL.add(self)
        _install_commit_hook()
        if not self.database.is_sqlite:
            self._listener = asyncio.create_task(self._listen())

    async def close(self) -> None:
        _LOCAL.discard(self)
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None

    def changed(self) -> asyncio.Event:
        """The event the next wake-up sets. Take it *before* reading, then wait on it: a
        wake-up between the read and the wait is not lost."""
        return self._changed

    def wake(self) -> None:
        """Wake every waiter (on the notifier's loop)."""
        woken, self._changed = self._changed, asyncio.Event()
        woken.set()

    def wake_threadsafe(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self.wake)

    async def _listen(self) -> None:
        import psycopg

        url = make_url(self.database.url).set(drivername="postgresql")
        conninfo = url.render_as_string(hide_password=False)
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    conninfo, autocommit=True
                ) as connection:
                    await connection.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    self.listening.set()
                    self.wake()  # whatever was committed while not listening
                    async for _ in connection.notifies():
                        self.wake()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # lost connection: readers poll meanwhile
                log.warning("LISTEN %s: %s; retrying", NOTIFY_CHANNEL, error)
            self.listening.clear()
            await asyncio.sleep(RECONNECT_SECONDS)


# Notifiers of this process, woken after a commit that wrote events.
_LOCAL: weakref.WeakSet[ChangeNotifier] = weakref.WeakSet()
_HOOK_LOCK = threading.Lock()


def _after_commit(session: Session) -> None:
    if session.info.pop(CHANGES_WRITTEN, False):
        for notifier in list(_LOCAL):
            notifier.wake_threadsafe()


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # a rolled-back transaction's mark goes with it
        session.info.pop(CHANGES_WRITTEN, None)


def _install_commit_hook() -> None:
    with _HOOK_LOCK:
        if not event.contains(Session, "after_commit", _after_commit):
            event.listen(Session, "after_commit", _after_commit)
            event.listen(Session, "after_transaction_end", _after_transaction_end)


# A live subscriber's direct sink: sends one event now and says how it went: True (sent),
# False (not taken: buffer it, its task sends it), or a future (the send goes on and ends
# with the future; until then the subscriber's later events are buffered).
Sink = Callable[[Change], "bool | asyncio.Future[None]"]


class Subscriber:
    """A live subscriber's bounded buffer of the events its filter lets through, or, while
    its task is idle and it has a ``sink``, a direct delivery: the feed hands each event to
    the sink itself, with no task to wake (a thousand subscribers per event)."""

    def __init__(self, where: ChangeFilter, start: int, limit: int) -> None:
        self.where = where
        self.start = start  # the feed's position when it joined: later events come here
        self.limit = limit
        self.is_dropped = False
        self.sink: Sink | None = None
        self._buffer: list[Change] = []
        self._waiter: asyncio.Future[None] | None = None  # what ``take`` waits on
        self._taking = False  # its task waits in ``take``, holding nothing unsent
        self._sending: asyncio.Future[None] | None = None  # a direct send not finished

    def offer(self, change: Change) -> bool:
        """Deliver or buffer the event if the filter wants it; False when the buffer was
        full (the subscriber is then dropped and its buffer emptied)."""
        if not self.where.matches(change):
            return True
        if self.sink is not None and self._taking and self._sending is None and not self._buffer:
            sent = self.sink(change)
            if sent is True:
                return True
            if sent is not False:
                self._sending = sent
                sent.add_done_callback(self._sent)
                return True
        if len(self._buffer) >= self.limit:
            self.drop()
            return False
        self._buffer.append(change)
        self._wake()
        return True

    def drop(self) -> None:
        """End the subscription with ``CONSUMER_TOO_SLOW`` (its buffer is let go)."""
        self.is_dropped = True
        self._buffer.clear()
        self._wake()

    def _sent(self, _: asyncio.Future[None]) -> None:
        self._sending = None
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def take(self) -> list[Change]:
        """Every buffered event, once there is at least one and no direct send is still
        going on (so events leave in order).

        Raises:
            ConsumerTooSlowError: the subscriber was dropped.
        """
        self._taking = True
        try:
            while not self._buffer or self._sending is not None:
                if self.is_dropped:
                    raise ConsumerTooSlowError(
                        f"the subscriber fell more than {self.limit:,} events behind "
                        "(MDM_SUBSCRIPTION_BUFFER); subscribe again after the last event "
                        "received"
                    )
                # A bare future: an asyncio.Event costs several times more to set.
                self._waiter = asyncio.get_running_loop().create_future()
                try:
                    await self._waiter
                finally:
                    self._waiter = None
        finally:
            self._taking = False
        taken, self._buffer = self._buffer, []
        return taken


class StoredEvents(list[Change]):
    """Events one subscriber read from the store for itself (its replay, or what lay
    between it and the feed): no other subscriber is sent these, so a renderer need not
    keep their texts for others (``ChangeRenderer.text_once``)."""


class ChangeFeed:
    """One process's shared reader of new events for its live subscribers (see the module
    docstring). Runs while anyone subscribes."""

    def __init__(
        self,
        database: Database,
        notifier: ChangeNotifier,
        *,
        buffer: int,
        batch: int = READ_BATCH,
        replay_batch: int = REPLAY_BATCH,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        if buffer < 1:
            raise ValueError(f"a subscriber buffer holds at least one event, not {buffer}")
        self.database = database
        self.notifier = notifier
        self.buffer = buffer
        self.batch = batch
        self.replay_batch = replay_batch
        self.poll_seconds = poll_seconds
        self.position = 0  # the feed has offered every event up to here
        self._subscribers: set[Subscriber] = set()
        self._reader: asyncio.Task[None] | None = None

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    async def follow(self, after: int, where: ChangeFilter = EVERYTHING) -> AsyncIterator[Change]:
        """Every event after position ``after`` that ``where`` lets through, in order,
        replayed then live, until the caller stops (``follow_batches``, one at a time)."""
        async for changes in self.follow_batches(after, where):
            for change in changes:
                yield change

    async def follow_batches(
        self,
        after: int,
        where: ChangeFilter = EVERYTHING,
        members: frozenset[str] | None = None,
        sink: Sink | None = None,
    ) -> AsyncIterator[list[Change]]:
        """As ``follow``, in the batches they were read in (replayed: up to
        ``replay_batch``; live: what arrived since the caller last asked), none empty.
        ``members``: what the caller reads of a replayed event's payload (``read_changes``;
        live events, shared by every subscriber, carry all of it). ``sink``: once live,
        an event that finds the caller waiting for the next batch goes to the sink
        instead (``Subscriber``), and is not yielded.

        Raises:
            ConsumerTooSlowError: the subscriber fell a buffer behind while live.
            CursorExpiredError: events it had not read yet were pruned.
        """
        cursor = after
        async for batch in self._replay(after, where, members):  # its own reads until caught up
            if batch.changes:
                yield StoredEvents(batch.changes)
            cursor = batch.scanned_to
        subscriber = await self._join(where)
        try:
            while cursor < subscriber.start:  # what lies between: read up to the feed
                batch = await self._read(cursor, where, upto=subscriber.start, members=members)
                if batch.changes:
                    yield StoredEvents(batch.changes)
                cursor = batch.scanned_to
            subscriber.sink = sink
            while True:
                fresh = [c for c in await subscriber.take() if c.seq > cursor]
                if fresh:
                    yield fresh
                    cursor = fresh[-1].seq
        finally:
            self._subscribers.discard(subscriber)

    async def _replay(
        self, after: int, where: ChangeFilter, members: frozenset[str] | None
    ) -> AsyncIterator[ChangeBatch]:
        """Batches after ``after`` until caught up, each next one read (on a thread) while
        the caller sends the one before."""
        ahead = asyncio.ensure_future(self._read(after, where, self.replay_batch, members))
        try:
            while True:
                batch = await ahead
                if not batch.is_caught_up:
                    ahead = asyncio.ensure_future(
                        self._read(batch.scanned_to, where, self.replay_batch, members)
                    )
                yield batch
                if batch.is_caught_up:
                    return
        finally:
            if not ahead.done():
                ahead.cancel()
            elif not ahead.cancelled():
                ahead.exception()  # read ahead for a caller that stopped: not an error

    async def close(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def _read(
        self,
        after: int,
        where: ChangeFilter,
        limit: int = 0,
        members: frozenset[str] | None = None,
        *,
        upto: int | None = None,
    ) -> ChangeBatch:
        return await asyncio.to_thread(
            self._read_now, after, where, upto, limit or self.batch, members
        )

    def _read_now(
        self,
        after: int,
        where: ChangeFilter,
        upto: int | None,
        limit: int,
        members: frozenset[str] | None,
    ) -> ChangeBatch:
        with self.database.read_session() as session:
            return read_changes(session, after, limit, where, upto=upto, members=members)

    async def _join(self, where: ChangeFilter) -> Subscriber:
        if self._reader is None or self._reader.done():
            position = await asyncio.to_thread(self._head)
            if self._reader is None or self._reader.done():  # still: nobody started it
                self.position = position
                self._reader = asyncio.create_task(self._run())
        subscriber = Subscriber(where, self.position, self.buffer)
        self._subscribers.add(subscriber)
        return subscriber

    def _head(self) -> int:
        with self.database.read_session() as session:
            return head(session)

    async def _run(self) -> None:
        """Read and offer new events until no one subscribes."""
        while self._subscribers:
            changed = self.notifier.changed()
            try:
                batch = await self._read(self.position, EVERYTHING)
            except CursorExpiredError:  # pruned under a stalled feed: everyone resumes
                self._drop_all()
                self.position = await asyncio.to_thread(self._head)
                continue
            except Exception:
                log.exception("reading change events failed; retrying")
                await asyncio.sleep(self.poll_seconds)
                continue
            for change in batch.changes:
                for subscriber in list(self._subscribers):
                    if not subscriber.offer(change):
                        self._subscribers.discard(subscriber)
            self.position = batch.scanned_to
            if not batch.is_caught_up:
                await asyncio.sleep(0)  # let subscribers take what they were given
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), self.poll_seconds)
        self._reader = None

    def _drop_all(self) -> None:
        for subscriber in self._subscribers:
            subscriber.drop()
        self._subscribers.clear()
