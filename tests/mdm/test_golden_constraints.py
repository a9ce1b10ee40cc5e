"""Constraints per golden record, not only per pair (issue "matching that generalizes"): a
record without a tax id never bridges two golden vendors with different tax ids, a tax id
typo goes to a steward, and a steward's merge may still override (on both databases)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from mdm.bulk import BulkLoader, BulkResult
from mdm.bulk.staging import BlockKeys
from mdm.decision import StoredCannotLinks, identifier_conflicts
from mdm.golden import ChangeContext
from mdm.hub import Hub
from mdm.ingest import RecordInput
from mdm.merging import FoldResult, fold_into
from mdm.preview import preview_match
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


# -- part 3: a first load holds the same constraints per golden record ---------------------

ACME_SURGICAL = {"name": "Acme Surgical Supply", "address_line1": "100 Main St", **ACME}
FIRST_LOAD = [
    vendor("ERP", "V1", tax_id="41-2847561", **ACME_SURGICAL),
    vendor("ERP", "V2", tax_id="27-1828459", **ACME_SURGICAL),
    vendor("PROCUREMENT", "S1", **ACME_SURGICAL),
]


def _members(hub: Hub) -> list[tuple[str, ...]]:
    """Each active golden record's members' source ids, sorted."""
    groups: dict[int, list[str]] = {}
    with hub.database.read_session() as session:
        for golden_id, source_id in session.execute(
            select(SourceRecord.golden_id, SourceRecord.source_id)
        ):
            groups.setdefault(golden_id, []).append(source_id)
    return sorted(tuple(sorted(members)) for members in groups.values())


def _bulk_load(hub: Hub, records: list[RecordInput]) -> BulkResult:
    return BulkLoader(hub.ingestor).load(
        hub.database, hub.specs["vendor"], records, actor="test", correlation_id=None
    )


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 1, 0), (1, 2, 0)], ids=str)
def test_a_first_load_never_chains_two_tax_ids_into_one_golden_record(
    hub: Hub, order: tuple[int, ...]
) -> None:
    result = _bulk_load(hub, [FIRST_LOAD[i] for i in order])
    assert result.golden_records == 2
    members = _members(hub)
    assert members in ([("S1", "V1"), ("V2",)], [("S1", "V2"), ("V1",)])
    ((source_id, golden, explanation),) = _pending(hub)
    with_s1 = next(m for m in members if "S1" in m)
    other = next(m for m in members if "S1" not in m)
    # The cut link is put before a steward, saying why, as record by record would.
    assert source_id in ("S1", other[0])
    assert explanation["refused"] == (
        "would bridge two golden records with different tax ids (tax_id.different)"
    )
    assert explanation["path"] == "bulk" and explanation["contributions"]
    with hub.database.read_session() as session:
        goldens = dict(session.execute(select(GoldenRecord.id, GoldenRecord.public_id)).all())
        home = dict(session.execute(select(SourceRecord.source_id, SourceRecord.golden_id)).all())
    assert golden == goldens[home[other[0] if source_id == "S1" else with_s1[0]]]


# -- part 4: a join checks every member, not only the best one -----------------------------


def test_a_newcomer_never_joins_a_golden_record_holding_another_tax_id(hub: Hub) -> None:
    """A golden record scores as its best member: here one without a tax id, while another
    member holds another tax id. The newcomer goes to a steward, who is told why."""
    golden = _ingest(hub, vendor("ERP", "V1", tax_id="41-2847561", **ACME_SURGICAL))
    assert _ingest(hub, vendor("EHR", "O1", **ACME_SURGICAL)) == golden
    newcomer = _ingest(hub, vendor("PROCUREMENT", "S1", tax_id="27-1828459", **ACME_SURGICAL))
    assert newcomer != golden
    assert _members(hub) == [("O1", "V1"), ("S1",)]
    ((source_id, candidate, explanation),) = _pending(hub)
    assert (source_id, candidate) == ("S1", golden)
    assert explanation["refused"] == (
        "a member of the golden record holds another tax id (tax_id.different)"
    )
    assert explanation["vetoed_by"] == []  # its best member: nothing held the pair back
    # A preview promises no join that ingest refuses.
    ingestor = hub.ingestor
    preview = preview_match(
        hub.database,
        hub.specs,
        ingestor.matcher,  # type: ignore[arg-type]
        ingestor.systems,
        vendor("PROCUREMENT", "S2", tax_id="30-3982847", **ACME_SURGICAL),
    )
    assert preview.decision == "review" and preview.golden_id is None


def test_a_newcomer_with_the_golden_records_tax_id_still_joins(hub: Hub) -> None:
    golden = _ingest(hub, vendor("ERP", "V1", tax_id="41-2847561", **ACME_SURGICAL))
    assert _ingest(hub, vendor("EHR", "O1", **ACME_SURGICAL)) == golden
    assert _ingest(hub, vendor("PROCUREMENT", "S1", tax_id="412847561", **ACME_SURGICAL)) == golden
    assert _pending(hub) == []


def test_two_tax_ids_never_compared_in_a_first_load_stay_apart(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blocking did not pair V1 and V2 (here: their pair is taken out), so no veto was
    scored between them; their tax ids keep them apart all the same."""
    pairs_of = BlockKeys.pairs

    def without_v1_v2(self: BlockKeys, record_ids: list[int], size: int) -> Any:
        found = pairs_of(self, record_ids, size)
        # Staged records are in (system, source id) order: V1, V2, S1.
        assert [0, 1] in found.tolist()
        return found[[pair != [0, 1] for pair in found.tolist()]]

    monkeypatch.setattr(BlockKeys, "pairs", without_v1_v2)
    result = _bulk_load(hub, FIRST_LOAD)
    assert result.golden_records == 2
    assert _members(hub) in ([("S1", "V1"), ("V2",)], [("S1", "V2"), ("V1",)])
    ((_, _, explanation),) = _pending(hub)
    assert explanation["refused"] == (
        "would bridge two golden records with different tax ids (tax_id.different)"
    )
