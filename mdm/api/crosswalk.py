"""GraphQL for the crosswalk: where a system's record lives (``crosswalk``, ``crosswalkBatch``),
its ids in other systems (``translate``), and the record as stored (``sourceRecord``).

All of it is crosswalk data: integrator role. ``CrosswalkQuery`` is meant as a base class
of the schema's ``Query`` type.
"""

from __future__ import annotations

from typing import Optional

import strawberry
from strawberry.types import Info

from mdm import crosswalk, records
from mdm.api.inputs import entity_spec
from mdm.api.permissions import IsIntegrator
from mdm.api.records import golden_by_public_id
from mdm.api.types import GoldenRecord, SourceRecord


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
        return golden_by_public_id(info, str(self.golden_id))  # type: ignore[no-any-return]


@strawberry.type
class CrosswalkQuery:
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
            row = records.source_record(session, spec.name, system, source_id)
        return SourceRecord(row=row) if row is not None else None


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
