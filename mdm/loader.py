"""File loads (``mdm load``): mapping files -> source rows -> the ingest pipeline.

Loading the same files again writes nothing. A file whose load committed whole is
recorded in ``loaded_file`` by system, entity type, the SHA-256 of its bytes and that of
its mapping table; a later load skips it unread, whatever the order or number of files
it comes with. A file that changed, or whose load did not finish, is applied again, its
records already at that content being unchanged as ever.

The files of one system and entity type are versions of its records in the order the
mapping lists them (a main extract, then a file of later changes). When a record the
store already holds is also in a later file of the same load, only the later row is
applied: an older version never overwrites a newer one, so a main extract loaded again
after its changes file (changed, or beside the changes already applied) does not revert
them. A record new to the store goes through every version in order, as in a first load.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from itertools import chain, islice
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mdm.bulk import BulkLoader, PhaseTimes, SourceRow, is_initial_load, match_alone_children
from mdm.errors import MdmError
from mdm.golden import ChangeContext
from mdm.ingest import Ingestor, IngestStatus, RecordInput
from mdm.mapping import EntityMapping, SystemMapping, load_mapping
from mdm.readers import file_hash, read_rows
from mdm.reevaluate import enqueue_learned
from mdm.reference import (
    LearnSummary,
    ReferenceLoadSummary,
    find_reference_files,
    learn_correspondences,
    load_reference_files,
)
from mdm.store import Database, LoadedFile, SourceRecord
from mdm.systems import register_system

CHUNK = 500
SETTLE_CHUNK = 500
_IDS_PER_QUERY = 500
_log = logging.getLogger(__name__)

SKIPPED = "skipped"
"""Row status: in a file loaded before with the same content and mapping (not read)."""
SUPERSEDED = "superseded"
"""Row status: a stored record whose later version is in a later file of the same load."""
STATUSES = (*(s.value for s in IngestStatus), SUPERSEDED, SKIPPED)
_WRITES = (IngestStatus.CREATED, IngestStatus.UPDATED, IngestStatus.DELETED)


class FileStatus(StrEnum):
    APPLIED = "applied"  # read and loaded, then recorded
    SKIPPED = "skipped"  # loaded before with the same content and mapping: not read


@dataclass(frozen=True)
class SourceFile:
    """One entity file of a load, with what the store knows of its content."""

    system: SystemMapping
    entity: EntityMapping
    file_hash: str
    loaded_records: int | None = None  # rows it had when loaded before; None: not loaded

    @property
    def path(self) -> Path:
        assert self.entity.file is not None
        return self.entity.file

    @property
    def entity_type(self) -> str:
        return self.entity.entity_type

    @property
    def is_loaded(self) -> bool:
        return self.loaded_records is not None


@dataclass(frozen=True)
class FileOutcome:
    """What a load did with one file."""

    system: str
    entity_type: str
    path: str
    file_hash: str
    status: FileStatus
    records: int  # rows read (applied), or rows it had when loaded before (skipped)


@dataclass
class LoadSummary:
    """Counts of a load, per ``(system, entity type)`` and status, and its files.

    Statuses are ``IngestStatus`` values, ``superseded`` and ``skipped`` (see ``STATUSES``).
    """

    counts: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    correlation_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    reference_data: ReferenceLoadSummary | None = None  # code files found beside the mappings
    learned: LearnSummary | None = None  # correspondences learned once the records were in
    files: list[FileOutcome] = field(default_factory=list)
    # Entity type -> how its first load calibrated its match model (``BulkResult.calibration``).
    calibrations: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Entity type -> its bulk load's phases (``BulkResult.phases``) and what followed it.
    phases: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def add(self, system: str, entity_type: str, status: IngestStatus) -> None:
        self.counts[(system, entity_type, status.value)] += 1

    def total(self, status: str | None = None) -> int:
        return sum(n for (_, _, s), n in self.counts.items() if status is None or s == status)

    @property
    def has_changes(self) -> bool:
        """Whether the load changed source records or reference data."""
        records = any(self.total(status) for status in _WRITES)
        return records or (self.reference_data is not None and self.reference_data.has_changes)

    def files_with(self, status: FileStatus) -> list[FileOutcome]:
        return [f for f in self.files if f.status is status]

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON values (``mdm load --json``)."""
        pairs = sorted({(system, entity) for system, entity, _ in self.counts})
        return {
            "correlation_id": self.correlation_id,
            "counts": [
                {
                    "system": system,
                    "entity_type": entity,
                    **{st: self.counts[(system, entity, st)] for st in STATUSES},
                }
                for system, entity in pairs
            ],
            "totals": {st: self.total(st) for st in STATUSES},
            "calibrations": self.calibrations,
            "phases": self.phases,
            "files": [
                {
                    "system": f.system,
                    "entity_type": f.entity_type,
                    "path": f.path,
                    "file_hash": f.file_hash,
                    "status": f.status.value,
                    "records": f.records,
                }
                for f in self.files
            ],
            "files_applied": len(self.files_with(FileStatus.APPLIED)),
            "files_skipped": len(self.files_with(FileStatus.SKIPPED)),
            "reference_data": _reference_dict(self.reference_data),
            "learned": None if self.learned is None else asdict(self.learned),
        }


def find_mappings(path: Path) -> list[Path]:
    """The mapping files named by ``path``: the file itself, or every ``*.toml`` in a folder."""
    if path.is_dir():
        return sorted(p for p in path.glob("*.toml"))
    return [path]


def find_reference_data(mapping_paths: Iterable[Path]) -> list[Path]:
    """The reference data files (``code_sets.csv``, ``transcodings.csv``) in the folders of
    these mapping files."""
    folders = dict.fromkeys(p.parent for p in mapping_paths)
    return [f for folder in folders for f in find_reference_files(folder)]


def plan_load(
    paths: Iterable[Path], ingestor: Ingestor
) -> list[tuple[SystemMapping, EntityMapping]]:
    """Every (system, entity file) to load, parents before children (spec registry order)."""
    mappings = [load_mapping(p, ingestor.specs) for p in paths]
    order = {name: i for i, name in enumerate(ingestor.specs)}
    plan = [(m, e) for m in mappings for e in m.entities if e.file is not None]
    plan.sort(key=lambda pair: (order[pair[1].entity_type], pair[0].code))
    return plan


def hash_files(plan: Iterable[tuple[SystemMapping, EntityMapping]]) -> list[SourceFile]:
    """The files of a plan with the hash of their bytes.

    Raises:
        InvalidInputError: a file is missing or cannot be read.
    """
    return [SourceFile(s, e, file_hash(e.file, e.encoding)) for s, e in plan if e.file is not None]


def find_loaded(session: Session, files: Iterable[SourceFile]) -> list[SourceFile]:
    """``files`` with, for those loaded before (same system, type, bytes and mapping), the
    rows they had then."""
    files = list(files)
    hashes = {f.file_hash for f in files}
    known: dict[tuple[str, str, str, str], int] = {}
    if hashes:
        for row in session.scalars(select(LoadedFile).where(LoadedFile.file_hash.in_(hashes))):
            key = (row.system, row.entity_type, row.file_hash, row.mapping_hash)
            known[key] = row.records
    return [
        SourceFile(
            f.system,
            f.entity,
            f.file_hash,
            known.get((f.system.code, f.entity_type, f.file_hash, f.entity.mapping_hash)),
        )
        for f in files
    ]


def plan_files(
    database: Database, plan: Iterable[tuple[SystemMapping, EntityMapping]], *, force: bool = False
) -> list[SourceFile]:
    """The files of a plan, hashed, those loaded before marked (none with ``force``)."""
    files = hash_files(plan)
    if force:
        return files
    with database.read_session() as session:
        return find_loaded(session, files)


def records_of(system: SystemMapping, entity: EntityMapping) -> Iterator[RecordInput]:
    """The records of an entity file, mapped."""
    return (row.record() for row in rows_of(system, entity))


def rows_of(system: SystemMapping, entity: EntityMapping) -> Iterator[SourceRow]:
    """The rows of an entity file, to be mapped where they are standardized (``mdm.bulk``
    does it in its worker processes)."""
    assert entity.file is not None
    for line, row in read_rows(entity.file, entity.format, entity.encoding):
        if entity.includes(row):
            yield SourceRow(system.code, entity, line, row)


def load(
    database: Database,
    ingestor: Ingestor,
    paths: Iterable[Path],
    *,
    actor: str = "mdm load",
    on_progress: Callable[[str, int], None] | None = None,
    bulk: bool = True,
    workers: int = 1,
    force: bool = False,
    calibrates: bool = True,
    term_frequencies: bool = True,
) -> LoadSummary:
    """Load mapped files; each record lands whole or is kept as a rejection with its reason.

    Entity types are loaded parents first. An entity type the store has no record of yet
    goes through the bulk path (``mdm.bulk``) unless ``bulk`` is false; otherwise, and for
    every later load, records go one by one through the incremental pipeline. ``workers``:
    processes standardizing records for the bulk path (see ``BulkLoader``). ``calibrates``:
    a first load estimates its type's match model from its records (``BulkLoader``), and
    with ``term_frequencies`` weighs exact name agreements by how common the name is.

    A file loaded before, with the same bytes and mapping, is skipped unread (``force``:
    read and apply every file anyway); a file is recorded once its load committed. Of a
    stored record also in a later file of its system and type, only the later row is
    applied (see the module's docstring).

    Reference data files beside the mapping files (``code_sets.csv``, ``transcodings.csv``)
    are applied after the mappings' systems are registered and before any record; invalid
    ones stop the load before any record, with nothing of them (nor the systems) applied.
    Learning correspondences is left out when the load changed nothing.

    Raises:
        MdmError: a mapping file or source file is invalid (nothing of it is loaded).
        InvalidReferenceDataError: a reference data file is invalid.
    """
    paths = list(paths)
    plan = plan_load(paths, ingestor)
    files = hash_files(plan)  # a missing file stops the load before anything is written
    summary = LoadSummary()
    with database.session() as session:
        for system, _ in plan:
            register_system(session, system.code, system.name, _document(system))
        # Reference data next to the mappings: after their systems exist, before any record.
        reference_files = find_reference_data(paths)
        if reference_files:
            summary.reference_data = load_reference_files(session, reference_files, actor=actor)
        if not force:
            files = find_loaded(session, files)
    for entity_type in dict.fromkeys(f.entity_type for f in files):
        group = [f for f in files if f.entity_type == entity_type]
        for skipped in (f for f in group if f.is_loaded):
            _skip(skipped, summary, on_progress)
        pending = [f for f in group if not f.is_loaded]
        if not pending:
            continue
        spec = ingestor.specs[entity_type]
        with database.read_session() as session:
            initial = bulk and is_initial_load(session, spec)
        if initial:
            loader = BulkLoader(
                ingestor, workers=workers, calibrates=calibrates, term_frequencies=term_frequencies
            )
            _bulk(database, ingestor, loader, pending, summary, actor, on_progress)
            continue
        for file in pending:
            later = _later_source_ids(file, group)
            _incremental(database, ingestor, file, later, summary, actor, on_progress)
    order = {(f.system.code, f.entity_type, str(f.path)): i for i, f in enumerate(files)}
    summary.files.sort(key=lambda f: order[(f.system, f.entity_type, f.path)])
    _settle(database, ingestor, summary, actor)
    return summary


def _skip(
    file: SourceFile, summary: LoadSummary, on_progress: Callable[[str, int], None] | None
) -> None:
    records = file.loaded_records or 0
    summary.counts[(file.system.code, file.entity_type, SKIPPED)] += records
    summary.files.append(_outcome(file, FileStatus.SKIPPED, records))
    if on_progress is not None:
        on_progress(f"{file.system.code} {file.entity_type} (loaded before)", records)


def _bulk(
    database: Database,
    ingestor: Ingestor,
    loader: BulkLoader,
    files: list[SourceFile],
    summary: LoadSummary,
    actor: str,
    on_progress: Callable[[str, int], None] | None,
) -> None:
    """The first load of an entity type: every file at once, in one transaction."""
    entity_type = files[0].entity_type
    spec = ingestor.specs[entity_type]
    read = Counter[int]()

    def counted(index: int, file: SourceFile) -> Iterator[SourceRow]:
        for row in rows_of(file.system, file.entity):
            read[index] += 1
            yield row

    result = loader.load(
        database,
        spec,
        chain.from_iterable(counted(i, f) for i, f in enumerate(files)),
        actor=actor,
        correlation_id=summary.correlation_id,
        on_progress=_bulk_progress(entity_type, on_progress),
    )
    for (system_code, status), count in result.statuses.items():
        summary.counts[(system_code, entity_type, status.value)] += count
    if result.calibration:
        summary.calibrations[entity_type] = result.calibration
    phases = PhaseTimes(entity_type, _log)
    with phases.timed("after the load"), database.session() as session:
        ctx = ChangeContext(actor, summary.correlation_id)
        # Children that gave a parent of this type by code or name refer to it now.
        ingestor.relocate_waiting(session, spec, ctx)
        # Children loaded before this type can find their match through it now
        # (a department through its cost center's other departments).
        match_alone_children(session, ingestor, spec, ctx)
        for index, file in enumerate(files):
            _record_loaded(session, file, read[index], summary)
    summary.phases[entity_type] = {**result.phases, **phases.phases}


def _later_source_ids(file: SourceFile, group: list[SourceFile]) -> set[str]:
    """Source ids in the files after ``file`` of its system (and type) in this load."""
    later = group[group.index(file) + 1 :]
    ids: set[str] = set()
    for other in later:
        if other.system.code == file.system.code:
            ids.update(r.entity.source_id_of(r.row) for r in rows_of(other.system, other.entity))
    return ids


def _stored_source_ids(
    session: Session, entity_type: str, system: str, source_ids: set[str]
) -> set[str]:
    found: set[str] = set()
    ordered = sorted(source_ids)
    for start in range(0, len(ordered), _IDS_PER_QUERY):
        found.update(
            session.scalars(
                select(SourceRecord.source_id).where(
                    SourceRecord.entity_type == entity_type,
                    SourceRecord.system == system,
                    SourceRecord.source_id.in_(ordered[start : start + _IDS_PER_QUERY]),
                )
            )
        )
    return found


def _record_loaded(session: Session, file: SourceFile, records: int, summary: LoadSummary) -> None:
    """Record a file whose load is committing in ``session`` (skipped when loaded again)."""
    summary.files.append(_outcome(file, FileStatus.APPLIED, records))
    key = (
        LoadedFile.system == file.system.code,
        LoadedFile.entity_type == file.entity_type,
        LoadedFile.file_hash == file.file_hash,
        LoadedFile.mapping_hash == file.entity.mapping_hash,
    )
    if session.scalar(select(LoadedFile.id).where(*key)) is not None:
        return  # the same content twice in one load, or ``force``
    try:
        with session.begin_nested():
            session.add(
                LoadedFile(
                    system=file.system.code,
                    entity_type=file.entity_type,
                    file_hash=file.file_hash,
                    mapping_hash=file.entity.mapping_hash,
                    path=str(file.path)[:1000],
                    records=records,
                    correlation_id=summary.correlation_id,
                )
            )
    except IntegrityError:
        pass  # a concurrent load recorded it first


def _outcome(file: SourceFile, status: FileStatus, records: int) -> FileOutcome:
    return FileOutcome(
        file.system.code, file.entity_type, str(file.path), file.file_hash, status, records
    )


def _settle(database: Database, ingestor: Ingestor, summary: LoadSummary, actor: str) -> None:
    """After the records: learn code correspondences from what was linked, re-decide the
    records that new evidence (or a parent's merge) concerns, until nothing is waiting.

    A load that changed no record and no reference data has nothing new to learn from:
    learning (which writes an audit row and bumps the reference data version) is left out.
    """
    ctx = ChangeContext(actor, summary.correlation_id)
    coded = any(ingestor.specs.get_spec(name).coded for name in ingestor.specs)
    phases = PhaseTimes("all types", _log)
    if coded and summary.has_changes:
        with phases.timed("learning correspondences"), database.session() as session:
            summary.learned = learn_correspondences(session, ingestor.specs, actor)
            enqueue_learned(session, ingestor.specs, ingestor.codes(session))
    with phases.timed("working the backlog"):
        while True:
            with database.session() as session:
                if not ingestor.work_backlog(session, ctx, limit=SETTLE_CHUNK):
                    break


def _bulk_progress(
    entity_type: str, on_progress: Callable[[str, int], None] | None
) -> Callable[[int], None] | None:
    if on_progress is None:
        return None
    report = on_progress

    def advance(n: int) -> None:
        report(f"{entity_type} (bulk)", n)

    return advance


def _incremental(
    database: Database,
    ingestor: Ingestor,
    file: SourceFile,
    later: set[str],
    summary: LoadSummary,
    actor: str,
    on_progress: Callable[[str, int], None] | None,
) -> None:
    """Load one file record by record, a chunk a transaction; the last chunk's transaction
    records the file. ``later``: source ids in later files of its system in this load."""
    system, entity_type = file.system.code, file.entity_type
    chunks = _chunks(records_of(file.system, file.entity))
    chunk = next(chunks, None)
    read = 0
    if chunk is None:  # an empty file (a header alone) is loaded too
        with database.session() as session:
            _record_loaded(session, file, 0, summary)
    while chunk is not None:
        following = next(chunks, None)  # read before the transaction: it holds no lock
        read += len(chunk)
        with database.session() as session:
            records = chunk
            if later:
                candidates = {r.source_id for r in chunk if r.source_id in later}
                newer = _stored_source_ids(session, entity_type, system, candidates)
                records = [r for r in chunk if r.source_id not in newer]
                summary.counts[(system, entity_type, SUPERSEDED)] += len(chunk) - len(records)
            outcomes = ingestor.ingest_many(
                session,
                records,
                actor=actor,
                correlation_id=summary.correlation_id,
                enforce_batch_limit=False,
            )
            if following is None:
                _record_loaded(session, file, read, summary)
        for outcome in outcomes:
            summary.add(outcome.system, outcome.entity_type, outcome.status)
        if on_progress is not None:
            on_progress(f"{system} {entity_type}", len(chunk))
        chunk = following


def _chunks(records: Iterator[RecordInput]) -> Iterator[list[RecordInput]]:
    while chunk := list(islice(records, CHUNK)):
        yield chunk


def count_records(system: SystemMapping, entity: EntityMapping) -> int:
    assert entity.file is not None
    try:
        rows = read_rows(entity.file, entity.format, entity.encoding)
        return sum(1 for _, row in rows if entity.includes(row))
    except MdmError:
        return 0


def _document(system: SystemMapping) -> dict[str, object] | None:
    return dict(system.document) if system.document is not None else None


def _reference_dict(loaded: ReferenceLoadSummary | None) -> dict[str, Any] | None:
    if loaded is None:
        return None
    return {**asdict(loaded), "has_changes": loaded.has_changes}
