"""GraphQL inputs shared by the API modules, and their conversion to service inputs."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from mdm.errors import InvalidAttributeError
from mdm.errors import InvalidInputError as InvalidInput
from mdm.hub import NativeRecord
from mdm.ingest import RecordInput
from mdm.screening import (
    MAX_DEPTH,
    SYSTEM_LENGTH,
    escape_text,
    nesting_depth,
    require_identifier,
)
from mdm.specs import EntitySpec, SpecRegistry


@strawberry.input(
    description=(
        "One source record. Give canonical `attributes`, or the system's own `fields` "
        "(mapped by its registered mapping)."
    )
)
class SourceRecordInput:
    entity_type: str
    system: str
    source_id: str | None = None
    attributes: JSON | None = None
    fields: JSON | None = None
    deleted: bool = False


def entity_spec(specs: SpecRegistry, value: str) -> EntitySpec:
    """Accept ``cost_center``, ``COST_CENTER`` or ``CostCenter``."""
    for spec in specs.values():
        if value in (spec.name, spec.name.upper(), spec.graphql_name):
            return spec
    return specs.get_spec(value)


def to_record_input(info: Info, record: SourceRecordInput) -> RecordInput:
    """The service input of one GraphQL record (its system's fields mapped, if given).

    Raises:
        MdmError: the record is refused before the pipeline sees it (unknown type, a
            system code no system can have, fields that are not an object…).
    """
    hub = info.context.hub
    spec = entity_spec(hub.specs, record.entity_type)
    if record.fields is not None and record.attributes is not None:
        raise InvalidInput("give either attributes or fields, not both", field="fields")
    if record.fields is not None:
        if not isinstance(record.fields, dict):
            raise InvalidInput("fields must be a JSON object", field="fields")
        # The mapping is looked up by system and reads the fields: both screened first
        # (``mdm.screening``), as the pipeline screens attributes.
        require_identifier(record.system, field="system", max_length=SYSTEM_LENGTH)
        for name, value in record.fields.items():
            if nesting_depth(value) > MAX_DEPTH:
                field = f"fields.{escape_text(name[:100])}"
                raise InvalidAttributeError(
                    f"{field} nests deeper than {MAX_DEPTH} levels", field=field
                )
        mapped: RecordInput = hub.map_native(
            NativeRecord(spec.name, record.system, record.fields, record.deleted),
            record.source_id,
        )
        return mapped
    attributes: Any = record.attributes or {}
    if not isinstance(attributes, dict):
        raise InvalidInput("attributes must be a JSON object", field="attributes")
    return RecordInput(
        entity_type=spec.name,
        system=record.system,
        source_id=record.source_id or "",
        attributes=attributes,
        is_deleted=record.deleted,
        origin=f"graphql {info.context.request_id}",
    )


def as_mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {"value": value} if value else {}
