"""Location types without reference data: the shipped vocabulary says what two systems'
spellings mean; reference data that is loaded overrides and extends it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from matchers.coded import raw_code_token
from mdm.codes import EMPTY_CODEBOOK, CodeBook
from mdm.context import ContextView, sibling_records
from mdm.hub import Hub
from mdm.ingest import RecordInput
from mdm.reference import load_reference_files
from mdm.standardize import record_keys, standardize
from mdm.store import SourceRecord

SITE = CodeBook(
    codes={"location_type": frozenset({"FACILITY", "DEPT", "WARD", "SHIP_TO"})},
    transcodings={("location_type", "EHR", "NU"): "DEPT"},  # this site's EHR: NU is a dept
)


@pytest.mark.parametrize(
    ("book", "system", "value", "token"),
    [
        # No code set loaded: the shipped vocabulary reads the value.
        pytest.param(EMPTY_CODEBOOK, "ERP", "NURS UNIT", "NURSING_UNIT", id="erp-spelling"),
        pytest.param(EMPTY_CODEBOOK, "EHR", "Nursing Unit", "NURSING_UNIT", id="ehr-spelling"),
        pytest.param(EMPTY_CODEBOOK, "PROCUREMENT", "Ship-To", "SHIP_TO", id="ship-to"),
        pytest.param(
            EMPTY_CODEBOOK,
            "EHR",
            "CATH LAB | DEPT",
            raw_code_token("EHR", "PROCEDURE_AREA DEPARTMENT"),
            id="unknown-spelled-by-its-words",
        ),
        pytest.param(EMPTY_CODEBOOK, "EHR", "wa", raw_code_token("EHR", "WA"), id="unknown"),
        # Loaded: its codes win, the shipped spellings name its codes.
        pytest.param(SITE, "ERP", "Department", "DEPT", id="a-site-code-by-a-spelling"),
        pytest.param(SITE, "ERP", "Dock", "SHIP_TO", id="a-loaded-code-by-a-spelling"),
        pytest.param(SITE, "ERP", "NURS UNIT", "WARD", id="the-sites-code-for-a-kind"),
        # A kind the site has no code for: unmapped, as any unmapped value.
        pytest.param(SITE, "ERP", "PAR location", None, id="a-kind-the-site-lacks"),
    ],
)
def test_match_tokens(book: CodeBook, system: str, value: str, token: str | None) -> None:
    assert book.match_token("location_type", system, value) == token


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        pytest.param("NURS UNIT", "NURSING_UNIT", id="a-shipped-spelling"),
        pytest.param("Cath Lab | Department", "CATH LAB | DEPARTMENT", id="unknown-as-written"),
    ],
)
def test_without_reference_data_values_are_stored_as_the_shipped_codes(
    value: str, stored: str
) -> None:
    assert EMPTY_CODEBOOK.has("location_type")
    assert EMPTY_CODEBOOK.transcode("location_type", "ERP", value) == (stored, True)
    assert not EMPTY_CODEBOOK.has("company")  # no vocabulary: values kept as written


@pytest.mark.parametrize(
    ("system", "value", "stored"),
    [
        pytest.param("ERP", "Dept.", ("DEPT", True), id="a-spelling-of-a-site-code"),
        pytest.param("ERP", "NU", ("WARD", True), id="a-shipped-spelling"),
        pytest.param("EHR", "NU", ("DEPT", True), id="a-site-transcoding-overrides-it"),
        pytest.param("ERP", "PAR location", ("PAR LOCATION", False), id="a-kind-the-site-lacks"),
    ],
)
def test_loaded_values_are_stored_as_the_sites_codes(
    system: str, value: str, stored: tuple[str, bool]
) -> None:
    assert SITE.transcode("location_type", system, value) == stored


def _location(system: str, source_id: str, kind: str) -> RecordInput:
    attributes = {
        "name": "Cardiac Cath Lab",
        "location_type": kind,
        "address_line1": "1200 Harbor Blvd",
        "city": "Boston",
        "postal_code": "02118",
    }
    return RecordInput("location", system, source_id, attributes)


def _ingest(hub: Hub, *records: RecordInput) -> dict[str, int | None]:
    with hub.database.session() as session:
        for record in records:
            hub.ingestor.ingest(session, record, actor="test")
    with hub.database.read_session() as session:
        rows = session.execute(
            select(SourceRecord.source_id, SourceRecord.golden_id).where(
                SourceRecord.entity_type == "location"
            )
        )
        return {source_id: golden_id for source_id, golden_id in rows}


def _type_level(hub: Hub, record: RecordInput) -> str | None:
    """The location-type level of ``record`` against the stored records."""
    spec = hub.specs.get_spec("location")
    values = standardize(spec, record.attributes, system=record.system).values
    with hub.database.read_session() as session:
        (candidate,) = hub.ingestor.matcher.score(  # type: ignore[attr-defined]
            session,
            spec,
            values,
            None,
            record_keys(spec, values),
            system=record.system,
            explain_all=True,
        )
    levels = {c["comparison"]: c["level"] for c in candidate.explanation["contributions"]}
    return levels["location_type"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("erp_kind", "ehr_kind", "level"),
    [
        pytest.param("NURS UNIT", "Nursing Unit", "exact", id="one-kind-two-spellings"),
        pytest.param("CATH LAB | DEPT", "Cath Lab | Department", "exact", id="one-unknown-value"),
        pytest.param("Dock", "NURS UNIT", "different", id="two-known-kinds"),
        pytest.param("ZZ9", "NURS UNIT", None, id="an-unknown-spelling-never-vetoes"),
    ],
)
def test_two_systems_spellings_of_one_type(
    hub: Hub, erp_kind: str, ehr_kind: str, level: str | None
) -> None:
    _ingest(hub, _location("ERP", "L1", erp_kind))
    ehr = _location("EHR", "L2", ehr_kind)
    assert _type_level(hub, ehr) == level
    golden = _ingest(hub, ehr)
    # The same name at the same address: one location unless the kinds say two.
    assert (golden["L1"] == golden["L2"]) is (level != "different")


def test_loaded_reference_data_extends_the_vocabulary(hub: Hub, tmp_path: Path) -> None:
    (tmp_path / "code_sets.csv").write_text(
        "code_set,code,display\nlocation_type,DEPT,Department\nlocation_type,WARD,Ward\n"
    )
    (tmp_path / "transcodings.csv").write_text(
        "code_set,system,source_value,code\nlocation_type,EHR,NU,WARD\n"
    )
    with hub.database.session() as session:
        load_reference_files(session, [tmp_path], actor="test")
    golden = _ingest(
        hub,
        _location("ERP", "L1", "Dept."),  # a shipped spelling of the site's own code
        _location("EHR", "L2", "Department"),
        _location("EHR", "L3", "NU"),  # the site's transcoding wins over "nursing unit"
    )
    with hub.database.read_session() as session:
        stored = dict(
            session.execute(
                select(SourceRecord.source_id, SourceRecord.standardized["location_type"])
            ).all()
        )
    assert {k: str(v).strip('"') for k, v in stored.items()} == {
        "L1": "DEPT",
        "L2": "DEPT",
        "L3": "WARD",
    }
    assert golden["L1"] == golden["L2"] != golden["L3"]


@pytest.mark.parametrize(
    ("stored_kind", "is_sibling"),
    [
        pytest.param("Special Care", True, id="an-unknown-spelling"),
        pytest.param(None, True, id="no-type"),
        pytest.param("NURS UNIT", True, id="the-same-kind"),
        pytest.param("Dock", False, id="another-known-kind"),
    ],
)
def test_siblings_of_a_known_kind_include_children_of_unknown_spellings(
    hub: Hub, stored_kind: str | None, is_sibling: bool
) -> None:
    """Without reference data a newcomer's known spelling is stored as its code
    (``NURSING_UNIT``), another system's unknown one as written: that child says nothing
    of its kind, so it stays a sibling candidate; only another known kind is left out."""
    facility = {"name": "Harbor Health North", "location_type": "Hospital", "gln": "0860004000242"}
    child = {"name": "4 North Med Surg", "parent": "F1"}
    _ingest(
        hub,
        RecordInput("location", "EHR", "F1", facility),
        RecordInput("location", "EHR", "U1", child | {"location_type": stored_kind}),
    )
    spec = hub.specs.get_spec("location")
    view_values = {"name": "4N MED SURG", "location_type": "NURS UNIT", "parent": "F1"}
    values = standardize(spec, view_values, system="EHR").values
    with hub.database.read_session() as session:
        codes = hub.ingestor.codes(session)
        context = ContextView(codes, hub.specs)
        (view,) = context.views(session, spec, [("EHR", values)])
        assert view["location_type"] == "NURSING_UNIT"
        stored = session.scalar(select(SourceRecord.id).where(SourceRecord.source_id == "U1"))
        found = sibling_records(session, spec, view, 10, codes)
    assert found == ([stored] if is_sibling else [])
