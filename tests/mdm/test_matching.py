from __future__ import annotations

import dataclasses
import itertools
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matchers import Judgement, MatchModel, probability, rule_plan
from mdm.codes import EMPTY_CODEBOOK
from mdm.context import ContextView
from mdm.scoring import default_model, spec_rules
from mdm.specs import DEFAULT_SPECS, EntitySpec, MatchSettings

MATCHING_SPECS = [DEFAULT_SPECS[name] for name in DEFAULT_SPECS if DEFAULT_SPECS[name].matching]
REVIEW, AUTO = 0.8, 0.99


def _hit(model: MatchModel, found: tuple[int | None, ...]) -> set[tuple[str, str]]:
    return {
        (comparison.name, comparison.levels[level])
        for comparison, level in zip(model.comparisons, found, strict=True)
        if level is not None
    }


def _judge_as_written(
    settings: MatchSettings,
    hit: set[tuple[str, str]],
    match_probability: float,
    review_threshold: float,
    auto_threshold: float = AUTO,
) -> Judgement:
    """The rules read straight from the spec, on a pair's ``(comparison, level)`` hits: the
    oracle ``RulePlan`` (level indices) is checked against."""
    vetoed_by = tuple(f"{name}.{level}" for name, level in settings.vetoes if (name, level) in hit)
    doubted_by = tuple(f"{name}.{level}" for name, level in settings.doubts if (name, level) in hit)
    for rule in settings.decisive:
        if all(_holds_as_written(condition, hit) for condition in rule):
            return Judgement(1.0, (), vetoed_by + doubted_by)
    caps = [review_threshold * 0.999] * bool(vetoed_by) + [auto_threshold * 0.999] * bool(
        doubted_by
    )
    return Judgement(min([match_probability, *caps]), vetoed_by, (), doubted_by)


def _holds_as_written(condition: tuple[str, str], hit: set[tuple[str, str]]) -> bool:
    name, level = condition
    if level.startswith("not:"):  # any level but that one, or missing
        return (name, level.removeprefix("not:")) not in hit
    return condition in hit


def _level_combinations(model: MatchModel, rng: random.Random) -> list[tuple[int | None, ...]]:
    """Every combination of levels (missing included) when there are few, else a sample
    plus every combination that sets off a rule or a veto of the comparisons alone."""
    choices = [[None, *range(len(c.levels))] for c in model.comparisons]
    total = 1
    for options in choices:
        total *= len(options)
    if total <= 20_000:
        return list(itertools.product(*choices))
    return [tuple(rng.choice(options) for options in choices) for _ in range(20_000)]


def _as_array(found: list[tuple[int | None, ...]]) -> np.ndarray:
    """Levels as ``score_many`` gives them: ``-1`` where a value is missing."""
    return np.asarray([[-1 if f is None else f for f in row] for row in found], dtype=np.int8)


@pytest.mark.parametrize("spec", [pytest.param(s, id=s.name) for s in MATCHING_SPECS])
def test_the_rule_plan_judges_like_the_rules_as_written(spec: EntitySpec) -> None:
    assert spec.matching is not None
    model = default_model(spec)
    plan = spec_rules(spec.matching, model)
    rng = random.Random(spec.name)
    outcomes = set()
    doubted = False
    for found in _level_combinations(model, rng):
        for weight in (-30.0, -2.5, 0.0, 1.7, 2.0, 3.5, 12.0, rng.uniform(-20, 20)):
            expected = _judge_as_written(
                spec.matching, _hit(model, found), probability(weight), REVIEW
            )
            judged = plan.judge(found, probability(weight), REVIEW, AUTO)
            assert judged == expected, (found, weight)
            outcomes.add((expected.probability == 1.0, bool(expected.vetoed_by)))
            doubted |= bool(expected.doubted_by)
    # Decisive rules, vetoes and plain weights all occurred (and doubts, where there are).
    assert {(True, False), (False, True), (False, False)} <= outcomes
    assert doubted == bool(spec.matching.doubts)


@pytest.mark.parametrize("spec", [pytest.param(s, id=s.name) for s in MATCHING_SPECS])
def test_the_array_judge_agrees_with_the_pair_judge_on_every_level_combination(
    spec: EntitySpec,
) -> None:
    """The bulk path's judge (arrays) and the incremental one's (one pair) are two forms of
    one plan: on every combination of levels (or a large sample), the same probability,
    and the same vetoes held the pair back (all of them, or those asked about)."""
    assert spec.matching is not None
    model = default_model(spec)
    plan = spec_rules(spec.matching, model)
    rng = random.Random(f"arrays-{spec.name}")
    found = _level_combinations(model, rng)
    first = {label for _, _, label in plan.vetoes[:1]}
    for chance in (0.0, 0.5, REVIEW, 0.85, 0.995, 1.0, rng.random()):
        judged = plan.judge_many(_as_array(found), np.full(len(found), chance), REVIEW, AUTO)
        expected = [plan.judge(f, chance, REVIEW, AUTO) for f in found]
        assert judged.tolist() == [e.probability for e in expected]
        for reported in (None, first):
            _, vetoed = plan.judge_arrays(
                _as_array(found), np.full(len(found), chance), REVIEW, AUTO, reported
            )
            held = [bool(set(e.vetoed_by) & (reported or set(e.vetoed_by))) for e in expected]
            assert vetoed.tolist() == held
            assert any(held)


@pytest.mark.parametrize("spec", [pytest.param(s, id=s.name) for s in MATCHING_SPECS])
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_the_array_judge_agrees_with_the_pair_judge(spec: EntitySpec, data: st.DataObject) -> None:
    assert spec.matching is not None
    model = default_model(spec)
    plan = spec_rules(spec.matching, model)
    row = st.tuples(*(st.sampled_from([None, *range(len(c.levels))]) for c in model.comparisons))
    found = data.draw(st.lists(row, min_size=1, max_size=30))
    chances = data.draw(st.lists(st.floats(0.0, 1.0), min_size=len(found), max_size=len(found)))
    review = data.draw(st.floats(0.05, 0.99))
    auto = data.draw(st.floats(review, 0.999))
    judged = plan.judge_many(_as_array(found), np.asarray(chances), review, auto)
    for k, (levels, chance) in enumerate(zip(found, chances, strict=True)):
        assert judged[k] == plan.judge(levels, chance, review, auto).probability, (levels, chance)


def test_rules_on_comparisons_the_model_lacks_never_hold() -> None:
    spec = DEFAULT_SPECS["vendor"]
    assert spec.matching is not None
    model = default_model(spec)
    settings_: MatchSettings = dataclasses.replace(
        spec.matching,
        vetoes=(("nowhere", "different"), ("name", "no-such-level"), *spec.matching.vetoes),
        decisive=((("nowhere", "exact"),), *spec.matching.decisive),
    )
    plan = rule_plan(model.comparisons, settings_.vetoes, settings_.decisive, settings_.doubts)
    found = _level_combinations(model, random.Random(3))
    chance = probability(5.0)
    for levels in found:
        expected = _judge_as_written(settings_, _hit(model, levels), chance, REVIEW)
        assert plan.judge(levels, chance, REVIEW, AUTO) == expected
    judged = plan.judge_many(_as_array(found), np.full(len(found), chance), REVIEW, AUTO)
    assert judged.tolist() == [plan.judge(f, chance, REVIEW, AUTO).probability for f in found]


@pytest.mark.parametrize("spec", [pytest.param(s, id=s.name) for s in MATCHING_SPECS])
def test_context_key_of_keys_like_context_key(spec: EntitySpec) -> None:
    context = ContextView(EMPTY_CODEBOOK, DEFAULT_SPECS)
    key = context.context_key_of(spec)
    names = [a.name for a in spec.coded] + [a.name for a in spec.compared_references]
    views = [{}, {n: f"v-{n}" for n in names}, {names[0]: "only"} if names else {"x": 1}]
    for view in views:
        expected = (EMPTY_CODEBOOK.version, *(view.get(n) for n in names))
        assert key(view) == context.context_key(spec, view) == expected


def test_one_name_and_kind_under_one_parent_is_one_unit_unless_an_identifier_differs() -> None:
    """"Pediatrics 2" twice under one hospital is one department, however common the name
    and however low the prior a large store estimates; a GLN, NPI or street that disagrees
    still keeps the two apart, and another cost center leaves it to the weights."""
    spec = DEFAULT_SPECS["location"]
    assert spec.matching is not None
    model = default_model(spec)
    plan = spec_rules(spec.matching, model)
    names = [c.name for c in model.comparisons]

    def levels(**given: str) -> tuple[int | None, ...]:
        return tuple(
            None if name not in given else c.levels.index(given[name])
            for name, c in zip(names, model.comparisons, strict=True)
        )

    unit = {"parent": "same", "name": "exact", "location_type": "exact"}
    assert plan.judge(levels(**unit), 0.5, REVIEW, AUTO).probability == 1.0
    assert plan.judge(levels(**unit, address_line1="exact"), 0.5, REVIEW, AUTO).probability == 1.0
    for other in ({"npi": "different"}, {"gln": "different"}, {"address_line1": "different"}):
        judged = plan.judge(levels(**unit, **other), 0.5, REVIEW, AUTO)
        assert judged.probability < REVIEW and judged.vetoed_by
    charged_elsewhere = plan.judge(levels(**unit, cost_center="different"), 0.5, REVIEW, AUTO)
    assert charged_elsewhere.probability == 0.5
    elsewhere = plan.judge(levels(**{**unit, "parent": "different"}), 0.99, REVIEW, AUTO)
    assert elsewhere.vetoed_by == ("parent.different",)
    # A system that files the unit under no parent: the cost center it is charged to.
    charged = {"cost_center": "same", "name": "exact", "location_type": "exact"}
    assert plan.judge(levels(**charged), 0.5, REVIEW, AUTO).probability == 1.0
    for other in ({"parent": "different"}, {"npi": "different"}, {"name": "different"}):
        assert plan.judge(levels(**{**charged, **other}), 0.5, REVIEW, AUTO).probability < REVIEW
