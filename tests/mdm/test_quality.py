"""The match-quality report: hand-made cases with known answers, the same store matched
again without context evidence, then a generated data set loaded end to end, the
`mdm quality` and `mdm truth load` commands, and the GraphQL query."""

from __future__ import annotations

import csv
import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import strawberry
from sqlalchemy import func, select
from typer.testing import CliRunner

from mdm.api.context import Context
from mdm.api.quality import QualityQuery
from mdm.auth import Principal, Role
from mdm.cli import app
from mdm.errors import InvalidInputError, UnknownEntityTypeError
from mdm.hub import Hub
from mdm.ingest import RecordInput
from mdm.loader import find_mappings, load
from mdm.match_models import defaults
from mdm.quality import QualityReport, quality_report, quality_without_context
from mdm.reference import load_reference_files
from mdm.specs import DEFAULT_SPECS, SpecRegistry
from mdm.store import Base, Database, GoldenRecord, MatchCandidate, SourceRecord, TruthLabel
from mdm.truth import StoredTruth, TruthFile, store_truth
from tests.conftest import ROOT

# -- a hand-made store whose right answers are known -------------------------------------
#
#   record          name                  tax id       phone       truth   golden (exact tax id)
#   ERP V1          Acme Surgical         41-2847561               acme    G1
#   PROCUREMENT P1  ACME SURGICAL INC     412847561                acme    G1
#   ERP V6          Acme Surgical         41-2847561               acme    G1
#   ERP V2          Beta Labs             42-1234567               beta    G2  false merge
#   PROCUREMENT P2  Beta Labs             42-1234567               gamma   G2
#   ERP V8          Kappa Med             47-4444444   6175550199  kappa   G3  false merge,
#   PROCUREMENT P5  Kappa Med             47-4444444   6175550199  lambda  G3  better supported
#   ERP V3          Delta Medical Supply  43-7654321   2125550100  delta   G4  missed: any two
#   PROCUREMENT P3  Northwind Dental      44-1111111   2125550100  delta   G5  of V3 P3 P4 P6;
#   PROCUREMENT P4  Zeta Optics           45-2222222               delta   G6  V3-P3 the closest
#   PROCUREMENT P6  Sigma Scientific      48-5555555               delta   G7
#   ERP V4          Omega Labs            46-3333333               (none: unlabelled)
#   ERP V7          Acme Surgical         41-2847561               acme    deleted: left out
#
# pairwise: predicted pairs 3+1+1 = 5, true pairs 3+6 = 9, both 3 -> P 3/5, R 1/3, F1 3/7
# B-cubed precision (3 + 2·½ + 4·1 + 2·½) / 11 = 9/11; recall (3 + 2 + 4·¼ + 2) / 11 = 8/11
# blocking: acme's 3 pairs share the tax id, delta's V3-P3 the phone, the other 5 of
# delta's pairs share no key -> 4/9

HAND_RECORDS = [
    ("ERP", "V1", "Acme Surgical", "41-2847561", None, "acme"),
    ("PROCUREMENT", "P1", "ACME SURGICAL INC", "412847561", None, "acme"),
    ("ERP", "V6", "Acme Surgical", "41-2847561", None, "acme"),
    ("ERP", "V2", "Beta Labs", "42-1234567", None, "beta"),
    ("PROCUREMENT", "P2", "Beta Labs", "42-1234567", None, "gamma"),
    ("ERP", "V8", "Kappa Med", "47-4444444", "6175550199", "kappa"),
    ("PROCUREMENT", "P5", "Kappa Med", "47-4444444", "6175550199", "lambda"),
    ("ERP", "V3", "Delta Medical Supply", "43-7654321", "2125550100", "delta"),
    ("PROCUREMENT", "P3", "Northwind Dental", "44-1111111", "2125550100", "delta"),
    ("PROCUREMENT", "P4", "Zeta Optics", "45-2222222", None, "delta"),
    ("PROCUREMENT", "P6", "Sigma Scientific", "48-5555555", None, "delta"),
    ("ERP", "V4", "Omega Labs", "46-3333333", None, None),
    ("ERP", "V7", "Acme Surgical", "41-2847561", None, "acme"),
]
DELTA = ("V3", "P3", "P4", "P6")


def write_truth(path: Path, rows: list[tuple[str, str, str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["entity_type", "system", "source_id", "entity_key"])
        writer.writerows(rows)
    return path


@pytest.fixture
def hand_made(hub: Hub, tmp_path: Path) -> Path:
    """The store above, loaded through the ingestor; returns its truth.csv."""
    with hub.database.session() as session:
        for system, source_id, name, tax_id, phone, _ in HAND_RECORDS:
            attributes = {"name": name, "tax_id": tax_id, "phone": phone}
            hub.ingestor.ingest(session, RecordInput("vendor", system, source_id, attributes))
        hub.ingestor.ingest(
            session,
            RecordInput("vendor", "ERP", "V7", {"name": "Acme Surgical"}, is_deleted=True),
        )
    golden = golden_ids(hub)
    # The premise of the expected figures: exact tax-id matching placed the records so.
    assert golden["V1"] == golden["P1"] == golden["V6"]
    assert golden["V2"] == golden["P2"]
    assert golden["V8"] == golden["P5"]
    assert len({golden[r] for r in ("V1", "V2", "V8", *DELTA, "V4")}) == 8
    rows = [
        ("vendor", system, source_id, f"vendor:{key}")
        for system, source_id, _, _, _, key in HAND_RECORDS
        if key is not None
    ]
    return write_truth(tmp_path / "truth.csv", rows)


def golden_ids(hub: Hub) -> dict[str, str]:
    with hub.database.read_session() as session:
        rows = session.execute(
            select(SourceRecord.source_id, GoldenRecord.public_id).join(
                GoldenRecord, GoldenRecord.id == SourceRecord.golden_id
            )
        ).all()
    return {source_id: public_id for source_id, public_id in rows}


def report_of(hub: Hub, truth: Any, **kwargs: Any) -> QualityReport:
    with hub.database.read_session() as session:
        return quality_report(session, hub.specs, truth, **kwargs)


def test_hand_made_figures(hub: Hub, hand_made: Path) -> None:
    vendor = report_of(hub, TruthFile(hand_made)).of("vendor")
    assert (vendor.records, vendor.unlabelled) == (11, 1)
    assert (vendor.golden_records, vendor.true_entities) == (7, 6)
    assert vendor.pairwise.precision == pytest.approx(3 / 5)
    assert vendor.pairwise.recall == pytest.approx(1 / 3)
    assert vendor.pairwise.f1 == pytest.approx(3 / 7)
    assert vendor.bcubed.precision == pytest.approx(9 / 11)
    assert vendor.bcubed.recall == pytest.approx(8 / 11)
    assert vendor.bcubed.f1 == pytest.approx(144 / 187)
    assert vendor.pair_completeness == pytest.approx(4 / 9)
    assert report_of(hub, TruthFile(hand_made)).of("item").records == 0


def test_hand_made_examples_are_the_known_errors_explained(hub: Hub, hand_made: Path) -> None:
    golden = golden_ids(hub)
    vendor = report_of(hub, TruthFile(hand_made)).of("vendor")
    comparisons = [c.name for c in DEFAULT_SPECS["vendor"].matching.comparisons]  # type: ignore[union-attr]

    # The least supported false merge first: Beta's records agree on less than Kappa's.
    merges = [(p.left.source_id, p.right.source_id) for p in vendor.false_merges]
    assert merges == [("V2", "P2"), ("V8", "P5")]
    merge = vendor.false_merges[0]
    assert (merge.left.entity_key, merge.right.entity_key) == ("vendor:beta", "vendor:gamma")
    assert merge.left.golden_id == merge.right.golden_id == golden["V2"]
    assert [c.comparison for c in merge.explanation] == comparisons
    tax_id = next(c for c in merge.explanation if c.comparison == "tax_id")
    assert (tax_id.left_value, tax_id.right_value) == ("42-1234567", "42-1234567")
    assert tax_id.level is not None and tax_id.weight > 0
    phone = next(c for c in merge.explanation if c.comparison == "phone")
    assert (phone.left_value, phone.level, phone.weight) == (None, None, 0.0)
    assert merge.match_weight is not None and merge.match_weight > 0
    assert merge.match_probability == pytest.approx(
        2**merge.match_weight / (1 + 2**merge.match_weight)
    )

    missed = vendor.missed_matches
    assert len(missed) == 6
    assert {frozenset((p.left.source_id, p.right.source_id)) for p in missed} == {
        frozenset((a, b)) for i, a in enumerate(DELTA) for b in DELTA[i + 1 :]
    }
    # The closest miss first: V3 and P3 share a phone number.
    assert (missed[0].left.source_id, missed[0].right.source_id) == ("V3", "P3")
    weights = [p.match_weight for p in missed]
    assert weights == sorted(weights, reverse=True)  # type: ignore[type-var]
    assert weights[0] > weights[1]  # type: ignore[operator]
    for pair in missed:
        assert pair.left.entity_key == pair.right.entity_key == "vendor:delta"
        assert pair.left.golden_id != pair.right.golden_id
        disagreeing = next(c for c in pair.explanation if c.comparison == "tax_id")
        assert disagreeing.left_value != disagreeing.right_value
        assert disagreeing.weight < 0

    closest = report_of(hub, TruthFile(hand_made), examples=1).of("vendor")
    assert closest.missed_matches == missed[:1]
    assert closest.false_merges == vendor.false_merges[:1]
    assert report_of(hub, TruthFile(hand_made), examples=0).of("vendor").false_merges == ()


def test_examples_are_weighed_by_the_model_the_type_matches_with(
    hub: Hub, hand_made: Path
) -> None:
    """A calibrated model (here: another prior) is what matching used, so it is what an
    example's weight shows, not the comparisons' defaults."""
    before = report_of(hub, TruthFile(hand_made)).of("vendor").false_merges[0]
    spec = hub.specs.get_spec("vendor")
    model = dataclasses.replace(defaults(spec).model, prior=1e-2)
    with hub.database.session() as session:
        hub.ingestor.models.save(session, spec, model, source="manual", actor="t", activate=True)
    after = report_of(hub, TruthFile(hand_made)).of("vendor").false_merges[0]
    assert (after.left, after.right) == (before.left, before.right)
    assert after.match_weight is not None and before.match_weight is not None
    assert after.match_weight - before.match_weight == pytest.approx(
        model.prior_weight - defaults(spec).model.prior_weight
    )


def test_pending_review_counts_only_pending_candidates(hub: Hub, hand_made: Path) -> None:
    with hub.database.session() as session:
        before = session.scalar(
            select(func.count())
            .select_from(MatchCandidate)
            .where(MatchCandidate.entity_type == "vendor", MatchCandidate.status == "pending")
        )
        record, golden = session.execute(
            select(SourceRecord.id, SourceRecord.golden_id).where(SourceRecord.source_id == "V3")
        ).one()
        for status in ("pending", "rejected"):
            session.add(
                MatchCandidate(
                    entity_type="vendor",
                    source_record_id=record,
                    golden_id=golden,
                    score=0.9,
                    status=status,
                )
            )
    assert report_of(hub, TruthFile(hand_made)).of("vendor").pending_review == before + 1


def test_blocks_over_the_size_limit_find_nothing(hub: Hub, hand_made: Path) -> None:
    vendor = DEFAULT_SPECS["vendor"]
    assert vendor.matching is not None
    small = dataclasses.replace(
        vendor, matching=dataclasses.replace(vendor.matching, max_block_size=2)
    )
    specs = SpecRegistry(tuple(small if s is vendor else s for s in DEFAULT_SPECS.values()))
    with hub.database.read_session() as session:
        report = quality_report(session, specs, TruthFile(hand_made), entity_type="vendor")
    # acme's three records share their blocks, which now count as too large; only the
    # phone block of V3 and P3 (two records) is left.
    assert report.of("vendor").pair_completeness == pytest.approx(1 / 9)


def test_stored_truth_gives_the_same_report(hub: Hub, hand_made: Path) -> None:
    with hub.database.session() as session:
        written = store_truth(session, TruthFile(hand_made), hub.specs)
    assert written["vendor"] == 12
    with hub.database.read_session() as session:
        stored = quality_report(session, hub.specs, StoredTruth(session))
    assert stored == report_of(hub, TruthFile(hand_made))


def test_truth_load_upserts(hub: Hub, tmp_path: Path) -> None:
    first = write_truth(tmp_path / "a.csv", [("vendor", "ERP", "V1", "vendor:1")])
    second = write_truth(
        tmp_path / "b.csv", [("vendor", "ERP", "V1", "vendor:2"), ("item", "ERP", "I1", "item:1")]
    )
    for path in (first, second):
        with hub.database.session() as session:
            store_truth(session, TruthFile(path), hub.specs)
    with hub.database.read_session() as session:
        rows = session.execute(
            select(TruthLabel.entity_type, TruthLabel.source_id, TruthLabel.entity_key).order_by(
                TruthLabel.entity_type
            )
        ).all()
    assert [tuple(r) for r in rows] == [("item", "I1", "item:1"), ("vendor", "V1", "vendor:2")]


def test_a_conflicting_label_writes_nothing(hub: Hub, tmp_path: Path) -> None:
    # vendors are stored before items, so the item conflict comes after writes: rolled back.
    path = write_truth(
        tmp_path / "truth.csv",
        [
            ("vendor", "ERP", "V1", "vendor:1"),
            ("item", "ERP", "I1", "item:1"),
            ("item", "ERP", "I1", "item:2"),
        ],
    )
    truth = TruthFile(path)
    with pytest.raises(InvalidInputError) as raised, hub.database.session() as session:
        store_truth(session, truth, hub.specs)
    assert raised.value.code == "INVALID_TRUTH"
    assert f"{path}, line 4" in raised.value.message
    assert "line 3" in raised.value.message
    with hub.database.read_session() as session:
        assert session.scalar(select(func.count()).select_from(TruthLabel)) == 0


@pytest.mark.parametrize(
    ("content", "line", "field"),
    [
        pytest.param("entity_type,system,source_id\n", 1, "entity_key", id="missing-column"),
        pytest.param(
            "entity_type,system,source_id,entity_key\nvendor,ERP,V1,k\nvendor,ERP,,k\n",
            3,
            "source_id",
            id="empty-value",
        ),
        pytest.param(
            "entity_type,system,source_id,entity_key\nwidget,ERP,V1,k\n",
            2,
            "entity_type",
            id="unknown-type",
        ),
        pytest.param(
            f"entity_type,system,source_id,entity_key\nvendor,ERP,V1,{'k' * 201}\n",
            2,
            "entity_key",
            id="too-long",
        ),
    ],
)
def test_a_bad_truth_file_names_file_and_line(
    tmp_path: Path, content: str, line: int, field: str
) -> None:
    path = tmp_path / "truth.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InvalidInputError) as raised:
        TruthFile(path)
    assert raised.value.code == "INVALID_TRUTH"
    assert raised.value.field == field
    assert raised.value.message.startswith(f"{path}, line {line}:")


def test_a_folder_without_truth_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="truth.csv") as raised:
        TruthFile(tmp_path)
    assert raised.value.code == "INVALID_TRUTH"


def test_unknown_entity_type_and_negative_examples_are_refused(hub: Hub, hand_made: Path) -> None:
    with pytest.raises(UnknownEntityTypeError):
        report_of(hub, TruthFile(hand_made), entity_type="widget")
    with pytest.raises(InvalidInputError):
        report_of(hub, TruthFile(hand_made), examples=-1)


# -- the same store matched again without context evidence -----------------------------
#
#   record      name                                type        parent  truth
#   ERP HHN     HARBOR HEALTH NORTH MEDICAL CTR     FACILITY            north    (same GLN)
#   EHR F1      Harbor Health North Medical Center  si                  north
#   ERP HHS     HARBOR HEALTH SOUTH MEDICAL CTR     FACILITY            south    (same GLN)
#   EHR F2      Harbor Health South Medical Center  si                  south
#   ERP HHN001  EMERGENCY DEPT                      DEPARTMENT  HHN     north-ed
#   ERP HHS001  EMERGENCY DEPT                      DEPARTMENT  HHS     south-ed
#   EHR D1      ED                                  wa          F1      north-ed
#   EHR D2      Emergency Department                wa          F2      south-ed
#
# With context each department matches within its facility: 4 true pairs, all found, F1 1.
# Without, nothing but the names tells departments apart or together, and with no address
# they stay alone: only the 2 facility pairs are found, P 1, R 1/2, F1 2/3.

NORTH_GLN = "0860004000242"
SOUTH_GLN = "0860004000495"
LOCATIONS = [
    ("ERP", "HHN", "HARBOR HEALTH NORTH MEDICAL CTR", "FACILITY", NORTH_GLN, None, "north"),
    ("EHR", "F1", "Harbor Health North Medical Center", "si", NORTH_GLN, None, "north"),
    ("ERP", "HHS", "HARBOR HEALTH SOUTH MEDICAL CTR", "FACILITY", SOUTH_GLN, None, "south"),
    ("EHR", "F2", "Harbor Health South Medical Center", "si", SOUTH_GLN, None, "south"),
    ("ERP", "HHN001", "EMERGENCY DEPT", "DEPARTMENT", None, "HHN", "north-ed"),
    ("ERP", "HHS001", "EMERGENCY DEPT", "DEPARTMENT", None, "HHS", "south-ed"),
    ("EHR", "D1", "ED", "wa", None, "F1", "north-ed"),
    ("EHR", "D2", "Emergency Department", "wa", None, "F2", "south-ed"),
]


@pytest.fixture
def departments(hub: Hub, tmp_path: Path) -> Path:
    """The store above, loaded through the ingestor; returns its truth.csv."""
    (tmp_path / "code_sets.csv").write_text(
        "code_set,code,display\n"
        "location_type,FACILITY,Facility\nlocation_type,DEPARTMENT,Department\n"
    )
    (tmp_path / "transcodings.csv").write_text(
        "code_set,system,source_value,code\n"
        "location_type,EHR,si,FACILITY\nlocation_type,EHR,wa,DEPARTMENT\n"
    )
    with hub.database.session() as session:
        load_reference_files(session, [tmp_path], actor="test")
        for system, source_id, name, kind, gln, parent, _ in LOCATIONS:
            values = {"name": name, "location_type": kind, "gln": gln, "parent": parent}
            hub.ingestor.ingest(session, RecordInput("location", system, source_id, values))
    rows = [("location", s, i, f"location:{key}") for s, i, *_, key in LOCATIONS]
    truth = write_truth(tmp_path / "truth.csv", rows)
    # The premise: with context, the store holds the right answer.
    assert report_of(hub, TruthFile(truth)).of("location").pairwise.f1 == 1.0
    return truth


def row_counts(hub: Hub) -> dict[str, int]:
    with hub.database.read_session() as session:
        return {
            table.name: session.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }


def without_context_of(hub: Hub, truth: Path, **kwargs: Any) -> QualityReport:
    with hub.database.read_session() as session:
        return quality_without_context(session, hub.specs, TruthFile(truth), **kwargs)


def test_without_context_the_departments_are_missed_and_the_store_is_untouched(
    hub: Hub, departments: Path
) -> None:
    before, golden = row_counts(hub), golden_ids(hub)
    location = without_context_of(hub, departments, examples=5).of("location")
    assert (location.records, location.golden_records, location.true_entities) == (8, 6, 4)
    assert location.pairwise.precision == 1.0
    assert location.pairwise.recall == pytest.approx(1 / 2)
    assert location.pairwise.f1 == pytest.approx(2 / 3)
    missed = {frozenset((p.left.source_id, p.right.source_id)) for p in location.missed_matches}
    assert missed == {frozenset(("HHN001", "D1")), frozenset(("HHS001", "D2"))}
    assert location.false_merges == ()
    # Without context, the parent is no comparison at all.
    assert all(c.comparison != "parent" for p in location.missed_matches for c in p.explanation)
    assert row_counts(hub) == before
    assert golden_ids(hub) == golden


def test_without_context_matches_with_the_active_model_less_its_context(
    hub: Hub, departments: Path
) -> None:
    spec = hub.specs.get_spec("location")
    with hub.database.session() as session:
        # Activated after the load: the store keeps its figures; a fresh match with this
        # low a threshold takes one shared name for enough and merges all four departments.
        hub.ingestor.models.save(
            session,
            spec,
            defaults(spec).model,
            source="manual",
            actor="test",
            auto_threshold=0.5,
            review_threshold=0.25,
            activate=True,
        )
    location = without_context_of(hub, departments).of("location")
    assert (location.golden_records, location.pairwise.precision) == (3, pytest.approx(1 / 2))
    assert location.pairwise.recall == 1.0


def test_without_context_reads_dates_back_without_their_source_format(
    hub: Hub, tmp_path: Path
) -> None:
    with hub.database.session() as session:
        for source_id in ("C1", "C2"):
            record = RecordInput(
                "contract",
                "ERP",
                source_id,
                {"name": f"Supply agreement {source_id}", "effective_date": "03/15/2024"},
                date_format="%m/%d/%Y",
            )
            hub.ingestor.ingest(session, record)
    truth = write_truth(
        tmp_path / "truth.csv",
        [("contract", "ERP", "C1", "contract:1"), ("contract", "ERP", "C2", "contract:2")],
    )
    report = without_context_of(hub, truth, entity_type="contract")
    assert [q.entity_type for q in report.entity_types] == ["contract"]
    assert (report.of("contract").records, report.of("contract").golden_records) == (2, 2)
    with pytest.raises(UnknownEntityTypeError):
        without_context_of(hub, truth, entity_type="widget")


def test_cli_quality_without_context(hub: Hub, departments: Path) -> None:
    runner = CliRunner()
    url = ["--database-url", hub.database.url]

    def quality(*args: str) -> Any:
        return runner.invoke(app, ["quality", *args, *url], env={"COLUMNS": "500"})

    as_json = quality("--truth", str(departments), "--without-context", "--json")
    assert as_json.exit_code == 0, as_json.stderr
    document = {q["entity_type"]: q for q in json.loads(as_json.stdout)["entity_types"]}
    location = document["location"]
    assert location["pairwise"]["f1"] == 1.0
    assert set(location["without_context"]) == {"records", "golden_records", "pairwise", "bcubed"}
    assert location["without_context"]["records"] == 8
    assert location["without_context"]["golden_records"] == 6
    assert location["without_context"]["pairwise"]["f1"] == pytest.approx(2 / 3)
    assert document["vendor"]["without_context"]["records"] == 0

    plain = quality("--truth", str(departments), "--json")
    assert plain.exit_code == 0, plain.stderr
    assert all("without_context" not in q for q in json.loads(plain.stdout)["entity_types"])

    table = quality("--truth", str(departments), "--without-context", "--examples", "0")
    assert table.exit_code == 0, table.stderr
    assert "with and without context evidence" in table.stdout
    assert "F1 w/o" in table.stdout
    # The location rows of the main table, then of the side-by-side one.
    rows = [line for line in table.stdout.splitlines() if line.startswith("│ location")]
    assert len(rows) == 2
    assert "0.667" in rows[1] and "+0.333" in rows[1]
    assert "F1 w/o" not in quality("--truth", str(departments)).stdout

    refused = quality("--without-context")
    assert refused.exit_code == 2
    assert "INVALID_INPUT" in refused.stderr and "needs --truth" in refused.stderr


# -- the GraphQL query -------------------------------------------------------------------

QUALITY = """query($type: String, $examples: Int) {
  qualityReport(entityType: $type, examples: $examples) {
    entityTypes {
      entityType records unlabelled goldenRecords trueEntities pendingReview pairCompleteness
      pairwise { precision recall f1 }
      bcubed { f1 }
      falseMerges { matchWeight left { sourceId goldenId entityKey } right { sourceId }
                    explanation { comparison leftValue rightValue level weight } }
      missedMatches { matchWeight }
    }
  }
}"""


def test_graphql_quality_report_uses_stored_truth(hub: Hub, hand_made: Path) -> None:
    with hub.database.session() as session:
        store_truth(session, TruthFile(hand_made), hub.specs)
    schema = strawberry.Schema(query=QualityQuery)
    # Example pairs name their source ids: crosswalk data, for integrators and up.
    reader = Context(hub=hub, principal=Principal("t", Role.INTEGRATOR), request_id="r")
    result = schema.execute_sync(
        QUALITY, variable_values={"type": "vendor", "examples": 2}, context_value=reader
    )
    assert result.errors is None
    assert result.data is not None
    (vendor,) = result.data["qualityReport"]["entityTypes"]
    expected = report_of(hub, TruthFile(hand_made)).of("vendor")
    assert vendor["records"] == expected.records == 11
    assert vendor["pairwise"] == dataclasses.asdict(expected.pairwise)
    assert vendor["falseMerges"][0]["left"]["sourceId"] == "V2"
    assert {c["comparison"] for c in vendor["falseMerges"][0]["explanation"]} >= {"tax_id"}
    assert len(vendor["missedMatches"]) == 2

    too_many = schema.execute_sync(QUALITY, variable_values={"examples": 51}, context_value=reader)
    assert too_many.errors is not None
    assert "examples must be between 0 and 50" in too_many.errors[0].message

    anonymous = Context(hub=hub, principal=None, request_id="r")
    refused = schema.execute_sync(QUALITY, context_value=anonymous)
    assert refused.errors is not None
    assert refused.errors[0].extensions == {"code": "UNAUTHENTICATED"}


# -- a generated data set, end to end ----------------------------------------------------


def _generate(out: Path, scale: float, seed: int) -> dict[str, int]:
    spec = importlib.util.spec_from_file_location("seed_generate", ROOT / "seed" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    counts: dict[str, int] = module.generate(out, scale=scale, seed=seed)
    return counts


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("generated")
    _generate(out, scale=0.1, seed=11)
    return out


def _pairs(counter: Counter[Any]) -> int:
    return sum(n * (n - 1) // 2 for n in counter.values())


def test_generated_data_set_figures_match_the_truth(hub: Hub, generated: Path) -> None:
    load(hub.database, hub.ingestor, find_mappings(generated))
    report = report_of(hub, TruthFile(generated), examples=3)
    assert [q.entity_type for q in report.entity_types] == list(DEFAULT_SPECS)

    with (generated / "truth.csv").open(encoding="utf-8") as handle:
        truth = {
            (r["entity_type"], r["system"], r["source_id"]): r["entity_key"]
            for r in csv.DictReader(handle)
        }
    with hub.database.read_session() as session:
        rows = session.execute(
            select(
                SourceRecord.entity_type,
                SourceRecord.system,
                SourceRecord.source_id,
                SourceRecord.golden_id,
            ).where(SourceRecord.is_deleted.is_(False))
        ).all()
    for quality in report.entity_types:
        members = [(truth[(t, s, i)], g) for t, s, i, g in rows if t == quality.entity_type]
        assert quality.records == len(members) > 0
        assert quality.unlabelled == 0  # the generator labels every record
        assert quality.golden_records == len({g for _, g in members})
        assert quality.true_entities == len({e for e, _ in members})
        together = _pairs(Counter(members))
        predicted = _pairs(Counter(g for _, g in members))
        true = _pairs(Counter(e for e, _ in members))
        assert quality.pairwise.precision == pytest.approx(together / predicted)
        assert quality.pairwise.recall == pytest.approx(together / true)
        # Exact identifiers merge only what is the same; without fuzzy matching some
        # duplicates (typos, no shared identifier) stay apart.
        assert quality.pairwise.precision >= 0.95, quality.entity_type
        assert quality.golden_records >= quality.true_entities * quality.pairwise.precision
        assert quality.pair_completeness is not None and 0.5 <= quality.pair_completeness <= 1
        for pair in quality.false_merges:
            assert pair.left.golden_id == pair.right.golden_id
            assert pair.left.entity_key != pair.right.entity_key
        for pair in quality.missed_matches:
            assert pair.left.golden_id != pair.right.golden_id
            assert pair.left.entity_key == pair.right.entity_key
        weights = [p.match_weight or 0.0 for p in quality.missed_matches]
        assert weights == sorted(weights, reverse=True)
    # The matching engine's target on generated data is F1 >= 0.97 per entity type,
    # measured at 100,000 records by bench/match.py. This sample is small (27 locations):
    # one pair named with an abbreviation outside the hospital vocabulary (the generator
    # leaves 10% of them out on purpose, seed/README.md) moves location F1 by 0.05, so the
    # bar here is 0.95, with precision kept at 0.99.
    assert all(q.pairwise.precision >= 0.99 for q in report.entity_types)
    assert all(q.pairwise.f1 >= 0.95 for q in report.entity_types), [
        (q.entity_type, q.pairwise.f1) for q in report.entity_types
    ]


# -- the command line --------------------------------------------------------------------


def mdm(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mdm.cli", *args],
        # wide enough that rich does not wrap error messages
        env={**os.environ, "MDM_DATABASE_URL": database_url, "COLUMNS": "500"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_quality_json_and_truth_load(generated: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    assert mdm("db", "upgrade", database_url=url).returncode == 0
    loaded = mdm("load", str(generated), "-q", database_url=url)
    assert loaded.returncode == 0, loaded.stderr

    from_file = mdm("quality", "--truth", str(generated), "--json", database_url=url)
    assert from_file.returncode == 0, from_file.stderr
    report = json.loads(from_file.stdout)
    assert [q["entity_type"] for q in report["entity_types"]] == list(DEFAULT_SPECS)
    for quality in report["entity_types"]:
        assert set(quality["pairwise"]) == {"precision", "recall", "f1"}
        assert quality["records"] > 0

    stored = mdm("truth", "load", str(generated), database_url=url)
    assert stored.returncode == 0, stored.stderr
    from_table = mdm("quality", "--json", database_url=url)
    assert json.loads(from_table.stdout) == report

    table = mdm("quality", "--examples", "1", database_url=url)
    assert table.returncode == 0, table.stderr
    assert "match quality" in table.stdout and "cost_center" in table.stdout


def test_cli_truth_load_of_a_bad_row_names_the_line_and_writes_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    assert mdm("db", "upgrade", database_url=url).returncode == 0
    path = tmp_path / "truth.csv"
    path.write_text(
        "entity_type,system,source_id,entity_key\n"
        "vendor,ERP,V1,vendor:1\n"
        "vendor,ERP,V2,vendor:2\n"
        "vendr,ERP,V3,vendor:3\n",
        encoding="utf-8",
    )
    failed = mdm("truth", "load", str(tmp_path), database_url=url)
    assert failed.returncode == 2
    assert "INVALID_TRUTH" in failed.stderr
    assert f"{path}, line 4: unknown entity type 'vendr'" in failed.stderr
    database = Database(url)
    with database.read_session() as session:
        assert session.scalar(select(func.count()).select_from(TruthLabel)) == 0
    database.dispose()
