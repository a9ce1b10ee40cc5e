"""Identifiers a keystroke apart (issue "matching that generalizes"): a tax id or DUNS with
one digit replaced or two neighbours swapped is a typo to review, not proof of difference;
identifiers with a check digit have no such level."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest

from matchers import (
    BlockingRules,
    IdentifierComparison,
    MatchModel,
    OrganizationNameComparison,
    PostalCodeComparison,
    calibrate,
    candidate_pairs,
    compare_pairs,
    exact_key,
    flagged_key,
    name_prefix_key,
    prepare_records,
    probability,
)
from matchers.estimation import BOUND_FACTOR
from matchers.identifiers import TYPO_PRONE_KINDS, is_near_identifier
from mdm.scoring import default_model, spec_rules
from mdm.specs.vendor import VENDOR
from tests.matchers.test_estimation import synthetic_vendors

TAX_ID = IdentifierComparison("tax_id", "ein", flagged=True, near=True)
DUNS = IdentifierComparison("duns", "duns", near=True)


def _level(comparison: IdentifierComparison, left: Any, right: Any) -> str | None:
    def record(value: Any) -> dict[str, Any]:
        if isinstance(value, tuple):  # ("f", raw): a value that failed its check
            return {flagged_key(comparison.attributes[0]): value[1]}
        return {comparison.attributes[0]: value}

    found = comparison.level(comparison.prepare(record(left)), comparison.prepare(record(right)))
    return None if found is None else comparison.levels[found]


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        pytest.param("303982847", "30-3982847", "exact", id="equal-as-written-differently"),
        pytest.param("303982847", "303902847", "near", id="one-digit-replaced"),
        pytest.param("303982847", "303928847", "near", id="neighbours-swapped"),
        pytest.param("303982847", "330982847", "near", id="swapped-across-the-hyphen"),
        pytest.param("303982847", "303902874", "different", id="replaced-and-swapped"),
        pytest.param("303982847", "303902841", "different", id="two-digits-replaced"),
        pytest.param("303982847", "343982807", "different", id="far-digits-swapped"),
        pytest.param("412847561", "271828459", "different", id="unrelated"),
        pytest.param(("f", "000-12-3456"), ("f", "000123456"), "flagged_exact", id="flagged"),
        pytest.param(("f", "000-12-3456"), "300123456", None, id="flagged-against-valid"),
        pytest.param("303982847", None, None, id="missing"),
    ],
)
def test_tax_id_levels(left: Any, right: Any, expected: str | None) -> None:
    assert _level(TAX_ID, left, right) == expected
    assert _level(TAX_ID, right, left) == expected


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        pytest.param("150483782", "150483782", "exact", id="equal"),
        pytest.param("150483782", "150488782", "near", id="one-digit-replaced"),
        pytest.param("150483782", "105483782", "near", id="neighbours-swapped"),
        pytest.param("150483782", "150488783", "different", id="two-digits-replaced"),
    ],
)
def test_duns_levels(left: str, right: str, expected: str) -> None:
    assert _level(DUNS, left, right) == expected


@pytest.mark.parametrize("comparison", [TAX_ID, DUNS], ids=["tax_id", "duns"])
def test_the_batch_levels_agree_with_the_pair_levels(comparison: IdentifierComparison) -> None:
    rng = random.Random(7)
    base = ["303982847", "150483782", "412847561"]
    values: list[str | None] = [None, "ABC"]
    for number in base:
        values.append(number)
        for _ in range(4):  # neighbours a keystroke or two away
            digits = list(number)
            for _ in range(rng.choice([1, 1, 2])):
                at = rng.randrange(1, 8)
                if rng.random() < 0.5:
                    digits[at], digits[at + 1] = digits[at + 1], digits[at]
                else:
                    digits[at] = str(rng.randrange(10))
            values.append("".join(digits))
    records = [{comparison.attributes[0]: v} for v in values]
    pairs = [(i, j) for i in range(len(records)) for j in range(len(records))]
    _, _, levels = compare_pairs([comparison], prepare_records([comparison], records), pairs)
    prepared = [comparison.prepare(r) for r in records]
    expected = [comparison.level(prepared[i], prepared[j]) for i, j in pairs]
    assert levels[:, 0].tolist() == [-1 if e is None else e for e in expected]
    assert "near" in {comparison.levels[e] for e in expected if e is not None}


@pytest.mark.parametrize("kind", ["gtin", "gln", "npi"])
def test_identifiers_with_a_check_digit_have_no_near_level(kind: str) -> None:
    """Their check digit catches one replaced digit (and most swaps): two valid values a
    keystroke apart were issued as they are, two different things."""
    assert kind not in TYPO_PRONE_KINDS
    with pytest.raises(ValueError, match="check digit"):
        IdentifierComparison(kind, kind, near=True)
    # Two valid GLNs one digit apart (both check digits right) are not near.
    assert not is_near_identifier(kind, "5790000121830", "5790000121823")


def test_near_is_slight_counter_evidence_never_a_veto_never_decisive() -> None:
    settings = VENDOR.matching
    assert settings is not None
    weights = {lv.name: lv.weight for lv in default_model(VENDOR).levels_of("tax_id")}
    assert weights["different"] < weights["near"] < 0
    assert weights["near"] > -2
    assert ("tax_id", "near") not in settings.vetoes
    assert all(("tax_id", "near") not in rule for rule in settings.decisive)
    assert ("tax_id", "near") in settings.doubts


ACME = {
    "name": "ACME SURGICAL SUPPLY INC",
    "address_line1": "100 Main St",
    "city": "Denver",
    "state": "CO",
}


def _judged(left: dict[str, Any], right: dict[str, Any]) -> tuple[float, tuple[str, ...]]:
    settings = VENDOR.matching
    assert settings is not None
    model = default_model(VENDOR)
    found, weight = model.levels_prepared(model.prepare(left), model.prepare(right))
    judged = spec_rules(settings, model).judge(
        found, probability(weight), settings.review_threshold, settings.auto_threshold
    )
    return judged.probability, judged.vetoed_by


def test_a_tax_id_typo_with_name_and_address_agreeing_is_for_a_steward() -> None:
    settings = VENDOR.matching
    assert settings is not None
    chance, vetoed_by = _judged({**ACME, "tax_id": "303982847"}, {**ACME, "tax_id": "303902847"})
    assert settings.review_threshold <= chance < settings.auto_threshold
    assert vetoed_by == ()
    # Two edits apart: a different tax id, vetoed as before.
    chance, vetoed_by = _judged({**ACME, "tax_id": "303982847"}, {**ACME, "tax_id": "303902874"})
    assert chance < settings.review_threshold and vetoed_by == ("tax_id.different",)


def test_a_tax_id_typo_with_little_else_agreeing_stays_apart() -> None:
    settings = VENDOR.matching
    assert settings is not None
    chance, _ = _judged(
        {"name": "ACME SURGICAL SUPPLY INC", "tax_id": "303982847"},
        {"name": "Zenith Imaging Partners", "tax_id": "303902847"},
    )
    assert chance < settings.review_threshold


def _with_typos(records: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """One record in twenty gets a digit of its tax id replaced."""
    rng = random.Random(seed)
    out = []
    for record in records:
        ein = record.get("tax_id")
        if ein and rng.random() < 0.05:
            digits = ein.replace("-", "")
            at = rng.randrange(2, 9)
            ein = digits[:at] + str((int(digits[at]) + 1) % 10) + digits[at + 1 :]
        out.append({**record, "tax_id": ein})
    return out


def test_calibration_keeps_near_slight_counter_evidence() -> None:
    """Random pairs are almost never a keystroke apart, so the data alone would make
    "near" strong evidence for a match; the bound keeps it what the domain says."""
    records, _ = synthetic_vendors(seed=11, n_entities=400)
    records = _with_typos(records, seed=11)
    start = MatchModel(
        [OrganizationNameComparison(trade_name_attribute=None), TAX_ID, PostalCodeComparison()]
    )
    rules = BlockingRules([("tax_id", exact_key("tax_id")), ("name", name_prefix_key("name", 4))])
    pairs = np.asarray(candidate_pairs(records, rules).pairs, dtype=np.int64)
    prepared = prepare_records(start.comparisons, records)
    found = calibrate(start, prepared, len(records), pairs, u_pairs=50_000)
    assert found.is_estimated, found.notes
    default = {lv.name: lv.weight for lv in start.levels_of("tax_id")}["near"]
    near = {lv.name: lv.weight for lv in found.model.levels_of("tax_id")}["near"]
    assert default * BOUND_FACTOR - 1e-9 <= near <= default / BOUND_FACTOR + 1e-9 < 0
