"""References as real feeds send them: a parent given by its code or its name within the
same system is located, and then works as a source id does (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from mdm.errors import MappingError
from mdm.golden import ChangeContext
from mdm.hub import Hub
from mdm.ingest import IngestOutcome, IngestStatus, RecordInput
from mdm.loader import find_mappings, load
from mdm.mapping import parse_mapping
from mdm.reference import load_reference_files
from mdm.store import SourceRecord

NORTH_GLN = "0860004000242"
SOUTH_GLN = "0860004000495"


def ingest(hub: Hub, *records: RecordInput) -> list[IngestOutcome]:
    with hub.database.session() as session:
        return [hub.ingestor.ingest(session, r, actor="test") for r in records]


def stored(hub: Hub, entity_type: str, system: str, source_id: str) -> SourceRecord:
    with hub.database.read_session() as session:
        row = session.scalar(
            select(SourceRecord).where(
                SourceRecord.entity_type == entity_type,
                SourceRecord.system == system,
                SourceRecord.source_id == source_id,
            )
        )
        assert row is not None
        session.expunge(row)
        return row


def load_codes(hub: Hub, folder: Path) -> None:
    (folder / "code_sets.csv").write_text(
        "code_set,code,display\nlocation_type,FACILITY,Facility\n"
        "location_type,DEPARTMENT,Department\n"
    )
    (folder / "transcodings.csv").write_text("code_set,system,source_value,code\n")
    with hub.database.session() as session:
        load_reference_files(session, [folder], actor="test")


def location(system: str, source_id: str, name: str, **attributes: Any) -> RecordInput:
    return RecordInput("location", system, source_id, {"name": name, **attributes})


def facilities(hub: Hub) -> None:
    ingest(
        hub,
        location("ERP", "HHN", "HARBOR HEALTH NORTH MEDICAL CTR", gln=NORTH_GLN,
                 location_type="FACILITY"),
        location("EHR", "F1", "Harbor Health North Medical Center", code="NMC", gln=NORTH_GLN,
                 location_type="FACILITY"),
        location("ERP", "HHS", "HARBOR HEALTH SOUTH MEDICAL CTR", gln=SOUTH_GLN,
                 location_type="FACILITY"),
        location("EHR", "F2", "Harbor Health South Medical Center", code="SMC", gln=SOUTH_GLN,
                 location_type="FACILITY"),
    )  # fmt: skip


def test_a_parent_given_by_code_resolves_and_is_evidence(hub: Hub, tmp_path: Path) -> None:
    load_codes(hub, tmp_path)
    facilities(hub)
    ingest(
        hub,
        location("ERP", "HHN001", "EMERGENCY DEPT", parent="HHN", location_type="DEPARTMENT"),
        location("ERP", "HHS001", "EMERGENCY DEPT", parent="HHS", location_type="DEPARTMENT"),
    )
    ed_north, ed_south = ingest(
        hub,
        # No address of its own: only the parent, given by its code, tells which ED.
        location("EHR", "D1", "ED", parent={"code": " nmc"}, location_type="DEPARTMENT"),
        location("EHR", "D2", "ED", parent={"code": "SMC"}, location_type="DEPARTMENT"),
    )
    assert ed_north.findings == ()
    assert stored(hub, "location", "EHR", "D1").standardized["parent"] == {
        "system": "EHR",
        "source_id": "F1",
    }
    assert stored(hub, "location", "EHR", "D1").raw["parent"] == {"code": " nmc"}
    north = stored(hub, "location", "ERP", "HHN001").golden_id
    south = stored(hub, "location", "ERP", "HHS001").golden_id
    assert north != south
    assert stored(hub, "location", "EHR", "D1").golden_id == north
    assert stored(hub, "location", "EHR", "D2").golden_id == south


def vendor(source_id: str, name: str) -> RecordInput:
    return RecordInput("vendor", "ERP", source_id, {"name": name})


def item(source_id: str, **attributes: Any) -> RecordInput:
    return RecordInput(
        "item", "ERP", source_id, {"description": "GLOVE EXAM NITRILE LG", **attributes}
    )


def test_a_manufacturer_given_by_name_resolves(hub: Hub) -> None:
    ingest(hub, vendor("V1", "Medline Industries, Inc."), vendor("V2", "Cardinal Health"))
    (outcome,) = ingest(hub, item("I1", manufacturer={"name": "MEDLINE INDUSTRIES"}))
    assert outcome.status is IngestStatus.CREATED and outcome.findings == ()
    assert stored(hub, "item", "ERP", "I1").standardized["manufacturer"] == {
        "system": "ERP",
        "source_id": "V1",
    }


@pytest.mark.parametrize(
    ("name", "why"),
    [
        pytest.param("Acme", "2 vendor records of ERP", id="ambiguous"),
        pytest.param("Zenith Surgical", "no vendor of ERP", id="unknown"),
    ],
)
def test_an_ambiguous_or_unknown_name_is_a_finding_never_a_rejection(
    hub: Hub, name: str, why: str
) -> None:
    ingest(hub, vendor("V1", "Acme Corp"), vendor("V2", "ACME CORPORATION"))
    (outcome,) = ingest(hub, item("I1", manufacturer={"name": name}))
    assert outcome.status is IngestStatus.CREATED
    (finding,) = outcome.findings
    assert finding["code"] == "UNRESOLVED_REFERENCE" and finding["attribute"] == "manufacturer"
    assert why in finding["message"]
    # Kept as given, never guessed.
    assert stored(hub, "item", "ERP", "I1").standardized["manufacturer"] == {
        "system": "ERP",
        "name": name,
    }


def test_a_child_given_before_its_parent_resolves_when_the_parent_arrives(
    hub: Hub, tmp_path: Path
) -> None:
    load_codes(hub, tmp_path)
    ingest(
        hub,
        location("ERP", "HHN", "HARBOR HEALTH NORTH MEDICAL CTR", gln=NORTH_GLN,
                 location_type="FACILITY"),
        location("ERP", "HHN001", "PHARMACY", parent="HHN", location_type="DEPARTMENT"),
    )  # fmt: skip
    (child,) = ingest(
        hub, location("EHR", "D1", "Pharmacy", parent={"code": "NMC"}, location_type="DEPARTMENT")
    )
    assert [f["code"] for f in child.findings] == ["UNRESOLVED_REFERENCE"]
    assert (
        stored(hub, "location", "EHR", "D1").golden_id
        != stored(hub, "location", "ERP", "HHN001").golden_id
    )
    ingest(
        hub,
        location("EHR", "F1", "Harbor Health North Medical Center", code="NMC", gln=NORTH_GLN,
                 location_type="FACILITY"),
    )  # fmt: skip
    row = stored(hub, "location", "EHR", "D1")
    assert row.standardized["parent"] == {"system": "EHR", "source_id": "F1"}
    assert row.findings == []
    with hub.database.session() as session:
        assert hub.ingestor.work_backlog(session, ChangeContext("test", None), limit=10) == 1
    assert (
        stored(hub, "location", "EHR", "D1").golden_id
        == stored(hub, "location", "ERP", "HHN001").golden_id
    )


def _mapping(attributes: dict[str, Any], entity_type: str = "location") -> dict[str, Any]:
    return {
        "system": {"code": "EHR"},
        "entity": [{"type": entity_type, "source_id": "ID", "attributes": attributes}],
    }


def test_a_mapping_says_what_a_reference_field_holds() -> None:
    mapping = parse_mapping(_mapping({"parent": {"field": "PARENT", "by": "code"}}))
    entity = mapping.entities[0]
    assert entity.attributes_of({"PARENT": "NMC"}) == {"parent": {"code": "NMC"}}
    by_name = parse_mapping(
        _mapping({"manufacturer": {"field": "MFR", "by": "name", "system": "ERP"}}, "item")
    )
    assert by_name.entities[0].attributes_of({"MFR": "Medline"}) == {
        "manufacturer": {"system": "ERP", "name": "Medline"}
    }


@pytest.mark.parametrize(
    ("attributes", "entity_type", "field", "message"),
    [
        pytest.param(
            {"parent": {"field": "P", "by": "number"}},
            "location",
            "entity[0].attributes.parent.by",
            "'number' is not one of source_id, code, name",
            id="unknown-by",
        ),
        pytest.param(
            {"manufacturer": {"field": "M", "by": "code"}},
            "item",
            "entity[0].attributes.manufacturer.by",
            "a vendor has no code",
            id="parent-without-code",
        ),
        pytest.param(
            {"name": {"field": "N", "by": "code"}},
            "location",
            "entity[0].attributes.name",
            "by = ... is only for references",
            id="not-a-reference",
        ),
    ],
)
def test_a_bad_by_is_an_invalid_mapping_naming_the_field(
    attributes: dict[str, Any], entity_type: str, field: str, message: str
) -> None:
    with pytest.raises(MappingError) as caught:
        parse_mapping(_mapping(attributes, entity_type))
    assert caught.value.code == "INVALID_MAPPING"
    assert caught.value.field == field and message in caught.value.message


def _write_feed(folder: Path) -> None:
    (folder / "erp.toml").write_text(
        """
[system]
code = "ERP"

[[entity]]
type = "vendor"
file = "vendors.csv"
source_id = "VID"
[entity.attributes]
name = "NAME"

[[entity]]
type = "location"
file = "locations.csv"
source_id = "LID"
[entity.attributes]
code = "CODE"
name = "NAME"
location_type = "TYPE"
parent = { field = "PARENT", by = "code" }

[[entity]]
type = "item"
file = "items.csv"
source_id = "IID"
[entity.attributes]
description = "DESC"
manufacturer = { field = "MFR", by = "name" }
"""
    )
    (folder / "vendors.csv").write_text(
        'VID,NAME\nV1,"Medline Industries, Inc."\nV2,Cardinal Health\n'
    )
    (folder / "locations.csv").write_text(
        "LID,CODE,NAME,TYPE,PARENT\n"
        "D1,ED,Emergency Department,DEPARTMENT,NMC\n"  # before its parent in the file
        "F1,NMC,Harbor Health North Medical Center,FACILITY,\n"
        "D2,RX,Pharmacy,DEPARTMENT,XYZ\n"
    )
    (folder / "items.csv").write_text(
        "IID,DESC,MFR\nI1,GLOVE EXAM NITRILE LG,Medline Industries\nI2,GOWN ISOLATION,Nobody Inc\n"
    )


def test_a_first_load_locates_parents_by_code_and_by_name(hub: Hub, tmp_path: Path) -> None:
    _write_feed(tmp_path)
    load(hub.database, hub.ingestor, find_mappings(tmp_path))
    ed = stored(hub, "location", "ERP", "D1")
    assert ed.standardized["parent"] == {"system": "ERP", "source_id": "F1"}
    assert ed.findings == []
    rx = stored(hub, "location", "ERP", "D2")
    assert rx.standardized["parent"] == {"system": "ERP", "code": "XYZ"}
    assert [f["code"] for f in rx.findings] == ["UNRESOLVED_REFERENCE"]
    glove = stored(hub, "item", "ERP", "I1")
    assert glove.standardized["manufacturer"] == {"system": "ERP", "source_id": "V1"}
    assert [f["code"] for f in stored(hub, "item", "ERP", "I2").findings] == [
        "UNRESOLVED_REFERENCE"
    ]


def test_items_loaded_before_their_makers_resolve_when_the_makers_load(
    hub: Hub, tmp_path: Path
) -> None:
    _write_feed(tmp_path)
    items = tmp_path / "items.toml"
    items.write_text(
        '[system]\ncode = "ERP"\n[[entity]]\ntype = "item"\nfile = "items.csv"\n'
        'source_id = "IID"\n[entity.attributes]\ndescription = "DESC"\n'
        'manufacturer = { field = "MFR", by = "name" }\n'
    )
    vendors = tmp_path / "vendors.toml"
    vendors.write_text(
        '[system]\ncode = "ERP"\n[[entity]]\ntype = "vendor"\nfile = "vendors.csv"\n'
        'source_id = "VID"\n[entity.attributes]\nname = "NAME"\n'
    )
    load(hub.database, hub.ingestor, find_mappings(items))
    assert stored(hub, "item", "ERP", "I1").standardized["manufacturer"] == {
        "system": "ERP",
        "name": "Medline Industries",
    }
    # A later (bulk) load of the makers: the items waiting for them refer to them now.
    load(hub.database, hub.ingestor, find_mappings(vendors))
    glove = stored(hub, "item", "ERP", "I1")
    assert glove.standardized["manufacturer"] == {"system": "ERP", "source_id": "V1"}
    assert glove.findings == []


def test_finding_the_children_waiting_for_a_parent_reads_the_key_index(
    sqlite_template: Path, tmp_path: Path
) -> None:
    """Every ingest of a vendor, location or cost center looks for records waiting for it:
    the look-up goes through the key index (a scan of every key row took half a second a
    record at a million records). Read with SQLite's EXPLAIN QUERY PLAN."""
    import shutil

    from mdm.locators import _WAITING_CHILDREN, referring_types
    from mdm.settings import Settings

    path = tmp_path / "plan.sqlite3"
    shutil.copy(sqlite_template, path)
    hub = Hub(Settings(database_url=f"sqlite:///{path}"))
    try:
        types = referring_types(hub.specs, "vendor")
        assert "item" in types and "contract" in types
        statement = _WAITING_CHILDREN.params(types=types, keys=["w:vendor:name:ERP|ACME"])
        compiled = statement.compile(hub.database.engine, compile_kwargs={"literal_binds": True})
        with hub.database.engine.connect() as connection:
            plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").all()
    finally:
        hub.close()
    assert any("ix_match_key_lookup" in str(row) for row in plan), plan
