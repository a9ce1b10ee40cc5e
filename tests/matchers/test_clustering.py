from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matchers import (
    IdentifierComparison,
    JudgedPairs,
    ValueConflicts,
    cluster,
    cluster_records,
    prepare_records,
    value_conflicts,
)

Edge = tuple[str, str, float]


@pytest.mark.parametrize(
    ("nodes", "edges", "expected"),
    [
        pytest.param(
            "ABCD",
            [("A", "B", 0.99), ("C", "D", 0.97), ("B", "C", 0.2)],
            [("A", "B"), ("C", "D")],
            id="below-threshold-does-not-link",
        ),
        pytest.param(
            "ABC",
            [("A", "B", 0.99), ("B", "C", 0.95), ("A", "C", 0.01)],
            [("A", "B"), ("C",)],
            id="chain-with-disagreeing-ends-is-cut-at-weakest-link",
        ),
        pytest.param(
            "ABC",
            [("A", "B", 0.99), ("B", "C", 0.95)],
            [("A", "B", "C")],
            id="transitive-triple-without-counter-evidence-stays",
        ),
        pytest.param(
            "ABCDEFGH",
            [(a, b, 0.95) for a, b in zip("ABCDEFG", "BCDEFGH", strict=True)],
            None,
            id="long-chain-is-split",
        ),
        pytest.param(
            "ABCDEF",
            [(a, b, 0.97) for a, b in [("A", "B"), ("A", "C"), ("B", "C")]]
            + [(a, b, 0.96) for a, b in [("D", "E"), ("D", "F"), ("E", "F")]]
            + [("C", "D", 0.9)],
            [("A", "B", "C"), ("D", "E", "F")],
            id="two-triangles-joined-by-one-bridge",
        ),
        pytest.param(
            "ABCD",
            [(a, b, 0.99) for a, b in ["AB", "AC", "AD", "BC", "BD", "CD"]],
            [("A", "B", "C", "D")],
            id="clique-kept",
        ),
    ],
)
def test_clusters(nodes: str, edges: list[Edge], expected: list[tuple[str, ...]] | None) -> None:
    result = cluster(list(nodes), edges, threshold=0.8)
    if expected is None:
        assert len(result.clusters) > 1
        assert all(len(c) < len(nodes) for c in result.clusters)
    else:
        assert list(result.clusters) == expected
    assert sorted(result.assignments) == sorted(nodes)
    for members in result.clusters:
        assert {result.assignments[m] for m in members} == {members[0]}


def test_cannot_link_is_honoured_with_the_smallest_cut() -> None:
    clique = [(a, b, 0.99) for a, b in ["AB", "AC", "BC"]]
    edges = [*clique, ("C", "D", 0.9), ("D", "E", 0.99)]
    result = cluster("ABCDE", edges, 0.8, cannot_link={frozenset("AE")})
    assert list(result.clusters) == [("A", "B", "C"), ("D", "E")]
    direct = cluster("AB", [("A", "B", 0.999)], 0.8, cannot_link={frozenset("AB")})
    assert list(direct.clusters) == [("A",), ("B",)]


def test_integer_ids_and_isolated_records() -> None:
    result = cluster([5, 3, 9], [(3, 5, 0.9), (3, 3, 1.0)], 0.5)
    assert result.clusters == ((3, 5), (9,))
    assert result.assignments == {3: 3, 5: 3, 9: 9}


def random_graph(seed: int) -> tuple[list[str], list[Edge], set[frozenset[str]]]:
    rng = random.Random(seed)
    nodes = [f"r{i:02d}" for i in range(30)]
    edges = [(rng.choice(nodes), rng.choice(nodes), round(rng.random(), 2)) for _ in range(80)]
    cannot = {frozenset(rng.sample(nodes, 2)) for _ in range(5)}
    return nodes, edges, cannot


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), shuffle_seed=st.integers(0, 10_000))
def test_result_does_not_depend_on_input_order(seed: int, shuffle_seed: int) -> None:
    nodes, edges, cannot = random_graph(seed)
    first = cluster(nodes, edges, 0.5, cannot_link=cannot)
    rng = random.Random(shuffle_seed)
    shuffled_edges = [(b, a, s) if rng.random() < 0.5 else (a, b, s) for a, b, s in edges]
    rng.shuffle(shuffled_edges)
    shuffled_nodes = nodes[:]
    rng.shuffle(shuffled_nodes)
    second = cluster(shuffled_nodes, shuffled_edges, 0.5, cannot_link=set(cannot))
    assert second == first
    for pair in cannot:
        a, b = sorted(pair)
        assert first.assignments[a] != first.assignments[b]


# -- cannot-links from vetoes and from values never compared -------------------------------

TAX_ID = IdentifierComparison("tax_id", "ein", flagged=True, near=True)
VETOES = [("tax_id", "different")]
# Records 0 and 1 hold two different valid tax ids (and 3 one a keystroke from 0's); 2 and
# 4 hold none.
TAX_IDS = ["41-2847561", "27-1828459", None, "41-2847651", None]


def _conflicts(tax_ids: list[str | None]) -> ValueConflicts:
    prepared = prepare_records([TAX_ID], [{"tax_id": t} for t in tax_ids])
    found = value_conflicts([TAX_ID], prepared, VETOES, [[("tax_id", "exact")]])
    assert found is not None
    return found


def _judged(pairs: list[tuple[int, int, float, bool]]) -> JudgedPairs:
    left, right, probability, vetoed = zip(*pairs, strict=True)
    return JudgedPairs(
        np.asarray(left, dtype=np.int32),
        np.asarray(right, dtype=np.int32),
        np.asarray(probability, dtype=np.float32),
        np.asarray(vetoed, dtype=bool),
    )


def test_a_vetoed_pair_is_never_chained_into_one_cluster() -> None:
    """A veto holds a pair whose name and address agree at ~0.8, far above
    ``CANNOT_LINK_BELOW``: the chain is cut at its weaker link all the same."""
    pairs = [(0, 2, 0.99995, False), (1, 2, 0.9999, False), (0, 1, 0.7992, True)]
    assert cluster_records(3, _judged(pairs), 0.99) == [[0, 2], [1]]
    unvetoed = [(a, b, p, False) for a, b, p, _ in pairs]
    assert cluster_records(3, _judged(unvetoed), 0.99) == [[0, 1, 2]]


def test_two_tax_ids_never_compared_are_kept_apart_by_their_values() -> None:
    """0 and 1 never met (blocking did not pair them): their tax ids keep them apart."""
    pairs = _judged([(0, 2, 0.9999, False), (1, 2, 0.99995, False), (2, 4, 0.999, False)])
    assert cluster_records(5, pairs, 0.99) == [[0, 1, 2, 4], [3]]
    assert cluster_records(5, pairs, 0.99, conflicts=_conflicts(TAX_IDS)) == [
        [0],
        [1, 2, 4],
        [3],
    ]


def test_values_judged_in_full_or_a_keystroke_apart_are_no_conflict() -> None:
    conflicts = _conflicts(TAX_IDS)
    assert conflicts([0, 2, 3, 4], set()) is None  # a typo is evidence, not a constraint
    assert conflicts([0, 1, 2], set()) == (0, 1)
    # Scored in full and not vetoed (a decisive rule accepted it): its judgement stands.
    assert conflicts([0, 1, 2], {frozenset((0, 1))}) is None
    assert conflicts([2, 4], set()) is None
