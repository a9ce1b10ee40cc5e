"""Items: medical/surgical supplies of the item master."""

from __future__ import annotations

from matchers import (
    DescriptionComparison,
    FuzzyTextComparison,
    GtinComparison,
    IdentifierComparison,
    ManufacturerPartComparison,
    PriceComparison,
    ReferenceComparison,
    description_tokens_key,
    exact_key,
    gtin_family_key,
    model_code_key,
    part_number_key,
)
from mdm.specs.base import Attribute, EntitySpec, MatchKey, MatchSettings, Standardizer, all_of
from mdm.specs.base import AttributeKind as K

NUMBERS = ("manufacturer_part_number", "vendor_catalog_number")
DESCRIPTION = DescriptionComparison(
    "description", unspsc_attribute="unspsc", number_attributes=NUMBERS, gtin_attribute="gtin"
)

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
        Attribute(
            "ndc",
            K.IDENTIFIER,
            identifier="ndc",
            description="National Drug Code, 11 digits (5-4-2), for drugs in the item master.",
        ),
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
        MatchKey("ndc", ("ndc",)),
    ),
    source_priority=("ERP", "PROCUREMENT", "EHR"),
    matching=MatchSettings(
        comparisons=(
            GtinComparison("gtin"),
            ManufacturerPartComparison("manufacturer_part_number", "manufacturer_name"),
            IdentifierComparison("ndc", "ndc"),
            # Model and part numbers written in descriptions are also looked for in the
            # other record's catalog numbers and GTIN: records without identifiers (or
            # with different kinds of them) meet through what their texts name.
            DESCRIPTION,
            FuzzyTextComparison("manufacturer_name"),
            # The maker as a golden vendor, through the crosswalk. Its name is compared
            # above, so agreement adds little of its own (the two move together); makers
            # known to differ are other products unless a GTIN or catalog number says
            # otherwise (systems that file a distributor as the maker).
            ReferenceComparison(
                "manufacturer",
                parameters=((0.85, 0.1), (0.005, 0.001), (0.005, 0.001), (0.14, 0.898)),
            ),
            PriceComparison("price", "pack_quantity"),
        ),
        blocking=(
            ("gtin", exact_key("gtin")),
            ("ndc", exact_key("ndc")),
            ("gtin_family", gtin_family_key("gtin")),
            ("part_number", part_number_key("manufacturer_part_number")),
            ("description", description_tokens_key("description")),
            ("model_code", model_code_key("description", NUMBERS, "gtin")),
        ),
        # Another GTIN family, another catalog number or another size/sterility/latex is
        # another product. The same product at another packaging level (each, box, case)
        # keeps its GTIN family and catalog number, so pack quantity and UOM, which
        # differ between systems that buy and issue at different levels, are not compared.
        vetoes=(
            ("gtin", "different"),
            ("ndc", "different"),
            # Not "near" (a keystroke apart: a typo, or a sibling of the line): a steward
            # tells which. Its weight puts an otherwise agreeing pair in the review band.
            ("manufacturer_part", "different"),
            ("manufacturer_part", "exact_other_maker"),
            ("description", "features_conflict"),
            ("manufacturer", "different"),
        ),
        # An equal catalog number of one maker decides, unless the descriptions state
        # another size, pack count, sterility... (a typo in a catalog number must not
        # fold a size 7 into a size 4): the rule is spelled out per description level.
        decisive=(
            all_of(("gtin", "exact")),
            all_of(("ndc", "exact")),
            *(
                all_of(("manufacturer_part", "exact_same_maker"), ("description", level))
                for level in DESCRIPTION.levels
                if level != "features_conflict"
            ),
        ),
    ),
)
