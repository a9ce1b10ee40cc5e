"""Candidate pairs compared in worker processes give the level matrix one process gives."""

from __future__ import annotations

import numpy as np
import pytest

from matchers import compare_pairs, prepare_records
from mdm.bulk import comparing
from mdm.bulk.comparing import compare_levels
from tests.matchers.test_estimation import model, synthetic_vendors


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_workers_compare_the_same_levels_as_one_process(
    workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(comparing, "PARALLEL_PAIRS", 10)
    records, _ = synthetic_vendors(seed=7, n_entities=80)
    start = model()
    prepared = prepare_records(start.comparisons, records)
    n = len(records)
    pairs = np.asarray([(i, j) for i in range(n) for j in range(i + 1, n) if (i + j) % 7 == 0])
    expected = compare_pairs(start.comparisons, prepared, pairs)[2]
    found = compare_levels(start.comparisons, prepared, pairs, workers)
    assert found.dtype == np.int8
    np.testing.assert_array_equal(found, expected)
    assert comparing._STATE is None
