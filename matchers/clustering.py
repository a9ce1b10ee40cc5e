"""Clustering scored pairs into entities, guarding against chains and cannot-links.

A cannot-link is a pair a veto held back, or scored as almost surely different; or two
records of a cluster that were never compared whose identifiers a veto keeps apart
(``ValueConflicts``). A bulk load compares only the pairs its blocking finds: a record
without a tax id may be sure of a vendor with one tax id and of another with a different
one, while those two never met, and the sure links alone would put two tax ids in one
golden record.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations, islice, product
from typing import Any, Protocol

import networkx as nx
import numpy as np

from matchers.comparisons import MISSING, Column, Comparison
from matchers.rules import Condition, RulePlan, rule_plan
from matchers.scoring import JudgedPairs, PreparedRecords

NodeId = str | int
# ``cluster_records``: a scored pair below this probability is kept apart however its
# records are linked through others; at most this many such pairs per component.
CANNOT_LINK_BELOW = 0.01
MAX_CANNOT_LINKS = 10_000
# ``ValueConflicts``: distinct value sets of one cluster judged against each other (their
# pairs: at most about 20,000), and member pairs looked at between two values, per check.
MAX_DISTINCT_VALUES = 200
MAX_PAIRS_LOOKED_AT = 100_000


class MemberConflicts(Protocol):
    """Finds two members of a would-be cluster that must not share it although their
    pair was not given (``matchers.ValueConflicts``: identifiers a veto keeps apart)."""

    def __call__(
        self, members: Sequence[NodeId], scored: Container[frozenset[NodeId]]
    ) -> tuple[NodeId, NodeId] | None:
        """Two of ``members`` (sorted) to keep apart, or None; ``scored``: the pairs
        scored in full, whose judgement stands."""
        ...


@dataclass(frozen=True)
class Clustering:
    """Records grouped into clusters.

    Attributes:
        clusters: Member ids of each cluster, each sorted, ordered by first member.
        assignments: Record id -> cluster id (the cluster's first member).
        splits: How many times a component was cut (chains, cannot-links).
    """

    clusters: tuple[tuple[NodeId, ...], ...]
    assignments: Mapping[NodeId, NodeId]
    splits: int


def cluster(
    node_ids: Iterable[NodeId],
    scored_edges: Iterable[tuple[NodeId, NodeId, float]],
    threshold: float,
    *,
    min_density: float = 0.5,
    min_support: float = 0.5,
    cannot_link: Iterable[frozenset[NodeId]] = (),
    conflicts: MemberConflicts | None = None,
) -> Clustering:
    """Cluster records from pair scores (match probabilities in [0, 1]).

    Connected components over pairs scoring at least ``threshold`` are
    candidate clusters. A component of three or more records is then cut at
    its global minimum cut (Stoer-Wagner, edge weight = score) while it is
    only weakly held together:

    - its density, the share of member pairs linked above the threshold, is
      below ``min_density`` (a long chain), or
    - some member's support, its mean score to the other members over the
      pairs that were scored (below-threshold scores included), is below
      ``min_support`` (A~B and B~C while A and C were scored as different).

    A component holding a cannot-link pair, or two members ``conflicts`` keeps
    apart, is cut at the minimum cut between the two records (the weaker side of
    a chain goes) until none shares a cluster. The result does not depend on the
    order of the inputs.

    Args:
        node_ids: All record ids; records without edges become singletons.
        scored_edges: ``(a, b, score)``; a pair listed twice keeps its highest score.
        threshold: Lowest score that links two records.
        min_density: Lowest accepted density of a cluster of 3 or more.
        min_support: Lowest accepted member support of a cluster of 3 or more.
        cannot_link: Pairs of ids that must never share a cluster.
        conflicts: Finds more such pairs among a cluster's members, from what
            the scored pairs do not say.

    Returns:
        The clusters and each record's cluster id.
    """
    nodes = set(node_ids)
    scores: dict[frozenset[NodeId], float] = {}
    for a, b, score in scored_edges:
        if a == b:
            continue
        nodes.update((a, b))
        key = frozenset((a, b))
        scores[key] = max(score, scores.get(key, score))
    forbidden = {frozenset(pair) for pair in cannot_link if len(pair) == 2}
    graph = nx.Graph()
    graph.add_nodes_from(sorted(nodes, key=_order))
    strong = [_edge(pair, score) for pair, score in scores.items() if score >= threshold]
    graph.add_weighted_edges_from(sorted(strong, key=lambda e: (_order(e[0]), _order(e[1]))))
    queue = [sorted(c, key=_order) for c in nx.connected_components(graph)]
    queue.sort(key=lambda members: _order(members[0]))
    finished: list[tuple[NodeId, ...]] = []
    splits = 0
    while queue:
        members = queue.pop()
        cut = _cut(
            graph.subgraph(members), members, scores, forbidden, conflicts, min_density,
            min_support,
        )  # fmt: skip
        if cut is None:
            finished.append(tuple(members))
            continue
        splits += 1
        for part in cut:
            sub = graph.subgraph(part)
            queue.extend(sorted(sorted(c, key=_order) for c in nx.connected_components(sub)))
    finished.sort(key=lambda members: _order(members[0]))
    assignments = {node: members[0] for members in finished for node in members}
    return Clustering(tuple(finished), assignments, splits)


def cluster_records(
    n: int,
    judged: JudgedPairs,
    threshold: float,
    *,
    conflicts: MemberConflicts | None = None,
) -> list[list[int]]:
    """Clusters of record indices ``0..n-1`` from judged pairs (``score_in_batches``):
    components over sure links (``probability >= threshold``), weak chains split, and no
    cluster holding two records a veto keeps apart.

    Components are found with a union-find; a component of three or more is handed to
    ``cluster`` with every scored pair inside it (unsure ones too), which cuts it where it
    is only weakly held together, between the two records of every vetoed pair and every
    pair scored as almost surely different, and between two members ``conflicts`` finds
    (records never compared whose identifiers differ). The result does not depend on the
    order of the pairs.
    """
    left, right, probability, vetoed = judged
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    sure = probability >= threshold
    for i, j in zip(left[sure].tolist(), right[sure].tolist(), strict=True):
        a, b = find(i), find(j)
        if a != b:
            parent[max(a, b)] = min(a, b)
    components: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        components[find(i)].append(i)
    big = {root for root, members in components.items() if len(members) >= 3}
    edges: dict[int, list[tuple[int, int, float]]] = defaultdict(list)
    apart: dict[int, list[frozenset[NodeId]]] = defaultdict(list)
    if big:
        roots = np.fromiter((find(i) for i in range(n)), dtype=np.int64, count=n)
        inside = roots[left] == roots[right]
        # A pair a veto held back (two different tax ids, however much else agrees), or
        # scored as almost surely different, never ends up in one cluster through others:
        # the cluster is cut between them (a chain through a record without a tax id must
        # not put two different tax ids in one golden record).
        held = vetoed | (probability < CANNOT_LINK_BELOW)
        for k in np.flatnonzero(inside).tolist():
            root = int(roots[left[k]])
            if root in big:
                a, b = int(left[k]), int(right[k])
                edges[root].append((a, b, float(probability[k])))
                if held[k] and len(apart[root]) < MAX_CANNOT_LINKS:
                    apart[root].append(frozenset((a, b)))
    clusters: list[list[int]] = []
    for root in sorted(components):
        members = components[root]
        if root not in big:
            clusters.append(members)
            continue
        split = cluster(
            members, edges[root], threshold, cannot_link=apart[root], conflicts=conflicts
        )
        clusters.extend(sorted([int(i) for i in c] for c in split.clusters))
    return clusters


@dataclass(frozen=True)
class ValueConflicts:
    """Judges members of a cluster by the prepared values of some comparisons alone.

    Attributes:
        comparisons: The comparisons the vetoes read.
        left: Their prepared columns (record set as compared on the left).
        right: Their prepared columns (on the right; the same records).
        plan: The vetoes, and the decisive rules naming only these comparisons, as
            level indices of ``comparisons``.
    """

    comparisons: tuple[Comparison[Any], ...]
    left: tuple[Column[Any], ...]
    right: tuple[Column[Any], ...]
    plan: RulePlan

    def __call__(
        self, members: Sequence[NodeId], scored: Container[frozenset[NodeId]]
    ) -> tuple[NodeId, NodeId] | None:
        """Two members whose values a veto keeps apart, or None. Members are grouped by
        their values (most hold one tax id, or none); a veto between two groups counts
        unless a pair across them was ``scored`` in full (its judgement stands: a
        decisive rule accepted it, or it is vetoed and already a cannot-link). The first
        such pair in the order of ``members`` is given, so the answer does not depend on
        anything else."""
        groups: dict[tuple[Any, ...], list[NodeId]] = {}
        for member in members:
            values = tuple(column.features[int(member)] for column in self.left)
            if any(v is not None for v in values):
                groups.setdefault(values, []).append(member)
        if len(groups) < 2:
            return None
        found = list(groups.values())[:MAX_DISTINCT_VALUES]
        first = np.asarray([int(g[0]) for g in found], dtype=np.intp)
        i, j = np.triu_indices(len(found), 1)
        levels = np.full((len(i), len(self.comparisons)), MISSING, dtype=np.int8)
        for k, comparison in enumerate(self.comparisons):
            levels[:, k] = comparison.batch_levels(self.left[k], self.right[k], first[i], first[j])
        _, vetoed = self.plan.judge_arrays(levels, np.ones(len(i)), 1.0, 1.0)
        for x, y in zip(i[vetoed].tolist(), j[vetoed].tolist(), strict=True):
            if not _met(found[x], found[y], scored):
                return found[x][0], found[y][0]
        return None


def _met(one: list[NodeId], other: list[NodeId], scored: Container[frozenset[NodeId]]) -> bool:
    """Whether a member of ``one`` and a member of ``other`` were scored in full: the
    rules saw those values together. Two large groups are looked at only so far (a bound
    on the work per check; past it, values alone decide)."""
    pairs = islice(product(one, other), MAX_PAIRS_LOOKED_AT)
    return any(frozenset(pair) in scored for pair in pairs)


def value_conflicts(
    comparisons: Sequence[Comparison[Any]],
    prepared: PreparedRecords,
    vetoes: Iterable[Condition],
    decisive: Iterable[Iterable[Condition]] = (),
) -> ValueConflicts | None:
    """The ``ValueConflicts`` of ``vetoes`` (those that values alone can say: a spec's
    identifiers), over ``comparisons`` (a model's, aligned with ``prepared``'s columns);
    of ``decisive``, the rules naming only the vetoes' comparisons count. None when no
    veto names a comparison of the model. Only those comparisons' columns are kept."""
    vetoes = list(vetoes)
    named = {name for name, _ in vetoes}
    used = [k for k, c in enumerate(comparisons) if c.name in named]
    if not used:
        return None
    chosen = [comparisons[k] for k in used]
    return ValueConflicts(
        tuple(chosen),
        tuple(prepared.left[k] for k in used),
        tuple(prepared.right[k] for k in used),
        rule_plan(chosen, vetoes, decisive),
    )


def _cut(
    component: nx.Graph,
    members: list[NodeId],
    scores: Mapping[frozenset[NodeId], float],
    forbidden: set[frozenset[NodeId]],
    conflicts: MemberConflicts | None,
    min_density: float,
    min_support: float,
) -> tuple[list[NodeId], list[NodeId]] | None:
    if len(members) < 2:
        return None
    inside = set(members)
    violated = sorted(
        (tuple(sorted(pair, key=_order)) for pair in forbidden if pair <= inside),
        key=lambda pair: (_order(pair[0]), _order(pair[1])),
    )
    apart = violated[0] if violated else None
    if apart is None and conflicts is not None:
        apart = conflicts(members, scores)
    if apart is not None:
        a, b = apart
        _, (side_a, side_b) = nx.minimum_cut(_ordered_copy(component), a, b, capacity="weight")
        return sorted(side_a, key=_order), sorted(side_b, key=_order)
    if len(members) < 3 or _is_cohesive(component, members, scores, min_density, min_support):
        return None
    _, (side_a, side_b) = nx.stoer_wagner(_ordered_copy(component))
    return sorted(side_a, key=_order), sorted(side_b, key=_order)


def _is_cohesive(
    component: nx.Graph,
    members: list[NodeId],
    scores: Mapping[frozenset[NodeId], float],
    min_density: float,
    min_support: float,
) -> bool:
    n = len(members)
    if component.number_of_edges() / (n * (n - 1) / 2) < min_density:
        return False
    totals = dict.fromkeys(members, 0.0)
    counts = dict.fromkeys(members, 0)
    for a, b in combinations(members, 2):
        score = scores.get(frozenset((a, b)))
        if score is not None:
            for node in (a, b):
                totals[node] += score
                counts[node] += 1
    return all(totals[m] / counts[m] >= min_support for m in members if counts[m])


def _ordered_copy(component: nx.Graph) -> nx.Graph:
    # Flow and cut algorithms break ties by insertion order: make it canonical.
    ordered = nx.Graph()
    ordered.add_nodes_from(sorted(component.nodes, key=_order))
    ordered.add_weighted_edges_from(
        sorted(
            ((*sorted((a, b), key=_order), w) for a, b, w in component.edges(data="weight")),
            key=lambda e: (_order(e[0]), _order(e[1])),
        )
    )
    return ordered


def _edge(pair: frozenset[NodeId], score: float) -> tuple[NodeId, NodeId, float]:
    a, b = sorted(pair, key=_order)
    return a, b, score


def _order(node: NodeId) -> tuple[int, str | int]:
    return (0, node) if isinstance(node, int) else (1, node)
