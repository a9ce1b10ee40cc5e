"""File loads (``mdm load``): mapping files -> source rows -> the ingest pipeline."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path

from mdm.bulk import BulkLoader, SourceRow, is_initial_load, match_alone_children
from mdm.errors import MdmError
from mdm.golden import ChangeContext
from mdm.ingest import Ingestor, IngestStatus, RecordInput
from mdm.mapping import EntityMapping, SystemMapping, load_mapping
from mdm.readers import read_rows
from mdm.reevaluate import enqueue_learned
from mdm.reference import (
    LearnSummary,
    ReferenceLoadSummary,
    find_reference_files,
    learn_correspondences,
    load_reference_files,
)
from mdm.store import Database
from mdm.systems import register_system

CHUNK = 500
SETTLE_CHUNK = 500


@dataclass
class LoadSummary:
    """Counts of a load, per ``(system, entity type)`` and status."""

    counts: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    correlation_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    reference_data: ReferenceLoadSummary | None = None  # code files found beside the mappings
    learned: LearnSummary | None = None  # correspondences learned once the records were in

    def add(self, system: str, entity_type: str, status: IngestStatus) -> None:
        self.counts[(system, entity_type, status.value)] += 1

    def total(self, status: IngestStatus | None = None) -> int:
        return sum(n for (_, _, s), n in self.counts.items() if status is None or s == status)


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


def records_of(system: SystemMapping, entity: EntityMapping) -> Iterator[RecordInput]:
    """The records of an entity file, mapped."""
    return (row.record() for row in rows_of(system, entity))


def rows_of(system: SystemMapping, entity: EntityMapping) -> Iterator[SourceRow]:
    """The rows of an entity file, to be mapped where they are standardized (``mdm.bulk``
    does it in its worker processes)."""
    assert entity.file is not None
    for line, row in read_rows(entity.file, entity.format):
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
) -> LoadSummary:
    """Load mapped files; each record lands whole or is kept as a rejection with its reason.

    Entity types are loaded parents first. An entity type the store has no record of yet
    goes through the bulk path (``mdm.bulk``) unless ``bulk`` is false; otherwise, and for
    every later load, records go one by one through the incremental pipeline. ``workers``:
    processes standardizing records for the bulk path (see ``BulkLoader``).

    Reference data files beside the mapping files (``code_sets.csv``, ``transcodings.csv``)
    are applied after the mappings' systems are registered and before any record; invalid
    ones stop the load before any record, with nothing of them (nor the systems) applied.

    Raises:
        MdmError: a mapping file or source file is invalid (nothing of it is loaded).
        InvalidReferenceDataError: a reference data file is invalid.
    """
    paths = list(paths)
    plan = plan_load(paths, ingestor)
    summary = LoadSummary()
    with database.session() as session:
        for system, _ in plan:
            register_system(session, system.code, system.name, _document(system))
        # Reference data next to the mappings: after their systems exist, before any record.
        reference_files = find_reference_data(paths)
        if reference_files:
            summary.reference_data = load_reference_files(session, reference_files, actor=actor)
    for entity_type in dict.fromkeys(e.entity_type for _, e in plan):
        entries = [(s, e) for s, e in plan if e.entity_type == entity_type]
        spec = ingestor.specs[entity_type]
        with database.read_session() as session:
            initial = bulk and is_initial_load(session, spec)
        if initial:
            progress = _bulk_progress(entity_type, on_progress)
            result = BulkLoader(ingestor, workers=workers).load(
                database,
                spec,
                chain.from_iterable(rows_of(s, e) for s, e in entries),
                actor=actor,
                correlation_id=summary.correlation_id,
                on_progress=progress,
            )
            for (system_code, status), count in result.statuses.items():
                summary.counts[(system_code, entity_type, status.value)] += count
            with database.session() as session:
                # Children loaded before this type can find their match through it now
                # (a department through its cost center's other departments).
                match_alone_children(
                    session, ingestor, spec, ChangeContext(actor, summary.correlation_id)
                )
            continue
        for system, entity in entries:
            _incremental(
                database, ingestor, records_of(system, entity), summary, actor, on_progress
            )
    _settle(database, ingestor, summary, actor)
    return summary


def _settle(database: Database, ingestor: Ingestor, summary: LoadSummary, actor: str) -> None:
    """After the records: learn code correspondences from what was linked, re-decide the
    records that new evidence (or a parent's merge) concerns, until nothing is waiting."""
    ctx = ChangeContext(actor, summary.correlation_id)
    if any(ingestor.specs.get_spec(name).coded for name in ingestor.specs):
        with database.session() as session:
            summary.learned = learn_correspondences(session, ingestor.specs, actor)
            enqueue_learned(session, ingestor.specs, ingestor.codes(session))
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
    records: Iterable[RecordInput],
    summary: LoadSummary,
    actor: str,
    on_progress: Callable[[str, int], None] | None,
) -> None:
    stream = iter(records)
    while chunk := list(islice(stream, CHUNK)):
        with database.session() as session:
            outcomes = ingestor.ingest_many(
                session,
                chunk,
                actor=actor,
                correlation_id=summary.correlation_id,
                enforce_batch_limit=False,
            )
        for outcome in outcomes:
            summary.add(outcome.system, outcome.entity_type, outcome.status)
        if on_progress is not None:
            on_progress(f"{chunk[0].system} {chunk[0].entity_type}", len(chunk))


def count_records(system: SystemMapping, entity: EntityMapping) -> int:
    assert entity.file is not None
    try:
        return sum(1 for _ in read_rows(entity.file, entity.format))
    except MdmError:
        return 0


def _document(system: SystemMapping) -> dict[str, object] | None:
    return dict(system.document) if system.document is not None else None
