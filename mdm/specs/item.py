"""Items: medical/surgical supplies of the item master."""

from __future__ import annotations

from matchers import (
    DescriptionComparison,
    ExactComparison,
    FuzzyTextComparison,
    GtinComparison,
    NumericComparison,
    PartNumberComparison,
    description_tokens_key,
    exact_key,
    gtin_family_key,
    part_number_key,
)
from mdm.specs.base import Attribute, EntitySpec, MatchKey, MatchSettings, Standardizer
from mdm.specs.base import AttributeKind as K

ITEM = EntitySpec(
    name="item",
    graphql_name="Item",
    plural="items",
    id_prefix="ITM",
    display_attribute="description",
    description="A supply item at one packaging level (a box of 100 and a case are two items).",
    attributes=(
        Attribute("description"),
        Attribute("manufacturer", K.REFERENCE, reference="vendor"),
        Attribute("manufacturer_name"),
        Attribute(
            "manufacturer_part_number",
            K.IDENTIFIER,
            identifier="part_number",
            description="Manufacturer catalog number, without spaces, hyphens or dots.",
        ),
        Attribute("vendor", K.REFERENCE, reference="vendor", description="Supplier."),
        Attribute("vendor_catalog_number", K.IDENTIFIER, identifier="part_number"),
        Attribute("gtin", K.IDENTIFIER, identifier="gtin", description="GTIN-14."),
        Attribute("hibc", K.IDENTIFIER, identifier="hibcc", description="HIBC UPN."),
        Attribute("unspsc", K.IDENTIFIER, identifier="unspsc"),
        Attribute("hcpcs", K.IDENTIFIER, identifier="hcpcs"),
        Attribute("uom", K.CODE, standardizer=Standardizer.UOM, description="Canonical UOM."),
        Attribute("pack_quantity", K.INTEGER, description="Units of use per UOM."),
        Attribute("brand"),
        Attribute("size"),
        Attribute("sterile", K.BOOLEAN),
        Attribute("latex_free", K.BOOLEAN),
        Attribute("price", K.NUMBER, description="Price per UOM.", priority=("PROCUREMENT", "ERP")),
        Attribute("status", K.CODE),
    ),
    match_keys=(
        MatchKey("gtin", ("gtin",)),
        MatchKey("hibc", ("hibc",)),
    ),
    source_priority=("ERP", "PROCUREMENT", "EHR"),
    matching=MatchSettings(
        comparisons=(
            GtinComparison("gtin"),
            PartNumberComparison("manufacturer_part_number"),
            DescriptionComparison("description", unspsc_attribute="unspsc"),
            FuzzyTextComparison("manufacturer_name"),
            NumericComparison("pack_quantity"),
            ExactComparison("uom"),
        ),
        blocking=(
            ("gtin", exact_key("gtin")),
            ("gtin_family", gtin_family_key("gtin")),
            ("part_number", part_number_key("manufacturer_part_number")),
            ("description", description_tokens_key("description")),
        ),
    ),
)
