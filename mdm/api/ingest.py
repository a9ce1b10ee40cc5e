"""GraphQL for ingest: ``ingestRecord(s)``, and the refused records kept for replay
(``ingestRejections``, ``replayRejections``).

``IngestQuery`` and ``IngestMutation`` are meant as base classes of the schema's ``Query``
and ``Mutation`` types.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from mdm import rejections
from mdm.api.errors import InvalidInputError, NotFoundError, error_code, user_error
from mdm.api.inputs import SourceRecordInput, as_mapping, to_record_input
from mdm.api.pagination import (
    REJECTION_CURSOR,
    Connection,
    Edge,
    check_first,
    decode_cursor,
    encode_cursor,
    page_info,
)
from mdm.api.permissions import IsIntegrator
from mdm.api.types import Finding
from mdm.errors import InvalidInputError as InvalidInput
from mdm.errors import MdmError
from mdm.ingest import IngestOutcome, RecordInput
from mdm.store import IngestRejection


@strawberry.type
class IngestRejectionType:
    id: strawberry.ID
    entity_type: str | None
    system: str | None
    source_id: str | None
    code: str
    field: str | None
    message: str
    origin: str | None
    payload: JSON
    created_at: datetime


@strawberry.type(description="Open rejections, newest first, with keyset cursors.")
class IngestRejectionConnection(Connection[IngestRejectionType]):
    total_count: int = strawberry.field(
        description="How many open rejections match, on all pages together."
    )


@strawberry.enum
class IngestStatusEnum(enum.Enum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    DELETED = "deleted"
    REJECTED = "rejected"


@strawberry.type(description="What happened to one ingested record.")
class IngestOutcomeType:
    status: IngestStatusEnum
    entity_type: str
    system: str
    source_id: str
    golden_id: strawberry.ID | None
    version: int | None
    findings: list[Finding]
    error: InvalidInputError | None
    rejection_id: strawberry.ID | None


@strawberry.type
class IngestRecordSuccess:
    outcome: IngestOutcomeType


@strawberry.type
class IngestRecordsSuccess:
    outcomes: list[IngestOutcomeType]
    accepted: int
    rejected: int


IngestRecordResult = Annotated[
    IngestRecordSuccess | InvalidInputError, strawberry.union("IngestRecordResult")
]
IngestRecordsResult = Annotated[
    IngestRecordsSuccess | InvalidInputError, strawberry.union("IngestRecordsResult")
]


@strawberry.type
class ReplayedRejection:
    rejection_id: strawberry.ID
    outcome: IngestOutcomeType | None
    error: InvalidInputError | None


@strawberry.type
class ReplayRejectionsSuccess:
    replayed: list[ReplayedRejection]


ReplayRejectionsResult = Annotated[
    ReplayRejectionsSuccess | InvalidInputError | NotFoundError,
    strawberry.union("ReplayRejectionsResult"),
]


def _outcome(outcome: IngestOutcome) -> IngestOutcomeType:
    return IngestOutcomeType(
        status=IngestStatusEnum(outcome.status.value),
        entity_type=outcome.entity_type,
        system=outcome.system,
        source_id=outcome.source_id,
        golden_id=strawberry.ID(outcome.golden_id) if outcome.golden_id else None,
        version=outcome.version,
        findings=[Finding(**f) for f in outcome.findings],
        error=user_error(outcome.error) if outcome.error is not None else None,  # type: ignore[arg-type]
        rejection_id=strawberry.ID(str(outcome.rejection_id)) if outcome.rejection_id else None,
    )


def _rejection(r: IngestRejection) -> IngestRejectionType:
    return IngestRejectionType(
        id=strawberry.ID(str(r.id)),
        entity_type=r.entity_type,
        system=r.system,
        source_id=r.source_id,
        code=r.code,
        field=r.field,
        message=r.message,
        origin=r.origin,
        payload=r.payload,  # type: ignore[arg-type]  # JSON is strawberry's scalar alias
        created_at=r.created_at,
    )


@strawberry.type
class IngestQuery:
    @strawberry.field(
        permission_classes=[IsIntegrator],
        description="Open refused records, newest first, kept with their reason for replay; "
        "pass pageInfo.endCursor as after for the next page.",
    )
    def ingest_rejections(
        self, info: Info, first: int = 50, after: str | None = None, system: str | None = None
    ) -> IngestRejectionConnection:
        check_first(first, info.context.hub.settings.max_page_size)
        before = decode_cursor(after, REJECTION_CURSOR) if after else None
        with info.context.hub.database.read_session() as session:
            page = rejections.rejection_page(session, first=first, before=before, system=system)
        edges = [
            Edge(cursor=encode_cursor(r.id, REJECTION_CURSOR), node=_rejection(r))
            for r in page.rows
        ]
        return IngestRejectionConnection(
            edges=edges, page_info=page_info(edges, page.has_next), total_count=page.total
        )


@strawberry.type
class IngestMutation:
    @strawberry.mutation(
        permission_classes=[IsIntegrator],
        description="Ingest one source record (idempotent: same content is a no-op).",
    )
    def ingest_record(self, info: Info, input: SourceRecordInput) -> IngestRecordResult:
        ctx = info.context
        try:
            record = to_record_input(info, input)
            with ctx.hub.database.session() as session:
                outcome = ctx.hub.ingestor.ingest(
                    session, record, actor=ctx.actor, correlation_id=ctx.request_id
                )
        except MdmError as error:
            with ctx.hub.database.session() as session:
                ctx.hub.ingestor.reject(
                    session,
                    RecordInput(
                        entity_type=input.entity_type,
                        system=input.system,
                        source_id=input.source_id or "",
                        attributes=as_mapping(input.attributes or input.fields),
                        is_deleted=input.deleted,
                        origin=f"graphql {ctx.request_id}",
                    ),
                    error,
                    correlation_id=ctx.request_id,
                )
            return InvalidInputError(
                code=error_code(error), message=error.message, field=error.field
            )
        return IngestRecordSuccess(outcome=_outcome(outcome))

    @strawberry.mutation(
        permission_classes=[IsIntegrator],
        description=(
            "Ingest up to the batch limit of records; each lands whole or is rejected "
            "with its reason."
        ),
    )
    def ingest_records(self, info: Info, records: list[SourceRecordInput]) -> IngestRecordsResult:
        ctx = info.context
        limit = ctx.hub.settings.max_batch_size
        if len(records) > limit:
            return InvalidInputError(
                code=error_code(InvalidInput("", code="BATCH_TOO_LARGE")),
                message=f"batch of {len(records)} records exceeds the limit of {limit}",
                field="records",
            )
        outcomes: list[IngestOutcome | None] = []
        prepared: list[RecordInput] = []
        errors: dict[int, MdmError] = {}
        for index, item in enumerate(records):
            try:
                prepared.append(to_record_input(info, item))
            except MdmError as error:
                errors[index] = error
                prepared.append(
                    RecordInput(
                        entity_type=item.entity_type,
                        system=item.system,
                        source_id=item.source_id or "",
                        attributes=as_mapping(item.attributes or item.fields),
                        is_deleted=item.deleted,
                    )
                )
        with ctx.hub.database.session() as session:
            for index, record in enumerate(prepared):
                if index in errors:
                    outcomes.append(
                        ctx.hub.ingestor.reject(
                            session, record, errors[index], correlation_id=ctx.request_id
                        )
                    )
                else:
                    outcomes.append(
                        ctx.hub.ingestor.ingest_many(
                            session, [record], actor=ctx.actor, correlation_id=ctx.request_id
                        )[0]
                    )
        done = [_outcome(o) for o in outcomes if o is not None]
        rejected = sum(1 for o in done if o.status is IngestStatusEnum.REJECTED)
        return IngestRecordsSuccess(outcomes=done, accepted=len(done) - rejected, rejected=rejected)

    @strawberry.mutation(
        permission_classes=[IsIntegrator],
        description="Send refused records again once fixed (all open ones, or ids); "
        "`attributes` replaces one record's attributes with corrected ones.",
    )
    def replay_rejections(
        self, info: Info, ids: list[strawberry.ID] | None = None, attributes: JSON | None = None
    ) -> ReplayRejectionsResult:
        ctx = info.context
        try:
            numbers = [int(i) for i in ids] if ids is not None else None
        except ValueError:
            return InvalidInputError(
                code=error_code(InvalidInput("")), message="ids must be numbers", field="ids"
            )
        try:
            with ctx.hub.database.session() as session:
                replays = rejections.replay_rejections(
                    session,
                    ctx.hub.ingestor,
                    numbers,
                    attributes=as_mapping(attributes) if attributes is not None else None,
                    actor=ctx.actor,
                    correlation_id=ctx.request_id,
                )
        except MdmError as error:
            return user_error(error)
        return ReplayRejectionsSuccess(
            replayed=[
                ReplayedRejection(
                    rejection_id=strawberry.ID(str(r.rejection_id)),
                    outcome=_outcome(r.outcome) if r.outcome is not None else None,
                    error=user_error(r.error) if r.error is not None else None,  # type: ignore[arg-type]
                )
                for r in replays
            ]
        )
