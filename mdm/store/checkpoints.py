"""SQLite write-ahead log checkpoints off the request path.

In WAL mode SQLite copies the log back into the database file (a checkpoint) at the commit
that takes the log past 1,000 pages: that one commit waits for the copy, 10-170 ms on a
large store against a few hundred microseconds for the others, about one ingest in sixty.
A serving process turns that off for its write connections and checkpoints from a thread
of its own instead (``PASSIVE``: it never waits for, nor holds up, readers and writers).
The driver releases the GIL while SQLite works, so requests run meanwhile.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy import Engine, event

log = logging.getLogger(__name__)

CHECKPOINT_SECONDS = 1.0


def _no_autocheckpoint(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


class Checkpointer:
    """Checkpoints ``engine``'s database every ``interval`` seconds from a daemon thread,
    and makes ``engine``'s connections leave checkpoints to it. ``stop()`` ends the thread
    and gives checkpoints back to the commits (for connections opened from then on)."""

    def __init__(self, engine: Engine, interval: float = CHECKPOINT_SECONDS) -> None:
        self.engine = engine
        self.interval = interval
        self.checkpoints = 0  # done so far (for tests and diagnostics)
        self._stopping = threading.Event()
        event.listen(engine, "connect", _no_autocheckpoint)
        engine.dispose()  # pooled connections were opened checkpointing: open new ones
        self._thread = threading.Thread(target=self._run, name="mdm-wal-checkpoint", daemon=True)
        self._thread.start()

    @property
    def is_running(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=30)
        if event.contains(self.engine, "connect", _no_autocheckpoint):
            event.remove(self.engine, "connect", _no_autocheckpoint)

    def _run(self) -> None:
        # A connection of its own, in autocommit mode (no BEGIN: a checkpoint cannot run
        # inside a transaction), for the life of the thread.
        connection = self.engine.raw_connection()
        try:
            while not self._stopping.wait(self.interval):
                try:
                    cursor = connection.cursor()
                    cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
                    cursor.fetchall()
                    cursor.close()
                    self.checkpoints += 1
                except Exception:  # logged and tried again at the next tick
                    log.exception("WAL checkpoint failed")
        finally:
            connection.close()
