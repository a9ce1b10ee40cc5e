"""Serialization of the match step across processes.

Two processes that ingest records sharing an identifier at the same moment must not both
decide "no match, new golden record". On SQLite, ``BEGIN IMMEDIATE`` already lets one
writer in at a time. On PostgreSQL, each write transaction takes one transaction-scoped
advisory lock before matching. One lock (not one per key) cannot deadlock, whatever the mix
of records in concurrent batches; reads never take it.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

INGEST_LOCK_ID = 0x6D646D5F696E67  # "mdm_ing"


def lock_for_matching(session: Session) -> None:
    """Hold the hub's ingest lock until the current transaction ends (no-op on SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": INGEST_LOCK_ID})
