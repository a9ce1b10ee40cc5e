"""GraphQL side of the match-quality report: ``qualityReport`` against the stored truth.

``QualityQuery`` is meant as a base class of the schema's ``Query`` type.
"""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from mdm import quality
from mdm.api.permissions import IsIntegrator, IsReader
from mdm.context import unresolved_references
from mdm.errors import InvalidInputError
from mdm.reevaluate import backlog
from mdm.truth import StoredTruth

DEFAULT_EXAMPLES = 5
MAX_EXAMPLES = 50


@strawberry.type(description="Precision, recall and their harmonic mean.")
class QualityMetrics:
    precision: float
    recall: float
    f1: float


@strawberry.type(description="What one comparison added to a pair's match weight.")
class FieldComparison:
    comparison: str
    attributes: list[str]
    left_value: str | None
    right_value: str | None
    level: str | None = strawberry.field(description="null when a value is missing.")
    weight: float


@strawberry.type(description="One record of an example pair.")
class QualityRecord:
    system: str
    source_id: str = strawberry.field(
        permission_classes=[IsIntegrator], description="Crosswalk data: integrator role."
    )
    golden_id: strawberry.ID | None
    entity_key: str = strawberry.field(description="The true entity, from the truth labels.")


@strawberry.type(description="A false merge or a missed match, with its explanation.")
class QualityPair:
    left: QualityRecord
    right: QualityRecord
    match_weight: float | None
    match_probability: float | None
    explanation: list[FieldComparison]


@strawberry.type(description="Match quality of one entity type against the truth labels.")
class EntityQuality:
    entity_type: str
    records: int = strawberry.field(description="Labelled, not deleted source records.")
    unlabelled: int = strawberry.field(description="Not deleted records without a label.")
    golden_records: int
    true_entities: int
    pairwise: QualityMetrics
    bcubed: QualityMetrics
    pending_review: int = strawberry.field(description="Match candidates awaiting a steward.")
    pair_completeness: float | None = strawberry.field(
        description="Share of true pairs that blocking brings together."
    )
    false_merges: list[QualityPair] = strawberry.field(
        description="Records merged but of different entities, least supported first."
    )
    missed_matches: list[QualityPair] = strawberry.field(
        description="Records of one entity left apart, closest first."
    )


@strawberry.type(description="Match quality of the current golden records, per entity type.")
class QualityReport:
    entity_types: list[EntityQuality]


@strawberry.type(description="Re-evaluations waiting for one entity type.")
class BacklogCount:
    entity_type: str
    pending: int


@strawberry.type(
    description=(
        "Children whose match decisions depended on a parent that was merged (or arrived "
        "after them), waiting to be decided again."
    )
)
class ReevaluationBacklog:
    pending: int
    oldest: datetime | None = strawberry.field(description="When the oldest was queued.")
    by_entity_type: list[BacklogCount]


@strawberry.type(
    description=(
        "Records referring, in one system, to parents not in the store (yet): kept as "
        "written, resolved when the parent arrives."
    )
)
class UnresolvedReferences:
    entity_type: str
    parent_type: str
    system: str
    count: int = strawberry.field(description="Distinct parent source ids missing.")
    records: int = strawberry.field(description="References waiting on them.")
    examples: list[str] = strawberry.field(description="Some of the missing source ids.")


@strawberry.type
class QualityQuery:
    @strawberry.field(
        permission_classes=[IsReader],
        description="References whose parent record is not in the store (yet).",
    )
    def unresolved_references(self, info: Info) -> list[UnresolvedReferences]:
        with info.context.hub.database.read_session() as session:
            found = unresolved_references(session)
        return [
            UnresolvedReferences(
                entity_type=u.entity_type,
                parent_type=u.parent_type,
                system=u.system,
                count=u.count,
                records=u.records,
                examples=list(u.examples),
            )
            for u in found
        ]

    @strawberry.field(
        permission_classes=[IsReader],
        description="The re-evaluation backlog (`mdm match reevaluate` works it off).",
    )
    def reevaluation_backlog(self, info: Info) -> ReevaluationBacklog:
        with info.context.hub.database.read_session() as session:
            found = backlog(session)
        return ReevaluationBacklog(
            pending=found.pending,
            oldest=found.oldest,
            by_entity_type=[
                BacklogCount(entity_type=k, pending=v)
                for k, v in sorted(found.by_entity_type.items())
            ],
        )

    @strawberry.field(
        permission_classes=[IsReader],
        description=(
            "Pairwise and B-cubed quality of the golden records against the stored truth "
            "labels (`mdm truth load`), with the worst errors explained."
        ),
    )
    def quality_report(
        self, info: Info, entity_type: str | None = None, examples: int | None = DEFAULT_EXAMPLES
    ) -> QualityReport:
        if examples is None:
            examples = DEFAULT_EXAMPLES
        if not 0 <= examples <= MAX_EXAMPLES:
            raise InvalidInputError(
                f"examples must be between 0 and {MAX_EXAMPLES}", field="examples"
            )
        hub = info.context.hub
        with hub.database.read_session() as session:
            report = quality.quality_report(
                session,
                hub.specs,
                StoredTruth(session),
                examples=examples,
                entity_type=entity_type,
                codes=hub.ingestor.codes(session),
            )
        return QualityReport(entity_types=[_entity(e) for e in report.entity_types])


def _entity(found: quality.EntityQuality) -> EntityQuality:
    return EntityQuality(
        entity_type=found.entity_type,
        records=found.records,
        unlabelled=found.unlabelled,
        golden_records=found.golden_records,
        true_entities=found.true_entities,
        pairwise=_metrics(found.pairwise),
        bcubed=_metrics(found.bcubed),
        pending_review=found.pending_review,
        pair_completeness=found.pair_completeness,
        false_merges=[_pair(p) for p in found.false_merges],
        missed_matches=[_pair(p) for p in found.missed_matches],
    )


def _metrics(found: quality.Metrics) -> QualityMetrics:
    return QualityMetrics(precision=found.precision, recall=found.recall, f1=found.f1)


def _pair(found: quality.PairExample) -> QualityPair:
    return QualityPair(
        left=_record(found.left),
        right=_record(found.right),
        match_weight=found.match_weight,
        match_probability=found.match_probability,
        explanation=[
            FieldComparison(
                comparison=c.comparison,
                attributes=list(c.attributes),
                left_value=c.left_value,
                right_value=c.right_value,
                level=c.level,
                weight=c.weight,
            )
            for c in found.explanation
        ],
    )


def _record(found: quality.RecordRef) -> QualityRecord:
    return QualityRecord(
        system=found.system,
        source_id=found.source_id,
        golden_id=strawberry.ID(found.golden_id) if found.golden_id is not None else None,
        entity_key=found.entity_key,
    )
