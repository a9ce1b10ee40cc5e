from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from matchers import CANONICAL_UOMS, PackQuantity, find_pack, normalize_uom, parse_pack


@pytest.mark.parametrize(
    ("raw", "code_list", "expected"),
    [
        pytest.param("EA", "x12", "EA", id="ea"),
        pytest.param("each", "x12", "EA", id="each"),
        pytest.param("E", "x12", "EA", id="e"),
        pytest.param("UN", "x12", "EA", id="un"),
        pytest.param("unit", "x12", "EA", id="unit"),
        pytest.param("PCS", "x12", "EA", id="pcs"),
        pytest.param("Box", "x12", "BX", id="box"),
        pytest.param("BXS", "x12", "BX", id="bxs"),
        pytest.param("boxes", "x12", "BX", id="boxes"),
        pytest.param("CS", "x12", "CS", id="cs"),
        pytest.param("CA", "x12", "CS", id="ca-is-case-in-x12"),
        pytest.param("CA", "rec20", None, id="ca-is-can-in-rec20"),
        pytest.param("CSE", "x12", "CS", id="cse"),
        pytest.param("Cases", "x12", "CS", id="cases"),
        pytest.param("CTN", "x12", "CT", id="ctn"),
        pytest.param("PKG", "x12", "PK", id="pkg"),
        pytest.param("PAK", "x12", "PK", id="pak"),
        pytest.param("DOZ", "x12", "DZ", id="doz"),
        pytest.param("pair", "x12", "PR", id="pair"),
        pytest.param("KIT", "x12", "KT", id="kit"),
        pytest.param("BAG", "x12", "BG", id="bag"),
        pytest.param("ROLL", "x12", "RL", id="roll"),
        pytest.param("RL", "x12", "RL", id="rl-x12"),
        pytest.param("RL", "rec20", None, id="rl-is-reel-in-rec21"),
        pytest.param("XRO", "rec20", "RL", id="xro"),
        pytest.param("XBX", "rec20", "BX", id="xbx"),
        pytest.param("XCS", "rec20", "CS", id="xcs"),
        pytest.param("C62", "rec20", "EA", id="c62"),
        pytest.param("H87", "rec20", "EA", id="h87"),
        pytest.param("DZN", "rec20", "DZ", id="dzn"),
        pytest.param("box", "rec20", "BX", id="words-work-in-rec20"),
        pytest.param("XBX", "x12", None, id="rec20-code-unknown-in-x12"),
        pytest.param("FURLONG", "x12", None, id="unknown"),
        pytest.param("", "x12", None, id="empty"),
    ],
)
def test_normalize_uom(raw: str, code_list: str, expected: str | None) -> None:
    assert normalize_uom(raw, code_list) == expected


def test_normalize_uom_rejects_unknown_code_list() -> None:
    with pytest.raises(ValueError, match="unknown code list"):
        normalize_uom("EA", "edifact")


@given(st.text(max_size=12))
def test_normalize_uom_returns_canonical_or_none(raw: str) -> None:
    assert normalize_uom(raw) in CANONICAL_UOMS | {None}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("100/BX", PackQuantity(100, "EA", "BX"), id="qty-slash-pack"),
        pytest.param("100/bx", PackQuantity(100, "EA", "BX"), id="lower"),
        pytest.param("BX/100", PackQuantity(100, "EA", "BX"), id="pack-slash-qty"),
        pytest.param("10BX/CS", PackQuantity(10, "BX", "CS"), id="inner-pack"),
        pytest.param("10 BX / CS", PackQuantity(10, "BX", "CS"), id="spaced"),
        pytest.param("1000 EA/CS", PackQuantity(1000, "EA", "CS"), id="ea-case"),
        pytest.param("Box of 100", PackQuantity(100, "EA", "BX"), id="box-of"),
        pytest.param("case of 10 boxes", PackQuantity(10, "BX", "CS"), id="case-of-boxes"),
        pytest.param("100 EA/BOX", PackQuantity(100, "EA", "BX"), id="ea-box"),
        pytest.param("100 per box", PackQuantity(100, "EA", "BX"), id="per"),
        pytest.param("CS/10BX", PackQuantity(10, "BX", "CS"), id="case-slash-boxes"),
        pytest.param("12/PKG", PackQuantity(12, "EA", "PK"), id="pkg"),
        pytest.param("GLOVE 100/BX", None, id="not-only-a-pack"),
        pytest.param("7 1/2", None, id="fraction"),
        pytest.param("0/BX", None, id="zero"),
        pytest.param("10BX/BX", None, id="same-units"),
        pytest.param("100/ML", None, id="not-a-pack-unit"),
        pytest.param("", None, id="empty"),
    ],
)
def test_parse_pack(text: str, expected: PackQuantity | None) -> None:
    assert parse_pack(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("GLOVE EXAM NITRILE LG 100/BX", PackQuantity(100, "EA", "BX"), id="tail"),
        pytest.param("Gauze 4x4 200/bx 10bx/cs", PackQuantity(200, "EA", "BX"), id="leftmost"),
        pytest.param("Sponge, box of 50 sterile", PackQuantity(50, "EA", "BX"), id="box-of"),
        pytest.param("SYRINGE W/100 UNITS", None, id="with-is-not-a-unit"),
        pytest.param("CATH REF ABC100/BX", None, id="catalog-number-glued"),
        pytest.param("NEEDLE 22G 1.5IN", None, id="none"),
    ],
)
def test_find_pack(text: str, expected: PackQuantity | None) -> None:
    assert find_pack(text) == expected


@pytest.mark.parametrize(
    ("pack", "label"),
    [
        pytest.param(PackQuantity(100, "EA", "BX"), "100/BX", id="each"),
        pytest.param(PackQuantity(10, "BX", "CS"), "10BX/CS", id="boxes"),
    ],
)
def test_pack_label_round_trips(pack: PackQuantity, label: str) -> None:
    assert pack.label == label
    assert parse_pack(label) == pack


@given(
    quantity=st.integers(min_value=1, max_value=99999),
    unit=st.sampled_from(["BX", "CS", "CT", "PK", "BG", "KT"]),
)
def test_qty_slash_unit_round_trips(quantity: int, unit: str) -> None:
    assert parse_pack(f"{quantity}/{unit}") == PackQuantity(quantity, "EA", unit)
    assert parse_pack(f"{unit}/{quantity}") == PackQuantity(quantity, "EA", unit)
