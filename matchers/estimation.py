"""Estimating level parameters: u from random pairs, m by EM, both from steward labels."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from matchers.scoring import Level, MatchModel, PreparedRecords, compare_pairs, prepare_records

# No estimated probability reaches 0 or 1: one unseen level must not veto a pair forever.
PROBABILITY_FLOOR = 1e-6
PROBABILITY_CEILING = 1 - 1e-6


@dataclass(frozen=True)
class EstimationResult:
    """Outcome of ``estimate_m``.

    Attributes:
        model: The model with re-estimated m (and u unless it was fixed).
        match_rate: Estimated share of matches among the candidate pairs.
        iterations: EM iterations run.
        is_converged: Whether parameters stopped moving before the limit.
    """

    model: MatchModel
    match_rate: float
    iterations: int
    is_converged: bool


@dataclass(frozen=True)
class LabelledPair:
    """A pair of records a data steward decided on.

    Attributes:
        left: One record's standardized attributes.
        right: The other record's standardized attributes.
        is_match: True when the steward merged them, False when they rejected.
    """

    left: Mapping[str, Any]
    right: Mapping[str, Any]
    is_match: bool


def estimate_u(
    model: MatchModel,
    records: Sequence[Mapping[str, Any]],
    n_pairs: int,
    seed: int,
    *,
    prepared: PreparedRecords | None = None,
    prior_strength: float = 1.0,
) -> MatchModel:
    """Estimate u (level frequencies among non-matches) from random pairs.

    Random pairs are nearly all non-matches, so their level frequencies
    estimate u. Each estimate is blended with the current u by
    ``prior_strength`` pseudo-pairs, so a level never seen gets a small,
    non-zero u.

    Args:
        model: The model whose u to re-estimate.
        records: The records to sample from (at least 2).
        n_pairs: Number of random pairs of distinct records.
        seed: Random seed; equal seeds give equal results.
        prepared: ``prepare_records(model.comparisons, records)`` to reuse.
        prior_strength: Pseudo-pairs given to the current u.

    Returns:
        A model with new u and unchanged m and prior.
    """
    if len(records) < 2:
        raise ValueError("need at least 2 records to sample pairs")
    rng = np.random.default_rng(seed)
    left = rng.integers(0, len(records), size=n_pairs)
    offset = rng.integers(1, len(records), size=n_pairs)
    pairs = np.column_stack([left, (left + offset) % len(records)])
    prepared = prepared or prepare_records(model.comparisons, records)
    _, _, levels = compare_pairs(model.comparisons, prepared, pairs)
    parameters = {}
    for k, comparison in enumerate(model.comparisons):
        current = model.levels_of(comparison.name)
        counts = _level_counts(levels[:, k], len(current))
        u = _blend([lv.u for lv in current], counts, prior_strength)
        parameters[comparison.name] = [
            Level(lv.name, lv.m, float(p)) for lv, p in zip(current, u, strict=True)
        ]
    return model.with_parameters(parameters)


def estimate_m(
    model: MatchModel,
    records: Sequence[Mapping[str, Any]],
    candidate_pairs: Iterable[tuple[int, int]] | NDArray[np.integer[Any]],
    *,
    iterations: int = 50,
    seed: int = 0,
    tolerance: float = 1e-5,
    initial_match_rate: float = 0.1,
    is_u_fixed: bool = True,
    max_pairs: int | None = None,
    fixed: Collection[str] = (),
    prepared: PreparedRecords | None = None,
) -> EstimationResult:
    """Estimate m by expectation-maximisation over candidate pairs (Fellegi–Sunter).

    Comparisons are assumed conditionally independent given match status.
    Each iteration computes every pair's match probability from the current
    parameters and match rate (lambda), then re-estimates m (and u when not
    fixed) and lambda from those probabilities. It stops at a fixed point (no
    parameter moves more than ``tolerance``) or after ``iterations``.

    Args:
        model: Starting parameters (usually defaults with u from ``estimate_u``).
        records: The records the pairs index.
        candidate_pairs: ``(i, j)`` index pairs, typically from blocking.
        iterations: Maximum EM iterations.
        seed: Seed for subsampling when ``max_pairs`` is exceeded.
        tolerance: Largest parameter change that counts as converged.
        initial_match_rate: Starting lambda among candidate pairs.
        is_u_fixed: Keep u (better estimated from random pairs) unchanged.
        max_pairs: Subsample the candidates to at most this many pairs.
        fixed: Names of comparisons left out of EM and unchanged, typically
            those the blocking rules already required to agree (their levels
            among candidates say nothing about match status).
        prepared: ``prepare_records(model.comparisons, records)`` to reuse.

    Returns:
        The re-estimated model (its prior unchanged), the candidate match
        rate and convergence details.
    """
    prepared = prepared or prepare_records(model.comparisons, records)
    _, _, levels = compare_pairs(model.comparisons, prepared, candidate_pairs)
    if max_pairs is not None and len(levels) > max_pairs:
        rng = np.random.default_rng(seed)
        levels = levels[np.sort(rng.choice(len(levels), size=max_pairs, replace=False))]
    unknown = set(fixed) - {c.name for c in model.comparisons}
    if unknown:
        raise ValueError(f"unknown comparisons in fixed: {sorted(unknown)}")
    for k, comparison in enumerate(model.comparisons):
        if comparison.name in fixed:
            levels[:, k] = -1  # counted as missing: weight 0, no counts
    # Pairs with equal level vectors share a posterior: EM runs over distinct patterns.
    patterns, counts = np.unique(levels, axis=0, return_counts=True)
    weights = counts.astype(np.float64)
    sizes = [len(model.levels_of(c.name)) for c in model.comparisons]
    m = [np.array([lv.m for lv in model.levels_of(c.name)]) for c in model.comparisons]
    u = [np.array([lv.u for lv in model.levels_of(c.name)]) for c in model.comparisons]
    rate = _clip(np.array(initial_match_rate))
    iteration, is_converged = 0, False
    while iteration < iterations and not is_converged:
        iteration += 1
        log_odds = np.full(len(patterns), np.log(rate / (1 - rate)))
        for k in range(len(sizes)):
            log_odds += _with_missing(np.log(m[k] / u[k]))[patterns[:, k]]
        posterior = 1.0 / (1.0 + np.exp(-np.clip(log_odds, -700, 700)))
        new_m = [
            _clip_normalize(_weighted_counts(patterns[:, k], posterior * weights, sizes[k]))
            for k in range(len(sizes))
        ]
        new_u = (
            u
            if is_u_fixed
            else [
                _clip_normalize(
                    _weighted_counts(patterns[:, k], (1 - posterior) * weights, sizes[k])
                )
                for k in range(len(sizes))
            ]
        )
        new_rate = _clip(np.array(np.sum(posterior * weights) / max(np.sum(weights), 1.0)))
        change = max(
            [float(np.max(np.abs(a - b))) for a, b in zip(new_m + new_u, m + u, strict=True)]
            + [abs(float(new_rate - rate))]
        )
        m, u, rate = new_m, new_u, new_rate
        is_converged = change < tolerance
    parameters = {
        c.name: [
            Level(lv.name, float(mk), float(uk))
            for lv, mk, uk in zip(model.levels_of(c.name), m[k], u[k], strict=True)
        ]
        for k, c in enumerate(model.comparisons)
        if c.name not in fixed
    }
    return EstimationResult(model.with_parameters(parameters), float(rate), iteration, is_converged)


def update_from_labels(
    model: MatchModel,
    labelled_pairs: Sequence[LabelledPair],
    *,
    prior_strength: float = 20.0,
    is_u_updated: bool = True,
) -> MatchModel:
    """Refine m and u from steward decisions, weighted against the current estimate.

    The current parameters act as a Dirichlet (Beta, for two levels) prior
    worth ``prior_strength`` pairs: a few labels nudge the parameters, many
    labels dominate them. Merged pairs update m, rejected pairs update u.
    Steward decisions concern hard cases, not random pairs, so pass
    ``is_u_updated=False`` to keep u from random sampling.

    Args:
        model: The model to refine.
        labelled_pairs: Steward decisions.
        prior_strength: Pseudo-pairs given to the current parameters.
        is_u_updated: Whether rejected pairs update u.

    Returns:
        The refined model.
    """
    parameters = {}
    for comparison in model.comparisons:
        current = model.levels_of(comparison.name)
        matches = np.zeros(len(current))
        non_matches = np.zeros(len(current))
        for pair in labelled_pairs:
            found = comparison.level(comparison.prepare(pair.left), comparison.prepare(pair.right))
            if found is not None:
                (matches if pair.is_match else non_matches)[found] += 1
        m = _blend([lv.m for lv in current], matches, prior_strength)
        u = (
            _blend([lv.u for lv in current], non_matches, prior_strength)
            if is_u_updated
            else np.array([lv.u for lv in current])
        )
        parameters[comparison.name] = [
            Level(lv.name, float(mk), float(uk)) for lv, mk, uk in zip(current, m, u, strict=True)
        ]
    return model.with_parameters(parameters)


def _level_counts(levels: NDArray[np.int8], size: int) -> NDArray[np.float64]:
    present = levels[levels >= 0]
    return np.bincount(present, minlength=size).astype(np.float64)


def _weighted_counts(
    levels: NDArray[np.int8], weights: NDArray[np.float64], size: int
) -> NDArray[np.float64]:
    present = levels >= 0
    return np.bincount(levels[present], weights=weights[present], minlength=size).astype(np.float64)


def _blend(
    prior: Sequence[float], counts: NDArray[np.float64], strength: float
) -> NDArray[np.float64]:
    total = float(np.sum(counts))
    blended = (strength * np.asarray(prior, dtype=np.float64) + counts) / (strength + total)
    return _clip_normalize(blended)


def _clip_normalize(values: NDArray[np.float64]) -> NDArray[np.float64]:
    total = float(np.sum(values))
    shares = values / total if total > 0 else np.full(len(values), 1.0 / len(values))
    clipped = _clip(shares)
    return clipped / float(np.sum(clipped))


def _clip(values: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.clip(values, PROBABILITY_FLOOR, PROBABILITY_CEILING)


def _with_missing(weights: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.append(weights, 0.0)  # level -1 (missing) indexes the trailing 0
