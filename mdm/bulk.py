"""The bulk path: an initial load of an entity type, blocked and scored in batches.

Record by record, a large first load would compare each newcomer with the records before
it, one query and one Python loop at a time. Here all the records of one entity type are
staged first (source rows written in chunks as they are read), then blocked in memory,
scored as arrays (``matchers.score_many``), clustered (connected components, with
``matchers.cluster`` guarding components against weak chains), and golden records,
history, events and review candidates are written in bulk. The result does not depend on
the order of the input: records are ordered by (system, source id) before anything is
decided. A later row of a staged record (a file of changes) is folded in: the record is
matched on its first version and survives on its latest, as record by record.
Used when the store has no record of the entity type yet; later loads go record by record
through ``Ingestor``.
"""

from __future__ import annotations

import gc
import os
from array import array
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import islice
from multiprocessing import get_all_start_methods, get_context
from multiprocessing.pool import AsyncResult
from typing import Any, cast

import numpy as np
import orjson
from numpy.typing import NDArray
from sqlalchemy import Table, delete, insert, select
from sqlalchemy.orm import Session

from matchers import (
    ANCESTRY,
    MatchModel,
    PreparedRecords,
    cluster,
    encode_prepared,
    prepare_records,
    score_many,
)
from mdm.codes import EMPTY_CODEBOOK, CodeBook
from mdm.context import (
    REFERENCE_KIND,
    ContextView,
    Reference,
    ancestry_of_clusters,
    forget_resolutions,
    reference_keys,
    references_of,
    resolve_references,
)
from mdm.errors import MdmError, MissingSourceIdError
from mdm.events import ChangeKind
from mdm.golden import ChangeContext, merge_golden, new_public_id
from mdm.ingest import Ingestor, IngestStatus, RecordInput, content_hash, jsonable, key_kind
from mdm.mapping import EntityMapping
from mdm.matching import Action, Candidate, MatchDecision, goldens_cannot_link
from mdm.reevaluate import alone_records, child_types, enqueue_golden_children, sibling_groups
from mdm.screening import SOURCE_ID_LENGTH, require_identifier
from mdm.specs import EntitySpec, SpecRegistry
from mdm.standardize import record_findings, record_keys, standardize
from mdm.store import (
    Base,
    ChangeEvent,
    Database,
    GoldenHistory,
    GoldenRecord,
    JsonText,
    MatchCandidate,
    MatchKeyRow,
    SourceRecord,
    json_text,
    utcnow,
)
from mdm.store.locks import lock_for_matching
from mdm.store.rows import (
    insert_rows,
    insert_rows_returning_ids,
    insert_tuples,
    select_rows,
    update_rows,
)
from mdm.survivorship import Member, survive

CHUNK = 2000


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


# A match key row: key, source record id, entity type, kind (sorted by key, then record).
_KeyRow = tuple[str, int, str, str]
KEY_COLUMNS = ("key", "source_record_id", "entity_type", "kind")
KEY_BATCH = 200_000  # match keys written at once, sorted (see ``_insert_keys``)
MAX_ROUNDS = 5  # matching rounds of a type whose records refer to records of the same type


@dataclass
class _Staged:
    record_id: int
    system: str
    source_id: str
    values: dict[str, Any] | None  # dropped once prepared; read back for survivorship
    # Prepared for matching while staged (``prepares_while_staging``), else None.
    prepared: tuple[Any, ...] | None = None


@dataclass
class _Later:
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


class _BlockKeys:
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
            if kind != REFERENCE_KIND:  # references are context, not blocking keys
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


@dataclass
class BulkResult:
    """What a bulk load did."""

    statuses: Counter[tuple[str, IngestStatus]] = field(default_factory=Counter)
    golden_records: int = 0
    candidate_pairs: int = 0
    review_candidates: int = 0
    worker_chunks: int = 0  # chunks standardized by worker processes


def is_initial_load(session: Session, spec: EntitySpec) -> bool:
    """Whether the store holds no record of this entity type yet."""
    found = session.scalar(
        select(SourceRecord.id).where(SourceRecord.entity_type == spec.name).limit(1)
    )
    return found is None


class BulkLoader:
    """Loads all records of one entity type into an empty store for that type."""

    def __init__(self, ingestor: Ingestor, *, workers: int = 1, chunk_size: int = CHUNK) -> None:
        """``workers``: processes that standardize records while this one writes (1: none;
        0: one per CPU, at most 4). Only loads of more than one chunk use them."""
        self.ingestor = ingestor
        self.chunk_size = chunk_size
        self.workers = workers if workers > 0 else min(os.cpu_count() or 1, 4)
        self.codes = EMPTY_CODEBOOK
        self.parents: dict[Reference, str] | None = None  # see ``prepares_while_staging``
        self.later = _Later()
        self.blocks = _BlockKeys()

    def load(
        self,
        database: Database,
        spec: EntitySpec,
        records: Iterable[RecordInput | SourceRow],
        *,
        actor: str | None,
        correlation_id: str | None,
        on_progress: Callable[[int], None] | None = None,
    ) -> BulkResult:
        """Stage, match and write ``records`` (all of ``spec``'s type) in one transaction.

        Refused records are kept as rejections, as on the incremental path.
        """
        result = BulkResult()
        with _few_collections(), database.session() as session:
            lock_for_matching(session)
            self.codes = self.ingestor.codes(session)
            self.parents = (
                resolve_all_parents(session, spec, self.ingestor.specs)
                if prepares_while_staging(spec)
                else None
            )
            staged = self._stage(session, spec, records, result, actor, correlation_id, on_progress)
            if spec.matching is not None and staged:
                self._match_and_write(session, spec, staged, result, actor, correlation_id)
            elif staged:
                self._write_singletons(session, spec, staged, result, actor, correlation_id)
            self._settle_later(session, spec)
        return result

    # -- staging ---------------------------------------------------------------------

    def _stage(
        self,
        session: Session,
        spec: EntitySpec,
        records: Iterable[RecordInput | SourceRow],
        result: BulkResult,
        actor: str | None,
        correlation_id: str | None,
        on_progress: Callable[[int], None] | None,
    ) -> list[_Staged]:
        keep = refers_to_itself(spec)
        seen: dict[tuple[str, str], int] = {}  # (system, source id) -> record id
        staged: list[_Staged] = []
        repeats: list[_Standardized] = []
        key_rows: list[_KeyRow] = []  # written a batch at a time (``_insert_keys``)
        for chunk, done in self._standardized_chunks(spec, records):
            result.worker_chunks += any(d is not None for d in done)
            rows: list[dict[str, Any]] = []
            batch: set[tuple[str, str]] = set()
            pending: list[tuple[str, str, dict[str, Any] | None, list[str] | None, Any]] = []
            now = utcnow()
            for record, ready in zip(chunk, done, strict=True):
                try:
                    row, values, keys, prepared = self._standardize(session, spec, record, ready)
                    row["received_at"] = row["updated_at"] = now
                except MdmError as error:
                    self.ingestor.reject(
                        session, as_record(record), error, correlation_id=correlation_id
                    )
                    result.statuses[(record.system, IngestStatus.REJECTED)] += 1
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
                result.statuses[(record.system, status)] += 1
                pending.append(
                    (row["system"], row["source_id"], values, None if deleted else keys, prepared)
                )
            if rows:
                ids = insert_rows_returning_ids(session, _table(SourceRecord), rows)
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
                        _Staged(record_id, system, source_id, values if keep else None, prepared)
                    )
                    key_rows += self.blocks.add(spec, record_id, found)
                if len(key_rows) >= KEY_BATCH:
                    _insert_keys(session, key_rows)
            if on_progress is not None:
                on_progress(len(chunk))
        _insert_keys(session, key_rows)
        if repeats:
            staged = self._fold_repeats(session, spec, staged, seen, repeats, result)
        staged.sort(key=lambda s: (s.system, s.source_id))
        return staged

    def _fold_repeats(
        self,
        session: Session,
        spec: EntitySpec,
        staged: list[_Staged],
        ids_of: dict[tuple[str, str], int],
        repeats: list[_Standardized],
        result: BulkResult,
    ) -> list[_Staged]:
        """Later versions of records staged in this load (a file of changes beside the
        extract), counted as the record-by-record path counts them (unchanged, updated or
        deleted) and stored now. As record by record, a record is matched on the version
        that arrived first (an update never moves a record out of its golden record) and
        its golden record is built from its latest version; one deleted in its latest
        version stays out of golden records. See ``_Later``."""
        wanted = {(row["system"], row["source_id"]) for row, _, _, _ in repeats}
        live = {(s.system, s.source_id) for s in staged if (s.system, s.source_id) in wanted}
        state: dict[int, list[Any]] = {}  # record id -> [content hash, version, deleted]
        ids = sorted(ids_of[key] for key in wanted)
        for record_id, digest, version, deleted in _rows_by_id(
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
                result.statuses[(row["system"], IngestStatus.UNCHANGED)] += 1
                continue
            current[:] = [row["content_hash"], current[1] + 1, row["is_deleted"]]
            status = IngestStatus.DELETED if row["is_deleted"] else IngestStatus.UPDATED
            result.statuses[(row["system"], status)] += 1
            changed[record_id] = (row, values, keys)
            if key not in live and not row["is_deleted"]:  # a deleted record comes back
                live.add(key)
                staged.append(_Staged(record_id, key[0], key[1], values, prepared))
                _insert_keys(session, self.blocks.add(spec, record_id, keys))
        if not changed:
            return staged
        now = utcnow()
        later = self.later
        # Stored after matching (``_settle_later``): until then the store holds the version
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

    def _settle_later(self, session: Session, spec: EntitySpec) -> None:
        """After matching: the match keys of records with a later version become those of
        the latest one (a deleted record keeps none), and the latest versions are stored."""
        if self.later.rows:
            update_rows(
                session, _table(SourceRecord), [self.later.rows[k] for k in sorted(self.later.rows)]
            )
            forget_resolutions(session)
        ids = sorted(self.later.keys)
        for start in range(0, len(ids), 2000):
            chunk = ids[start : start + 2000]
            session.execute(delete(MatchKeyRow).where(MatchKeyRow.source_record_id.in_(chunk)))
        rows = [
            {"entity_type": spec.name, "key": key, "kind": key_kind(key), "source_record_id": rid}
            for rid in ids
            for key in self.later.keys[rid]
        ]
        insert_rows(session, _table(MatchKeyRow), rows)
        self.later = _Later()

    def _standardized_chunks(
        self, spec: EntitySpec, records: Iterable[RecordInput | SourceRow]
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
        _WORKER_STATE = (spec, self.codes, self.parents)  # inherited by the forked workers
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
        spec: EntitySpec,
        record: RecordInput | SourceRow,
        ready: _Standardized | None = None,
    ) -> _Standardized:
        """A record's source row, standardized values and keys (``ready``: as a worker
        process made them); raises what the record is refused for."""
        if record.entity_type != spec.name:
            self.ingestor.specs.get_spec(record.entity_type)
        self.ingestor.systems.require(session, record.system)
        if ready is not None:
            return ready
        return standardize_record(spec, self.codes, as_record(record), self.parents)

    # -- matching --------------------------------------------------------------------

    def _match_and_write(
        self,
        session: Session,
        spec: EntitySpec,
        staged: list[_Staged],
        result: BulkResult,
        actor: str | None,
        correlation_id: str | None,
    ) -> None:
        assert spec.matching is not None
        settings = spec.matching
        active = self.ingestor.models.active(session, spec)
        pairs = self.blocks.pairs([s.record_id for s in staged], settings.max_block_size)
        self.blocks = _BlockKeys()
        result.candidate_pairs = len(pairs)
        specs = self.ingestor.specs
        context = ContextView(self.codes, specs)
        if not refers_to_itself(spec):
            # One round, on the features the staging prepared (``prepares_while_staging``):
            # memory holds the prepared columns, not every record's values.
            prepared = encode_prepared(
                active.model.comparisons, (cast(tuple[Any, ...], s.prepared) for s in staged)
            )
            for s in staged:
                s.prepared = None
            left, right, probability = score_in_batches(
                spec, active.model, prepared, pairs, active.review_threshold
            )
            del prepared, pairs
            clusters = cluster_records(len(staged), left, right, probability, active.auto_threshold)
            self._write_and_review(
                session, spec, staged, clusters, (left, right, probability), result, actor,
                correlation_id,
            )  # fmt: skip
            return
        records = [(s.system, s.values or {}) for s in staged]
        # Parents of other types are in the store already (parents load first): resolve
        # them through the crosswalk. Parents of this type are being matched right now.
        refs = [references_of(spec, values) for _, values in records]
        resolved = dict(
            resolve_references(session, {r for found in refs for r in found.values()}, specs)
        )
        own = any(ref[0] == spec.name for found in refs for ref in found.values())
        # Records referring to records of this same load (a department to its facility, a
        # par to its department) compare against their parents as matched: each round
        # resolves those references to the clusters of the round before, until the
        # clusters settle (a hierarchy a few levels deep settles in as many rounds).
        rounds = MAX_ROUNDS if own else 1
        previous: list[list[int]] | None = None
        for round_ in range(rounds):
            views = [
                context.view(spec, system, values, found, resolved)
                for (system, values), found in zip(records, refs, strict=True)
            ]
            prepared = prepare_records(active.model.comparisons, views)
            del views
            left, right, probability = score_in_batches(
                spec, active.model, prepared, pairs, active.review_threshold
            )
            del prepared
            clusters = cluster_records(len(staged), left, right, probability, active.auto_threshold)
            if clusters == previous or round_ + 1 == rounds:
                break
            previous = clusters
            resolved.update(_cluster_ancestry(spec, staged, clusters, refs))
            # Children of one parent are candidates of each other whatever their keys say
            # (a department with no address of its own, named differently per system).
            pairs = _with_sibling_pairs(pairs, refs, resolved, settings.max_block_size)
            result.candidate_pairs = len(pairs)
        # The prepared values were all scoring needed: let the raw ones go (memory at scale).
        del records, refs
        for s in staged:
            s.values = None
        del pairs
        self._write_and_review(
            session, spec, staged, clusters, (left, right, probability), result, actor,
            correlation_id,
        )  # fmt: skip

    def _write_and_review(
        self,
        session: Session,
        spec: EntitySpec,
        staged: list[_Staged],
        clusters: list[list[int]],
        scored: tuple[NDArray[np.int32], NDArray[np.int32], NDArray[np.float32]],
        result: BulkResult,
        actor: str | None,
        correlation_id: str | None,
    ) -> None:
        """Golden records of the clusters, and unsure pairs across them for review."""
        left, right, probability = scored
        active = self.ingestor.models.active(session, spec)
        golden_of = self._write_goldens(session, spec, staged, clusters, actor, correlation_id)
        result.golden_records = len(set(golden_of) - {0})
        review = (probability >= active.review_threshold) & (probability < active.auto_threshold)
        candidates: dict[tuple[int, int], tuple[float, int]] = {}
        for k in np.flatnonzero(review).tolist():
            i, j = int(left[k]), int(right[k])
            if golden_of[i] == golden_of[j] or not golden_of[i] or not golden_of[j]:
                continue
            # The later record (by system and id) is the newcomer, as it would be one by one.
            pair = (staged[j].record_id, golden_of[i])
            if candidates.get(pair, (-1.0, 0))[0] < probability[k]:
                candidates[pair] = (float(probability[k]), staged[i].record_id)
        if candidates:
            session.execute(
                insert(_table(MatchCandidate)),
                [
                    {
                        "entity_type": spec.name,
                        "source_record_id": record_id,
                        "golden_id": golden_id,
                        "score": score,
                        "explanation": {"rule": "score", "path": "bulk", "best_member": member},
                        "status": "pending",
                    }
                    for (record_id, golden_id), (score, member) in sorted(candidates.items())
                ],
            )
        result.review_candidates = len(candidates)

    def _write_singletons(
        self,
        session: Session,
        spec: EntitySpec,
        staged: list[_Staged],
        result: BulkResult,
        actor: str | None,
        correlation_id: str | None,
    ) -> None:
        clusters = [[i] for i in range(len(staged))]
        golden_of = self._write_goldens(session, spec, staged, clusters, actor, correlation_id)
        result.golden_records = len(set(golden_of) - {0})

    def _write_goldens(
        self,
        session: Session,
        spec: EntitySpec,
        staged: list[_Staged],
        clusters: list[list[int]],
        actor: str | None,
        correlation_id: str | None,
    ) -> list[int]:
        """Golden records, member links, history and events; the golden id of each record.

        Written a chunk of clusters at a time, so memory holds one chunk's rows.
        """
        golden_of = [0] * len(staged)  # 0: none (deleted in its latest version)
        if self.later.gone:
            clusters = [
                kept
                for members in clusters
                if (kept := [i for i in members if staged[i].record_id not in self.later.gone])
            ]
        for start in range(0, len(clusters), 5000):
            chunk = clusters[start : start + 5000]
            self._write_golden_chunk(session, spec, staged, chunk, golden_of, actor, correlation_id)
        return golden_of

    def _write_golden_chunk(
        self,
        session: Session,
        spec: EntitySpec,
        staged: list[_Staged],
        clusters: list[list[int]],
        golden_of: list[int],
        actor: str | None,
        correlation_id: str | None,
    ) -> None:
        now = utcnow()
        values = _values_of(session, staged, [i for members in clusters for i in members])
        values.update(
            (staged[i].record_id, latest)
            for members in clusters
            for i in members
            if (latest := self.later.latest.get(staged[i].record_id)) is not None
        )
        golden_rows = []
        for members in clusters:
            survivor = survive(
                spec,
                [
                    Member(
                        staged[i].record_id,
                        staged[i].system,
                        staged[i].source_id,
                        values[staged[i].record_id],
                        now,
                    )
                    for i in members
                ],
            )
            golden_rows.append(
                {
                    "public_id": new_public_id(spec),
                    "entity_type": spec.name,
                    # Serialized once for the golden row, its history and its event.
                    "attributes": json_text(survivor.attributes),
                    "lineage": json_text(survivor.lineage),
                    "status": "active",
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        del values
        golden_ids = insert_rows_returning_ids(session, _table(GoldenRecord), golden_rows)
        for golden_id, members in zip(golden_ids, clusters, strict=True):
            for i in members:
                golden_of[i] = golden_id
        update_rows(
            session,
            _table(SourceRecord),
            [
                {"id": staged[i].record_id, "golden_id": golden_of[i]}
                for members in clusters
                for i in members
            ],
        )
        forget_resolutions(session)
        history, events = [], []
        for golden_id, row, members in zip(golden_ids, golden_rows, clusters, strict=True):
            sources = json_text(
                [{"system": staged[i].system, "sourceId": staged[i].source_id} for i in members]
            )
            history.append(
                {
                    "golden_id": golden_id,
                    "version": 1,
                    "attributes": row["attributes"],
                    "lineage": row["lineage"],
                    "members": sources,
                    "status": "active",
                    "merged_into_id": None,
                    "change_kind": ChangeKind.CREATED.value,
                    "actor": actor,
                    "changed_at": now,
                }
            )
            events.append(
                {
                    "entity_type": spec.name,
                    "golden_public_id": row["public_id"],
                    "kind": ChangeKind.CREATED.value,
                    "version": 1,
                    "payload": {
                        "id": row["public_id"],
                        "status": "active",
                        "attributes": orjson.Fragment(cast(JsonText, row["attributes"]).text),
                        "sources": orjson.Fragment(sources.text),
                    },
                    "actor": actor,
                    "correlation_id": correlation_id,
                    "created_at": now,
                }
            )
        insert_rows(session, _table(GoldenHistory), history)
        insert_rows(session, _table(ChangeEvent), events)


@contextmanager
def _few_collections() -> Iterator[None]:
    """The cycle collector's full collections held off while a load runs.

    A load keeps millions of objects alive until it ends (staged records, their prepared
    features, a chunk's rows), and CPython's full collection walks all of them each time
    the heap grows by a quarter: measured at 200,000 records, 61 full collections took 31 s
    of a 180 s load. What a load makes and drops is freed by reference counting, and the
    young generations are still collected (cycles made per statement); the survivors are
    collected once, after the load. Forked worker processes inherit the setting, so they
    do not walk (and so copy) the heap they share with this process either.
    """
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(young, 10_000), middle, 1 << 30)
    try:
        yield
    finally:
        gc.set_threshold(young, middle, old)
        gc.collect()


def refers_to_itself(spec: EntitySpec) -> bool:
    """Whether the type's comparisons read a reference to its own type (locations: a
    department's facility), so the bulk path matches it in rounds."""
    return any(a.reference == spec.name for a in spec.compared_references)


def _values_of(
    session: Session, staged: list[_Staged], indices: list[int]
) -> dict[int, dict[str, Any]]:
    """Standardized values of some staged records: in memory if kept, else read back."""
    found = {staged[i].record_id: staged[i].values for i in indices if staged[i].values}
    missing = [staged[i].record_id for i in indices if staged[i].record_id not in found]
    found.update(_rows_by_id(session, missing, SourceRecord.standardized))
    return {k: v or {} for k, v in found.items()}


def _insert_keys(session: Session, key_rows: list[_KeyRow]) -> None:
    """Write (and clear) a batch of match keys, sorted by key: the key index takes them
    in its own order, a page at a time, instead of at random pages (at a million records,
    a random insert costs most of a load's staging time). Keys go to the store, not to
    memory: blocking reads them back sorted."""
    key_rows.sort()  # by key, then record
    insert_tuples(session, _table(MatchKeyRow), KEY_COLUMNS, key_rows)
    key_rows.clear()


def _rows_by_id(session: Session, ids: list[int], *columns: Any) -> Iterator[Any]:
    """``(id, *columns)`` of source records, read a chunk of ids at a time."""
    for start in range(0, len(ids), 2000):
        yield from select_rows(
            session,
            select(SourceRecord.id, *columns).where(SourceRecord.id.in_(ids[start : start + 2000])),
        )


def _cluster_ancestry(
    spec: EntitySpec,
    staged: list[_Staged],
    clusters: list[list[int]],
    refs: list[dict[str, tuple[str, str, str]]],
) -> dict[tuple[str, str, str], str]:
    """References to records of this load -> their cluster, with the cluster's ancestors."""
    label_of: dict[tuple[str, str, str], str] = {}
    for label, members in enumerate(clusters):
        for i in members:
            label_of[(spec.name, staged[i].system, staged[i].source_id)] = f"bulk:{label}"
    parents: dict[str, set[str]] = defaultdict(set)
    for label, members in enumerate(clusters):
        for i in members:
            for ref in refs[i].values():
                parent = label_of.get(ref)
                if parent is not None:
                    parents[f"bulk:{label}"].add(parent)
    return ancestry_of_clusters(label_of, parents)


def _with_sibling_pairs(
    pairs: NDArray[np.intp],
    refs: list[dict[str, tuple[str, str, str]]],
    resolved: dict[tuple[str, str, str], str],
    max_block_size: int,
) -> NDArray[np.intp]:
    """``pairs`` plus every pair of records whose references resolve to the same parent."""
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, found in enumerate(refs):
        for name, ref in found.items():
            parent = resolved.get(ref)
            if parent is not None:
                groups[(name, parent.split(ANCESTRY, 1)[0])].append(i)
    n = len(refs)
    parts = [pairs[:, 0].astype(np.int64) * n + pairs[:, 1]]
    for members in groups.values():
        if 2 <= len(members) <= max_block_size:
            m = np.asarray(sorted(set(members)), dtype=np.int64)
            a, b = _pairs_of_size(len(m))
            parts.append(m[a] * n + m[b])
    codes = np.unique(np.concatenate(parts))
    return np.stack([codes // n, codes % n], axis=1).astype(np.intp)


@lru_cache(maxsize=512)
def _pairs_of_size(size: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """``np.triu_indices(size, k=1)``, worked out once per block size (millions of blocks,
    most of a few sizes)."""
    a, b = np.triu_indices(size, k=1)
    a.flags.writeable = b.flags.writeable = False
    return a, b


def block_pairs(
    key_hashes: NDArray[np.int64],
    key_records: NDArray[np.int64],
    record_ids: list[int],
    max_block_size: int,
) -> NDArray[np.intp]:
    """``(n, 2)`` index pairs ``i < j`` (into ``record_ids``) of records sharing a key.

    ``key_hashes[k]`` is a key of record ``key_records[k]`` (records not in ``record_ids``
    are left out). Blocks larger than ``max_block_size`` are skipped. The pairs are sorted
    and unique, whatever the order of the keys.
    """
    n = len(record_ids)
    ids = np.asarray(record_ids, dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    where = np.searchsorted(ids, key_records, sorter=order)
    where = np.minimum(where, max(n - 1, 0))
    known = (ids[order[where]] == key_records) if n else np.zeros(len(key_records), dtype=bool)
    index = order[where[known]].astype(np.int64)
    hashes = key_hashes[known]
    if not len(index):
        return np.empty((0, 2), dtype=np.intp)
    # Sorted by key and then by record, each (key, record) once.
    by_key = np.lexsort((index, hashes))
    hashes, index = hashes[by_key], index[by_key]
    distinct = np.r_[True, (hashes[1:] != hashes[:-1]) | (index[1:] != index[:-1])]
    hashes, members = hashes[distinct], index[distinct]
    starts = np.flatnonzero(np.r_[True, hashes[1:] != hashes[:-1]])
    sizes = np.diff(np.r_[starts, len(members)])
    parts: list[NDArray[np.int64]] = []
    # The blocks of one size at a time, as a matrix of members (a row a block).
    for size in np.unique(sizes[(sizes >= 2) & (sizes <= max_block_size)]).tolist():
        firsts = starts[sizes == size]
        a, b = _pairs_of_size(size)
        step = max(1, 2_000_000 // len(a))  # about two million pairs at a time
        for lo in range(0, len(firsts), step):
            block = members[firsts[lo : lo + step, None] + np.arange(size)]
            parts.append(np.unique(block[:, a] * n + block[:, b]))
    if not parts:
        return np.empty((0, 2), dtype=np.intp)
    codes = np.unique(np.concatenate(parts))
    return np.stack([codes // n, codes % n], axis=1).astype(np.intp)


def score_in_batches(
    spec: EntitySpec,
    model: MatchModel,
    prepared: PreparedRecords,
    pairs: NDArray[np.intp],
    review_threshold: float,
    batch_size: int = 250_000,
) -> tuple[NDArray[np.int32], NDArray[np.int32], NDArray[np.float32]]:
    """Judged match probability of every candidate pair, kept compact.

    Pairs are scored a batch at a time and only indices (int32) and judged probabilities
    (float32) are kept: 12 bytes a pair, whatever the number of comparisons.
    """
    if not len(pairs):
        empty = np.empty(0, dtype=np.int32)
        return empty, empty, np.empty(0, dtype=np.float32)
    parts = []
    for start in range(0, len(pairs), batch_size):
        batch = pairs[start : start + batch_size]
        scored = score_many(model, [], None, batch, prepared=prepared)
        judged = judge_many(spec, scored.levels, scored.match_probability, review_threshold)
        parts.append(judged.astype(np.float32))
    return (
        pairs[:, 0].astype(np.int32),
        pairs[:, 1].astype(np.int32),
        np.concatenate(parts),
    )


def judge_many(
    spec: EntitySpec,
    levels: NDArray[np.int8],
    probability: NDArray[np.float64],
    review_threshold: float,
) -> NDArray[np.float64]:
    """``mdm.matching.judge`` over arrays: decisive rules accept (probability 1), vetoes
    hold below review."""
    assert spec.matching is not None
    settings = spec.matching
    index = {c.name: k for k, c in enumerate(settings.comparisons)}
    level_of = {c.name: {name: i for i, name in enumerate(c.levels)} for c in settings.comparisons}
    out = probability.copy()
    decided = np.zeros(len(out), dtype=bool)
    for rule in settings.decisive:
        mask = np.ones(len(out), dtype=bool)
        for name, level in rule:
            mask &= levels[:, index[name]] == level_of[name][level]
        decided |= mask
    vetoed = np.zeros(len(out), dtype=bool)
    for name, level in settings.vetoes:
        vetoed |= levels[:, index[name]] == level_of[name][level]
    vetoed &= ~decided
    out[decided] = 1.0
    out[vetoed] = np.minimum(out[vetoed], review_threshold * 0.999)
    return out


def cluster_records(
    n: int,
    left: NDArray[np.integer[Any]],
    right: NDArray[np.integer[Any]],
    probability: NDArray[np.floating[Any]],
    threshold: float,
) -> list[list[int]]:
    """Clusters of record indices: components over sure links, weak chains split.

    Components are found with a union-find; a component of three or more is handed to
    ``matchers.cluster`` with every scored pair inside it (unsure ones too), which cuts it
    where it is only weakly held together.
    """
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    sure = probability >= threshold
    for i, j in zip(left[sure].tolist(), right[sure].tolist(), strict=True):
        a, b = find(i), find(j)
        if a != b:
            parent[max(a, b)] = min(a, b)
    components: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        components[find(i)].append(i)
    big = {root for root, members in components.items() if len(members) >= 3}
    edges: dict[int, list[tuple[int, int, float]]] = defaultdict(list)
    if big:
        roots = np.fromiter((find(i) for i in range(n)), dtype=np.int64, count=n)
        inside = roots[left] == roots[right]
        for k in np.flatnonzero(inside).tolist():
            root = int(roots[left[k]])
            if root in big:
                edges[root].append((int(left[k]), int(right[k]), float(probability[k])))
    clusters: list[list[int]] = []
    for root in sorted(components):
        members = components[root]
        if root not in big:
            clusters.append(members)
            continue
        split = cluster(members, edges[root], threshold)
        clusters.extend(sorted([int(i) for i in c] for c in split.clusters))
    return clusters


# --------------------------------------------------------------------------- staging

# row, values, keys, prepared (``prepares_while_staging``) or None
_Standardized = tuple[dict[str, Any], dict[str, Any] | None, list[str], tuple[Any, ...] | None]
_WORKER_STATE: tuple[EntitySpec, CodeBook, dict[Reference, str] | None] | None = None


def standardize_record(
    spec: EntitySpec,
    codes: CodeBook,
    record: RecordInput,
    parents: Mapping[Reference, str] | None = None,
) -> _Standardized:
    """A record's source row (without its timestamps), standardized values and keys, and
    with ``parents`` (``resolve_all_parents``) its prepared matching features: no database,
    so worker processes can do it. Raises what the record is refused for."""
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
    keys = record_keys(spec, std.values) + reference_keys(spec, std.values)
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
    spec, codes, parents = _WORKER_STATE
    keep = refers_to_itself(spec)
    done: list[_Standardized | None] = []
    for record in records:
        try:
            row, values, keys, prepared = standardize_record(
                spec, codes, as_record(record), parents
            )
        except MdmError:
            done.append(None)
            continue
        # The values travel back only where matching keeps them (``_Staged.values``): the
        # row holds them serialized, and unpickling them again costs the writing process.
        done.append((row, values if keep else None, keys, prepared))
    return done


# --------------------------------------------------------------------------- after a load


@dataclass
class SiblingPass:
    """What matching children against their siblings did (see ``match_alone_children``)."""

    scored: int = 0  # lone records scored
    pairs: int = 0
    merged: int = 0
    refused: int = 0  # sure matches a steward's rejection forbids: sent to review
    review_candidates: int = 0


def match_alone_children(
    session: Session, ingestor: Ingestor, parent: EntitySpec, ctx: ChangeContext
) -> SiblingPass:
    """After ``parent``'s type was loaded in bulk, decide again, in one vectorized pass, the
    records of other types that refer to it and are still alone in their golden record
    (they were matched before their parents were in: a department before its cost center).

    A resolved parent can turn into a match only with a *sibling*: a record of the same
    type, in another golden record, whose reference resolves to the same parent golden
    record. So each lone record is scored against its siblings (a parent with more children
    than the incremental path would compare is skipped, as an oversized block is); the best
    sure one takes it in (its golden record is folded into the sibling's, cannot-links
    hold), unsure ones go to review. The record's other candidates were scored when it was
    loaded, and nothing about them changed.
    """
    result = SiblingPass()
    specs = ingestor.specs
    for name in child_types(specs, parent.name):
        spec = specs.get_spec(name)
        if name == parent.name or spec.matching is None:
            continue  # a type referring to itself was matched in rounds
        limit = spec.matching.max_block_size
        alone = alone_records(session, name)
        pairs: set[tuple[int, int]] = set()
        for members in sibling_groups(session, spec, parent.name):
            if len(members) > limit:
                continue
            for record_id, golden_id in members:
                if record_id in alone:
                    pairs.update(
                        (min(record_id, other), max(record_id, other))
                        for other, other_golden in members
                        if other_golden != golden_id
                    )
        if pairs:
            _match_siblings(session, ingestor, spec, sorted(pairs), alone, ctx, result)
    return result


def _match_siblings(
    session: Session,
    ingestor: Ingestor,
    spec: EntitySpec,
    pairs: list[tuple[int, int]],
    alone: set[int],
    ctx: ChangeContext,
    result: SiblingPass,
) -> None:
    ids = sorted({r for pair in pairs for r in pair})
    found: dict[int, tuple[str, dict[str, Any], int]] = {}
    for record_id, system, values, golden_id in _rows_by_id(
        session, ids, SourceRecord.system, SourceRecord.standardized, SourceRecord.golden_id
    ):
        found[record_id] = (system, values or {}, golden_id)
    index = {record_id: i for i, record_id in enumerate(ids)}
    views = ContextView(ingestor.codes(session), ingestor.specs).views(
        session, spec, [(found[r][0], found[r][1]) for r in ids]
    )
    active = ingestor.models.active(session, spec)
    prepared = prepare_records(active.model.comparisons, views)
    del views
    at = np.asarray([(index[a], index[b]) for a, b in pairs], dtype=np.intp)
    left, right, probability = score_in_batches(
        spec, active.model, prepared, at, active.review_threshold
    )
    result.pairs += len(pairs)
    sure: dict[int, tuple[float, int]] = {}  # lone record -> (best probability, sibling)
    unsure: dict[int, dict[int, tuple[float, int]]] = defaultdict(dict)  # -> golden -> ...
    for k, p in enumerate(probability.tolist()):
        a, b = ids[int(left[k])], ids[int(right[k])]
        for mine, other in ((b, a), (a, b)):
            if mine not in alone:
                continue
            if p >= active.auto_threshold:
                if sure.get(mine, (-1.0, 0)) < (p, -other):
                    sure[mine] = (p, other)
            elif p >= active.review_threshold:
                if other in alone and mine < other:
                    continue  # two lone records: one review, the later one the newcomer
                golden_id = found[other][2]
                if unsure[mine].get(golden_id, (-1.0, 0))[0] < p:
                    unsure[mine][golden_id] = (p, other)
    result.scored += len(set(ids) & alone)
    refused: set[tuple[int, int]] = set()
    for record_id in sorted(sure.keys() | unsure.keys()):
        row = session.get(SourceRecord, record_id)
        assert row is not None and row.golden_id is not None
        current = _live(session, row.golden_id)
        review = dict(unsure.get(record_id, {}))
        if record_id in sure:
            p, other = sure[record_id]
            target = _live(session, found[other][2])
            pair = (min(target.id, current.id), max(target.id, current.id))
            if target.id != current.id and pair not in refused:
                if goldens_cannot_link(session, target.id, current.id):
                    refused.add(pair)  # once, whichever of the two asks
                    result.refused += 1
                    review[target.id] = (p, other)
                else:
                    merge_golden(session, spec, target, current, ctx)
                    enqueue_golden_children(
                        session, ingestor.specs, spec, target.id,
                        reason="parent_merged", cause=target.public_id,
                    )  # fmt: skip
                    result.merged += 1
                    current = target
        candidates = tuple(
            Candidate(live.id, score, {"rule": "score", "path": "siblings", "best_member": member})
            for golden_id, (score, member) in sorted(review.items())
            if (live := _live(session, golden_id)).id != current.id
        )
        result.review_candidates += ingestor.store_review(
            session, spec, row, MatchDecision(Action.NEW, review=candidates)
        )


def _live(session: Session, golden_id: int) -> GoldenRecord:
    """A golden record, or the one it was merged into."""
    golden = session.get(GoldenRecord, golden_id)
    for _ in range(32):
        assert golden is not None
        if golden.status != "merged" or golden.merged_into_id is None:
            break
        golden = session.get(GoldenRecord, golden.merged_into_id)
    assert golden is not None
    return golden
