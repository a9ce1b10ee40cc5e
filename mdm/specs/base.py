"""The shape of an entity spec: everything that differs between entity types lives here."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from matchers import BlockingKey, Comparison
from matchers.rules import NOT


class AttributeKind(StrEnum):
    """How an attribute's values are typed, standardized and compared."""

    STRING = "string"  # free text kept as written (trimmed)
    CODE = "code"  # short coded value, upper-cased (status, UOM, company)
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"  # ISO yyyy-mm-dd
    IDENTIFIER = "identifier"  # validated by ``matchers.check_identifier``
    REFERENCE = "reference"  # another record's source id in the same system


class SurvivorshipRule(StrEnum):
    """How a golden value is chosen from the member records' values."""

    SOURCE_PRIORITY = "source_priority"  # best-ranked system first, then most recent
    MOST_RECENT = "most_recent"  # most recently received non-empty value wins
    OVERRIDE = "override"  # a steward's pin (recorded in lineage, never configured)


class Standardizer(StrEnum):
    """Extra clean-up for some attributes, beyond what their kind does."""

    NONE = "none"
    UOM = "uom"
    POSTAL_CODE = "postal_code"
    PHONE = "phone"
    STATE = "state"
    EMAIL = "email"  # lower case; a malformed address is flagged and left out
    COUNTRY = "country"  # ISO 3166-1 alpha-2; an unknown spelling is kept and flagged


@dataclass(frozen=True)
class Attribute:
    """One canonical attribute of an entity type.

    Args:
        name: canonical snake_case name, used in mappings, JSON and (camelCased) GraphQL.
        kind: how values are typed and standardized.
        identifier: the ``matchers`` identifier kind, for ``IDENTIFIER`` attributes.
        reference: the entity type referred to, for ``REFERENCE`` attributes.
        rule: the survivorship rule for this attribute.
        priority: system codes in order of trust for this attribute; ``None`` uses the spec's.
        standardizer: extra clean-up beyond the kind's.
        description: shown in the GraphQL schema.
        code_set: the reference-data code set of a ``CODE`` attribute: once that code set
            is loaded, each system's values are transcoded to its canonical codes.
    """

    name: str
    kind: AttributeKind = AttributeKind.STRING
    identifier: str | None = None
    reference: str | None = None
    rule: SurvivorshipRule = SurvivorshipRule.SOURCE_PRIORITY
    priority: tuple[str, ...] | None = None
    standardizer: Standardizer = Standardizer.NONE
    description: str = ""
    code_set: str | None = None

    def __post_init__(self) -> None:
        if self.code_set is not None and self.kind is not AttributeKind.CODE:
            raise ValueError(f"attribute {self.name}: only a CODE attribute has a code set")
        if (self.kind is AttributeKind.IDENTIFIER) != (self.identifier is not None):
            raise ValueError(f"attribute {self.name}: identifier kind goes with IDENTIFIER")
        if (self.kind is AttributeKind.REFERENCE) != (self.reference is not None):
            raise ValueError(f"attribute {self.name}: reference target goes with REFERENCE")


@dataclass(frozen=True)
class MatchKey:
    """An exact key that, when two records share it, says they are the same entity.

    A key made of several attributes (``company`` + ``code``) exists only when all are
    present and valid; identifier attributes take part only when their check passed.
    ``unique`` says a real-world entity has one value of this key, so two records whose
    values differ are strong counter-evidence (a vendor has one tax id but many site GLNs).
    """

    name: str
    attributes: tuple[str, ...]
    unique: bool = True


def all_of(*conditions: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    """A decisive rule: every ``(comparison, level)`` condition must hold (a level written
    ``not:L``: any level but ``L``, or the value missing)."""
    return conditions


@dataclass(frozen=True)
class MatchSettings:
    """How records of one entity type are compared, blocked and decided.

    Args:
        comparisons: the comparison library entries scored for each candidate pair.
        blocking: named blocking keys; records sharing a key are candidates.
        prior: prior probability that two random records of this type match.
        auto_threshold: match probability at or above which a record joins a golden record.
        review_threshold: at or above this (and below auto), a steward decides.
        max_block_size: blocks larger than this are skipped (too common to tell anything).
        vetoes: ``(comparison, level)`` pairs that say "not the same thing" whatever else
            agrees (a different tax id, a different size): such a pair is never merged
            automatically; at best a steward sees it. Weights add up evidence as if the
            comparisons were independent, and descriptive ones (name, address, maker) are
            not: a veto is the domain's answer to that over-counting.
        decisive: rules, each a set of ``(comparison, level)`` conditions that together say
            "the same thing" (an equal GTIN-14; company and code equal for a cost center):
            the pair is accepted, whatever the weights, vetoes and doubts say.
        doubts: ``(comparison, level)`` pairs that say "a steward decides" (a tax id a
            keystroke from the other: a typo, or another entity): such a pair is held just
            below the auto threshold, so it is never merged automatically, but agreement
            elsewhere can put it before a steward (a veto keeps it from them).
        sibling_candidates: the children of the record's parent (same parent golden
            record, same kind) are candidates whatever their keys say: for types whose
            records may share no key with their match (a department with no address of its
            own, named differently per system). Off where keys suffice (a cost center's
            company and code): a parent's children can be many. A parent with more than
            ``max_block_size`` children of the record's kind is skipped, as an oversized
            block is (a health system's hundreds of facilities, each found through its
            own address and identifiers), in bulk and incrementally alike.
    """

    comparisons: tuple[Comparison[Any], ...]
    blocking: tuple[tuple[str, BlockingKey], ...]
    prior: float = 1e-4
    auto_threshold: float = 0.99
    review_threshold: float = 0.80
    max_block_size: int = 200
    vetoes: tuple[tuple[str, str], ...] = ()
    decisive: tuple[tuple[tuple[str, str], ...], ...] = ()
    sibling_candidates: bool = False
    doubts: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class EntitySpec:
    """Everything the shared pipeline needs to know about one entity type."""

    name: str  # snake_case entity type, e.g. "cost_center"
    graphql_name: str  # e.g. "CostCenter"
    plural: str  # GraphQL list field, e.g. "costCenters"
    id_prefix: str  # golden public id prefix, e.g. "CCT"
    display_attribute: str
    attributes: tuple[Attribute, ...]
    match_keys: tuple[MatchKey, ...]
    source_priority: tuple[str, ...] = ("ERP", "PROCUREMENT", "EHR")
    description: str = ""
    matching: MatchSettings | None = None
    _by_name: dict[str, Attribute] = field(default_factory=dict, init=False, repr=False)
    _derived: dict[str, tuple[Attribute, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        by_name = {a.name: a for a in self.attributes}
        if len(by_name) != len(self.attributes):
            raise ValueError(f"spec {self.name}: duplicate attribute names")
        for key in self.match_keys:
            missing = [a for a in key.attributes if a not in by_name]
            if missing:
                raise ValueError(f"spec {self.name}: match key {key.name} names {missing}")
        if self.display_attribute not in by_name:
            raise ValueError(f"spec {self.name}: display attribute {self.display_attribute}")
        if self.matching is not None:
            levels = {c.name: c.levels for c in self.matching.comparisons}
            for comparison in self.matching.comparisons:
                unknown = [a for a in comparison.attributes if a not in by_name]
                if unknown:
                    raise ValueError(f"spec {self.name}: {comparison.name} reads {unknown}")
            conditions = [c for rule in self.matching.decisive for c in rule]
            conditions = [(name, level.removeprefix(NOT)) for name, level in conditions]
            for name, level in [*self.matching.vetoes, *self.matching.doubts, *conditions]:
                if level not in levels.get(name, ()):
                    raise ValueError(f"spec {self.name}: no level {name}.{level}")
        self._by_name.update(by_name)
        # Asked for every record: worked out once (the spec is frozen).
        self._derived["references"] = tuple(
            a for a in self.attributes if a.kind is AttributeKind.REFERENCE
        )
        self._derived["coded"] = tuple(a for a in self.attributes if a.code_set is not None)
        read = (
            {a for c in self.matching.comparisons for a in c.attributes} if self.matching else set()
        )
        self._derived["compared_references"] = tuple(
            a for a in self._derived["references"] if a.name in read
        )

    def attribute(self, name: str) -> Attribute | None:
        return self._by_name.get(name)

    @property
    def references(self) -> tuple[Attribute, ...]:
        return self._derived["references"]

    def priority_of(self, attribute: Attribute) -> tuple[str, ...]:
        return attribute.priority if attribute.priority is not None else self.source_priority

    @property
    def compared_references(self) -> tuple[Attribute, ...]:
        """The reference attributes matching compares (the others need no resolving)."""
        return self._derived["compared_references"]

    @property
    def coded(self) -> tuple[Attribute, ...]:
        """The attributes bound to a reference-data code set."""
        return self._derived["coded"]
