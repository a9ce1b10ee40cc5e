"""Coded values after transcoding, and references resolved to golden parents."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from matchers import (
    CodeComparison,
    MatchModel,
    ReferenceComparison,
    UnitNameComparison,
    prepare_records,
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


def test_reference_batch_levels_agree_with_level_on_every_kind_of_pair() -> None:
    rng = random.Random(7)
    parents = ["LOC-1", "LOC-2", "LOC-3", "LOC-9", "LOC-8"]

    def value() -> Any:
        roll = rng.random()
        if roll < 0.1:
            return None
        chain = rng.sample(parents, rng.randint(1, 4)) if roll < 0.6 else [rng.choice(parents)]
        return ">".join(chain)

    records = [{"parent": value()} for _ in range(300)]
    prepared = prepare_records([REFERENCE], records)
    pairs = np.array([(rng.randrange(300), rng.randrange(300)) for _ in range(3000)])
    batch = REFERENCE.batch_levels(prepared.left[0], prepared.right[0], pairs[:, 0], pairs[:, 1])
    seen = set()
    for (i, j), level in zip(pairs.tolist(), batch.tolist(), strict=True):
        found = REFERENCE.level(REFERENCE.prepare(records[i]), REFERENCE.prepare(records[j]))
        assert level == (-1 if found is None else found)
        seen.add(level)
    assert seen == {-1, 0, 1, 2, 3}


UNIT = UnitNameComparison("name")


@pytest.mark.parametrize(
    ("left", "right", "level"),
    [
        ("2 WEST", "2 EAST", "conflict"),  # two wings of one floor
        ("HHNA 3 WEST SUPPLY PAR 1", "HHNA 3 E PAR 01", "conflict"),  # "3 E" is 3 EAST
        ("PAR 1", "PAR 2", "conflict"),
        ("Tower 2 6 East", "HHN T2 6E", "exact"),  # T2 is Tower 2; its 2 is not the floor
        ("TOWER 2 2 SOUTH", "T2 2 S", "exact"),
        ("TWR 3 4 NORTH", "Tower 3 4 North", "exact"),
        ("T2 4 WEST", "T3 4 WEST", "conflict"),  # two towers
        ("HHW T2 3 E", "3 EAST", "different"),  # the tower's or the main building's
        ("TOWER 2 2 NORTH", "2 NORTH", "different"),
        ("7 EAST", "7 Eat", "exact"),  # a typo in the wing after a floor number
        ("Thornbury Orthopedics", "ORTHOPEDICS", "similarity_0.95"),  # the site's name first
        ("Northgate 2 Pediatrics 2", "PEDIATRICS 2", "similarity_0.95"),
        ("HHN Ironwood 17 Orthopedics", "ORTHOPEDICS", "similarity_0.95"),  # site number
        ("Kestrel 2 Pediatrics", "PEDIATRICS 2", "different"),  # the second pediatrics?
        ("HHN 2 WEST", "3 WEST", "conflict"),  # an initialism is no site name
        ("HHSP 3 South", "3 SOUTH", "exact"),  # nor a typo of a word ("HOSP")
        ("A 3 SOUTH", "3 SOUTH", "exact"),  # one letter: no site name, no word
        ("A", "B", "different"),
        ("Pediatric Cardiology", "Cardiology", "different"),  # a known word: another unit
        ("Orthopedics Thornbury", "ORTHOPEDICS", "different"),  # not a leading qualifier
        ("Tower 2 5 Wet", "T2 5 WEST", "exact"),
        ("7 EAT", "7 WEST", "conflict"),
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


_UNIT_WORDS = st.sampled_from(
    ["A", "B", "2", "3", "T2", "TOWER", "EAST", "EAT", "HHN", "ICU", "KESTREL", "PAR", "01"]
)


@given(
    st.lists(_UNIT_WORDS | st.text(max_size=6), max_size=5),
    st.lists(_UNIT_WORDS | st.text(max_size=6), max_size=5),
)
def test_unit_names_always_compare_to_a_level(left: list[str], right: list[str]) -> None:
    """Whatever two systems write, the comparison answers with a level (never raises: a
    bulk load scores every pair)."""
    a, b = UNIT.prepare({"name": " ".join(left)}), UNIT.prepare({"name": " ".join(right)})
    if a is not None and b is not None:
        assert 0 <= UNIT.compare(a, b) < len(UNIT.levels)
        assert UNIT.compare(a, b) == UNIT.compare(b, a)
