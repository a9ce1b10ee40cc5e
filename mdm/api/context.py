"""Per-request context: the hub, the caller, and the request's DataLoaders."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select, tuple_
from strawberry.dataloader import DataLoader

from mdm.auth import Principal, Role
from mdm.hub import Hub
from mdm.store import GoldenRecord, SourceRecord

RefKey = tuple[str, str, str]  # (entity type, system, source id)


@dataclass
class Context:
    hub: Hub
    principal: Principal | None
    request_id: str
    golden_by_pk: DataLoader[int, GoldenRecord | None] = field(init=False)
    golden_by_ref: DataLoader[RefKey, GoldenRecord | None] = field(init=False)
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
            rows = session.scalars(select(GoldenRecord).where(GoldenRecord.id.in_(keys))).all()
        by_pk = {r.id: r for r in rows}
        return [by_pk.get(k) for k in keys]

    async def _load_golden_by_ref(self, keys: Sequence[RefKey]) -> list[GoldenRecord | None]:
        with self.hub.database.read_session() as session:
            rows = session.execute(
                select(
                    SourceRecord.entity_type,
                    SourceRecord.system,
                    SourceRecord.source_id,
                    GoldenRecord,
                )
                .join(GoldenRecord, GoldenRecord.id == SourceRecord.golden_id)
                .where(
                    tuple_(
                        SourceRecord.entity_type, SourceRecord.system, SourceRecord.source_id
                    ).in_(list(keys))
                )
            ).all()
        found = {(t, s, i): g for t, s, i, g in rows}
        return [found.get(k) for k in keys]

    async def _load_sources(self, keys: Sequence[int]) -> list[list[SourceRecord]]:
        with self.hub.database.read_session() as session:
            rows = session.scalars(
                select(SourceRecord)
                .where(SourceRecord.golden_id.in_(keys))
                .order_by(SourceRecord.system, SourceRecord.source_id)
            ).all()
        grouped: dict[int, list[SourceRecord]] = defaultdict(list)
        for row in rows:
            assert row.golden_id is not None
            grouped[row.golden_id].append(row)
        return [grouped.get(k, []) for k in keys]
