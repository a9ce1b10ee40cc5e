from __future__ import annotations

import dataclasses
import itertools
import random

import pytest

from matchers import MatchModel, probability
from mdm.codes import EMPTY_CODEBOOK
from mdm.context import ContextView
from mdm.matching import judge, judge_levels, rule_plan
from mdm.scoring import default_model
from mdm.specs import DEFAULT_SPECS, EntitySpec, MatchSettings

MATCHING_SPECS = [DEFAULT_SPECS[name] for name in DEFAULT_SPECS if DEFAULT_SPECS[name].matching]
REVIEW = 0.8


def _hit(model: MatchModel, found: tuple[int | None, ...]) -> set[tuple[str, str]]:
    return {
        (comparison.name, comparison.levels[level])
        for comparison, level in zip(model.comparisons, found, strict=True)
        if level is not None
    }


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


@pytest.mark.parametrize("spec", [pytest.param(s, id=s.name) for s in MATCHING_SPECS])
def test_judge_levels_judges_like_the_hit_set(spec: EntitySpec) -> None:
    assert spec.matching is not None
    model = default_model(spec)
    plan = rule_plan(spec.matching, model)
    rng = random.Random(spec.name)
    outcomes = set()
    for found in _level_combinations(model, rng):
        for weight in (-30.0, -2.5, 0.0, 1.7, 2.0, 3.5, 12.0, rng.uniform(-20, 20)):
            expected = judge(spec.matching, _hit(model, found), probability(weight), REVIEW)
            assert judge_levels(plan, found, weight, REVIEW) == expected, (found, weight)
            outcomes.add((expected.probability == 1.0, bool(expected.vetoed_by)))
    # Decisive rules, vetoes and plain weights all occurred.
    assert {(True, False), (False, True), (False, False)} <= outcomes


def test_rules_on_comparisons_the_model_lacks_never_hold() -> None:
    spec = DEFAULT_SPECS["vendor"]
    assert spec.matching is not None
    model = default_model(spec)
    settings: MatchSettings = dataclasses.replace(
        spec.matching,
        vetoes=(("nowhere", "different"), *spec.matching.vetoes),
        decisive=((("nowhere", "exact"),), *spec.matching.decisive),
    )
    plan = rule_plan(settings, model)
    for found in _level_combinations(model, random.Random(3)):
        expected = judge(settings, _hit(model, found), probability(5.0), REVIEW)
        assert judge_levels(plan, found, 5.0, REVIEW) == expected


@pytest.mark.parametrize("spec", [pytest.param(s, id=s.name) for s in MATCHING_SPECS])
def test_context_key_of_keys_like_context_key(spec: EntitySpec) -> None:
    context = ContextView(EMPTY_CODEBOOK, DEFAULT_SPECS)
    key = context.context_key_of(spec)
    names = [a.name for a in spec.coded] + [a.name for a in spec.compared_references]
    views = [{}, {n: f"v-{n}" for n in names}, {names[0]: "only"} if names else {"x": 1}]
    for view in views:
        expected = (EMPTY_CODEBOOK.version, *(view.get(n) for n in names))
        assert key(view) == context.context_key(spec, view) == expected
