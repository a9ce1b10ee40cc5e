"""The hub's match models: each entity spec's comparisons with their current parameters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from matchers import MatchModel, PairScore, RulePlan, rule_plan
from mdm.specs import EntitySpec, MatchSettings

_DEFAULTS: dict[int, MatchModel] = {}
# Rules as level indices, per spec settings and model (both kept: ids stay theirs).
_PLANS: dict[tuple[int, int], tuple[MatchSettings, MatchModel, RulePlan]] = {}


def default_model(spec: EntitySpec) -> MatchModel:
    """The spec's model with the comparisons' domain defaults (before any estimation).

    Raises:
        ValueError: the spec has no matching settings.
    """
    model = _DEFAULTS.get(id(spec))
    if model is None:
        if spec.matching is None:
            raise ValueError(f"{spec.name} has no matching settings")
        model = MatchModel(spec.matching.comparisons, prior=spec.matching.prior)
        _DEFAULTS[id(spec)] = model
    return model


def spec_rules(settings: MatchSettings, model: MatchModel) -> RulePlan:
    """``settings``' vetoes, decisive rules and doubts over ``model``'s comparisons, planned once
    per settings and model: what both the incremental and the bulk path judge pairs with
    (``RulePlan.judge``, ``RulePlan.judge_many``)."""
    found = _PLANS.get((id(settings), id(model)))
    if found is None:
        if len(_PLANS) >= 64:  # models replaced by retraining: drop the old plans
            _PLANS.clear()
        plan = rule_plan(model.comparisons, settings.vetoes, settings.decisive, settings.doubts)
        found = (settings, model, plan)
        _PLANS[(id(settings), id(model))] = found
    return found[2]


def explain_pair(
    spec: EntitySpec,
    left: Mapping[str, Any],
    right: Mapping[str, Any],
    model: MatchModel | None = None,
) -> PairScore:
    """Score two standardized records and say why, comparison by comparison."""
    return (model or default_model(spec)).score(left, right)
