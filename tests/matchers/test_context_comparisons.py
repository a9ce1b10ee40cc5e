"""Coded values after transcoding, and references resolved to golden parents."""

from __future__ import annotations

from typing import Any

import pytest

from matchers import (
    CodeComparison,
    MatchModel,
    ReferenceComparison,
    UnitNameComparison,
    score_many,
)

CODE = CodeComparison("company")
REFERENCE = ReferenceComparison("parent")


@pytest.mark.parametrize(
    ("left", "right", "level"),
    [
        ("1000", "1000", "exact"),
        ("1000", " 1000 ", "exact"),
        ("1000", "2000", "different"),
        ("~1000", "1000", "learned"),
        ("1000", "~1000", "learned"),
        ("~1000", "2000", "different"),
        ("~1000", "~1000", "exact"),  # the same unmapped value, learned the same way
        (None, "1000", None),  # unmapped and unexplained: missing, never evidence
        ("N/A", "1000", None),
    ],
)
def test_code_levels(left: str | None, right: str | None, level: str | None) -> None:
    found = CODE.level(CODE.prepare({"company": left}), CODE.prepare({"company": right}))
    assert (None if found is None else CODE.levels[found]) == level


@pytest.mark.parametrize(
    ("left", "right", "level"),
    [
        ("LOC-1", "LOC-1", "same"),
        ("LOC-1>LOC-9", "LOC-1", "same"),
        ("LOC-1", "LOC-2", "different"),
        ("LOC-1>LOC-9", "LOC-2>LOC-9", "different"),  # two facilities of one system
        ("P1>D1>F1>S", "P2>D2>F1>S", "different"),  # pars under two facilities' departments
        ("D1>F1>S", "D2>F1>S", "sibling"),  # under two departments of one facility
        ("LOC-1>LOC-9", "LOC-9", "ancestor"),  # a par under its department / its facility
        ("LOC-9", "LOC-1>LOC-8>LOC-9", "ancestor"),
        (None, "LOC-2", None),
        # An unresolved raw reference says nothing, even when the raw ids are equal.
        ({"system": "EHR", "source_id": "F1"}, {"system": "EHR", "source_id": "F1"}, None),
        ({"system": "EHR", "source_id": "F1"}, "LOC-1", None),
    ],
)
def test_reference_levels(left: Any, right: Any, level: str | None) -> None:
    found = REFERENCE.level(
        REFERENCE.prepare({"parent": left}), REFERENCE.prepare({"parent": right})
    )
    assert (None if found is None else REFERENCE.levels[found]) == level


def test_weights_are_signed_like_the_evidence() -> None:
    model = MatchModel([CODE, REFERENCE])
    weights = {(c, lv.name): lv.weight for c in ("company", "parent") for lv in model.levels_of(c)}
    assert weights[("company", "exact")] > weights[("company", "learned")] > 0
    assert weights[("company", "different")] < 0
    assert weights[("parent", "same")] > weights[("parent", "ancestor")] > 0
    assert 0 > weights[("parent", "sibling")] > weights[("parent", "different")]


def test_batch_levels_agree_with_pairwise() -> None:
    model = MatchModel([CODE, REFERENCE])
    records: list[dict[str, Any]] = [
        {"company": "1000", "parent": "LOC-1"},
        {"company": "~1000", "parent": "LOC-1>LOC-9"},
        {"company": "1000", "parent": "LOC-9"},
        {"company": "2000", "parent": "LOC-2"},
        {"company": None, "parent": {"system": "EHR", "source_id": "F1"}},
        {"company": "~2000", "parent": None},
    ]
    pairs = [(i, j) for i in range(len(records)) for j in range(i + 1, len(records))]
    batch = score_many(model, records, None, pairs)
    for k, (i, j) in enumerate(pairs):
        assert batch.match_weight[k] == pytest.approx(
            model.score(records[i], records[j]).match_weight
        )


UNIT = UnitNameComparison("name")


@pytest.mark.parametrize(
    ("left", "right", "level"),
    [
        ("2 WEST", "2 EAST", "conflict"),  # two wings of one floor
        ("HHNA 3 WEST SUPPLY PAR 1", "HHNA 3 E PAR 01", "conflict"),  # "3 E" is 3 EAST
        ("PAR 1", "PAR 2", "conflict"),
        ("HHST 2 WEST", "2 W", "exact"),  # a facility initialism is not the unit
        ("WOUND CARE CENTER", "HHC Wound Care Center", "exact"),  # WOUND is a word
        (
            "Hope Health Pittsburgh Community Hospital",
            "HOPE HEALTH PITTSBURGH COMMUNI",
            "similarity_0.95",
        ),
        ("Hope Health Uplad Clinic", "HH UPLAND CLINIC", "similarity_0.95"),  # one typo
        ("Main Storeroom", "CENTRAL SUPPLY", "exact"),
        ("EC", "ED", "different"),  # not in the shipped vocabulary: a site may add it
        ("Pharmacy", "Radiology", "different"),
    ],
)
def test_unit_name_levels(left: str, right: str, level: str) -> None:
    found = UNIT.compare(UNIT.prepare({"name": left}), UNIT.prepare({"name": right}))  # type: ignore[arg-type]
    assert UNIT.levels[found] == level
