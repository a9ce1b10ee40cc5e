"""A first load weighs exact name agreements by how common the name is among its records:
a rare name alone brings two records before a steward, a common one no longer does (on SQLite
and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mdm.bulk import BulkLoader
from mdm.hub import Hub
from mdm.ingest import RecordInput
from mdm.standardize import record_keys, standardize
from mdm.store import MatchCandidate, SourceRecord


def _vendors() -> list[RecordInput]:
    """Forty companies, a "Main Street Clinic" under each of twenty owners, and one
    company in two systems by its name alone."""
    records = [
        RecordInput("vendor", "ERP", f"V{k}{j}", {"name": f"Company {chr(65 + k)}{j} Surgical"})
        for k in range(4)
        for j in range(10)
    ]
    records += [
        RecordInput("vendor", "ERP", f"C{k}", {"name": "Main Street Clinic", "city": f"Town {k}"})
        for k in range(20)
    ]
    records += [
        RecordInput("vendor", "ERP", "T1", {"name": "Thales Nederland B.V."}),
        RecordInput("vendor", "PROCUREMENT", "T2", {"name": "THALES NEDERLAND BV"}),
    ]
    return records


def _candidates(hub: Hub) -> set[str]:
    """Source ids of the records with a review candidate."""
    with hub.database.read_session() as session:
        return set(
            session.scalars(
                select(SourceRecord.source_id).join(
                    MatchCandidate, MatchCandidate.source_record_id == SourceRecord.id
                )
            )
        )


@pytest.mark.parametrize("is_on", [pytest.param(True, id="on"), pytest.param(False, id="off")])
def test_a_rare_name_alone_reaches_a_steward_and_a_common_one_does_not(
    hub: Hub, is_on: bool
) -> None:
    spec = hub.ingestor.specs["vendor"]
    result = BulkLoader(hub.ingestor, term_frequencies=is_on).load(
        hub.database, spec, _vendors(), actor="test", correlation_id=None
    )
    # Too few records to calibrate: the defaults' prior (-13.3 bits) against an exact name
    # (12.8): only the name's rarity can lift the pair into the review band.
    assert result.calibration["source"] == "defaults"
    # Unadjusted, the twenty clinics are the steward's and the one company is not.
    found = _candidates(hub)
    assert bool(found & {"T1", "T2"}) is is_on
    assert any(source_id.startswith("C") for source_id in found) is not is_on
    if is_on:
        assert result.calibration["term_frequencies"] == {"name": 1}


def test_incremental_matching_explains_the_adjusted_weight_and_the_frequency(hub: Hub) -> None:
    spec = hub.ingestor.specs["vendor"]
    BulkLoader(hub.ingestor).load(hub.database, spec, _vendors(), actor="t", correlation_id=None)
    weights = {}
    for name in ("Thales Nederland BV", "Main Street Clinic"):
        values = standardize(spec, {"name": name}, system="EHR").values
        with hub.database.read_session() as session:
            level = hub.ingestor.models.active(session, spec).model.levels_of("name")[0].weight
            scored = hub.ingestor.matcher.score(  # type: ignore[attr-defined]
                session, spec, values, None, record_keys(spec, values), explain_all=True
            )
        (name_part, *_) = scored[0].explanation["contributions"]
        assert name_part["level"] == "exact"
        weights[name] = (name_part["weight"], name_part["frequency"])
    assert weights["Main Street Clinic"][0] < level < weights["Thales Nederland BV"][0]
    assert weights["Thales Nederland BV"][1] == pytest.approx(1 / 61, abs=1e-6)
    assert weights["Main Street Clinic"][1] == pytest.approx(20 / 61, abs=1e-6)
