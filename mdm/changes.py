"""The change stream's read side: events after a position, the head, named consumers, pruning.

Positions are ``change_event`` sequence numbers, in commit order (``mdm.events``): a
reader that has seen position N never later finds a newly committed event below it, so
"everything after my position" is all a reader ever asks for. Position 0 is before the
first event. The head is the newest event's position; every event at or below it is
committed, so a snapshot read after reading the head reflects them all (the resync after
``CURSOR_EXPIRED``: read the head, then the snapshot, then follow the stream from the head,
applying events idempotently by golden id and version).

A named **consumer** (``consumer_offset``) keeps the position its owner acknowledged; the
relay's row ``relay:<stream>`` and the hub's ``mdm:pruned`` (the newest position removed by
pruning) live in the same table under reserved prefixes.

Retention (``MDM_CHANGE_RETENTION_DAYS``) removes events older than its cutoff, but never
the newest one, so numbering carries on from it on every database. A position below the
newest pruned one is ``CURSOR_EXPIRED``.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    Select,
    Text,
    bindparam,
    cast,
    delete,
    func,
    select,
    true,
)
from sqlalchemy.orm import Session

from mdm.auth import Principal, Role
from mdm.errors import (
    ConsumerExistsError,
    CursorBeyondHeadError,
    CursorExpiredError,
    ForbiddenError,
    InvalidInputError,
    InvalidPositionError,
    PositionBeyondHeadError,
    UnknownConsumerError,
    UnknownSystemError,
)
from mdm.screening import text_problem
from mdm.specs import SpecRegistry
from mdm.store import (
    ChangeEvent,
    ConsumerOffset,
    Database,
    SourceSystem,
    core_connection,
    utcnow,
)

MAX_POSITION = 2**63 - 1  # the largest sequence number a 64-bit key holds
MAX_CONSUMER_NAME = 200  # consumer_offset.consumer
PRUNED = "mdm:pruned"  # consumer_offset row: the newest position pruning removed
RESERVED_PREFIXES = ("mdm:", "relay:")  # the hub's own rows; no token registers these
PRUNE_CHUNK = 50_000  # events deleted per statement


class RawJson:
    """A payload member as its stored JSON text, not parsed (``TEXT_MEMBERS``)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"RawJson({self.text!r})"


# Members ``read_changes`` gives as their JSON text when asked for by name: the largest,
# which a renderer copies into its output as it is (parsing and writing it again cost
# more than the rest of the event).
TEXT_MEMBERS = frozenset({"attributes"})
_ATTRIBUTES_ONLY = ("attributes",)


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs 3x; none is changed
class Change:
    """One change event as stored (``payload``: ``mdm/schemas/change_event.schema.json``;
    a member of ``TEXT_MEMBERS`` read by name is its ``RawJson`` text)."""

    seq: int
    kind: str
    entity_type: str
    golden_id: str
    version: int
    payload: dict[str, Any]
    actor: str | None
    correlation_id: str | None
    created_at: datetime

    @property
    def systems(self) -> frozenset[str]:
        """The systems whose records it touches: its members' and those that left it."""
        refs = [*self.payload.get("sources", ()), *self.payload.get("removedSources", ())]
        return frozenset(ref["system"] for ref in refs)

    def source_ids(
        self, systems: Collection[str] | None = None, *, removed: bool = False
    ) -> list[tuple[str, str]]:
        """(system, source id) of its members (or of those that left, ``removed``), in
        ``systems`` only if given."""
        refs = self.payload.get("removedSources" if removed else "sources", ())
        return [
            (ref["system"], ref["sourceId"])
            for ref in refs
            if systems is None or ref["system"] in systems
        ]


@dataclass(frozen=True)
class ChangeFilter:
    """Which events a reader wants: of these entity types, touching these systems (None:
    all)."""

    entity_types: frozenset[str] | None = None
    systems: frozenset[str] | None = None

    def matches(self, change: Change) -> bool:
        if self.entity_types is not None and change.entity_type not in self.entity_types:
            return False
        return self.systems is None or not self.systems.isdisjoint(change.systems)


EVERYTHING = ChangeFilter()


@dataclass(frozen=True)
class ChangeBatch:
    """Events after a position, in order, and how far the read got: ``scanned_to`` is the
    position to read after next time (past the last event when a filter left some out).
    ``is_caught_up``: nothing was left beyond ``scanned_to`` when it was read."""

    changes: list[Change]
    scanned_to: int
    is_caught_up: bool


@dataclass(frozen=True)
class Consumer:
    """A named consumer's stored position."""

    name: str
    owner: str | None
    position: int
    acknowledged_at: datetime | None
    updated_at: datetime


# --------------------------------------------------------------------------- reading


# A session, or a connection (``Database.read``): reads take either.
Reads = Session | Connection


def _connection(reads: Reads) -> Connection:
    return reads if isinstance(reads, Connection) else core_connection(reads)


def head(session: Reads) -> int:
    """The newest event's position (0: none yet)."""
    return int(_connection(session).execute(_HEAD).scalar() or 0)


def pruned_through(session: Reads) -> int:
    """The newest position pruning removed (0: none)."""
    return int(_connection(session).execute(_PRUNED).scalar() or 0)


def head_and_pruned(session: Reads) -> tuple[int, int]:
    """``head`` and ``pruned_through``, in one statement."""
    newest, pruned = _connection(session).execute(_HEAD_AND_PRUNED).one()
    return int(newest or 0), int(pruned or 0)


# Read on every page and replayed batch: Core statements, without the ORM's per-statement work.
_HEAD = select(func.coalesce(func.max(ChangeEvent.seq), 0))
_PRUNED = select(ConsumerOffset.position).where(ConsumerOffset.consumer == PRUNED)
_HEAD_AND_PRUNED = select(_HEAD.scalar_subquery(), _PRUNED.scalar_subquery())


@functools.lru_cache(maxsize=256)
def _page_statement(
    names: tuple[str, ...] | None, entity_types: tuple[str, ...] | None, bounded: bool
) -> Select[Any]:
    """``read_changes``' statement (built once for each shape; ``:after``, ``:limit``
    and, if ``bounded``, ``:upto`` bound at each read): the page's rows, each after the
    head and the pruned position, or one row of nulls after them when the page is empty.
    One statement is one snapshot: every event at or below that head is committed
    (commit order), and the pruned position is the one the page was read under."""
    parts = [ChangeEvent.payload] if names is None else [_member(name) for name in names]
    page = select(*_COLUMNS, *parts).where(ChangeEvent.seq > bindparam("after"))
    if bounded:
        page = page.where(ChangeEvent.seq <= bindparam("upto"))
    if entity_types is not None:
        page = page.where(ChangeEvent.entity_type.in_(entity_types))
    rows = page.order_by(ChangeEvent.seq).limit(bindparam("limit", type_=Integer)).subquery()
    bounds = _HEAD_AND_PRUNED.subquery()
    return (
        select(*bounds.c, *rows.c).select_from(bounds.outerjoin(rows, true())).order_by(rows.c.seq)
    )


def check_position(position: int, *, field: str) -> int:
    """Refuse a position no sequence number can have (negative, or beyond 64 bits)."""
    if isinstance(position, bool) or not 0 <= position <= MAX_POSITION:
        raise InvalidPositionError(
            f"{field} must be a position between 0 and {MAX_POSITION:,}", field=field
        )
    return position


def check_after(
    session: Reads,
    after: int,
    *,
    field: str = "after",
    bounds: tuple[int, int] | None = None,
) -> int:
    """Check that reading after ``after`` can give every later event; returns it.
    ``bounds``: ``head_and_pruned`` as the caller just read them (else read here).

    Raises:
        CursorBeyondHeadError: no event has reached that position yet.
        CursorExpiredError: events after it were pruned.
    """
    check_position(after, field=field)
    newest, pruned = head_and_pruned(session) if bounds is None else bounds
    if after > newest:
        raise CursorBeyondHeadError(
            f"{field} is at position {after:,}, beyond the head ({newest:,})", field=field
        )
    _refuse_pruned(after, pruned, field)
    return after


def _refuse_pruned(after: int, pruned: int, field: str) -> None:
    if after < pruned:
        raise CursorExpiredError(
            f"{field} is at position {after:,}, but events up to {pruned:,} were pruned: "
            "read changeHead, resync from a snapshot, then continue from that head",
            field=field,
        )


def read_changes(
    session: Reads,
    after: int,
    limit: int,
    where: ChangeFilter = EVERYTHING,
    *,
    upto: int | None = None,
    members: Collection[str] | None = None,
) -> ChangeBatch:
    """Up to ``limit`` events after position ``after`` (and at most ``upto``) that
    ``where`` lets through, in order. ``members``: only these members of each payload are
    read (with those the filter needs; a null one is left out), the rest stay in the
    database, and those of ``TEXT_MEMBERS`` come as their ``RawJson`` text; None: the
    whole payload, parsed.

    Raises:
        CursorExpiredError: events after ``after`` were pruned (read in the same
            statement as the page, so a prune that ran while reading is noticed).
    """
    names: tuple[str, ...] | None = None  # None: the whole payload
    if members is not None:
        wanted = set(members) | (_FILTER_MEMBERS if where.systems is not None else set())
        names = tuple(sorted(wanted))
    types = None if where.entity_types is None else tuple(sorted(where.entity_types))
    rows = (
        _connection(session)
        .execute(
            _page_statement(names, types, upto is not None),
            {"after": after, "limit": limit, "upto": upto},
        )
        .all()
    )
    newest = int(rows[0][0] or 0) if upto is None else upto
    _refuse_pruned(after, int(rows[0][1] or 0), "after")
    changes = [
        Change(seq, kind, entity_type, golden_id, version,
               payload[0] if names is None else _present(names, payload),
               actor, correlation_id, created_at)
        for _, _, seq, kind, entity_type, golden_id, version, actor, correlation_id,
        created_at, *payload in rows
        if seq is not None
    ]  # fmt: skip
    is_caught_up = len(changes) < limit
    # Every event at or below the head read with the page was committed (commit order),
    # so a short page has seen them all; past the head, the last event read.
    scanned_to = max(newest, after) if is_caught_up else changes[-1].seq
    if changes and changes[-1].seq > scanned_to:
        scanned_to = changes[-1].seq
    if where.systems is not None:
        changes = [c for c in changes if where.matches(c)]
    return ChangeBatch(changes, scanned_to, is_caught_up)


@dataclass(frozen=True)
class Prepared:
    """A batch read ahead, with what ``prepare`` made of its events (None: nothing)."""

    batch: ChangeBatch
    made: object = None


class ReadAhead:
    """The batches after one a poller was given, read on a thread of its own while the
    poller takes the one it has: a poller given a full page asks next for the page after
    it, and then finds it read (``take``) instead of waiting for the database. Up to
    ``depth`` batches are read ahead of the one taken, each as soon as the one before it
    is read, so the reads go on while the poller handles what it has.

    Only a batch that was not caught up is given: every event up to its end was committed
    when it was read (commit order), so it is what a read now would give. A prune since
    is the caller's to check (``check_after`` of the position asked for, as before any
    read). Bounded: the newest ``kept`` batches, each for ``seconds``; a poller that does
    not come back costs ``depth`` reads.

    ``READERS`` threads read, so one batch's query runs while the one before it is
    prepared, each on its kept connection (``Database.read``)."""

    READERS = 2

    def __init__(
        self, database: Database, *, depth: int = 2, kept: int = 32, seconds: float = 30.0
    ) -> None:
        self.database = database
        self.depth = depth
        self.kept = kept
        self.seconds = seconds
        self._batches: OrderedDict[tuple[Any, ...], tuple[float, Future[Prepared]]] = OrderedDict()
        self._lock = threading.Lock()
        self._reader = ThreadPoolExecutor(self.READERS, thread_name_prefix="mdm-read-ahead")
        self._closed = False

    def start(
        self,
        after: int,
        limit: int,
        where: ChangeFilter,
        members: frozenset[str] | None,
        prepare: Callable[[list[Change]], object] | None = None,
    ) -> None:
        """Read, in the background, the batch ``read_changes`` would give for these, and
        the ones after it (``depth`` in all); ``prepare`` is called on each batch's events
        once read, on the same thread, and what it makes is given with the batch (the
        caller renders the page ahead)."""
        with self._lock:
            if not self._closed:
                self._expire()
                self._ensure(after, (limit, where, members), self.depth, prepare)

    def take(
        self, after: int, limit: int, where: ChangeFilter, members: frozenset[str] | None
    ) -> Prepared | None:
        """The batch read ahead for these (waiting for a read under way), once; None if
        there is none, it failed, or it was caught up (read again: more may have come)."""
        with self._lock:
            found = self._batches.pop((after, limit, where, members), None)
        if found is None:
            return None
        try:
            taken = found[1].result()
        except Exception:  # noqa: BLE001 (expired, cancelled, the database: the caller reads)
            return None
        return None if taken.batch.is_caught_up else taken

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for _, future in self._batches.values():
                future.cancel()
            self._batches.clear()
        self._reader.shutdown(wait=True)

    def _ensure(
        self,
        after: int,
        reading: tuple[Any, ...],
        depth: int,
        prepare: Callable[[list[Change]], object] | None,
    ) -> None:
        """(Under the lock.) The batch after ``after`` read or being read, and, while
        ``depth`` allows, the ones after it: those of a batch still being read are
        started when it ends."""
        key = (after, *reading)
        found = self._batches.get(key)
        if found is None:
            future = self._reader.submit(self._read, after, reading, depth - 1, prepare)
            self._batches[key] = (time.monotonic(), future)
            while len(self._batches) > self.kept:
                _, (_, dropped) = self._batches.popitem(last=False)
                dropped.cancel()
            return
        future = found[1]
        if depth > 1 and future.done() and not future.cancelled() and future.exception() is None:
            batch = future.result().batch
            if not batch.is_caught_up:
                self._ensure(batch.scanned_to, reading, depth - 1, prepare)

    def _expire(self) -> None:
        oldest = time.monotonic() - self.seconds
        while self._batches:
            key, (started, future) = next(iter(self._batches.items()))
            if started >= oldest:
                return
            del self._batches[key]
            future.cancel()

    def _read(
        self,
        after: int,
        reading: tuple[Any, ...],
        more: int,
        prepare: Callable[[list[Change]], object] | None,
    ) -> Prepared:
        limit, where, members = reading
        batch = self.database.read(
            lambda connection: read_changes(connection, after, limit, where, members=members)
        )
        if more > 0 and not batch.is_caught_up:
            with self._lock:
                if not self._closed:
                    self._ensure(batch.scanned_to, reading, more, prepare)
        if prepare is not None and not batch.is_caught_up:
            return Prepared(batch, prepare(batch.changes))
        return Prepared(batch)


def _member(name: str) -> Any:
    if name in TEXT_MEMBERS:  # as JSON text: PostgreSQL's own, SQLite's JSON_QUOTE
        return cast(ChangeEvent.payload[name], Text)
    return ChangeEvent.payload[name]


def _present(names: tuple[str, ...], values: Sequence[Any]) -> dict[str, Any]:
    if names == _ATTRIBUTES_ONLY:  # the common case, without the loop
        text = values[0]
        return {} if text is None or text == "null" else {"attributes": RawJson(text)}
    found = {}
    for name, value in zip(names, values, strict=True):
        if name in TEXT_MEMBERS:
            if value is not None and value != "null":  # SQLite quotes a missing one
                found[name] = RawJson(value)
        elif value is not None:
            found[name] = value
    return found


_COLUMNS = (  # the payload (or members of it) follows
    ChangeEvent.seq,
    ChangeEvent.kind,
    ChangeEvent.entity_type,
    ChangeEvent.golden_public_id,
    ChangeEvent.version,
    ChangeEvent.actor,
    ChangeEvent.correlation_id,
    ChangeEvent.created_at,
)
_FILTER_MEMBERS = {"sources", "removedSources"}  # what ChangeFilter.systems reads


def change_filter(
    session: Reads,
    specs: SpecRegistry,
    entity_types: Iterable[str] | None,
    systems: Iterable[str] | None,
) -> ChangeFilter:
    """The filter of a reader's arguments, each value checked.

    Raises:
        UnknownEntityTypeError: ``entityTypes`` names an unknown type.
        UnknownSystemError: ``systems`` names an unregistered system.
    """
    types = None
    if entity_types is not None:
        names = list(entity_types)
        for index, name in enumerate(names):
            specs.get_spec(name, field=f"entityTypes[{index}]")
        types = frozenset(names)
    chosen = None
    if systems is not None:
        codes = list(systems)
        for index, code in enumerate(codes):
            problem = text_problem(code, is_identifier=True)
            if problem is not None:
                raise InvalidInputError(
                    f"systems[{index}] contains {problem}", field=f"systems[{index}]"
                )
        known = set(session.scalars(select(SourceSystem.code))) if codes else set()
        for index, code in enumerate(codes):
            if code not in known:
                raise UnknownSystemError(
                    f"unknown source system {code!r} (known: {', '.join(sorted(known))})",
                    field=f"systems[{index}]",
                )
        chosen = frozenset(codes)
    return ChangeFilter(types, chosen)


# --------------------------------------------------------------------------- consumers


def check_consumer_name(name: str, *, field: str = "consumer") -> str:
    """Refuse a name no consumer can have: blank, too long, a control character, or one
    of the hub's reserved prefixes."""
    problem = text_problem(name, is_identifier=True)
    if problem is not None:
        raise InvalidInputError(f"{field} contains {problem}", field=field)
    if not name.strip():
        raise InvalidInputError(f"{field} must not be blank", field=field)
    if len(name) > MAX_CONSUMER_NAME:
        raise InvalidInputError(
            f"{field} is {len(name):,} characters long; at most {MAX_CONSUMER_NAME} are accepted",
            field=field,
        )
    if name.startswith(RESERVED_PREFIXES):
        raise InvalidInputError(
            f"{field} may not start with {' or '.join(RESERVED_PREFIXES)} (the hub's own)",
            field=field,
        )
    return name


def register_consumer(
    session: Session, name: str, owner: Principal, *, position: int | None = None
) -> tuple[Consumer, bool]:
    """Register ``name`` for ``owner`` at ``position`` (default: the head); registering
    one's own consumer again changes nothing. Returns it and whether it is new.

    Raises:
        ConsumerExistsError: another principal registered the name.
    """
    check_consumer_name(name, field="name")
    found = session.get(ConsumerOffset, name, with_for_update=True)
    if found is not None:
        if found.owner != owner.name:
            raise ConsumerExistsError(
                f"consumer {name!r} is registered by another token", field="name"
            )
        return _consumer(found), False
    start = head(session) if position is None else check_after(session, position)
    row = ConsumerOffset(consumer=name, position=start, owner=owner.name, updated_at=utcnow())
    session.add(row)
    session.flush()
    return _consumer(row), True


def find_consumer(session: Session, name: str, caller: Principal) -> Consumer | None:
    """A consumer its owner (or an admin) reads; None if there is none.

    Raises:
        ForbiddenError: another principal's, and the caller is no admin.
    """
    check_consumer_name(name)
    found = session.get(ConsumerOffset, name)
    if found is None:
        return None
    _require_owner(found, caller)
    return _consumer(found)


def acknowledge(session: Session, name: str, position: int, caller: Principal) -> Consumer:
    """Store that consumer ``name`` has finished with every event up to ``position``.
    A position below the stored one leaves it as it is (positions never go back).

    Raises:
        UnknownConsumerError, ForbiddenError: as ``consumer``.
        InvalidPositionError: negative or beyond 64 bits.
        PositionBeyondHeadError: beyond the newest event.
    """
    check_consumer_name(name)
    check_position(position, field="position")
    found = session.get(ConsumerOffset, name, with_for_update=True)
    if found is None:
        raise UnknownConsumerError(f"no consumer named {name!r}", field="consumer")
    _require_owner(found, caller)
    newest = head(session)
    if position > newest:
        raise PositionBeyondHeadError(
            f"position {position:,} is beyond the head ({newest:,})", field="position"
        )
    now = utcnow()
    if position > found.position:
        found.position = position
        found.updated_at = now
    found.acknowledged_at = now
    session.flush()
    return _consumer(found)


def list_consumers(session: Session, caller: Principal) -> list[Consumer]:
    """The caller's consumers by name (an admin's: every consumer, the relay's too)."""
    statement = select(ConsumerOffset).where(ConsumerOffset.consumer != PRUNED)
    if caller.role < Role.ADMIN:
        statement = statement.where(ConsumerOffset.owner == caller.name)
    return [_consumer(r) for r in session.scalars(statement.order_by(ConsumerOffset.consumer))]


def reset_consumer(session: Session, name: str, position: int) -> Consumer:
    """Move a consumer to ``position``, back or forward (an operator's decision: to replay
    after a downstream restore, or to skip past a resync); ``acknowledge`` never moves back.

    Raises:
        UnknownConsumerError: no such consumer.
        InvalidPositionError, CursorBeyondHeadError, CursorExpiredError: as ``check_after``.
    """
    check_consumer_name(name)
    found = session.get(ConsumerOffset, name, with_for_update=True)
    if found is None:
        raise UnknownConsumerError(f"no consumer named {name!r}", field="consumer")
    found.position = check_after(session, position, field="position")
    found.updated_at = utcnow()
    session.flush()
    return _consumer(found)


def _require_owner(row: ConsumerOffset, caller: Principal) -> None:
    if row.owner != caller.name and caller.role < Role.ADMIN:
        raise ForbiddenError(
            f"consumer {row.consumer!r} belongs to another token; acknowledging it needs "
            "the admin role"
        )


def _consumer(row: ConsumerOffset) -> Consumer:
    return Consumer(row.consumer, row.owner, row.position, row.acknowledged_at, row.updated_at)


# --------------------------------------------------------------------------- retention


def prune(session: Session, retention_days: float, *, now: datetime | None = None) -> int:
    """Delete the events older than ``retention_days`` (but never the newest event) and
    remember the newest position removed; returns how many were deleted. 0 days keeps
    everything."""
    if retention_days <= 0:
        return 0
    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    newest = head(session)
    upto = session.scalar(
        select(func.max(ChangeEvent.seq)).where(
            ChangeEvent.created_at < cutoff, ChangeEvent.seq < newest
        )
    )
    if upto is None:
        return 0
    # Remembered first, in the same transaction: a reader that finds events missing also
    # finds them marked as pruned.
    marker = session.get(ConsumerOffset, PRUNED, with_for_update=True)
    if marker is None:
        session.add(ConsumerOffset(consumer=PRUNED, position=upto, updated_at=utcnow()))
    elif upto > marker.position:
        marker.position = upto
        marker.updated_at = utcnow()
    session.flush()
    deleted = 0
    low = int(session.scalar(select(func.min(ChangeEvent.seq))) or 0)
    while low <= upto:
        high = min(upto, low + PRUNE_CHUNK - 1)
        result = session.execute(
            delete(ChangeEvent).where(ChangeEvent.seq >= low, ChangeEvent.seq <= high)
        )
        deleted += int(getattr(result, "rowcount", 0) or 0)
        low = high + 1
    return deleted
