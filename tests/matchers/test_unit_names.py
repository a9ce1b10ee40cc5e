"""Unit names prepared once per text: the same answer as preparing afresh, and never
stale after the vocabulary changes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from matchers import (
    UnitNameComparison,
    extend_unit_vocabulary,
    normalize_unit_name,
    reset_unit_vocabulary,
)
from matchers.vocabulary import _prepare_unit_name, prepare_unit_name

NAMES = ["ED", "Emerg Dept - 3S", "L&D", "HHN ICU", "PAR 01", "Tower 2 2 North", "CL005 Lab", ""]


@pytest.fixture(autouse=True)
def shipped_vocabulary() -> Iterator[None]:
    reset_unit_vocabulary()
    yield
    reset_unit_vocabulary()


@pytest.mark.parametrize("name", [pytest.param(n, id=n or "empty") for n in NAMES])
def test_prepared_twice_is_prepared_afresh(name: str) -> None:
    first = prepare_unit_name(name)
    assert first == _prepare_unit_name(name, None)
    assert prepare_unit_name(name) == first


@given(st.text(alphabet="ABCDEFGHILNOPRSTUWXYZ0123456789 &-/.", max_size=30))
def test_any_text_prepares_as_without_the_memo(name: str) -> None:
    assert prepare_unit_name(name) == _prepare_unit_name(name, None)
    assert prepare_unit_name(name) == _prepare_unit_name(name, None)


def test_site_vocabulary_is_seen_by_names_prepared_before() -> None:
    before = prepare_unit_name("EC")
    assert before is not None and before.text == "EC"
    extend_unit_vocabulary({"EC": "EMERGENCY DEPARTMENT"})
    after = prepare_unit_name("EC")
    assert after is not None and after.text == normalize_unit_name("EC") == "EMERGENCY DEPARTMENT"
    reset_unit_vocabulary()
    again = prepare_unit_name("EC")
    assert again is not None and again.text == "EC"


def test_a_comparisons_own_vocabulary_is_not_shared() -> None:
    plain = UnitNameComparison("name")
    own = UnitNameComparison("name", extra={"EC": "EMERGENCY DEPARTMENT"})
    record = {"name": "EC"}
    assert own.prepare(record) == _prepare_unit_name("EC", {"EC": "EMERGENCY DEPARTMENT"})
    assert plain.prepare(record) == _prepare_unit_name("EC", None)
    assert own.prepare(record) != plain.prepare(record)
