"""Match quality: the current golden records measured against the truth, per entity type.

For each entity type the report compares the clustering the hub holds now (source record
-> golden record) with the true entities: pairwise and B-cubed precision, recall and F1
(``matchers.evaluate_clusters``), how many golden records there are for how many true
entities, the review queue, the share of true pairs that blocking finds, and the worst
errors with their field-by-field explanation.

Deleted source records are left out; records without a truth label are left out and
counted as ``unlabelled``.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from matchers import BlockingRules, Contribution, evaluate_clusters
from mdm.codes import EMPTY_CODEBOOK, CodeBook
from mdm.context import ContextView
from mdm.errors import InvalidInputError
from mdm.scoring import explain_pair
from mdm.specs import EntitySpec, SpecRegistry
from mdm.store import GoldenRecord, MatchCandidate, SourceRecord
from mdm.truth import TruthSource

__all__ = [
    "EXAMPLE_POOL",
    "EntityQuality",
    "Metrics",
    "PairExample",
    "QualityReport",
    "RecordRef",
    "quality_report",
]

EXAMPLE_POOL = 10
"""Examples are the worst of ``EXAMPLE_POOL`` times as many error pairs, to bound the cost."""

_STREAM_CHUNK = 2000


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
        .where(MatchCandidate.entity_type == spec.name, MatchCandidate.status == "pending")
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
    found = []
    for a, b in pairs:
        left, right = rows[a], rows[b]
        if spec.matching is not None:
            score = explain_pair(spec, views[a], views[b])
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
