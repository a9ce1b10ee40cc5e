"""Contracts: GPO and local supplier agreements."""

from __future__ import annotations

from mdm.specs.base import Attribute, EntitySpec, MatchKey
from mdm.specs.base import AttributeKind as K

CONTRACT = EntitySpec(
    name="contract",
    graphql_name="Contract",
    plural="contracts",
    id_prefix="CTR",
    display_attribute="name",
    description="A supplier agreement; a renewal with a new number is a new contract.",
    attributes=(
        Attribute("contract_number", K.IDENTIFIER, identifier="contract_number"),
        Attribute("name"),
        Attribute("vendor", K.REFERENCE, reference="vendor"),
        Attribute("gpo", K.CODE),
        Attribute("tier", K.CODE),
        Attribute("effective_date", K.DATE),
        Attribute("expiration_date", K.DATE),
        Attribute("status", K.CODE),
    ),
    match_keys=(MatchKey("contract_number", ("contract_number",)),),
    source_priority=("PROCUREMENT", "ERP", "EHR"),
)
