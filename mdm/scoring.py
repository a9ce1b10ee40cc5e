"""The hub's match models: each entity spec's comparisons with their current parameters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from matchers import MatchModel, PairScore
from mdm.specs import EntitySpec

_DEFAULTS: dict[int, MatchModel] = {}


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


def explain_pair(
    spec: EntitySpec,
    left: Mapping[str, Any],
    right: Mapping[str, Any],
    model: MatchModel | None = None,
) -> PairScore:
    """Score two standardized records and say why, comparison by comparison."""
    return (model or default_model(spec)).score(left, right)
