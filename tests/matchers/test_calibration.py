"""Self-calibration of a first load: u from random pairs, m by EM, the prior from the data,
all held within the domain's bounds, and deterministic."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matchers import (
    BlockingRules,
    MatchModel,
    calibrate,
    candidate_pairs,
    compare_pairs,
    exact_key,
    name_prefix_key,
    prepare_records,
)
from matchers.estimation import BOUND_FACTOR, MIN_CALIBRATION_RECORDS
from tests.matchers.test_estimation import model, synthetic_vendors

RULES = BlockingRules([("tax_id", exact_key("tax_id")), ("name", name_prefix_key("name", 4))])


def _calibrated(records: list[dict[str, object]], rank: list[int] | None = None) -> MatchModel:
    start = model()
    prepared = prepare_records(start.comparisons, records)
    pairs = np.asarray(candidate_pairs(records, RULES).pairs, dtype=np.int64)
    found = calibrate(
        start,
        prepared,
        len(records),
        pairs,
        rank=None if rank is None else np.asarray(rank),
        fixed=("tax_id",),
        u_pairs=50_000,
    )
    assert found.is_estimated, found.notes
    return found.model


def _true_pairs(entity_of: list[int]) -> int:
    sizes: dict[int, int] = {}
    for entity in entity_of:
        sizes[entity] = sizes.get(entity, 0) + 1
    return sum(n * (n - 1) // 2 for n in sizes.values())


def test_the_prior_is_estimated_from_the_data_not_fixed() -> None:
    records, entity_of = synthetic_vendors(seed=3, n_entities=400)
    calibrated = _calibrated(records)
    n = len(records)
    truth = _true_pairs(entity_of) / (n * (n - 1) / 2)
    # The default (1e-4) is fifteen times too low here; the estimate is within a factor
    # of four of the share of pairs that truly match (names repeat across entities in
    # this data, so some non-matches look like matches).
    assert model().prior < truth / 10
    assert truth / 4 <= calibrated.prior <= truth * 4, (calibrated.prior, truth)


def test_estimation_never_turns_evidence_around_and_stays_within_bounds() -> None:
    records, _ = synthetic_vendors(seed=5, n_entities=400)
    calibrated, start = _calibrated(records), model()
    for comparison in start.comparisons:
        for default, found in zip(
            start.levels_of(comparison.name), calibrated.levels_of(comparison.name), strict=True
        ):
            if default.weight == 0:
                continue
            assert math.copysign(1, found.weight) == math.copysign(1, default.weight), found
            ratio = found.weight / default.weight
            assert 1 / BOUND_FACTOR - 1e-9 <= ratio <= BOUND_FACTOR + 1e-9, (found, default)


def test_the_same_records_in_any_order_give_the_same_model() -> None:
    records, _ = synthetic_vendors(seed=7, n_entities=300)
    keys = [f"{i:05d}" for i in range(len(records))]
    order = list(range(len(records)))
    random.Random(1).shuffle(order)
    shuffled = [records[i] for i in order]
    rank_first = _ranks(keys)
    rank_shuffled = _ranks([keys[i] for i in order])
    assert (
        _calibrated(records, rank_first).to_dict() == _calibrated(shuffled, rank_shuffled).to_dict()
    )
    assert _calibrated(records, rank_first).to_dict() == _calibrated(records, rank_first).to_dict()


def _ranks(keys: list[str]) -> list[int]:
    ranks = [0] * len(keys)
    for position, index in enumerate(sorted(range(len(keys)), key=keys.__getitem__)):
        ranks[index] = position
    return ranks


@pytest.mark.parametrize("n_entities", [10, 60])
def test_too_few_records_keep_the_defaults_and_say_why(n_entities: int) -> None:
    records, _ = synthetic_vendors(seed=9, n_entities=n_entities)
    assert len(records) < MIN_CALIBRATION_RECORDS
    start = model()
    prepared = prepare_records(start.comparisons, records)
    pairs = np.asarray(candidate_pairs(records, RULES).pairs, dtype=np.int64)
    found = calibrate(start, prepared, len(records), pairs)
    assert not found.is_estimated
    assert found.model is start
    assert "records" in found.notes["reason"]


def test_without_candidate_pairs_the_defaults_stay() -> None:
    records = [{"name": f"VENDOR {i:04d} {chr(65 + i % 26)}"} for i in range(300)]
    start = model()
    prepared = prepare_records(start.comparisons, records)
    found = calibrate(start, prepared, len(records), np.empty((0, 2), dtype=np.int64))
    assert not found.is_estimated and "candidate pairs" in found.notes["reason"]


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_calibration_is_deterministic_for_any_seed(seed: int) -> None:
    records, _ = synthetic_vendors(seed=seed, n_entities=120)
    start = model()
    prepared = prepare_records(start.comparisons, records)
    pairs = np.asarray(candidate_pairs(records, RULES).pairs, dtype=np.int64)
    first = calibrate(start, prepared, len(records), pairs, seed=seed, u_pairs=20_000)
    again = calibrate(start, prepared, len(records), pairs, seed=seed, u_pairs=20_000)
    assert first.model.to_dict() == again.model.to_dict()
    assert first.notes == again.notes


@pytest.mark.parametrize("em_pairs", [50, 500_000], ids=["sampled", "every pair"])
def test_levels_compared_already_give_the_same_model(em_pairs: int) -> None:
    """A first load compares its candidate pairs once, for calibration and scoring."""
    records, _ = synthetic_vendors(seed=3, n_entities=150)
    start = model()
    prepared = prepare_records(start.comparisons, records)
    pairs = np.asarray(candidate_pairs(records, RULES).pairs, dtype=np.int64)
    assert len(pairs) > 50
    levels = compare_pairs(start.comparisons, prepared, pairs)[2]
    compared = calibrate(start, prepared, len(records), pairs, u_pairs=20_000, em_pairs=em_pairs)
    given = calibrate(
        start, prepared, len(records), pairs, u_pairs=20_000, em_pairs=em_pairs, levels=levels
    )
    assert given.model.to_dict() == compared.model.to_dict()
    assert given.notes == compared.notes
    with pytest.raises(ValueError, match="level rows"):
        calibrate(start, prepared, len(records), pairs, levels=levels[1:])
