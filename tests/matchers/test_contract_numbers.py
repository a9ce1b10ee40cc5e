"""Contract numbers as systems write them: amendments, stripped zeros, own numberings."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from matchers import ContractNumberComparison, contract_number_key, parse_contract_number

NUMBER = ContractNumberComparison()


def _level(left: str, right: str) -> str:
    a = NUMBER.prepare({"contract_number": left})
    b = NUMBER.prepare({"contract_number": right})
    found = NUMBER.level(a, b)
    assert found is not None
    lc, rc = NUMBER.encode([a], [b])
    index = np.array([0])
    assert int(NUMBER.batch_levels(lc, rc, index, index)[0]) == found
    return NUMBER.levels[found]


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        ("VZ-40090-AMD2", "VZ-40090", "exact"),
        ("LOC-2023-024 AMENDMENT 1", "LOC-2023-024", "exact"),
        ("HT-080415", "HT80415", "exact"),
        ("ht 080415", "HT-80415-MOD 3", "exact"),
        ("HT-80415", "80415", "same_digits"),
        # Two systems' own numberings: no veto.
        ("AGR-682739", "PP-SU-1931", "other_scheme"),
        # One scheme, another number: another contract (or a renewal).
        ("HT-80415", "HT-80416", "different"),
        ("2023-024", "2024-024", "different"),
        # An amendment suffix is not read into a number that merely ends in letters.
        ("AMD-12", "AMD-13", "different"),
    ],
)
def test_contract_number_levels(left: str, right: str, expected: str) -> None:
    assert _level(left, right) == expected


def test_the_blocking_key_finds_amended_and_zero_stripped_numbers() -> None:
    key = contract_number_key()
    assert key({"contract_number": "HT-080415-AMD2"}) & key({"contract_number": "HT80415"})
    assert key({"contract_number": "HT-80415"}) & key({"contract_number": "80415"})
    assert not key({"contract_number": "HT-80415"}) & key({"contract_number": "HT-80416"})


# Letters between digit runs: once stored (letters and digits only), a zero inside a run
# of digits is no longer a leading zero, so only numbers whose runs letters separate are
# read the same whatever their zeros.
_PARTS = st.lists(
    st.tuples(
        st.from_regex(r"[A-Z]{1,3}", fullmatch=True),
        st.from_regex(r"[1-9][0-9]{2,5}", fullmatch=True),
    ),
    min_size=1,
    max_size=3,
).map(lambda pairs: [p for pair in pairs for p in pair])


@given(_PARTS, st.sampled_from(["-", " ", "/", ""]), st.booleans(), st.integers(0, 2))
def test_separators_case_and_leading_zeros_do_not_change_the_number(
    parts: list[str], separator: str, lower: bool, zeros: int
) -> None:
    plain = "-".join(parts)
    written = separator.join(("0" * zeros + p) if p[0].isdigit() else p for p in parts)
    written = written.lower() if lower else written
    a, b = parse_contract_number(plain), parse_contract_number(written)
    assert a is not None and b is not None and a.canonical == b.canonical
