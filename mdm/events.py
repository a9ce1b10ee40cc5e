"""Change events: written to the outbox in the same transaction as the change they describe.

Sequence numbers follow commit order. Every event is appended here, and before its first
sequence number is taken the transaction takes the hub's write lock
(``mdm.store.locks.INGEST_LOCK_ID``, a PostgreSQL transaction-scoped advisory lock held
until commit; most writers hold it already, so it is taken again at no cost). Two
transactions that write events therefore never overlap between their first event and
their commit: whoever reads sequence number N committed never later finds a newly
committed event below N. On SQLite, ``BEGIN IMMEDIATE`` lets one writer in at a time.

The same statement queues a PostgreSQL ``NOTIFY`` on ``NOTIFY_CHANNEL``, delivered at
commit to every process listening (``mdm.notify``); the session is marked
(``CHANGES_WRITTEN``) so that this process wakes its own readers after the commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import Table, insert, text
from sqlalchemy.orm import Session

from mdm.store import ChangeEvent
from mdm.store.locks import INGEST_LOCK_ID
from mdm.store.rows import insert_rows

# The version of the event document (``mdm/schemas/change_event.schema.json``), written
# into every payload as ``schemaVersion``.
EVENT_SCHEMA_VERSION = 1
NOTIFY_CHANNEL = "mdm_changes"
CHANGES_WRITTEN = "mdm.changes_written"  # Session.info key: this transaction wrote events


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
    """Append one event (``event_row``) to the outbox, in the caller's transaction."""
    _sequence(session)
    session.execute(_INSERT_EVENT, row)


def record_change_events(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Append many events (``event_row``) to the outbox at once (a bulk load's), in the
    caller's transaction."""
    if not rows:
        return
    _sequence(session)
    insert_rows(session, cast(Table, ChangeEvent.__table__), list(rows))


def _sequence(session: Session) -> None:
    """Hold the write lock until commit before taking sequence numbers, and have readers
    woken after the commit (see the module docstring).

    Taken for every append, not once per transaction: a lock taken inside a SAVEPOINT
    that is rolled back is released with it, so "taken before" is not known to hold.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_LOCK_AND_NOTIFY, {"id": INGEST_LOCK_ID, "channel": NOTIFY_CHANNEL})
    session.info[CHANGES_WRITTEN] = True


_INSERT_EVENT = insert(ChangeEvent)  # built once: building costs more than running it
_LOCK_AND_NOTIFY = text("SELECT pg_advisory_xact_lock(:id), pg_notify(:channel, '')")
