"""GraphQL for golden records: ``node``, ``goldenRecord`` and, per entity spec, one record
by id (``vendor``) and a filtered page of them (``vendors``).

``RecordQuery`` is meant as a base class of the schema's ``Query`` type; ``entity_fields``
gives the per-spec fields to add to it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

import strawberry
from strawberry.types import Info

from mdm import crosswalk, records
from mdm.api.pagination import (
    GOLDEN_CURSOR,
    Connection,
    Edge,
    check_first,
    decode_cursor,
    encode_cursor,
    page_info,
)
from mdm.api.permissions import IsReader
from mdm.api.types import ENTITY_TYPES, GoldenRecord, GoldenStatus, Node, camel, to_graphql
from mdm.errors import InvalidInputError
from mdm.specs import EntitySpec, SpecRegistry


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


def golden_by_public_id(info: Info, public_id: str, spec: EntitySpec | None = None) -> Any:
    """The golden record with this public id (following merges), of ``spec``'s type if
    given, as its GraphQL type; None if there is none."""
    with info.context.hub.database.read_session() as session:
        row = crosswalk.follow_merges(session, public_id)
    if row is None or (spec is not None and row.entity_type != spec.name):
        return None
    return to_graphql(info.context.hub.specs, row)


def _filter(spec: EntitySpec, flt: GoldenRecordFilter | None) -> records.GoldenFilter:
    flt = flt or GoldenRecordFilter()
    names = {camel(a.name): a.name for a in spec.attributes}
    equal = []
    for condition in flt.attributes or []:
        name = names.get(condition.name, condition.name)
        if spec.attribute(name) is None:
            raise InvalidInputError(
                f"{spec.name} has no attribute {condition.name!r}", field="filter.attributes"
            )
        equal.append((name, condition.value))
    return records.GoldenFilter(
        status=flt.record_status.value if flt.record_status is not None else None,
        updated_after=flt.updated_after,
        attributes=equal,
    )


def _page(
    info: Info, spec: EntitySpec, first: int, after: str | None, filter: GoldenRecordFilter | None
) -> Any:
    hub = info.context.hub
    check_first(first, hub.settings.max_page_size)
    where = _filter(spec, filter)
    after_id = decode_cursor(after, GOLDEN_CURSOR) if after else None
    with hub.database.read_session() as session:
        page = records.golden_page(session, spec.name, first=first, after=after_id, where=where)
    edges = [
        Edge(cursor=encode_cursor(r.id, GOLDEN_CURSOR), node=to_graphql(hub.specs, r))
        for r in page.rows
    ]
    return Connection(edges=edges, page_info=page_info(edges, page.has_next))


def _entity_resolvers(spec: EntitySpec, cls: type) -> tuple[Any, Any]:
    def one(info: Info, id: strawberry.ID) -> Any:
        return golden_by_public_id(info, str(id), spec)

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


def entity_fields(specs: SpecRegistry) -> dict[str, Any]:
    """Per entity spec, a golden record by id and a page of them (``build_entity_types``
    must have run)."""
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
class RecordQuery:
    @strawberry.field(permission_classes=[IsReader], description="Any golden record by id.")
    def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return golden_by_public_id(info, str(id))  # type: ignore[no-any-return]

    @strawberry.field(
        permission_classes=[IsReader],
        description="A golden record of any type by id; a merged id redirects to its survivor.",
    )
    def golden_record(self, info: Info, id: strawberry.ID) -> GoldenRecord | None:
        return golden_by_public_id(info, str(id))  # type: ignore[no-any-return]
