"""Per-record sets of integer ids (tokens, codes), asked about many pairs at once.

Set comparisons that a pair of records would run in Python (is this token of the left
record among the right record's tokens?) run here for a whole batch of pairs with numpy:
each record's set is a run of a flat array (``RecordSets.explode`` lists the elements of
many records' sets at once) and every ``(record, id)`` is one sorted key
(``RecordSets.contains`` answers many membership questions with one binary search).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]


class RecordSets:
    """The sets of ids of one side's records.

    Args:
        sets: Per record, its ids (non-negative, below ``n_ids``), each once.
        n_ids: One more than the largest id.
    """

    def __init__(self, sets: Sequence[Sequence[int]], n_ids: int) -> None:
        counts = np.fromiter((len(s) for s in sets), dtype=np.int64, count=len(sets))
        self.offsets: IntArray = np.zeros(len(sets) + 1, dtype=np.int64)
        np.cumsum(counts, out=self.offsets[1:])
        self.items: IntArray = np.fromiter(
            (i for s in sets for i in s), dtype=np.int64, count=int(self.offsets[-1])
        )
        self.counts: IntArray = counts
        self.n_ids = max(n_ids, 1)
        owners = np.repeat(np.arange(len(sets), dtype=np.int64), counts)
        self.keys: IntArray = np.sort(owners * self.n_ids + self.items)

    def explode(self, records: IntArray) -> tuple[IntArray, IntArray]:
        """The elements of the sets of ``records``: for each, the position in ``records``
        it belongs to and its index into ``items`` (and any array aligned with it)."""
        counts = self.counts[records]
        owner = np.repeat(np.arange(len(records), dtype=np.int64), counts)
        starts = np.repeat(self.offsets[records] - np.cumsum(counts) + counts, counts)
        return owner, starts + np.arange(len(owner), dtype=np.int64)

    def contains(self, records: IntArray, ids: IntArray) -> NDArray[np.bool_]:
        """Whether the set of ``records[k]`` holds ``ids[k]``, for every ``k`` (a negative
        id is in no set)."""
        if not len(self.keys):
            return np.zeros(len(ids), dtype=bool)
        query = records * self.n_ids + ids
        position = np.minimum(np.searchsorted(self.keys, query), len(self.keys) - 1)
        found: NDArray[np.bool_] = (ids >= 0) & (self.keys[position] == query)
        return found


def any_per(owner: IntArray, flags: NDArray[np.bool_], size: int) -> NDArray[np.bool_]:
    """Per owner ``0..size-1``, whether any of its elements' ``flags`` is set."""
    found: NDArray[np.bool_] = np.bincount(owner[flags], minlength=size)[:size] > 0
    return found
