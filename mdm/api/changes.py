"""GraphQL for the change stream: the ``goldenRecordChanges`` subscription, the ``changes``
polling feed, ``changeHead``, and named consumers (``registerConsumer``,
``acknowledgeChanges``, ``changeConsumers``).

A cursor is the opaque form of a position (an event's sequence number; position 0 is
before the first event). ``ChangeQuery``, ``ChangeMutation`` and ``ChangeSubscription``
are meant as base classes of the schema's ``Query``, ``Mutation`` and ``Subscription``.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import AsyncGenerator
from datetime import datetime
from functools import partial
from typing import Annotated, Any, NewType

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info
from strawberry.types.scalar import ScalarDefinition, scalar

from mdm import changes as stream
from mdm.api.change_render import (
    CHANGE_CURSOR,
    Shape,
    page_fragment,
    page_shapes,
    payload_members,
    renderer_for,
    selection_shape,
    visible_attributes,
    visible_changes,
)
from mdm.api.errors import ForbiddenError, InvalidInputError, NotFoundError, error_code
from mdm.api.pagination import Connection, Edge, PageInfo, check_first, decode_cursor, encode_cursor
from mdm.api.permissions import IsIntegrator, IsReader, sees_source_ids
from mdm.api.types import GoldenStatus
from mdm.api.websocket import SENDER
from mdm.auth import Principal, Role
from mdm.errors import ConsumerExistsError, InvalidCursorError, MdmError, UnavailableError
from mdm.errors import ForbiddenError as Forbidden
from mdm.errors import NotFoundError as Missing
from mdm.hub import Hub
from mdm.notify import ChangeFeed

PAGE_READS = 20  # reads of the store for one page of `changes`, at most


def _parse_position(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("a position is a whole number")
    return stream.check_position(value, field="position")


Position = NewType("Position", int)
SCALARS: dict[object, ScalarDefinition] = {  # the schema's ``scalar_map``
    Position: scalar(
        name="ChangePosition",
        description=(
            "A position in the change stream: an event's sequence number (0: before the "
            "first event), 0 to 2^63-1, in commit order. A value outside that range is "
            "INVALID_POSITION."
        ),
        serialize=int,
        parse_value=_parse_position,
    )
}


def change_cursor(position: int) -> str:
    """The opaque cursor of a position."""
    return encode_cursor(position, CHANGE_CURSOR)


def cursor_position(cursor: str, *, field: str = "after") -> int:
    """The position in a change cursor.

    Raises:
        InvalidCursorError: not a cursor of the change stream, or not a position.
    """
    shown = cursor if len(cursor) <= 60 else cursor[:60] + "…"
    try:
        position = decode_cursor(cursor, CHANGE_CURSOR)
        return stream.check_position(position, field=field)
    except MdmError:
        raise InvalidCursorError(
            f"{field} is not a change-stream cursor: {shown!r}", field=field
        ) from None


@strawberry.enum(description="What happened to the golden record.")
class ChangeKind(enum.Enum):
    CREATED = "created"
    UPDATED = "updated"
    MERGED = "merged"
    UNMERGED = "unmerged"
    RETIRED = "retired"


@strawberry.type(description="One golden attribute's value before and after the change.")
class AttributeChange:
    attribute: str
    old: JSON | None
    new: JSON | None


@strawberry.type(description="A source record's id in its system.")
class SourceKey:
    system: str
    source_id: str


def _attributes(root: ChangeEvent, info: Info) -> JSON:
    return visible_attributes(root.change, sees_source_ids(info))  # type: ignore[no-any-return]


def _changes(root: ChangeEvent, info: Info) -> list[AttributeChange]:
    return [AttributeChange(**c) for c in visible_changes(root.change, sees_source_ids(info))]


def _source_ids(root: ChangeEvent) -> list[SourceKey]:
    return [SourceKey(system=s, source_id=i) for s, i in root.change.source_ids(root.systems)]


def _removed_source_ids(root: ChangeEvent) -> list[SourceKey]:
    return [
        SourceKey(system=s, source_id=i)
        for s, i in root.change.source_ids(root.systems, removed=True)
    ]


@strawberry.type(
    description=(
        "A change of a golden record (the event document of "
        "mdm/schemas/change_event.schema.json, typed)."
    )
)
class ChangeEvent:
    """Built by ``ChangeEvent.of``. Strawberry reads its plain fields as attributes, without
    the ``Info`` and argument parsing it does for each resolver call: a page of 500 events
    took about a fifth less CPU than with a resolver per field, and every live subscriber
    executes its own copy of each event."""

    change: strawberry.Private[stream.Change]
    systems: strawberry.Private[frozenset[str] | None]
    position: Position = strawberry.field(description="Its sequence number: acknowledge this.")
    cursor: str = strawberry.field(description="Pass as `after` to continue after this event.")
    schema_version: int = strawberry.field(
        description="The version of the event document (0: before versioning)."
    )
    kind: ChangeKind
    entity_type: str
    golden_id: strawberry.ID = strawberry.field(description="The golden record's public id.")
    version: int = strawberry.field(description="The golden record's version this change made.")
    record_status: GoldenStatus
    merged_into: strawberry.ID | None = strawberry.field(
        description="Merged: the golden record it now lives on as."
    )
    merged_from: list[strawberry.ID] = strawberry.field(
        description="The golden records this change merged into this one."
    )
    attributes: JSON = strawberry.field(
        resolver=_attributes,
        description=(
            "The golden attributes after the change (reference values, which are "
            "crosswalk data, left out below the integrator role)."
        ),
    )
    changes: list[AttributeChange] = strawberry.field(
        resolver=_changes, description="Each attribute whose value changed, with both values."
    )
    source_ids: list[SourceKey] = strawberry.field(
        resolver=_source_ids,
        permission_classes=[IsIntegrator],
        description=(
            "The golden record's source records: their ids in every system (in the "
            "subscribed `systems` only, when given). Crosswalk data: integrator role."
        ),
    )
    removed_source_ids: list[SourceKey] = strawberry.field(
        resolver=_removed_source_ids,
        permission_classes=[IsIntegrator],
        description=(
            "Source records that left the golden record in this change (moved to the "
            "survivor of a merge, split out, deleted). Crosswalk data: integrator role."
        ),
    )
    actor: str | None = strawberry.field(
        description="Who made the change (a token name, a load, a steward)."
    )
    correlation_id: str | None = strawberry.field(
        description="The ingest's correlation id, if it had one."
    )
    created_at: datetime

    @classmethod
    def of(cls, change: stream.Change, systems: frozenset[str] | None) -> ChangeEvent:
        """The event as served to a reader of ``systems`` only (None: of every system)."""
        payload = change.payload
        merged_into = payload.get("mergedInto")
        return cls(
            change=change,
            systems=systems,
            position=Position(change.seq),
            cursor=change_cursor(change.seq),
            schema_version=int(payload.get("schemaVersion", 0)),
            kind=ChangeKind(change.kind),
            entity_type=change.entity_type,
            golden_id=strawberry.ID(change.golden_id),
            version=change.version,
            record_status=GoldenStatus(payload.get("status", "active")),
            merged_into=strawberry.ID(merged_into) if merged_into else None,
            merged_from=[strawberry.ID(i) for i in payload.get("mergedFrom", ())],
            actor=change.actor,
            correlation_id=change.correlation_id,
            created_at=change.created_at,
        )


@strawberry.type(description="The newest position of the change stream and the oldest kept.")
class ChangeHead:
    position: Position = strawberry.field(
        description=(
            "The newest event's position. Every event up to it is committed: a snapshot "
            "read after reading it reflects them all, so a consumer reads the head, then "
            "its snapshot, then follows the stream after the head (applying events by "
            "golden id and version, as some may already be in the snapshot)."
        )
    )
    cursor: str = strawberry.field(description="The head as a cursor, to pass as `after`.")
    pruned_through: Position = strawberry.field(
        description="Events up to here were pruned: a cursor below it is CURSOR_EXPIRED."
    )


def _head(position: int, pruned: int) -> ChangeHead:
    return ChangeHead(
        position=Position(position), cursor=change_cursor(position), pruned_through=Position(pruned)
    )


@strawberry.type(description="A page of the change stream in sequence order.")
class ChangeConnection(Connection[ChangeEvent]):
    head: ChangeHead = strawberry.field(description="The stream's head when the page was read.")


@strawberry.type(description="A named consumer's acknowledged position.")
class ChangeConsumer:
    name: str
    owner: str | None = strawberry.field(description="The token name that registered it.")
    position: Position = strawberry.field(description="The last position it acknowledged.")
    cursor: str = strawberry.field(description="Its position as a cursor.")
    lag: Position = strawberry.field(description="Events' positions between it and the head.")
    acknowledged_at: datetime | None
    updated_at: datetime


def _consumer(found: stream.Consumer, head: int) -> ChangeConsumer:
    return ChangeConsumer(
        name=found.name,
        owner=found.owner,
        position=Position(found.position),
        cursor=change_cursor(found.position),
        lag=Position(max(0, head - found.position)),
        acknowledged_at=found.acknowledged_at,
        updated_at=found.updated_at,
    )


@strawberry.type
class RegisterConsumerSuccess:
    consumer: ChangeConsumer
    is_new: bool = strawberry.field(description="False: it was registered before, by you.")


@strawberry.type
class AcknowledgeChangesSuccess:
    consumer: ChangeConsumer


RegisterConsumerResult = Annotated[
    RegisterConsumerSuccess | InvalidInputError | ForbiddenError,
    strawberry.union("RegisterConsumerResult"),
]
AcknowledgeChangesResult = Annotated[
    AcknowledgeChangesSuccess | InvalidInputError | NotFoundError | ForbiddenError,
    strawberry.union("AcknowledgeChangesResult"),
]


def _user_error(error: MdmError) -> Any:
    """The mutation result of an expected error: not found, forbidden, or invalid input."""
    cls: Any = InvalidInputError
    if isinstance(error, Missing):
        cls = NotFoundError
    elif isinstance(error, Forbidden | ConsumerExistsError):
        cls = ForbiddenError
    return cls(code=error_code(error), message=error.message, field=error.field)


def _principal(info: Info) -> Principal:
    principal: Principal = info.context.require(Role.READER)
    return principal


def _check_systems_allowed(principal: Principal, systems: list[str] | None) -> None:
    if systems is not None and principal.role < Role.INTEGRATOR:
        raise Forbidden(
            "filtering by systems reads crosswalk data: it needs the integrator role; "
            f"token {principal.name!r} has {principal.role.name.lower()}"
        )


def _page_shapes(info: Info) -> dict[str, tuple[str, Shape]] | None:
    """The event lists of the page's selection that can be rendered straight to JSON
    (``Context.rendered``, spliced into the response by ``HubGraphQL.process_result``):
    None when the request cannot take them or the selection is one only execution gives
    exactly."""
    if getattr(info.context, "rendered", None) is None:
        return None
    raw = info._raw_info  # the validated nodes, fragments and coerced variables
    return (
        page_shapes(
            raw.field_nodes, raw.fragments, raw.variable_values, sees_ids=sees_source_ids(info)
        )
        or None
    )


def _render(
    info: Info,
    shapes: dict[str, tuple[str, Shape]],
    found: list[stream.Change],
    where: stream.ChangeFilter,
    lists: dict[str, Any] | None = None,
) -> None:
    """The page's event lists into ``Context.rendered``: ``lists`` if rendered ahead."""
    rendered: dict[tuple[str, str], Any] = info.context.rendered
    sees_ids = sees_source_ids(info)
    root = str(info.path.key)
    for key, (kind, shape) in shapes.items():
        rendered[root, key] = (
            lists[key] if lists is not None
            else page_fragment(kind, shape, found, sees_ids, where.systems)
        )  # fmt: skip


def _render_ahead(
    shapes: dict[str, tuple[str, Shape]],
    sees_ids: bool,
    systems: frozenset[str] | None,
    changes: list[stream.Change],
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """A page of these events rendered ahead, with what it was rendered for (a page
    read ahead may be taken by another poller, who selects or sees otherwise)."""
    lists = {
        key: page_fragment(kind, shape, changes, sees_ids, systems)
        for key, (kind, shape) in shapes.items()
    }
    return (shapes, sees_ids, systems), lists


@strawberry.type
class ChangeQuery:
    @strawberry.field(
        permission_classes=[IsReader],
        description=(
            "Change events after `after` (default: the oldest kept) in sequence order, for "
            "systems that poll; with the head. `systems` (integrator role): only events "
            "touching a record of these systems, with those systems' ids. An empty page "
            "still moves `pageInfo.endCursor` past the events the filters left out."
        ),
    )
    def changes(
        self,
        info: Info,
        after: str | None = None,
        first: int = 100,
        entity_types: list[str] | None = None,
        systems: list[str] | None = None,
    ) -> ChangeConnection:
        hub: Hub = info.context.hub
        check_first(first, hub.settings.max_page_size)
        _check_systems_allowed(_principal(info), systems)
        position = cursor_position(after) if after is not None else None
        shapes = _page_shapes(info)
        members = None if shapes is None else payload_members(s for _, s in shapes.values())
        ahead: stream.ReadAhead | None = getattr(info.context, "read_ahead", None)

        def read(session: stream.Reads) -> tuple[Any, ...]:
            where = stream.change_filter(session, hub.specs, entity_types, systems)
            newest, pruned = stream.head_and_pruned(session)
            scanned = stream.check_after(
                session, pruned if position is None else position, bounds=(newest, pruned)
            )
            found: list[stream.Change] = []
            is_caught_up = False
            # Reads of at most what is still wanted, so nothing read is left over; a
            # filter that lets little through ends the page early (endCursor moves on).
            made: Any = None  # the page rendered ahead, when it is one batch read ahead
            for reads in range(PAGE_READS):
                wanted = first - len(found)
                taken = None if ahead is None else ahead.take(scanned, wanted, where, members)
                if taken is None:
                    batch = stream.read_changes(session, scanned, wanted, where, members=members)
                else:
                    batch = taken.batch
                    made = taken.made if reads == 0 else None
                found += batch.changes
                scanned, is_caught_up = batch.scanned_to, batch.is_caught_up
                if is_caught_up or len(found) >= first:
                    break
                made = None  # more than one batch: rendered below
            if is_caught_up:  # what was committed while it read is a next page
                newest = stream.head(session)
            return where, newest, pruned, scanned, found, is_caught_up, made

        # Each statement stands alone (a page is read in one), on this thread's kept
        # connection: a poll costs no pool checkout and no transaction.
        where, newest, pruned, scanned, found, is_caught_up, made = hub.database.read(read)
        sees_ids = sees_source_ids(info)
        if ahead is not None and not is_caught_up:  # the poller's next pages, read meanwhile
            prepare = None
            if shapes is not None:  # and rendered: the poller waits for neither
                prepare = partial(_render_ahead, shapes, sees_ids, where.systems)
            ahead.start(scanned, first, where, members, prepare)
        if shapes is not None:
            # Rendered ahead for this selection, role and filter (another poller's may differ).
            same = made is not None and made[0] == (shapes, sees_ids, where.systems)
            _render(info, shapes, found, where, made[1] if same else None)
        edges = [] if shapes is not None else [
            Edge(cursor=change_cursor(c.seq), node=ChangeEvent.of(c, where.systems)) for c in found
        ]  # fmt: skip
        return ChangeConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=not is_caught_up or scanned < newest,
                end_cursor=change_cursor(scanned),
            ),
            head=_head(max(newest, scanned), pruned),
        )

    @strawberry.field(
        permission_classes=[IsReader],
        description=(
            "The change stream's head. Read it before a snapshot (the golden-record "
            "pages), then follow `changes`/`goldenRecordChanges` after its cursor."
        ),
    )
    def change_head(self, info: Info) -> ChangeHead:
        with info.context.hub.database.read_session() as session:
            return _head(stream.head(session), stream.pruned_through(session))

    @strawberry.field(
        permission_classes=[IsReader],
        description="Your named consumers (an admin: all), with position and lag.",
    )
    def change_consumers(self, info: Info) -> list[ChangeConsumer]:
        with info.context.hub.database.read_session() as session:
            newest = stream.head(session)
            return [_consumer(c, newest) for c in stream.list_consumers(session, _principal(info))]


@strawberry.type
class ChangeMutation:
    @strawberry.mutation(
        permission_classes=[IsReader],
        description=(
            "Register a named consumer, owned by your token, at `after` (default: the head). "
            "Registering your own again changes nothing."
        ),
    )
    def register_consumer(
        self, info: Info, name: str, after: str | None = None
    ) -> RegisterConsumerResult:
        try:
            position = cursor_position(after) if after is not None else None
            with info.context.hub.database.session() as session:
                found, is_new = stream.register_consumer(
                    session, name, _principal(info), position=position
                )
                newest = stream.head(session)
        except MdmError as error:
            return _user_error(error)  # type: ignore[no-any-return]
        return RegisterConsumerSuccess(consumer=_consumer(found, newest), is_new=is_new)

    @strawberry.mutation(
        permission_classes=[IsReader],
        description=(
            "Store that a consumer has finished with every event up to `position` (never "
            "moves back). Another token's consumer needs the admin role."
        ),
    )
    def acknowledge_changes(
        self, info: Info, consumer: str, position: Position
    ) -> AcknowledgeChangesResult:
        try:
            with info.context.hub.database.session() as session:
                found = stream.acknowledge(session, consumer, int(position), _principal(info))
                newest = stream.head(session)
        except MdmError as error:
            return _user_error(error)  # type: ignore[no-any-return]
        return AcknowledgeChangesSuccess(consumer=_consumer(found, newest))


def _start(
    hub: Hub,
    principal: Principal,
    entity_types: list[str] | None,
    systems: list[str] | None,
    after: str | None,
    consumer: str | None,
) -> tuple[int, stream.ChangeFilter]:
    """Where a subscription starts, and its filter: ``after``, else the consumer's
    position (registering it at the head on first use), else the head."""
    _check_systems_allowed(principal, systems)
    position = cursor_position(after) if after is not None else None
    with hub.database.read_session() as session:
        where = stream.change_filter(session, hub.specs, entity_types, systems)
        known = stream.find_consumer(session, consumer, principal) if consumer else None
        if consumer is None and position is None:
            position = stream.head(session)
    if consumer is not None and known is None:  # first use registers it
        with hub.database.session() as session:
            known, _ = stream.register_consumer(session, consumer, principal, position=position)
    if position is None:
        assert known is not None
        position = known.position
    with hub.database.read_session() as session:
        stream.check_after(session, position)
    return position, where


def live_feed(info: Info) -> ChangeFeed:
    feed: ChangeFeed | None = getattr(info.context, "feed", None)
    if feed is None:
        raise UnavailableError("subscriptions are served over a websocket (graphql-transport-ws)")
    return feed


class _Recheck:
    """Before each batch of events: the socket's token verified again once
    ``MDM_TOKEN_CACHE_SECONDS`` have passed since the last check, so a revoked token's
    subscription ends with UNAUTHENTICATED before its next event."""

    def __init__(self, context: Any) -> None:
        self._check = getattr(context, "still_authorized", None)
        self._interval = context.hub.settings.token_cache_seconds
        self._due = time.monotonic() + self._interval

    def is_due(self) -> bool:
        return self._check is not None and time.monotonic() >= self._due

    async def __call__(self) -> None:
        """Raises:
        UnauthenticatedError: the token was revoked."""
        check = self._check
        if check is not None and time.monotonic() >= self._due:
            await asyncio.to_thread(check)
            self._due = time.monotonic() + self._interval


@strawberry.type
class ChangeSubscription:
    @strawberry.subscription(
        permission_classes=[IsReader],
        description=(
            "Golden-record changes after `after`, or after the named `consumer`'s "
            "acknowledged position (registered at the head on first use), else from now: "
            "replayed, then live, each once and in order. `systems` (integrator role): "
            "only changes touching a record of these systems (merged-away ones included), "
            "with those systems' ids. Ends with CONSUMER_TOO_SLOW when the subscriber "
            "falls MDM_SUBSCRIPTION_BUFFER events behind, CURSOR_EXPIRED when its events "
            "were pruned: subscribe again after the last event received (or resync)."
        ),
    )
    async def golden_record_changes(
        self,
        info: Info,
        entity_types: list[str] | None = None,
        systems: list[str] | None = None,
        after: str | None = None,
        consumer: str | None = None,
    ) -> AsyncGenerator[ChangeEvent, None]:
        feed = live_feed(info)
        principal = _principal(info)
        position, where = await asyncio.to_thread(
            _start, info.context.hub, principal, entity_types, systems, after, consumer
        )
        sender = SENDER.get()
        sees_ids = sees_source_ids(info)
        shape = None
        if sender is not None:  # over a websocket: rendered once, shared (see websocket)
            raw = info._raw_info  # the validated nodes, fragments and coerced variables
            shape = selection_shape(
                raw.field_nodes, raw.fragments, raw.variable_values, sees_ids=sees_ids
            )
        members = None if shape is None else payload_members([shape])
        recheck = _Recheck(info.context)
        if sender is not None and shape is not None:
            renderer = renderer_for(shape, sees_ids, where.systems)
            key = str(info.path.key)
            sink = sender.sink(renderer, key, recheck.is_due)
            batches = feed.follow_batches(position, where, members, sink)
            await sender.stream(batches, renderer, key, recheck)
            return
        batches = feed.follow_batches(position, where, members)
        async for batch in batches:
            await recheck()
            for change in batch:
                yield ChangeEvent.of(change, where.systems)
