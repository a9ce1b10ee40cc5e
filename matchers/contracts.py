"""Contract numbers as systems write them: amendment suffixes, stripped leading zeros,
and each system's own numbering scheme."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from matchers.blocking import BlockingKey
from matchers.comparisons import (
    MISSING,
    Column,
    Comparison,
    IndexArray,
    LevelArray,
    _text,
    encode_fields,
)

_NON_ALNUM = re.compile(r"[^A-Z0-9]+")
# An amendment or modification of one contract, written after its number ("VZ-40090-AMD2",
# "LOC-2023-024 AMENDMENT 1"): the same contract. A renewal has a new number.
_AMENDMENT = re.compile(r"(?<=\d)(?:AMD|AMND|AMEND|AMENDMENT|MOD|MODIFICATION)\d{0,3}$")
_LEADING_ZEROS = re.compile(r"(?<![0-9])0+(?=[0-9])")
_DIGITS = re.compile(r"[0-9]+")
MIN_DIGITS = 4  # digits that identify a contract without its letters


@dataclass(frozen=True)
class ContractNumber:
    """A contract number's comparable forms."""

    canonical: str  # letters and digits, no amendment suffix, no leading zeros
    scheme: str  # its letters: a system's numbering scheme ("AGR", "PPSU")
    digits: str | None  # its digits when there are enough to identify it


def parse_contract_number(text: str) -> ContractNumber | None:
    """``"HT-080415"`` and ``"HT80415"`` -> one canonical form; ``"VZ-40090-AMD2"`` ->
    ``"VZ40090"`` (an amendment is the same contract)."""
    key = _NON_ALNUM.sub("", text.upper())
    key = _AMENDMENT.sub("", key) or key
    canonical = _LEADING_ZEROS.sub("", key)
    if not canonical:
        return None
    digits = "".join(_DIGITS.findall(canonical))
    return ContractNumber(
        canonical,
        "".join(c for c in canonical if c.isalpha()),
        digits if len(digits) >= MIN_DIGITS else None,
    )


class ContractNumberComparison(Comparison[ContractNumber]):
    """Contract numbers (``parse_contract_number``).

    Levels: ``exact`` (one canonical number), ``same_digits`` (the same digits under
    other letters: "HT80415" and "80415"), ``different`` (one numbering scheme, another
    number: another contract, or its renewal), ``other_scheme`` (two systems' own
    numberings, "AGR-682739" and "PP-SU-1931": the numbers cannot agree, so they say little
    and never veto; supplier, title and dates decide).
    """

    def __init__(
        self,
        attribute: str = "contract_number",
        *,
        name: str | None = None,
        parameters: Sequence[tuple[float, float]] = (
            (0.9, 1e-5),
            (0.04, 1e-4),
            (0.03, 0.85),
            (0.03, 0.15),
        ),
    ) -> None:
        self.name = name or attribute
        self.attributes = (attribute,)
        self.levels = ("exact", "same_digits", "different", "other_scheme")
        self.default_parameters = tuple(parameters)

    def prepare(self, record: Mapping[str, Any]) -> ContractNumber | None:
        text = _text(record, self.attributes[0])
        return parse_contract_number(text) if text else None

    def compare(self, left: ContractNumber, right: ContractNumber) -> int:
        if left.canonical == right.canonical:
            return 0
        if left.digits is not None and left.digits == right.digits:
            return 1
        return 2 if left.scheme == right.scheme else 3

    def encode(
        self, left: Sequence[ContractNumber | None], right: Sequence[ContractNumber | None]
    ) -> tuple[Column[ContractNumber], Column[ContractNumber]]:
        return encode_fields(left, right, ("canonical", "scheme", "digits"))

    def batch_levels(
        self,
        left: Column[ContractNumber],
        right: Column[ContractNumber],
        left_index: IndexArray,
        right_index: IndexArray,
    ) -> LevelArray:
        def pair(key: str) -> tuple[Any, Any]:
            return left.codes[key][left_index], right.codes[key][right_index]

        canon_l, canon_r = pair("canonical")
        scheme_l, scheme_r = pair("scheme")
        digits_l, digits_r = pair("digits")
        out = np.where(scheme_l == scheme_r, 2, 3).astype(np.int8)
        out[(digits_l != MISSING) & (digits_l == digits_r)] = 1
        out[canon_l == canon_r] = 0
        out[(canon_l == MISSING) | (canon_r == MISSING)] = MISSING
        return out


def contract_number_key(attribute: str = "contract_number") -> BlockingKey:
    """Blocking key: the canonical contract number, and its digits when they identify it."""

    def keys(record: Mapping[str, Any]) -> set[str]:
        text = _text(record, attribute)
        parsed = parse_contract_number(text) if text else None
        if parsed is None:
            return set()
        return {parsed.canonical} | ({f"#{parsed.digits}"} if parsed.digits else set())

    return keys
