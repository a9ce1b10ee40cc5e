"""Refused records: listed, fixed and sent again, never lost.

A rejection keeps the whole record as it was sent. Once the cause is fixed (the system
registered, the mapping or the value corrected), replaying runs it through the pipeline
again: accepted, the rejection is closed; refused again, it stays open with the new reason.

A record holding what no column can store (a NUL byte, a lone surrogate, a number out of
range, nesting too deep) was kept escaped, and its payload lists the parts so changed under
``altered`` (``Ingestor.reject``). Replaying the escaped text would land a record that was
never sent, so replaying such a rejection is refused (it stays open with its reason): it
can be replayed with corrected attributes when only its attributes were changed; otherwise
the system must send the record again, fixed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from mdm.errors import InvalidInputError, MdmError, NotFoundError
from mdm.ingest import MAX_MESSAGE_LENGTH, Ingestor, IngestOutcome, RecordInput
from mdm.screening import column_length, storable, storable_text
from mdm.store import IngestRejection, utcnow

_MAX_ID = 2**63 - 1  # no stored id is larger (a 64-bit key)


@dataclass(frozen=True)
class Replay:
    rejection_id: int
    outcome: IngestOutcome | None  # None: refused again (see error)
    error: MdmError | None


@dataclass(frozen=True)
class RejectionPage:
    """One page of open rejections, newest first."""

    rows: list[IngestRejection]
    has_next: bool
    total: int  # open rejections that match, on all pages together


def open_rejections(
    session: Session, *, system: str | None = None, limit: int = 100
) -> list[IngestRejection]:
    """Rejections not yet resolved, newest first."""
    query = _open(system)
    return list(session.scalars(query.order_by(IngestRejection.id.desc()).limit(limit)))


def rejection_page(
    session: Session, *, first: int, before: int | None = None, system: str | None = None
) -> RejectionPage:
    """Up to ``first`` open rejections (of one system, or all), newest first.

    Args:
        before: the id of the last rejection of the previous page (a keyset cursor).
    """
    query = _open(system)
    page = query if before is None else query.where(IngestRejection.id < before)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = list(session.scalars(page.order_by(IngestRejection.id.desc()).limit(first + 1)))
    return RejectionPage(rows=rows[:first], has_next=len(rows) > first, total=total or 0)


def _open(system: str | None) -> Select[IngestRejection]:
    query = select(IngestRejection).where(IngestRejection.resolved_at.is_(None))
    if system is not None:
        query = query.where(IngestRejection.system == system)
    return query


def replay_rejections(
    session: Session,
    ingestor: Ingestor,
    ids: Sequence[int] | None = None,
    *,
    attributes: Mapping[str, Any] | None = None,
    actor: str | None = None,
    correlation_id: str | None = None,
) -> list[Replay]:
    """Send open rejections (all, or ``ids``) through the pipeline again.

    Args:
        ids: the rejections to replay; None for every open one.
        attributes: corrected canonical attributes, replacing the stored ones (one id only).

    Raises:
        NotFoundError: an id that is not an open rejection.
        MdmError: corrected attributes given for more or fewer than one rejection.
    """
    query = select(IngestRejection).where(IngestRejection.resolved_at.is_(None))
    if ids is not None:
        # An id no key can hold is missing, not a statement the database refuses.
        query = query.where(IngestRejection.id.in_([i for i in ids if 0 < i <= _MAX_ID]))
    rows = list(session.scalars(query.order_by(IngestRejection.id)))
    if ids is not None:
        missing = sorted(set(ids) - {r.id for r in rows})
        if missing:
            raise NotFoundError(f"no open rejection with id {missing}", field="ids")
    if attributes is not None and len(rows) != 1:
        raise MdmError(
            "corrected attributes replace one rejection's record: give exactly one id",
            field="attributes",
            code="INVALID_INPUT",
        )
    replays = []
    for row in rows:
        payload = row.payload
        refusal = _altered(payload, corrected=attributes is not None)
        if refusal is not None:  # the stored reason (what to fix) stays as it was
            replays.append(Replay(row.id, None, refusal))
            continue
        record = RecordInput(
            entity_type=str(payload.get("entityType") or ""),
            system=str(payload.get("system") or ""),
            source_id=str(payload.get("sourceId") or ""),
            attributes=dict(
                attributes if attributes is not None else payload.get("attributes") or {}
            ),
            is_deleted=bool(payload.get("deleted", False)),
            origin=row.origin,
        )
        try:
            outcome = ingestor.ingest(session, record, actor=actor, correlation_id=correlation_id)
        except MdmError as error:
            _keep_reason(row, error)
            replays.append(Replay(row.id, None, error))
            continue
        row.resolved_at = utcnow()
        if attributes is not None:
            corrected = {k: v for k, v in payload.items() if k != "altered"}
            corrected["attributes"] = storable(dict(attributes))[0]
            row.payload = corrected
        replays.append(Replay(row.id, outcome, None))
    session.flush()
    return replays


def _altered(payload: Mapping[str, Any], *, corrected: bool) -> MdmError | None:
    """Why a rejection kept escaped cannot be replayed (None: it can)."""
    altered = [str(part) for part in payload.get("altered") or ()]
    if corrected:
        altered = [part for part in altered if part != "attributes"]
    if not altered:
        return None
    hint = (
        "replay it with corrected attributes, or send it again fixed"
        if altered == ["attributes"]
        else "send it again fixed"
    )
    return InvalidInputError(
        f"the record was kept escaped ({', '.join(altered)} held a NUL byte, a lone "
        f"surrogate, a number out of range or nesting too deep), not as sent: {hint}",
        field=altered[0],
    )


def _keep_reason(row: IngestRejection, error: MdmError) -> None:
    columns = IngestRejection.__table__.c
    row.code = storable_text(error.code, column_length(columns.code))
    row.field = storable_text(error.field, column_length(columns.field)) if error.field else None
    row.message = storable_text(error.message, MAX_MESSAGE_LENGTH)
