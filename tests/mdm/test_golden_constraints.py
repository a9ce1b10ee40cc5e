"""Constraints per golden record, not only per pair (issue "matching that generalizes"): a
record without a tax id never bridges two golden vendors with different tax ids, a tax id
typo goes to a steward, and a steward's merge may still override (on both databases)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from mdm.decision import StoredCannotLinks, identifier_conflicts
from mdm.golden import ChangeContext
from mdm.hub import Hub
from mdm.ingest import RecordInput
from mdm.merging import FoldResult, fold_into
from mdm.review import decide_candidate
from mdm.store import AuditLog, GoldenRecord, MatchCandidate, SourceRecord

ACME = {"address_line1": "100 Main St", "city": "Denver", "state": "CO"}


def vendor(system: str, source_id: str, **attributes: Any) -> RecordInput:
    return RecordInput("vendor", system, source_id, attributes)


def _ingest(hub: Hub, record: RecordInput) -> str:
    with hub.database.session() as session:
        outcome = hub.ingestor.ingest(session, record, actor="test")
    assert outcome.golden_id is not None
    return outcome.golden_id


def _active(hub: Hub) -> list[str]:
    with hub.database.read_session() as session:
        return sorted(
            session.scalars(
                select(GoldenRecord.public_id).where(GoldenRecord.status == "active")
            ).all()
        )


def _pending(hub: Hub) -> list[tuple[str, str, dict[str, Any]]]:
    """Pending candidates as (record's source id, golden public id, explanation)."""
    with hub.database.read_session() as session:
        rows = session.execute(
            select(SourceRecord.source_id, GoldenRecord.public_id, MatchCandidate.explanation)
            .join(SourceRecord, SourceRecord.id == MatchCandidate.source_record_id)
            .join(GoldenRecord, GoldenRecord.id == MatchCandidate.golden_id)
            .where(MatchCandidate.status == "pending")
            .order_by(MatchCandidate.id)
        ).all()
    return [(source_id, golden, dict(explanation)) for source_id, golden, explanation in rows]


def _ids(hub: Hub, *public_ids: str) -> list[int]:
    with hub.database.read_session() as session:
        found = dict(session.execute(select(GoldenRecord.public_id, GoldenRecord.id)).all())
    return [found[p] for p in public_ids]


# -- part 1: a tax id a keystroke away is a typo to review ---------------------------------


def test_a_tax_id_typo_is_a_review_candidate_not_a_merge(hub: Hub) -> None:
    first = _ingest(
        hub, vendor("ERP", "V1", name="ACME SURGICAL SUPPLY INC", tax_id="303982847", **ACME)
    )
    second = _ingest(
        hub,
        vendor("PROCUREMENT", "S1", name="ACME SURGICAL SUPPLY INC", tax_id="303902847", **ACME),
    )
    assert first != second
    assert _active(hub) == sorted([first, second])
    ((source_id, golden, explanation),) = _pending(hub)
    assert (source_id, golden) == ("S1", first)
    assert explanation["doubted_by"] == ["tax_id.near"] and explanation["vetoed_by"] == []
    levels = {c["comparison"]: c["level"] for c in explanation["contributions"]}
    assert levels["tax_id"] == "near" and levels["name"] == "exact"


def test_tax_ids_two_edits_apart_and_other_names_stay_apart_unreviewed(hub: Hub) -> None:
    first = _ingest(
        hub, vendor("ERP", "V1", name="ACME SURGICAL SUPPLY INC", tax_id="303982847", **ACME)
    )
    second = _ingest(
        hub,
        vendor("PROCUREMENT", "S1", name="Zenith Imaging Partners", tax_id="303902874", **ACME),
    )
    assert first != second and _active(hub) == sorted([first, second])
    assert _pending(hub) == []


# -- part 2: no bridge between two golden records with different tax ids -----------------


def _two_vendors_and_a_bridge(hub: Hub) -> tuple[str, str, str]:
    a = _ingest(
        hub, vendor("ERP", "V1", name="Acme Medical Supply Inc", tax_id="41-2847561", **ACME)
    )
    b = _ingest(hub, vendor("EHR", "O1", name="Acme Medical Supply", tax_id="27-1828459", **ACME))
    assert a != b  # different tax ids: vetoed, and nothing for a steward
    assert _pending(hub) == []
    joined = _ingest(hub, vendor("PROCUREMENT", "S1", name="Acme Medical Supply Inc", **ACME))
    return a, b, joined


def test_a_record_without_a_tax_id_never_bridges_two_tax_ids(hub: Hub) -> None:
    a, b, joined = _two_vendors_and_a_bridge(hub)
    assert _active(hub) == sorted([a, b])  # still two golden records
    assert joined in (a, b)
    other = b if joined == a else a
    ((source_id, golden, explanation),) = _pending(hub)
    assert (source_id, golden) == ("S1", other)
    assert explanation["refused"].startswith("would bridge two golden records with different tax")
    assert "tax_id.different" in explanation["refused"]
    with hub.database.read_session() as session:
        tax_ids = session.execute(
            select(SourceRecord.standardized["tax_id"].as_string())
            .join(GoldenRecord, GoldenRecord.id == SourceRecord.golden_id)
            .where(GoldenRecord.public_id == joined)
        ).scalars()
        assert len({t for t in tax_ids if t}) == 1


def test_automatic_folds_refuse_conflicting_tax_ids_and_say_why(hub: Hub) -> None:
    a, b, _ = _two_vendors_and_a_bridge(hub)
    spec = hub.specs["vendor"]
    ids = _ids(hub, a, b)
    with hub.database.session() as session:
        assert identifier_conflicts(session, spec, *ids) == ("tax_id.different",)
        reason = StoredCannotLinks(session, spec).apart(*ids)
        assert reason is not None and "tax ids" in reason
        fold = fold_into(session, hub.specs, spec, *ids, ChangeContext("test", None))
        assert fold.result is FoldResult.REFUSED and fold.reason == reason
    assert _active(hub) == sorted([a, b])


def test_a_steward_may_still_merge_and_the_audit_names_what_was_overridden(hub: Hub) -> None:
    a, b, joined = _two_vendors_and_a_bridge(hub)
    with hub.database.session() as session:
        candidate = session.scalar(
            select(MatchCandidate.id).where(MatchCandidate.status == "pending")
        )
        assert candidate is not None
        decide_candidate(
            session, hub.specs, candidate, "merge", actor="steward", reason="one company"
        )
    assert len(_active(hub)) == 1
    with hub.database.read_session() as session:
        details = session.scalars(
            select(AuditLog.details).where(AuditLog.action == "match.merge")
        ).one()
    assert details["overrode"] == ["tax_id.different"]


def test_a_tax_id_typo_between_golden_records_is_no_constraint(hub: Hub) -> None:
    """Only what a veto says keeps golden records apart: a keystroke is evidence."""
    first = _ingest(
        hub, vendor("ERP", "V1", name="ACME SURGICAL SUPPLY INC", tax_id="303982847", **ACME)
    )
    second = _ingest(
        hub,
        vendor("PROCUREMENT", "S1", name="ACME SURGICAL SUPPLY INC", tax_id="303902847", **ACME),
    )
    with hub.database.session() as session:
        ids = _ids(hub, first, second)
        assert identifier_conflicts(session, hub.specs["vendor"], *ids) == ()
        assert StoredCannotLinks(session, hub.specs["vendor"]).apart(*ids) is None
