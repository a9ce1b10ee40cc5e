"""Contracts as real feeds number them, matched record by record (SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import select

from mdm.hub import Hub
from mdm.ingest import IngestOutcome, RecordInput
from mdm.store import CandidateStatus, MatchCandidate


def _ingest(hub: Hub, system: str, source_id: str, **attributes: str) -> IngestOutcome:
    with hub.database.session() as session:
        return hub.ingestor.ingest(
            session, RecordInput("contract", system, source_id, attributes), actor="test"
        )


def test_an_amendment_and_stripped_zeros_are_the_same_contract(hub: Hub) -> None:
    first = _ingest(hub, "PROCUREMENT", "P1", contract_number="HT-080415-AMD2", name="Gloves")
    second = _ingest(hub, "ERP", "E1", contract_number="HT80415", name="Exam Gloves")
    assert first.golden_id is not None and second.golden_id == first.golden_id


def test_another_number_of_the_same_scheme_is_another_contract(hub: Hub) -> None:
    first = _ingest(hub, "PROCUREMENT", "P1", contract_number="HT-80415", name="Exam Gloves")
    renewal = _ingest(hub, "ERP", "E1", contract_number="HT-80416", name="Exam Gloves")
    assert renewal.golden_id != first.golden_id


def test_two_systems_numberings_do_not_veto(hub: Hub) -> None:
    common = {
        "name": "Nitrile Exam Gloves Powder Free",
        "effective_date": "2024-01-01",
        "expiration_date": "2026-12-31",
    }
    first = _ingest(hub, "PROCUREMENT", "P1", contract_number="AGR-682739", **common)
    other = _ingest(hub, "ERP", "E1", contract_number="PP-SU-1931", **common)
    if other.golden_id == first.golden_id:
        return  # merged on the title and dates
    with hub.database.read_session() as session:
        candidates = session.scalars(
            select(MatchCandidate).where(MatchCandidate.status == CandidateStatus.PENDING.value)
        ).all()
        explanations = [c.explanation for c in candidates]
    # Not merged: then a steward decides, and nothing vetoed the pair.
    assert explanations, "the pair was vetoed or never compared"
    assert all(not e.get("vetoed_by") for e in explanations)
