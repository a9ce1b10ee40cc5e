"""Candidate pairs of a bulk load compared in forked worker processes (``compare_levels``).

Comparing the candidate pairs is the one step of matching whose work is per pair, and pairs
grow faster than records (blocks fill up with common names as the data grows: at a million
records, five million vendor pairs). Once staging is done the CPUs its workers used are
free: the pairs are cut into slices, each compared by a forked process with the prepared
records it inherited, and the slices' level matrices put back together in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from multiprocessing import get_all_start_methods, get_context
from typing import Any

import numpy as np
from numpy.typing import NDArray

from matchers import Comparison, PreparedRecords, compare_pairs

# Below this many pairs one process compares them: forking costs more than it saves.
PARALLEL_PAIRS = 200_000
SLICES_PER_WORKER = 4  # slices of unequal cost even out across the workers
_STATE: tuple[Sequence[Comparison[Any]], PreparedRecords, NDArray[np.intp]] | None = None


def compare_levels(
    comparisons: Sequence[Comparison[Any]],
    prepared: PreparedRecords,
    pairs: NDArray[np.intp],
    workers: int,
) -> NDArray[np.int8]:
    """The level matrix of ``pairs`` (``matchers.compare_pairs``): in ``workers`` forked
    processes when there are ``PARALLEL_PAIRS`` or more, else in this one. The same matrix
    either way (a pair's levels depend on its two records alone)."""
    if workers <= 1 or len(pairs) < PARALLEL_PAIRS or "fork" not in get_all_start_methods():
        return compare_pairs(comparisons, prepared, pairs)[2]
    global _STATE
    bounds = np.linspace(0, len(pairs), workers * SLICES_PER_WORKER + 1).astype(np.int64)
    slices = list(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True))
    _STATE = (comparisons, prepared, pairs)  # inherited by the forked workers
    try:
        with get_context("fork").Pool(workers) as pool:
            parts = pool.map(_compare_slice, slices, chunksize=1)
    finally:
        _STATE = None
    return np.concatenate(parts)


def _compare_slice(bounds: tuple[int, int]) -> NDArray[np.int8]:
    """In a worker process: the levels of one slice of the pairs."""
    assert _STATE is not None
    comparisons, prepared, pairs = _STATE
    start, end = bounds
    return compare_pairs(comparisons, prepared, pairs[start:end])[2]
