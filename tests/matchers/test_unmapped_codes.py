"""A coded value whose code set is not loaded is its system's own spelling: it agrees with
the same spelling, differs within its system, and never vetoes another system's."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from matchers import CodeComparison
from matchers.coded import raw_code_token
from matchers.comparisons import MISSING

COMPANY = CodeComparison("company")


def _level(left: str | None, right: str | None) -> int | None:
    return COMPANY.level(COMPANY.prepare({"company": left}), COMPANY.prepare({"company": right}))


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        # Two systems' spellings of one company (GL segment 320 is "PH-MAN"): no evidence.
        (raw_code_token("ERP", "320"), raw_code_token("PROCUREMENT", "PH-MAN"), None),
        (
            raw_code_token("EHR", "CATH LAB | DEPT"),
            raw_code_token("ERP", "Cath Lab | Department"),
            None,
        ),
        # The same spelling agrees, within a system or across systems.
        (raw_code_token("ERP", "320"), raw_code_token("ERP", "320"), "exact"),
        (raw_code_token("ERP", "ship-to"), raw_code_token("EHR", "SHIP-TO"), "exact"),
        # Within one system, two values are two codes.
        (raw_code_token("ERP", "320"), raw_code_token("ERP", "410"), "different"),
        # Canonical codes (a loaded code set) compare as before.
        ("320", "320", "exact"),
        ("320", "410", "different"),
        ("~320", "320", "learned"),
    ],
)
def test_unmapped_values_never_veto_across_systems(
    left: str, right: str, expected: str | None
) -> None:
    found = _level(left, right)
    assert (None if found is None else COMPANY.levels[found]) == expected
    assert _batch([left], [right])[0] == (MISSING if found is None else found)


def _batch(left: list[str | None], right: list[str | None]) -> list[int]:
    lp = [COMPANY.prepare({"company": v}) for v in left]
    rp = [COMPANY.prepare({"company": v}) for v in right]
    lc, rc = COMPANY.encode(lp, rp)
    index = np.arange(len(left))
    return [int(x) for x in COMPANY.batch_levels(lc, rc, index, index)]


_SYSTEMS = st.sampled_from(["ERP", "EHR", "PROCUREMENT"])
_VALUES = st.sampled_from(["320", "PH-MAN", "NURS UNIT", "Ship-To", "ship-to"])
_TOKENS = st.one_of(
    st.none(),
    st.builds(raw_code_token, _SYSTEMS, _VALUES),
    st.sampled_from(["320", "410", "~320", "~410"]),
)


@given(st.lists(st.tuples(_TOKENS, _TOKENS), min_size=1, max_size=20))
def test_one_pair_and_many_pairs_agree(pairs: list[tuple[str | None, str | None]]) -> None:
    left, right = [a for a, _ in pairs], [b for _, b in pairs]
    expected = [MISSING if (found := _level(a, b)) is None else found for a, b in pairs]
    assert _batch(left, right) == expected
