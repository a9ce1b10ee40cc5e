"""Vendors: manufacturers, distributors and service suppliers."""

from __future__ import annotations

from matchers import (
    AddressComparison,
    CountryComparison,
    EmailComparison,
    IdentifierComparison,
    LocalityComparison,
    OrganizationNameComparison,
    PostalCodeComparison,
    SitePhoneComparison,
    exact_key,
    flagged_key,
    name_prefix_key,
    phonetic_key,
    postal_prefix_and_name_key,
    street_address_key,
    street_name_key,
    token_sort_key,
)
from mdm.specs.base import Attribute, EntitySpec, MatchKey, MatchSettings, Standardizer, all_of
from mdm.specs.base import AttributeKind as K

ADDRESS = AddressComparison("address_line1", unit_attribute="address_line2")

VENDOR = EntitySpec(
    name="vendor",
    graphql_name="Vendor",
    plural="vendors",
    id_prefix="VEN",
    display_attribute="name",
    description="A supplier or manufacturer: one golden vendor per real-world legal entity.",
    attributes=(
        Attribute("name", description="Legal name."),
        Attribute("dba_name", description="Doing-business-as (trade) name."),
        Attribute("tax_id", K.IDENTIFIER, identifier="ein", description="EIN, XX-XXXXXXX."),
        Attribute("duns", K.IDENTIFIER, identifier="duns", description="D-U-N-S number."),
        Attribute("gln", K.IDENTIFIER, identifier="gln", description="GS1 Global Location Number."),
        Attribute("vendor_type", K.CODE, description="MANUFACTURER, DISTRIBUTOR or SERVICE."),
        Attribute("address_line1", priority=("PROCUREMENT", "ERP", "EHR")),
        Attribute("address_line2", priority=("PROCUREMENT", "ERP", "EHR")),
        Attribute("city", priority=("PROCUREMENT", "ERP", "EHR")),
        Attribute(
            "state", K.CODE, standardizer=Standardizer.STATE, priority=("PROCUREMENT", "ERP", "EHR")
        ),
        Attribute(
            "postal_code",
            K.CODE,
            standardizer=Standardizer.POSTAL_CODE,
            priority=("PROCUREMENT", "ERP", "EHR"),
        ),
        Attribute(
            "country",
            K.CODE,
            standardizer=Standardizer.COUNTRY,
            priority=("PROCUREMENT", "ERP", "EHR"),
            description="ISO 3166-1 alpha-2 country code.",
        ),
        Attribute("phone", K.CODE, standardizer=Standardizer.PHONE),
        Attribute(
            "email",
            K.CODE,
            standardizer=Standardizer.EMAIL,
            description="Purchasing e-mail address, lower case.",
        ),
        Attribute("status", K.CODE),
        Attribute("parent", K.REFERENCE, reference="vendor", description="Parent company."),
    ),
    match_keys=(
        MatchKey("tax_id", ("tax_id",)),
        MatchKey("duns", ("duns",)),
        MatchKey("gln", ("gln",), unique=False),
    ),
    source_priority=("ERP", "PROCUREMENT", "EHR"),
    matching=MatchSettings(
        comparisons=(
            OrganizationNameComparison("name", trade_name_attribute="dba_name"),
            # A tax id or DUNS that fails its check (a sole proprietor's SSN, a foreign id)
            # still counts when both records carry it, moderately and never decisively.
            # Neither has a check digit: one a keystroke from the other is "near".
            IdentifierComparison("tax_id", "ein", flagged=True, near=True),
            IdentifierComparison("duns", "duns", flagged=True, near=True),
            ADDRESS,
            LocalityComparison("city", state_attribute="state", address_attribute="address_line1"),
            PostalCodeComparison("postal_code", address_attribute="address_line1"),
            SitePhoneComparison("phone", address=ADDRESS),
            # The same address is moderate evidence; a shared company domain weak; a
            # shared gmail.com none.
            EmailComparison("email"),
            # Another country is strong evidence against (a remit-to site abroad is rare),
            # not a veto.
            CountryComparison("country"),
        ),
        blocking=(
            ("tax_id", exact_key("tax_id")),
            ("tax_id_flagged", exact_key(flagged_key("tax_id"))),
            ("duns", exact_key("duns")),
            ("name_prefix", name_prefix_key("name", 6)),
            ("name_tokens", token_sort_key("name")),
            ("name_sound", phonetic_key("name")),
            ("postal_name", postal_prefix_and_name_key("postal_code", "name")),
            ("phone", exact_key("phone")),
            ("email", exact_key("email")),
            ("street", street_address_key("address_line1", "postal_code")),
            ("street_name", street_name_key("address_line1", "postal_code")),
        ),
        # One legal entity, one tax id; DUNS and GLN identify sites, so they may differ.
        # Numbered and regional subsidiaries ("X Health 200", "X Health of Alabama") and
        # outlets of one family ("Ritz-Carlton Cafe" / "Ritz-Carlton Dining Room") are
        # other legal entities, often at one address: without an equal tax id a steward
        # decides. A flagged tax id is never decisive (it is unchecked).
        vetoes=(("tax_id", "different"), ("name", "sibling")),
        decisive=(all_of(("tax_id", "exact")),),
        # A tax id a keystroke from the other (303982847 / 303902847) is a typo as often as
        # another entity: never proof of difference, never a merge. With the name and the
        # address agreeing, a steward sees the pair; with little else, it stays apart.
        doubts=(("tax_id", "near"),),
    ),
)
