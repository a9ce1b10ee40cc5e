"""Survivorship: golden attributes from member records, with lineage of every value."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mdm.specs import EntitySpec, SurvivorshipRule


@dataclass(frozen=True)
class Member:
    """What survivorship needs of one (not deleted) source record."""

    record_id: int
    system: str
    source_id: str
    values: Mapping[str, Any]
    updated_at: datetime


@dataclass(frozen=True)
class Override:
    attribute: str
    value: Any
    actor: str
    reason: str


@dataclass(frozen=True)
class Survivor:
    attributes: dict[str, Any]
    lineage: dict[str, Any]


def survive(
    spec: EntitySpec, members: Sequence[Member], overrides: Iterable[Override] = ()
) -> Survivor:
    """Choose each golden value from the members' standardized values.

    Per attribute: a steward override wins; otherwise the attribute's rule —
    ``source_priority`` takes the best-ranked system's value (unranked systems last),
    then the most recent; ``most_recent`` takes the most recently updated. Ties go to the
    oldest record, so the result never depends on input order. Reference values are
    ``{"system", "source_id"}`` pairs, resolved through the crosswalk when read.
    """
    attributes: dict[str, Any] = {}
    lineage: dict[str, Any] = {}
    pinned = {o.attribute: o for o in overrides}
    # Each member's sort key per rule, worked out once (not once per attribute).
    recent = [(-m.updated_at.timestamp(), m.record_id) for m in members]
    ranked: dict[tuple[str, ...], list[tuple[int, float, int]]] = {}
    for attribute in spec.attributes:
        name = attribute.name
        override = pinned.get(name)
        if override is not None:
            attributes[name] = override.value
            lineage[name] = {
                "rule": SurvivorshipRule.OVERRIDE.value,
                "actor": override.actor,
                "reason": override.reason,
            }
            continue
        having = [k for k, m in enumerate(members) if m.values.get(name) is not None]
        if not having:
            continue
        if len(having) == 1:
            k = having[0]
        elif attribute.rule is SurvivorshipRule.MOST_RECENT:
            k = min(having, key=recent.__getitem__)
        else:
            priority = spec.priority_of(attribute)
            keys = ranked.get(priority)
            if keys is None:
                ranks = {code: i for i, code in enumerate(priority)}
                keys = ranked[priority] = [
                    (ranks.get(m.system, len(ranks)), *recent[k]) for k, m in enumerate(members)
                ]
            k = min(having, key=keys.__getitem__)
        best = members[k]
        attributes[name] = best.values[name]
        lineage[name] = {
            "rule": attribute.rule.value,
            "source_record_id": best.record_id,
            "system": best.system,
            "source_id": best.source_id,
        }
    return Survivor(attributes, lineage)
