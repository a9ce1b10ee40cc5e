"""Vendor evidence: names (trade names, subsidiaries), addresses, localities, phones at one
site, and identifiers that failed their check; the one-pair and the batch paths agree."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matchers import (
    AddressComparison,
    Comparison,
    IdentifierComparison,
    LocalityComparison,
    OrganizationNameComparison,
    SitePhoneComparison,
    flagged_form,
    flagged_key,
    parse_address_line,
    street_name_key,
)


def level_name(comparison: Comparison[Any], left: dict[str, Any], right: dict[str, Any]) -> str:
    found = comparison.level(comparison.prepare(left), comparison.prepare(right))
    return "missing" if found is None else comparison.levels[found]


NAME = OrganizationNameComparison()
ADDRESS = AddressComparison()
LOCALITY = LocalityComparison(address_attribute="address_line1")
TAX_ID = IdentifierComparison("tax_id", "ein", flagged=True)
PHONE = SitePhoneComparison("phone", address=ADDRESS)


def _address(line1: str, line2: str | None = None) -> dict[str, Any]:
    return {"address_line1": line1, "address_line2": line2}


@pytest.mark.parametrize(
    ("comparison", "left", "right", "expected"),
    [
        # Names: a trade name embedded in the name, or in its own attribute, agrees either
        # way; subsidiaries and outlets of one family are told apart.
        pytest.param(
            NAME,
            {"name": "TITAN SCI LLC dba PRECIFORM MEDICAL"},
            {"name": "Preciform Medical"},
            "trade_name",
            id="name-dba-embedded",
        ),
        pytest.param(
            NAME,
            {"name": "Titan Sci LLC t/a Preciform Medical"},
            {"name": "Preciform Medcal Inc"},
            "jaro_winkler_0.95",
            id="name-trade-name-mistyped",
        ),
        pytest.param(
            NAME,
            {"name": "Titan Scientific", "dba_name": "Preciform Medical"},
            {"name": "PRECIFORM MEDICAL, LLC"},
            "trade_name",
            id="name-dba-attribute",
        ),
        pytest.param(
            NAME,
            {"name": "Acme Health of Alabama"},
            {"name": "Acme Health"},
            "sibling",
            id="name-regional-qualifier",
        ),  # fmt: skip
        pytest.param(
            NAME,
            {"name": "Acme Health Texas, Inc."},
            {"name": "Acme Health Inc"},
            "sibling",
            id="name-state-name",
        ),  # fmt: skip
        pytest.param(
            NAME,
            {"name": "X Health 200 L.P."},
            {"name": "X Health"},
            "sibling",
            id="name-number-one-side",
        ),  # fmt: skip
        pytest.param(
            NAME,
            {"name": "Glenmore Hlth Holdings Inc"},
            {"name": "Glenmore Health 986, LLC"},
            "sibling",
            id="name-numbered-subsidiary-of-holding",
        ),  # fmt: skip
        pytest.param(
            NAME,
            {"name": "Ritz-Carlton Cafe"},
            {"name": "Ritz-Carlton Dining Room"},
            "sibling",
            id="name-two-outlets",
        ),  # fmt: skip
        pytest.param(
            NAME,
            {"name": "cafe ritz-carlton buckhead"},
            {"name": "ritz-carlton cafe (buckhead)"},
            "token_set_0.90",
            id="name-word-order",
        ),  # fmt: skip
        pytest.param(
            NAME,
            {"name": "Yarrow Labs"},
            {"name": "Yarrow Laboratories Inc"},
            "token_set_0.90",
            id="name-abbreviation",
        ),  # fmt: skip
        pytest.param(
            NAME,
            {"name": "Acme Medical"},
            {"name": "Acme Surgical"},
            "shares_word",
            id="name-shares-a-word",
        ),  # fmt: skip
        pytest.param(
            NAME, {"name": "Becton Dickinson"}, {"name": "BD"}, "shares_word", id="name-initials"
        ),
        pytest.param(
            NAME,
            {"name": "Palace Court"},
            {"name": "Cafe Roma"},
            "different",
            id="name-nothing-in-common",
        ),  # fmt: skip
        # Addresses: ordinal words, notes, missing suffixes, glued suffixes, second lines.
        pytest.param(
            ADDRESS,
            _address("747 9th ave."),
            _address("747 ninth ave."),
            "exact",
            id="address-ordinal-word",
        ),  # fmt: skip
        pytest.param(
            ADDRESS,
            _address("747 9th ave. between 50th and 51st sts."),
            _address("747 Ninth Avenue"),
            "exact",
            id="address-cross-streets",
        ),
        pytest.param(
            ADDRESS,
            _address("2653 W Ogden Ave"),
            _address("2653 W. Ogden"),
            "similar_street",
            id="address-missing-suffix",
        ),  # fmt: skip
        pytest.param(
            ADDRESS,
            _address("3000 W. Paradise Rd."),
            _address("3000 Paradise Road"),
            "similar_street",
            id="address-missing-directional",
        ),  # fmt: skip
        pytest.param(
            ADDRESS,
            _address("177 pridhamstreet"),
            _address("177 Pridham Street"),
            "similar_street",
            id="address-glued-suffix",
        ),  # fmt: skip
        pytest.param(
            ADDRESS,
            _address("2 lambrigg street", "craigie ela garden"),
            _address("2 lambrigg street", "craigie lm agarden"),
            "same_street",
            id="address-line2-typo",
        ),
        pytest.param(
            ADDRESS,
            _address("2 lambrigg treet", "craigie ela garden"),
            _address("2 lambrigg street", "craigie lm agarden"),
            "similar_street",
            id="address-line1-and-line2-typos",
        ),
        pytest.param(
            ADDRESS,
            _address("80 Chaseling Street", "Kincumber Village"),
            _address("80 Kincumber Village", "Chaseling Street"),
            "similar_street",
            id="address-lines-swapped",
        ),
        pytest.param(
            ADDRESS,
            _address("Mercy Medical Plaza", "1500 N Main St"),
            _address("1500 North Main Street"),
            "same_street",
            id="address-street-on-line2",
        ),
        pytest.param(
            ADDRESS,
            _address("1 Maple St"),
            _address("1 Maple Ave"),
            "different",
            id="address-other-suffix",
        ),  # fmt: skip
        pytest.param(
            ADDRESS,
            _address("1 N Main St"),
            _address("1 S Main St"),
            "different",
            id="address-other-directional",
        ),  # fmt: skip
        pytest.param(
            ADDRESS,
            _address("15 Main St"),
            _address("51 Main St"),
            "different",
            id="address-other-number",
        ),  # fmt: skip
        pytest.param(
            ADDRESS, _address("PO Box 51"), _address("51 Main St"), "missing", id="address-po-box"
        ),
        # City and state: weak evidence; a lockbox's city is the bank's.
        pytest.param(
            LOCALITY,
            {"city": "New York"},
            {"city": "New York City"},
            "similar",
            id="city-longer",
        ),  # fmt: skip
        pytest.param(
            LOCALITY,
            {"city": "St. Paul", "state": "MN"},
            {"city": "Saint Paul", "state": "Minnesota"},
            "exact",
            id="city-abbreviation-state-name",
        ),
        pytest.param(
            LOCALITY,
            {"city": "Portland", "state": "OR"},
            {"city": "Portland", "state": "ME"},
            "other_state",
            id="city-other-state",
        ),
        pytest.param(
            LOCALITY,
            {"city": "Boston", "state": "MA"},
            {"city": "Cambridge", "state": "MA"},
            "other_city",
            id="city-other-city",
        ),
        pytest.param(
            LOCALITY,
            {"city": "Boston", "address_line1": "PO Box 12"},
            {"city": "Cambridge", "address_line1": "1 Main St"},
            "missing",
            id="city-of-a-lockbox",
        ),
        # Identifiers that failed their check: moderate evidence when equal, else nothing.
        pytest.param(
            TAX_ID,
            {"tax_id": "1804974"},
            {"tax_id": "180-4974"},
            "flagged_exact",
            id="flagged-equal",
        ),  # fmt: skip
        pytest.param(
            TAX_ID,
            {flagged_key("tax_id"): "1804974"},
            {"tax_id": "1804974"},
            "flagged_exact",
            id="flagged-standardized",
        ),  # fmt: skip
        pytest.param(
            TAX_ID,
            {"tax_id": "1804974"},
            {"tax_id": "1804975"},
            "missing",
            id="flagged-different-never-a-veto",
        ),  # fmt: skip
        pytest.param(
            TAX_ID,
            {"tax_id": "41-2847561"},
            {"tax_id": "4128475"},
            "missing",
            id="valid-against-flagged",
        ),  # fmt: skip
        pytest.param(
            TAX_ID, {"tax_id": "41-2847561"}, {"tax_id": "412847561"}, "exact", id="valid-equal"
        ),
        pytest.param(
            TAX_ID,
            {"tax_id": "41-2847561"},
            {"tax_id": "41-2847562"},
            "different",
            id="valid-different",
        ),  # fmt: skip
        pytest.param(
            TAX_ID, {"tax_id": "123"}, {"tax_id": "123"}, "missing", id="flagged-too-short"
        ),
        pytest.param(
            IdentifierComparison("tax_id", "ein"),
            {"tax_id": "1804974"},
            {"tax_id": "1804974"},
            "missing",
            id="flagged-not-asked-for",
        ),  # fmt: skip
        # A phone shared at one street address is the site's switchboard.
        pytest.param(
            PHONE,
            {"phone": "702/731-7547", **_address("3570 Las Vegas Blvd S")},
            {"phone": "702-731-7547", **_address("3570 las vegas blvd. s.")},
            "missing",
            id="phone-at-one-site",
        ),
        pytest.param(
            PHONE,
            {"phone": "310/652-4025", **_address("1114 Horn Ave")},
            {"phone": "310-652-4025", **_address("8795 Sunset Blvd")},
            "exact",
            id="phone-at-two-sites",
        ),
        pytest.param(
            PHONE,
            {"phone": "702/731-7547", **_address("3570 Las Vegas Blvd S")},
            {"phone": "702-731-7000", **_address("3570 Las Vegas Blvd S")},
            "different",
            id="phone-different-at-one-site",
        ),
    ],
)
def test_level(
    comparison: Comparison[Any], left: dict[str, Any], right: dict[str, Any], expected: str
) -> None:
    assert level_name(comparison, left, right) == expected
    assert level_name(comparison, right, left) == expected


def test_flagged_form_keeps_what_tells_records_apart() -> None:
    assert flagged_form("180-4974") == "1804974"
    assert flagged_form("de 123.456.789") == "DE123456789"
    assert flagged_form("1234") is None  # too short to be specific
    assert flagged_form("1111111") is None  # one character repeated


def test_parse_address_line_parts() -> None:
    found = parse_address_line("747 Ninth Ave. between 50th and 51st Sts.")
    assert (found.number, found.name, found.suffix, found.note) == (
        "747",
        "9TH",
        "AVE",
        "BETWEEN 50TH AND 51ST STS",
    )
    assert parse_address_line("Twenty First Street").primary == "21ST ST"
    assert parse_address_line("2653 W Ogden Ave").directionals == ("W", None)
    assert parse_address_line("3570 Las Vegas Blvd S").directionals == (None, "S")


def test_street_name_key_meets_one_street_whatever_its_numbers() -> None:
    key = street_name_key()
    left = key({"address_line1": "17 Blameycrescent", "postal_code": "4211"})
    right = key({"address_line1": "43 Blamey Crescent", "postal_code": "4211"})
    assert left == right == {"04211|BLAME"}
    assert key({"address_line1": "PO Box 9", "postal_code": "4211"}) == set()


def test_defaults_sum_to_one() -> None:
    for comparison in (NAME, ADDRESS, LOCALITY, TAX_ID, PHONE):
        assert sum(m for m, _ in comparison.default_parameters) == pytest.approx(1.0)
        assert sum(u for _, u in comparison.default_parameters) == pytest.approx(1.0)
    levels = dict(zip(TAX_ID.levels, TAX_ID.default_parameters, strict=True))
    weight = {name: np.log2(m / u) for name, (m, u) in levels.items()}
    assert 0 < weight["flagged_exact"] < weight["exact"] - 4  # moderate, far below exact


NAMES = [
    "TITAN SCI LLC dba PRECIFORM MEDICAL", "Preciform Medical", "Preciform Medcal",
    "Acme Health of Alabama", "Acme Health", "Acme Health 200 LP", "Acme Hlth 414 LLC",
    "Ritz-Carlton Cafe", "Ritz-Carlton Dining Room", "cafe ritz-carlton buckhead",
    "Yarrow Labs", "Yarrow Laboratories", "Becton Dickinson", "BD", "Palace Court",
    "Cafe Roma", "jack bridgland", "jack shepherd", "N/A", "",
]  # fmt: skip
LINES = [
    "747 9th ave.", "747 ninth ave.", "2653 W Ogden Ave", "2653 W. Ogden", "2653 Ogden",
    "1 Maple St", "1 Maple Ave", "PO Box 51", "51 Main St", "51 Main St Ste 200",
    "177 pridhamstreet", "177 pridham st", "Mercy Medical Plaza", "5", "",
]  # fmt: skip
SECOND = ["", "Suite 200", "Ste 310", "#200", "craigie ela garden", "craigie lm agarden"]
CITIES = ["Boston", "boston", "Cambridge", "New York", "New York City", "St Paul", "", "N/A"]
STATES = ["MA", "Massachusetts", "NY", "", "nsw"]
TAX_IDS = ["1804974", "180-4974", "1804975", "41-2847561", "412847561", "41-2847562", "", "1"]
PHONES = ["617-555-0142", "(617) 555 0142", "212-555-0100", ""]


def _record(draw: Any) -> dict[str, Any]:
    return {
        "name": draw(NAMES),
        "dba_name": draw(["", "", "Preciform Medical", "Acme Medical"]),
        "address_line1": draw(LINES),
        "address_line2": draw(SECOND),
        "city": draw(CITIES),
        "state": draw(STATES),
        "tax_id": draw(TAX_IDS),
        flagged_key("tax_id"): draw(["", "1804974", "9206639"]),
        "phone": draw(PHONES),
    }


COMPARISONS = [NAME, ADDRESS, LOCALITY, TAX_ID, PHONE]


@pytest.mark.parametrize("comparison", [pytest.param(c, id=c.name) for c in COMPARISONS])
def test_batch_levels_agree_with_level(comparison: Comparison[Any]) -> None:
    rng = random.Random(13)
    left = [_record(rng.choice) for _ in range(80)]
    right = [_record(rng.choice) for _ in range(60)]
    lf = [comparison.prepare(r) for r in left]
    rf = [comparison.prepare(r) for r in right]
    lc, rc = comparison.encode(lf, rf)
    li = np.array([rng.randrange(80) for _ in range(2_000)], dtype=np.intp)
    ri = np.array([rng.randrange(60) for _ in range(2_000)], dtype=np.intp)
    batch = comparison.batch_levels(lc, rc, li, ri)
    expected = [comparison.level(lf[i], rf[j]) for i, j in zip(li, ri, strict=True)]
    assert batch.tolist() == [-1 if e is None else e for e in expected]
    assert len(set(batch.tolist())) > 2


records = st.builds(
    dict,
    name=st.sampled_from(NAMES),
    dba_name=st.sampled_from(["", "Preciform Medical"]),
    address_line1=st.sampled_from(LINES),
    address_line2=st.sampled_from(SECOND),
    city=st.sampled_from(CITIES),
    state=st.sampled_from(STATES),
    tax_id=st.sampled_from(TAX_IDS),
    phone=st.sampled_from(PHONES),
)


@settings(max_examples=300, deadline=None)
@given(left=records, right=records)
def test_levels_are_symmetric_and_both_paths_agree(
    left: dict[str, Any], right: dict[str, Any]
) -> None:
    for comparison in COMPARISONS:
        a, b = comparison.prepare(left), comparison.prepare(right)
        found = comparison.level(a, b)
        assert found == comparison.level(b, a), comparison.name
        lc, rc = comparison.encode([a], [b])
        batch = comparison.batch_levels(lc, rc, np.array([0]), np.array([0]))
        assert batch.tolist() == [-1 if found is None else found], comparison.name


def test_another_suffix_with_a_unit_is_another_street() -> None:
    left = _address("1500 N Main St", "Ste 200")
    right = _address("1500 N Main Ave", "Ste 200")
    assert level_name(ADDRESS, left, right) == "different"


def test_unit_numbers_differ_but_free_text_second_lines_are_weak() -> None:
    suites = (_address("1500 N Main St", "Ste 200"), _address("1500 N Main St", "Suite 310"))
    buildings = (_address("80 Chaseling St", "the meadows"), _address("80 Chaseling St", "lodge"))
    assert level_name(ADDRESS, *suites) == "other_unit"
    assert level_name(ADDRESS, *buildings) == "same_street"
    places = AddressComparison(is_free_text_unit_weak=False)  # locations: units are places
    assert level_name(places, *buildings) == "other_unit"
