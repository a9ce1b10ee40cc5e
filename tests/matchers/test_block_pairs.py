"""Blocking over arrays, as a bulk load blocks (``matchers.block_pairs``): every pair of
records that share a key, once, from the keys kept while the records were staged; and the
sibling pairs of records referring to one parent (``matchers.with_sibling_pairs``)."""

from __future__ import annotations

from itertools import combinations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from matchers import ANCESTRY, block_pairs, with_sibling_pairs


def _brute_force(
    keys: list[tuple[int, int]], record_ids: list[int], max_block_size: int
) -> set[tuple[int, int]]:
    index_of = {r: i for i, r in enumerate(record_ids)}
    blocks: dict[int, set[int]] = {}
    for key, record in keys:
        if record in index_of:
            blocks.setdefault(key, set()).add(index_of[record])
    pairs = set()
    for members in blocks.values():
        if len(members) <= max_block_size:
            pairs |= set(combinations(sorted(members), 2))
    return pairs


def _pairs(keys: list[tuple[int, int]], record_ids: list[int], limit: int) -> np.ndarray:
    hashes = np.asarray([k for k, _ in keys], dtype=np.int64)
    records = np.asarray([r for _, r in keys], dtype=np.int64)
    return block_pairs(hashes, records, record_ids, limit)


def test_records_sharing_a_key_are_paired_once_and_big_blocks_are_skipped() -> None:
    record_ids = [30, 10, 20, 40, 50]  # staged order: indices 0..4
    keys = [
        (7, 10), (7, 20), (7, 10),  # a key given twice by one record counts once
        (8, 10), (8, 20),  # the same pair through a second key: still one pair
        (9, 30), (9, 40), (9, 50), (9, 10),  # a block of 4, over the limit of 3
        (5, 40), (5, 50), (5, 99),  # record 99 is not staged (a deletion): left out
        (6, 30),  # a block of one: no pair
    ]  # fmt: skip
    pairs = _pairs(keys, record_ids, 3)
    assert pairs.tolist() == [[1, 2], [3, 4]]


def test_no_keys_no_pairs() -> None:
    assert _pairs([], [1, 2], 10).shape == (0, 2)
    assert _pairs([(1, 5), (1, 6)], [], 10).shape == (0, 2)


@settings(max_examples=200, deadline=None)
@given(
    keys=st.lists(st.tuples(st.integers(-5, 5), st.integers(0, 30)), max_size=120),
    staged=st.sets(st.integers(0, 30), max_size=25),
    limit=st.integers(2, 8),
    seed=st.integers(0, 1000),
)
def test_block_pairs_equal_every_pair_sharing_a_key(
    keys: list[tuple[int, int]], staged: set[int], limit: int, seed: int
) -> None:
    record_ids = list(staged)
    np.random.default_rng(seed).shuffle(record_ids)
    pairs = _pairs(keys, record_ids, limit)
    found = [tuple(p) for p in pairs.tolist()]
    assert found == sorted(set(found))  # sorted, each pair once, i < j
    assert set(found) == _brute_force(keys, record_ids, limit)


@settings(max_examples=200, deadline=None)
@given(
    parents=st.lists(
        st.dictionaries(st.sampled_from(["facility", "company"]), st.integers(0, 6), max_size=2),
        min_size=1,
        max_size=20,
    ),
    resolvable=st.sets(st.integers(0, 6)),
    limit=st.integers(2, 6),
)
def test_sibling_pairs_add_every_pair_under_one_parent(
    parents: list[dict[str, int]], resolvable: set[int], limit: int
) -> None:
    # Parents 0..6 resolve to three golden records (p % 3), each with an ancestor.
    resolved = {ref: f"G{ref % 3}{ANCESTRY}TOP" for ref in resolvable}
    blocked = np.asarray([[0, len(parents) - 1]] if len(parents) > 1 else [], dtype=np.intp)
    blocked = blocked.reshape(-1, 2)
    pairs = with_sibling_pairs(blocked, parents, resolved, limit)
    groups: dict[tuple[str, str], set[int]] = {}
    for i, refs in enumerate(parents):
        for name, ref in refs.items():
            if ref in resolved:
                groups.setdefault((name, resolved[ref].split(ANCESTRY)[0]), set()).add(i)
    expected = {tuple(p) for p in blocked.tolist()}
    for members in groups.values():
        if len(members) <= limit:
            expected |= set(combinations(sorted(members), 2))
    found = [tuple(p) for p in pairs.tolist()]
    assert found == sorted(set(found))
    assert set(found) == expected
