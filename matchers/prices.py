"""Prices as weak evidence: two offers of one item cost about the same per unit of use."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from matchers.comparisons import NumericComparison


class PriceComparison(NumericComparison):
    """Price per unit of use: ``price`` divided by ``pack_attribute`` (units of use per
    priced unit) where it is known, as DOMAIN.md advises (a case of 800 and an each are
    compared per each).

    Prices differ between systems (list, contract, last paid) and move over time, and
    many items cost about the same, so the levels are weak evidence: ``within_10%``,
    ``within_30%``, ``far``. Zero and negative prices count as missing.
    """

    def __init__(
        self,
        attribute: str = "price",
        pack_attribute: str | None = "pack_quantity",
        *,
        name: str | None = None,
    ) -> None:
        super().__init__(attribute, (0.10, 0.30), name=name)
        self.attributes = (attribute,) + ((pack_attribute,) if pack_attribute else ())
        self.pack_attribute = pack_attribute
        self.levels = ("within_10%", "within_30%", "far")
        self.default_parameters = ((0.55, 0.25), (0.25, 0.2), (0.2, 0.55))

    def prepare(self, record: Mapping[str, Any]) -> float | None:
        price = _positive(record.get(self.attributes[0]))
        if price is None:
            return None
        pack = _positive(record.get(self.pack_attribute)) if self.pack_attribute else None
        return price / pack if pack else price


def _positive(raw: Any) -> float | None:
    try:
        value = float(raw) if raw is not None and str(raw).strip() else None
    except ValueError:
        return None
    return value if value is not None and 0 < value < float("inf") else None
