"""Per-request context: the hub, the caller, and the request's DataLoaders."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from strawberry.dataloader import DataLoader

from mdm import crosswalk, records
from mdm.auth import Principal, Role
from mdm.changes import ReadAhead
from mdm.hub import Hub
from mdm.records import SourceRef
from mdm.store import GoldenRecord, SourceRecord


@dataclass
class Context:
    hub: Hub
    principal: Principal | None
    request_id: str
    # Over HTTP: lists of change events rendered to JSON by their resolver, by (root
    # field's response key, list's response key); see mdm.api.changes._rendered.
    rendered: dict[tuple[str, str], Any] | None = None
    # Over HTTP: the process's pages read ahead for pollers (mdm.changes.ReadAhead).
    read_ahead: ReadAhead | None = None
    golden_by_pk: DataLoader[int, GoldenRecord | None] = field(init=False)
    golden_by_ref: DataLoader[SourceRef, GoldenRecord | None] = field(init=False)
    sources_by_golden: DataLoader[int, list[SourceRecord]] = field(init=False)

    def __post_init__(self) -> None:
        self.golden_by_pk = DataLoader(self._load_golden_by_pk)
        self.golden_by_ref = DataLoader(self._load_golden_by_ref)
        self.sources_by_golden = DataLoader(self._load_sources)

    @property
    def actor(self) -> str | None:
        return self.principal.name if self.principal else None

    def require(self, role: Role) -> Principal:
        from mdm.errors import UnauthenticatedError

        if self.principal is None:
            raise UnauthenticatedError("missing Authorization: Bearer <token> header")
        self.principal.require(role)
        return self.principal

    async def _load_golden_by_pk(self, keys: Sequence[int]) -> list[GoldenRecord | None]:
        with self.hub.database.read_session() as session:
            by_pk = records.golden_by_ids(session, keys)
        return [by_pk.get(k) for k in keys]

    async def _load_golden_by_ref(self, keys: Sequence[SourceRef]) -> list[GoldenRecord | None]:
        with self.hub.database.read_session() as session:
            found = records.golden_by_source_refs(session, keys)
        return [found.get(k) for k in keys]

    async def _load_sources(self, keys: Sequence[int]) -> list[list[SourceRecord]]:
        with self.hub.database.read_session() as session:
            grouped = crosswalk.source_records_of(session, keys)
        return [grouped.get(k, []) for k in keys]
