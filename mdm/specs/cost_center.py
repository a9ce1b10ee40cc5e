"""Cost centers: the finance view of departments, per company."""

from __future__ import annotations

from matchers import (
    CodeComparison,
    IdentifierComparison,
    ReferenceComparison,
    UnitNameComparison,
    exact_key,
    token_sort_key,
    unit_name_key,
)
from mdm.specs.base import Attribute, EntitySpec, MatchKey, MatchSettings, all_of
from mdm.specs.base import AttributeKind as K

COST_CENTER = EntitySpec(
    name="cost_center",
    graphql_name="CostCenter",
    plural="costCenters",
    id_prefix="CCT",
    display_attribute="name",
    description="A cost center; its code is unique only within its company.",
    attributes=(
        Attribute("code", K.IDENTIFIER, identifier="code"),
        Attribute("name"),
        Attribute(
            "company", K.CODE, description="Company (legal entity) code.", code_set="company"
        ),
        Attribute("location", K.REFERENCE, reference="location"),
        Attribute("status", K.CODE),
    ),
    match_keys=(MatchKey("company_code", ("company", "code")),),
    source_priority=("ERP", "PROCUREMENT", "EHR"),
    matching=MatchSettings(
        comparisons=(
            CodeComparison("company"),
            # A code repeats in every company: alone it is a hint, not an identifier.
            IdentifierComparison("code", "code", parameters=((0.95, 0.01), (0.05, 0.99))),
            UnitNameComparison("name"),
            ReferenceComparison("location"),
        ),
        blocking=(
            ("code", exact_key("code")),
            ("name_tokens", token_sort_key("name")),
            ("unit_name", unit_name_key("name", None)),
        ),
        # A cost-center code is unique only within its company. A company known only
        # through a learned correspondence (or its name) decides with the code only when
        # the name or the location agrees too: learned evidence never decides alone.
        vetoes=(("company", "different"), ("code", "different")),
        decisive=(
            all_of(("company", "exact"), ("code", "exact")),
            all_of(("company", "learned"), ("code", "exact"), ("name", "exact")),
            all_of(("company", "learned"), ("code", "exact"), ("name", "similarity_0.95")),
            all_of(("company", "learned"), ("code", "exact"), ("location", "same")),
        ),
    ),
)
