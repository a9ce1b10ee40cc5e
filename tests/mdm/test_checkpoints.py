"""Write-ahead log checkpoints off the request path (SQLite), on both databases."""

from __future__ import annotations

import time

from sqlalchemy import text

from mdm.store import AuditLog, Database


def autocheckpoint_pages(database: Database) -> int:
    with database.session() as session:
        return int(session.connection().exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one())


def test_a_serving_database_checkpoints_from_a_thread_not_at_commit(database_url: str) -> None:
    database = Database(database_url)
    try:
        database.checkpoint_in_background(interval=0.02)
        if not database.is_sqlite:
            assert database.checkpointer is None  # PostgreSQL checkpoints on its own
            return
        checkpointer = database.checkpointer
        assert checkpointer is not None and checkpointer.is_running
        assert autocheckpoint_pages(database) == 0  # commits leave it to the thread
        for n in range(50):
            with database.session() as session:
                session.add(AuditLog(actor=f"t{n}", action="test", details={}))
        deadline = time.monotonic() + 10
        done = checkpointer.checkpoints
        while checkpointer.checkpoints < done + 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert checkpointer.checkpoints >= done + 2
        with database.read_session() as session:
            assert session.scalar(text("SELECT count(*) FROM audit_log WHERE action = 'test'"))
    finally:
        database.dispose()
    assert database.checkpointer is None and not checkpointer.is_running
    # Connections opened from then on checkpoint at commit again.
    assert autocheckpoint_pages(database) == 1000
    database.dispose()


def test_a_database_not_serving_checkpoints_at_commit(database_url: str) -> None:
    database = Database(database_url)
    try:
        assert database.checkpointer is None
        if database.is_sqlite:
            assert autocheckpoint_pages(database) == 1000
    finally:
        database.dispose()
