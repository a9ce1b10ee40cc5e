"""Pure matching primitives for healthcare master data.

Identifier validation, text normalization and units of measure. This package
depends only on the standard library, rapidfuzz and numpy; callers import from
here, not from the modules inside.
"""

from __future__ import annotations

from matchers.identifiers import (
    IDENTIFIER_KINDS,
    IdentifierCheck,
    check_identifier,
    gtin_check_digit,
    gtin_family,
    gtin_indicator,
    hibc_check_character,
)
from matchers.junk import is_junk
from matchers.text import (
    AddressLine,
    ItemFeatures,
    OrganizationName,
    extract_item_features,
    fold,
    normalize_address_line,
    normalize_description,
    normalize_organization_name,
    normalize_phone,
    normalize_postal_code,
    parse_address_line,
    sorted_token_key,
    token_set,
)
from matchers.units import (
    CANONICAL_UOMS,
    CODE_LISTS,
    PackQuantity,
    find_pack,
    normalize_uom,
    parse_pack,
)

__all__ = [
    "CANONICAL_UOMS",
    "CODE_LISTS",
    "IDENTIFIER_KINDS",
    "AddressLine",
    "IdentifierCheck",
    "ItemFeatures",
    "OrganizationName",
    "PackQuantity",
    "check_identifier",
    "extract_item_features",
    "find_pack",
    "fold",
    "gtin_check_digit",
    "gtin_family",
    "gtin_indicator",
    "hibc_check_character",
    "is_junk",
    "normalize_address_line",
    "normalize_description",
    "normalize_organization_name",
    "normalize_phone",
    "normalize_postal_code",
    "normalize_uom",
    "parse_address_line",
    "parse_pack",
    "sorted_token_key",
    "token_set",
]
