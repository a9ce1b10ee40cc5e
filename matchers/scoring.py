"""Fellegi–Sunter match model: level parameters, pair scores and their explanation."""

from __future__ import annotations

import math
import operator
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from matchers.comparisons import Column, Comparison
from matchers.frequencies import EXACT, TermFrequencies, adjusted_terms, tables_from_dict
from matchers.rules import RulePlan

MODEL_FORMAT = 1


@dataclass(frozen=True)
class Level:
    """Parameters of one comparison level.

    Attributes:
        name: The level name, as listed by the comparison.
        m: Probability of this level among true matches.
        u: Probability of this level among non-matches.
    """

    name: str
    m: float
    u: float

    def __post_init__(self) -> None:
        if not (0 < self.m < 1 and 0 < self.u < 1):
            raise ValueError(
                f"level {self.name!r}: m and u must be in (0, 1), got {self.m}, {self.u}"
            )

    @property
    def weight(self) -> float:
        """Match weight, ``log2(m / u)``: the level's Bayes factor in bits."""
        return math.log2(self.m / self.u)


@dataclass(frozen=True)
class Contribution:
    """What one comparison added to a pair's score.

    Attributes:
        comparison: The comparison name.
        attributes: The attributes it reads.
        left_value: The left record's raw value(s), or None.
        right_value: The right record's raw value(s), or None.
        level: The level reached, or None when a value is missing.
        weight: The level's match weight (0 when missing), adjusted for the value agreed on
            when the model has its term frequencies.
        frequency: With that adjustment, the value's share among the records counted.
    """

    comparison: str
    attributes: tuple[str, ...]
    left_value: str | None
    right_value: str | None
    level: str | None
    weight: float
    frequency: float | None = None


@dataclass(frozen=True)
class PairScore:
    """Score of one pair with its field-by-field explanation.

    Attributes:
        match_weight: Prior weight plus the sum of contribution weights.
        match_probability: ``2**w / (1 + 2**w)`` for the match weight ``w``.
        prior_weight: ``log2(prior / (1 - prior))``.
        contributions: One per comparison, in model order.
    """

    match_weight: float
    match_probability: float
    prior_weight: float
    contributions: tuple[Contribution, ...]


@dataclass(frozen=True)
class MatchModel:
    """Comparisons with their level parameters and a prior match probability.

    Args:
        comparisons: The comparisons, with distinct names.
        parameters: Levels per comparison name; comparisons not listed use
            their ``default_parameters``.
        prior: Probability that two records drawn at random match (lambda).
        term_frequencies: Per comparison name, how common its values are
            (``matchers.frequencies``): an exact agreement on a rare value weighs more
            than the level's average, on a common one less.

    Example:
        >>> model = MatchModel([IdentifierComparison("tax_id", "ein")])
        >>> model.score({"tax_id": "41-2847561"}, {"tax_id": "412847561"}).match_weight > 0
        True
    """

    comparisons: Sequence[Comparison[Any]]
    parameters: Mapping[str, Sequence[Level]] = field(default_factory=dict)
    prior: float = 1e-4
    term_frequencies: Mapping[str, TermFrequencies] = field(default_factory=dict)

    def __post_init__(self) -> None:
        comparisons = tuple(self.comparisons)
        names = [c.name for c in comparisons]
        if len(set(names)) != len(names):
            raise ValueError(f"comparison names must be distinct, got {names}")
        unknown = set(self.parameters) - set(names)
        if unknown:
            raise ValueError(f"parameters for unknown comparisons: {sorted(unknown)}")
        unknown_terms = set(self.term_frequencies) - set(names)
        if unknown_terms:
            raise ValueError(f"term frequencies for unknown comparisons: {sorted(unknown_terms)}")
        if not 0 < self.prior < 1:
            raise ValueError(f"prior must be in (0, 1), got {self.prior}")
        parameters: dict[str, tuple[Level, ...]] = {}
        for comparison in comparisons:
            given = self.parameters.get(comparison.name)
            levels = (
                tuple(given)
                if given is not None
                else tuple(
                    Level(name, m, u)
                    for name, (m, u) in zip(
                        comparison.levels, comparison.default_parameters, strict=True
                    )
                )
            )
            if tuple(level.name for level in levels) != comparison.levels:
                raise ValueError(
                    f"{comparison.name}: levels {[lv.name for lv in levels]} do not match "
                    f"{list(comparison.levels)}"
                )
            parameters[comparison.name] = levels
        object.__setattr__(self, "comparisons", comparisons)
        object.__setattr__(self, "parameters", parameters)
        weights = tuple(tuple(lv.weight for lv in parameters[c.name]) for c in comparisons)
        object.__setattr__(self, "_weights", weights)
        # What ``levels_prepared`` reads for every pair, looked up once.
        object.__setattr__(self, "_level_of", tuple(c.level for c in comparisons))
        object.__setattr__(self, "_prior_weight", math.log2(self.prior / (1 - self.prior)))
        object.__setattr__(self, "term_frequencies", dict(self.term_frequencies))
        object.__setattr__(self, "_terms", adjusted_terms(comparisons, self.term_frequencies))

    @property
    def prior_weight(self) -> float:
        """``log2(prior / (1 - prior))``."""
        return math.log2(self.prior / (1 - self.prior))

    def levels_of(self, name: str) -> tuple[Level, ...]:
        """The levels of the comparison called ``name``."""
        return tuple(self.parameters[name])

    def weight_table(self) -> list[NDArray[np.float64]]:
        """Per comparison, level weights with a trailing 0 (indexed by -1 = missing)."""
        return [
            np.array([lv.weight for lv in self.parameters[c.name]] + [0.0], dtype=np.float64)
            for c in self.comparisons
        ]

    def with_parameters(
        self, parameters: Mapping[str, Sequence[Level]], prior: float | None = None
    ) -> MatchModel:
        """A copy with some comparisons' levels (and optionally the prior) replaced."""
        merged = {**self.parameters, **parameters}
        return MatchModel(
            self.comparisons,
            merged,
            self.prior if prior is None else prior,
            self.term_frequencies,
        )

    def with_term_frequencies(self, tables: Mapping[str, TermFrequencies]) -> MatchModel:
        """A copy whose exact agreements are weighed by ``tables`` (none: not adjusted)."""
        return MatchModel(self.comparisons, self.parameters, self.prior, tables)

    def prepare(self, record: Mapping[str, Any]) -> tuple[Any, ...]:
        """A record's prepared values, one per comparison, for ``score_prepared``."""
        return tuple(c.prepare(record) for c in self.comparisons)

    def levels_prepared(
        self, left_prepared: Sequence[Any], right_prepared: Sequence[Any]
    ) -> tuple[tuple[int | None, ...], float]:
        """The level index of each comparison (``None``: missing) and the match weight of
        a prepared pair: what ``score_prepared`` finds, without building its explanation
        (a newcomer compared with many candidates explains only the ones that count)."""
        level_of: tuple[Any, ...] = self._level_of  # type: ignore[attr-defined]
        if len(left_prepared) != len(level_of) or len(right_prepared) != len(level_of):
            raise ValueError(
                f"prepared values for {len(level_of)} comparisons expected, got "
                f"{len(left_prepared)} and {len(right_prepared)}"
            )
        found: tuple[int | None, ...] = tuple(
            map(operator.call, level_of, left_prepared, right_prepared)
        )
        weights: tuple[tuple[float, ...], ...] = self._weights  # type: ignore[attr-defined]
        prior_weight: float = self._prior_weight  # type: ignore[attr-defined]
        weight = prior_weight + sum(
            [table[level] for table, level in zip(weights, found, strict=True) if level is not None]
        )
        for k, read, terms in self._terms:  # type: ignore[attr-defined]
            if found[k] == EXACT:
                exact = weights[k][EXACT]
                term = terms.agreed(read(left_prepared[k]), read(right_prepared[k]))
                weight += terms.weight(exact, term) - exact
        return found, weight

    def score(self, left: Mapping[str, Any], right: Mapping[str, Any]) -> PairScore:
        """Score one pair of records and explain the score."""
        return self.score_prepared(left, right, self.prepare(left), self.prepare(right))

    def score_prepared(
        self,
        left: Mapping[str, Any],
        right: Mapping[str, Any],
        left_prepared: Sequence[Any],
        right_prepared: Sequence[Any],
    ) -> PairScore:
        """``score`` with both records' values already prepared (``prepare``), so a record
        compared with many others is normalized once."""
        contributions = []
        adjusted = {k: (read, terms) for k, read, terms in self._terms}  # type: ignore[attr-defined]
        for k, (comparison, lp, rp) in enumerate(
            zip(self.comparisons, left_prepared, right_prepared, strict=True)
        ):
            found = comparison.level(lp, rp)
            level = None if found is None else self.parameters[comparison.name][found]
            weight, frequency = 0.0 if level is None else level.weight, None
            if found == EXACT and k in adjusted:
                read, terms = adjusted[k]
                term = terms.agreed(read(lp), read(rp))
                weight, frequency = terms.weight(weight, term), terms.share(term)
            contributions.append(
                Contribution(
                    comparison.name,
                    comparison.attributes,
                    comparison.value(left),
                    comparison.value(right),
                    None if level is None else level.name,
                    weight,
                    frequency,
                )
            )
        weight = self.prior_weight + sum(c.weight for c in contributions)
        return PairScore(weight, probability(weight), self.prior_weight, tuple(contributions))

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form of the parameters, for storing a versioned model."""
        terms = {name: table.to_dict() for name, table in self.term_frequencies.items()}
        return {
            **({"term_frequencies": terms} if terms else {}),
            "format": MODEL_FORMAT,
            "prior": self.prior,
            "comparisons": [
                {
                    "name": c.name,
                    "type": type(c).__name__,
                    "attributes": list(c.attributes),
                    "levels": [
                        {"name": lv.name, "m": lv.m, "u": lv.u} for lv in self.parameters[c.name]
                    ],
                }
                for c in self.comparisons
            ],
        }

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], comparisons: Sequence[Comparison[Any]]
    ) -> MatchModel:
        """Rebuild a model from ``to_dict`` output and the same comparisons.

        Raises:
            ValueError: If the stored model does not fit the comparisons.
        """
        if data.get("format") != MODEL_FORMAT:
            raise ValueError(f"unsupported model format {data.get('format')!r}")
        stored = {c["name"]: c for c in data["comparisons"]}
        names = [c.name for c in comparisons]
        if sorted(stored) != sorted(names):
            raise ValueError(f"stored comparisons {sorted(stored)} differ from {sorted(names)}")
        for comparison in comparisons:
            entry = stored[comparison.name]
            if entry["type"] != type(comparison).__name__:
                raise ValueError(f"{comparison.name}: stored as {entry['type']}")
        parameters = {
            name: [Level(lv["name"], float(lv["m"]), float(lv["u"])) for lv in entry["levels"]]
            for name, entry in stored.items()
        }
        terms = tables_from_dict(data.get("term_frequencies") or {})
        return cls(comparisons, parameters, float(data["prior"]), terms)


@dataclass(frozen=True)
class ScoredPairs:
    """Scores of many pairs, as arrays aligned with the input pairs.

    Attributes:
        left_index: Index of each pair's left record.
        right_index: Index of each pair's right record.
        levels: ``(n_pairs, n_comparisons)`` level indices, ``-1`` for missing.
        match_weight: Total match weight per pair (prior included).
        match_probability: Match probability per pair.
    """

    left_index: NDArray[np.intp]
    right_index: NDArray[np.intp]
    levels: NDArray[np.int8]
    match_weight: NDArray[np.float64]
    match_probability: NDArray[np.float64]


@dataclass(frozen=True)
class PreparedRecords:
    """Records of both sides prepared and encoded once for each comparison."""

    left: tuple[Column[Any], ...]
    right: tuple[Column[Any], ...]


def probability(weight: float) -> float:
    """Match probability for a match weight (bits of log-odds)."""
    return 1.0 / (1.0 + 2.0 ** (-weight)) if weight > -1000 else 0.0


def prepare_records(
    comparisons: Sequence[Comparison[Any]],
    left_records: Iterable[Mapping[str, Any]],
    right_records: Iterable[Mapping[str, Any]] | None = None,
) -> PreparedRecords:
    """Prepare and encode two record sets (or one, for deduplication) once.

    Each set is gone through once, so it may be a stream (records read back a chunk at a
    time): only the prepared values are kept.

    Args:
        comparisons: The comparisons to prepare for.
        left_records: The left records.
        right_records: The right records; None (or the same object) to compare
            ``left_records`` with themselves.
    """
    same = right_records is None or right_records is left_records
    lefts = _prepared_lists(comparisons, left_records)
    rights = lefts if same else _prepared_lists(comparisons, right_records or ())
    return _encoded(comparisons, lefts, rights)


def encode_prepared(
    comparisons: Sequence[Comparison[Any]], prepared: Iterable[Sequence[Any]]
) -> PreparedRecords:
    """``prepare_records`` (one set, for deduplication) of records already prepared, each
    as ``MatchModel.prepare`` gives it: one value per comparison. For records prepared
    elsewhere (worker processes), as the same comparisons would prepare them."""
    lists: list[list[Any]] = [[] for _ in comparisons]
    for values in prepared:
        for found, value in zip(lists, values, strict=True):
            found.append(value)
    return _encoded(comparisons, lists, lists)


def _encoded(
    comparisons: Sequence[Comparison[Any]], lefts: list[list[Any]], rights: list[list[Any]]
) -> PreparedRecords:
    left_columns, right_columns = [], []
    for comparison, left, right in zip(comparisons, lefts, rights, strict=True):
        lc, rc = comparison.encode(left, right)
        left_columns.append(lc)
        right_columns.append(rc)
    return PreparedRecords(tuple(left_columns), tuple(right_columns))


def _prepared_lists(
    comparisons: Sequence[Comparison[Any]], records: Iterable[Mapping[str, Any]]
) -> list[list[Any]]:
    out: list[list[Any]] = [[] for _ in comparisons]
    for record in records:
        for found, comparison in zip(out, comparisons, strict=True):
            found.append(comparison.prepare(record))
    return out


def compare_pairs(
    comparisons: Sequence[Comparison[Any]],
    prepared: PreparedRecords,
    pairs: Iterable[tuple[int, int]] | NDArray[np.integer[Any]],
    *,
    batch_size: int = 65_536,
) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.int8]]:
    """Level matrix of many pairs of prepared records.

    Returns:
        Left indices, right indices and the ``(n_pairs, n_comparisons)`` levels
        (``-1`` where a value is missing).
    """
    index = _pair_array(pairs)
    levels = np.empty((len(index), len(comparisons)), dtype=np.int8)
    for start in range(0, len(index), batch_size):
        li, ri = index[start : start + batch_size, 0], index[start : start + batch_size, 1]
        for k, comparison in enumerate(comparisons):
            levels[start : start + len(li), k] = comparison.batch_levels(
                prepared.left[k], prepared.right[k], li, ri
            )
    return index[:, 0].copy(), index[:, 1].copy(), levels


def score_many(
    model: MatchModel,
    left_records: Sequence[Mapping[str, Any]],
    right_records: Sequence[Mapping[str, Any]] | None,
    pairs: Iterable[tuple[int, int]] | NDArray[np.integer[Any]],
    *,
    prepared: PreparedRecords | None = None,
    batch_size: int = 65_536,
) -> ScoredPairs:
    """Score many candidate pairs in vectorized batches.

    Args:
        model: The match model.
        left_records: Records indexed by the first element of each pair.
        right_records: Records indexed by the second element; None to
            deduplicate ``left_records``.
        pairs: ``(left_index, right_index)`` pairs or an ``(n, 2)`` array.
        prepared: Output of ``prepare_records`` to reuse across calls.
        batch_size: Pairs compared per vectorized batch.

    Returns:
        Levels, match weights and probabilities aligned with ``pairs``.
    """
    if prepared is None:
        prepared = prepare_records(model.comparisons, left_records, right_records)
    li, ri, levels = compare_pairs(model.comparisons, prepared, pairs, batch_size=batch_size)
    return _scored(model, prepared, li, ri, levels)


def _scored(
    model: MatchModel,
    prepared: PreparedRecords,
    li: NDArray[np.intp],
    ri: NDArray[np.intp],
    levels: NDArray[np.int8],
) -> ScoredPairs:
    """Weights and probabilities of pairs whose levels are known."""
    weight = np.full(len(li), model.prior_weight, dtype=np.float64)
    for k, table in enumerate(model.weight_table()):
        weight += table[levels[:, k]]
    weight += _term_adjustments(model, prepared, li, ri, levels)
    with np.errstate(over="ignore"):
        chance = 1.0 / (1.0 + np.exp2(-weight))
    return ScoredPairs(li, ri, levels, weight, chance)


def _term_adjustments(
    model: MatchModel,
    prepared: PreparedRecords,
    left: NDArray[np.intp],
    right: NDArray[np.intp],
    levels: NDArray[np.int8],
) -> NDArray[np.float64] | float:
    """What the model's term frequencies add to each pair's weight (``levels_prepared``'s
    adjustment, for pairs at an exact level: on the term both values agree on)."""
    terms = model._terms  # type: ignore[attr-defined]
    if not terms:
        return 0.0
    out = np.zeros(len(left), dtype=np.float64)
    for k, read, table in terms:
        exact = np.flatnonzero(levels[:, k] == EXACT)
        level_weight = model.levels_of(model.comparisons[k].name)[EXACT].weight
        lefts, rights = prepared.left[k].features, prepared.right[k].features
        out[exact] = [
            table.weight(level_weight, table.agreed(read(lefts[i]), read(rights[j])))
            - level_weight
            for i, j in zip(left[exact].tolist(), right[exact].tolist(), strict=True)
        ]
    return out


class JudgedPairs(NamedTuple):
    """The judged candidate pairs of one record set, kept compact (``score_in_batches``).

    Attributes:
        left: Left record indices.
        right: Right record indices.
        probability: Judged match probabilities (``RulePlan.judge_many``).
        vetoed: Which pairs a veto held back (``RulePlan.judge_arrays``).
    """

    left: NDArray[np.int32]
    right: NDArray[np.int32]
    probability: NDArray[np.float32]
    vetoed: NDArray[np.bool_]


def score_in_batches(
    model: MatchModel,
    plan: RulePlan,
    prepared: PreparedRecords,
    pairs: NDArray[np.integer[Any]],
    review_threshold: float,
    auto_threshold: float,
    batch_size: int = 250_000,
    *,
    reported: Collection[str] | None = None,
    levels: NDArray[np.int8] | None = None,
) -> JudgedPairs:
    """Judged match probability (``score_many``, then ``plan.judge_arrays``) of every
    candidate pair of one prepared record set, and whether a veto held it back (one of
    ``reported``: labels such as ``tax_id.different``; any veto when None). ``levels``:
    the pairs' level matrix (``compare_pairs``) when they were compared already (for
    ``calibrate``), so they are not compared again.

    Pairs are scored a batch at a time and only indices (int32), judged probabilities
    (float32) and the veto flag are kept: 13 bytes a pair, whatever the number of
    comparisons.
    """
    if levels is not None and len(levels) != len(pairs):
        raise ValueError(f"{len(levels)} level rows for {len(pairs)} pairs")
    if not len(pairs):
        empty = np.empty(0, dtype=np.int32)
        return JudgedPairs(empty, empty, np.empty(0, dtype=np.float32), np.empty(0, dtype=bool))
    parts, vetoes = [], []
    for start in range(0, len(pairs), batch_size):
        batch = pairs[start : start + batch_size]
        if levels is None:
            scored = score_many(model, [], None, batch, prepared=prepared)
        else:
            index = _pair_array(batch)
            known = levels[start : start + batch_size]
            scored = _scored(model, prepared, index[:, 0], index[:, 1], known)
        judged, vetoed = plan.judge_arrays(
            scored.levels, scored.match_probability, review_threshold, auto_threshold, reported
        )
        parts.append(judged.astype(np.float32))
        vetoes.append(vetoed)
    return JudgedPairs(
        pairs[:, 0].astype(np.int32),
        pairs[:, 1].astype(np.int32),
        np.concatenate(parts),
        np.concatenate(vetoes),
    )


def _pair_array(pairs: Iterable[tuple[int, int]] | NDArray[np.integer[Any]]) -> NDArray[np.intp]:
    if isinstance(pairs, np.ndarray):
        array = pairs.astype(np.intp, copy=False)
    else:
        array = np.array(list(pairs), dtype=np.intp)
    if array.size == 0:
        return np.empty((0, 2), dtype=np.intp)
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(f"pairs must have shape (n, 2), got {array.shape}")
    return array
