"""Term frequencies: an exact agreement on a rare name weighs more than the level's
average, on a common one less, within bounds; one pair and many pairs agree."""

from __future__ import annotations

import numpy as np
import pytest

from matchers import (
    IdentifierComparison,
    MatchModel,
    OrganizationNameComparison,
    TermFrequencies,
    UnitNameComparison,
    count_terms,
    frequency_table,
    prepare_records,
    score_many,
)
from matchers.frequencies import MAX_TERM_WEIGHT, MIN_TERM_WEIGHT

NAME = OrganizationNameComparison("name", trade_name_attribute=None)


def _vendors() -> list[dict[str, str]]:
    """Forty distinct companies, "Main Street Clinic" under twenty owners in one system,
    and one company in two systems."""
    records = [
        {"name": f"Company {chr(65 + k)}{chr(65 + j)} Surgical"}
        for k in range(4)
        for j in range(10)
    ]
    records += [{"name": "Main Street Clinic"} for _ in range(20)]
    records += [{"name": "Thales Nederland B.V."}, {"name": "THALES NEDERLAND BV"}]
    return records


def _systems(records: list[dict[str, str]]) -> list[str]:
    return ["ERP"] * (len(records) - 1) + ["PROCUREMENT"]


def _model() -> MatchModel:
    records = _vendors()
    model = MatchModel([NAME, IdentifierComparison("tax_id", "ein")])
    prepared = prepare_records(model.comparisons, records)
    tables = count_terms(model.comparisons, [c.features for c in prepared.left], _systems(records))
    return model.with_term_frequencies(tables)


def test_counts_are_per_system_so_a_pair_of_duplicates_is_not_common() -> None:
    (table,) = count_terms(
        [NAME], [[NAME.prepare(r) for r in _vendors()]], _systems(_vendors())
    ).values()
    assert table.counts == {"MAIN STREET CLINIC": 20}
    assert table.share("THALES NEDERLAND") == table.share("COMPANY AA SURGICAL") == 1 / 61


def test_a_rare_name_weighs_more_than_the_level_and_a_common_one_less() -> None:
    model = _model()
    level = model.levels_of("name")[0].weight
    thales = model.score({"name": "Thales Nederland B.V."}, {"name": "THALES NEDERLAND BV"})
    common = model.score({"name": "Main Street Clinic"}, {"name": "MAIN STREET CLINIC"})
    rare, main = thales.contributions[0], common.contributions[0]
    assert (rare.level, main.level) == ("exact", "exact")
    assert main.weight < level < rare.weight <= MAX_TERM_WEIGHT
    assert main.weight >= MIN_TERM_WEIGHT
    assert rare.frequency == pytest.approx(1 / 61)
    assert main.frequency == pytest.approx(20 / 61)
    # Other levels and comparisons are not adjusted.
    fuzzy = model.score({"name": "Thales Nederland"}, {"name": "Thales Nederlands Group"})
    assert fuzzy.contributions[0].frequency is None


def test_every_value_as_common_as_the_others_is_not_adjusted() -> None:
    table = frequency_table({"A": 2, "B": 2, "C": 2})
    assert table.adjustment("A") == 0.0
    assert table.weight(12.0, "A") == 12.0


def test_the_adjusted_weight_is_bounded() -> None:
    # A million names held once and one held a thousand times: agreeing on that one is
    # 9 bits under the average, then held at the floor.
    spread = TermFrequencies(1_001_000, 1e6 + 1000**2, {"X": 1000})
    assert spread.adjustment("X") == pytest.approx(-8.97, abs=0.01)
    assert spread.weight(9.5, "X") == pytest.approx(MIN_TERM_WEIGHT)
    # A thousand names held once beside one held a thousand times: agreeing on one of
    # the rare ones is 9 bits over the average, then held at an exact identifier's weight.
    skewed = TermFrequencies(2000, 1000 + 1000**2, {"X": 1000})
    assert skewed.adjustment("Y") == pytest.approx(8.97, abs=0.01)
    assert skewed.weight(9.5, "Y") == pytest.approx(MAX_TERM_WEIGHT)
    # A level already beyond a bound keeps its own weight there.
    assert spread.weight(0.5, "X") == 0.5
    assert skewed.weight(18.0, "Y") == 18.0


def test_a_long_table_keeps_the_commonest_values_and_counts_the_rest_as_the_least_kept() -> None:
    table = frequency_table({"A": 9, "B": 5, "C": 3, "D": 1}, max_terms=2)
    assert table.counts == {"A": 9, "B": 5}
    assert table.unlisted == 5
    assert table.square_sum == 81 + 25 + 9 + 1


def test_one_pair_and_many_pairs_score_alike() -> None:
    model = _model()
    records = _vendors()
    pairs = np.array(
        [[i, j] for i in range(0, len(records), 3) for j in range(i + 1, len(records), 4)]
    )
    many = score_many(model, records, None, pairs)
    prepared = [model.prepare(r) for r in records]
    for (i, j), weight in zip(pairs.tolist(), many.match_weight.tolist(), strict=True):
        _, one = model.levels_prepared(prepared[i], prepared[j])
        assert weight == pytest.approx(one)
        assert model.score(records[i], records[j]).match_weight == pytest.approx(one)


def test_tables_are_stored_with_the_model() -> None:
    model = _model()
    again = MatchModel.from_dict(model.to_dict(), model.comparisons)
    assert again.term_frequencies == model.term_frequencies
    assert "term_frequencies" not in MatchModel(model.comparisons).to_dict()


def test_unit_names_agree_on_their_distinctive_words() -> None:
    units = UnitNameComparison("name")
    records = [{"name": "HHN Pharmacy"}, {"name": "PHARMACY"}, {"name": "Pharmacy 2"}]
    (table,) = count_terms([units], [[units.prepare(r) for r in records]], ["EHR"] * 3).values()
    assert table.counts == {"PHARMACY": 2}


def test_an_exact_agreement_weighs_what_both_names_hold_whichever_side_is_left() -> None:
    """"CL006 Primary Care" and "Primary Care" are exact (a site code lets the pair pass):
    they agree on the common "Primary Care", never on the rare term of the coded side."""
    units = UnitNameComparison("name")
    model = MatchModel((units,))
    records = [{"name": "Primary Care"} for _ in range(30)]
    records += [{"name": f"Unit {k} Clinic"} for k in range(30)]
    records += [{"name": "CL006 Primary Care"}]
    tables = count_terms([units], [[units.prepare(r) for r in records]], ["EHR"] * len(records))
    model = model.with_term_frequencies(tables)
    coded, plain = {"name": "CL006 Primary Care"}, {"name": "Primary Care"}
    both = model.score(plain, {"name": "Primary Care"}).match_weight
    for left, right in ((coded, plain), (plain, coded)):
        score = model.score(left, right)
        assert score.contributions[0].level == "exact"
        assert score.match_weight == pytest.approx(both)  # the common term, not the rare one
    prepared = prepare_records(model.comparisons, [coded, plain])
    many = score_many(model, [coded, plain], None, np.array([[0, 1]]), prepared=prepared)
    assert many.match_weight[0] == pytest.approx(both)
    assert model.score(coded, {"name": "CL006 Primary Care"}).match_weight > both + 2
