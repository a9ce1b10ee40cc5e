"""Locations: health system, facilities, departments, storerooms and par locations."""

from __future__ import annotations

from matchers import (
    AddressComparison,
    CodeComparison,
    IdentifierComparison,
    PostalCodeComparison,
    ReferenceComparison,
    UnitNameComparison,
    exact_key,
    house_number_key,
    name_prefix_key,
    postal_prefix_and_name_key,
    street_address_key,
    token_sort_key,
    unit_name_key,
)
from mdm.specs.base import Attribute, EntitySpec, MatchKey, MatchSettings, Standardizer, all_of
from mdm.specs.base import AttributeKind as K

LOCATION = EntitySpec(
    name="location",
    graphql_name="Location",
    plural="locations",
    id_prefix="LOC",
    display_attribute="name",
    description="A place of the network: facility, department, storeroom or par location.",
    attributes=(
        Attribute("code", K.CODE, description="The location's code in its system."),
        Attribute("name"),
        Attribute(
            "location_type",
            K.CODE,
            description="SYSTEM, FACILITY, DEPARTMENT, ...",
            code_set="location_type",
        ),
        Attribute("parent", K.REFERENCE, reference="location"),
        Attribute("address_line1"),
        Attribute("address_line2"),
        Attribute("city"),
        Attribute("state", K.CODE, standardizer=Standardizer.STATE),
        Attribute("postal_code", K.CODE, standardizer=Standardizer.POSTAL_CODE),
        Attribute("gln", K.IDENTIFIER, identifier="gln"),
        Attribute("npi", K.IDENTIFIER, identifier="npi", description="Type-2 NPI."),
        Attribute("hin", K.IDENTIFIER, identifier="hin", description="HIBCC HIN."),
        Attribute("cost_center", K.REFERENCE, reference="cost_center"),
        Attribute("status", K.CODE),
    ),
    match_keys=(
        MatchKey("gln", ("gln",)),
        MatchKey("npi", ("npi",)),
    ),
    source_priority=("EHR", "ERP", "PROCUREMENT"),
    matching=MatchSettings(
        comparisons=(
            IdentifierComparison("gln", "gln"),
            IdentifierComparison("npi", "npi"),
            # With the street line: two names of one site at one street address (an
            # agency's name before the site's) are evidence ("same_site"), not a veto.
            UnitNameComparison("name", address_attribute="address_line1"),
            # Here the records are the units themselves (two clinics of one building are
            # two places): another unit is weak evidence against, and vetoed below.
            AddressComparison(
                "address_line1",
                unit_attribute="address_line2",
                parameters=(
                    (0.75, 1e-4),
                    (0.10, 0.002),
                    (0.02, 0.03),
                    (0.05, 0.003),
                    (0.08, 0.9649),
                ),  # fmt: skip
                is_free_text_unit_weak=False,
            ),
            PostalCodeComparison("postal_code"),
            CodeComparison("location_type"),
            ReferenceComparison("parent"),
            # The cost center a department is charged to: the same one in two systems is
            # the same department (matched once cost centers are in: see reevaluation).
            ReferenceComparison("cost_center"),
        ),
        blocking=(
            ("gln", exact_key("gln")),
            ("npi", exact_key("npi")),
            ("name_prefix", name_prefix_key("name", 6)),
            ("name_tokens", token_sort_key("name")),
            ("postal_name", postal_prefix_and_name_key("postal_code", "name")),
            ("street", street_address_key("address_line1", "postal_code")),
            # One street address without a postal code, or with the suffix left out.
            ("house_number", house_number_key("address_line1")),
            ("unit_name", unit_name_key("name", "postal_code")),
        ),
        # Departments of one hospital share its address (and often its NPI and GLN): the
        # name and the type tell them apart, so an identifier is decisive only with the
        # type. A place has one street address: another building is another place. A
        # department has one parent: under two parents known to differ (two hospitals'
        # EDs) it is two departments, however alike the names.
        vetoes=(
            ("parent", "different"),
            ("gln", "different"),
            ("npi", "different"),
            ("location_type", "different"),
            ("name", "different"),
            ("name", "conflict"),
            ("address_line1", "other_unit"),
            ("address_line1", "different"),
        ),
        decisive=(
            all_of(("gln", "exact"), ("location_type", "exact")),
            all_of(("npi", "exact"), ("location_type", "exact"), ("name", "exact")),
            # One parent, one cost center, one type: one department, even when the two
            # systems name it so that the vocabulary cannot tell ("EC" / "ED").
            all_of(
                ("parent", "same"),
                ("cost_center", "same"),
                ("location_type", "exact"),
                ("name", "different"),
            ),
            # Name, address, type and cost center agree although the parents differ (a
            # department the systems file under different parents): accepted, and the
            # parent conflict is listed with the decision.
            all_of(
                ("cost_center", "same"),
                ("name", "exact"),
                ("location_type", "exact"),
                ("address_line1", "exact"),
            ),
            # A unit's name is unique among its parent's units of its kind: the same name
            # and type under the same parent is one unit, however common the name
            # ("Pediatrics 2" under two hospitals is two units, under one it is one),
            # unless an identifier, the street address or the cost center says otherwise.
            all_of(
                ("parent", "same"),
                ("name", "exact"),
                ("location_type", "exact"),
                ("cost_center", "not:different"),
                ("gln", "not:different"),
                ("npi", "not:different"),
                ("address_line1", "not:different"),
                ("address_line1", "not:other_unit"),
            ),
            # So is the same name and type charged to the same cost center (a system
            # that does not file the unit under its parent).
            all_of(
                ("cost_center", "same"),
                ("name", "exact"),
                ("location_type", "exact"),
                ("parent", "not:different"),
                ("gln", "not:different"),
                ("npi", "not:different"),
                ("address_line1", "not:different"),
                ("address_line1", "not:other_unit"),
            ),
        ),
        # A department may share no key with its match (no address, another spelling):
        # the other departments of its facility are candidates.
        sibling_candidates=True,
    ),
)
