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
    m, u, rate, iteration, is_converged, _ = _em(
        model,
        levels,
        fixed,
        iterations=iterations,
        tolerance=tolerance,
        initial_match_rate=initial_match_rate,
        is_u_fixed=is_u_fixed,
    )
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


def _em(
    model: MatchModel,
    levels: NDArray[np.int8],
    fixed: Collection[str],
    *,
    iterations: int = 50,
    tolerance: float = 1e-5,
    initial_match_rate: float = 0.1,
    is_u_fixed: bool = True,
) -> tuple[
    list[NDArray[np.float64]],
    list[NDArray[np.float64]],
    float,
    int,
    bool,
    list[NDArray[np.float64]],
]:
    """EM over a level matrix (see ``estimate_m``).

    Returns:
        m and u per comparison, the match rate, iterations run, whether it converged, and
        the expected number of matching pairs at each level of each comparison (at the
        last iteration: what the data says, before any blending).
    """
    levels = levels.copy()
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
    match_counts = [np.zeros(size) for size in sizes]
    iteration, is_converged = 0, False
    while iteration < iterations and not is_converged:
        iteration += 1
        log_odds = np.full(len(patterns), np.log(rate / (1 - rate)))
        for k in range(len(sizes)):
            log_odds += _with_missing(np.log(m[k] / u[k]))[patterns[:, k]]
        posterior = 1.0 / (1.0 + np.exp(-np.clip(log_odds, -700, 700)))
        match_counts = [
            _weighted_counts(patterns[:, k], posterior * weights, sizes[k])
            for k in range(len(sizes))
        ]
        new_m = [_clip_normalize(c) for c in match_counts]
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
    return m, u, float(rate), iteration, is_converged, match_counts


def _weights(model: MatchModel, levels: NDArray[np.int8]) -> NDArray[np.float64]:
    """Match weight (prior included) of each row of a level matrix under ``model``."""
    weights = np.full(len(levels), model.prior_weight, dtype=np.float64)
    for k, comparison in enumerate(model.comparisons):
        table = np.array([lv.weight for lv in model.levels_of(comparison.name)] + [0.0])
        weights += table[levels[:, k]]
    return weights


def _present(features: Sequence[Any]) -> NDArray[np.bool_]:
    """Which records hold a prepared value."""
    return np.fromiter((f is not None for f in features), dtype=bool, count=len(features))


def _ranks(order: NDArray[np.int64]) -> NDArray[np.int64]:
    """Each record's position in ``order`` (the inverse permutation)."""
    ranks = np.empty_like(order)
    ranks[order] = np.arange(len(order), dtype=np.int64)
    return ranks


def _bounded(
    m: NDArray[np.float64], u: NDArray[np.float64], defaults: Sequence[Level]
) -> NDArray[np.float64]:
    """m with every level's weight held between ``1 / BOUND_FACTOR`` and ``BOUND_FACTOR``
    times its default weight (the domain bounds what the data may say: a level against a
    match stays against it, and one for it stays for it).

    m is renormalized after the first hold and held again without renormalizing, so the
    bounds are exact and m sums to about 1.
    """
    kept = m.copy()
    for is_last in (False, True):
        for k, level in enumerate(defaults):
            default = float(np.log2(level.m / level.u))
            low, high = sorted((default * BOUND_FACTOR, default / BOUND_FACTOR))
            weight = float(np.clip(np.log2(kept[k] / u[k]), low, high))
            kept[k] = min(u[k] * 2.0**weight, PROBABILITY_CEILING)
        if not is_last:
            kept = kept / float(np.sum(kept))
    return kept


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


# Self-calibration of a first load (``calibrate``): below these, the data says too little
# and the domain defaults stay.
MIN_CALIBRATION_RECORDS = 200
MIN_CALIBRATION_PAIRS = 100
# Random pairs sampled for u: five per record, at least 100,000 and at most a million
# (levels as rare as one pair in a million are seen at the largest loads).
CALIBRATION_U_PAIRS = 1_000_000
CALIBRATION_U_PAIRS_PER_RECORD = 5
CALIBRATION_MIN_U_PAIRS = 100_000
# Candidate pairs EM runs over (a deterministic sample beyond this).
CALIBRATION_EM_PAIRS = 500_000
# Pseudo-pairs the domain defaults are worth: estimates move them, a few odd pairs do not.
CALIBRATION_PRIOR_STRENGTH = 50.0
# The estimated prior is kept within these bounds (probability that two records match).
PRIOR_BOUNDS = (1e-9, 0.05)
# An estimated level weight stays within this factor of its domain default.
BOUND_FACTOR = 1.5


@dataclass(frozen=True)
class Calibration:
    """Outcome of ``calibrate``.

    Attributes:
        model: The calibrated model, or the starting one when ``is_estimated`` is false.
        is_estimated: Whether the data was enough to estimate from.
        notes: What was estimated from what (records, pairs, EM rate and iterations, the
            prior), or ``reason`` for keeping the starting model; stored with the version.
    """

    model: MatchModel
    is_estimated: bool
    notes: dict[str, Any]


def calibrate(
    model: MatchModel,
    prepared: PreparedRecords,
    n_records: int,
    candidate_pairs: NDArray[np.integer[Any]],
    *,
    rank: NDArray[np.integer[Any]] | None = None,
    fixed: Collection[str] = (),
    seed: int = 0,
    u_pairs: int = CALIBRATION_U_PAIRS,
    em_pairs: int = CALIBRATION_EM_PAIRS,
    levels: NDArray[np.int8] | None = None,
) -> Calibration:
    """A model estimated from the records of a first load: u from random pairs, m by EM
    over the candidate pairs (starting from ``model``, the domain defaults), the prior from
    the estimated number of matches.

    u leaves out the random pairs the starting model finds more likely matches than not.
    Each level's estimate is blended with its default (``CALIBRATION_PRIOR_STRENGTH``
    pseudo-pairs), and its weight is held within ``BOUND_FACTOR`` of the default's: the
    data may strengthen or weaken a level but never turns evidence against a match into
    evidence for it (the comparisons of names and addresses are not independent, and EM
    alone would count their agreement twice). Vetoes and decisive rules are the spec's and
    stay as they are.

    The prior is the share of candidate pairs EM's model is sure of (posterior over one
    half) times their number, over all pairs of records, within ``PRIOR_BOUNDS``; with no
    sure pair it stays the starting model's.

    Deterministic: pairs are drawn by ``seed`` over the records in ``rank`` order (a
    canonical order such as (system, source id), so input order does not matter).

    Args:
        model: The starting model (the domain defaults).
        prepared: The records, prepared for ``model.comparisons`` (one set).
        n_records: Number of records ``prepared`` holds.
        candidate_pairs: ``(n, 2)`` record index pairs the blocking found.
        rank: Each record's position in a canonical order (default: its index).
        fixed: Comparisons the blocking forces to agree: their m is kept.
        seed: Random seed.
        u_pairs: Random pairs sampled for u at most (``CALIBRATION_U_PAIRS_PER_RECORD`` per
            record, at least ``CALIBRATION_MIN_U_PAIRS``, never more than there are).
        em_pairs: Candidate pairs EM runs over at most.
        levels: ``candidate_pairs``' level matrix (``compare_pairs``), when compared
            already (to be scored next): EM's sample is read from it, not compared again.

    Returns:
        The calibrated model with its notes, or the starting model and the reason.
    """
    pairs = np.asarray(candidate_pairs, dtype=np.int64).reshape(-1, 2)
    if levels is not None and len(levels) != len(pairs):
        raise ValueError(f"{len(levels)} level rows for {len(pairs)} candidate pairs")
    if n_records < MIN_CALIBRATION_RECORDS:
        reason = f"{n_records} records: at least {MIN_CALIBRATION_RECORDS} are needed"
        return Calibration(model, False, {"reason": reason, "records": n_records})
    if len(pairs) < MIN_CALIBRATION_PAIRS:
        reason = f"{len(pairs)} candidate pairs: at least {MIN_CALIBRATION_PAIRS} are needed"
        return Calibration(model, False, {"reason": reason, "records": n_records})
    order = (
        np.arange(n_records, dtype=np.int64)
        if rank is None
        else np.argsort(np.asarray(rank), kind="stable").astype(np.int64)
    )
    rng = np.random.default_rng(seed)
    all_pairs = n_records * (n_records - 1) // 2
    wanted = max(CALIBRATION_MIN_U_PAIRS, CALIBRATION_U_PAIRS_PER_RECORD * n_records)
    n_u = int(min(u_pairs, wanted, all_pairs))
    left = rng.integers(0, n_records, size=n_u)
    right = (left + rng.integers(1, n_records, size=n_u)) % n_records
    random_pairs = np.column_stack([order[left], order[right]])
    _, _, u_levels = compare_pairs(model.comparisons, prepared, random_pairs)
    # Random pairs of a small or duplicate-rich load hold matches too, and they would
    # count as agreement among non-matches: pairs the starting model finds more likely
    # matches than not are left out of u.
    kept = _weights(model, u_levels) < 0
    u_levels, random_pairs = u_levels[kept], random_pairs[kept]
    with_u = {}
    for k, comparison in enumerate(model.comparisons):
        current = model.levels_of(comparison.name)
        counts = _level_counts(u_levels[:, k], len(current))
        # A comparison may leave two present values uncompared (a flagged identifier
        # against another, two systems' own spellings of a code): such pairs disagree,
        # and counting only compared pairs would make agreement look common.
        present = _present(prepared.left[k].features)
        uncompared = int(
            np.sum(present[random_pairs[:, 0]] & present[random_pairs[:, 1]])
            - np.sum(u_levels[:, k] >= 0)
        )
        counts[-1] += max(uncompared, 0)
        u = _blend([lv.u for lv in current], counts, CALIBRATION_PRIOR_STRENGTH)
        with_u[comparison.name] = [
            Level(lv.name, lv.m, float(p)) for lv, p in zip(current, u, strict=True)
        ]
    start = model.with_parameters(with_u)
    rows: NDArray[np.int64] | None = None  # the sample's rows in ``pairs`` (None: all)
    if len(pairs) > em_pairs:
        # A sample drawn over the pairs in canonical order, whatever order blocking gave.
        ranked = _ranks(order)
        a, b = ranked[pairs[:, 0]], ranked[pairs[:, 1]]
        canonical = np.lexsort((np.maximum(a, b), np.minimum(a, b)))
        chosen = np.sort(rng.choice(len(pairs), size=em_pairs, replace=False))
        rows = canonical[chosen]
    sample = pairs if rows is None else pairs[rows]
    if levels is None:
        _, _, levels = compare_pairs(start.comparisons, prepared, sample)
    elif rows is not None:
        levels = levels[rows]
    em_m, _, rate, iterations, is_converged, match_counts = _em(
        start, levels, fixed, is_u_fixed=True
    )
    # The matches EM's model is sure of (posterior over one half), not the sum of
    # posteriors: candidate non-matches that agree on a part (a shared building, a common
    # surname) each add a little, and together they would inflate the prior.
    em_model = start.with_parameters(
        {
            c.name: [
                Level(lv.name, float(mk), lv.u)
                for lv, mk in zip(start.levels_of(c.name), em_m[k], strict=True)
            ]
            for k, c in enumerate(start.comparisons)
            if c.name not in fixed
        },
        prior=float(np.clip(rate, *PRIOR_BOUNDS)),
    )
    sure_share = float(np.mean(_weights(em_model, levels) > 0)) if len(levels) else 0.0
    parameters = {}
    for k, comparison in enumerate(model.comparisons):
        defaults = model.levels_of(comparison.name)
        u = np.array([lv.u for lv in start.levels_of(comparison.name)])
        if comparison.name in fixed:
            m = np.array([lv.m for lv in defaults])
        else:
            m = _blend([lv.m for lv in defaults], match_counts[k], CALIBRATION_PRIOR_STRENGTH)
        m = _bounded(m, u, defaults)
        parameters[comparison.name] = [
            Level(lv.name, float(mk), float(uk)) for lv, mk, uk in zip(defaults, m, u, strict=True)
        ]
    matches = sure_share * len(pairs)
    # No pair the data is sure of says nothing about how many there are: keep the prior.
    prior = (
        float(np.clip(matches / max(all_pairs, 1), *PRIOR_BOUNDS)) if matches >= 1 else model.prior
    )
    notes = {
        "records": n_records,
        "candidate_pairs": int(len(pairs)),
        "em_pairs": int(len(sample)),
        "u_pairs": n_u,
        "em_match_rate": round(rate, 6),
        "estimated_matches": round(matches, 1),
        "prior": prior,
        "default_prior": model.prior,
        "em_iterations": iterations,
        "em_converged": is_converged,
        "fixed": sorted(fixed),
        "seed": seed,
    }
    return Calibration(model.with_parameters(parameters, prior=prior), True, notes)
