from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from matchers import (
    IDENTIFIER_KINDS,
    check_identifier,
    gtin_check_digit,
    gtin_family,
    gtin_indicator,
    hibc_check_character,
    is_junk,
)


@pytest.mark.parametrize(
    ("kind", "raw", "normalized"),
    [
        pytest.param("gtin", "8904000210037", "08904000210037", id="gtin13-india"),
        pytest.param("gtin", "7300011000017", "07300011000017", id="gtin13"),
        pytest.param("gtin", "96385074", "00000096385074", id="gtin8"),
        pytest.param("gtin", "036000291452", "00036000291452", id="upc-a-padded"),
        pytest.param("gtin", "00036000291452", "00036000291452", id="gtin14-same-as-upc"),
        pytest.param("gtin", "0 36000-29145 2", "00036000291452", id="gtin-separators"),
        pytest.param("gtin", "15201234000008", "15201234000008", id="case-indicator-1"),
        pytest.param("gtin", "35201234000002", "35201234000002", id="case-indicator-3"),
        pytest.param("gtin", "10036000291459", "10036000291459", id="upc-case-indicator-1"),
        pytest.param("gtin", "95201234000004", "95201234000004", id="variable-measure-9"),
        pytest.param("gln", "5790000121830", "5790000121830", id="gln"),
        pytest.param("npi", "1234567893", "1234567893", id="npi-cms-example"),
        pytest.param("npi", "1558598797", "1558598797", id="npi"),
        pytest.param("duns", "12-345-6780", "123456780", id="duns-hyphenated"),
        pytest.param("duns", "004321519", "004321519", id="duns-leading-zeros"),
        pytest.param("ein", "04-2103594", "04-2103594", id="ein-hyphenated"),
        pytest.param("ein", "042103594", "04-2103594", id="ein-plain"),
        pytest.param("ndc", "0002-7597-01", "00002759701", id="ndc-4-4-2"),
        pytest.param("ndc", "50242-040-62", "50242004062", id="ndc-5-3-2"),
        pytest.param("ndc", "60575-4112-1", "60575411201", id="ndc-5-4-1"),
        pytest.param("ndc", "50242-0040-62", "50242004062", id="ndc-5-4-2"),
        pytest.param("ndc", "50242004062", "50242004062", id="ndc-11-plain"),
        pytest.param("ndc", "123456-123-12", "123456012312", id="ndc-6-3-2-planned"),
        pytest.param("hibcc", "+A1234BJC5D6E71K", "+A1234BJC5D6E71K", id="hibc-primary"),
        pytest.param("hibcc", "+a1234bjc5d6e71k", "+A1234BJC5D6E71K", id="hibc-lower"),
        pytest.param("unspsc", "42210402", "42210402", id="unspsc-commodity"),
        pytest.param("unspsc", "42.21.04.02", "42210402", id="unspsc-dotted"),
        pytest.param("unspsc", "4221040214", "42210402", id="unspsc-business-function"),
        pytest.param("unspsc", "42000000", "42000000", id="unspsc-segment"),
        pytest.param("hin", " ab1234567 ", "AB1234567", id="hin"),
        pytest.param("hcpcs", "a4550", "A4550", id="hcpcs"),
        pytest.param("part_number", "ab-12.3/4 x", "AB1234X", id="part-number"),
        pytest.param("contract_number", "VZ-2024.001", "VZ2024001", id="contract"),
        pytest.param("code", "  cc  1001 a ", "CC 1001 A", id="code"),
    ],
)
def test_valid_identifiers_normalize(kind: str, raw: str, normalized: str) -> None:
    check = check_identifier(kind, raw)
    assert check.is_valid, check.detail
    assert check.normalized == normalized
    assert (check.kind, check.raw, check.problem, check.detail) == (kind, raw, None, None)


@pytest.mark.parametrize(
    ("kind", "raw", "problem"),
    [
        pytest.param("gln", "7350088110002", "BAD_CHECK_DIGIT", id="gln-fhir-example"),
        pytest.param("npi", "1234567890", "BAD_CHECK_DIGIT", id="npi-check"),
        pytest.param("npi", "3234567893", "BAD_PREFIX", id="npi-prefix"),
        pytest.param("npi", "123456783", "BAD_LENGTH", id="npi-length"),
        pytest.param("gtin", "8904000210038", "BAD_CHECK_DIGIT", id="gtin-check"),
        pytest.param("gtin", "12345678901", "BAD_LENGTH", id="gtin-11-digits"),
        pytest.param("gtin", "89040002100A7", "NOT_NUMERIC", id="gtin-letter"),
        pytest.param("gtin", "", "EMPTY", id="gtin-empty"),
        pytest.param("gtin", "   ", "EMPTY", id="gtin-blank"),
        pytest.param("gtin", "N/A", "JUNK_VALUE", id="gtin-na"),
        pytest.param("gtin", "00000000000000", "JUNK_VALUE", id="gtin-zeros"),
        pytest.param("duns", "000000000", "JUNK_VALUE", id="duns-zeros"),
        pytest.param("duns", "999999999", "JUNK_VALUE", id="duns-nines"),
        pytest.param("duns", "123456789", "JUNK_VALUE", id="duns-sequence"),
        pytest.param("duns", "12345678", "BAD_LENGTH", id="duns-short"),
        pytest.param("ein", "123456789", "JUNK_VALUE", id="ein-sequence"),
        pytest.param("ndc", "0002759701", "BAD_FORMAT", id="ndc-10-unhyphenated"),
        pytest.param("ndc", "0002-759-01", "BAD_FORMAT", id="ndc-4-3-2"),
        pytest.param("ndc", "50242-04062", "BAD_FORMAT", id="ndc-two-segments"),
        pytest.param("ndc", "502420406", "BAD_LENGTH", id="ndc-9-digits"),
        pytest.param("ndc", "5024A-040-62", "NOT_NUMERIC", id="ndc-letter"),
        pytest.param("hibcc", "A1234BJC5D6E71K", "BAD_PREFIX", id="hibc-no-plus"),
        pytest.param("hibcc", "+A1234BJC5D6E71", "BAD_CHECK_DIGIT", id="hibc-missing-check"),
        pytest.param("hibcc", "+11234BJC5D6E71K", "BAD_FORMAT", id="hibc-lic-numeric"),
        pytest.param("hibcc", "+A12K", "BAD_LENGTH", id="hibc-short"),
        pytest.param("unspsc", "42002100", "BAD_FORMAT", id="unspsc-gap"),
        pytest.param("unspsc", "4221040", "BAD_LENGTH", id="unspsc-7"),
        pytest.param("hin", "AB123456", "BAD_LENGTH", id="hin-short"),
        pytest.param("hin", "AB1234-67", "BAD_FORMAT", id="hin-hyphen"),
        pytest.param("hcpcs", "45500", "BAD_FORMAT", id="hcpcs-no-letter"),
        pytest.param("part_number", "--/..", "JUNK_VALUE", id="part-punctuation"),
        pytest.param("part_number", "UNKNOWN", "JUNK_VALUE", id="part-unknown"),
        pytest.param("contract_number", "TBD", "JUNK_VALUE", id="contract-tbd"),
        pytest.param("code", "null", "JUNK_VALUE", id="code-null"),
    ],
)
def test_invalid_identifiers_report_problem(kind: str, raw: str, problem: str) -> None:
    check = check_identifier(kind, raw)
    assert not check.is_valid
    assert check.normalized is None
    assert check.problem == problem
    assert check.detail


@pytest.mark.parametrize(
    "prefix",
    [
        pytest.param(p, id=f"ein-{p}")
        for p in "00 07 08 09 17 18 19 28 29 49 69 70 78 79 89 96 97".split()
    ],
)
def test_ein_unissued_prefixes_are_rejected(prefix: str) -> None:
    check = check_identifier("ein", f"{prefix}-2103594")
    assert check.problem == "BAD_PREFIX"
    assert check.detail == f"EIN prefix {prefix} is not issued by the IRS"


@pytest.mark.parametrize("prefix", [pytest.param(p, id=f"ein-{p}") for p in ["01", "10", "98"]])
def test_ein_issued_prefixes_are_accepted(prefix: str) -> None:
    assert check_identifier("ein", f"{prefix}2103594").normalized == f"{prefix}-2103594"


def test_check_digit_detail_names_found_and_expected() -> None:
    assert check_identifier("gln", "7350088110002").detail == "GLN check digit is 2, expected 3"
    assert check_identifier("gtin", "8904000210032").detail == "GTIN check digit is 2, expected 7"


def test_unknown_kind_raises() -> None:
    with pytest.raises(ValueError, match="unknown identifier kind 'isbn'"):
        check_identifier("isbn", "9780306406157")


def test_every_kind_is_checkable() -> None:
    assert len(IDENTIFIER_KINDS) == 13
    for kind in IDENTIFIER_KINDS:
        assert check_identifier(kind, "").problem == "EMPTY"


@pytest.mark.parametrize(
    ("inner", "indicator", "case"),
    [
        pytest.param("5201234000001", 1, "15201234000008", id="indicator-1"),
        pytest.param("5201234000001", 3, "35201234000002", id="indicator-3"),
        pytest.param("036000291452", 1, "10036000291459", id="upc-indicator-1"),
    ],
)
def test_case_gtin_derivation(inner: str, indicator: int, case: str) -> None:
    body = str(indicator) + inner.zfill(14)[1:13]
    assert body + str(gtin_check_digit(body)) == case
    assert gtin_indicator(case) == indicator
    assert gtin_family(case) == gtin_family(inner) == inner.zfill(14)


def test_gtin_family_groups_pack_levels() -> None:
    assert gtin_family("15201234000008") == gtin_family("35201234000002") == "05201234000001"
    assert gtin_indicator("5201234000001") == 0
    assert gtin_family("10036000291459") != gtin_family("15201234000008")


def test_gtin_family_rejects_invalid_gtin() -> None:
    with pytest.raises(ValueError, match="not a valid GTIN"):
        gtin_family("15201234000009")


def test_gtin_check_digit_rejects_non_digits() -> None:
    with pytest.raises(ValueError):
        gtin_check_digit("12A4")
    with pytest.raises(ValueError):
        gtin_check_digit("")


@pytest.mark.parametrize(
    ("data", "check"),
    [
        pytest.param("+A1234BJC5D6E71", "K", id="domain-example"),
        pytest.param("159AZ", "H", id="short-example"),
    ],
)
def test_hibc_mod43(data: str, check: str) -> None:
    assert hibc_check_character(data) == check


def test_hibc_mod43_rejects_foreign_characters() -> None:
    with pytest.raises(ValueError):
        hibc_check_character("+A123*")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("N/A", True, id="n/a"),
        pytest.param("na", True, id="na-lower"),
        pytest.param("None", True, id="none"),
        pytest.param("UNKNOWN", True, id="unknown"),
        pytest.param("TBD", True, id="tbd"),
        pytest.param("NULL", True, id="null"),
        pytest.param("-", True, id="dash"),
        pytest.param("0", True, id="zero"),
        pytest.param("0000000", True, id="zeros"),
        pytest.param("999999999", True, id="nines"),
        pytest.param("123456789", True, id="sequence"),
        pytest.param("000-00-0000", True, id="zeros-hyphenated"),
        pytest.param("", True, id="empty"),
        pytest.param("1234567893", False, id="valid-npi"),
        pytest.param("ACME", False, id="word"),
        pytest.param("11", False, id="short-repeat"),
        pytest.param("NAB", False, id="contains-na"),
    ],
)
def test_is_junk(value: str, expected: bool) -> None:
    assert is_junk(value) is expected


@given(body=st.text(alphabet="0123456789", min_size=12, max_size=12))
def test_any_gtin13_body_with_computed_check_validates(body: str) -> None:
    gtin = body + str(gtin_check_digit(body))
    check = check_identifier("gtin", gtin)
    if is_junk(gtin):
        assert check.problem == "JUNK_VALUE"
    else:
        assert check.normalized == "0" + gtin


@given(
    body=st.text(alphabet="0123456789", min_size=12, max_size=12),
    position=st.integers(min_value=0, max_value=12),
    shift=st.integers(min_value=1, max_value=9),
)
def test_changing_one_gtin_digit_invalidates(body: str, position: int, shift: int) -> None:
    gtin = body + str(gtin_check_digit(body))
    changed = gtin[:position] + str((int(gtin[position]) + shift) % 10) + gtin[position + 1 :]
    assert not check_identifier("gtin", changed).is_valid


@given(body=st.text(alphabet="0123456789", min_size=13, max_size=13))
def test_gtin_normalization_is_idempotent(body: str) -> None:
    first = check_identifier("gtin", body + str(gtin_check_digit(body)))
    if first.normalized is not None:
        again = check_identifier("gtin", first.normalized)
        assert again.normalized == first.normalized
        assert gtin_family(gtin_family(first.normalized)) == gtin_family(first.normalized)


@given(body=st.text(alphabet="0123456789", min_size=8, max_size=8))
def test_npi_has_exactly_one_check_digit(body: str) -> None:
    candidates = ["1" + body + d for d in "0123456789"]
    valid = [npi for npi in candidates if check_identifier("npi", npi).is_valid]
    luhn = [npi for npi in candidates if _luhn_ok("80840" + npi)]
    assert len(luhn) == 1
    assert valid == [npi for npi in luhn if not is_junk(npi)]


def _luhn_ok(number: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(number)):
        value = int(char) * (2 if i % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0
