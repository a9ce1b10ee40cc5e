"""Evaluating clusters against known entities: pairwise and B-cubed metrics."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass
from itertools import combinations, product

RecordId = str | int


@dataclass(frozen=True)
class ClusterEvaluation:
    """Quality of predicted clusters against the true entities.

    Pairwise metrics count record pairs placed together; B-cubed metrics
    average, per record, the overlap of its cluster and its entity. With no
    predicted (or true) pairs, precision (or recall) is 1.

    Attributes:
        pairwise_precision: Share of predicted pairs that are true pairs.
        pairwise_recall: Share of true pairs that were predicted.
        pairwise_f1: Harmonic mean of the two.
        bcubed_precision: Mean share of a record's cluster in its entity.
        bcubed_recall: Mean share of a record's entity in its cluster.
        bcubed_f1: Harmonic mean of the two.
        n_records: Records evaluated.
        n_clusters: Predicted clusters.
        n_entities: True entities.
        false_merge_pairs: Some pairs clustered together but of different
            entities, in a fixed order, at most ``max_examples``.
        missed_pairs: Some pairs of one entity left in different clusters,
            in a fixed order, at most ``max_examples``.
    """

    pairwise_precision: float
    pairwise_recall: float
    pairwise_f1: float
    bcubed_precision: float
    bcubed_recall: float
    bcubed_f1: float
    n_records: int
    n_clusters: int
    n_entities: int
    false_merge_pairs: tuple[tuple[RecordId, RecordId], ...]
    missed_pairs: tuple[tuple[RecordId, RecordId], ...]


def evaluate_clusters(
    predicted: Mapping[RecordId, Hashable],
    truth: Mapping[RecordId, Hashable],
    *,
    max_examples: int = 20,
) -> ClusterEvaluation:
    """Compare predicted clusters with true entities.

    Counts pairs per cluster, entity and their intersection, so the cost is
    linear in the number of records (plus the examples listed).

    Args:
        predicted: Record id -> cluster id.
        truth: Record id -> entity key.
        max_examples: Most false-merge and missed pairs to list.

    Returns:
        The metrics and example errors.

    Raises:
        ValueError: If the two mappings cover different records.

    Example:
        >>> evaluate_clusters({1: "a", 2: "a"}, {1: "x", 2: "y"}).pairwise_precision
        0.0
    """
    if predicted.keys() != truth.keys():
        missing = sorted(set(predicted.keys()) ^ set(truth.keys()), key=_order)[:5]
        raise ValueError(f"predicted and truth cover different records, e.g. {missing}")
    clusters = Counter(predicted.values())
    entities = Counter(truth.values())
    cells = Counter((predicted[r], truth[r]) for r in predicted)
    true_positive = sum(_pairs(n) for n in cells.values())
    predicted_pairs = sum(_pairs(n) for n in clusters.values())
    true_pairs = sum(_pairs(n) for n in entities.values())
    precision = true_positive / predicted_pairs if predicted_pairs else 1.0
    recall = true_positive / true_pairs if true_pairs else 1.0
    n = len(predicted)
    b3_precision = sum(k * k / clusters[c] for (c, _), k in cells.items()) / n if n else 1.0
    b3_recall = sum(k * k / entities[e] for (_, e), k in cells.items()) / n if n else 1.0
    return ClusterEvaluation(
        pairwise_precision=precision,
        pairwise_recall=recall,
        pairwise_f1=_f1(precision, recall),
        bcubed_precision=b3_precision,
        bcubed_recall=b3_recall,
        bcubed_f1=_f1(b3_precision, b3_recall),
        n_records=n,
        n_clusters=len(clusters),
        n_entities=len(entities),
        false_merge_pairs=_take(_split_pairs(predicted, truth), max_examples),
        missed_pairs=_take(_split_pairs(truth, predicted), max_examples),
    )


def _split_pairs(
    together: Mapping[RecordId, Hashable], apart: Mapping[RecordId, Hashable]
) -> Iterator[tuple[RecordId, RecordId]]:
    # Pairs grouped together by ``together`` but separated by ``apart``. Records go in
    # sorted, so dicts keep groups and parts ordered by their smallest member.
    groups: dict[Hashable, dict[Hashable, list[RecordId]]] = defaultdict(lambda: defaultdict(list))
    for record in sorted(together, key=_order):
        groups[together[record]][apart[record]].append(record)
    for inner in groups.values():
        for first, second in combinations(inner.values(), 2):
            for a, b in product(first, second):
                yield (a, b) if _order(a) <= _order(b) else (b, a)


def _take(
    pairs: Iterator[tuple[RecordId, RecordId]], limit: int
) -> tuple[tuple[RecordId, RecordId], ...]:
    taken: list[tuple[RecordId, RecordId]] = []
    for pair in pairs:
        if len(taken) >= limit:
            break
        taken.append(pair)
    return tuple(taken)


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _order(record: RecordId) -> tuple[int, str | int]:
    return (0, record) if isinstance(record, int) else (1, record)
