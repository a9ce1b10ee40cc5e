"""Staging of a bulk load: each record standardized (in worker processes when there are
many), its source row and match keys written a chunk at a time, and kept compactly for
matching (``Staged``, its blocking keys in ``BlockKeys``).

A later row of a staged record (a file of changes) is folded in (``Stager``): the record is
matched on its first version and survives on its latest, as record by record.
"""

from __future__ import annotations

from array import array
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice
from multiprocessing import get_all_start_methods, get_context
from multiprocessing.pool import AsyncResult
from typing import Any, cast

import numpy as np
import orjson
from numpy.typing import NDArray
from sqlalchemy import Table, delete, select
from sqlalchemy.orm import Session

from matchers import block_pairs
from mdm.codes import CodeBook
from mdm.context import (
    REFERENCE_KIND,
    ContextView,
    Reference,
    forget_resolutions,
    reference_keys,
    references_of,
    resolve_references,
)
from mdm.errors import MdmError, MissingSourceIdError
from mdm.ingest import Ingestor, IngestStatus, RecordInput, content_hash, jsonable, key_kind
from mdm.locators import (
    LOCATOR_KIND,
    WAITING_KIND,
    WAITING_PREFIX,
    is_located,
    locate,
    locator_keys,
    waiting_keys,
)
from mdm.mapping import EntityMapping
from mdm.screening import SOURCE_ID_LENGTH, require_identifier
from mdm.specs import EntitySpec, SpecRegistry
from mdm.standardize import record_findings, record_keys, standardize
from mdm.store import Base, MatchKeyRow, SourceRecord, json_text, utcnow
from mdm.store.rows import (
    insert_rows,
    insert_rows_returning_ids,
    insert_tuples,
    select_rows,
    update_rows,
)

CHUNK = 2000  # records standardized and written at a time


def table_of(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


# A match key row: key, source record id, entity type, kind (sorted by key, then record).
_KeyRow = tuple[str, int, str, str]
KEY_COLUMNS = ("key", "source_record_id", "entity_type", "kind")
KEY_BATCH = 200_000  # match keys written at once, sorted (see ``insert_keys``)
# row, values, keys, prepared (``prepares_while_staging``) or None
_Standardized = tuple[dict[str, Any], dict[str, Any] | None, list[str], tuple[Any, ...] | None]
_WORKER_STATE: tuple[EntitySpec, CodeBook, dict[Reference, str] | None, bool] | None = None
# Keys that are context, not blocking keys: what a record refers to, waits for, is found by.
_CONTEXT_KINDS = frozenset({REFERENCE_KIND, LOCATOR_KIND, WAITING_KIND})


@dataclass
class Staged:
    record_id: int
    system: str
    source_id: str
    values: dict[str, Any] | None  # dropped once prepared; read back for survivorship
    # Prepared for matching while staged (``prepares_while_staging``), else None.
    prepared: tuple[Any, ...] | None = None


@dataclass
class Later:
    """Records of the load with a later version in it (see ``BulkLoader._fold_repeats``)."""

    latest: dict[int, dict[str, Any]] = field(default_factory=dict)  # record id -> values
    gone: set[int] = field(default_factory=set)  # deleted in their latest version
    keys: dict[int, list[str]] = field(default_factory=dict)  # the latest version's keys
    rows: dict[int, dict[str, Any]] = field(default_factory=dict)  # its source row


@dataclass(frozen=True, slots=True)
class SourceRow:
    """A row of a source file, mapped to a ``RecordInput`` where it is standardized: in a
    worker process, so the writing one only reads the file."""

    system: str
    entity: EntityMapping
    line: int
    row: dict[str, Any]

    @property
    def entity_type(self) -> str:
        return self.entity.entity_type

    def record(self) -> RecordInput:
        entity = self.entity
        return RecordInput(
            entity_type=entity.entity_type,
            system=self.system,
            source_id=entity.source_id_of(self.row),
            attributes=entity.attributes_of(self.row),
            is_deleted=entity.is_deleted(self.row),
            date_format=entity.date_format,
            origin=f"{entity.file}:{self.line}",
        )


def as_record(item: RecordInput | SourceRow) -> RecordInput:
    """A record to load, mapped if it is still a file's row."""
    return item.record() if isinstance(item, SourceRow) else item


class BlockKeys:
    """The blocking keys of the staged records, kept compact for ``block_pairs``.

    Each key is kept as its 64-bit hash beside its record's id (16 bytes a key, not a
    string): reading millions of keys back from the store, sorted, cost more than
    anything else in blocking. Two keys whose hashes collide only add a candidate pair,
    which scoring then judges like any other.
    """

    def __init__(self) -> None:
        self.hashes = array("q")
        self.record_ids = array("q")

    def add(self, spec: EntitySpec, record_id: int, keys: list[str]) -> list[_KeyRow]:
        """Keep ``keys`` of a staged record; its ``match_key`` rows (``KEY_COLUMNS``)."""
        rows = []
        for key in keys:
            kind = key_kind(key)
            rows.append((key, record_id, spec.name, kind))
            if kind not in _CONTEXT_KINDS:
                self.hashes.append(hash(key))
                self.record_ids.append(record_id)
        return rows

    def pairs(self, record_ids: list[int], max_block_size: int) -> NDArray[np.intp]:
        """``block_pairs`` of the kept keys, for the records ``record_ids``."""
        return block_pairs(
            np.frombuffer(self.hashes, dtype=np.int64),
            np.frombuffer(self.record_ids, dtype=np.int64),
            record_ids,
            max_block_size,
        )


class Stager:
    """Stages the records of one bulk load of ``spec``'s type (``stage``), keeping what
    matching needs (``blocks``) and what it must not see yet (``later``: the later versions
    of records, stored by ``settle_later`` once matching is done). ``statuses`` counts the
    records as record by record counts them; ``worker_chunks`` the chunks standardized by
    worker processes."""

    def __init__(
        self,
        ingestor: Ingestor,
        spec: EntitySpec,
        codes: CodeBook,
        parents: dict[Reference, str] | None,
        *,
        workers: int,
        chunk_size: int,
    ) -> None:
        self.ingestor = ingestor
        self.spec = spec
        self.codes = codes
        self.parents = parents  # see ``prepares_while_staging``
        self.located = is_located(ingestor.specs, spec.name)  # kept under locator keys
        self.workers = workers
        self.chunk_size = chunk_size
        self.later = Later()
        self.blocks = BlockKeys()
        self.statuses: Counter[tuple[str, IngestStatus]] = Counter()
        self.worker_chunks = 0

    def stage(
        self,
        session: Session,
        records: Iterable[RecordInput | SourceRow],
        correlation_id: str | None,
        on_progress: Callable[[int], None] | None,
    ) -> list[Staged]:
        """Standardize and store ``records``; the ones to match, ordered by (system,
        source id) so nothing after depends on the order of the input. Refused records
        are kept as rejections, as on the incremental path."""
        spec = self.spec
        keep = refers_to_itself(spec)
        seen: dict[tuple[str, str], int] = {}  # (system, source id) -> record id
        staged: list[Staged] = []
        repeats: list[_Standardized] = []
        key_rows: list[_KeyRow] = []  # written a batch at a time (``insert_keys``)
        waiting: list[int] = []  # indices in ``staged`` of records with a parent to locate
        for chunk, done in self._standardized_chunks(records):
            self.worker_chunks += any(d is not None for d in done)
            rows: list[dict[str, Any]] = []
            batch: set[tuple[str, str]] = set()
            pending: list[tuple[str, str, dict[str, Any] | None, list[str] | None, Any]] = []
            now = utcnow()
            for record, ready in zip(chunk, done, strict=True):
                try:
                    row, values, keys, prepared = self._standardize(session, record, ready)
                    row["received_at"] = row["updated_at"] = now
                except MdmError as error:
                    self.ingestor.reject(
                        session, as_record(record), error, correlation_id=correlation_id
                    )
                    self.statuses[(record.system, IngestStatus.REJECTED)] += 1
                    continue
                key = (row["system"], row["source_id"])
                if key in seen or key in batch:
                    # A later version: folded in below.
                    repeats.append((row, values, keys, prepared))
                    continue
                batch.add(key)
                rows.append(row)
                deleted = row["is_deleted"]
                status = IngestStatus.DELETED if deleted else IngestStatus.CREATED
                self.statuses[(record.system, status)] += 1
                pending.append(
                    (row["system"], row["source_id"], values, None if deleted else keys, prepared)
                )
            if rows:
                ids = insert_rows_returning_ids(session, table_of(SourceRecord), rows)
                forget_resolutions(session)
                for record_id, (system, source_id, values, found, prepared) in zip(
                    ids, pending, strict=True
                ):
                    seen[(system, source_id)] = record_id
                    if found is None:  # a deletion is stored, not matched
                        continue
                    # Values stay in memory only where matching goes in rounds; otherwise
                    # they are read back when prepared (memory at scale).
                    staged.append(
                        Staged(record_id, system, source_id, values if keep else None, prepared)
                    )
                    key_rows += self.blocks.add(spec, record_id, found)
                    if any(k.startswith(WAITING_PREFIX) for k in found):
                        waiting.append(len(staged) - 1)
                if len(key_rows) >= KEY_BATCH:
                    insert_keys(session, key_rows)
            if on_progress is not None:
                on_progress(len(chunk))
        insert_keys(session, key_rows)
        self.locate(session, [staged[i] for i in waiting])
        if repeats:
            staged = self._fold_repeats(session, staged, seen, repeats)
        staged.sort(key=lambda s: (s.system, s.source_id))
        return staged

    def locate(self, session: Session, waiting: list[Staged]) -> None:
        """Parents given by code or name, located once the whole load is stored (a
        location's parent is mostly in the same file): as record by record, a parent one
        record answers becomes the reference (its reference key replaces the waiting
        one, and matching sees it); the others are flagged (``mdm.locators.locate``)."""
        if not waiting:
            return
        spec = self.spec
        by_id = {s.record_id: s for s in waiting}
        updates: list[dict[str, Any]] = []
        keys: list[_KeyRow] = []
        for record_id, source_id, values, findings in rows_by_id(
            session,
            sorted(by_id),
            SourceRecord.source_id,
            SourceRecord.standardized,
            SourceRecord.findings,
        ):
            located, unresolved = locate(session, spec, source_id, values or {})
            updates.append(
                {
                    "id": record_id,
                    "standardized": json_text(located),
                    "findings": json_text([*(findings or ()), *(f.to_dict() for f in unresolved)]),
                }
            )
            if located == values:
                continue
            keys += [
                (key, record_id, spec.name, key_kind(key))
                for key in reference_keys(spec, located) + waiting_keys(spec, located)
            ]
            staged = by_id[record_id]
            if staged.values is not None:
                staged.values = located
            if staged.prepared is not None:
                assert spec.matching is not None
                view = ContextView(self.codes).view(
                    spec, staged.system, located, references_of(spec, located), self.parents or {}
                )
                staged.prepared = tuple(c.prepare(view) for c in spec.matching.comparisons)
        changed = sorted({k[1] for k in keys})
        for start in range(0, len(changed), 2000):
            session.execute(
                delete(MatchKeyRow).where(
                    MatchKeyRow.source_record_id.in_(changed[start : start + 2000]),
                    MatchKeyRow.kind.in_((REFERENCE_KIND, WAITING_KIND)),
                )
            )
        insert_keys(session, keys)
        update_rows(session, table_of(SourceRecord), updates)
        forget_resolutions(session)

    def _fold_repeats(
        self,
        session: Session,
        staged: list[Staged],
        ids_of: dict[tuple[str, str], int],
        repeats: list[_Standardized],
    ) -> list[Staged]:
        """Later versions of records staged in this load (a file of changes beside the
        extract), counted as the record-by-record path counts them (unchanged, updated or
        deleted) and stored now. As record by record, a record is matched on the version
        that arrived first (an update never moves a record out of its golden record) and
        its golden record is built from its latest version; one deleted in its latest
        version stays out of golden records. See ``Later``."""
        wanted = {(row["system"], row["source_id"]) for row, _, _, _ in repeats}
        live = {(s.system, s.source_id) for s in staged if (s.system, s.source_id) in wanted}
        state: dict[int, list[Any]] = {}  # record id -> [content hash, version, deleted]
        ids = sorted(ids_of[key] for key in wanted)
        for record_id, digest, version, deleted in rows_by_id(
            session, ids, SourceRecord.content_hash, SourceRecord.version, SourceRecord.is_deleted
        ):
            state[record_id] = [digest, version, deleted]
        changed: dict[int, tuple[dict[str, Any], dict[str, Any], list[str]]] = {}
        for row, given, keys, prepared in repeats:
            values = given if given is not None else orjson.loads(row["standardized"].text)
            key = (row["system"], row["source_id"])
            record_id = ids_of[key]
            current = state[record_id]
            if row["content_hash"] == current[0]:
                self.statuses[(row["system"], IngestStatus.UNCHANGED)] += 1
                continue
            current[:] = [row["content_hash"], current[1] + 1, row["is_deleted"]]
            status = IngestStatus.DELETED if row["is_deleted"] else IngestStatus.UPDATED
            self.statuses[(row["system"], status)] += 1
            changed[record_id] = (row, values, keys)
            if key not in live and not row["is_deleted"]:  # a deleted record comes back
                live.add(key)
                staged.append(Staged(record_id, key[0], key[1], values, prepared))
                insert_keys(session, self.blocks.add(self.spec, record_id, keys))
        if not changed:
            return staged
        now = utcnow()
        later = self.later
        # Stored after matching (``settle_later``): until then the store holds the version
        # that is matched, the first.
        later.rows.update(
            (
                record_id,
                {
                    "id": record_id,
                    "raw": row["raw"],
                    "standardized": row["standardized"],
                    "findings": row["findings"],
                    "content_hash": row["content_hash"],
                    "version": state[record_id][1],
                    "is_deleted": row["is_deleted"],
                    "updated_at": now,
                },
            )
            for record_id, (row, _, _) in changed.items()
        )
        for record_id, (row, values, keys) in changed.items():
            if row["is_deleted"]:
                later.gone.add(record_id)
                later.latest.pop(record_id, None)
            else:
                later.gone.discard(record_id)
                later.latest[record_id] = values
            later.keys[record_id] = [] if row["is_deleted"] else keys
        return staged

    def settle_later(self, session: Session) -> None:
        """After matching: the match keys of records with a later version become those of
        the latest one (a deleted record keeps none), and the latest versions are stored."""
        if self.later.rows:
            update_rows(
                session,
                table_of(SourceRecord),
                [self.later.rows[k] for k in sorted(self.later.rows)],
            )
            forget_resolutions(session)
        ids = sorted(self.later.keys)
        for start in range(0, len(ids), 2000):
            chunk = ids[start : start + 2000]
            session.execute(delete(MatchKeyRow).where(MatchKeyRow.source_record_id.in_(chunk)))
        rows = [
            {
                "entity_type": self.spec.name,
                "key": key,
                "kind": key_kind(key),
                "source_record_id": rid,
            }
            for rid in ids
            for key in self.later.keys[rid]
        ]
        insert_rows(session, table_of(MatchKeyRow), rows)
        self.later = Later()

    def _standardized_chunks(
        self, records: Iterable[RecordInput | SourceRow]
    ) -> Iterator[tuple[list[RecordInput | SourceRow], list[_Standardized | None]]]:
        """The records a chunk at a time, each with its standardized form (``None``: to be
        done in this process). With worker processes, they standardize the next chunks
        while this one writes the current one; at most two chunks per worker wait."""
        size = self.chunk_size
        stream = iter(records)
        first = list(islice(stream, size))
        if self.workers <= 1 or len(first) < size or "fork" not in get_all_start_methods():
            chunk = first
            while chunk:
                yield chunk, [None] * len(chunk)
                chunk = list(islice(stream, size))
            return
        global _WORKER_STATE
        # Inherited by the forked workers.
        _WORKER_STATE = (self.spec, self.codes, self.parents, self.located)
        try:
            with get_context("fork").Pool(self.workers) as pool:
                waiting: deque[tuple[list[RecordInput | SourceRow], AsyncResult[Any]]] = deque()
                chunk = first
                while chunk or waiting:
                    if chunk:
                        waiting.append((chunk, pool.apply_async(_standardize_chunk, (chunk,))))
                        chunk = list(islice(stream, size))
                    if len(waiting) > 2 * self.workers or (waiting and not chunk):
                        ready, result = waiting.popleft()
                        yield ready, result.get()
        finally:
            _WORKER_STATE = None

    def _standardize(
        self,
        session: Session,
        record: RecordInput | SourceRow,
        ready: _Standardized | None = None,
    ) -> _Standardized:
        """A record's source row, standardized values and keys (``ready``: as a worker
        process made them); raises what the record is refused for."""
        spec = self.spec
        if record.entity_type != spec.name:
            self.ingestor.specs.get_spec(record.entity_type)
        self.ingestor.systems.require(session, record.system)
        if ready is not None:
            return ready
        return standardize_record(
            spec, self.codes, as_record(record), self.parents, located=self.located
        )


def standardize_record(
    spec: EntitySpec,
    codes: CodeBook,
    record: RecordInput,
    parents: Mapping[Reference, str] | None = None,
    *,
    located: bool = False,
) -> _Standardized:
    """A record's source row (without its timestamps), standardized values and keys (with
    ``located``, its ``locator`` keys too), and with ``parents`` (``resolve_all_parents``)
    its prepared matching features: no database, so worker processes can do it. Raises
    what the record is refused for. A parent given by code or name is located once the
    load is staged (``Stager.locate``)."""
    source_id = (record.source_id or "").strip()
    if not source_id:
        raise MissingSourceIdError("sourceId is required and must not be blank", field="sourceId")
    # As record by record (``Ingestor._ingest``): screened before any statement carries it.
    require_identifier(source_id, field="sourceId", max_length=SOURCE_ID_LENGTH)
    std = standardize(
        spec, record.attributes, system=record.system, date_format=record.date_format, codes=codes
    )
    findings = record_findings(spec, std, is_deleted=record.is_deleted)
    raw = jsonable(record.attributes)
    standardized = json_text(std.values)
    row = {
        "entity_type": spec.name,
        "system": record.system,
        "source_id": source_id,
        # Serialized here, where workers do it in parallel, not in the writing process.
        "raw": json_text(raw),
        "standardized": standardized,
        "findings": json_text(findings),
        "content_hash": content_hash(record, raw),
        "golden_id": None,
        "version": 1,
        "is_deleted": record.is_deleted,
    }
    keys = (
        record_keys(spec, std.values)
        + reference_keys(spec, std.values)
        + waiting_keys(spec, std.values)
        + (locator_keys(spec, record.system, std.values) if located else [])
    )
    prepared = None
    if parents is not None and not record.is_deleted:
        assert spec.matching is not None
        # Prepared from the values as the store will give them back (a JSON round trip),
        # seen as matching sees them: coded values as codes, parents as resolved.
        stored = orjson.loads(standardized.text)
        view = ContextView(codes).view(
            spec, record.system, stored, references_of(spec, stored), parents
        )
        prepared = tuple(c.prepare(view) for c in spec.matching.comparisons)
    return row, std.values, keys, prepared


def prepares_while_staging(spec: EntitySpec) -> bool:
    """Whether records are prepared for matching as they are staged, in the worker
    processes, instead of read back and prepared in the writing one: so they are when
    matching goes in one round (no reference to records of the same load), their parents
    being in the store already (parents load first) and resolved up front
    (``resolve_all_parents``)."""
    return spec.matching is not None and not refers_to_itself(spec)


def resolve_all_parents(
    session: Session, spec: EntitySpec, specs: SpecRegistry
) -> dict[Reference, str]:
    """Every live record of the types ``spec``'s comparisons refer to, resolved as
    matching resolves a reference (``mdm.context.resolve_references``). A load of one type
    changes none of them."""
    refs: list[Reference] = []
    for parent_type in sorted({a.reference for a in spec.compared_references if a.reference}):
        refs += [
            (parent_type, system, source_id)
            for system, source_id in select_rows(
                session,
                select(SourceRecord.system, SourceRecord.source_id).where(
                    SourceRecord.entity_type == parent_type, SourceRecord.is_deleted.is_(False)
                ),
            )
        ]
    return resolve_references(session, refs, specs) if refs else {}


def _standardize_chunk(records: list[RecordInput | SourceRow]) -> list[_Standardized | None]:
    """In a worker process: each record standardized, or ``None`` where it is refused (the
    parent process does it again, to reject it with its error)."""
    assert _WORKER_STATE is not None
    spec, codes, parents, located = _WORKER_STATE
    keep = refers_to_itself(spec)
    done: list[_Standardized | None] = []
    for record in records:
        try:
            row, values, keys, prepared = standardize_record(
                spec, codes, as_record(record), parents, located=located
            )
        except MdmError:
            done.append(None)
            continue
        # The values travel back only where matching keeps them (``Staged.values``): the
        # row holds them serialized, and unpickling them again costs the writing process.
        done.append((row, values if keep else None, keys, prepared))
    return done


def refers_to_itself(spec: EntitySpec) -> bool:
    """Whether the type's comparisons read a reference to its own type (locations: a
    department's facility), so the bulk path matches it in rounds."""
    return any(a.reference == spec.name for a in spec.compared_references)


def values_of(
    session: Session, staged: list[Staged], indices: list[int]
) -> dict[int, dict[str, Any]]:
    """Standardized values of some staged records: in memory if kept, else read back."""
    found = {staged[i].record_id: staged[i].values for i in indices if staged[i].values}
    missing = [staged[i].record_id for i in indices if staged[i].record_id not in found]
    found.update(rows_by_id(session, missing, SourceRecord.standardized))
    return {k: v or {} for k, v in found.items()}


def insert_keys(session: Session, key_rows: list[_KeyRow]) -> None:
    """Write (and clear) a batch of match keys, sorted by key: the key index takes them
    in its own order, a page at a time, instead of at random pages (at a million records,
    a random insert costs most of a load's staging time). Keys go to the store, not to
    memory: blocking reads them back sorted."""
    key_rows.sort()  # by key, then record
    insert_tuples(session, table_of(MatchKeyRow), KEY_COLUMNS, key_rows)
    key_rows.clear()


def rows_by_id(session: Session, ids: list[int], *columns: Any) -> Iterator[Any]:
    """``(id, *columns)`` of source records, read a chunk of ids at a time."""
    for start in range(0, len(ids), 2000):
        yield from select_rows(
            session,
            select(SourceRecord.id, *columns).where(SourceRecord.id.in_(ids[start : start + 2000])),
        )
