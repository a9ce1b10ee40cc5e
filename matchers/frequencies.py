"""Term frequencies: how much an exact agreement says depends on the value agreed on.

Two records named "PHARMACY" agree on what a hundred departments are called; two named
"THALES NEDERLAND" agree on what one company is called. A level's weight, ``log2(m / u)``,
is the average over the values its agreements are on. Among non-matching pairs that agree
exactly, the share that agree on value ``v`` is ``f_v² / Σ f²`` (``f``: the values' shares
among entities); among matching pairs it is ``f_v``. So an agreement on ``v`` is worth
``log2(Σ f² / f_v)`` bits more than the level's average (the Fellegi–Sunter term-frequency
adjustment, as Splink's): positive for a rare value, negative for a common one, and zero
when every value is as common as every other.

Shares are counted per system and the largest count kept: one system holds an entity
once, so that count is the number of entities holding the value ("PHARMACY" under fifty
facilities in each of three systems: fifty), and a pair of duplicates from two systems
does not make its own name look common. The adjustment depends only on how values compare
with each other, never on how many records were counted.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from matchers.comparisons import Comparison
from matchers.descriptive import OrganizationNameComparison
from matchers.vocabulary import UnitNameComparison, unit_name_term

# The adjusted weight of an exact agreement stays between these (bits), unless the level's
# own weight is already beyond them: a common value never turns agreement into evidence
# against a match, and a rare one never weighs more than an exact valid identifier does
# by default (``IdentifierComparison``: m 0.97, u 1e-5).
MIN_TERM_WEIGHT = 1.0
MAX_TERM_WEIGHT = math.log2(0.97 / 1e-5)
# Values kept in a stored table, most common first; the others count as the least common
# kept (or once, when none was left out): a table stays small at any size of store.
MAX_TERMS = 20_000
# The level a table adjusts: every comparison with a table lists its exact agreement first.
EXACT = 0


@dataclass(frozen=True)
class TermFrequencies:
    """How common each value of one comparison is among the records it was counted from.

    Attributes:
        entities: Sum of all values' counts (an estimate of the entities holding a value).
        square_sum: ``Σ count²`` over all values, those left out of ``counts`` included.
        counts: Per value, the records holding it in the system that holds it most.
        unlisted: The count of a value not in ``counts``.
    """

    entities: int
    square_sum: float
    counts: Mapping[str, int] = field(default_factory=dict)
    unlisted: int = 1

    def share(self, term: str) -> float:
        """``f_v``: the value's share among entities."""
        return self.counts.get(term, self.unlisted) / self.entities

    def adjustment(self, term: str) -> float:
        """``log2(Σ f² / f_v)``: bits an exact agreement on ``term`` adds to the level's
        weight (negative for a value commoner than most)."""
        count = self.counts.get(term, self.unlisted)
        return math.log2(self.square_sum / (self.entities * count))

    def weight(self, level_weight: float, term: str) -> float:
        """The exact level's weight adjusted for ``term``, held within ``MIN_TERM_WEIGHT``
        and ``MAX_TERM_WEIGHT`` (a level weighing more or less than those keeps its own)."""
        adjusted = level_weight + self.adjustment(term)
        low, high = min(level_weight, MIN_TERM_WEIGHT), max(level_weight, MAX_TERM_WEIGHT)
        return min(max(adjusted, low), high)

    def agreed(self, left: str, right: str) -> str:
        """The term two values found ``exact`` agree on: the commoner of their two terms.
        An exact level may hold values that differ in what the comparison lets pass ("CL006
        Primary Care" and "Primary Care": one site's code), and the pair agrees only on what
        both hold, never on the rarer side's extra."""
        if left == right:
            return left
        left_count = self.counts.get(left, self.unlisted)
        right_count = self.counts.get(right, self.unlisted)
        if left_count != right_count:
            return left if left_count > right_count else right
        return min(left, right)  # as common: either, the same whichever side is left

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form, stored with a model version."""
        return {
            "entities": self.entities,
            "square_sum": self.square_sum,
            "unlisted": self.unlisted,
            "counts": dict(self.counts),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TermFrequencies:
        """Rebuild a table from ``to_dict`` output."""
        return cls(
            int(data["entities"]),
            float(data["square_sum"]),
            {str(k): int(v) for k, v in data["counts"].items()},
            int(data["unlisted"]),
        )


def term_reader(comparison: Comparison[Any]) -> Callable[[Any], str] | None:
    """How to read, from a comparison's prepared value, the value its exact agreement is
    on; None for comparisons that are not adjusted. Names only: identifiers are unique by
    construction, and coded values say what kind of thing, not which one."""
    if isinstance(comparison, OrganizationNameComparison):
        return _legal_name
    if isinstance(comparison, UnitNameComparison):
        return unit_name_term
    return None


def _legal_name(prepared: Any) -> str:
    return str(prepared.legal)


def count_terms(
    comparisons: Sequence[Comparison[Any]],
    features: Sequence[Sequence[Any]],
    systems: Sequence[Hashable],
    *,
    max_terms: int = MAX_TERMS,
) -> dict[str, TermFrequencies]:
    """A table per adjusted comparison, counted from prepared records.

    Args:
        comparisons: The model's comparisons.
        features: Per comparison, every record's prepared value (None: missing), in
            record order (``PreparedRecords.left[k].features``).
        systems: Each record's system.
        max_terms: Values kept per table, most common first (then by value).

    Returns:
        Comparison name -> table, for comparisons ``term_reader`` knows and that hold a
        value in some record.
    """
    tables = {}
    for comparison, values in zip(comparisons, features, strict=True):
        read = term_reader(comparison)
        if read is None:
            continue
        per_system = Counter(
            (system, read(value))
            for system, value in zip(systems, values, strict=True)
            if value is not None
        )
        counts: dict[str, int] = {}
        for (_, term), count in per_system.items():
            counts[term] = max(counts.get(term, 0), count)
        if counts:
            tables[comparison.name] = frequency_table(counts, max_terms=max_terms)
    return tables


def frequency_table(counts: Mapping[str, int], *, max_terms: int = MAX_TERMS) -> TermFrequencies:
    """A table of ``counts`` (value -> entities holding it), keeping the ``max_terms`` most
    common values held more than once; the others count as the least common kept."""
    ranked = sorted(((c, t) for t, c in counts.items() if c > 1), key=lambda x: (-x[0], x[1]))
    kept = ranked[:max_terms]
    unlisted = kept[-1][0] if len(ranked) > len(kept) else 1
    return TermFrequencies(
        sum(counts.values()),
        float(sum(c * c for c in counts.values())),
        {t: c for c, t in kept},
        unlisted,
    )


def tables_from_dict(data: Mapping[str, Any]) -> dict[str, TermFrequencies]:
    """Tables by comparison name from their ``to_dict`` forms."""
    return {name: TermFrequencies.from_dict(table) for name, table in data.items()}


def adjusted_terms(
    comparisons: Sequence[Comparison[Any]], tables: Mapping[str, TermFrequencies]
) -> tuple[tuple[int, Callable[[Any], str], TermFrequencies], ...]:
    """(index, reader, table) of each comparison a model adjusts: it has a table and
    ``term_reader`` knows how to read its values."""
    found = []
    for k, comparison in enumerate(comparisons):
        read = term_reader(comparison)
        table = tables.get(comparison.name)
        if read is not None and table is not None:
            found.append((k, read, table))
    return tuple(found)
