from __future__ import annotations

from typing import Any

import pytest

from matchers import (
    BlockingKey,
    BlockingRules,
    candidate_pairs,
    count_description_tokens,
    description_tokens_key,
    exact_key,
    gtin_family_key,
    name_prefix_key,
    pair_completeness,
    part_number_key,
    phonetic_key,
    postal_prefix_and_name_key,
    soundex,
    token_sort_key,
)


@pytest.mark.parametrize(
    ("key", "left", "right"),
    [
        pytest.param(
            exact_key("tax_id", "ein"), {"tax_id": "41-2847561"}, {"tax_id": "412847561"}, id="ein"
        ),
        pytest.param(
            name_prefix_key(n=6),
            {"name": "The Northwind Surgical Inc"},
            {"name": "NORTHWIND SURGICAL"},
            id="prefix",
        ),
        pytest.param(
            token_sort_key(),
            {"name": "Surgical Northwind"},
            {"name": "Northwind Surgical LLC"},
            id="token-sort",
        ),
        pytest.param(
            phonetic_key(), {"name": "Smith Medical"}, {"name": "Smyth Medicals"}, id="soundex"
        ),
        pytest.param(
            phonetic_key(),
            {"name": "Acme Co", "dba_name": "x"},
            {"name": "X dba Akme Co"},
            id="soundex-trade-name",
        ),
        pytest.param(
            postal_prefix_and_name_key(),
            {"postal_code": "02139", "name": "Acme"},
            {"postal_code": "02142-1111", "name": "ACME INC"},
            id="postal-name",
        ),
        pytest.param(
            gtin_family_key(),
            {"gtin": "10036000291459"},
            {"gtin": "036000291452"},
            id="gtin-family",
        ),
        pytest.param(
            part_number_key(), {"part_number": "N88-30-L"}, {"part_number": "n8830"}, id="part-stem"
        ),
        pytest.param(
            part_number_key(manufacturer_attribute="manufacturer"),
            {"part_number": "AB.1", "manufacturer": "Acme Inc"},
            {"part_number": "ab1", "manufacturer": "ACME"},
            id="part-manufacturer",
        ),
        pytest.param(
            description_tokens_key(),
            {"description": "CATH FOLEY 14FR 10ML 10/BX"},
            {"description": "Foley Catheter 14 Fr 10 ml"},
            id="description",
        ),
    ],
)
def test_related_records_share_a_key(
    key: BlockingKey, left: dict[str, Any], right: dict[str, Any]
) -> None:
    assert key(left) & key(right)


@pytest.mark.parametrize(
    ("key", "left", "right"),
    [
        pytest.param(
            exact_key("tax_id", "ein"), {"tax_id": "41-2847561"}, {"tax_id": "41-2847562"}, id="ein"
        ),
        pytest.param(
            gtin_family_key(), {"gtin": "8904000210037"}, {"gtin": "036000291452"}, id="gtin"
        ),
        pytest.param(
            part_number_key(manufacturer_attribute="manufacturer"),
            {"part_number": "AB1", "manufacturer": "Acme"},
            {"part_number": "AB1", "manufacturer": "Zenith"},
            id="part-other-maker",
        ),
        pytest.param(phonetic_key(), {"name": "Acme"}, {"name": "Zenith"}, id="soundex"),
    ],
)
def test_unrelated_records_do_not(
    key: BlockingKey, left: dict[str, Any], right: dict[str, Any]
) -> None:
    assert not key(left) & key(right)


@pytest.mark.parametrize(
    ("word", "code"),
    [
        pytest.param("Robert", "R163", id="robert"),
        pytest.param("Rupert", "R163", id="rupert"),
        pytest.param("Tymczak", "T522", id="tymczak"),
        pytest.param("Pfister", "P236", id="pfister"),
        pytest.param("Ashcraft", "A261", id="h-does-not-separate"),
        pytest.param("Lee", "L000", id="padded"),
        pytest.param("123", "", id="no-letters"),
    ],
)
def test_soundex(word: str, code: str) -> None:
    assert soundex(word) == code


def test_missing_and_junk_values_give_no_keys() -> None:
    for key in (exact_key("tax_id"), name_prefix_key(), gtin_family_key(), part_number_key()):
        assert key({}) == set()
        assert key({"tax_id": "N/A", "name": "", "gtin": "123", "part_number": None}) == set()


def test_rarest_tokens_follow_the_counts() -> None:
    records = [{"description": f"GLOVE EXAM NITRILE {s}"} for s in ("SMALL", "LARGE", "MEDIUM")]
    counts = count_description_tokens(records)
    assert counts["GLOVE"] == 3 and counts["LARGE"] == 1
    key = description_tokens_key(token_counts=counts, n_tokens=2)
    keys = key({"description": "Glove exam nitrile large 100/bx"})
    assert len(keys) == 1 and "LARGE" in next(iter(keys)) and "100/BX" not in next(iter(keys))


def test_rules_prefix_keys_and_pairs_skip_big_blocks() -> None:
    rules = BlockingRules([("ein", exact_key("tax_id", "ein")), ("zip", exact_key("postal_code"))])
    assert rules.keys({"tax_id": "41-2847561", "postal_code": "02139"}) == {
        "ein:41-2847561",
        "zip:02139",
    }
    records = [
        {"tax_id": "41-2847561", "postal_code": "02139"},
        {"tax_id": "412847561", "postal_code": "02139"},
        {"tax_id": "52-1234567", "postal_code": "02139"},
        {"tax_id": "52-1234567", "postal_code": "94103"},
        {"postal_code": "94103"},
    ]
    result = candidate_pairs(records, rules, max_block_size=2)
    assert result.pairs == ((0, 1), (2, 3), (3, 4))
    assert [(b.key, b.size) for b in result.skipped_blocks] == [("zip:02139", 3)]
    everything = candidate_pairs(records, rules, max_block_size=10)
    assert everything.pairs == ((0, 1), (0, 2), (1, 2), (2, 3), (3, 4))
    assert everything.skipped_blocks == ()
    with pytest.raises(ValueError):
        BlockingRules([("a", exact_key("x")), ("a", exact_key("y"))])


def test_pair_completeness() -> None:
    assert pair_completeness([(0, 1), (2, 3)], [(1, 0), (3, 4)]) == 0.5
    assert pair_completeness([], []) == 1.0
