"""Clustering scored pairs into entities, guarding against chains and cannot-links."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import networkx as nx
import numpy as np
from numpy.typing import NDArray

NodeId = str | int
# ``cluster_records``: a scored pair below this probability is kept apart however its
# records are linked through others; at most this many such pairs per component.
CANNOT_LINK_BELOW = 0.01
MAX_CANNOT_LINKS = 10_000


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

    A component holding a cannot-link pair is cut at the minimum cut between
    the two records until no cannot-link pair shares a cluster. The result
    does not depend on the order of the inputs.

    Args:
        node_ids: All record ids; records without edges become singletons.
        scored_edges: ``(a, b, score)``; a pair listed twice keeps its highest score.
        threshold: Lowest score that links two records.
        min_density: Lowest accepted density of a cluster of 3 or more.
        min_support: Lowest accepted member support of a cluster of 3 or more.
        cannot_link: Pairs of ids that must never share a cluster.

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
        cut = _cut(graph.subgraph(members), members, scores, forbidden, min_density, min_support)
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
    left: NDArray[np.integer[Any]],
    right: NDArray[np.integer[Any]],
    probability: NDArray[np.floating[Any]],
    threshold: float,
) -> list[list[int]]:
    """Clusters of record indices ``0..n-1`` from scored pairs given as arrays: components
    over sure links (``probability >= threshold``), weak chains split.

    Components are found with a union-find; a component of three or more is handed to
    ``cluster`` with every scored pair inside it (unsure ones too), which cuts it where it
    is only weakly held together. The result does not depend on the order of the pairs.
    """
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
    if big:
        roots = np.fromiter((find(i) for i in range(n)), dtype=np.int64, count=n)
        inside = roots[left] == roots[right]
        for k in np.flatnonzero(inside).tolist():
            root = int(roots[left[k]])
            if root in big:
                edges[root].append((int(left[k]), int(right[k]), float(probability[k])))
    clusters: list[list[int]] = []
    for root in sorted(components):
        members = components[root]
        if root not in big:
            clusters.append(members)
            continue
        inside = edges[root]
        # A pair scored as almost surely different (an identifier conflict, a veto with
        # no evidence for it) never ends up in one cluster through others: the cluster
        # is cut between them (a chain through a record without a tax id must not put
        # two different tax ids in one golden record).
        apart = [frozenset((a, b)) for a, b, p in inside if p < CANNOT_LINK_BELOW][
            :MAX_CANNOT_LINKS
        ]
        split = cluster(members, inside, threshold, cannot_link=apart)
        clusters.extend(sorted([int(i) for i in c] for c in split.clusters))
    return clusters


def _cut(
    component: nx.Graph,
    members: list[NodeId],
    scores: Mapping[frozenset[NodeId], float],
    forbidden: set[frozenset[NodeId]],
    min_density: float,
    min_support: float,
) -> tuple[list[NodeId], list[NodeId]] | None:
    if len(members) < 2:
        return None
    violated = sorted(
        (tuple(sorted(pair, key=_order)) for pair in forbidden if pair <= set(members)),
        key=lambda pair: (_order(pair[0]), _order(pair[1])),
    )
    if violated:
        a, b = violated[0]
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
