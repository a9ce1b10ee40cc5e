"""Refused records are kept whole and can be replayed once their cause is fixed."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mdm.errors import NotFoundError
from mdm.hub import Hub
from mdm.ingest import IngestStatus, RecordInput
from mdm.rejections import open_rejections, rejection_page, replay_rejections
from mdm.store import IngestRejection, SourceRecord
from mdm.systems import register_system


def _refuse(hub: Hub, records: list[RecordInput]) -> None:
    with hub.database.session() as session:
        outcomes = hub.ingestor.ingest_many(session, records)
    assert all(o.status is IngestStatus.REJECTED for o in outcomes)


def test_replay_after_the_cause_is_fixed(hub: Hub) -> None:
    _refuse(hub, [RecordInput("vendor", "AP_LEGACY", "L-1", {"name": "Acme Medical"})])
    with hub.database.session() as session:
        [refused] = open_rejections(session)
        assert refused.code == "UNKNOWN_SYSTEM"
        still = replay_rejections(session, hub.ingestor)  # nothing fixed yet
    assert still[0].error is not None and still[0].error.code == "UNKNOWN_SYSTEM"
    with hub.database.session() as session:
        register_system(session, "AP_LEGACY", "Legacy AP")
    with hub.database.session() as session:
        [replay] = replay_rejections(session, hub.ingestor, [refused.id])
    assert replay.outcome is not None and replay.outcome.status is IngestStatus.CREATED
    with hub.database.read_session() as session:
        assert open_rejections(session) == []
        row = session.scalar(select(SourceRecord).where(SourceRecord.source_id == "L-1"))
        assert row is not None and row.standardized["name"] == "Acme Medical"


def test_replay_with_corrected_attributes(hub: Hub) -> None:
    _refuse(hub, [RecordInput("item", "ERP", "100234", {"description": "GLOVE", "colour": "blue"})])
    with hub.database.session() as session:
        [refused] = open_rejections(session)
        assert (refused.code, refused.field) == ("INVALID_ATTRIBUTE", "attributes.colour")
        [replay] = replay_rejections(
            session, hub.ingestor, [refused.id], attributes={"description": "GLOVE", "price": "10"}
        )
    assert replay.outcome is not None
    with hub.database.read_session() as session:
        row = session.get(IngestRejection, refused.id)
        assert row is not None and row.resolved_at is not None
        assert row.payload["attributes"]["price"] == "10"


def test_replaying_an_unknown_id_is_not_found(hub: Hub) -> None:
    with pytest.raises(NotFoundError), hub.database.session() as session:
        replay_rejections(session, hub.ingestor, [999])


def test_rejection_pages_are_newest_first_with_a_total(hub: Hub) -> None:
    _refuse(
        hub,
        [RecordInput("vendor", "AP_LEGACY", f"L-{n}", {"name": f"Vendor {n}"}) for n in range(3)]
        + [RecordInput("vendor", "OTHER", "O-1", {"name": "Other"})],
    )
    with hub.database.read_session() as session:
        first = rejection_page(session, first=2, system="AP_LEGACY")
        rest = rejection_page(session, first=2, before=first.rows[-1].id, system="AP_LEGACY")
        everything = rejection_page(session, first=10)
    assert [r.source_id for r in first.rows] == ["L-2", "L-1"]
    assert first.has_next and first.total == 3
    assert [r.source_id for r in rest.rows] == ["L-0"]
    assert not rest.has_next and rest.total == 3
    assert everything.total == 4 and not everything.has_next
