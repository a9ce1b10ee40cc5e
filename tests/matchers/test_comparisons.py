from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest

from matchers import (
    AddressComparison,
    Comparison,
    DescriptionComparison,
    ExactComparison,
    FuzzyTextComparison,
    GtinComparison,
    IdentifierComparison,
    NumericComparison,
    OrganizationNameComparison,
    PartNumberComparison,
    PhoneComparison,
    PostalCodeComparison,
    part_number_stems,
)


def level_name(comparison: Comparison[Any], left: dict[str, Any], right: dict[str, Any]) -> str:
    found = comparison.level(comparison.prepare(left), comparison.prepare(right))
    return "missing" if found is None else comparison.levels[found]


@pytest.mark.parametrize(
    ("comparison", "left", "right", "expected"),
    [
        pytest.param(
            ExactComparison("uom"), {"uom": "bx"}, {"uom": "BX"}, "exact", id="exact-case"
        ),
        pytest.param(
            ExactComparison("uom"), {"uom": "BX"}, {"uom": "CS"}, "different", id="exact-diff"
        ),
        pytest.param(
            ExactComparison("uom"), {"uom": "N/A"}, {"uom": "CS"}, "missing", id="exact-junk"
        ),
        pytest.param(
            IdentifierComparison("tax_id", "ein"),
            {"tax_id": "41-2847561"},
            {"tax_id": "412847561"},
            "exact",
            id="ein-formats",
        ),
        pytest.param(
            IdentifierComparison("tax_id", "ein"),
            {"tax_id": "41-2847561"},
            {"tax_id": "41-2847562"},
            "different",
            id="ein-different",
        ),
        pytest.param(
            IdentifierComparison("tax_id", "ein"),
            {"tax_id": "00-2847561"},
            {"tax_id": "00-2847561"},
            "missing",
            id="ein-invalid-prefix",
        ),
        pytest.param(
            GtinComparison(),
            {"gtin": "036000291452"},
            {"gtin": "00036000291452"},
            "exact",
            id="gtin-padded",
        ),
        pytest.param(
            GtinComparison(),
            {"gtin": "10036000291459"},
            {"gtin": "036000291452"},
            "same_family",
            id="gtin-case-level",
        ),
        pytest.param(
            GtinComparison(),
            {"gtin": "8904000210037"},
            {"gtin": "036000291452"},
            "different",
            id="gtin-different",
        ),
        pytest.param(
            GtinComparison(),
            {"gtin": "036000291453"},
            {"gtin": "036000291453"},
            "missing",
            id="gtin-bad-check-digit",
        ),
        pytest.param(
            PartNumberComparison(),
            {"part_number": "AB-123.45"},
            {"part_number": "ab 12345"},
            "exact",
            id="part-punctuation",
        ),
        pytest.param(
            PartNumberComparison(),
            {"part_number": "N8830-L"},
            {"part_number": "N8830"},
            "suffix_removed",
            id="part-size-suffix",
        ),
        pytest.param(
            PartNumberComparison(),
            {"part_number": "N8830XL"},
            {"part_number": "N8830"},
            "suffix_removed",
            id="part-glued-size",
        ),
        pytest.param(
            PartNumberComparison(),
            {"part_number": "N8830-S"},
            {"part_number": "N8830-L"},
            "different",
            id="part-two-sizes",
        ),
        pytest.param(
            OrganizationNameComparison(),
            {"name": "Northwind Surgical Inc"},
            {"name": "NORTHWIND SURGICAL"},
            "exact",
            id="name-legal-suffix",
        ),
        pytest.param(
            OrganizationNameComparison(),
            {"name": "Acme Co", "dba_name": "Acme Medical"},
            {"name": "Acme Medical LLC"},
            "trade_name",
            id="name-dba",
        ),
        pytest.param(
            OrganizationNameComparison(),
            {"name": "Northwind Surgical"},
            {"name": "Northwind Surgicals"},
            "jaro_winkler_0.95",
            id="name-typo",
        ),
        pytest.param(
            OrganizationNameComparison(),
            {"name": "Surgical Northwind Supply"},
            {"name": "Northwind Surgical Supply Company"},
            "token_set_0.90",
            id="name-order",
        ),
        pytest.param(
            OrganizationNameComparison(),
            {"name": "X Health 200, LLC"},
            {"name": "X Health 414, LLC"},
            "sibling",
            id="name-numbered-subsidiary",
        ),
        pytest.param(
            DescriptionComparison(),
            {"description": "GLOVE EXAM NITRILE LG 100/BX"},
            {"description": "Glv Exam Nitr Large Box of 100"},
            "similar_0.9",
            id="desc-abbreviations",
        ),
        pytest.param(
            DescriptionComparison(),
            {"description": "GLOVE EXAM NITRILE LG 100/BX"},
            {"description": "GLOVE EXAM NITRILE MED 100/BX"},
            "features_conflict",
            id="desc-size",
        ),
        pytest.param(
            DescriptionComparison(),
            {"description": "GLOVE EXAM NITRILE LG 100/BX"},
            {"description": "GLOVE EXAM NITRILE LG 50/BX"},
            "features_conflict",
            id="desc-pack",
        ),
        pytest.param(
            DescriptionComparison(),
            {"description": "GAUZE SPONGE 4X4IN STRL"},
            {"description": "GAUZE SPONGE 4X4IN NON-STERILE"},
            "features_conflict",
            id="desc-sterile",
        ),
        pytest.param(
            DescriptionComparison(),
            {"description": "CATH FOLEY 14FR 10ML"},
            {"description": "CATH FOLEY 16FR 10ML"},
            "features_conflict",
            id="desc-french",
        ),
        pytest.param(
            AddressComparison(),
            {"address_line1": "1500 North Main Street", "address_line2": "Suite 200"},
            {"address_line1": "1500 N Main St Ste 200"},
            "exact",
            id="address-pub28",
        ),
        pytest.param(
            AddressComparison(),
            {"address_line1": "1500 N Main St", "address_line2": "Ste 200"},
            {"address_line1": "1500 N Main St", "address_line2": "Ste 310"},
            "other_unit",
            id="address-two-suites",
        ),
        pytest.param(
            AddressComparison(),
            {"address_line1": "1500 N Main St"},
            {"address_line1": "1500 N Main St", "address_line2": "Ste 310"},
            "same_street",
            id="address-unit-missing",
        ),
        pytest.param(
            AddressComparison(),
            {"address_line1": "1500 N Main St"},
            {"address_line1": "1502 N Main St"},
            "different",
            id="address-house-number",
        ),
        pytest.param(
            AddressComparison(),
            {"address_line1": "PO Box 1500"},
            {"address_line1": "1500 Box Rd"},
            "missing",  # a lockbox says nothing about a site, for or against
            id="address-po-box",
        ),
        pytest.param(
            PostalCodeComparison(),
            {"postal_code": "02139-1234"},
            {"postal_code": "2139"},
            "exact",
            id="postal-zip4",
        ),
        pytest.param(
            PostalCodeComparison(),
            {"postal_code": "02139"},
            {"postal_code": "02142"},
            "same_prefix",
            id="postal-prefix",
        ),
        pytest.param(
            PhoneComparison(),
            {"phone": "+1 (617) 555-0142"},
            {"phone": "617.555.0142 x12"},
            "exact",
            id="phone",
        ),
        pytest.param(NumericComparison("qty"), {"qty": 100}, {"qty": "100"}, "equal", id="num-eq"),
        pytest.param(NumericComparison("qty"), {"qty": 100}, {"qty": 104}, "within_5%", id="num-5"),
        pytest.param(
            NumericComparison("qty"), {"qty": 100}, {"qty": 50}, "different", id="num-diff"
        ),
        pytest.param(
            NumericComparison("qty"), {"qty": "n/a"}, {"qty": 50}, "missing", id="num-nan"
        ),
        pytest.param(
            FuzzyTextComparison("dept"),
            {"dept": "Cardiology"},
            {"dept": "CARDIOLOGY"},
            "exact",
            id="fuzzy-exact",
        ),
        pytest.param(
            FuzzyTextComparison("dept"),
            {"dept": "Radiology Lab"},
            {"dept": "Lab Radiology"},
            "similarity_0.95",
            id="fuzzy-order",
        ),
        pytest.param(
            FuzzyTextComparison("dept"),
            {"dept": "Cardiology"},
            {"dept": "Pharmacy"},
            "different",
            id="fuzzy-different",
        ),
    ],
)
def test_level(
    comparison: Comparison[Any], left: dict[str, Any], right: dict[str, Any], expected: str
) -> None:
    assert level_name(comparison, left, right) == expected
    assert level_name(comparison, right, left) == expected


def test_part_number_stems() -> None:
    assert part_number_stems("AB-123-100") == {"AB123"}
    assert part_number_stems("AB123") == frozenset()
    assert part_number_stems("A-1") == frozenset()  # stem too short to mean anything


def test_levels_and_parameters_align() -> None:
    for comparison in COMPARISONS:
        assert len(comparison.levels) == len(comparison.default_parameters) >= 2
        assert sum(m for m, _ in comparison.default_parameters) == pytest.approx(1.0)
        assert sum(u for _, u in comparison.default_parameters) == pytest.approx(1.0)


COMPARISONS: list[Comparison[Any]] = [
    ExactComparison("uom"),
    IdentifierComparison("tax_id", "ein"),
    GtinComparison(),
    PartNumberComparison(),
    OrganizationNameComparison(),
    DescriptionComparison(),
    AddressComparison(),
    PostalCodeComparison(),
    PhoneComparison(),
    NumericComparison("qty"),
    FuzzyTextComparison("name"),
]
VALUES = {
    "uom": ["BX", "bx", "CS", None, "N/A"],
    "tax_id": ["41-2847561", "412847561", "41-2847562", "00-1", None],
    "gtin": ["036000291452", "10036000291459", "8904000210037", "15201234000008", None],
    "part_number": ["N8830-L", "N8830", "N8830-S", "AB.123", "ab123", None],
    "name": ["X Health 200", "X Health 414", "Acme Co Inc", "ACME", "Northwind Surgicals", None],
    "dba_name": ["Acme Medical", None, None],
    "description": [
        "GLOVE EXAM NITRILE LG 100/BX",
        "Glv nitr exam large 100/bx",
        "GLOVE EXAM NITRILE MED",
        "GAUZE 4X4IN STRL",
        "gauze 4x4in",
        None,
    ],
    "address_line1": ["1500 N Main St", "1500 North Main Street", "PO Box 9", "12 Oak Ave", None],
    "address_line2": ["Ste 200", "Suite 310", None, None],
    "postal_code": ["02139", "02142", "94103", None],
    "phone": ["617-555-0142", "(617) 555 0142", "212-555-0100", None],
    "qty": [100, 104, 50, None, "x"],
}


def random_record(rng: random.Random) -> dict[str, Any]:
    return {key: rng.choice(values) for key, values in VALUES.items()}


@pytest.mark.parametrize("comparison", [pytest.param(c, id=c.name) for c in COMPARISONS])
def test_batch_levels_agree_with_level(comparison: Comparison[Any]) -> None:
    rng = random.Random(7)
    left = [random_record(rng) for _ in range(60)]
    right = [random_record(rng) for _ in range(40)]
    lf = [comparison.prepare(r) for r in left]
    rf = [comparison.prepare(r) for r in right]
    lc, rc = comparison.encode(lf, rf)
    li = np.array([rng.randrange(60) for _ in range(500)], dtype=np.intp)
    ri = np.array([rng.randrange(40) for _ in range(500)], dtype=np.intp)
    batch = comparison.batch_levels(lc, rc, li, ri)
    expected = [comparison.level(lf[i], rf[j]) for i, j in zip(li, ri, strict=True)]
    assert batch.tolist() == [-1 if e is None else e for e in expected]
    assert len(set(batch.tolist())) > 2  # the random records reach several levels


def test_invalid_configuration_is_rejected() -> None:
    with pytest.raises(ValueError):
        IdentifierComparison("x", "isbn")
    with pytest.raises(ValueError):
        NumericComparison("x", (0.1, 0.0))
    with pytest.raises(ValueError):
        FuzzyTextComparison("x", (0.8, 0.9))
