"""Decisive rules, vetoes and doubts: a spec's domain rules over a model's comparison levels.

A *decisive rule* is a set of ``(comparison, level)`` conditions that together say "the
same thing" (an equal GTIN-14): a pair meeting all of them is accepted, probability 1, as
sure as a link gets (so the chain guard of clustering never cuts an identifier agreement
before a fuzzy link). A *veto* is one ``(comparison, level)`` that says "not the same
thing" (a different tax id): unless a decisive rule holds, the pair is held just below the
review threshold, never merged and not put before a steward as a likely match. A *doubt*
is one ``(comparison, level)`` that says "a steward decides" (a tax id one keystroke from
the other: a typo, or another entity): unless a decisive rule holds, the pair is held just
below the auto threshold, so the rest of the evidence can bring it before a steward but
never merges it.

The rules are written once as a ``RulePlan`` (level indices of one model's comparisons),
and judged from that one plan either for one pair (``RulePlan.judge``: a newcomer against
its candidates, with what decided it) or for arrays of pairs (``RulePlan.judge_many``: a
bulk load's millions of scored pairs).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from matchers.comparisons import Comparison

VETO_MARGIN = 0.999
"""A vetoed pair is held at ``review_threshold * VETO_MARGIN`` at most, a doubted one at
``auto_threshold * VETO_MARGIN``."""

Condition = tuple[str, str]  # (comparison name, level name)
NOT = "not:"
"""A decisive rule's condition on level ``not:L`` holds at every level but ``L``, and where
a value is missing: ("gln", "not:different") is "the GLNs do not disagree"."""
MISSING = -1  # the level index of a missing value in a condition (as ``score_many``'s)


@dataclass(frozen=True)
class Judgement:
    """A pair's match probability after the rules, and what decided it.

    Attributes:
        probability: 1 when a decisive rule holds; at most just below the review
            threshold when vetoed; else the match probability as scored.
        vetoed_by: The vetoes (``comparison.level``) that held the pair back.
        conflicts: Vetoes and doubts a decisive rule overrode (strong identifiers agree
            although, say, the parents differ): the pair is accepted and the conflict is
            shown, never hidden.
        doubted_by: The doubts that held the pair below the auto threshold.
    """

    probability: float
    vetoed_by: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()
    doubted_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class RulePlan:
    """Vetoes and decisive rules as level indices of one model's comparisons.

    Attributes:
        vetoes: ``(comparison index, level indices, label)`` per veto.
        decisive: Per rule, its ``(comparison index, level indices)`` conditions. A
            condition naming no comparison (or level) of the model has no level index
            and never holds.
        doubts: ``(comparison index, level indices, label)`` per doubt.
    """

    vetoes: tuple[tuple[int, frozenset[int], str], ...]
    decisive: tuple[tuple[tuple[int, frozenset[int]], ...], ...]
    doubts: tuple[tuple[int, frozenset[int], str], ...] = ()

    def judge(
        self,
        found: Sequence[int | None],
        match_probability: float,
        review_threshold: float,
        auto_threshold: float,
    ) -> Judgement:
        """Judge one pair, known by its level index per comparison (``None``: missing).

        Example:
            >>> plan = RulePlan(vetoes=((0, frozenset({1}), "tax_id.different"),), decisive=())
            >>> plan.judge((1,), 0.95, 0.8, 0.99).vetoed_by
            ('tax_id.different',)
        """
        vetoed_by = tuple(label for k, allowed, label in self.vetoes if found[k] in allowed)
        doubted_by = tuple(label for k, allowed, label in self.doubts if found[k] in allowed)
        for rule in self.decisive:
            if all((MISSING if found[k] is None else found[k]) in allowed for k, allowed in rule):
                return Judgement(1.0, (), vetoed_by + doubted_by)
        probability = match_probability
        if doubted_by:
            probability = min(probability, auto_threshold * VETO_MARGIN)
        if vetoed_by:
            probability = min(probability, review_threshold * VETO_MARGIN)
        return Judgement(probability, vetoed_by, (), doubted_by)

    def judge_many(
        self,
        levels: NDArray[np.integer[Any]],
        match_probability: NDArray[np.floating[Any]],
        review_threshold: float,
        auto_threshold: float,
    ) -> NDArray[np.float64]:
        """``judge``'s probability for many pairs: ``levels`` is ``(n_pairs,
        n_comparisons)`` level indices, ``-1`` where a value is missing (as
        ``matchers.score_many`` gives them)."""
        return self.judge_arrays(levels, match_probability, review_threshold, auto_threshold)[0]

    def judge_arrays(
        self,
        levels: NDArray[np.integer[Any]],
        match_probability: NDArray[np.floating[Any]],
        review_threshold: float,
        auto_threshold: float,
        reported: Collection[str] | None = None,
    ) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
        """``judge_many``'s probabilities, and which pairs a veto held back (``judge``'s
        ``vetoed_by`` names one of ``reported``, labels such as ``tax_id.different``; any
        veto when None): a bulk load keeps the pairs its spec's vetoes on identifiers held
        back apart in its clusters, as cannot-links, however they are linked through
        others."""
        out = np.array(match_probability, dtype=np.float64)
        decided = np.zeros(len(out), dtype=bool)
        for rule in self.decisive:
            mask = np.ones(len(out), dtype=bool)
            for k, allowed in rule:
                mask &= _holds(levels[:, k], allowed)
            decided |= mask
        doubted = _any_holds(levels, self.doubts) & ~decided
        vetoed = _any_holds(levels, self.vetoes) & ~decided
        out[doubted] = np.minimum(out[doubted], auto_threshold * VETO_MARGIN)
        out[vetoed] = np.minimum(out[vetoed], review_threshold * VETO_MARGIN)
        out[decided] = 1.0
        if reported is None:
            return out, vetoed
        chosen = tuple(veto for veto in self.vetoes if veto[2] in reported)
        return out, _any_holds(levels, chosen) & ~decided


def _any_holds(
    levels: NDArray[np.integer[Any]], conditions: tuple[tuple[int, frozenset[int], str], ...]
) -> NDArray[np.bool_]:
    held = np.zeros(len(levels), dtype=bool)
    for k, allowed, _ in conditions:
        held |= _holds(levels[:, k], allowed)
    return held


def _holds(column: NDArray[np.integer[Any]], allowed: frozenset[int]) -> NDArray[np.bool_]:
    if len(allowed) == 1:
        (level,) = allowed
        return np.asarray(column == level)
    return np.isin(column, sorted(allowed))


def rule_plan(
    comparisons: Sequence[Comparison[Any]],
    vetoes: Iterable[Condition] = (),
    decisive: Iterable[Iterable[Condition]] = (),
    doubts: Iterable[Condition] = (),
) -> RulePlan:
    """The plan of ``vetoes``, ``decisive`` rules and ``doubts`` over ``comparisons`` (a
    model's, in its order)."""
    position = {c.name: k for k, c in enumerate(comparisons)}

    def condition(name: str, level: str) -> tuple[int, frozenset[int]]:
        k = position.get(name)
        if k is None:
            return 0, frozenset()
        levels = comparisons[k].levels
        if level.startswith(NOT):
            other = level.removeprefix(NOT)
            return k, frozenset({MISSING, *(i for i, f in enumerate(levels) if f != other)})
        return k, frozenset(i for i, found in enumerate(levels) if found == level)

    return RulePlan(
        vetoes=tuple((*condition(name, level), f"{name}.{level}") for name, level in vetoes),
        decisive=tuple(tuple(condition(name, level) for name, level in rule) for rule in decisive),
        doubts=tuple((*condition(name, level), f"{name}.{level}") for name, level in doubts),
    )
