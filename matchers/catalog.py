"""Manufacturer + catalog number: the item identity a hospital item master relies on most.

An equal catalog number means the same product only from the same manufacturer (numbers
collide across makers), and a number that differs only by a trailing suffix is often a
sibling size of the same line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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
    ``different``. Missing when either side has no catalog number.
    """

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
            "different",
        )
        self.default_parameters = (
            (0.70, 1e-6),
            (0.15, 1e-5),
            (0.01, 1e-4),
            (0.04, 2e-4),
            (0.10, 1 - 3.11e-4),
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
        return 4
