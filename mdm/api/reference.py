"""GraphQL for reference data: code sets, transcodings, unmapped values and the learned
correspondences a steward accepts or rejects.

``ReferenceQuery`` and ``ReferenceMutation`` are meant as base classes of the schema's
``Query`` and ``Mutation`` types.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from mdm import reference
from mdm.api.errors import InvalidInputError, NotFoundError, user_error
from mdm.api.permissions import IsReader, IsSteward
from mdm.errors import InvalidInputError as InvalidInput
from mdm.errors import MdmError
from mdm.store import CodeCorrespondence as CorrespondenceRow


@strawberry.type(description="A canonical code of a code set.")
class Code:
    code: str
    display: str | None


@strawberry.type(description="One system's value of a coded attribute -> a canonical code.")
class Transcoding:
    code_set: str
    system: str
    source_value: str = strawberry.field(
        description="Trimmed, inner spaces collapsed, upper-cased."
    )
    code: str
    origin: str = strawberry.field(description="file, api or learned.")
    updated_by: str | None
    updated_at: datetime | None


@strawberry.type(description="The canonical codes of a coded attribute and their transcodings.")
class CodeSet:
    name: str
    codes: list[Code]
    transcodings: list[Transcoding]


@strawberry.type(description="A coded value one system sends that no transcoding maps.")
class UnmappedValue:
    entity_type: str
    attribute: str
    system: str
    value: str
    count: int = strawberry.field(description="Live source records carrying it.")


@strawberry.enum(description="Where a learned correspondence stands.")
class CorrespondenceStatus(enum.Enum):
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


@strawberry.type(
    description="A correspondence of coded values learned from strongly linked records: "
    "systemA's valueA seen with systemB's valueB on the same golden record."
)
class CodeCorrespondence:
    id: strawberry.ID
    code_set: str
    entity_type: str | None
    attribute: str | None
    system_a: str
    value_a: str
    system_b: str
    value_b: str
    support: int = strawberry.field(description="Golden records showing it.")
    conflicts: int = strawberry.field(
        description="Golden records showing another value of systemB for the same valueA."
    )
    conflict_share: float = strawberry.field(description="conflicts / (support + conflicts).")
    is_evidence: bool = strawberry.field(
        description="Proposed, with enough support and few enough conflicts to count as "
        "match evidence."
    )
    status: CorrespondenceStatus
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None


@strawberry.type
class SetTranscodingSuccess:
    transcoding: Transcoding
    records_updated: int = strawberry.field(description="Live records given the code.")
    version: int = strawberry.field(description="The reference data's new version.")


@strawberry.type
class DeleteTranscodingSuccess:
    transcoding: Transcoding = strawberry.field(description="What was deleted.")
    version: int


@strawberry.type
class AcceptCorrespondenceSuccess:
    correspondence: CodeCorrespondence
    transcoding: Transcoding
    records_updated: int
    version: int


@strawberry.type
class RejectCorrespondenceSuccess:
    correspondence: CodeCorrespondence
    version: int


@strawberry.type
class LearnCorrespondencesSuccess:
    entity_types: list[str]
    golden_records: int = strawberry.field(description="Golden records read.")
    proposed: int = strawberry.field(description="New proposals.")
    updated: int = strawberry.field(description="Proposals with new counts.")
    decided: int = strawberry.field(description="Seen again, already decided: left alone.")
    version: int


SetTranscodingResult = Annotated[
    SetTranscodingSuccess | InvalidInputError, strawberry.union("SetTranscodingResult")
]
DeleteTranscodingResult = Annotated[
    DeleteTranscodingSuccess | InvalidInputError | NotFoundError,
    strawberry.union("DeleteTranscodingResult"),
]
AcceptCorrespondenceResult = Annotated[
    AcceptCorrespondenceSuccess | InvalidInputError | NotFoundError,
    strawberry.union("AcceptCorrespondenceResult"),
]
RejectCorrespondenceResult = Annotated[
    RejectCorrespondenceSuccess | InvalidInputError | NotFoundError,
    strawberry.union("RejectCorrespondenceResult"),
]
LearnCorrespondencesResult = Annotated[
    LearnCorrespondencesSuccess | InvalidInputError,
    strawberry.union("LearnCorrespondencesResult"),
]


def _transcoding(entry: reference.TranscodingEntry) -> Transcoding:
    return Transcoding(
        code_set=entry.code_set,
        system=entry.system,
        source_value=entry.source_value,
        code=entry.code,
        origin=entry.origin,
        updated_by=entry.updated_by,
        updated_at=entry.updated_at,
    )


def _correspondence(row: CorrespondenceRow) -> CodeCorrespondence:
    return CodeCorrespondence(
        id=strawberry.ID(str(row.id)),
        code_set=row.code_set,
        entity_type=row.entity_type,
        attribute=row.attribute,
        system_a=row.system_a,
        value_a=row.value_a,
        system_b=row.system_b,
        value_b=row.value_b,
        support=row.support,
        conflicts=row.conflicts,
        conflict_share=reference.conflict_share(row.support, row.conflicts),
        is_evidence=row.status == "proposed" and reference.is_evidence(row.support, row.conflicts),
        status=CorrespondenceStatus(row.status),
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        reason=row.reason,
    )


def _id(value: strawberry.ID) -> int:
    try:
        return int(value)
    except ValueError:
        raise InvalidInput(f"not a correspondence id: {value!r}", field="id") from None


def _actor(info: Info) -> str:
    return info.context.actor or "graphql"


@strawberry.type
class ReferenceQuery:
    @strawberry.field(
        permission_classes=[IsReader],
        description="Code sets (one by name, or all) with their codes and transcodings.",
    )
    def code_sets(self, info: Info, name: str | None = None) -> list[CodeSet]:
        with info.context.hub.database.read_session() as session:
            views = reference.list_code_sets(session, name)
        return [
            CodeSet(
                name=v.name,
                codes=[Code(code=c.code, display=c.display) for c in v.codes],
                transcodings=[_transcoding(t) for t in v.transcodings],
            )
            for v in views
        ]

    @strawberry.field(
        permission_classes=[IsReader],
        description="Coded values of live records that no transcoding maps, most frequent first.",
    )
    def unmapped_values(
        self, info: Info, system: str | None = None, entity_type: str | None = None
    ) -> list[UnmappedValue]:
        with info.context.hub.database.read_session() as session:
            values = reference.unmapped_values(session, system=system, entity_type=entity_type)
        return [
            UnmappedValue(
                entity_type=v.entity_type,
                attribute=v.attribute,
                system=v.system,
                value=v.value,
                count=v.count,
            )
            for v in values
        ]

    @strawberry.field(
        permission_classes=[IsReader],
        description="Learned correspondences (all, or of one status), best supported first.",
    )
    def code_correspondences(
        self, info: Info, status: CorrespondenceStatus | None = None, first: int = 100
    ) -> list[CodeCorrespondence]:
        limit = info.context.hub.settings.max_page_size
        if first < 1 or first > limit:
            raise InvalidInput(f"first must be between 1 and {limit}", field="first")
        with info.context.hub.database.read_session() as session:
            rows = reference.list_correspondences(
                session, status.value if status is not None else None, limit=first
            )
            return [_correspondence(r) for r in rows]


@strawberry.type
class ReferenceMutation:
    @strawberry.mutation(
        permission_classes=[IsSteward],
        description="Create or replace one system's transcoding of a value; live records "
        "carrying the value get the code. Audited; needs a reason.",
    )
    def set_transcoding(
        self,
        info: Info,
        code_set: str,
        system: str,
        source_value: str,
        code: str,
        reason: str,
    ) -> SetTranscodingResult:
        hub = info.context.hub
        try:
            with hub.database.session() as session:
                change = reference.set_transcoding(
                    session,
                    code_set,
                    system,
                    source_value,
                    code,
                    _actor(info),
                    reason,
                    specs=hub.specs,
                )
        except MdmError as error:
            return user_error(error)  # type: ignore[return-value]
        return SetTranscodingSuccess(
            transcoding=_transcoding(change.transcoding),
            records_updated=change.records_updated,
            version=change.version,
        )

    @strawberry.mutation(
        permission_classes=[IsSteward],
        description="Delete one transcoding (records already coded keep their code until "
        "they change). Audited; needs a reason.",
    )
    def delete_transcoding(
        self, info: Info, code_set: str, system: str, source_value: str, reason: str
    ) -> DeleteTranscodingResult:
        try:
            with info.context.hub.database.session() as session:
                change = reference.delete_transcoding(
                    session, code_set, system, source_value, _actor(info), reason
                )
        except MdmError as error:
            return user_error(error)
        return DeleteTranscodingSuccess(
            transcoding=_transcoding(change.transcoding), version=change.version
        )

    @strawberry.mutation(
        permission_classes=[IsSteward],
        description="Accept a learned correspondence: it becomes a transcoding and the live "
        "records carrying the value are re-standardized. Audited; needs a reason.",
    )
    def accept_correspondence(
        self, info: Info, id: strawberry.ID, reason: str
    ) -> AcceptCorrespondenceResult:
        hub = info.context.hub
        try:
            with hub.database.session() as session:
                decision = reference.accept_correspondence(
                    session, _id(id), _actor(info), reason, specs=hub.specs
                )
                result = _correspondence(decision.correspondence)
        except MdmError as error:
            return user_error(error)
        assert decision.transcoding is not None
        return AcceptCorrespondenceSuccess(
            correspondence=result,
            transcoding=_transcoding(decision.transcoding),
            records_updated=decision.records_updated,
            version=decision.version,
        )

    @strawberry.mutation(
        permission_classes=[IsSteward],
        description="Reject a learned correspondence for good: never proposed again. "
        "Audited; needs a reason.",
    )
    def reject_correspondence(
        self, info: Info, id: strawberry.ID, reason: str
    ) -> RejectCorrespondenceResult:
        try:
            with info.context.hub.database.session() as session:
                decision = reference.reject_correspondence(session, _id(id), _actor(info), reason)
                result = _correspondence(decision.correspondence)
        except MdmError as error:
            return user_error(error)
        return RejectCorrespondenceSuccess(correspondence=result, version=decision.version)

    @strawberry.mutation(
        permission_classes=[IsSteward],
        description="Propose correspondences of coded values seen on strongly linked records "
        "(same golden record, agreeing identifier or steward-merged).",
    )
    def learn_correspondences(self, info: Info) -> LearnCorrespondencesResult:
        hub = info.context.hub
        try:
            with hub.database.session() as session:
                learned = reference.learn_correspondences(session, hub.specs, _actor(info))
        except MdmError as error:
            return user_error(error)  # type: ignore[return-value]
        return LearnCorrespondencesSuccess(
            entity_types=list(learned.entity_types),
            golden_records=learned.golden_records,
            proposed=learned.proposed,
            updated=learned.updated,
            decided=learned.decided,
            version=learned.version,
        )
