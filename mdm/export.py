"""File extracts for systems that take files: golden records, the crosswalk, and the
changes since a named consumer's position, as CSV or JSON Lines.

Golden records and the crosswalk are read in pages (keyset on the key, ``PAGE_SIZE`` rows at
a time) inside one read transaction (``REPEATABLE READ`` on PostgreSQL), so an extract is
one consistent snapshot, written as it is read in constant memory. Its summary gives the
change stream's head read in that snapshot: every event up to it is reflected, so a
consumer resyncing after ``CURSOR_EXPIRED`` takes the extract and follows the stream after
that position.

A file is written as ``FILE.partial``, flushed to disk (``fsync``) and renamed to ``FILE``:
a reader never finds half a file under its name. An extract of changes acknowledges the
consumer (``changes.acknowledge``, never backwards) only once the rename has succeeded (or,
to a stream, once its last line is flushed), so a run that fails or is killed before leaves
the consumer where it was and the next run writes the same events again. It refuses to
replace an existing ``FILE``, which may be an extract not yet taken.

CSV (RFC 4180, UTF-8, no byte-order mark, ``\\r\\n``): a text cell that starts with ``=``,
``+``, ``-``, ``@``, a tab, a carriage return or ``'`` gets a ``'`` in front, so a
spreadsheet shows it as text rather than running it as a formula; remove one leading
``'`` to get the value back. Objects (a reference) are JSON text, booleans ``true`` and
``false``, a missing value is empty. JSON Lines holds every value as it is stored.
"""

from __future__ import annotations

import csv
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, Any, Generic, NamedTuple, TypeVar

import orjson
from sqlalchemy import exists, select, tuple_
from sqlalchemy.orm import Session

from mdm import changes
from mdm.auth import Principal, Role
from mdm.errors import (
    ConflictError,
    CursorExpiredError,
    InvalidInputError,
    MdmError,
    UnknownConsumerError,
    UnknownEntityTypeError,
    UnknownSystemError,
)
from mdm.golden import live_goldens
from mdm.relay import event_body
from mdm.screening import SYSTEM_LENGTH, text_problem
from mdm.specs import EntitySpec, SpecRegistry
from mdm.store import Database, GoldenRecord, GoldenStatus, SourceRecord, SourceSystem

__all__ = [
    "OPERATOR",
    "PAGE_SIZE",
    "WRITE_FAILED",
    "CrosswalkExtract",
    "ExtractFormat",
    "ExtractSummary",
    "GoldenExtract",
    "crosswalk_extracts",
    "csv_cell",
    "export_changes",
    "export_crosswalk",
    "export_goldens",
    "golden_extracts",
    "partial_path",
]

PAGE_SIZE = 1_000  # rows read per query
PARTIAL_SUFFIX = ".partial"
WRITE_FAILED = "WRITE_FAILED"  # the code of an MdmError for a file or stream that failed
# The command line works on the database directly, with an operator's rights.
OPERATOR = Principal("mdm export", Role.ADMIN)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")
_SHOWN = 60  # characters of a refused name shown in a message

_gr = GoldenRecord.__table__
_sr = SourceRecord.__table__
R = TypeVar("R")
Target = Path | IO[str]  # a file (written atomically) or an open text stream


class ExtractFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"

    @classmethod
    def parse(cls, value: str) -> ExtractFormat:
        try:
            return cls(value)
        except ValueError:
            raise InvalidInputError(
                f"format {_shown(value)} is not one of {', '.join(cls)}", field="format"
            ) from None


@dataclass(frozen=True)
class ExtractSummary:
    """What an extract wrote.

    Attributes:
        position: golden records and crosswalk: the change stream's head in the snapshot
            (every event up to it is reflected); changes: the consumer's position now.
        previous_position: changes: the consumer's position before.
    """

    extract: str  # goldens | crosswalk | changes
    rows: int
    position: int
    out: str  # the file, or "-" for a stream
    consumer: str | None = None
    previous_position: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class GoldenExtract:
    """One live golden record with the ids of its members (of one system, if chosen)."""

    golden_id: str
    entity_type: str
    version: int
    status: str
    updated_at: datetime
    attributes: dict[str, Any]
    sources: list[tuple[str, str]]  # (system, source id), in that order


@dataclass(frozen=True)
class CrosswalkExtract:
    """One source record and the live golden record it belongs to (none if deleted)."""

    entity_type: str
    system: str
    source_id: str
    golden_id: str | None
    golden_status: str | None
    is_deleted: bool


# --------------------------------------------------------------------------- reading


def golden_extracts(
    session: Session, spec: EntitySpec, *, system: str | None = None, page_size: int = PAGE_SIZE
) -> Iterator[GoldenExtract]:
    """The live (active or retired) golden records of ``spec``'s type by key, with their
    members' ids; with ``system``, only those holding one of its records, and only its ids."""
    connection = session.connection()
    goldens = select(
        _gr.c.id, _gr.c.public_id, _gr.c.version, _gr.c.status, _gr.c.updated_at, _gr.c.attributes
    ).where(_gr.c.entity_type == spec.name, _gr.c.status != GoldenStatus.MERGED.value)
    members = select(_sr.c.golden_id, _sr.c.system, _sr.c.source_id).where(
        _sr.c.is_deleted.is_(False)
    )
    if system is not None:
        goldens = goldens.where(
            exists().where(
                _sr.c.golden_id == _gr.c.id, _sr.c.system == system, _sr.c.is_deleted.is_(False)
            )
        )
        members = members.where(_sr.c.system == system)
    after: int | None = None
    while True:
        page = goldens if after is None else goldens.where(_gr.c.id > after)
        rows = connection.execute(page.order_by(_gr.c.id).limit(page_size)).all()
        if not rows:
            return
        ids = [row.id for row in rows]
        sources: dict[int, list[tuple[str, str]]] = defaultdict(list)
        for golden_id, member_system, source_id in connection.execute(
            members.where(_sr.c.golden_id.in_(ids)).order_by(
                _sr.c.golden_id, _sr.c.system, _sr.c.source_id
            )
        ):
            sources[golden_id].append((member_system, source_id))
        for row in rows:
            yield GoldenExtract(
                row.public_id,
                spec.name,
                row.version,
                row.status,
                row.updated_at,
                row.attributes or {},
                sources.get(row.id, []),
            )
        if len(rows) < page_size:
            return
        after = ids[-1]


def crosswalk_extracts(
    session: Session, spec: EntitySpec, *, system: str | None = None, page_size: int = PAGE_SIZE
) -> Iterator[CrosswalkExtract]:
    """The source records of ``spec``'s type (of ``system`` only, if given) by system and
    source id, each with its live golden record (following merges); deleted ones with none."""
    connection = session.connection()
    records = (
        select(
            _sr.c.system,
            _sr.c.source_id,
            _sr.c.is_deleted,
            _sr.c.golden_id,
            _gr.c.public_id,
            _gr.c.status,
        )
        .select_from(_sr.outerjoin(_gr, _gr.c.id == _sr.c.golden_id))
        .where(_sr.c.entity_type == spec.name)
    )
    if system is not None:
        records = records.where(_sr.c.system == system)
    after: tuple[str, str] | None = None
    while True:
        page = records
        if after is not None:
            page = page.where(tuple_(_sr.c.system, _sr.c.source_id) > tuple_(*after))
        rows = connection.execute(page.order_by(_sr.c.system, _sr.c.source_id).limit(page_size))
        found = rows.all()
        if not found:
            return
        # A member never stays on a merged record (merge_golden moves them all); should
        # one, it is shown on the record it lives on as, never on the merged one.
        merged = {r.golden_id for r in found if r.status == GoldenStatus.MERGED}
        survivors = live_goldens(session, merged) if merged else {}
        for row in found:
            public_id, status = row.public_id, row.status
            survivor = survivors.get(row.golden_id)
            if survivor is not None:
                public_id, status = survivor.public_id, survivor.status
            if row.is_deleted or row.golden_id is None:
                public_id = status = None
            yield CrosswalkExtract(
                spec.name, row.system, row.source_id, public_id, status, row.is_deleted
            )
        if len(found) < page_size:
            return
        after = (found[-1].system, found[-1].source_id)


class _ChangeReader:
    """The events after a position that a filter lets through, up to ``upto`` and at most
    ``max_events``; ``position`` is where the next read starts, once iterated to the end."""

    def __init__(
        self,
        session: Session,
        after: int,
        where: changes.ChangeFilter,
        *,
        upto: int,
        max_events: int | None,
        page_size: int,
    ) -> None:
        self.session = session
        self.position = after
        self.where = where
        self.upto = upto
        self.max_events = max_events
        self.page_size = page_size

    def __iter__(self) -> Iterator[changes.Change]:
        remaining = self.max_events
        while remaining is None or remaining > 0:
            limit = self.page_size if remaining is None else min(self.page_size, remaining)
            batch = changes.read_changes(
                self.session, self.position, limit, self.where, upto=self.upto
            )
            yield from batch.changes
            # Past what the filter left out too: the file holds every event up to here
            # that it lets through.
            self.position = batch.scanned_to
            if batch.is_caught_up:
                return
            if remaining is not None:
                remaining -= len(batch.changes)


# --------------------------------------------------------------------------- layouts


@dataclass(frozen=True)
class _Layout(Generic[R]):
    """How one kind of row is written: CSV header and cells, or one JSON line."""

    header: list[str]
    cells: Callable[[R], list[Any]]
    document: Callable[[R], str]  # one JSON line, without its newline


def _golden_layout(spec: EntitySpec, system: str | None) -> _Layout[GoldenExtract]:
    names = [a.name for a in spec.attributes]
    fixed = ["golden_id", "entity_type", "version", "record_status", "updated_at"]
    ids_column = "sources" if system is None else "source_ids"
    clash = set(names) & {*fixed, ids_column}
    if clash:
        raise ValueError(f"spec {spec.name}: attribute names {sorted(clash)} clash with columns")

    def cells(row: GoldenExtract) -> list[Any]:
        if system is None:
            ids = _joined(f"{s}:{_escaped(i)}" for s, i in row.sources)
        else:
            ids = _joined(_escaped(i) for _, i in row.sources)
        fields = [row.golden_id, row.entity_type, row.version, row.status, row.updated_at]
        return [*fields, *(row.attributes.get(name) for name in names), ids]

    def document(row: GoldenExtract) -> str:
        return _json(
            {
                "goldenId": row.golden_id,
                "entityType": row.entity_type,
                "version": row.version,
                "recordStatus": row.status,
                "updatedAt": _timestamp(row.updated_at),
                "attributes": row.attributes,
                "sources": [{"system": s, "sourceId": i} for s, i in row.sources],
            }
        )

    return _Layout([*fixed, *names, ids_column], cells, document)


def _crosswalk_cells(row: CrosswalkExtract) -> list[Any]:
    return [
        row.entity_type,
        row.system,
        row.source_id,
        row.golden_id,
        row.golden_status,
        row.is_deleted,
    ]


def _crosswalk_document(row: CrosswalkExtract) -> str:
    return _json(
        {
            "entityType": row.entity_type,
            "system": row.system,
            "sourceId": row.source_id,
            "goldenId": row.golden_id,
            "goldenStatus": row.golden_status,
            "isDeleted": row.is_deleted,
        }
    )


_CROSSWALK = _Layout(
    ["entity_type", "system", "source_id", "golden_id", "golden_status", "is_deleted"],
    _crosswalk_cells,
    _crosswalk_document,
)


class _EventRow(NamedTuple):
    """A change as ``relay.event_body`` reads a ``change_event`` row: one document layout."""

    seq: int
    kind: str
    entity_type: str
    golden_public_id: str
    version: int
    payload: dict[str, Any]
    actor: str | None
    correlation_id: str | None
    created_at: datetime


def _change_cells(change: changes.Change) -> list[Any]:
    return [
        change.seq,
        change.kind,
        change.entity_type,
        change.golden_id,
        change.version,
        change.actor,
        change.correlation_id,
        change.created_at,
        _json(change.payload),
    ]


def _change_document(change: changes.Change) -> str:
    row = _EventRow(
        change.seq,
        change.kind,
        change.entity_type,
        change.golden_id,
        change.version,
        change.payload,
        change.actor,
        change.correlation_id,
        _utc(change.created_at),
    )
    return event_body(row).decode()


_CHANGES = _Layout(
    [
        "seq",
        "kind",
        "entity_type",
        "golden_id",
        "version",
        "actor",
        "correlation_id",
        "created_at",
        "payload",
    ],
    _change_cells,
    _change_document,
)


def csv_cell(value: Any) -> str:
    """A value as a CSV cell (see the module doc): text that a spreadsheet would run as a
    formula gets a leading ``'``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime):
        return _timestamp(value)
    text = value if isinstance(value, str) else _json(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _escaped(source_id: str) -> str:
    return source_id.replace("\\", "\\\\").replace("|", "\\|")


def _joined(parts: Iterable[str]) -> str:
    return "|".join(parts)


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _utc(moment: datetime) -> datetime:
    # SQLite gives back the stored UTC time without its zone; PostgreSQL the session's.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _timestamp(moment: datetime) -> str:
    return _utc(moment).isoformat()


def _write(handle: IO[str], fmt: ExtractFormat, layout: _Layout[R], rows: Iterable[R]) -> int:
    count = 0
    if fmt is ExtractFormat.CSV:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(layout.header)
        for row in rows:
            writer.writerow([csv_cell(value) for value in layout.cells(row)])
            count += 1
        return count
    for row in rows:
        handle.write(layout.document(row))
        handle.write("\n")
        count += 1
    return count


# --------------------------------------------------------------------------- files


def partial_path(out: Path) -> Path:
    """Where the extract to ``out`` is written before it is renamed to ``out``."""
    return out.with_name(out.name + PARTIAL_SUFFIX)


def _check_target(out: Target, *, may_replace: bool) -> None:
    if not isinstance(out, Path):
        return
    text = str(out)
    if "\x00" in text:
        raise InvalidInputError("the output path contains a NUL byte", field="out")
    if out.is_dir():
        raise InvalidInputError(f"{_shown(text)} is a directory, not a file", field="out")
    parent = out.parent
    if not parent.is_dir():
        raise InvalidInputError(
            f"cannot write {_shown(out.name)}: the directory {_shown(str(parent))} does not exist",
            field="out",
        )
    if not may_replace and (out.exists() or out.is_symlink()):
        raise ConflictError(
            f"{_shown(text)} exists (an extract not taken yet?): move it away, or write to a "
            "new name",
            field="out",
        )


@contextmanager
def _opened(out: Target) -> Iterator[IO[str]]:
    """A handle to write the extract to; on leaving without an error, the extract is
    complete: flushed (a file: synced and renamed into place). On an error nothing is
    left under ``out``'s name (``FILE.partial`` is removed too)."""
    if not isinstance(out, Path):
        try:
            yield out
            out.flush()
        except OSError as error:  # a closed pipe, a full disk
            raise _write_failed("the output stream", error) from error
        return
    partial = partial_path(out)
    try:
        with suppress(FileNotFoundError):
            partial.unlink()  # left by a run that was killed
        # O_EXCL: never write through a link someone put there.
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as error:
        raise _write_failed(str(partial), error) from error
    try:
        with open(descriptor, "w", encoding="utf-8", newline="") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, out)
        _sync_directory(out.parent)
    except BaseException as error:
        with suppress(OSError):
            partial.unlink()
        if isinstance(error, OSError):
            raise _write_failed(str(out), error) from error
        raise


def _sync_directory(directory: Path) -> None:
    # The rename is durable once the directory entry is on disk.
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _write_failed(what: str, error: OSError) -> MdmError:
    reason = error.strerror or type(error).__name__
    return MdmError(f"writing {_shown(what)} failed: {reason}", field="out", code=WRITE_FAILED)


def _shown_out(out: Target) -> str:
    return str(out) if isinstance(out, Path) else "-"


# --------------------------------------------------------------------------- checks


def _shown(text: str) -> str:
    shown = text if len(text) <= _SHOWN else text[:_SHOWN] + "…"
    return repr(shown)


def _spec(specs: SpecRegistry, name: str, *, field: str = "entityType") -> EntitySpec:
    if name not in specs:
        raise UnknownEntityTypeError(
            f"unknown entity type {_shown(name)} (known: {', '.join(specs)})", field=field
        )
    return specs[name]


def _system(session: Session, code: str, *, field: str = "system") -> str:
    problem = text_problem(code, is_identifier=True)
    if problem is not None:
        raise InvalidInputError(f"{field} contains {problem}", field=field)
    known = set(session.scalars(select(SourceSystem.code)))
    if len(code) > SYSTEM_LENGTH or code not in known:
        raise UnknownSystemError(
            f"unknown source system {_shown(code)} (known: {', '.join(sorted(known))})",
            field=field,
        )
    return code


def _snapshot(session: Session) -> None:
    """Make the session's reads one snapshot (SQLite's read transaction is one already)."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection(
            execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        )


# --------------------------------------------------------------------------- extracts


def export_goldens(
    database: Database,
    specs: SpecRegistry,
    entity_type: str,
    fmt: ExtractFormat,
    out: Target,
    *,
    system: str | None = None,
    page_size: int = PAGE_SIZE,
) -> ExtractSummary:
    """Write the live golden records of ``entity_type`` (one line or row each) with their
    members' ids in every system, or with ``system`` only those that system holds a
    record of, with its ids.

    CSV columns: ``golden_id, entity_type, version, record_status, updated_at``, the
    spec's attributes in order, then ``sources`` (``SYSTEM:ID|SYSTEM:ID``) or, with
    ``system``, ``source_ids`` (``ID|ID``); ``|`` and ``\\`` in an id are escaped with
    ``\\``. JSON Lines: ``goldenId, entityType, version, recordStatus, updatedAt,
    attributes, sources: [{system, sourceId}]``.

    Raises:
        UnknownEntityTypeError, UnknownSystemError, InvalidInputError: nothing written.
        MdmError: ``WRITE_FAILED``, the file could not be written (nothing left under its
            name).

    Example:
        >>> export_goldens(db, specs, "vendor", ExtractFormat.CSV, Path("vendors.csv"))
    """
    _check_target(out, may_replace=True)
    spec = _spec(specs, entity_type)
    with database.read_session() as session:
        _snapshot(session)
        if system is not None:
            _system(session, system)
        position = changes.head(session)
        rows = golden_extracts(session, spec, system=system, page_size=page_size)
        with _opened(out) as handle:
            count = _write(handle, fmt, _golden_layout(spec, system), rows)
    return ExtractSummary("goldens", count, position, _shown_out(out))


def export_crosswalk(
    database: Database,
    specs: SpecRegistry,
    entity_type: str,
    fmt: ExtractFormat,
    out: Target,
    *,
    system: str | None = None,
    page_size: int = PAGE_SIZE,
) -> ExtractSummary:
    """Write one line or row per source record of ``entity_type`` (of ``system`` only, if
    given): ``entity_type, system, source_id, golden_id, golden_status, is_deleted``
    (JSON Lines: camelCase). The golden record is the live one (merges followed); a
    deleted record has none.

    Raises:
        As ``export_goldens``.
    """
    _check_target(out, may_replace=True)
    spec = _spec(specs, entity_type)
    with database.read_session() as session:
        _snapshot(session)
        if system is not None:
            _system(session, system)
        position = changes.head(session)
        rows = crosswalk_extracts(session, spec, system=system, page_size=page_size)
        with _opened(out) as handle:
            count = _write(handle, fmt, _CROSSWALK, rows)
    return ExtractSummary("crosswalk", count, position, _shown_out(out))


def export_changes(
    database: Database,
    specs: SpecRegistry,
    consumer: str,
    fmt: ExtractFormat,
    out: Target,
    *,
    entity_types: Iterable[str] | None = None,
    systems: Iterable[str] | None = None,
    max_events: int | None = None,
    caller: Principal = OPERATOR,
    page_size: int = PAGE_SIZE,
) -> ExtractSummary:
    """Write the events after ``consumer``'s position (of ``entity_types``, touching
    ``systems``; at most ``max_events``), then acknowledge the consumer up to where the
    extract got: past the last event written, and past the events the filters left out.

    JSON Lines: one event document per line (``mdm/schemas/change_event.schema.json``, as
    ``mdm relay`` publishes it). CSV: ``seq, kind, entity_type, golden_id, version, actor,
    correlation_id, created_at, payload`` (the payload as JSON text).

    The consumer is acknowledged only after the file is complete and renamed into place
    (a stream: after its last line is flushed). A file that exists already is refused.

    Raises:
        UnknownConsumerError: no consumer has that name (register it with GraphQL
            ``registerConsumer``).
        CursorExpiredError: events after its position were pruned.
        UnknownEntityTypeError, UnknownSystemError, InvalidInputError: nothing written.
        ConflictError: the file exists.
        MdmError: ``WRITE_FAILED``; the consumer stays where it was.
    """
    _check_target(out, may_replace=False)
    changes.check_consumer_name(consumer)
    if max_events is not None and max_events < 1:
        raise InvalidInputError("maxEvents must be at least 1", field="maxEvents")
    types = None
    if entity_types is not None:
        types = frozenset(_spec(specs, name).name for name in entity_types)
    with database.read_session() as session:
        chosen = None
        if systems is not None:
            chosen = frozenset(_system(session, code) for code in systems)
        found = changes.find_consumer(session, consumer, caller)
        if found is None:
            raise UnknownConsumerError(
                f"no consumer named {_shown(consumer)}: register it first (GraphQL "
                "registerConsumer)",
                field="consumer",
            )
        try:
            changes.check_after(session, found.position, field="consumer")
        except CursorExpiredError:
            pruned = changes.pruned_through(session)
            raise CursorExpiredError(
                f"consumer {_shown(consumer)} is at position {found.position:,}, but events "
                f"up to {pruned:,} were pruned: take a full extract (mdm export goldens; its "
                "position is the head it reflects), acknowledge the consumer at that "
                "position (GraphQL acknowledgeChanges), then export the changes again",
                field="consumer",
            ) from None
        reader = _ChangeReader(
            session,
            found.position,
            changes.ChangeFilter(types, chosen),
            upto=changes.head(session),
            max_events=max_events,
            page_size=page_size,
        )
        with _opened(out) as handle:
            count = _write(handle, fmt, _CHANGES, reader)
    with database.session() as session:
        acknowledged = changes.acknowledge(session, consumer, reader.position, caller)
    return ExtractSummary(
        "changes", count, acknowledged.position, _shown_out(out), consumer, found.position
    )
