"""Reading golden and source records: pages with filters and keyset cursors, look-ups by key.

The read side of ``golden_record`` and ``source_record`` that the API serves: a page of one
entity type's golden records, the golden records behind a batch of keys or source
references (what a request's DataLoaders ask for), and one source record as stored.
Following merges from a public id is ``crosswalk.follow_merges``; the source records of
golden records are ``crosswalk.source_records_of``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from mdm.store import GoldenRecord, SourceRecord

T = TypeVar("T")
SourceRef = tuple[str, str, str]  # (entity type, system, source id)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of rows in key order, and whether more follow."""

    rows: list[T]
    has_next: bool


@dataclass(frozen=True)
class GoldenFilter:
    """Which golden records of an entity type a page holds.

    Attributes:
        status: the life-cycle status (None: any).
        updated_after: only records changed after this time.
        attributes: (attribute, value) pairs a record's golden attributes must all equal.
    """

    status: str | None = "active"
    updated_after: datetime | None = None
    attributes: Sequence[tuple[str, str]] = field(default_factory=tuple)


def golden_page(
    session: Session,
    entity_type: str,
    *,
    first: int,
    after: int | None = None,
    where: GoldenFilter | None = None,
) -> Page[GoldenRecord]:
    """Up to ``first`` golden records of ``entity_type``, oldest first.

    Args:
        after: the key of the last record of the previous page (a keyset cursor).
        where: the filter (default: active records).

    Example:
        >>> page = golden_page(session, "vendor", first=50)
        >>> nxt = golden_page(session, "vendor", first=50, after=page.rows[-1].id)
    """
    flt = where or GoldenFilter()
    query = select(GoldenRecord).where(GoldenRecord.entity_type == entity_type)
    if flt.status is not None:
        query = query.where(GoldenRecord.status == flt.status)
    if flt.updated_after is not None:
        query = query.where(GoldenRecord.updated_at > flt.updated_after)
    for name, value in flt.attributes:
        query = query.where(GoldenRecord.attributes[name].as_string() == value)
    if after is not None:
        query = query.where(GoldenRecord.id > after)
    rows = list(session.scalars(query.order_by(GoldenRecord.id).limit(first + 1)))
    return Page(rows=rows[:first], has_next=len(rows) > first)


def golden_by_ids(session: Session, ids: Collection[int]) -> dict[int, GoldenRecord]:
    """The golden records with these keys (merged ones as they are), in one query."""
    rows = session.scalars(select(GoldenRecord).where(GoldenRecord.id.in_(list(ids))))
    return {r.id: r for r in rows}


def golden_by_source_refs(
    session: Session, refs: Collection[SourceRef]
) -> dict[SourceRef, GoldenRecord]:
    """The golden record each (entity type, system, source id) belongs to, in one query.

    A reference to a record the store does not hold, or that belongs to no golden record,
    is left out.
    """
    rows = session.execute(
        select(
            SourceRecord.entity_type,
            SourceRecord.system,
            SourceRecord.source_id,
            GoldenRecord,
        )
        .join(GoldenRecord, GoldenRecord.id == SourceRecord.golden_id)
        .where(
            tuple_(SourceRecord.entity_type, SourceRecord.system, SourceRecord.source_id).in_(
                list(refs)
            )
        )
    ).all()
    return {(t, s, i): g for t, s, i, g in rows}


def source_record(
    session: Session, entity_type: str, system: str, source_id: str
) -> SourceRecord | None:
    """One source record as stored (deleted ones too), or None if never received."""
    return session.scalar(
        select(SourceRecord).where(
            SourceRecord.entity_type == entity_type,
            SourceRecord.system == system,
            SourceRecord.source_id == source_id,
        )
    )
