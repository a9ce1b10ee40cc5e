"""Crosswalk: (entity type, system, source id) -> golden record, and back out to other systems.

These are the integration hot paths: each answers with one indexed query, in Core SQL
(no ORM identity map), and batches use one ``IN`` list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ARRAY, String, any_, bindparam, select
from sqlalchemy.orm import Session, aliased

from mdm.errors import BatchTooLargeError, NotFoundError
from mdm.golden import live_golden
from mdm.store import GoldenRecord, SourceRecord

_sr = SourceRecord.__table__
_gr = GoldenRecord.__table__


@dataclass(frozen=True)
class CrosswalkEntry:
    """One source record and the golden record it belongs to."""

    entity_type: str
    system: str
    source_id: str
    golden_id: str | None  # public id; None when the record is deleted or unplaced
    is_deleted: bool


_RESOLVE = select(_sr.c.source_id, _sr.c.is_deleted, _gr.c.public_id).select_from(
    _sr.outerjoin(_gr, _gr.c.id == _sr.c.golden_id)
)


_RESOLVE_IN = _RESOLVE.where(
    _sr.c.entity_type == bindparam("entity_type"),
    _sr.c.system == bindparam("system"),
    _sr.c.source_id.in_(bindparam("ids", expanding=True)),
)
_RESOLVE_ANY = _RESOLVE.where(
    _sr.c.entity_type == bindparam("entity_type"),
    _sr.c.system == bindparam("system"),
    _sr.c.source_id == any_(bindparam("ids", type_=ARRAY(String))),
)


def resolve_many(
    session: Session,
    entity_type: str,
    system: str,
    source_ids: Sequence[str],
    *,
    limit: int = 1000,
) -> dict[str, CrosswalkEntry]:
    """Resolve many source ids of one system in one query; unknown ids are absent.

    Raises:
        BatchTooLargeError: more than ``limit`` ids.
    """
    if len(source_ids) > limit:
        raise BatchTooLargeError(
            f"{len(source_ids)} source ids exceed the batch limit of {limit}", field="sourceIds"
        )
    if not source_ids:
        return {}
    ids = list(dict.fromkeys(source_ids))
    if session.get_bind().dialect.name == "postgresql":
        # One array parameter instead of 1,000 bound values: one cached plan for any size.
        statement = _RESOLVE_ANY
    else:
        statement = _RESOLVE_IN
    rows = (
        session.connection()
        .execute(statement, {"entity_type": entity_type, "system": system, "ids": ids})
        .all()
    )
    return {
        sid: CrosswalkEntry(entity_type, system, sid, None if deleted else public_id, deleted)
        for sid, deleted, public_id in rows
    }


_RESOLVE_ONE = _RESOLVE.where(
    _sr.c.entity_type == bindparam("entity_type"),
    _sr.c.system == bindparam("system"),
    _sr.c.source_id == bindparam("source_id"),
)


def resolve(
    session: Session, entity_type: str, system: str, source_id: str
) -> CrosswalkEntry | None:
    """The golden record of one source record, or ``None`` if the hub has never seen it."""
    # The hottest path of all: one prebuilt statement, so only its parameters change.
    row = (
        session.connection()
        .execute(
            _RESOLVE_ONE, {"entity_type": entity_type, "system": system, "source_id": source_id}
        )
        .first()
    )
    if row is None:
        return None
    _, deleted, public_id = row
    return CrosswalkEntry(entity_type, system, source_id, None if deleted else public_id, deleted)


def translate(
    session: Session, entity_type: str, system: str, source_id: str, to_system: str | None = None
) -> list[CrosswalkEntry]:
    """The ids the same real-world entity has in other systems (or in ``to_system``).

    Raises:
        NotFoundError: the source record is unknown.
    """
    here = aliased(SourceRecord)
    there = aliased(SourceRecord)
    query = (
        select(there.system, there.source_id, GoldenRecord.public_id)
        .select_from(here)
        .join(there, there.golden_id == here.golden_id)
        .join(GoldenRecord, GoldenRecord.id == here.golden_id)
        .where(
            here.entity_type == entity_type,
            here.system == system,
            here.source_id == source_id,
            there.is_deleted.is_(False),
            there.id != here.id,
        )
        .order_by(there.system, there.source_id)
    )
    if to_system is not None:
        query = query.where(there.system == to_system)
    rows = session.execute(query).all()
    if not rows and resolve(session, entity_type, system, source_id) is None:
        raise NotFoundError(
            f"no {entity_type} record {source_id!r} from system {system}", field="sourceId"
        )
    return [CrosswalkEntry(entity_type, s, sid, gid, False) for s, sid, gid in rows]


def follow_merges(session: Session, public_id: str) -> GoldenRecord | None:
    """The golden record with ``public_id``, following merges to the surviving record
    (``mdm.golden.live_golden``)."""
    golden = session.scalar(select(GoldenRecord).where(GoldenRecord.public_id == public_id))
    if golden is None or golden.merged_into_id is None:
        return golden
    return live_golden(session, golden.id)


def source_records_of(session: Session, golden_ids: Sequence[int]) -> dict[int, list[SourceRecord]]:
    """The source records of several golden records, in one query."""
    rows = session.scalars(
        select(SourceRecord)
        .where(SourceRecord.golden_id.in_(list(golden_ids)))
        .order_by(SourceRecord.system, SourceRecord.source_id)
    ).all()
    result: dict[int, list[SourceRecord]] = {gid: [] for gid in golden_ids}
    for row in rows:
        assert row.golden_id is not None
        result[row.golden_id].append(row)
    return result
