"""Re-evaluation depends on a small protocol (``Redecider``), not on the ingest pipeline:
it imports nothing of ``mdm.ingest``, and any redecider works the queue (both databases)."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import select
from sqlalchemy.orm import Session

from mdm.golden import ChangeContext
from mdm.hub import Hub
from mdm.ingest import RecordInput
from mdm.reevaluate import PARENT_MERGED, Redecider, reevaluate
from mdm.specs import SpecRegistry
from mdm.store import Reevaluation, SourceRecord


def test_reevaluate_imports_nothing_of_the_pipeline() -> None:
    code = (
        "import sys, mdm.reevaluate\n"
        "print(','.join(sorted(m for m in sys.modules\n"
        "    if m in ('mdm.ingest', 'mdm.matching', 'mdm.merging', 'mdm.bulk'))))\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert found.stdout.strip() == ""


class _Recorder:
    """A redecider that only says what it was asked."""

    def __init__(self, specs: SpecRegistry) -> None:
        self._specs = specs
        self.asked: list[tuple[int, str | None]] = []

    @property
    def specs(self) -> SpecRegistry:
        return self._specs

    def redecide(
        self, session: Session, record_id: int, ctx: ChangeContext, *, reason: str | None = None
    ) -> str:
        self.asked.append((record_id, reason))
        return f"looked at {record_id}"


def test_any_redecider_works_the_queue(hub: Hub) -> None:
    with hub.database.session() as session:
        hub.ingestor.ingest(session, RecordInput("vendor", "ERP", "V1", {"name": "Acme"}))
        record_id = session.scalar(select(SourceRecord.id))
        assert record_id is not None
        session.add(
            Reevaluation(entity_type="vendor", source_record_id=record_id, reason=PARENT_MERGED)
        )
    recorder = _Recorder(hub.specs)
    redecider: Redecider = recorder
    with hub.database.session() as session:
        done = reevaluate(session, redecider, ChangeContext("test", None), limit=10)
    assert done == [(record_id, f"looked at {record_id}")]
    assert recorder.asked == [(record_id, PARENT_MERGED)]
    with hub.database.read_session() as session:
        row = session.scalars(select(Reevaluation)).one()
    assert row.processed_at is not None and row.outcome == f"looked at {record_id}"
