from __future__ import annotations

import random
from typing import Any

import pytest

from matchers import (
    BlockingRules,
    IdentifierComparison,
    LabelledPair,
    Level,
    MatchModel,
    OrganizationNameComparison,
    PhoneComparison,
    PostalCodeComparison,
    candidate_pairs,
    estimate_m,
    estimate_u,
    exact_key,
    name_prefix_key,
    update_from_labels,
)

SURNAMES = ["NORTH", "ACME", "PACIFIC", "CEDAR", "SUMMIT", "HARBOR", "RIVER", "OAK", "BAY", "PINE"]
KINDS = ["SURGICAL", "MEDICAL", "DENTAL", "LABS", "SUPPLY", "ORTHO", "CARE", "BIO", "PHARMA"]


def synthetic_vendors(seed: int, n_entities: int = 300) -> tuple[list[dict[str, Any]], list[int]]:
    """Vendors with 1-3 noisy records each; returns records and their entity numbers."""
    rng = random.Random(seed)
    records, entity_of = [], []
    for entity in range(n_entities):
        name = f"{rng.choice(SURNAMES)} {rng.choice(KINDS)} {rng.choice(KINDS)}"
        ein = f"{rng.randint(20, 48)}-{rng.randint(1_000_000, 9_999_999)}"
        postal = f"{rng.randint(1_000, 99_999):05d}"
        region = f"R{rng.randrange(100)}"
        phone = f"{rng.randint(201, 989)}-{rng.randint(200, 999)}-{rng.randint(1_000, 9_999)}"
        for _ in range(rng.choice([1, 2, 2, 3])):
            records.append(
                {
                    "name": name if rng.random() < 0.8 else name.replace(" ", "", 1),
                    "tax_id": ein if rng.random() < 0.9 else None,
                    "postal_code": postal if rng.random() < 0.9 else postal[:3] + "99",
                    "phone": phone if rng.random() < 0.6 else None,
                    "region": region,
                }
            )
            entity_of.append(entity)
    return records, entity_of


def model() -> MatchModel:
    return MatchModel(
        [
            OrganizationNameComparison(trade_name_attribute=None),
            IdentifierComparison("tax_id", "ein"),
            PostalCodeComparison(),
            PhoneComparison(),
        ]
    )


def flat_m(start: MatchModel) -> MatchModel:
    """Same u, m spread evenly: EM has to find m by itself."""
    return start.with_parameters(
        {
            c.name: [Level(lv.name, 1 / len(c.levels), lv.u) for lv in start.levels_of(c.name)]
            for c in start.comparisons
        }
    )


def test_u_from_random_pairs_is_small_for_identifiers() -> None:
    # Random pairs are matches with probability ~ records per entity / entities.
    records, _ = synthetic_vendors(1, n_entities=4_000)
    start = model()
    estimated = estimate_u(start, records, n_pairs=20_000, seed=5)
    ein = {lv.name: lv.u for lv in estimated.levels_of("tax_id")}
    assert ein["exact"] < 1e-3
    assert ein["different"] > 0.99
    postal = {lv.name: lv.u for lv in estimated.levels_of("postal_code")}
    assert postal["exact"] < 0.01 < postal["different"]
    assert estimated.levels_of("name")[0].m == start.levels_of("name")[0].m  # m untouched
    assert estimate_u(start, records, 20_000, seed=5) == estimated  # deterministic
    assert estimate_u(start, records, 20_000, seed=6) != estimated


def test_em_recovers_m_above_u() -> None:
    records, entity_of = synthetic_vendors(2)
    # Blocking on an attribute the model does not compare keeps EM's evidence unbiased.
    pairs = candidate_pairs(records, BlockingRules({"region": exact_key("region")})).pairs
    truth = [entity_of[i] == entity_of[j] for i, j in pairs]
    assert 0.1 < sum(truth) / len(truth) < 0.9  # a real mixture of matches and non-matches

    start = flat_m(estimate_u(model(), records, 20_000, seed=3))
    result = estimate_m(start, records, pairs, iterations=200, seed=0)
    assert result.is_converged and result.iterations < 200
    assert result.match_rate == pytest.approx(sum(truth) / len(truth), abs=0.05)
    for comparison in result.model.comparisons:
        top = result.model.levels_of(comparison.name)[0]
        assert top.m > 10 * top.u, comparison.name
    ein = {lv.name: lv for lv in result.model.levels_of("tax_id")}
    # Generated: tax id present 90% of the time, never wrong, so m(exact) ~ 1.
    assert ein["exact"].m > 0.9
    assert 0 < ein["different"].m < 0.1
    for level in (lv for c in result.model.comparisons for lv in result.model.levels_of(c.name)):
        assert 0 < level.m < 1 and 0 < level.u < 1
    again = estimate_m(start, records, pairs, iterations=200, seed=0)
    assert again == result


def test_em_with_free_u_and_subsampling_is_deterministic() -> None:
    records, _ = synthetic_vendors(4, n_entities=120)
    pairs = candidate_pairs(records, BlockingRules({"name": name_prefix_key("name", 8)})).pairs
    start = model()
    first = estimate_m(
        start, records, pairs, is_u_fixed=False, max_pairs=100, seed=9, fixed={"name"}
    )
    assert first.model.levels_of("name") == start.levels_of("name")
    second = estimate_m(
        start, records, list(pairs), is_u_fixed=False, max_pairs=100, seed=9, fixed={"name"}
    )
    assert first == second
    assert first.model.levels_of("tax_id")[0].u != start.levels_of("tax_id")[0].u
    other = estimate_m(
        start, records, pairs, is_u_fixed=False, max_pairs=100, seed=10, fixed={"name"}
    )
    assert other.model != first.model


def test_labels_move_parameters_against_the_prior() -> None:
    start = model()
    left = {"name": "Acme Surgical", "phone": "617-555-0142"}
    moved = {"name": "Acme Surgical", "phone": "212-555-0100"}
    few = update_from_labels(start, [LabelledPair(left, moved, True)] * 2)
    many = update_from_labels(start, [LabelledPair(left, moved, True)] * 2_000)
    phone_m = [lv.levels_of("phone")[1].m for lv in (start, few, many)]
    assert phone_m[0] < phone_m[1] < phone_m[2]  # "different" phones seen among matches
    assert phone_m[2] > 0.95 and many.levels_of("phone")[0].m > 0  # never 0
    assert few.levels_of("tax_id") == start.levels_of("tax_id")  # no evidence, no change
    rejected = update_from_labels(start, [LabelledPair(left, left, False)] * 50)
    assert rejected.levels_of("name")[0].u > start.levels_of("name")[0].u
    kept = update_from_labels(start, [LabelledPair(left, left, False)] * 50, is_u_updated=False)
    assert kept.levels_of("name") == start.levels_of("name")
