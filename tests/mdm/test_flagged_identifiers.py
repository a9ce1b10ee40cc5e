"""Identifiers that fail their check: kept apart for matching, shown and survived nowhere;
and the vendor spec's rules on names, sites and such identifiers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from matchers import flagged_key
from mdm.scoring import default_model, spec_rules
from mdm.specs import get_spec
from mdm.standardize import blocking_keys, match_keys, public_values, standardize
from mdm.survivorship import Member, survive

VENDOR = get_spec("vendor")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        pytest.param("180-4974", "1804974", id="sole-proprietor-ssn-like"),
        pytest.param("00-1234567", "001234567", id="bad-prefix"),
        pytest.param("DE 123456789", "DE123456789", id="foreign-vat"),
        pytest.param("123", None, id="too-short"),
        pytest.param("N/A", None, id="placeholder"),
        pytest.param("41-2847561", None, id="valid"),
    ],
)
def test_a_flagged_identifier_is_kept_for_matching_only(raw: str, kept: str | None) -> None:
    found = standardize(VENDOR, {"name": "Acme", "tax_id": raw})
    assert found.values.get(flagged_key("tax_id")) == kept
    if kept is not None:
        assert "tax_id" not in found.values  # never the attribute's value
        assert [f.attribute for f in found.findings] == ["tax_id"]  # and still reported
        assert match_keys(VENDOR, found.values) == []  # never an identifier key
        assert f"b:tax_id_flagged:{kept}" in blocking_keys(VENDOR, found.values)
    assert flagged_key("tax_id") not in public_values(found.values)


def test_survivorship_ignores_flagged_identifiers() -> None:
    values = standardize(VENDOR, {"name": "Acme", "tax_id": "180-4974"}).values
    result = survive(VENDOR, [Member(1, "ERP", "V1", values, T0)])
    assert result.attributes == {"name": "Acme"}


SITE = {
    "address_line1": "1 Main St",
    "city": "Birmingham",
    "state": "AL",
    "postal_code": "35203",
    "phone": "205-555-0100",
}


def judged(left: dict[str, Any], right: dict[str, Any]) -> tuple[float, tuple[str, ...]]:
    model = default_model(VENDOR)
    assert VENDOR.matching is not None
    a, b = (standardize(VENDOR, r).values for r in (left, right))
    found, _ = model.levels_prepared(model.prepare(a), model.prepare(b))
    score = model.score(a, b)
    judgement = spec_rules(VENDOR.matching, model).judge(
        found,
        score.match_probability,
        VENDOR.matching.review_threshold,
        VENDOR.matching.auto_threshold,
    )
    return judgement.probability, judgement.vetoed_by


@pytest.mark.parametrize(
    ("left", "right"),
    [
        pytest.param("Acme Health of Alabama", "Acme Health", id="regional-subsidiary"),
        pytest.param("Acme Health 200 L.P.", "Acme Health", id="numbered-subsidiary"),
        pytest.param("Acme Health 200, LLC", "Acme Health 414, LLC", id="two-numbered"),
    ],
)
def test_subsidiaries_at_one_site_are_not_merged(left: str, right: str) -> None:
    probability, vetoed_by = judged({"name": left, **SITE}, {"name": right, **SITE})
    assert probability < VENDOR.matching.review_threshold  # type: ignore[union-attr]
    assert vetoed_by == ("name.sibling",)


def test_a_flagged_tax_id_is_evidence_never_decisive() -> None:
    same = {"tax_id": "180-4974"}
    with_id, _ = judged({"name": "Jane Doe", **same}, {"name": "Jane Doe", **same})
    without_id, _ = judged({"name": "Jane Doe"}, {"name": "Jane Doe"})
    assert without_id < with_id < 1.0
    # Two other flagged tax ids: nothing either way, never a veto.
    other, vetoed_by = judged(
        {"name": "Jane Doe", "tax_id": "180-4974"}, {"name": "Jane Doe", "tax_id": "180-4975"}
    )
    assert other == pytest.approx(without_id) and vetoed_by == ()


def test_a_shared_switchboard_is_not_counted_twice() -> None:
    # Two restaurants of one hotel: one street address and its phone; the phone adds
    # nothing the address has not said, at the same address or written another way.
    model = default_model(VENDOR)
    for line in ("1 Main St", "1 Main Street"):
        left = standardize(VENDOR, {"name": "Palace Court", **SITE}).values
        right = standardize(VENDOR, {"name": "Cafe Roma", **SITE, "address_line1": line}).values
        phone = {c.comparison: c.level for c in model.score(left, right).contributions}["phone"]
        assert phone is None
    elsewhere = standardize(VENDOR, {"name": "Cafe Roma", **SITE, "address_line1": "9 Elm St"})
    contributions = model.score(left, elsewhere.values).contributions
    assert {c.comparison: c.level for c in contributions}["phone"] == "exact"
