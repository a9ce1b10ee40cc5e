"""Refused records: listed, fixed and sent again, never lost.

A rejection keeps the whole record as it was sent. Once the cause is fixed (the system
registered, the mapping or the value corrected), replaying runs it through the pipeline
again: accepted, the rejection is closed; refused again, it stays open with the new reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mdm.errors import MdmError, NotFoundError
from mdm.ingest import Ingestor, IngestOutcome, RecordInput
from mdm.store import IngestRejection, utcnow


@dataclass(frozen=True)
class Replay:
    rejection_id: int
    outcome: IngestOutcome | None  # None: refused again (see error)
    error: MdmError | None


def open_rejections(
    session: Session, *, system: str | None = None, limit: int = 100
) -> list[IngestRejection]:
    """Rejections not yet resolved, newest first."""
    query = select(IngestRejection).where(IngestRejection.resolved_at.is_(None))
    if system is not None:
        query = query.where(IngestRejection.system == system)
    return list(session.scalars(query.order_by(IngestRejection.id.desc()).limit(limit)))


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
        query = query.where(IngestRejection.id.in_(list(ids)))
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
            row.code, row.field, row.message = error.code, error.field, error.message
            replays.append(Replay(row.id, None, error))
            continue
        row.resolved_at = utcnow()
        if attributes is not None:
            row.payload = {**payload, "attributes": dict(attributes)}
        replays.append(Replay(row.id, outcome, None))
    session.flush()
    return replays
