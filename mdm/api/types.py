"""GraphQL types. Entity types (``Item``, ``Vendor``…) are built from the entity specs."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, Optional

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from mdm.api.permissions import IsIntegrator, is_reference_value, sees_source_ids
from mdm.specs import AttributeKind, EntitySpec, SpecRegistry
from mdm.standardize import public_values
from mdm.store import GoldenRecord as GoldenRow
from mdm.store import SourceRecord as SourceRow


@strawberry.enum(description="Life-cycle status of a golden record.")
class GoldenStatus(enum.Enum):
    ACTIVE = "active"
    MERGED = "merged"
    RETIRED = "retired"


@strawberry.type(description="A data-quality finding on a source record (kept, never fixed).")
class Finding:
    attribute: str | None = strawberry.field(description="None: about the record as a whole.")
    code: str
    message: str
    value: JSON | None


@strawberry.type(description="Which source record and rule gave a golden attribute its value.")
class LineageEntry:
    attribute: str
    rule: str
    system: str | None
    source_id: str | None = strawberry.field(
        permission_classes=[IsIntegrator],
        description="The source record's id in `system` (crosswalk data: integrator role).",
    )
    actor: str | None
    reason: str | None


@strawberry.type(description="One system's record of an entity, as delivered and as standardized.")
class SourceRecord:
    row: strawberry.Private[SourceRow]

    @strawberry.field
    def entity_type(self) -> str:
        return self.row.entity_type

    @strawberry.field
    def system(self) -> str:
        return self.row.system

    @strawberry.field
    def source_id(self) -> str:
        return self.row.source_id

    @strawberry.field
    def version(self) -> int:
        return self.row.version

    @strawberry.field
    def is_deleted(self) -> bool:
        return self.row.is_deleted

    @strawberry.field(description="Attributes as delivered (canonical names).")
    def raw(self) -> JSON:
        return self.row.raw  # type: ignore[return-value]

    @strawberry.field(description="Attributes after standardization; invalid identifiers left out.")
    def standardized(self) -> JSON:
        values = self.row.standardized
        # A flagged identifier kept for matching is not an attribute's value.
        return public_values(values) if values else values  # type: ignore[return-value]

    @strawberry.field
    def findings(self) -> list[Finding]:
        return [
            Finding(
                attribute=f["attribute"], code=f["code"], message=f["message"], value=f["value"]
            )
            for f in self.row.findings or []
        ]

    @strawberry.field
    def received_at(self) -> datetime:
        return self.row.received_at

    @strawberry.field
    def updated_at(self) -> datetime:
        return self.row.updated_at

    @strawberry.field(description="The golden record this source record belongs to.")
    async def golden(self, info: Info) -> Optional[GoldenRecord]:  # noqa: UP045
        if self.row.golden_id is None:
            return None
        row = await info.context.golden_by_pk.load(self.row.golden_id)
        return to_graphql(info.context.hub.specs, row) if row is not None else None


@strawberry.interface(description="Relay node: anything with a global id.")
class Node:
    @strawberry.field(description="Global id.")
    def id(self) -> strawberry.ID:
        raise NotImplementedError


@strawberry.interface(description="What every golden record has, whatever its entity type.")
class GoldenRecord(Node):
    row: strawberry.Private[GoldenRow]

    @strawberry.field(description="Stable opaque public id; never reused.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.row.public_id)

    @strawberry.field
    def entity_type(self) -> str:
        return self.row.entity_type

    @strawberry.field(
        description=(
            "Life cycle of the golden record (the entity's own `status`, where it has "
            "one, is an attribute)."
        )
    )
    def record_status(self) -> GoldenStatus:
        return GoldenStatus(self.row.status)

    @strawberry.field
    def version(self) -> int:
        return self.row.version

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at

    @strawberry.field
    def updated_at(self) -> datetime:
        return self.row.updated_at

    @strawberry.field(
        description=(
            "All golden attributes as one JSON object. A reference attribute holds the "
            "referenced record's source id, which is crosswalk data: it is left out below "
            "the integrator role (follow the typed reference field instead)."
        )
    )
    def attributes(self, info: Info) -> JSON:
        if sees_source_ids(info):
            return self.row.attributes  # type: ignore[return-value]
        return {  # type: ignore[return-value]
            name: value
            for name, value in self.row.attributes.items()
            if not is_reference_value(value)
        }

    @strawberry.field(description="Per attribute: the source record and rule that gave the value.")
    def lineage(self) -> list[LineageEntry]:
        return [
            LineageEntry(
                attribute=name,
                rule=entry.get("rule", ""),
                system=entry.get("system"),
                source_id=entry.get("source_id"),
                actor=entry.get("actor"),
                reason=entry.get("reason"),
            )
            for name, entry in self.row.lineage.items()
        ]

    @strawberry.field(
        permission_classes=[IsIntegrator],
        description="The source records of this golden record (deleted ones too); crosswalk "
        "data: integrator role.",
    )
    async def source_records(self, info: Info) -> list[SourceRecord]:
        rows = await info.context.sources_by_golden.load(self.row.id)
        return [SourceRecord(row=r) for r in rows]


_SCALARS: dict[AttributeKind, Any] = {
    AttributeKind.STRING: str,
    AttributeKind.CODE: str,
    AttributeKind.IDENTIFIER: str,
    AttributeKind.DATE: str,
    AttributeKind.INTEGER: int,
    AttributeKind.NUMBER: float,
    AttributeKind.BOOLEAN: bool,
}

ENTITY_TYPES: dict[str, type] = {}  # spec name -> GraphQL class, filled by build_entity_types


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def _value_field(spec: EntitySpec, name: str, kind: AttributeKind, description: str) -> Any:
    def resolve(self: Any) -> Any:
        return self.row.attributes.get(name)

    resolve.__annotations__ = {"return": Optional[_SCALARS[kind]]}  # noqa: UP045
    return strawberry.field(resolver=resolve, name=camel(name), description=description or None)


def _reference_field(name: str, target: EntitySpec, description: str) -> Any:
    async def resolve(self: Any, info: Info) -> Any:
        ref = self.row.attributes.get(name)
        if not isinstance(ref, dict) or "source_id" not in ref:
            return None  # a parent given by code or name that no record answers (yet)
        row = await info.context.golden_by_ref.load((target.name, ref["system"], ref["source_id"]))
        return to_graphql(info.context.hub.specs, row) if row is not None else None

    resolve.__annotations__ = {"info": Info, "return": f"Optional[{target.graphql_name}]"}
    text = description or f"The golden {target.name} this refers to (follows merges)."
    return strawberry.field(resolver=resolve, name=camel(name), description=text)


def _reference_source_field(name: str) -> Any:
    def resolve(self: Any) -> Any:
        return self.row.attributes.get(name)

    resolve.__annotations__ = {"return": Optional[JSON]}  # noqa: UP045
    return strawberry.field(
        resolver=resolve,
        name=camel(name) + "Ref",
        permission_classes=[IsIntegrator],
        description=f"The {name} reference as the source gave it: {{system, source_id}}, "
        "or {system, code} / {system, name} while no record answers it (crosswalk data: "
        "integrator role).",
    )


def build_entity_types(specs: SpecRegistry) -> list[type]:
    """One GraphQL object type per entity spec, implementing ``GoldenRecord`` and ``Node``."""
    built = []
    reserved = {
        "id",
        "entity_type",
        "record_status",
        "version",
        "created_at",
        "updated_at",
        "attributes",
        "lineage",
        "source_records",
        "row",
    }
    for spec in specs.values():
        clash = reserved & {a.name for a in spec.attributes}
        if clash:
            raise ValueError(f"spec {spec.name}: attribute names {sorted(clash)} are reserved")
        namespace: dict[str, Any] = {"__module__": __name__, "__annotations__": {}}
        for attribute in spec.attributes:
            if attribute.kind is AttributeKind.REFERENCE:
                assert attribute.reference is not None
                target = specs[attribute.reference]
                namespace[attribute.name] = _reference_field(
                    attribute.name, target, attribute.description
                )
                namespace[attribute.name + "_ref"] = _reference_source_field(attribute.name)
            else:
                namespace[attribute.name] = _value_field(
                    spec, attribute.name, attribute.kind, attribute.description
                )
        cls = type(spec.graphql_name, (GoldenRecord,), namespace)
        cls = strawberry.type(cls, description=spec.description or None)
        globals()[spec.graphql_name] = cls
        ENTITY_TYPES[spec.name] = cls
        built.append(cls)
    return built


def to_graphql(specs: SpecRegistry, row: GoldenRow) -> Any:
    """Wrap a golden row in its entity's GraphQL type."""
    return ENTITY_TYPES[row.entity_type](row=row)
