"""Blocking of a bulk load: every pair of records that share a key, once, from the keys
kept while the records were staged."""

from __future__ import annotations

from itertools import combinations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mdm.bulk import block_pairs


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
