"""Change events: written to the outbox in the same transaction as the change they describe."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from mdm.store import ChangeEvent, utcnow


class ChangeKind(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    MERGED = "merged"
    UNMERGED = "unmerged"
    RETIRED = "retired"


def record_change_event(
    session: Session,
    *,
    entity_type: str,
    golden_public_id: str,
    kind: ChangeKind,
    version: int,
    payload: dict[str, Any],
    actor: str | None,
    correlation_id: str | None,
) -> None:
    """Append one event to the outbox, in the caller's transaction (one INSERT, no flush)."""
    session.execute(
        _INSERT_EVENT,
        {
            "entity_type": entity_type,
            "golden_public_id": golden_public_id,
            "kind": kind.value,
            "version": version,
            "payload": payload,
            "actor": actor,
            "correlation_id": correlation_id,
            "created_at": utcnow(),
        },
    )


_INSERT_EVENT = insert(ChangeEvent)  # built once: building costs more than running it
