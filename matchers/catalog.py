"""Manufacturer + catalog number: the item identity a hospital item master relies on most.

An equal catalog number means the same product only from the same manufacturer (numbers
collide across makers), and a number that differs only by a trailing suffix is often a
sibling size of the same line. A number one or two keystrokes from the other is a typo or
a sibling of the same line (JLS-105401, JLS-105403): a level of its own, so that a spec
can tell it from a plain disagreement.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rapidfuzz.distance import OSA

from matchers.comparisons import Comparison, part_number_stems
from matchers.identifiers import check_identifier
from matchers.text import is_same_maker, normalize_organization_name


@dataclass(frozen=True)
class _Part:
    number: str
    stems: frozenset[str]
    maker: str | None


def _present(record: Mapping[str, Any], attribute: str) -> str | None:
    value = record.get(attribute)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


class ManufacturerPartComparison(Comparison[_Part]):
    """Catalog number together with the manufacturer's name.

    Levels: ``exact_same_maker`` (equal numbers, similar manufacturer names),
    ``exact_maker_unknown`` (equal numbers, a manufacturer missing),
    ``exact_other_maker`` (equal numbers, different manufacturers: a collision),
    ``suffix_removed`` (one is the other without a trailing size or pack suffix),
    ``near`` (one edit apart, or two for numbers of ``LONG_NUMBER`` characters or more:
    a character added, dropped, replaced, or two neighbours swapped; numbers of fewer
    than ``SHORT_NUMBER`` characters are never near), ``different``. Missing when either
    side has no catalog number.
    """

    SHORT_NUMBER = 5
    LONG_NUMBER = 8

    def __init__(
        self,
        attribute: str = "manufacturer_part_number",
        manufacturer_attribute: str = "manufacturer_name",
        *,
        name: str | None = None,
    ) -> None:
        self.name = name or "manufacturer_part"
        self.attributes = (attribute, manufacturer_attribute)
        self.levels = (
            "exact_same_maker",
            "exact_maker_unknown",
            "exact_other_maker",
            "suffix_removed",
            "near",
            "different",
        )
        # Among candidate pairs, numbers a keystroke apart are mostly siblings of one line,
        # so "near" weighs against a match (3 bits): with the default weights, a pair that
        # agrees on everything else (description, maker name and golden maker) scores in
        # the review band.
        self.default_parameters = (
            (0.70, 1e-6),
            (0.15, 1e-5),
            (0.01, 1e-4),
            (0.04, 2e-4),
            (0.01, 0.08),
            (0.09, 1 - 0.080311),
        )

    def prepare(self, record: Mapping[str, Any]) -> _Part | None:
        text = _present(record, self.attributes[0])
        number = check_identifier("part_number", text).normalized if text else None
        if number is None:
            return None
        maker_text = _present(record, self.attributes[1])
        maker = normalize_organization_name(maker_text).legal if maker_text else None
        return _Part(number, part_number_stems(text or ""), maker or None)

    def compare(self, left: _Part, right: _Part) -> int:
        if left.number == right.number:
            if left.maker is None or right.maker is None:
                return 1
            return 0 if is_same_maker(left.maker, right.maker) else 2
        if left.number in right.stems or right.number in left.stems:
            return 3
        return 4 if _is_near(left.number, right.number) else 5


def _is_near(left: str, right: str) -> bool:
    shorter = min(len(left), len(right))
    if shorter < ManufacturerPartComparison.SHORT_NUMBER:
        return False
    edits = 2 if shorter >= ManufacturerPartComparison.LONG_NUMBER else 1
    return OSA.distance(left, right, score_cutoff=edits) <= edits
