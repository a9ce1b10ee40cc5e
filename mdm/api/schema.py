"""The GraphQL schema: queries, mutations and limits, built from the entity specs."""

from __future__ import annotations

import base64
import enum
import uuid
from datetime import datetime
from typing import Annotated, Any, Generic, Optional, TypeVar

import strawberry
from graphql import GraphQLError
from sqlalchemy import func, select
from strawberry.extensions import MaxTokensLimiter, ParserCache
from strawberry.scalars import JSON
from strawberry.types import ExecutionContext, Info

from mdm import crosswalk
from mdm.api.arguments import ArgumentScreen
from mdm.api.errors import ErrorCodes, InvalidInputError, NotFoundError, error_code, user_error
from mdm.api.inputs import SourceRecordInput, as_mapping, entity_spec, to_record_input
from mdm.api.limits import QueryGuard, QueryLimits
from mdm.api.matching import MatchMutation, MatchQuery
from mdm.api.permissions import IsAdmin, IsIntegrator, IsReader
from mdm.api.quality import QualityQuery
from mdm.api.reference import ReferenceMutation, ReferenceQuery
from mdm.api.types import (
    ENTITY_TYPES,
    Finding,
    GoldenRecord,
    GoldenStatus,
    Node,
    SourceRecord,
    build_entity_types,
    camel,
    to_graphql,
)
from mdm.errors import InvalidInputError as InvalidInput
from mdm.errors import MdmError
from mdm.ingest import IngestOutcome, RecordInput
from mdm.rejections import replay_rejections
from mdm.settings import Settings
from mdm.specs import EntitySpec, SpecRegistry
from mdm.store import GoldenRecord as GoldenRow
from mdm.store import IngestRejection
from mdm.store import SourceRecord as SourceRow
from mdm.systems import list_systems, register_system

T = TypeVar("T")


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo

    @strawberry.field(description="The nodes of ``edges``, for clients that need no cursors.")
    def nodes(self) -> list[T]:
        return [e.node for e in self.edges]


@strawberry.input(
    description='Golden attribute equality, e.g. {name: "taxId", value: "12-3456789"}.'
)
class AttributeEquals:
    name: str
    value: str


@strawberry.input
class GoldenRecordFilter:
    record_status: GoldenStatus | None = GoldenStatus.ACTIVE
    updated_after: datetime | None = None
    attributes: list[AttributeEquals] | None = None


@strawberry.type(description="Where a source record lives in the hub.")
class CrosswalkEntry:
    entity_type: str
    system: str
    source_id: str
    golden_id: strawberry.ID | None
    found: bool
    is_deleted: bool

    @strawberry.field(description="The golden record (follows merges).")
    async def golden(self, info: Info) -> Optional[GoldenRecord]:  # noqa: UP045
        if self.golden_id is None:
            return None
        with info.context.hub.database.read_session() as session:
            row = crosswalk.follow_merges(session, str(self.golden_id))
        return to_graphql(info.context.hub.specs, row) if row is not None else None


@strawberry.type
class SourceSystemType:
    code: str
    name: str
    has_mapping: bool


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


@strawberry.type
class RegisterSourceSystemSuccess:
    system: SourceSystemType


RegisterSourceSystemResult = Annotated[
    RegisterSourceSystemSuccess | InvalidInputError,
    strawberry.union("RegisterSourceSystemResult"),
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


def _encode_cursor(pk: int, kind: str = "g") -> str:
    return base64.urlsafe_b64encode(f"{kind}:{pk}".encode()).decode()


def _decode_cursor(cursor: str, kind: str = "g") -> int:
    try:
        found, _, pk = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        if found != kind:
            raise ValueError(kind)
        return int(pk)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput(f"malformed cursor {cursor!r}", field="after") from None


def _page(
    info: Info, spec: EntitySpec, first: int, after: str | None, filter: GoldenRecordFilter | None
) -> Any:
    hub = info.context.hub
    limit = hub.settings.max_page_size
    if first < 1 or first > limit:
        raise InvalidInput(f"first must be between 1 and {limit}", field="first")
    query = select(GoldenRow).where(GoldenRow.entity_type == spec.name)
    flt = filter or GoldenRecordFilter()
    if flt.record_status is not None:
        query = query.where(GoldenRow.status == flt.record_status.value)
    if flt.updated_after is not None:
        query = query.where(GoldenRow.updated_at > flt.updated_after)
    for condition in flt.attributes or []:
        names = {camel(a.name): a.name for a in spec.attributes}
        name = names.get(condition.name, condition.name)
        if spec.attribute(name) is None:
            raise InvalidInput(
                f"{spec.name} has no attribute {condition.name!r}", field="filter.attributes"
            )
        query = query.where(GoldenRow.attributes[name].as_string() == condition.value)
    if after:
        query = query.where(GoldenRow.id > _decode_cursor(after))
    with hub.database.read_session() as session:
        rows = session.scalars(query.order_by(GoldenRow.id).limit(first + 1)).all()
    edges = [Edge(cursor=_encode_cursor(r.id), node=to_graphql(hub.specs, r)) for r in rows[:first]]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(rows) > first, end_cursor=edges[-1].cursor if edges else None
        ),
    )


def _golden_by_public_id(info: Info, public_id: str, spec: EntitySpec | None = None) -> Any:
    with info.context.hub.database.read_session() as session:
        row = crosswalk.follow_merges(session, public_id)
    if row is None or (spec is not None and row.entity_type != spec.name):
        return None
    return to_graphql(info.context.hub.specs, row)


def _entity_resolvers(spec: EntitySpec, cls: type) -> tuple[Any, Any]:
    def one(info: Info, id: strawberry.ID) -> Any:
        return _golden_by_public_id(info, str(id), spec)

    one.__annotations__ = {"info": Info, "id": strawberry.ID, "return": Optional[cls]}  # noqa: UP045

    def many(
        info: Info,
        first: int = 50,
        after: str | None = None,
        filter: GoldenRecordFilter | None = None,
    ) -> Any:
        return _page(info, spec, first, after, filter)

    many.__annotations__ = {
        "info": Info,
        "first": int,
        "after": Optional[str],  # noqa: UP045
        "filter": Optional[GoldenRecordFilter],  # noqa: UP045
        "return": Connection[cls],  # type: ignore[valid-type]
    }
    return one, many


def _entity_fields(specs: SpecRegistry) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for spec in specs.values():
        one, many = _entity_resolvers(spec, ENTITY_TYPES[spec.name])
        fields[camel(spec.name)] = strawberry.field(
            resolver=one,
            permission_classes=[IsReader],
            description=f"A golden {spec.name} by id (a merged id redirects to its survivor).",
        )
        fields[spec.plural] = strawberry.field(
            resolver=many,
            permission_classes=[IsReader],
            description=f"Golden {spec.plural}, oldest first, with keyset cursors.",
        )
    return fields


@strawberry.type
class QueryBase:
    @strawberry.field(permission_classes=[IsReader], description="Any golden record by id.")
    def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return _golden_by_public_id(info, str(id))  # type: ignore[no-any-return]

    @strawberry.field(
        permission_classes=[IsReader],
        description="A golden record of any type by id; a merged id redirects to its survivor.",
    )
    def golden_record(self, info: Info, id: strawberry.ID) -> GoldenRecord | None:
        return _golden_by_public_id(info, str(id))  # type: ignore[no-any-return]

    @strawberry.field(
        permission_classes=[IsIntegrator],
        description="Which golden record is this system's record? null if never seen.",
    )
    def crosswalk(
        self, info: Info, entity_type: str, system: str, source_id: str
    ) -> CrosswalkEntry | None:
        spec = entity_spec(info.context.hub.specs, entity_type)
        with info.context.hub.database.read_session() as session:
            entry = crosswalk.resolve(session, spec.name, system, source_id)
        if entry is None:
            return None
        return _entry(entry)

    @strawberry.field(
        permission_classes=[IsIntegrator],
        description="Resolve up to 1,000 source ids of one system in one call, in input order.",
    )
    def crosswalk_batch(
        self, info: Info, entity_type: str, system: str, source_ids: list[str]
    ) -> list[CrosswalkEntry]:
        hub = info.context.hub
        spec = entity_spec(hub.specs, entity_type)
        with hub.database.read_session() as session:
            found = crosswalk.resolve_many(
                session, spec.name, system, source_ids, limit=hub.settings.max_batch_size
            )
        return [
            _entry(found[sid]) if sid in found else _missing(spec.name, system, sid)
            for sid in source_ids
        ]

    @strawberry.field(
        permission_classes=[IsIntegrator],
        description="The ids this record's entity has in other systems (or in toSystem).",
    )
    def translate(
        self,
        info: Info,
        entity_type: str,
        system: str,
        source_id: str,
        to_system: str | None = None,
    ) -> list[CrosswalkEntry]:
        spec = entity_spec(info.context.hub.specs, entity_type)
        with info.context.hub.database.read_session() as session:
            entries = crosswalk.translate(session, spec.name, system, source_id, to_system)
        return [_entry(e) for e in entries]

    @strawberry.field(
        permission_classes=[IsIntegrator],
        description="One source record as stored (crosswalk data: integrator role).",
    )
    def source_record(
        self, info: Info, entity_type: str, system: str, source_id: str
    ) -> SourceRecord | None:
        spec = entity_spec(info.context.hub.specs, entity_type)
        with info.context.hub.database.read_session() as session:
            row = session.scalar(
                select(SourceRow).where(
                    SourceRow.entity_type == spec.name,
                    SourceRow.system == system,
                    SourceRow.source_id == source_id,
                )
            )
        return SourceRecord(row=row) if row is not None else None

    @strawberry.field(permission_classes=[IsReader])
    def source_systems(self, info: Info) -> list[SourceSystemType]:
        with info.context.hub.database.read_session() as session:
            return [
                SourceSystemType(code=s.code, name=s.name, has_mapping=bool(s.mapping))
                for s in list_systems(session)
            ]

    @strawberry.field(
        permission_classes=[IsIntegrator],
        description="Open refused records, newest first, kept with their reason for replay; "
        "pass pageInfo.endCursor as after for the next page.",
    )
    def ingest_rejections(
        self, info: Info, first: int = 50, after: str | None = None, system: str | None = None
    ) -> IngestRejectionConnection:
        limit = info.context.hub.settings.max_page_size
        if first < 1 or first > limit:
            raise InvalidInput(f"first must be between 1 and {limit}", field="first")
        query = select(IngestRejection).where(IngestRejection.resolved_at.is_(None))
        if system is not None:
            query = query.where(IngestRejection.system == system)
        page = query
        if after:
            page = page.where(IngestRejection.id < _decode_cursor(after, REJECTION_CURSOR))
        with info.context.hub.database.read_session() as session:
            total = session.scalar(select(func.count()).select_from(query.subquery()))
            rows = session.scalars(page.order_by(IngestRejection.id.desc()).limit(first + 1)).all()
        edges = [
            Edge(cursor=_encode_cursor(r.id, REJECTION_CURSOR), node=_rejection(r))
            for r in rows[:first]
        ]
        return IngestRejectionConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=len(rows) > first, end_cursor=edges[-1].cursor if edges else None
            ),
            total_count=total or 0,
        )


REJECTION_CURSOR = "r"


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


def _entry(entry: crosswalk.CrosswalkEntry) -> CrosswalkEntry:
    return CrosswalkEntry(
        entity_type=entry.entity_type,
        system=entry.system,
        source_id=entry.source_id,
        golden_id=strawberry.ID(entry.golden_id) if entry.golden_id else None,
        found=True,
        is_deleted=entry.is_deleted,
    )


def _missing(entity_type: str, system: str, source_id: str) -> CrosswalkEntry:
    return CrosswalkEntry(
        entity_type=entity_type,
        system=system,
        source_id=source_id,
        golden_id=None,
        found=False,
        is_deleted=False,
    )


@strawberry.type
class Mutation:
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
                replays = replay_rejections(
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

    @strawberry.mutation(permission_classes=[IsAdmin], description="Register a source system.")
    def register_source_system(
        self, info: Info, code: str, name: str
    ) -> RegisterSourceSystemResult:
        try:
            with info.context.hub.database.session() as session:
                system = register_system(session, code, name)
                result = SourceSystemType(
                    code=system.code, name=system.name, has_mapping=bool(system.mapping)
                )
        except MdmError as error:
            return InvalidInputError(
                code=error_code(error), message=error.message, field=error.field
            )
        return RegisterSourceSystemSuccess(system=result)


class HubSchema(strawberry.Schema):
    """Logs only unexpected errors: expected ones are the caller's, and carry a code."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            if error.original_error is None and not (error.extensions or {}).get("code"):
                # A document that does not parse (or validate) never reaches ErrorCodes.
                code = (
                    "GRAPHQL_PARSE_FAILED"
                    if error.message.startswith("Syntax Error")
                    else "GRAPHQL_VALIDATION_FAILED"
                )
                error.extensions = {**(error.extensions or {}), "code": code}
            if (error.extensions or {}).get("code") == "INTERNAL":
                continue  # already logged with its traceback and request id by ErrorCodes
            if isinstance(error.original_error, Exception) and not isinstance(
                error.original_error, MdmError | GraphQLError
            ):
                super().process_errors([error], execution_context)


def build_schema(specs: SpecRegistry, settings: Settings) -> strawberry.Schema:
    """The schema for these entity specs, with caches and limits."""
    entity_types = build_entity_types(specs)
    limits = QueryLimits.from_settings(settings)

    query = strawberry.type(
        type(
            "Query",
            (QueryBase, QualityQuery, MatchQuery, ReferenceQuery),
            {"__module__": __name__, **_entity_fields(specs)},
        )
    )
    return HubSchema(
        query=query,
        mutation=strawberry.type(
            type(
                "Mutation",
                (Mutation, MatchMutation, ReferenceMutation),
                {"__module__": __name__},
            )
        ),
        types=[*entity_types, NotFoundError],
        extensions=[
            ErrorCodes,
            # Its LRU cache is module-level, keyed by size: a fresh instance per request
            # still hits the shared cache.
            lambda: ParserCache(maxsize=1000),
            # Depth, aliases, expanded size, cost and list lengths, then graphql-core's rules
            # (cached): linear in the document whatever its fragments do.
            lambda: QueryGuard(limits),
            lambda: MaxTokensLimiter(max_token_count=5000),
            ArgumentScreen,  # NUL, lone surrogates, over-long text, deep JSON: INVALID_INPUT
        ],
    )


def new_request_id() -> str:
    return uuid.uuid4().hex[:16]
