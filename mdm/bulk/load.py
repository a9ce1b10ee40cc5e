"""A bulk load: stage, match and write all records of one entity type in one transaction
(see the package doc)."""

from __future__ import annotations

import gc
import logging
import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session

from matchers import (
    Calibration,
    JudgedPairs,
    PreparedRecords,
    ValueConflicts,
    calibrate,
    cluster_records,
    count_terms,
    encode_prepared,
    prepare_records,
    score_in_batches,
    value_conflicts,
    with_sibling_pairs,
)
from mdm.bulk.comparing import compare_levels
from mdm.bulk.phases import PhaseTimes
from mdm.bulk.staging import (
    CHUNK,
    BlockKeys,
    SourceRow,
    Staged,
    Stager,
    prepares_while_staging,
    refers_to_itself,
    resolve_all_parents,
)
from mdm.bulk.writing import write_goldens, write_review
from mdm.context import (
    ContextView,
    Reference,
    ancestry_of_clusters,
    references_of,
    resolve_references,
)
from mdm.decision import identifier_vetoes
from mdm.golden import ChangeContext
from mdm.ingest import Ingestor, IngestStatus, RecordInput
from mdm.match_models import ActiveModel
from mdm.scoring import spec_rules
from mdm.specs import EntitySpec
from mdm.store import Database, SourceRecord, large_page_cache
from mdm.store.locks import lock_for_matching

# A stored model version estimated by a first load from its own records.
CALIBRATED = "calibrated"
MAX_ROUNDS = 5  # matching rounds of a type whose records refer to records of the same type
_log = logging.getLogger(__name__)


@dataclass
class BulkResult:
    """What a bulk load did."""

    statuses: Counter[tuple[str, IngestStatus]] = field(default_factory=Counter)
    golden_records: int = 0
    candidate_pairs: int = 0
    review_candidates: int = 0
    worker_chunks: int = 0  # chunks standardized by worker processes
    calibration: dict[str, Any] = field(default_factory=dict)  # see ``BulkLoader._calibrated``
    # Phase -> its seconds, runs and items (``PhaseTimes.phases``), in the order they ran.
    phases: dict[str, dict[str, Any]] = field(default_factory=dict)


def is_initial_load(session: Session, spec: EntitySpec) -> bool:
    """Whether the store holds no record of this entity type yet."""
    found = session.scalar(
        select(SourceRecord.id).where(SourceRecord.entity_type == spec.name).limit(1)
    )
    return found is None


class BulkLoader:
    """Loads all records of one entity type into an empty store for that type."""

    def __init__(
        self,
        ingestor: Ingestor,
        *,
        workers: int = 1,
        chunk_size: int = CHUNK,
        calibrates: bool = True,
        term_frequencies: bool = True,
    ) -> None:
        """``workers``: processes that standardize records while this one writes (1: none;
        0: one per CPU, at most 4), and then compare candidate pairs (``compare_levels``).
        Only loads of more than one chunk, or of many pairs, use them.
        ``calibrates``: estimate the type's model from the load (``_calibrated``), and
        with ``term_frequencies`` count how common its names are."""
        self.ingestor = ingestor
        self.calibrates = calibrates
        self.term_frequencies = term_frequencies
        self.chunk_size = chunk_size
        self.workers = workers if workers > 0 else min(os.cpu_count() or 1, 4)

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
        phases = PhaseTimes(spec.name, _log)
        with _few_collections(), database.session() as session:
            with large_page_cache(session):
                lock_for_matching(session)
                self._stage_and_match(
                    session, spec, records, result, phases, actor, correlation_id, on_progress
                )
            # The transaction's end (a large one's pages written out) is a phase of its own.
            with phases.timed("committing"):
                session.commit()
        result.phases = phases.phases
        _log.info("%s: bulk load took %.2f s in all", spec.name, phases.total())
        return result

    def _stage_and_match(
        self,
        session: Session,
        spec: EntitySpec,
        records: Iterable[RecordInput | SourceRow],
        result: BulkResult,
        phases: PhaseTimes,
        actor: str | None,
        correlation_id: str | None,
        on_progress: Callable[[int], None] | None,
    ) -> None:
        ctx = ChangeContext(actor, correlation_id)
        with phases.timed("staging", "records") as staging:
            stager = Stager(
                self.ingestor,
                spec,
                self.ingestor.codes(session),
                (
                    resolve_all_parents(session, spec, self.ingestor.specs)
                    if prepares_while_staging(spec)
                    else None
                ),
                workers=self.workers,
                chunk_size=self.chunk_size,
            )
            staged = stager.stage(session, records, correlation_id, on_progress)
            staging.items = len(staged)
        result.statuses.update(stager.statuses)
        result.worker_chunks = stager.worker_chunks
        if spec.matching is not None and staged:
            self._match_and_write(session, spec, stager, staged, result, ctx, phases)
        elif staged:
            with phases.timed("writing golden records", "golden records") as writing:
                singletons = [[i] for i in range(len(staged))]
                golden_of = write_goldens(session, spec, staged, singletons, stager.later, ctx)
                result.golden_records = writing.items = len(set(golden_of) - {0})
        with phases.timed("storing later versions", "records", len(stager.later.rows)):
            stager.settle_later(session)

    def _match_and_write(
        self,
        session: Session,
        spec: EntitySpec,
        stager: Stager,
        staged: list[Staged],
        result: BulkResult,
        ctx: ChangeContext,
        phases: PhaseTimes,
    ) -> None:
        """Block, score (judged by the spec's rules) and cluster the staged records, then
        write the clusters' golden records and the review candidates between them."""
        assert spec.matching is not None
        settings = spec.matching
        active = self.ingestor.models.active(session, spec)
        rules = spec_rules(settings, active.model)
        with phases.timed("blocking", "pairs") as blocking:
            pairs = stager.blocks.pairs([s.record_id for s in staged], settings.max_block_size)
            stager.blocks = BlockKeys()
            result.candidate_pairs = blocking.items = len(pairs)
        specs = self.ingestor.specs
        context = ContextView(stager.codes, specs)
        if not refers_to_itself(spec):
            # One round, on the features the staging prepared (``prepares_while_staging``):
            # memory holds the prepared columns, not every record's values.
            with phases.timed("preparing", "records", len(staged)):
                prepared = encode_prepared(
                    active.model.comparisons, (cast(tuple[Any, ...], s.prepared) for s in staged)
                )
                for s in staged:
                    s.prepared = None
            with phases.timed("comparing", "pairs", len(pairs)):
                levels = compare_levels(active.model.comparisons, prepared, pairs, self.workers)
            with phases.timed("calibration"):
                active = self._calibrated(
                    session, spec, active, prepared, staged, pairs, levels, result
                )
            rules = spec_rules(settings, active.model)
            with phases.timed("scoring", "pairs", len(pairs)):
                judged = score_in_batches(
                    active.model,
                    rules,
                    prepared,
                    pairs,
                    active.review_threshold,
                    active.auto_threshold,
                    reported=_constraints(spec),
                    levels=levels,
                )
            with phases.timed("value conflicts"):
                conflicts = _value_conflicts(spec, active, prepared)
            del prepared, pairs, levels
            with phases.timed("clustering", "clusters") as clustering:
                clusters = cluster_records(
                    len(staged), judged, active.auto_threshold, conflicts=conflicts
                )
                clustering.items = len(clusters)
            self._write_and_review(
                session, spec, stager, staged, clusters, judged, stager.parents or {}, result,
                ctx, phases,
            )  # fmt: skip
            return
        with phases.timed("resolving references", "records", len(staged)):
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
            with phases.timed("preparing", "records", len(records)):
                views = [
                    context.view(spec, system, values, found, resolved)
                    for (system, values), found in zip(records, refs, strict=True)
                ]
                prepared = prepare_records(active.model.comparisons, views)
                del views
            with phases.timed("comparing", "pairs", len(pairs)):
                levels = compare_levels(active.model.comparisons, prepared, pairs, self.workers)
            if round_ == 0:
                with phases.timed("calibration"):
                    active = self._calibrated(
                        session, spec, active, prepared, staged, pairs, levels, result
                    )
                rules = spec_rules(settings, active.model)
            with phases.timed("scoring", "pairs", len(pairs)):
                judged = score_in_batches(
                    active.model,
                    rules,
                    prepared,
                    pairs,
                    active.review_threshold,
                    active.auto_threshold,
                    reported=_constraints(spec),
                    levels=levels,
                )
            with phases.timed("value conflicts"):
                conflicts = _value_conflicts(spec, active, prepared)
            del prepared, levels
            with phases.timed("clustering", "clusters") as clustering:
                clusters = cluster_records(
                    len(staged), judged, active.auto_threshold, conflicts=conflicts
                )
                clustering.items = len(clusters)
            del conflicts
            if clusters == previous or round_ + 1 == rounds:
                break
            previous = clusters
            with phases.timed("sibling pairs", "pairs") as siblings:
                resolved.update(_cluster_ancestry(spec, staged, clusters, refs))
                # Children of one parent are candidates of each other whatever their keys
                # say (a department with no address of its own, named differently per
                # system).
                pairs = with_sibling_pairs(pairs, refs, resolved, settings.max_block_size)
                result.candidate_pairs = siblings.items = len(pairs)
        # The prepared values were all scoring needed: let the raw ones go (memory at scale).
        del records, refs
        for s in staged:
            s.values = None
        del pairs
        self._write_and_review(
            session, spec, stager, staged, clusters, judged, resolved, result, ctx, phases
        )

    def _calibrated(
        self,
        session: Session,
        spec: EntitySpec,
        active: ActiveModel,
        prepared: PreparedRecords,
        staged: list[Staged],
        pairs: NDArray[np.intp],
        levels: NDArray[np.int8],
        result: BulkResult,
    ) -> ActiveModel:
        """The model this first load matches with: estimated from its own records
        (``matchers.calibrate``), stored as a new version and activated, so incremental
        matching after the load uses it too. A type with a version already active (chosen
        by someone) keeps it. Too little data keeps the domain defaults, stored as a
        version whose source (``defaults``) and notes say why. Either way the version
        weighs exact name agreements by how common the name is among the load's records
        (``matchers.count_terms``), unless ``term_frequencies`` is off."""
        if active.version != 0 or not self.calibrates:
            return active
        assert spec.matching is not None
        order = sorted(range(len(staged)), key=lambda i: (staged[i].system, staged[i].source_id))
        rank = np.empty(len(staged), dtype=np.int64)
        rank[np.asarray(order, dtype=np.int64)] = np.arange(len(staged), dtype=np.int64)
        names = {c.name for c in spec.matching.comparisons}
        fixed = sorted({rule for rule, _ in spec.matching.blocking} & names)
        started = time.perf_counter()
        found: Calibration = calibrate(
            active.model, prepared, len(staged), pairs, rank=rank, fixed=fixed, levels=levels
        )
        model, notes = found.model, dict(found.notes)
        if self.term_frequencies:
            systems = [s.system for s in staged]
            tables = count_terms(model.comparisons, [c.features for c in prepared.left], systems)
            model = model.with_term_frequencies(tables)
            notes["term_frequencies"] = {name: len(t.counts) for name, t in tables.items()}
        result.calibration = {"source": CALIBRATED if found.is_estimated else "defaults"}
        result.calibration.update(notes)
        result.calibration["seconds"] = round(time.perf_counter() - started, 2)
        return self.ingestor.models.save(
            session,
            spec,
            model,
            source=CALIBRATED if found.is_estimated else "defaults",
            actor="bulk load",
            notes=notes,
            activate=True,
        )

    def _write_and_review(
        self,
        session: Session,
        spec: EntitySpec,
        stager: Stager,
        staged: list[Staged],
        clusters: list[list[int]],
        scored: JudgedPairs,
        resolved: Mapping[Reference, str],
        result: BulkResult,
        ctx: ChangeContext,
        phases: PhaseTimes,
    ) -> None:
        """Golden records of the clusters, and unsure pairs across them for review."""
        active = self.ingestor.models.active(session, spec)
        with phases.timed("writing golden records", "golden records") as writing:
            golden_of = write_goldens(session, spec, staged, clusters, stager.later, ctx)
            result.golden_records = writing.items = len(set(golden_of) - {0})
        with phases.timed("writing review candidates", "candidates") as review:
            result.review_candidates = review.items = write_review(
                session, spec, staged, golden_of, scored, active, stager.codes, resolved
            )


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


def _constraints(spec: EntitySpec) -> set[str]:
    """The vetoes a first load's clusters hold as cannot-links: those on identifiers
    (``mdm.decision.identifier_vetoes``), the constraints record by record holds per golden
    record. The others (names, addresses, parents) hold a pair back from review, and leave
    a cluster to the chain guard: a cannot-link for each cut too many true entities."""
    return {f"{name}.{level}" for name, level in identifier_vetoes(spec)[0]}


def _value_conflicts(
    spec: EntitySpec, active: ActiveModel, prepared: PreparedRecords
) -> ValueConflicts | None:
    """What keeps apart two records of a cluster that were never compared: the spec's
    vetoes on identifiers (``mdm.decision.identifier_vetoes``, as record by record holds
    them per golden record), judged on ``prepared``'s identifier columns (kept: the rest
    of ``prepared`` may go)."""
    vetoes, decisive = identifier_vetoes(spec)
    return value_conflicts(active.model.comparisons, prepared, vetoes, decisive)


def _cluster_ancestry(
    spec: EntitySpec,
    staged: list[Staged],
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
