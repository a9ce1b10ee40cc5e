from __future__ import annotations

import pytest

from matchers import evaluate_clusters


@pytest.mark.parametrize(
    ("predicted", "truth", "expected"),
    [
        pytest.param(
            {1: "c", 2: "c", 3: "c", 4: "c"},
            {1: "A", 2: "A", 3: "B", 4: "B"},
            # 6 predicted pairs, 2 true ones among them; each record's cluster is half its entity.
            {
                "pairwise_precision": 2 / 6,
                "pairwise_recall": 1.0,
                "pairwise_f1": 0.5,
                "bcubed_precision": 0.5,
                "bcubed_recall": 1.0,
                "bcubed_f1": 2 / 3,
                "n_clusters": 1,
                "n_entities": 2,
                "false_merge_pairs": ((1, 3), (1, 4), (2, 3), (2, 4)),
                "missed_pairs": (),
            },
            id="one-false-merge-of-two-pairs",
        ),
        pytest.param(
            {"a": 1, "b": 1, "c": 2},
            {"a": "X", "b": "X", "c": "X"},
            # 1 of 3 true pairs found; B-cubed recall (2/3 + 2/3 + 1/3) / 3.
            {
                "pairwise_precision": 1.0,
                "pairwise_recall": 1 / 3,
                "pairwise_f1": 0.5,
                "bcubed_precision": 1.0,
                "bcubed_recall": 5 / 9,
                "bcubed_f1": 2 * 5 / 9 / (1 + 5 / 9),
                "n_clusters": 2,
                "n_entities": 1,
                "false_merge_pairs": (),
                "missed_pairs": (("a", "c"), ("b", "c")),
            },
            id="one-record-split-off",
        ),
        pytest.param(
            {1: 1, 2: 2},
            {1: "A", 2: "B"},
            {
                "pairwise_precision": 1.0,
                "pairwise_recall": 1.0,
                "pairwise_f1": 1.0,
                "bcubed_precision": 1.0,
                "bcubed_recall": 1.0,
                "bcubed_f1": 1.0,
                "n_clusters": 2,
                "n_entities": 2,
                "false_merge_pairs": (),
                "missed_pairs": (),
            },
            id="all-singletons-correct",
        ),
        pytest.param(
            {1: "x", 2: "x", 3: "y", 4: "y", 5: "y"},
            {1: "A", 2: "B", 3: "A", 4: "B", 5: "B"},
            # Cells (x,A)=1 (x,B)=1 (y,A)=1 (y,B)=2: TP=1, predicted pairs 1+3=4, true pairs 1+3=4.
            {
                "pairwise_precision": 1 / 4,
                "pairwise_recall": 1 / 4,
                "pairwise_f1": 1 / 4,
                "bcubed_precision": (1 / 2 + 1 / 2 + 1 / 3 + 4 / 3) / 5,
                "bcubed_recall": (1 / 2 + 1 / 3 + 1 / 2 + 4 / 3) / 5,
                "n_clusters": 2,
                "n_entities": 2,
                "false_merge_pairs": ((1, 2), (3, 4), (3, 5)),
                "missed_pairs": ((1, 3), (2, 4), (2, 5)),
            },
            id="crossed",
        ),
    ],
)
def test_metrics_computed_by_hand(
    predicted: dict[object, object], truth: dict[object, object], expected: dict[str, object]
) -> None:
    result = evaluate_clusters(predicted, truth)  # type: ignore[arg-type]
    for name, value in expected.items():
        actual = getattr(result, name)
        if isinstance(value, float):
            assert actual == pytest.approx(value), name
        else:
            assert actual == value, name
    assert result.n_records == len(truth)


def test_examples_are_bounded_and_deterministic() -> None:
    predicted = {i: "all" for i in range(200)}
    truth = {i: i % 50 for i in range(200)}
    result = evaluate_clusters(predicted, truth, max_examples=5)
    assert result.false_merge_pairs == ((0, 1), (0, 51), (0, 101), (0, 151), (1, 50))
    reordered = dict(reversed(list(predicted.items())))
    assert evaluate_clusters(reordered, truth, max_examples=5) == result


def test_records_must_match() -> None:
    with pytest.raises(ValueError, match="different records"):
        evaluate_clusters({1: 1}, {2: 1})
