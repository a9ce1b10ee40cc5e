"""Change events: written to the outbox in the same transaction as the change they describe."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from mdm.store import ChangeEvent
from mdm.store.rows import insert_rows


class ChangeKind(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    MERGED = "merged"
    UNMERGED = "unmerged"
    RETIRED = "retired"


def event_row(
    *,
    entity_type: str,
    golden_public_id: str,
    kind: ChangeKind,
    version: int,
    payload: dict[str, Any],
    actor: str | None,
    correlation_id: str | None,
    created_at: datetime,
) -> dict[str, Any]:
    """One ``change_event`` row (see ``mdm.golden.GoldenChange.event_row``)."""
    return {
        "entity_type": entity_type,
        "golden_public_id": golden_public_id,
        "kind": kind.value,
        "version": version,
        "payload": payload,
        "actor": actor,
        "correlation_id": correlation_id,
        "created_at": created_at,
    }


def record_change_event(session: Session, row: dict[str, Any]) -> None:
    """Append one event (``event_row``) to the outbox, in the caller's transaction (one
    INSERT, no flush)."""
    session.execute(_INSERT_EVENT, row)


def record_change_events(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Append many events (``event_row``) to the outbox at once (a bulk load's), in the
    caller's transaction."""
    insert_rows(session, cast(Table, ChangeEvent.__table__), list(rows))


_INSERT_EVENT = insert(ChangeEvent)  # built once: building costs more than running it
