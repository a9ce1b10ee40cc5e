"""Entity specs: one per entity type; the pipeline has no per-type code."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from mdm.errors import UnknownEntityTypeError
from mdm.specs.base import (
    Attribute,
    AttributeKind,
    EntitySpec,
    MatchKey,
    MatchSettings,
    Standardizer,
    SurvivorshipRule,
    all_of,
)
from mdm.specs.contract import CONTRACT
from mdm.specs.cost_center import COST_CENTER
from mdm.specs.item import ITEM
from mdm.specs.location import LOCATION
from mdm.specs.vendor import VENDOR

__all__ = [
    "Attribute",
    "AttributeKind",
    "EntitySpec",
    "MatchKey",
    "MatchSettings",
    "SpecRegistry",
    "Standardizer",
    "SurvivorshipRule",
    "all_of",
    "DEFAULT_SPECS",
    "get_spec",
]


class SpecRegistry(Mapping[str, EntitySpec]):
    """The entity types the hub serves, by name; parents are listed before children."""

    def __init__(self, specs: tuple[EntitySpec, ...]) -> None:
        self._specs = {s.name: s for s in specs}
        for spec in specs:
            for ref in spec.references:
                if ref.reference not in self._specs:
                    raise ValueError(f"{spec.name}.{ref.name} refers to unknown {ref.reference}")

    def __getitem__(self, name: str) -> EntitySpec:
        return self._specs[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def get_spec(self, name: str, *, field: str = "entityType") -> EntitySpec:
        """The spec named ``name``.

        Raises:
            UnknownEntityTypeError: no such entity type.
        """
        spec = self._specs.get(name)
        if spec is None:
            known = ", ".join(self._specs)
            raise UnknownEntityTypeError(
                f"unknown entity type {name!r} (known: {known})", field=field
            )
        return spec


DEFAULT_SPECS = SpecRegistry((VENDOR, LOCATION, COST_CENTER, CONTRACT, ITEM))


def get_spec(name: str, *, field: str = "entityType") -> EntitySpec:
    """The default registry's spec named ``name`` (raises ``UnknownEntityTypeError``)."""
    return DEFAULT_SPECS.get_spec(name, field=field)
