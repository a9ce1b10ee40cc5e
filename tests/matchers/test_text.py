from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from matchers import (
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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Johnson & Johnson", "JOHNSON AND JOHNSON", id="ampersand"),
        pytest.param("Médical Société", "MEDICAL SOCIETE", id="accents"),
        pytest.param("  a.b-c/d  ", "A B C D", id="punctuation"),
        pytest.param("Children's", "CHILDRENS", id="apostrophe-dropped"),
        pytest.param("Øresund", "ORESUND", id="o-slash"),
        pytest.param("", "", id="empty"),
    ],
)
def test_fold(text: str, expected: str) -> None:
    assert fold(text) == expected


@given(st.text(max_size=40))
def test_fold_is_idempotent_ascii_words(text: str) -> None:
    folded = fold(text)
    assert fold(folded) == folded
    assert all(token.isascii() and token.isalnum() for token in folded.split())


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param(
            "The Acme Co., Inc. d/b/a Acme Medical",
            OrganizationName("ACME", ("ACME MEDICAL",), ("CO", "INC")),
            id="the-co-inc-dba",
        ),
        pytest.param(
            "Smith & Co", OrganizationName("SMITH", (), ("CO",)), id="dangling-and-dropped"
        ),
        pytest.param(
            "X Health 200, LLC",
            OrganizationName("X HEALTH 200", (), ("LLC",)),
            id="numbered-subsidiary-kept",
        ),
        pytest.param(
            "Medline Industries, L.P.",
            OrganizationName("MEDLINE INDUSTRIES", (), ("LP",)),
            id="dotted-initials",
        ),
        pytest.param(
            "Acme Surgical Corporation DOING BUSINESS AS Acme Ortho T/A AcmeCo",
            OrganizationName("ACME SURGICAL", ("ACME ORTHO", "ACMECO"), ("CORP",)),
            id="two-trade-names",
        ),
        pytest.param(
            "Northwind Ltd. FKA Southwind Limited",
            OrganizationName("NORTHWIND", ("SOUTHWIND",), ("LTD",)),
            id="fka",
        ),
        pytest.param(
            "Rivera Medical Group PLLC aka Rivera MG",
            OrganizationName("RIVERA MEDICAL GROUP", ("RIVERA MG",), ("PLLC",)),
            id="aka",
        ),
        pytest.param("Company Inc", OrganizationName("COMPANY", (), ("INC",)), id="never-empty"),
        pytest.param(
            "Bradbury Products", OrganizationName("BRADBURY PRODUCTS", (), ()), id="no-dba-inside"
        ),
    ],
)
def test_normalize_organization_name(name: str, expected: OrganizationName) -> None:
    assert normalize_organization_name(name) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param(
            "1500 North Main Street Suite 200",
            AddressLine("1500 N MAIN ST", "STE 200", False),
            id="domain-example",
        ),
        pytest.param("P.O. Box 1234", AddressLine("PO BOX 1234", None, True), id="po-box"),
        pytest.param(
            "Post Office Box 77", AddressLine("PO BOX 77", None, True), id="post-office-box"
        ),
        pytest.param("POB 9", AddressLine("PO BOX 9", None, True), id="pob"),
        pytest.param("Lock Box 9989", AddressLine("LOCKBOX 9989", None, True), id="lockbox"),
        pytest.param("100 North St.", AddressLine("100 NORTH ST", None, False), id="north-is-name"),
        pytest.param(
            "123 Main St., Apt. 4B", AddressLine("123 MAIN ST", "APT 4B", False), id="apartment"
        ),
        pytest.param(
            "1 Court Street 2nd Floor", AddressLine("1 COURT ST", "FL 2", False), id="floor"
        ),
        pytest.param(
            "500 W. 5th Avenue #12", AddressLine("500 W 5TH AVE", "# 12", False), id="hash"
        ),
        pytest.param("Suite 300", AddressLine("", "STE 300", False), id="unit-only"),
        pytest.param(
            "1 Building Way", AddressLine("1 BUILDING WAY", None, False), id="building-as-name"
        ),
        pytest.param(
            "200 Medical Center Drive Building 4 Room 12",
            AddressLine("200 MEDICAL CENTER DR", "BLDG 4 RM 12", False),
            id="building-room",
        ),
        pytest.param(
            "7 Harbor Pkwy South", AddressLine("7 HARBOR PKWY S", None, False), id="post-dir"
        ),
    ],
)
def test_parse_address_line(line: str, expected: AddressLine) -> None:
    found = parse_address_line(line)
    assert (found.primary, found.unit, found.is_po_box) == (
        expected.primary,
        expected.unit,
        expected.is_po_box,
    )


def test_normalize_address_line_domain_example() -> None:
    assert normalize_address_line("1500 North Main Street Suite 200") == "1500 N MAIN ST STE 200"
    assert normalize_address_line("1500 N. Main St., Ste. 200") == "1500 N MAIN ST STE 200"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("02139-1234", "02139", id="zip-plus-4"),
        pytest.param("02139", "02139", id="zip5"),
        pytest.param("2139", "02139", id="lost-leading-zero"),
        pytest.param("501", "00501", id="lost-two-zeros"),
        pytest.param("2139-1234", "02139", id="zip-plus-4-lost-zero"),
        pytest.param("021391234", "02139", id="zip9"),
        pytest.param("12345-6789", "12345", id="sequence-is-fine-here"),
        pytest.param("K1A 0B1", "K1A0B1", id="canada"),
        pytest.param("k1a0b1", "K1A0B1", id="canada-lower"),
        pytest.param("00000", None, id="zeros"),
        pytest.param("N/A", None, id="junk"),
        pytest.param("123456", None, id="six-digits"),
        pytest.param("D1A 0B1", None, id="canada-bad-letter"),
        pytest.param("", None, id="empty"),
    ],
)
def test_normalize_postal_code(value: str, expected: str | None) -> None:
    assert normalize_postal_code(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("(617) 555-0142", "6175550142", id="us"),
        pytest.param("+1 617 555 0142", "6175550142", id="plus-one"),
        pytest.param("1-617-555-0142", "6175550142", id="leading-one"),
        pytest.param("617.555.0142 ext. 12", "6175550142", id="ext"),
        pytest.param("617-555-0142 x4", "6175550142", id="x-ext"),
        pytest.param("+44 20 7946 0958", "+442079460958", id="uk"),
        pytest.param("0044 20 7946 0958", "+442079460958", id="uk-00"),
        pytest.param("+49 30 901820", "+4930901820", id="germany"),
        pytest.param("+44 20 7946", None, id="uk-too-short"),
        pytest.param("020 7946 0958", None, id="no-country-code"),
        pytest.param("001 617 555 0142", "6175550142", id="nanp-00"),
        pytest.param("1-800-FLOWERS", None, id="vanity"),
        pytest.param("(000) 000-0000", None, id="zeros"),
        pytest.param("017-555-0142", None, id="area-code-0"),
        pytest.param("617-155-0142", None, id="exchange-1"),
        pytest.param("555-0142", None, id="seven-digits"),
    ],
)
def test_normalize_phone(value: str, expected: str | None) -> None:
    assert normalize_phone(value) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "Glv Exam Nitr PF LG 100/bx",
            "GLOVE EXAM NITRILE POWDER FREE LARGE 100/BX",
            id="glove",
        ),
        pytest.param(
            "CATH FOLEY 14 Fr 10cc STRL", "CATHETER FOLEY 14FR 10ML STERILE", id="catheter"
        ),
        pytest.param('NDL HYPO 22G 1 1/2"', "NEEDLE HYPO 22GA 1.5IN", id="needle-gauge"),
        pytest.param("Ointment 30G tube", "OINTMENT 30G TUBE", id="grams-not-gauge"),
        pytest.param(
            "Glove exam vinyl L non-sterile box of 100",
            "GLOVE EXAM VINYL LARGE NONSTERILE 100/BX",
            id="box-of",
        ),
        pytest.param("GZ SPNG 4x4 in NS", "GAUZE SPONGE 4X4IN NONSTERILE", id="ns-nonsterile"),
        pytest.param(
            "Saline flush NS 10 mL syr",
            "SALINE FLUSH NORMAL SALINE 10ML SYRINGE",
            id="ns-saline-context",
        ),
        pytest.param("IV INF SET W/O NDL", "IV INFUSION SET WITHOUT NEEDLE", id="infusion"),
        pytest.param("DRSG W/ADHESIVE", "DRESSING WITH ADHESIVE", id="with"),
        pytest.param("Glove SZ M", "GLOVE SIZE MEDIUM", id="size-letter"),
        pytest.param("Bag 1 L", "BAG 1L", id="liter-not-large"),
        pytest.param("Gown XL asst", "GOWN XLARGE ASSORTED", id="xl"),
    ],
)
def test_normalize_description(text: str, expected: str) -> None:
    assert normalize_description(text) == expected


def test_description_reads_abbreviations_in_pharmacy_context() -> None:
    assert normalize_description("Heparin PF inj NS") == "HEPARIN POWDER FREE INJ NONSTERILE"
    assert normalize_description("Heparin PF inj NS", unspsc="51101500") == (
        "HEPARIN PRESERVATIVE FREE INJECTION NORMAL SALINE"
    )


@given(st.text(alphabet="ABCGLNPSXYZ0123456789 /.-", max_size=30))
def test_normalize_description_is_idempotent(text: str) -> None:
    once = normalize_description(text)
    assert normalize_description(once) == once


_NO_FEATURES = ItemFeatures(None, None, None, None, None, None, None, None, None, None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "GLOVE EXAM NITRILE PF LG 100/BX",
            ItemFeatures("LARGE", None, None, None, None, None, None, True, None, None),
            id="glove",
        ),
        pytest.param(
            "Glove surg latex pwd sz 7 1/2 sterile",
            ItemFeatures("7.5", None, None, None, None, True, False, False, None, None),
            id="numeric-size",
        ),
        pytest.param(
            "CATH FOLEY 14FR 10 CC LF PED",
            ItemFeatures(None, "14", None, 10.0, None, None, True, None, None, "PEDIATRIC"),
            id="catheter",
        ),
        pytest.param(
            "Needle safety 22GA x 1in",
            ItemFeatures(None, None, "22", None, 25.4, None, None, None, None, None),
            id="needle",
        ),
        pytest.param(
            "Gauze sponge 4x4in non-sterile",
            ItemFeatures(None, None, None, None, 101.6, False, None, None, None, None),
            id="gauze-dimensions",
        ),
        pytest.param(
            "Saline NS 1 L bag",
            ItemFeatures(None, None, None, 1000.0, None, None, None, None, None, None),
            id="ns-saline-is-not-nonsterile",
        ),
        pytest.param(
            "Knee brace RIGHT adult 10CM",
            ItemFeatures(None, None, None, None, 100.0, None, None, None, "RIGHT", "ADULT"),
            id="laterality",
        ),
        pytest.param("Glove exam SM/MED/LG asst", _NO_FEATURES, id="several-sizes-are-no-evidence"),
        pytest.param("Tape, surgical", _NO_FEATURES, id="nothing"),
    ],
)
def test_extract_item_features(text: str, expected: ItemFeatures) -> None:
    assert extract_item_features(text) == expected


@pytest.mark.parametrize(
    ("left", "right", "field"),
    [
        pytest.param("GLOVE NITRILE MED", "GLOVE NITRILE LG", "size", id="size"),
        pytest.param("CATH FOLEY 14FR", "CATH FOLEY 16 FR", "french", id="french"),
        pytest.param("NDL 22G", "NDL 25G", "gauge", id="gauge"),
        pytest.param("SYR 10ML", "SYR 5 ML", "volume_ml", id="volume"),
        pytest.param("GZ STRL", "GZ NS", "sterile", id="sterile"),
        pytest.param("GLV LTX", "GLV LF", "latex_free", id="latex"),
        pytest.param("GLV PWD", "GLV PF", "powder_free", id="powder"),
        pytest.param("BRACE LEFT", "BRACE RIGHT", "laterality", id="laterality"),
        pytest.param("MASK ADLT", "MASK PED", "patient_size", id="patient-size"),
    ],
)
def test_features_tell_hard_negatives_apart(left: str, right: str, field: str) -> None:
    a, b = extract_item_features(left), extract_item_features(right)
    assert getattr(a, field) is not None
    assert getattr(b, field) is not None
    assert getattr(a, field) != getattr(b, field)


def test_equivalent_volumes_agree() -> None:
    assert extract_item_features("10 cc").volume_ml == extract_item_features("10ML").volume_ml


def test_token_set_and_sorted_key() -> None:
    assert token_set("Glove, nitrile 7.5 100/BX glove") == frozenset(
        {"GLOVE", "NITRILE", "7.5", "100/BX"}
    )
    assert (
        sorted_token_key("nitrile glove") == sorted_token_key("GLOVE  Nitrile") == "GLOVE NITRILE"
    )
    assert sorted_token_key("") == ""
