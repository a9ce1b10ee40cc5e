"""Steward decisions as labels that refine match parameters, on SQLite and PostgreSQL.

A small vendor store, candidates decided directly in ``match_candidate`` (the steward API
comes later): which decisions become labels and on which pair, how a labels-only refine
moves m (and only with ``is_u_updated`` u), and EM followed by the labels.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from matchers import LabelledPair, MatchModel, ReferenceComparison, update_from_labels
from mdm.context import ContextView
from mdm.errors import InvalidInputError
from mdm.hub import Hub
from mdm.ingest import RecordInput
from mdm.match_models import LABEL_PRIOR_STRENGTH, estimate_model, steward_labels
from mdm.store import GoldenRecord, MatchCandidate, SourceRecord, utcnow


def vendor(system: str, source_id: str, **attributes: object) -> RecordInput:
    return RecordInput("vendor", system, source_id, attributes)


def ingest(hub: Hub, *records: RecordInput) -> None:
    with hub.database.session() as session:
        for record in records:
            hub.ingestor.ingest(session, record, actor="test")


def record_of(hub: Hub, system: str, source_id: str) -> SourceRecord:
    with hub.database.read_session() as session:
        found = session.scalar(
            select(SourceRecord).where(
                SourceRecord.system == system, SourceRecord.source_id == source_id
            )
        )
        assert found is not None
        session.expunge(found)
    return found


def decide(
    hub: Hub, record: SourceRecord, golden_id: int | None, status: str, **explanation: Any
) -> None:
    assert golden_id is not None
    with hub.database.session() as session:
        session.add(
            MatchCandidate(
                entity_type=record.entity_type,
                source_record_id=record.id,
                golden_id=golden_id,
                score=0.7,
                explanation=explanation,
                status=status,
                decided_by=None if status == "pending" else "steward",
                decided_at=None if status == "pending" else utcnow(),
            )
        )


class Store:
    """The records of ``small_store``, read back after ingestion."""

    def __init__(self, hub: Hub) -> None:
        self.v1 = record_of(hub, "ERP", "V1")
        self.s1 = record_of(hub, "PROCUREMENT", "S1")
        self.e1 = record_of(hub, "EHR", "E1")
        self.s2 = record_of(hub, "PROCUREMENT", "S2")
        self.e2 = record_of(hub, "EHR", "E2")


def small_store(hub: Hub) -> Store:
    ingest(
        hub,
        # One tax id: V1 and S1 join one golden record; their phones differ.
        vendor(
            "ERP",
            "V1",
            name="Northwind Surgical Supply Inc",
            tax_id="41-2847561",
            address_line1="100 Main St",
            postal_code="02139",
            phone="617-555-0100",
        ),
        vendor(
            "PROCUREMENT",
            "S1",
            name="NORTHWIND SURGICAL SUPPLY",
            tax_id="412847561",
            address_line1="100 Main Street",
            postal_code="02139",
            phone="617-555-0199",
        ),
        vendor(
            "EHR",
            "E1",
            name="Blue Harbor Linen Services",
            address_line1="9 Dock Rd",
            postal_code="04101",
            phone="207-555-0142",
        ),
        vendor(
            "PROCUREMENT",
            "S2",
            name="Granite Peak Diagnostics",
            address_line1="77 Summit Ave",
            postal_code="80202",
            phone="303-555-0187",
        ),
        vendor("EHR", "E2", name="Acme Medical", postal_code="10001"),
    )
    ingest(hub, RecordInput("vendor", "EHR", "E2", {}, is_deleted=True))
    store = Store(hub)
    assert store.v1.golden_id == store.s1.golden_id
    assert len({store.v1.golden_id, store.e1.golden_id, store.s2.golden_id}) == 3
    assert store.e2.is_deleted
    return store


def decide_all(hub: Hub, store: Store) -> None:
    """Candidates in id order: two approvals, a rejection, and three that are no label."""
    decide(hub, store.s1, store.v1.golden_id, "merged", best_member=store.v1.id)
    # The scored member is deleted: the lowest live member other than V1 itself stands in.
    decide(hub, store.v1, store.v1.golden_id, "merged", best_member=store.e2.id)
    decide(hub, store.e1, store.s2.golden_id, "rejected", best_member=store.s2.id)
    decide(hub, store.s2, store.e1.golden_id, "pending", best_member=store.e1.id)
    decide(hub, store.e2, store.s2.golden_id, "rejected", best_member=store.s2.id)  # deleted
    # Nothing left to compare with: the named member is gone and E1 is its golden's only one.
    decide(hub, store.e1, store.e1.golden_id, "merged", best_member=10**9)


def levels_hit(
    model: MatchModel, labels: list[LabelledPair], is_match: bool
) -> dict[str, list[str]]:
    """Comparison -> the level each label of the kind falls in (missing values left out)."""
    out: dict[str, list[str]] = {}
    for comparison in model.comparisons:
        found = [
            comparison.level(comparison.prepare(label.left), comparison.prepare(label.right))
            for label in labels
            if label.is_match is is_match
        ]
        out[comparison.name] = [comparison.levels[k] for k in found if k is not None]
    return out


def assert_same_parameters(left: MatchModel, right: MatchModel) -> None:
    for comparison in left.comparisons:
        pairs = zip(left.levels_of(comparison.name), right.levels_of(comparison.name), strict=True)
        for a, b in pairs:
            assert (a.name, a.m, a.u) == (b.name, pytest.approx(b.m), pytest.approx(b.u))


def test_decided_candidates_are_labels_on_the_compared_pair(hub: Hub) -> None:
    store = small_store(hub)
    decide_all(hub, store)
    spec = hub.specs.get_spec("vendor")
    with hub.database.read_session() as session:
        labels = steward_labels(session, spec)
    assert [(label.left, label.right, label.is_match) for label in labels] == [
        (store.s1.standardized, store.v1.standardized, True),
        (store.v1.standardized, store.s1.standardized, True),
        (store.e1.standardized, store.s2.standardized, False),
    ]


def test_a_merged_away_golden_record_is_compared_through_its_survivor(hub: Hub) -> None:
    store = small_store(hub)
    merged_away, survivor = store.s2.golden_id, store.e1.golden_id
    with hub.database.session() as session:
        golden = session.get(GoldenRecord, merged_away)
        assert golden is not None
        golden.status, golden.merged_into_id = "merged", survivor
        session.execute(
            update(SourceRecord).where(SourceRecord.id == store.s2.id).values(golden_id=survivor)
        )
    decide(hub, store.e1, merged_away, "rejected")  # no best member named
    with hub.database.read_session() as session:
        labels = steward_labels(session, hub.specs.get_spec("vendor"))
    assert [(label.left, label.right, label.is_match) for label in labels] == [
        (store.e1.standardized, store.s2.standardized, False)
    ]


def test_labels_only_refine_moves_m_of_the_levels_approvals_hit(hub: Hub) -> None:
    store = small_store(hub)
    decide_all(hub, store)
    spec = hub.specs.get_spec("vendor")
    models = hub.ingestor.models
    with hub.database.session() as session:
        start = models.active(session, spec)
        labels = steward_labels(session, spec)
        saved, notes = models.refine_from_labels(session, spec, actor="test")
    assert (saved.version, saved.source, start.version) == (1, "labels", 0)
    assert notes["labels"]["matches"] == 2
    assert notes["labels"]["non_matches"] == 1
    assert notes["labels"]["is_u_updated"] is False
    hits = levels_hit(start.model, labels, is_match=True)
    # What the records say: one tax id, two phone numbers, no DUNS on either side.
    assert hits["tax_id"] == ["exact", "exact"]
    assert hits["phone"] == ["different", "different"]
    assert hits["duns"] == []
    strength = LABEL_PRIOR_STRENGTH
    for comparison in start.model.comparisons:
        before = start.model.levels_of(comparison.name)
        after = saved.model.levels_of(comparison.name)
        seen = hits[comparison.name]
        for old, new in zip(before, after, strict=True):
            assert new.u == pytest.approx(old.u)  # rejections leave u alone by default
            blended = (strength * old.m + seen.count(old.name)) / (strength + len(seen))
            assert new.m == pytest.approx(blended, rel=1e-4), (comparison.name, old.name)
            if seen.count(old.name):
                assert new.m > old.m, (comparison.name, old.name)
            elif seen:
                assert new.m < old.m, (comparison.name, old.name)
            else:
                assert new.m == pytest.approx(old.m), (comparison.name, old.name)


def test_rejections_move_u_only_when_asked(hub: Hub) -> None:
    store = small_store(hub)
    decide(hub, store.e1, store.s2.golden_id, "rejected", best_member=store.s2.id)
    spec = hub.specs.get_spec("vendor")
    models = hub.ingestor.models
    with hub.database.session() as session:
        with pytest.raises(InvalidInputError) as kept:
            models.refine_from_labels(session, spec, actor="test")
        start = models.active(session, spec)
        labels = steward_labels(session, spec)
        saved, notes = models.refine_from_labels(session, spec, actor="test", is_u_updated=True)
    assert kept.value.field == "entityType"
    assert (notes["labels"]["matches"], notes["labels"]["non_matches"]) == (0, 1)
    hits = levels_hit(start.model, labels, is_match=False)
    assert hits["phone"] and hits["name"]
    for name, seen in hits.items():
        for old, new in zip(start.model.levels_of(name), saved.model.levels_of(name), strict=True):
            assert new.m == pytest.approx(old.m)
            if old.name in seen:
                assert new.u > old.u, (name, old.name)
            elif not seen:
                assert new.u == pytest.approx(old.u), (name, old.name)


def test_pending_candidates_are_no_labels(hub: Hub) -> None:
    store = small_store(hub)
    decide(hub, store.s2, store.e1.golden_id, "pending", best_member=store.e1.id)
    spec = hub.specs.get_spec("vendor")
    with hub.database.session() as session:
        assert steward_labels(session, spec) == []
        with pytest.raises(InvalidInputError) as raised:
            hub.ingestor.models.refine_from_labels(session, spec, actor="test")
        assert hub.ingestor.models.history(session, spec) == []
    assert raised.value.field == "entityType"


def test_estimate_refines_em_by_the_labels(hub: Hub) -> None:
    store = small_store(hub)
    spec = hub.specs.get_spec("vendor")
    models = hub.ingestor.models
    with hub.database.session() as session:
        plain, plain_notes = models.estimate(session, spec, actor="test")
    assert plain.source == "em"
    assert (plain_notes["labels"]["matches"], plain_notes["labels"]["non_matches"]) == (0, 0)
    decide_all(hub, store)
    with hub.database.session() as session:
        start = models.active(session, spec)  # the defaults: nothing was activated
        labels = steward_labels(session, spec)
        em, _ = estimate_model(session, spec, start.model)
        saved, notes = models.estimate(session, spec, actor="test")
    assert (saved.version, saved.source) == (2, "em+labels")
    assert (notes["labels"]["matches"], notes["labels"]["non_matches"]) == (2, 1)
    assert_same_parameters(saved.model, update_from_labels(em, labels, is_u_updated=False))
    assert saved.model.to_dict() != em.to_dict()
    for comparison in em.comparisons:
        us = [lv.u for lv in saved.model.levels_of(comparison.name)]
        assert us == pytest.approx([lv.u for lv in em.levels_of(comparison.name)])


def test_labels_compare_context_views(hub: Hub) -> None:
    north, south = "0860004000242", "0860004000495"
    ingest(
        hub,
        RecordInput("location", "ERP", "HHN", {"name": "HARBOR NORTH", "gln": north}),
        RecordInput("location", "ERP", "HHS", {"name": "HARBOR SOUTH", "gln": south}),
        RecordInput("location", "ERP", "HHN001", {"name": "EMERGENCY DEPT", "parent": "HHN"}),
        RecordInput("location", "ERP", "HHS001", {"name": "EMERGENCY DEPT", "parent": "HHS"}),
    )
    north_dept, south_dept = record_of(hub, "ERP", "HHN001"), record_of(hub, "ERP", "HHS001")
    assert north_dept.golden_id != south_dept.golden_id
    decide(hub, south_dept, north_dept.golden_id, "rejected", best_member=north_dept.id)
    with hub.database.read_session() as session:
        (label,) = steward_labels(session, hub.specs.get_spec("location"))
        public = {
            g.id: g.public_id
            for g in session.scalars(
                select(GoldenRecord).where(GoldenRecord.entity_type == "location")
            )
        }
    # Stored, a reference is the parent's source id; compared, its golden record.
    assert isinstance(south_dept.standardized["parent"], dict)
    assert label.left["parent"] == public[record_of(hub, "ERP", "HHS").golden_id]
    assert label.right["parent"] == public[record_of(hub, "ERP", "HHN").golden_id]
    assert label.is_match is False


def test_em_compares_resolved_parents_not_raw_references(hub: Hub) -> None:
    # Two facilities, each with departments that two systems spell alike: EM must see the
    # departments' parents as golden records (levels of the parent comparison), not the
    # raw {system, source_id} references, which every comparison would read as missing.
    glns = ["0860004000242", "0860004000495", "0860004000716"]
    records = []
    for f, gln in enumerate(glns):
        records.append(RecordInput("location", "ERP", f"F{f}", {"name": f"HOSP {f}", "gln": gln}))
        for d, name in enumerate(["EMERGENCY DEPT", "PHARMACY", "RADIOLOGY", "ICU"]):
            for system in ("ERP", "EHR"):
                records.append(
                    RecordInput(
                        "location",
                        system,
                        f"{system}-{f}-{d}",
                        {"name": name, "parent": {"system": "ERP", "source_id": f"F{f}"}},
                    )
                )
    ingest(hub, *records)
    spec = hub.specs.get_spec("location")
    assert spec.matching is not None
    with hub.database.session() as session:
        start = hub.ingestor.models.active(session, spec).model
        context = ContextView(hub.ingestor.codes(session), hub.specs)
        model, notes = estimate_model(session, spec, start, context=context, u_pairs=2000)
    assert notes["candidate_pairs"] > 0
    parent = next(c.name for c in spec.matching.comparisons if isinstance(c, ReferenceComparison))
    levels = {lv.name: lv for lv in model.levels_of(parent)}
    # Seen by EM (pairs of one facility and of two): not reset to uniform for want of any
    # observed level, as a comparison whose values all read as missing is.
    ms = [lv.m for lv in levels.values()]
    assert max(ms) - min(ms) > 0.1
    assert levels["same"].m > 0.01 and levels["different"].m > 0.01


def test_the_active_model_stays_the_same_object_while_its_version_does(hub: Hub) -> None:
    """What matching keeps per model (prepared candidates, rule plans) is keyed by the
    model object: reading the active version again once the short cache expires gives the
    same object, and another version a new one (it used to be rebuilt every 10 s, and
    every prepared candidate with it)."""
    models = hub.ingestor.models
    models.cache_seconds = 0.0  # read the store every time
    spec = hub.specs.get_spec("vendor")
    with hub.database.session() as session:
        first = models.active(session, spec)
        assert models.active(session, spec) is first  # the defaults, read again
        saved = models.save(
            session, spec, first.model, source="manual", actor="test", activate=True
        )
        second = models.active(session, spec)
        assert second is not first and second.version == saved.version == 1
        assert models.active(session, spec) is second
        models.activate(session, spec, 0)
        assert models.active(session, spec).version == 0
