"""Contracts: GPO and local supplier agreements."""

from __future__ import annotations

from matchers import (
    CodeComparison,
    ContractNumberComparison,
    ExactComparison,
    FuzzyTextComparison,
    ReferenceComparison,
    SupplierComparison,
    contract_number_key,
    exact_key,
    token_sort_key,
)
from mdm.specs.base import Attribute, EntitySpec, MatchKey, MatchSettings, all_of
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
        Attribute(
            "supplier_name",
            description="The supplier's name as the contract gives it (beside or instead of "
            "vendor).",
        ),
        Attribute(
            "supplier_duns",
            K.IDENTIFIER,
            identifier="duns",
            description="The supplier's D-U-N-S number.",
        ),
        Attribute("gpo", K.CODE, code_set="gpo"),
        Attribute("tier", K.CODE, code_set="contract_tier"),
        Attribute("effective_date", K.DATE),
        Attribute("expiration_date", K.DATE),
        Attribute("status", K.CODE),
    ),
    match_keys=(MatchKey("contract_number", ("contract_number",)),),
    source_priority=("PROCUREMENT", "ERP", "EHR"),
    matching=MatchSettings(
        comparisons=(
            ContractNumberComparison("contract_number"),
            FuzzyTextComparison("name"),
            CodeComparison("gpo"),
            ReferenceComparison("vendor"),
            # The supplier by DUNS or name where the vendor references do not both resolve
            # (one supplier counts once).
            SupplierComparison("supplier_duns", "supplier_name", "vendor"),
            ExactComparison("effective_date"),
            ExactComparison("expiration_date"),
        ),
        blocking=(
            ("contract_number", contract_number_key("contract_number")),
            ("name_tokens", token_sort_key("name")),
            ("supplier_duns", exact_key("supplier_duns", "duns")),
        ),
        # A renewal has a new number: same vendor and name, another contract. Two systems'
        # own numberings ("AGR-682739", "PP-SU-1931") cannot agree: no veto, the supplier,
        # title and dates decide.
        vetoes=(("contract_number", "different"),),
        decisive=(all_of(("contract_number", "exact")),),
    ),
)
