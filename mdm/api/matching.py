"""GraphQL for matching: the versioned match models, their re-estimation, and dry runs."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from mdm.api.errors import InvalidInputError, NotFoundError, user_error
from mdm.api.inputs import SourceRecordInput, entity_spec, to_record_input
from mdm.api.permissions import IsAdmin, IsIntegrator, IsReader, IsSteward
from mdm.context import ContextView
from mdm.errors import InvalidInputError as InvalidInputError_
from mdm.errors import MdmError
from mdm.ingest import RecordInput
from mdm.match_models import ActiveModel, defaults
from mdm.preview import preview_match
from mdm.review import decide_candidate, pending_candidates
from mdm.specs import EntitySpec
from mdm.unmerge import unmerge_record


@strawberry.type(description="One comparison level: m, u and its match weight log2(m/u).")
class LevelParameters:
    name: str
    m: float
    u: float
    weight: float


@strawberry.type
class ComparisonParameters:
    name: str
    attributes: list[str]
    levels: list[LevelParameters]


@strawberry.type(description="The parameters an entity type matches with (a stored version).")
class MatchModel:
    entity_type: str
    version: int = strawberry.field(description="0: the comparisons' domain defaults.")
    source: str = strawberry.field(
        description="defaults, em, em+labels (EM, then steward decisions), labels (steward "
        "decisions only) or manual."
    )
    prior: float
    auto_threshold: float
    review_threshold: float
    comparisons: list[ComparisonParameters]
    vetoes: list[str]
    decisive: list[list[str]]


@strawberry.type
class CandidatePreview:
    golden_id: strawberry.ID
    probability: float
    match_weight: float | None
    vetoed_by: list[str]
    contributions: JSON = strawberry.field(
        description="Per comparison: left and right values, level, weight."
    )


@strawberry.type(description="What the record would match now, and why; nothing is written.")
class MatchPreview:
    decision: str = strawberry.field(description="join, review or new.")
    golden_id: strawberry.ID | None
    merges: list[strawberry.ID]
    candidates: list[CandidatePreview]
    findings: JSON
    keys: list[str]
    model_version: int


@strawberry.type
class EstimateMatchModelSuccess:
    model: MatchModel
    notes: JSON


@strawberry.type(description="A source record taken out of its golden record by a steward.")
class UnmergeRecordSuccess:
    entity_type: str
    system: str
    source_id: str
    left_golden_id: strawberry.ID = strawberry.field(
        description="The golden record the record was taken out of (recorded as unmerged)."
    )
    left_version: int
    golden_id: strawberry.ID = strawberry.field(description="The record's new golden record.")
    version: int
    children_queued: int = strawberry.field(
        description="Records whose match depended on the old golden record, queued for "
        "re-evaluation (see reevaluationBacklog): at most 1,000 at once, the rest are queued "
        "from the backlog."
    )


@strawberry.enum(description="A steward's decision on a match candidate.")
class ReviewDecision(Enum):
    MERGE = "merge"
    REJECT = "reject"


@strawberry.type(description="A pair the engine was unsure of, waiting for a steward.")
class ReviewCandidate:
    id: strawberry.ID
    entity_type: str
    system: str
    source_id: str = strawberry.field(
        permission_classes=[IsIntegrator], description="Crosswalk data: integrator role."
    )
    golden_id: strawberry.ID = strawberry.field(
        description="The golden record the source record was scored against."
    )
    golden_version: int = strawberry.field(
        description="Its version now: pass it as expectedVersion to decide on what was seen."
    )
    probability: float
    explanation: JSON = strawberry.field(
        description="Per comparison: both values, level and weight; vetoes and conflicts."
    )
    created_at: datetime


@strawberry.type
class DecideMatchCandidateSuccess:
    id: strawberry.ID
    status: str = strawberry.field(description="merged or rejected.")
    golden_id: strawberry.ID = strawberry.field(
        description="The golden record the source record is in after the decision."
    )
    children_queued: int


PreviewMatchResult = Annotated[
    MatchPreview | InvalidInputError, strawberry.union("PreviewMatchResult")
]
DecideMatchCandidateResult = Annotated[
    DecideMatchCandidateSuccess | InvalidInputError | NotFoundError,
    strawberry.union("DecideMatchCandidateResult"),
]
UnmergeRecordResult = Annotated[
    UnmergeRecordSuccess | InvalidInputError | NotFoundError,
    strawberry.union("UnmergeRecordResult"),
]
EstimateMatchModelResult = Annotated[
    EstimateMatchModelSuccess | InvalidInputError, strawberry.union("EstimateMatchModelResult")
]


def to_match_model(spec: EntitySpec, active: ActiveModel) -> MatchModel:
    assert spec.matching is not None
    model = active.model
    return MatchModel(
        entity_type=spec.name,
        version=active.version,
        source=active.source,
        prior=model.prior,
        auto_threshold=active.auto_threshold,
        review_threshold=active.review_threshold,
        comparisons=[
            ComparisonParameters(
                name=c.name,
                attributes=list(c.attributes),
                levels=[
                    LevelParameters(name=lv.name, m=lv.m, u=lv.u, weight=lv.weight)
                    for lv in model.levels_of(c.name)
                ],
            )
            for c in model.comparisons
        ],
        vetoes=[f"{name}.{level}" for name, level in spec.matching.vetoes],
        decisive=[[f"{name}.{level}" for name, level in rule] for rule in spec.matching.decisive],
    )


def _spec(info: Info, entity_type: str) -> EntitySpec:
    return entity_spec(info.context.hub.specs, entity_type)


@strawberry.type
class MatchQuery:
    @strawberry.field(
        permission_classes=[IsReader],
        description="Match candidates waiting for a steward (oldest first), with why.",
    )
    def review_candidates(
        self, info: Info, entity_type: str | None = None, first: int = 100
    ) -> list[ReviewCandidate]:
        limit = info.context.hub.settings.max_page_size
        if first < 1 or first > limit:
            raise InvalidInputError_(f"first must be between 1 and {limit}", field="first")
        if entity_type is not None:
            _spec(info, entity_type)
        with info.context.hub.database.read_session() as session:
            found = pending_candidates(session, entity_type, first=first)
        return [
            ReviewCandidate(
                id=strawberry.ID(str(c.id)),
                entity_type=c.entity_type,
                system=c.system,
                source_id=c.source_id,
                golden_id=strawberry.ID(c.golden_id),
                golden_version=c.golden_version,
                probability=c.score,
                explanation=c.explanation,  # type: ignore[arg-type]
                created_at=c.created_at,
            )
            for c in found
        ]

    @strawberry.field(
        permission_classes=[IsReader],
        description="The active match model of an entity type (versioned).",
    )
    def match_model(self, info: Info, entity_type: str) -> MatchModel:
        spec = _spec(info, entity_type)
        hub = info.context.hub
        with hub.database.read_session() as session:
            active = hub.ingestor.models.active(session, spec)
        return to_match_model(spec, active)

    @strawberry.field(permission_classes=[IsReader], description="Every stored version.")
    def match_model_history(self, info: Info, entity_type: str) -> list[MatchModel]:
        spec = _spec(info, entity_type)
        hub = info.context.hub
        with hub.database.read_session() as session:
            versions = hub.ingestor.models.history(session, spec)
        return [to_match_model(spec, defaults(spec)), *(to_match_model(spec, v) for v in versions)]

    @strawberry.field(
        permission_classes=[IsReader],
        description="Dry run: score a record against the store without writing anything.",
    )
    def preview_match(self, info: Info, input: SourceRecordInput) -> PreviewMatchResult:
        hub = info.context.hub
        try:
            if not input.source_id:
                input.source_id = "preview"
            record: RecordInput = to_record_input(info, input)
            found = preview_match(
                hub.database, hub.specs, hub.ingestor.matcher, hub.ingestor.systems, record
            )
        except MdmError as error:
            return user_error(error)  # type: ignore[return-value]
        return MatchPreview(
            decision=found.decision,
            golden_id=strawberry.ID(found.golden_id) if found.golden_id else None,
            merges=[strawberry.ID(m) for m in found.merges],
            candidates=[
                CandidatePreview(
                    golden_id=strawberry.ID(c.golden_id),
                    probability=c.probability,
                    match_weight=c.match_weight,
                    vetoed_by=list(c.vetoed_by),
                    contributions=list(c.contributions),  # type: ignore[arg-type]
                )
                for c in found.candidates
            ],
            findings=list(found.findings),  # type: ignore[arg-type]
            keys=list(found.keys),
            model_version=found.model_version,
        )


@strawberry.type
class MatchMutation:
    @strawberry.mutation(
        permission_classes=[IsSteward],
        description="Decide a match candidate: MERGE folds the record's golden record into "
        "the candidate's (children of the merged record are queued for re-evaluation); "
        "REJECT makes the pair a cannot-link. Both are labels for estimation. Audited; "
        "needs a reason; a candidate is decided once (ALREADY_DECIDED). With expectedVersion "
        "(the candidate's goldenVersion as seen), a golden record changed since is a CONFLICT.",
    )
    def decide_match_candidate(
        self,
        info: Info,
        id: strawberry.ID,
        decision: ReviewDecision,
        reason: str,
        expected_version: int | None = None,
    ) -> DecideMatchCandidateResult:
        hub = info.context.hub
        try:
            try:
                candidate_id = int(str(id))
            except ValueError:
                raise InvalidInputError_(f"not a match candidate id: {id!r}", field="id") from None
            with hub.database.session() as session:
                done = decide_candidate(
                    session,
                    hub.specs,
                    candidate_id,
                    decision.value,
                    actor=info.context.actor or "graphql",
                    reason=reason,
                    expected_version=expected_version,
                )
        except MdmError as error:
            return user_error(error)
        return DecideMatchCandidateSuccess(
            id=strawberry.ID(str(done.candidate_id)),
            status=done.status,
            golden_id=strawberry.ID(done.golden_id),
            children_queued=done.children_queued,
        )

    @strawberry.mutation(
        permission_classes=[IsSteward],
        description="Take a source record out of the golden record it was matched into: it "
        "gets a golden record of its own, the old one is recomputed (change kind unmerged), "
        "matching never puts it back (a cannot-link), and the records whose match depended "
        "on the old golden record are queued for re-evaluation. Audited; needs a reason. "
        "With expectedVersion (of the golden record the record is in), a golden record "
        "changed since is a CONFLICT.",
    )
    def unmerge_record(
        self,
        info: Info,
        entity_type: str,
        system: str,
        source_id: str,
        reason: str,
        expected_version: int | None = None,
    ) -> UnmergeRecordResult:
        hub = info.context.hub
        try:
            with hub.database.session() as session:
                done = unmerge_record(
                    session,
                    hub.specs,
                    entity_type,
                    system,
                    source_id,
                    actor=info.context.actor or "graphql",
                    reason=reason,
                    expected_version=expected_version,
                )
        except MdmError as error:
            return user_error(error)
        return UnmergeRecordSuccess(
            entity_type=done.entity_type,
            system=done.system,
            source_id=done.source_id,
            left_golden_id=strawberry.ID(done.left_golden_id),
            left_version=done.left_version,
            golden_id=strawberry.ID(done.golden_id),
            version=done.version,
            children_queued=done.children_queued,
        )

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Re-estimate an entity type's match model from the data (u from random "
        "pairs, m by EM) and store it as the next version; active only with activate: true.",
    )
    def estimate_match_model(
        self, info: Info, entity_type: str, seed: int = 0, activate: bool = False
    ) -> EstimateMatchModelResult:
        hub = info.context.hub
        try:
            spec = _spec(info, entity_type)
            with hub.database.session() as session:
                saved, notes = hub.ingestor.models.estimate(
                    session,
                    spec,
                    actor=info.context.actor,
                    seed=seed,
                    activate=activate,
                    context=ContextView(hub.ingestor.codes(session), hub.specs),
                )
        except MdmError as error:
            return user_error(error)  # type: ignore[return-value]
        return EstimateMatchModelSuccess(
            model=to_match_model(spec, saved),
            notes=notes,
        )
