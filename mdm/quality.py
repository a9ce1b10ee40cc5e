"""Match quality: the current golden records measured against the truth, per entity type.

For each entity type the report compares the clustering the hub holds now (source record
-> golden record) with the true entities: pairwise and B-cubed precision, recall and F1
(``matchers.evaluate_clusters``), how many golden records there are for how many true
entities, the review queue, the share of true pairs that blocking finds, and the worst
errors with their field-by-field explanation.

Deleted source records are left out; records without a truth label are left out and
counted as ``unlabelled``.

``quality_without_context`` measures what context evidence (parents resolved to golden
records, learned code correspondences) adds: it matches the store's records again from
scratch in a scratch SQLite database with that evidence switched off, and reports the same
figures for the result. The store itself is only read.
"""

from __future__ import annotations

import dataclasses
import tempfile
import uuid
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from matchers import BlockingRules, Contribution, evaluate_clusters
from mdm.bulk import BulkLoader, match_alone_children
from mdm.codes import EMPTY_CODEBOOK, CodeBook, CodeBookCache, load_codebook
from mdm.context import ContextView, plain_codes, without_context
from mdm.errors import InvalidInputError
from mdm.golden import ChangeContext
from mdm.ingest import Ingestor, RecordInput
from mdm.match_models import MatchModels
from mdm.scoring import explain_pair
from mdm.specs import AttributeKind, EntitySpec, SpecRegistry
from mdm.store import (
    CandidateStatus,
    CodeSet,
    Database,
    GoldenRecord,
    MatchCandidate,
    MatchModelVersion,
    SourceRecord,
    SourceSystem,
    Transcoding,
    upgrade,
)
from mdm.truth import TruthSource

__all__ = [
    "EXAMPLE_POOL",
    "EntityQuality",
    "Metrics",
    "PairExample",
    "QualityReport",
    "RecordRef",
    "quality_report",
    "quality_without_context",
]

EXAMPLE_POOL = 10
"""Examples are the worst of ``EXAMPLE_POOL`` times as many error pairs, to bound the cost."""

_STREAM_CHUNK = 2000
_SETTLE_CHUNK = 500
_ACTOR = "mdm quality --without-context"


@dataclass(frozen=True)
class Metrics:
    """Precision, recall and their harmonic mean."""

    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class RecordRef:
    """One side of an example pair.

    Attributes:
        system: The source system.
        source_id: The record's id in that system.
        golden_id: Public id of its golden record (None if it has none).
        entity_key: The true entity it belongs to.
    """

    system: str
    source_id: str
    golden_id: str | None
    entity_key: str


@dataclass(frozen=True)
class PairExample:
    """A false merge or a missed match, with why the match model scores it as it does.

    Attributes:
        left: The record that sorts first.
        right: The other record.
        match_weight: The pair's match weight (None if the type has no match settings).
        match_probability: The matching probability.
        explanation: One contribution per comparison, from ``mdm.scoring.explain_pair``.
    """

    left: RecordRef
    right: RecordRef
    match_weight: float | None
    match_probability: float | None
    explanation: tuple[Contribution, ...]


@dataclass(frozen=True)
class EntityQuality:
    """Match quality of one entity type.

    Attributes:
        entity_type: The entity type.
        records: Labelled, not deleted source records evaluated.
        unlabelled: Not deleted source records without a truth label (left out).
        golden_records: Distinct golden records among the evaluated records.
        true_entities: Distinct true entities among them.
        pairwise: Pairwise precision, recall and F1.
        bcubed: B-cubed precision, recall and F1.
        pending_review: Match candidates of this type waiting for a steward.
        pair_completeness: Share of true pairs sharing a blocking key in a block no larger
            than ``max_block_size`` (None if the type has no match settings).
        false_merges: Pairs in one golden record but of different entities, least
            supported (lowest match weight) first.
        missed_matches: Pairs of one entity in different golden records, closest
            (highest match weight) first.

    The examples are the worst of the first ``EXAMPLE_POOL`` times as many error pairs
    that ``evaluate_clusters`` lists (in record order), so that memory and scoring stay
    bounded however many errors there are.
    """

    entity_type: str
    records: int
    unlabelled: int
    golden_records: int
    true_entities: int
    pairwise: Metrics
    bcubed: Metrics
    pending_review: int
    pair_completeness: float | None
    false_merges: tuple[PairExample, ...]
    missed_matches: tuple[PairExample, ...]


@dataclass(frozen=True)
class QualityReport:
    """Match quality of each entity type, in spec registry order."""

    entity_types: tuple[EntityQuality, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain data, ready for ``json.dumps``."""
        return dataclasses.asdict(self)

    def of(self, entity_type: str) -> EntityQuality:
        """The figures of one entity type.

        Raises:
            KeyError: the report does not cover ``entity_type``.
        """
        for quality in self.entity_types:
            if quality.entity_type == entity_type:
                return quality
        raise KeyError(entity_type)


def quality_report(
    session: Session,
    specs: SpecRegistry,
    truth: TruthSource,
    *,
    examples: int = 10,
    entity_type: str | None = None,
    codes: CodeBook = EMPTY_CODEBOOK,
) -> QualityReport:
    """Measure the current golden records against the truth.

    Args:
        session: A session to read the store with.
        specs: The entity specs (their match settings give blocking and explanations).
        truth: Truth labels, from a ``TruthFile`` or ``StoredTruth``.
        examples: Most false merges and most missed matches to list per entity type.
        entity_type: Only this entity type (default: all).
        codes: The reference data, so explanations compare records as matching does
            (coded values transcoded, references resolved to their parents).

    Returns:
        The report.

    Raises:
        UnknownEntityTypeError: ``entity_type`` is not one of ``specs``.
        InvalidInputError: ``examples`` is negative, or the truth is malformed
            (code ``INVALID_TRUTH``).

    Example:
        >>> with hub.database.read_session() as session:
        ...     report = quality_report(session, hub.specs, TruthFile(Path("seed/data")))
        >>> report.of("vendor").pairwise.precision
        1.0
    """
    if examples < 0:
        raise InvalidInputError("examples must not be negative", field="examples")
    chosen = [specs.get_spec(entity_type)] if entity_type is not None else list(specs.values())
    context = ContextView(codes, specs)
    return QualityReport(
        tuple(_entity_quality(session, spec, truth, examples, context) for spec in chosen)
    )


def quality_without_context(
    session: Session,
    specs: SpecRegistry,
    truth: TruthSource,
    *,
    examples: int = 0,
    entity_type: str | None = None,
) -> QualityReport:
    """Match quality of the store's records matched again from scratch without context
    evidence: no comparison of parents resolved to golden records (``without_context``)
    and no learned code correspondences (``plain_codes``); transcodings still apply.

    The live, not deleted source records (their raw attributes), the source systems, the
    code sets and transcodings, and the active match models (less their context
    comparisons) are copied into a scratch SQLite database, where each entity type is
    loaded, parents first, through the bulk path of an initial load (``mdm.bulk``). The
    store is only read. Unlike the store, the scratch database holds no steward decisions.

    Args:
        session: A session to read the store with.
        specs: The entity specs, with context (as the store matches).
        truth: Truth labels, from a ``TruthFile`` or ``StoredTruth``.
        examples: Most false merges and most missed matches to list per entity type.
        entity_type: Only this entity type (without context, its records match
            independently of every other type's).

    Returns:
        The report of the scratch database, matched with ``without_context(specs)``.

    Raises:
        UnknownEntityTypeError: ``entity_type`` is not one of ``specs``.
        InvalidInputError: ``examples`` is negative, or the truth is malformed.

    Example:
        >>> with hub.database.read_session() as session:
        ...     plain = quality_without_context(session, hub.specs, TruthFile(path))
        >>> plain.of("location").pairwise.f1 <= report.of("location").pairwise.f1
        True
    """
    if examples < 0:
        raise InvalidInputError("examples must not be negative", field="examples")
    names = [specs.get_spec(entity_type).name] if entity_type is not None else list(specs)
    plain = without_context(specs)
    with tempfile.TemporaryDirectory(prefix="mdm-quality-") as folder:
        url = f"sqlite:///{Path(folder) / 'without-context.sqlite3'}"
        upgrade(url)
        scratch = Database(url)
        try:
            _rematch(session, scratch, plain, names)
            with scratch.read_session() as scratch_session:
                return quality_report(
                    scratch_session,
                    plain,
                    truth,
                    examples=examples,
                    entity_type=entity_type,
                    codes=plain_codes(load_codebook(scratch_session)),
                )
        finally:
            scratch.dispose()


def _rematch(live: Session, scratch: Database, specs: SpecRegistry, names: list[str]) -> None:
    """Load the live records of ``names`` into the empty ``scratch`` store, as ``mdm load``
    does an initial load, with ``specs`` (no context) and a code book without learning."""
    cache = CodeBookCache()
    ingestor = Ingestor(specs, codes=lambda s: plain_codes(cache.get(s)))
    with scratch.session() as target:
        _copy_reference_data(live, target, specs)
    ctx = ChangeContext(_ACTOR, uuid.uuid4().hex)
    for name in specs:  # parents first, as the loader orders them
        if name not in names:
            continue
        spec = specs.get_spec(name)
        BulkLoader(ingestor).load(
            scratch,
            spec,
            _stored_records(live, spec),
            actor=ctx.actor,
            correlation_id=ctx.correlation_id,
        )
        with scratch.session() as target:
            match_alone_children(target, ingestor, spec, ctx)
    # The loader's settle step, less learning: learned correspondences are no evidence
    # here. Without compared references little or nothing is queued; worked off anyway.
    while True:
        with scratch.session() as target:
            if not ingestor.work_backlog(target, ctx, limit=_SETTLE_CHUNK):
                break


def _copy_reference_data(live: Session, target: Session, specs: SpecRegistry) -> None:
    """Systems, code sets, transcodings and active match models (fitted to ``specs``)."""
    for model, columns in (
        (SourceSystem, ("code", "name", "mapping")),
        (CodeSet, ("name", "code", "display")),
        (Transcoding, ("code_set", "system", "source_value", "code", "origin", "updated_by")),
    ):
        rows = [
            dict(zip(columns, row, strict=True))
            for row in live.execute(select(*(getattr(model, c) for c in columns)))
        ]
        if rows:
            target.execute(insert(model), rows)
    for row in live.scalars(select(MatchModelVersion).where(MatchModelVersion.is_active)):
        spec = specs.get(row.entity_type)
        if spec is None or spec.matching is None:
            continue
        # The same m and u for the comparisons left; the context ones are dropped.
        kept = {c.name for c in spec.matching.comparisons}
        comparisons = [c for c in row.parameters.get("comparisons", ()) if c.get("name") in kept]
        if {c["name"] for c in comparisons} != kept:
            continue  # does not fit the specs: the scratch store matches with the defaults
        target.add(
            MatchModelVersion(
                entity_type=row.entity_type,
                version=row.version,
                parameters={**row.parameters, "comparisons": comparisons},
                auto_threshold=row.auto_threshold,
                review_threshold=row.review_threshold,
                source=row.source,
                notes=row.notes,
                is_active=True,
                created_by=row.created_by,
            )
        )


def _stored_records(session: Session, spec: EntitySpec) -> Iterator[RecordInput]:
    """The live records of a type as they were delivered (deleted ones are not matched)."""
    # A date was read with its source's date format, which the record does not keep; its
    # standardized (ISO) value reads back without one.
    dates = [a.name for a in spec.attributes if a.kind is AttributeKind.DATE]
    rows = session.execute(
        select(
            SourceRecord.system, SourceRecord.source_id, SourceRecord.raw, SourceRecord.standardized
        )
        .where(SourceRecord.entity_type == spec.name, SourceRecord.is_deleted.is_(False))
        .order_by(SourceRecord.id),
        execution_options={"yield_per": _STREAM_CHUNK},
    )
    for system, source_id, raw, standardized in rows:
        attributes = dict(raw or {})
        for name in dates:
            if name in attributes:
                attributes[name] = (standardized or {}).get(name)
        yield RecordInput(
            spec.name, system, source_id, attributes, origin=f"store {system} {source_id}"
        )


@dataclass
class _Records:
    """What one pass over the source records of a type keeps: ids, never whole rows."""

    golden: dict[str | int, Hashable]
    entity: dict[str | int, str]
    unlabelled: int
    block_sizes: Counter[str]
    keys: dict[str | int, frozenset[str]]


def _entity_quality(
    session: Session, spec: EntitySpec, truth: TruthSource, examples: int, context: ContextView
) -> EntityQuality:
    labels = truth.labels(spec.name)
    records = _read_records(session, spec, labels)
    del labels
    evaluation = evaluate_clusters(
        records.golden, records.entity, max_examples=examples * EXAMPLE_POOL
    )
    false_merges = _examples(session, spec, records, evaluation.false_merge_pairs, context)
    missed = _examples(session, spec, records, evaluation.missed_pairs, context)
    pending = session.scalar(
        select(func.count())
        .select_from(MatchCandidate)
        .where(
            MatchCandidate.entity_type == spec.name,
            MatchCandidate.status == CandidateStatus.PENDING.value,
        )
    )
    return EntityQuality(
        entity_type=spec.name,
        records=evaluation.n_records,
        unlabelled=records.unlabelled,
        golden_records=evaluation.n_clusters,
        true_entities=evaluation.n_entities,
        pairwise=Metrics(
            evaluation.pairwise_precision, evaluation.pairwise_recall, evaluation.pairwise_f1
        ),
        bcubed=Metrics(evaluation.bcubed_precision, evaluation.bcubed_recall, evaluation.bcubed_f1),
        pending_review=int(pending or 0),
        pair_completeness=_pair_completeness(spec, records),
        false_merges=tuple(sorted(false_merges, key=lambda e: (_weight(e), _names(e)))[:examples]),
        missed_matches=tuple(sorted(missed, key=lambda e: (-_weight(e), _names(e)))[:examples]),
    )


def _read_records(
    session: Session, spec: EntitySpec, labels: dict[tuple[str, str], str]
) -> _Records:
    rules = BlockingRules(spec.matching.blocking) if spec.matching is not None else None
    # Only records whose entity has several labels can be in a true pair: keep their keys.
    entity_sizes = Counter(labels.values())
    records = _Records({}, {}, 0, Counter(), {})
    rows = session.execute(
        select(
            SourceRecord.id,
            SourceRecord.system,
            SourceRecord.source_id,
            SourceRecord.golden_id,
            SourceRecord.standardized,
        )
        .where(SourceRecord.entity_type == spec.name, SourceRecord.is_deleted.is_(False))
        .order_by(SourceRecord.id),
        execution_options={"yield_per": _STREAM_CHUNK},
    )
    for record_id, system, source_id, golden_id, standardized in rows:
        keys = rules.keys(standardized) if rules is not None else set()
        records.block_sizes.update(keys)
        entity = labels.get((system, source_id))
        if entity is None:
            records.unlabelled += 1
            continue
        # A record without a golden record stands alone.
        records.golden[record_id] = golden_id if golden_id is not None else ("none", record_id)
        records.entity[record_id] = entity
        if keys and entity_sizes[entity] > 1:
            records.keys[record_id] = frozenset(keys)
    return records


def _pair_completeness(spec: EntitySpec, records: _Records) -> float | None:
    # Same meaning as ``matchers.pair_completeness`` over ``candidate_pairs``, without
    # listing every candidate pair: a true pair is found when the two records share a key
    # whose block was not skipped for size.
    if spec.matching is None:
        return None
    limit = spec.matching.max_block_size
    members: dict[str, list[str | int]] = defaultdict(list)
    for record_id, entity in records.entity.items():
        members[entity].append(record_id)
    true_pairs = found = 0
    empty: frozenset[str] = frozenset()
    for ids in members.values():
        for a, b in combinations(ids, 2):
            true_pairs += 1
            shared = records.keys.get(a, empty) & records.keys.get(b, empty)
            found += any(records.block_sizes[k] <= limit for k in shared)
    return found / true_pairs if true_pairs else 1.0


def _examples(
    session: Session,
    spec: EntitySpec,
    records: _Records,
    pairs: Sequence[tuple[Any, Any]],
    context: ContextView,
) -> list[PairExample]:
    if not pairs:
        return []
    ids = {record_id for pair in pairs for record_id in pair}
    rows = {
        row.id: row
        for row in session.execute(
            select(
                SourceRecord.id,
                SourceRecord.system,
                SourceRecord.source_id,
                SourceRecord.standardized,
                GoldenRecord.public_id,
            )
            .outerjoin(GoldenRecord, GoldenRecord.id == SourceRecord.golden_id)
            .where(SourceRecord.id.in_(ids))
        )
    }
    views = dict(
        zip(
            rows,
            context.views(session, spec, [(r.system, r.standardized) for r in rows.values()]),
            strict=True,
        )
    )
    # Weighed by the model the type matches with (calibrated, with its term frequencies).
    model = MatchModels(cache_seconds=0).active(session, spec).model if spec.matching else None
    found = []
    for a, b in pairs:
        left, right = rows[a], rows[b]
        if spec.matching is not None:
            score = explain_pair(spec, views[a], views[b], model)
            weight: float | None = score.match_weight
            probability: float | None = score.match_probability
            explanation = score.contributions
        else:
            weight = probability = None
            explanation = ()
        found.append(
            PairExample(
                left=_ref(left, records),
                right=_ref(right, records),
                match_weight=weight,
                match_probability=probability,
                explanation=explanation,
            )
        )
    return found


def _ref(row: Any, records: _Records) -> RecordRef:
    return RecordRef(
        system=row.system,
        source_id=row.source_id,
        golden_id=row.public_id,
        entity_key=records.entity[row.id],
    )


def _weight(example: PairExample) -> float:
    return example.match_weight if example.match_weight is not None else 0.0


def _names(example: PairExample) -> tuple[str, str, str, str]:
    return (
        example.left.system,
        example.left.source_id,
        example.right.system,
        example.right.source_id,
    )
