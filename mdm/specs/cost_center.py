"""Cost centers: the finance view of departments, per company."""

from __future__ import annotations

from matchers import (
    CodeComparison,
    ExactComparison,
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
        Attribute(
            "gl_segment",
            description="The general-ledger string the ERP posts to (company and account or "
            'department segments, e.g. "320.8020").',
        ),
        Attribute("department", description="The department the cost center belongs to."),
        Attribute("owner", description="The person or role responsible for it."),
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
            # One GL string is one cost center, whichever system books to it: strong
            # evidence (punctuation aside: "320.8020" is "320-8020"). Department and owner
            # repeat across cost centers: weak.
            ExactComparison("gl_segment", parameters=((0.9, 5e-5), (0.1, 0.99995))),
            ExactComparison("department", parameters=((0.7, 0.1), (0.3, 0.9))),
            ExactComparison("owner", parameters=((0.6, 0.05), (0.4, 0.95))),
        ),
        blocking=(
            ("code", exact_key("code")),
            ("gl_segment", exact_key("gl_segment")),
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
