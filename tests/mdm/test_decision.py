"""The one decision after scoring (``mdm.decision.decide``): the band split, bridges and
cannot-links, for every path that decides; and a preview that never promises what ingest
would refuse (on both databases)."""

from __future__ import annotations

from collections.abc import Collection

import pytest
from sqlalchemy import select

from mdm.decision import NO_CANNOT_LINKS, Candidate, cannot_link_goldens, decide
from mdm.golden import ChangeContext
from mdm.hub import Hub
from mdm.ingest import RecordInput
from mdm.merging import FoldResult, fold_into
from mdm.preview import preview_match
from mdm.store import GoldenRecord, MatchCandidate, SourceRecord

AUTO, REVIEW = 0.99, 0.8


class Links:
    """Cannot-links given as pairs: (record, golden) rejections and golden pairs apart."""

    def __init__(
        self,
        rejected: frozenset[tuple[int, int]] = frozenset(),
        apart: frozenset[frozenset[int]] = frozenset(),
    ) -> None:
        self.rejections, self.pairs = rejected, apart

    def rejected(self, record_id: int | None, golden_ids: Collection[int]) -> set[int]:
        return {g for g in golden_ids if (record_id, g) in self.rejections}

    def apart(self, a: int, b: int) -> str | None:
        return "kept apart" if frozenset((a, b)) in self.pairs else None


def _candidates(**scores: float) -> list[Candidate]:
    return [Candidate(int(name[1:]), score, {}) for name, score in scores.items()]


def _ids(candidates: tuple[Candidate, ...]) -> list[int]:
    return [c.golden_id for c in candidates]


def test_the_best_sure_candidate_is_joined_the_others_bridged_the_band_reviewed() -> None:
    found = decide(
        _candidates(g4=0.995, g2=0.999, g3=0.995, g5=0.85, g6=0.5, g7=0.8),
        auto_threshold=AUTO,
        review_threshold=REVIEW,
        links=NO_CANNOT_LINKS,
    )
    assert found.best is not None and found.best.golden_id == 2
    assert _ids(found.bridges) == [3, 4]  # equal scores: lower golden id first
    assert _ids(found.unsure) == [5, 7] and found.refused == ()
    decision = found.as_match_decision("none")
    assert (decision.golden_id, decision.merge, _ids(decision.review)) == (2, (3, 4), [5, 7])


def test_nothing_sure_is_a_new_golden_record_with_the_band_for_review() -> None:
    found = decide(
        _candidates(g1=0.9, g2=0.1), auto_threshold=AUTO, review_threshold=REVIEW,
        links=NO_CANNOT_LINKS,
    )  # fmt: skip
    decision = found.as_match_decision("no candidate above the auto threshold")
    assert found.best is None and decision.golden_id is None
    assert decision.explanation == {"reason": "no candidate above the auto threshold"}
    assert _ids(decision.review) == [1]


def test_a_candidate_the_record_was_rejected_for_is_dropped() -> None:
    found = decide(
        _candidates(g1=0.999, g2=0.995, g3=0.9),
        auto_threshold=AUTO,
        review_threshold=REVIEW,
        links=Links(rejected=frozenset({(7, 1), (7, 3)})),
        record_id=7,
    )
    assert found.best is not None and found.best.golden_id == 2
    assert found.bridges == found.refused == found.unsure == ()


def test_bridges_a_steward_kept_apart_are_refused_against_each_other_too() -> None:
    """Sure of 1, 2 and 3, with 2 and 3 rejected for each other: 1 is joined, 2 bridged,
    3 refused (it cannot join 2, though nothing keeps it from 1)."""
    found = decide(
        _candidates(g1=0.999, g2=0.998, g3=0.997),
        auto_threshold=AUTO,
        review_threshold=REVIEW,
        links=Links(apart=frozenset({frozenset((2, 3))})),
    )
    assert found.best is not None and found.best.golden_id == 1
    assert _ids(found.bridges) == [2] and _ids(found.refused) == [3]
    assert _ids(found.as_match_decision("").review) == [3]


def test_a_placed_record_takes_its_golden_record_along_never_across_a_rejection() -> None:
    found = decide(
        _candidates(g1=0.999, g2=0.998, g9=0.999),
        auto_threshold=AUTO,
        review_threshold=REVIEW,
        links=Links(apart=frozenset({frozenset((9, 1))})),
        golden_id=9,
    )
    # Its own golden record (9) is sure too: nothing to check; 1 is kept apart from it.
    assert found.best is not None and found.best.golden_id == 9
    assert _ids(found.bridges) == [2] and _ids(found.refused) == [1]


# -- in the store ------------------------------------------------------------------------


def vendor(system: str, source_id: str, **attributes: object) -> RecordInput:
    return RecordInput("vendor", system, source_id, attributes)


def _ingest(hub: Hub, record: RecordInput) -> str:
    with hub.database.session() as session:
        outcome = hub.ingestor.ingest(session, record, actor="test")
    assert outcome.golden_id is not None
    return outcome.golden_id


def _reject(hub: Hub, source_id: str, public_id: str) -> None:
    """A steward's rejection of a record for a golden record."""
    with hub.database.session() as session:
        record = session.scalar(select(SourceRecord).where(SourceRecord.source_id == source_id))
        golden = session.scalar(select(GoldenRecord).where(GoldenRecord.public_id == public_id))
        assert record is not None and golden is not None
        session.add(
            MatchCandidate(
                entity_type="vendor", source_record_id=record.id, golden_id=golden.id,
                score=0.5, explanation={}, status="rejected", decided_by="steward",
                reason="different company",
            )
        )  # fmt: skip


def _preview(hub: Hub, record: RecordInput):  # type: ignore[no-untyped-def]
    ingestor = hub.ingestor
    return preview_match(
        hub.database,
        hub.specs,
        ingestor.matcher,
        ingestor.systems,
        record,  # type: ignore[arg-type]
    )


BRIDGE = vendor("PROCUREMENT", "S1", name="Acme Medical", tax_id="41-2847561", duns="150483782")


@pytest.mark.parametrize("rejected", [False, True], ids=["no-rejection", "rejected"])
def test_a_preview_never_shows_a_merge_ingest_would_refuse(hub: Hub, rejected: bool) -> None:
    """A record sure of two golden records: the preview shows the merge, unless a steward
    rejected one's member for the other; then, as ingest does, it joins one and sends the
    other to review."""
    a = _ingest(hub, vendor("ERP", "V1", name="Acme Medical", tax_id="41-2847561"))
    b = _ingest(hub, vendor("EHR", "O1", name="Acme Medical", duns="150483782"))
    assert a != b
    if rejected:
        _reject(hub, "O1", a)
    preview = _preview(hub, BRIDGE)
    assert preview.decision == "join"
    assert {preview.golden_id, *preview.merges} <= {a, b}
    assert len(preview.merges) == (0 if rejected else 1)
    joined = _ingest(hub, BRIDGE)
    assert joined == preview.golden_id
    with hub.database.read_session() as session:
        live = session.scalars(
            select(GoldenRecord.public_id).where(GoldenRecord.status == "active")
        ).all()
    assert sorted(live) == sorted({a, b} - set(preview.merges))


def test_a_rejection_holds_against_the_golden_record_it_was_merged_into(hub: Hub) -> None:
    """A steward rejected O1 for golden record A; A is then merged into B: O1 is kept out
    of B as well (the members it was rejected for are there now)."""
    a = _ingest(hub, vendor("ERP", "V1", name="Acme Medical", tax_id="41-2847561"))
    b = _ingest(hub, vendor("PROCUREMENT", "S7", name="Zenith Labs", duns="150483782"))
    o1 = _ingest(hub, vendor("EHR", "O1", name="Acme Medical Inc", duns="987654321"))
    assert len({a, b, o1}) == 3
    _reject(hub, "O1", a)
    with hub.database.session() as session:
        ids = dict(session.execute(select(GoldenRecord.public_id, GoldenRecord.id)).all())
        record = session.scalar(select(SourceRecord.id).where(SourceRecord.source_id == "O1"))
        assert cannot_link_goldens(session, record, [ids[a], ids[b]]) == {ids[a]}
        folded = fold_into(
            session, hub.specs, hub.specs["vendor"], ids[b], ids[a], ChangeContext("t", None)
        )
        assert folded.result is FoldResult.MERGED
        assert cannot_link_goldens(session, record, [ids[b]]) == {ids[b]}
        # And golden records: O1's own is kept apart from B, which holds A's members now.
        again = fold_into(
            session, hub.specs, hub.specs["vendor"], ids[b], ids[o1], ChangeContext("t", None)
        )
        assert again.result is FoldResult.REFUSED
