"""Items known by their descriptions and makers only (issue 20, class 4): model and part
numbers in free text, rarity-weighted words, features, prices, NDC and GS1 strings, and
the item spec's rules over them."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matchers import (
    BlockingRules,
    Comparison,
    DescriptionComparison,
    ManufacturerPartComparison,
    MatchModel,
    PriceComparison,
    check_identifier,
    colour_of,
    model_code_key,
    model_codes,
    rule_plan,
    token_weight,
)
from mdm.specs import DEFAULT_SPECS
from mdm.specs.item import DESCRIPTION

ITEM = DEFAULT_SPECS["item"]
assert ITEM.matching is not None
MATCHING = ITEM.matching


def level_name(comparison: Comparison[Any], left: dict[str, Any], right: dict[str, Any]) -> str:
    found = comparison.level(comparison.prepare(left), comparison.prepare(right))
    return "missing" if found is None else comparison.levels[found]


def described(text: str, **attributes: Any) -> dict[str, Any]:
    return {"description": text, **attributes}


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        pytest.param(
            described("Dressing, Foam, Non-Adhesive, 4 x 4 in, with Border"),
            described("DRSG FOAM NON ADH 4X4 W/ BORDER 10/BX"),
            "similar_0.9",
            id="dressing-abbreviated-dimensions-joined",
        ),
        pytest.param(
            described('NDL HYPO STD 22G 1" 100/BX'),
            described("Needle, Hypodermic, Standard, 22 Gauge, 1 in"),
            "similar_0.7",
            id="needle-abbreviated-gauge-inches",
        ),
        pytest.param(
            described('NDL HYPO STD 22G 1" 100/BX'),
            described("Needle, Hypodermic, Standard, 25 Gauge, 1 in"),
            "features_conflict",
            id="needle-other-gauge",
        ),
        pytest.param(
            described("Sony BRAVIA V Series 42in LCD HDTV - KDL42V4100"),
            described("SONY 42IN BRAVIA V-SERIES LCD TV KDL42V4100"),
            "model_code",
            id="tv-model-number",
        ),
        pytest.param(
            described("Sanus Tilting Wall Mount - VMPL50B"),
            described("Sanus VisionMount Tilt Mount VMPL50-B"),
            "model_code",
            id="model-number-hyphenated",
        ),
        pytest.param(
            described("Sanus Tilting Wall Mount - VMPL50B"),
            described("Sanus Tilting Wall Mount", manufacturer_part_number="VMPL50-B"),
            "model_code",
            id="catalog-number-meets-description",
        ),
        pytest.param(
            described("GLOVE EXAM NITRILE LG N8830"),
            described("Exam glove nitrile large", vendor_catalog_number="N8830"),
            "model_code",
            id="vendor-catalog-number-meets-description",
        ),
        pytest.param(
            described("Sony PSP Core Piano Black - 711719851004"),
            described("Sony PlayStation Portable core", gtin="00711719851004"),
            "model_code_only",
            id="gtin-meets-upc-in-description",
        ),
        pytest.param(
            described("Sony DVP-FX820 Portable DVD Player - DVPFX820"),
            described("Sony DVP-FX820 Portable DVD Player - DVPFX820P"),
            "model_variant",
            id="model-and-its-colour-variant",
        ),
        pytest.param(
            described("Sony Cyber-shot DSC-W150 - DSCW150N"),
            described("Sony Cyber-shot DSC-W150 - DSCW150R"),
            "model_code_conflict",
            id="two-colours-of-one-line",
        ),
        pytest.param(
            described("Sony BRAVIA W Series LCD TV - KDL46W4100"),
            described("Sony BRAVIA W Series LCD TV - KDL40W4100"),
            "model_code_different",
            id="other-model-same-words",
        ),
        pytest.param(
            described("Panasonic Add-On Handset For The KX-TG6700B System - KXTGA670B"),
            described("Panasonic KX-TG6700B Cordless Telephone"),
            "model_code_different",
            id="code-after-for-names-another-product",
        ),
        pytest.param(
            described("Sony Cyber-shot DSC-W150 Red"),
            described("Sony Cyber-shot DSC-W150 Silver"),
            "features_conflict",
            id="colour",
        ),
        pytest.param(
            described("GLOVE EXAM NITRILE LG 100/BX"),
            described("GLOVE EXAM NITRILE LG 50/BX"),
            "features_conflict",
            id="pack-count",
        ),
        pytest.param(
            described("GLOVE EXAM NITRILE LG 100/BX"),
            described("GLOVE EXAM NITRILE LG 10BX/CS"),
            "similar_0.9",
            id="another-packaging-level-is-no-conflict",
        ),
        pytest.param(
            described("TUBE ENDOTRACHEAL CUFFED SIZE 7"),
            described("TUBE ENDOTRACHEAL CUFFED SIZE 4"),
            "features_conflict",
            id="size",
        ),
    ],
)
def test_description_level(left: dict[str, Any], right: dict[str, Any], expected: str) -> None:
    assert level_name(DESCRIPTION, left, right) == expected
    assert level_name(DESCRIPTION, right, left) == expected


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        pytest.param('NDL HYPO STD 22G 1" 100/BX', set(), id="gauge-inches-pack"),
        pytest.param("GAUZE SPONGE 4X4 12-PLY 100ML 10/BX", set(), id="dimensions-plies-volume"),
        pytest.param("SONY 42IN LCD 15000:1 1080P 2.0 10/100", set(), id="sizes-ratios-numbers"),
        pytest.param("LG 10-Cup 7.1-Channel 2-Line", set(), id="counts-of-things"),
        pytest.param("Panasonic KX-FP145 Fax", {"KXFP145"}, id="hyphenated"),
        pytest.param("Logitech Mouse - 920-000383", {"920000383"}, id="hyphenated-digits"),
        pytest.param("Apple MacBook - MB471LL/A", {"MB471LL", "MB471LLA"}, id="slashed-suffix"),
        pytest.param("Sennheiser RS 130 Headphone", {"RS130"}, id="word-and-number"),
        pytest.param("GWN ISOL LVL2 BOX 100", set(), id="level-and-count-are-no-codes"),
    ],
)
def test_model_codes(text: str, codes: set[str]) -> None:
    assert set(model_codes(text).primary) == codes


_REFERENCE_WORDS = {"FOR", "FITS", "COMPATIBLE", "REPLACES"}
_CODES = st.from_regex(r"[A-Z]{2,4}[0-9]{2,5}[A-Z]{0,2}", fullmatch=True).filter(
    lambda c: not any(c.startswith(w) for w in _REFERENCE_WORDS)
)


@settings(max_examples=200, deadline=None)
@given(code=_CODES, data=st.data())
def test_model_code_is_found_whatever_hyphens_and_case(code: str, data: st.DataObject) -> None:
    chars = []
    for k, char in enumerate(code):
        if k and data.draw(st.booleans(), label="hyphen"):
            chars.append("-")
        chars.append(char.lower() if data.draw(st.booleans(), label="lower") else char)
    written = "".join(chars)
    assert code in model_codes(f"Acme {written} widget").codes


# Letters that spell no unit or function word ("MM 100" and "10 MM" measure something).
@settings(max_examples=100, deadline=None)
@given(letters=st.from_regex(r"[JQZR]{2,4}", fullmatch=True), rest=st.from_regex(
    r"[0-9]{3,5}|[0-9]{2,4}[JQZR]{1,2}", fullmatch=True
))  # fmt: skip
def test_model_code_written_apart_is_found(letters: str, rest: str) -> None:
    assert letters + rest in model_codes(f"Acme {letters} {rest.lower()} widget").codes


POOL = [
    described("Sony BRAVIA W Series LCD TV - KDL46W4100"),
    described("SONY 46IN BRAVIA KDL-46W4100 LCD TV", price=1399.0),
    described("Sony BRAVIA W Series 40in LCD TV - KDL40W4100/B"),
    described("Sony DVP-FX820 Portable DVD Player - DVPFX820P", price=149.0),
    described("Sony DVPFX820 Portable DVD Player - DVPFX820/R"),
    described("Sony Cyber-shot DSC-W150 Red - DSCW150R"),
    described("Panasonic Handset For KX-TG6700B - KXTGA670B"),
    described("GLOVE EXAM NITRILE LG 100/BX N8830", manufacturer_part_number="N8830"),
    described("Glv Exam Nitr Large Box of 50", vendor_catalog_number="N8830"),
    described("GLOVE EXAM NITRILE MED 10BX/CS"),
    described("Dressing, Foam, Non-Adhesive, 4 x 4 in, with Border"),
    described("DRSG FOAM NON ADH 4X4 W/ BORDER 10/BX"),
    described("Needle hypodermic 22g x 1 in sterile", gtin="00036000291452"),
    described("NDL HYPO 22G X 1IN STRL - 036000291452"),
    described("Catheter Foley 16FR 10ML"),
    described("CATH FOLYE 16FR"),
    {"description": None},
]


@settings(max_examples=30, deadline=None)
@given(st.randoms(use_true_random=False))
def test_batch_levels_agree_with_level(rng: random.Random) -> None:
    left = [rng.choice(POOL) for _ in range(12)]
    right = [rng.choice(POOL) for _ in range(9)]
    comparison = DescriptionComparison(
        number_attributes=("manufacturer_part_number", "vendor_catalog_number"),
        gtin_attribute="gtin",
    )
    lf = [comparison.prepare(r) for r in left]
    rf = [comparison.prepare(r) for r in right]
    li = np.array([rng.randrange(12) for _ in range(60)], dtype=np.intp)
    ri = np.array([rng.randrange(9) for _ in range(60)], dtype=np.intp)
    expected = [comparison.level(lf[i], rf[j]) for i, j in zip(li, ri, strict=True)]
    lc, rc = comparison.encode(lf, rf)
    assert comparison.batch_levels(lc, rc, li, ri).tolist() == [
        -1 if e is None else e for e in expected
    ]
    same, _ = comparison.encode(lf, lf)  # deduplication: one set against itself
    dedup = [comparison.level(lf[i], lf[j]) for i, j in zip(li, li[::-1], strict=True)]
    assert comparison.batch_levels(same, same, li, li[::-1]).tolist() == [
        -1 if e is None else e for e in dedup
    ]


def test_token_weights_favour_codes_and_numbers() -> None:
    assert token_weight("KDL46W4100") > token_weight("22GA") > token_weight("TV")
    assert token_weight("HYPODERMIC") > token_weight("TV") > token_weight("WITH")
    assert token_weight("100/BX") == 0


def test_colour() -> None:
    assert colour_of("Sony DSC-W150 - Red") == "RED"
    assert colour_of("Ex Series Earbuds Wht") == "WHITE"
    assert colour_of("Black/Silver Case") is None  # two colours: says nothing


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        pytest.param("G87379-25", "G8737925", "exact_same_maker", id="same-after-normalizing"),
        pytest.param("G87379-25", "G8737725", "near", id="one-character-replaced"),
        pytest.param("G8737925", "G8773925", "near", id="transposition"),
        pytest.param("G873792599", "G8737925", "near", id="two-dropped-long-number"),
        pytest.param("AB12", "AB13", "different", id="short-numbers-are-never-near"),
        pytest.param("BH100701", "XY998877", "different", id="different"),
    ],
)
def test_catalog_number_near(left: str, right: str, expected: str) -> None:
    comparison = ManufacturerPartComparison()
    a = {"manufacturer_part_number": left, "manufacturer_name": "Acme"}
    b = {"manufacturer_part_number": right, "manufacturer_name": "ACME INC"}
    assert level_name(comparison, a, b) == expected


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        pytest.param({"price": 10.0}, {"price": 10.5}, "within_10%", id="close"),
        pytest.param({"price": 10.0}, {"price": 12.5}, "within_30%", id="near"),
        pytest.param({"price": 10.0}, {"price": 40.0}, "far", id="far"),
        pytest.param(
            {"price": 800.0, "pack_quantity": 100}, {"price": 8.2}, "within_10%", id="per-each"
        ),
        pytest.param({"price": 0}, {"price": 8.2}, "missing", id="zero-is-no-price"),
    ],
)
def test_price(left: dict[str, Any], right: dict[str, Any], expected: str) -> None:
    assert level_name(PriceComparison(), left, right) == expected


def test_price_is_weak_evidence() -> None:
    weights = MatchModel([PriceComparison()]).weight_table()[0]
    assert 0 < weights[0] < 2 and -2 < weights[2] < 0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("(01)15201234000008(17)271231(10)LOT123", "15201234000008", id="hri"),
        pytest.param(
            "]d2" + "0115201234000008" + "17271231" + "10LOT123" + "\x1d" + "21SN0001",
            "15201234000008",
            id="datamatrix-raw",
        ),
        pytest.param("011520123400000817271231", "15201234000008", id="raw-without-prefix"),
        pytest.param("036000291452", "00036000291452", id="plain-upc"),
    ],
)
def test_gtin_from_gs1_element_strings(raw: str, expected: str) -> None:
    assert check_identifier("gtin", raw).normalized == expected


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        pytest.param("(01)15201234000009", "BAD_CHECK_DIGIT", id="check-digit"),
        pytest.param("(17)271231(10)LOT1", "BAD_FORMAT", id="no-gtin-element"),
        pytest.param("01152012340000081", "BAD_LENGTH", id="too-short-for-elements"),
    ],
)
def test_gs1_element_strings_are_checked(raw: str, problem: str) -> None:
    assert check_identifier("gtin", raw).problem == problem


def test_ndc_is_an_item_identifier() -> None:
    attribute = ITEM.attribute("ndc")
    assert attribute is not None and attribute.identifier == "ndc"
    assert "ndc" in {key.name for key in ITEM.match_keys}
    assert check_identifier("ndc", "60575-4112-1").normalized == "60575411201"
    assert check_identifier("ndc", "0002759701").problem == "BAD_FORMAT"  # 10 digits: ambiguous


def test_model_code_key_meets_spellings_and_numbers() -> None:
    rules = BlockingRules({"model": model_code_key("description", ("mpn",), "gtin")})
    sony = rules.keys({"description": "Sony Cyber-shot DSC-W150 Camera"})
    assert sony & rules.keys({"description": "Sony Gold Cyber-shot - DSCW150N"})
    sanus = rules.keys({"description": "Sanus Wall Mount - VMPL50B"})
    assert sanus & rules.keys({"description": "Tilt mount", "mpn": "VMPL50-B"})
    psp = rules.keys({"description": "Sony PSP Core - 711719851004"})
    assert psp & rules.keys({"description": "PSP", "gtin": "00711719851004"})
    assert not rules.keys({"description": 'NDL HYPO STD 22G 1" 100/BX'})


def _judge(left: dict[str, Any], right: dict[str, Any]) -> float:
    model = MatchModel(MATCHING.comparisons, prior=MATCHING.prior)
    plan = rule_plan(model.comparisons, MATCHING.vetoes, MATCHING.decisive)
    found, weight = model.levels_prepared(model.prepare(left), model.prepare(right))
    chance = 1 / (1 + 2**-weight)
    return plan.judge(found, chance, MATCHING.review_threshold, MATCHING.auto_threshold).probability


def test_catalog_number_does_not_beat_a_size_conflict() -> None:
    tube = {"manufacturer_part_number": "ETT-70", "manufacturer_name": "Acme Medical"}
    seven = {**tube, "description": "TUBE ENDOTRACHEAL CUFFED SIZE 7"}
    four = {**tube, "description": "TUBE ENDOTRACHEAL CUFFED SIZE 4"}
    assert _judge(seven, four) < MATCHING.review_threshold
    assert _judge(seven, {**tube, "description": "Endotracheal tube, cuffed, size 7"}) == 1.0


def test_mistyped_catalog_number_goes_to_review() -> None:
    item = {"description": "TUBE ENDOTRACHEAL CUFFED SIZE 7", "manufacturer_name": "Acme Medical"}
    left = {**item, "manufacturer_part_number": "ETT-1870", "manufacturer": "VND-1"}
    right = {**item, "manufacturer_part_number": "ETT-1780", "manufacturer": "VND-1"}
    assert MATCHING.review_threshold <= _judge(left, right) < MATCHING.auto_threshold


def test_model_code_alone_merges_items_without_identifiers() -> None:
    left = described("Sony BRAVIA V Series 42in LCD HDTV - KDL42V4100")
    right = described("SONY 42IN BRAVIA V-SERIES LCD TV KDL42V4100")
    assert _judge(left, right) >= MATCHING.auto_threshold
    siblings = described("Sony BRAVIA V Series 46in LCD HDTV - KDL46V4100")
    assert _judge(left, siblings) < MATCHING.review_threshold


@pytest.mark.parametrize(
    "comparison",
    [DESCRIPTION, PriceComparison(), ManufacturerPartComparison()],
    ids=lambda c: c.name,
)
def test_default_parameters_are_distributions(comparison: Comparison[Any]) -> None:
    assert len(comparison.levels) == len(comparison.default_parameters)
    assert sum(m for m, _ in comparison.default_parameters) == pytest.approx(1.0)
    assert sum(u for _, u in comparison.default_parameters) == pytest.approx(1.0)
