"""Context as match evidence: parents through the crosswalk, codes through reference data.

Hand-made cases, each on SQLite and PostgreSQL: a department matched only within its
facility; a cost-center code repeated in two companies never merged; an unmapped value
reported and not matched on; a parent merge re-evaluating its children; a parent arriving
after its children; the bulk path agreeing with record-by-record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import strawberry
from sqlalchemy import select

from matchers import MatchModel, normalize_unit_name, reset_unit_vocabulary
from mdm.api.context import Context
from mdm.api.quality import QualityQuery
from mdm.auth import Principal, Role
from mdm.bulk import BulkLoader, match_alone_children
from mdm.context import sibling_records
from mdm.errors import MdmError
from mdm.hub import Hub, load_site_vocabulary
from mdm.ingest import RecordInput
from mdm.matching import CandidateRecord
from mdm.reevaluate import backlog
from mdm.reference import load_reference_files, unmapped_values
from mdm.settings import Settings
from mdm.store import GoldenRecord, MatchCandidate, Reevaluation, SourceRecord

CODES = """code_set,code,display
company,1000,Harbor Health North
company,2000,Harbor Health South
location_type,FACILITY,Facility
location_type,DEPARTMENT,Department
"""
MAPS = """code_set,system,source_value,code
company,PROCUREMENT,HHN,1000
company,PROCUREMENT,HHS,2000
location_type,EHR,si,FACILITY
location_type,EHR,wa,DEPARTMENT
"""


def load_codes(hub: Hub, folder: Path) -> None:
    (folder / "code_sets.csv").write_text(CODES)
    (folder / "transcodings.csv").write_text(MAPS)
    with hub.database.session() as session:
        load_reference_files(session, [folder], actor="test")


def ingest(hub: Hub, *records: RecordInput) -> None:
    with hub.database.session() as session:
        for record in records:
            hub.ingestor.ingest(session, record, actor="test")


def golden_of(hub: Hub, entity_type: str, system: str, source_id: str) -> int:
    with hub.database.read_session() as session:
        found = session.scalar(
            select(SourceRecord.golden_id).where(
                SourceRecord.entity_type == entity_type,
                SourceRecord.system == system,
                SourceRecord.source_id == source_id,
            )
        )
    assert found is not None
    return int(found)


def facility(system: str, source_id: str, name: str, gln: str, **extra: Any) -> RecordInput:
    kind = "si" if system == "EHR" else "FACILITY"
    attributes = {"name": name, "location_type": kind, "gln": gln, **extra}
    return RecordInput("location", system, source_id, attributes)


def department(system: str, source_id: str, name: str, parent: str | None) -> RecordInput:
    kind = "wa" if system == "EHR" else "DEPARTMENT"
    attributes: dict[str, Any] = {"name": name, "location_type": kind}
    if parent is not None:
        attributes["parent"] = parent
    return RecordInput("location", system, source_id, attributes)


def cost_center(system: str, source_id: str, code: str, name: str, company: str) -> RecordInput:
    attributes = {"code": code, "name": name, "company": company}
    return RecordInput("cost_center", system, source_id, attributes)


NORTH_GLN = "0860004000242"
SOUTH_GLN = "0860004000495"


def two_hospitals(hub: Hub) -> None:
    ingest(
        hub,
        facility("ERP", "HHN", "HARBOR HEALTH NORTH MEDICAL CTR", NORTH_GLN),
        facility("EHR", "F1", "Harbor Health North Medical Center", NORTH_GLN),
        facility("ERP", "HHS", "HARBOR HEALTH SOUTH MEDICAL CTR", SOUTH_GLN),
        facility("EHR", "F2", "Harbor Health South Medical Center", SOUTH_GLN),
    )


def test_a_department_matches_only_within_its_facility(hub: Hub, tmp_path: Path) -> None:
    load_codes(hub, tmp_path)
    two_hospitals(hub)
    assert golden_of(hub, "location", "ERP", "HHN") == golden_of(hub, "location", "EHR", "F1")
    ingest(
        hub,
        department("ERP", "HHN001", "EMERGENCY DEPT", "HHN"),
        department("ERP", "HHS001", "EMERGENCY DEPT", "HHS"),
        department("EHR", "D1", "ED", "F1"),  # no address of its own: only the parent tells
        department("EHR", "D2", "Emergency Department", "F2"),
    )
    north = golden_of(hub, "location", "ERP", "HHN001")
    south = golden_of(hub, "location", "ERP", "HHS001")
    assert north != south
    assert golden_of(hub, "location", "EHR", "D1") == north
    assert golden_of(hub, "location", "EHR", "D2") == south
    # The explanation says why: the parents' golden records, level and weight.
    with hub.database.read_session() as session:
        preview = hub.ingestor.matcher.score(  # type: ignore[attr-defined]
            session,
            hub.specs.get_spec("location"),
            {
                "name": "ED",
                "location_type": "DEPARTMENT",
                "parent": {"system": "EHR", "source_id": "F1"},
            },
            None,
            ["b:unit_name:EMERGENCY"],
            system="EHR",
        )
    best = {c.golden_id: c for c in preview}
    parent_level = {c["comparison"]: c["level"] for c in best[north].explanation["contributions"]}[
        "parent"
    ]
    assert parent_level == "same"
    if south in best:
        assert best[south].score < 0.8
        assert "parent.different" in best[south].explanation["vetoed_by"]


def test_the_same_cost_center_code_in_two_companies_is_never_merged(
    hub: Hub, tmp_path: Path
) -> None:
    load_codes(hub, tmp_path)
    ingest(
        hub,
        RecordInput(
            "cost_center",
            "ERP",
            "1000-4010",
            {"code": "4010", "name": "PHARMACY", "company": "1000"},
        ),
        RecordInput(
            "cost_center",
            "ERP",
            "2000-4010",
            {"code": "4010", "name": "PHARMACY", "company": "2000"},
        ),
        RecordInput(
            "cost_center",
            "PROCUREMENT",
            "P1",
            {"code": "4010", "name": "Pharmacy", "company": "HHS"},
        ),
    )
    first = golden_of(hub, "cost_center", "ERP", "1000-4010")
    second = golden_of(hub, "cost_center", "ERP", "2000-4010")
    assert first != second
    assert golden_of(hub, "cost_center", "PROCUREMENT", "P1") == second  # HHS -> 2000


def test_an_unmapped_value_is_reported_and_never_matched_on(hub: Hub, tmp_path: Path) -> None:
    load_codes(hub, tmp_path)
    ingest(
        hub,
        RecordInput(
            "cost_center",
            "ERP",
            "1000-7010",
            {"code": "7010", "name": "4 NORTH", "company": "1000"},
        ),
        RecordInput(
            "cost_center",
            "ERP",
            "2000-7010",
            {"code": "7010", "name": "4 NORTH", "company": "2000"},
        ),
        # "HH-X" is no company code, has no transcoding and is no company's name.
        RecordInput(
            "cost_center",
            "PROCUREMENT",
            "P9",
            {"code": "7010", "name": "4 North", "company": "HH-X"},
        ),
    )
    with hub.database.read_session() as session:
        found = unmapped_values(session, system="PROCUREMENT")
        row = session.scalar(select(SourceRecord).where(SourceRecord.source_id == "P9"))
        assert row is not None
        assert row.standardized["company"] == "HH-X"  # kept as written
        assert any(f["code"] == "UNMAPPED_VALUE" for f in row.findings)
    assert [(u.attribute, u.value, u.count) for u in found] == [("company", "HH-X", 1)]
    # Code and name agree with both companies' cost centers: with the company unknown,
    # neither is sure, so the record is not merged into either (at best a steward sees it).
    p9 = golden_of(hub, "cost_center", "PROCUREMENT", "P9")
    assert p9 not in {
        golden_of(hub, "cost_center", "ERP", "1000-7010"),
        golden_of(hub, "cost_center", "ERP", "2000-7010"),
    }


def test_a_company_written_as_its_name_is_evidence_not_a_transcoding(
    hub: Hub, tmp_path: Path
) -> None:
    load_codes(hub, tmp_path)
    ingest(
        hub,
        cost_center("ERP", "1000-8010", "8010", "MATERIALS MGMT", "1000"),
        cost_center("ERP", "2000-8010", "8010", "MATERIALS MGMT", "2000"),
        cost_center("PROCUREMENT", "P2", "8010", "Materials Management", "Harbor Health South"),
    )
    assert golden_of(hub, "cost_center", "PROCUREMENT", "P2") == golden_of(
        hub, "cost_center", "ERP", "2000-8010"
    )
    with hub.database.read_session() as session:
        row = session.scalar(select(SourceRecord).where(SourceRecord.source_id == "P2"))
        assert row is not None
        assert row.standardized["company"] == "HARBOR HEALTH SOUTH"  # still flagged, not fixed
        assert [f["code"] for f in row.findings] == ["UNMAPPED_VALUE"]


def test_a_company_known_by_its_name_meets_its_cost_centers_when_the_code_is_everywhere(
    hub: Hub, tmp_path: Path
) -> None:
    """Cost-center code 8010 is in every company: its block is too large to be used. A
    record whose company is written as the company's name still meets the cost centers of
    that company, through the keys it would have with the company's code."""
    load_codes(hub, tmp_path)
    fillers = [
        cost_center("ERP", f"X{k:03d}-8010", "8010", "PHARMACY", f"X{k:03d}") for k in range(210)
    ]
    with hub.database.session() as session:
        hub.ingestor.ingest_many(session, fillers, actor="test", enforce_batch_limit=False)
    ingest(
        hub,
        cost_center("ERP", "2000-8010", "8010", "MATERIALS MGMT", "2000"),
        cost_center(
            "PROCUREMENT", "P2", "8010", "Materials Management Logistics", "Harbor Health South"
        ),
    )
    assert golden_of(hub, "cost_center", "PROCUREMENT", "P2") == golden_of(
        hub, "cost_center", "ERP", "2000-8010"
    )


@pytest.mark.parametrize("per_change", [1_000, 1])
def test_a_parent_merge_re_evaluates_its_children(
    hub: Hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, per_change: int
) -> None:
    monkeypatch.setattr("mdm.reevaluate.CHILDREN_PER_CHANGE", per_change)
    load_codes(hub, tmp_path)
    ingest(
        hub,
        facility("ERP", "HHN", "HARBOR HEALTH NORTH MEDICAL CTR", NORTH_GLN),
        facility("EHR", "F1", "Harbor Health North Hospital", "0860004000297"),
        department("ERP", "HHN001", "PHARMACY", "HHN"),
        department("EHR", "D1", "Pharm", "F1"),
    )
    # The two facilities are not known to be one (their GLNs differ): nor are the pharmacies.
    assert golden_of(hub, "location", "ERP", "HHN001") != golden_of(hub, "location", "EHR", "D1")
    # The EHR corrects its facility's GLN: the facilities merge, and the children that
    # compared through them are queued ...
    ingest(hub, facility("EHR", "F1", "Harbor Health North Hospital", NORTH_GLN))
    assert golden_of(hub, "location", "ERP", "HHN") == golden_of(hub, "location", "EHR", "F1")
    with hub.database.read_session() as session:
        waiting = backlog(session)
    assert waiting.pending >= 1
    # ... and, once worked off (one child per change, then from the backlog, when the
    # bound is 1), the departments under the one facility are one department.
    worked = []
    while step := _work(hub):
        worked.append(step)
    assert worked and (len(worked) == 1) == (per_change > 1)
    assert golden_of(hub, "location", "ERP", "HHN001") == golden_of(hub, "location", "EHR", "D1")
    with hub.database.read_session() as session:
        assert backlog(session).pending == 0
        reasons = set(session.scalars(select(Reevaluation.reason)))
    assert "parent_merged" in reasons
    assert ("expand_children" in reasons) == (per_change == 1)


def _work(hub: Hub) -> int:
    with hub.database.session() as session:
        return hub.ingestor.work_backlog(session, _ctx(), limit=100)


def test_a_parent_arriving_after_its_children_resolves_them(hub: Hub, tmp_path: Path) -> None:
    load_codes(hub, tmp_path)
    ingest(
        hub,
        facility("ERP", "HHN", "HARBOR HEALTH NORTH MEDICAL CTR", NORTH_GLN),
        department("ERP", "HHN001", "PHARMACY", "HHN"),
        department("EHR", "D1", "Pharmacy", "F1"),  # F1 is not in the store yet
    )
    assert golden_of(hub, "location", "ERP", "HHN001") != golden_of(hub, "location", "EHR", "D1")
    ingest(hub, facility("EHR", "F1", "Harbor Health North Medical Center", NORTH_GLN))
    # The child is queued, and decided again when the backlog is worked off (by the
    # server's background worker, a load's end, or `mdm match reevaluate`).
    with hub.database.session() as session:
        assert hub.ingestor.work_backlog(session, _ctx(), limit=10) == 1
    assert golden_of(hub, "location", "ERP", "HHN001") == golden_of(hub, "location", "EHR", "D1")


def test_a_parent_with_many_children_queues_them_a_bounded_number_at_a_time(
    hub: Hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The change queues the first children; a backlog row queues the next ones when it is
    worked off, until every child was decided again, each once."""
    monkeypatch.setattr("mdm.reevaluate.CHILDREN_PER_CHANGE", 1)
    load_codes(hub, tmp_path)
    names = {"1": ("PHARMACY", "Pharmacy"), "2": ("RADIOLOGY", "Radiology"), "3": ("LAB", "Lab")}
    ingest(hub, facility("ERP", "HHN", "HARBOR HEALTH NORTH MEDICAL CTR", NORTH_GLN))
    for n, (erp, ehr) in names.items():
        ingest(
            hub, department("ERP", f"HHN00{n}", erp, "HHN"), department("EHR", f"D{n}", ehr, "F1")
        )
    ingest(hub, facility("EHR", "F1", "Harbor Health North Medical Center", NORTH_GLN))
    with hub.database.read_session() as session:
        waiting = session.scalars(select(Reevaluation.reason).order_by(Reevaluation.id)).all()
    assert waiting == ["parent_arrived", "expand_children"]
    rounds = []
    while True:
        with hub.database.session() as session:
            step = hub.ingestor.work_backlog(session, _ctx(), limit=10)
        if not step:
            break
        rounds.append(step)
    assert rounds == [2, 2, 1]  # D1 + expansion, D2 + expansion, D3
    with hub.database.read_session() as session:
        decided = session.scalars(
            select(Reevaluation.source_record_id).where(Reevaluation.reason == "parent_arrived")
        ).all()
        assert backlog(session).pending == 0
    assert len(decided) == len(set(decided)) == 3
    for n in names:
        assert golden_of(hub, "location", "ERP", f"HHN00{n}") == golden_of(
            hub, "location", "EHR", f"D{n}"
        )


def test_cannot_links_hold_when_children_are_re_evaluated(hub: Hub, tmp_path: Path) -> None:
    load_codes(hub, tmp_path)
    ingest(
        hub,
        facility("ERP", "HHN", "HARBOR HEALTH NORTH MEDICAL CTR", NORTH_GLN),
        facility("EHR", "F1", "Harbor Health North Hospital", "0860004000297"),
        department("ERP", "HHN001", "PHARMACY", "HHN"),
        department("EHR", "D1", "Pharm", "F1"),
    )
    erp = golden_of(hub, "location", "ERP", "HHN001")
    with hub.database.session() as session:
        record = session.scalar(select(SourceRecord).where(SourceRecord.source_id == "D1"))
        assert record is not None
        session.add(
            MatchCandidate(
                entity_type="location",
                source_record_id=record.id,
                golden_id=erp,
                score=0.5,
                explanation={},
                status="rejected",
            )
        )
    ingest(hub, facility("EHR", "F1", "Harbor Health North Hospital", NORTH_GLN))
    with hub.database.session() as session:
        hub.ingestor.work_backlog(session, _ctx(), limit=100)
    assert golden_of(hub, "location", "EHR", "D1") != golden_of(hub, "location", "ERP", "HHN001")


def test_children_loaded_before_their_parents_match_through_them_after_a_bulk_load(
    hub: Hub, tmp_path: Path
) -> None:
    """Locations load in bulk before cost centers: two departments that only their cost
    center ties together stay apart until the cost centers are in, then their sibling pass
    merges them; a steward's rejection between them holds through it."""
    load_codes(hub, tmp_path)
    shared = {"system": "ERP", "source_id": "CC1"}
    locations = [
        facility("ERP", "HHN", "HARBOR HEALTH NORTH MEDICAL CTR", NORTH_GLN),
        facility("EHR", "F1", "Harbor Health North Medical Center", NORTH_GLN),
        _with(department("ERP", "HHN001", "EMERGENCY DEPT", "HHN"), cost_center="CC1"),
        _with(department("EHR", "D1", "EC", "F1"), cost_center=shared),
        _with(department("ERP", "HHN002", "PHARMACY", "HHN"), cost_center="CC2"),
        _with(
            department("EHR", "D2", "INPT DISPENSING", "F1"),
            cost_center=shared | {"source_id": "CC2"},
        ),
    ]
    _bulk(hub, "location", locations)
    assert golden_of(hub, "location", "ERP", "HHN") == golden_of(hub, "location", "EHR", "F1")
    assert golden_of(hub, "location", "ERP", "HHN001") != golden_of(hub, "location", "EHR", "D1")
    assert golden_of(hub, "location", "ERP", "HHN002") != golden_of(hub, "location", "EHR", "D2")
    with hub.database.session() as session:  # a steward said: not the same pharmacy
        record = session.scalar(select(SourceRecord).where(SourceRecord.source_id == "D2"))
        assert record is not None
        session.add(
            MatchCandidate(
                entity_type="location",
                source_record_id=record.id,
                golden_id=golden_of(hub, "location", "ERP", "HHN002"),
                score=0.5,
                explanation={},
                status="rejected",
            )
        )
    _bulk(
        hub,
        "cost_center",
        [
            cost_center("ERP", "CC1", "4010", "EMERGENCY", "1000"),
            cost_center("ERP", "CC2", "4020", "PHARMACY", "1000"),
        ],
    )
    with hub.database.session() as session:
        done = match_alone_children(
            session, hub.ingestor, hub.ingestor.specs["cost_center"], _ctx()
        )
    assert (done.merged, done.refused) == (1, 1)
    assert golden_of(hub, "location", "ERP", "HHN001") == golden_of(hub, "location", "EHR", "D1")
    assert golden_of(hub, "location", "ERP", "HHN002") != golden_of(hub, "location", "EHR", "D2")
    with hub.database.read_session() as session:  # the refused match waits for a steward
        pending = session.execute(
            select(SourceRecord.source_id, MatchCandidate.golden_id, MatchCandidate.explanation)
            .join(SourceRecord, SourceRecord.id == MatchCandidate.source_record_id)
            .where(MatchCandidate.status == "pending")
        ).all()
    assert len(pending) == 1  # once, from one side of the pair
    (source_id, golden_id, explanation) = pending[0]
    other = {"HHN002": ("EHR", "D2"), "D2": ("ERP", "HHN002")}[source_id]
    assert golden_id == golden_of(hub, "location", *other)
    assert explanation["path"] == "siblings"
    # Explained as record by record explains it: every comparison, the parents agreeing.
    by_comparison = {c["comparison"]: c for c in explanation["contributions"]}
    assert set(by_comparison) == {c.name for c in hub.specs["location"].matching.comparisons}
    assert by_comparison["cost_center"]["level"] == "same"


def _with(record: RecordInput, **attributes: Any) -> RecordInput:
    return RecordInput(
        record.entity_type, record.system, record.source_id, record.attributes | attributes
    )


def _bulk(hub: Hub, entity_type: str, records: list[RecordInput]) -> None:
    BulkLoader(hub.ingestor).load(
        hub.database, hub.ingestor.specs[entity_type], records, actor="test", correlation_id=None
    )


def _ctx() -> Any:
    from mdm.golden import ChangeContext

    return ChangeContext("test", None)


def test_a_site_vocabulary_extends_the_hospital_one(tmp_path: Path) -> None:
    site = tmp_path / "vocabulary.tsv"
    site.write_text("# site abbreviations\nEC\tEMERGENCY DEPARTMENT\nMMS\tMATERIALS MANAGEMENT\n")
    before = normalize_unit_name("HHE EC")
    try:
        assert load_site_vocabulary(str(site)) == 2
        assert normalize_unit_name("HHE EC") == "HHE EMERGENCY DEPARTMENT"
        assert normalize_unit_name("MMS") == normalize_unit_name("Materials Management")
    finally:
        reset_unit_vocabulary()
    assert normalize_unit_name("HHE EC") == before


def test_a_malformed_site_vocabulary_names_file_and_line(tmp_path: Path) -> None:
    site = tmp_path / "vocabulary.tsv"
    site.write_text("EC\tEMERGENCY DEPARTMENT\nMMS MATERIALS MANAGEMENT\n")
    with pytest.raises(MdmError) as caught:
        load_site_vocabulary(str(site))
    assert caught.value.code == "INVALID_VOCABULARY"
    assert f"{site}:2" in caught.value.message
    assert normalize_unit_name("EC") == "EC"  # nothing of the file applied


BACKLOG = "{ reevaluationBacklog { pending oldest byEntityType { entityType pending } } }"


def test_the_backlog_is_visible_in_graphql(hub: Hub, tmp_path: Path) -> None:
    load_codes(hub, tmp_path)
    ingest(
        hub,
        facility("ERP", "HHN", "HARBOR HEALTH NORTH MEDICAL CTR", NORTH_GLN),
        department("EHR", "D1", "Pharmacy", "F1"),
        department("EHR", "D2", "Radiology", "F1"),
    )
    schema = strawberry.Schema(query=QualityQuery)
    reader = Context(hub=hub, principal=Principal("t", Role.READER), request_id="r")
    empty = schema.execute_sync(BACKLOG, context_value=reader)
    assert empty.errors is None and empty.data is not None
    assert empty.data["reevaluationBacklog"]["pending"] == 0
    # The facility both departments refer to arrives: both wait to be decided again.
    ingest(hub, facility("EHR", "F1", "Harbor Health North Medical Center", NORTH_GLN))
    waiting = schema.execute_sync(BACKLOG, context_value=reader)
    assert waiting.errors is None and waiting.data is not None
    found = waiting.data["reevaluationBacklog"]
    assert found["pending"] == 2
    assert found["byEntityType"] == [{"entityType": "location", "pending": 2}]
    assert found["oldest"] is not None


UNRESOLVED = "{ unresolvedReferences { entityType parentType system count records examples } }"


def test_unresolved_references_are_reported_until_the_parent_arrives(
    hub: Hub, tmp_path: Path
) -> None:
    load_codes(hub, tmp_path)
    ingest(
        hub,
        department("EHR", "D1", "Pharmacy", "F1"),
        department("EHR", "D2", "Radiology", "F1"),
        department("EHR", "D3", "Laboratory", "F9"),
    )
    schema = strawberry.Schema(query=QualityQuery)
    reader = Context(hub=hub, principal=Principal("t", Role.READER), request_id="r")
    waiting = schema.execute_sync(UNRESOLVED, context_value=reader)
    assert waiting.errors is None and waiting.data is not None
    assert waiting.data["unresolvedReferences"] == [
        {
            "entityType": "location",
            "parentType": "location",
            "system": "EHR",
            "count": 2,
            "records": 3,
            "examples": ["F1", "F9"],
        }
    ]
    ingest(hub, facility("EHR", "F1", "Harbor Health North Medical Center", NORTH_GLN))
    after = schema.execute_sync(UNRESOLVED, context_value=reader)
    assert after.data is not None
    (left,) = after.data["unresolvedReferences"]
    assert (left["count"], left["records"], left["examples"]) == (1, 1, ["F9"])


def _maker(system: str, source_id: str, name: str, tax_id: str) -> RecordInput:
    return RecordInput("vendor", system, source_id, {"name": name, "tax_id": tax_id})


def _glove(system: str, source_id: str, maker: str, **more: Any) -> RecordInput:
    return RecordInput(
        "item",
        system,
        source_id,
        {
            "description": "GLOVE EXAM NITRILE PF LG 100/BX",
            "manufacturer": maker,
            "manufacturer_name": "HALYARD HEALTH",
            "uom": "BX",
            **more,
        },
    )


def _levels(hub: Hub, record: RecordInput) -> tuple[dict[str, str | None], dict[str, Any]]:
    spec = hub.specs.get_spec("item")
    with hub.database.read_session() as session:
        from mdm.standardize import record_keys, standardize

        std = standardize(spec, record.attributes, system=record.system)
        (best, *_) = hub.ingestor.matcher.score(  # type: ignore[attr-defined]
            session, spec, std.values, None, record_keys(spec, std.values),
            system=record.system, explain_all=True,
        )  # fmt: skip
    return {c["comparison"]: c["level"] for c in best.explanation["contributions"]}, (
        best.explanation
    )


def test_an_item_compares_its_maker_as_a_golden_vendor(hub: Hub) -> None:
    # Two makers that the vendor match keeps apart (other tax ids), one of them known to
    # two systems under their own ids; the item's maker is read through the crosswalk.
    ingest(
        hub,
        _maker("ERP", "V1", "HALYARD HEALTH INC", "41-2847561"),
        _maker("PROCUREMENT", "S1", "Halyard Health, Inc.", "41-2847561"),
        _maker("ERP", "V2", "HALYARD HEALTH PRODUCTS LLC", "52-1234567"),
        _glove("ERP", "100", "V1"),
    )
    assert golden_of(hub, "vendor", "ERP", "V1") == golden_of(hub, "vendor", "PROCUREMENT", "S1")
    assert golden_of(hub, "vendor", "ERP", "V1") != golden_of(hub, "vendor", "ERP", "V2")
    same, _ = _levels(hub, _glove("PROCUREMENT", "CAT-1", "S1"))
    assert same["manufacturer"] == "same"
    other, explanation = _levels(hub, _glove("ERP", "101", "V2"))
    assert other["manufacturer"] == "different"
    assert "manufacturer.different" in explanation["vetoed_by"]
    # Makers known to differ keep look-alike items apart...
    ingest(hub, _glove("ERP", "101", "V2"))
    assert golden_of(hub, "item", "ERP", "101") != golden_of(hub, "item", "ERP", "100")
    # ...unless a GTIN says they are one product: merged, and the conflict shown.
    gtin = "10036000291459"
    ingest(hub, _glove("ERP", "102", "V1", gtin=gtin))
    conflict, explanation = _levels(hub, _glove("ERP", "103", "V2", gtin=gtin))
    assert conflict["gtin"] == "exact" and conflict["manufacturer"] == "different"
    assert "manufacturer.different" in explanation["conflicts"]
    ingest(hub, _glove("ERP", "103", "V2", gtin=gtin))
    assert golden_of(hub, "item", "ERP", "103") == golden_of(hub, "item", "ERP", "102")


def test_siblings_are_the_children_of_every_member_of_the_parent(hub: Hub, tmp_path: Path) -> None:
    load_codes(hub, tmp_path)
    two_hospitals(hub)
    ingest(
        hub,
        department("ERP", "HHN001", "EMERGENCY DEPT", "HHN"),
        department("EHR", "D9", "Radiology", "F1"),  # under the EHR's member of the same facility
        department("ERP", "HHS001", "EMERGENCY DEPT", "HHS"),  # another facility
        facility("ERP", "HHN-ANNEX", "HARBOR HEALTH NORTH ANNEX", "0860004000013", parent="HHN"),
    )
    spec = hub.specs.get_spec("location")
    with hub.database.read_session() as session:
        ids = {
            sid: rid
            for sid, rid in session.execute(select(SourceRecord.source_id, SourceRecord.id))
        }
        north = session.get(GoldenRecord, golden_of(hub, "location", "ERP", "HHN"))
        assert north is not None
        view = {"parent": north.public_id, "location_type": "DEPARTMENT"}
        # Departments only (the annex is a facility), through both systems' members.
        assert sibling_records(session, spec, view, limit=10) == sorted([ids["HHN001"], ids["D9"]])
        assert sibling_records(session, spec, {**view, "location_type": None}, 10) == sorted(
            [ids["HHN001"], ids["D9"], ids["HHN-ANNEX"]]
        )
        # A parent with more children than the limit is skipped, like an oversized block.
        assert sibling_records(session, spec, view, limit=2) == []
        assert sibling_records(session, spec, {**view, "parent": "LOC-NOSUCHID"}, 10) == []


@pytest.mark.parametrize(
    ("stored", "is_kept"),
    [
        pytest.param({"location_type": "DEPARTMENT"}, True, id="same-code"),
        pytest.param({"location_type": "FACILITY"}, False, id="other-code"),
        pytest.param({"location_type": None}, True, id="null"),
        pytest.param({}, True, id="missing"),
        pytest.param({"location_type": 7}, True, id="number"),
        pytest.param({"location_type": ["DEPARTMENT"]}, True, id="list"),
        pytest.param({"location_type": "department"}, True, id="the-code-in-other-case"),
        pytest.param({"location_type": "SPECIAL CARE"}, True, id="unmapped"),
    ],
)
def test_siblings_are_filtered_on_their_stored_kind_as_read_whole(
    hub: Hub, tmp_path: Path, stored: dict[str, Any], is_kept: bool
) -> None:
    """Only a child whose stored value reads as another code is left out: one with no
    value, or one that says nothing of its kind (unmapped), may be the newcomer's match."""
    load_codes(hub, tmp_path)
    two_hospitals(hub)
    ingest(
        hub,
        department("ERP", "HHN001", "EMERGENCY DEPT", "HHN"),
        department("EHR", "D9", "Radiology", "F1"),
    )
    with hub.database.session() as session:
        record = session.scalars(select(SourceRecord).where(SourceRecord.source_id == "D9")).one()
        values = {k: v for k, v in record.standardized.items() if k != "location_type"}
        record.standardized = {**values, **stored}
    spec = hub.specs.get_spec("location")
    with hub.database.read_session() as session:
        north = session.get(GoldenRecord, golden_of(hub, "location", "ERP", "HHN"))
        assert north is not None
        for kind in ("DEPARTMENT", None):
            view = {"parent": north.public_id, "location_type": kind}
            children = session.execute(
                select(SourceRecord.id, SourceRecord.standardized).where(
                    SourceRecord.source_id.in_(["HHN001", "D9"])
                )
            ).all()
            expected = sorted(
                rid
                for rid, whole in children
                if kind is None or whole.get("location_type") == kind or is_kept
            )
            codes = hub.ingestor.codes(session)
            assert sibling_records(session, spec, view, limit=10, codes=codes) == expected


def test_warming_prepares_every_placed_record_a_newcomer_would_meet_as_a_sibling(
    hub: Hub, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server prepares, before it serves, the records of types with sibling candidates:
    the first department of a facility then compares with its siblings without preparing
    any of them on the request path, and scores as a process that did not warm up."""
    load_codes(hub, tmp_path)
    two_hospitals(hub)
    ingest(
        hub,
        department("ERP", "HHN001", "EMERGENCY DEPT", "HHN"),
        department("ERP", "HHN002", "PHARMACY", "HHN"),
        department("ERP", "HHS001", "EMERGENCY DEPT", "HHS"),
        department("EHR", "D9", "Gift Shop", "F1"),
        RecordInput(
            "location",
            "ERP",
            "GONE",
            {"name": "OLD WING", "location_type": "DEPARTMENT", "parent": "HHN"},
        ),  # fmt: skip
    )
    ingest(hub, RecordInput("location", "ERP", "GONE", {}, is_deleted=True))
    spec = hub.specs.get_spec("location")
    newcomer = {
        "name": "ED",
        "location_type": "DEPARTMENT",
        "parent": {"system": "EHR", "source_id": "F1"},
    }

    def score(server: Hub) -> list[tuple[int, float]]:
        with server.database.session() as session:
            found = server.ingestor.matcher.score(  # type: ignore[attr-defined]
                session, spec, newcomer, None, [], system="EHR"
            )
        return [(c.golden_id, c.score) for c in found]

    prepared: list[Any] = []
    original = MatchModel.prepare

    def counting(model: MatchModel, record: Any) -> Any:
        prepared.append(record)
        return original(model, record)

    parsed: list[int] = []
    document = CandidateRecord.values

    def reading(candidate: CandidateRecord) -> Any:
        parsed.append(candidate.record_id)
        return document.fget(candidate)  # type: ignore[attr-defined]

    monkeypatch.setattr(MatchModel, "prepare", counting)
    monkeypatch.setattr(CandidateRecord, "values", property(reading))
    cold_server = Hub(Settings(database_url=database_url))
    warm_server = Hub(Settings(database_url=database_url))
    try:
        assert warm_server.warm_caches() == {"location": 8}  # 4 facilities, 4 live departments
        assert len(prepared) == 8
        prepared.clear()
        warm = score(warm_server)
        assert len(prepared) == 1  # the newcomer only: its siblings were prepared
        assert {golden_of(hub, "location", "ERP", "HHN001")} <= {g for g, _ in warm}
        # Only the candidates explained (in the review band or above) had their document
        # read: the others were scored from what warming kept.
        assert len(parsed) == len([g for g, p in warm if p >= 0.8]) >= 1
        prepared.clear()
        parsed.clear()
        assert score(cold_server) == warm
        assert len(prepared) > 1  # without warming, the siblings are prepared now
        assert len(parsed) > len([g for g, p in warm if p >= 0.8])
    finally:
        cold_server.close()
        warm_server.close()
