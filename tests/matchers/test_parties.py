"""E-mail addresses, countries and a contract's supplier as matching reads them."""

from __future__ import annotations

import pytest

from matchers import (
    CountryComparison,
    EmailComparison,
    SupplierComparison,
    is_free_mail,
    normalize_country,
    normalize_email,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("Orders@Acme.com", "orders@acme.com", id="lower-case"),
        pytest.param(" mailto:AP@acme-med.com ", "ap@acme-med.com", id="mailto"),
        pytest.param("Acme Orders <orders@acme.com>", "orders@acme.com", id="display-name"),
        pytest.param("first.last+po@sub.acme.co.uk", "first.last+po@sub.acme.co.uk", id="tags"),
        pytest.param("orders@acme", None, id="no-top-level-domain"),
        pytest.param("orders acme.com", None, id="no-at"),
        pytest.param("a b@acme.com", None, id="space"),
        pytest.param("@acme.com", None, id="no-local-part"),
        pytest.param("orders@@acme.com", None, id="two-ats"),
    ],
)
def test_normalize_email(raw: str, expected: str | None) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("US", "US", id="alpha-2"),
        pytest.param("us", "US", id="alpha-2-lower"),
        pytest.param("USA", "US", id="alpha-3"),
        pytest.param("U.S.A.", "US", id="dotted"),
        pytest.param("United States", "US", id="name"),
        pytest.param("United States of America", "US", id="long-name"),
        pytest.param("deu", "DE", id="alpha-3-lower"),
        pytest.param("Deutschland", "DE", id="own-name"),
        pytest.param("United Kingdom", "GB", id="uk-name"),
        pytest.param("UK", "GB", id="uk-abbreviation"),
        pytest.param("Côte d'Ivoire", "CI", id="accents"),
        pytest.param("Trinidad & Tobago", "TT", id="ampersand"),
        pytest.param("Narnia", None, id="unknown"),
        pytest.param("XX", None, id="unassigned-code"),
    ],
)
def test_normalize_country(raw: str, expected: str | None) -> None:
    assert normalize_country(raw) == expected


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("gmail.com", True),
        ("yahoo.co.uk", True),
        ("hotmail.fr", True),
        ("acme.com", False),
        ("mail.acme.com", False),
        ("live.acme-medical.com", False),
    ],
)
def test_free_mail_providers(domain: str, expected: bool) -> None:
    assert is_free_mail(domain) is expected


@pytest.mark.parametrize(
    ("left", "right", "level"),
    [
        pytest.param("orders@acme.com", "ORDERS@ACME.COM", "exact", id="same-address"),
        pytest.param("orders@acme.com", "billing@acme.com", "same_domain", id="company-domain"),
        pytest.param("acme.orders@gmail.com", "acme.ap@gmail.com", "different", id="free-mail"),
        pytest.param("acme@gmail.com", "acme@gmail.com", "exact", id="same-free-address"),
        pytest.param("orders@acme.com", "orders@zenith.com", "different", id="other-domain"),
        pytest.param("orders@acme.com", "not an address", None, id="malformed-is-missing"),
    ],
)
def test_email_levels(left: str, right: str, level: str | None) -> None:
    comparison = EmailComparison("email")
    found = comparison.level(
        comparison.prepare({"email": left}), comparison.prepare({"email": right})
    )
    assert (None if found is None else comparison.levels[found]) == level


def test_email_weights_order_the_evidence() -> None:
    weights = _weights(EmailComparison("email"))
    assert weights["exact"] > weights["same_domain"] > 0 > weights["different"] > -2


@pytest.mark.parametrize(
    ("left", "right", "level"),
    [
        ("US", "USA", "exact"),
        ("US", "CA", "different"),
        ("US", "Narnia", None),
    ],
)
def test_country_levels(left: str, right: str, level: str | None) -> None:
    comparison = CountryComparison("country")
    found = comparison.level(
        comparison.prepare({"country": left}), comparison.prepare({"country": right})
    )
    assert (None if found is None else comparison.levels[found]) == level


def test_another_country_is_strong_evidence_against() -> None:
    weights = _weights(CountryComparison("country"))
    assert weights["different"] < -4 and 0 < weights["exact"] < 1


@pytest.mark.parametrize(
    ("left", "right", "level"),
    [
        pytest.param(
            {"supplier_duns": "804735132"},
            {"supplier_duns": "80-473-5132"},
            "duns_exact",
            id="duns",
        ),
        pytest.param(
            {"supplier_duns": "804735132", "supplier_name": "Acme"},
            {"supplier_duns": "617382904", "supplier_name": "Acme"},
            "duns_different",
            id="duns-before-name",
        ),
        pytest.param(
            {"supplier_name": "Acme Medical, Inc."},
            {"supplier_name": "ACME MEDICAL LLC"},
            "name_exact",
            id="name-legal-form",
        ),
        pytest.param(
            {"supplier_name": "Acme Medical Supply"},
            {"supplier_name": "Acme Medical Supplies"},
            "name_similar",
            id="name-similar",
        ),
        pytest.param(
            {"supplier_name": "Acme Medical"},
            {"supplier_name": "Zenith Surgical"},
            "different",
            id="name-different",
        ),
        pytest.param(
            {"supplier_duns": "804735132", "vendor": "VEN-1"},
            {"supplier_duns": "804735132", "vendor": "VEN-2"},
            None,
            id="references-decide",
        ),
        pytest.param(
            {"supplier_duns": "804735132", "vendor": "VEN-1"},
            {"supplier_duns": "804735132"},
            "duns_exact",
            id="one-reference",
        ),
        pytest.param({"supplier_duns": "804735132"}, {"supplier_name": "Acme"}, None, id="no-pair"),
    ],
)
def test_supplier_levels(left: dict[str, str], right: dict[str, str], level: str | None) -> None:
    comparison = SupplierComparison()
    found = comparison.level(comparison.prepare(left), comparison.prepare(right))
    assert (None if found is None else comparison.levels[found]) == level


def test_supplier_duns_weighs_more_than_its_name() -> None:
    weights = _weights(SupplierComparison())
    assert weights["duns_exact"] > weights["name_exact"] > weights["name_similar"] > 0
    assert weights["duns_different"] < -4 < weights["different"] < 0


def _weights(
    comparison: EmailComparison | CountryComparison | SupplierComparison,
) -> dict[str, float]:
    from math import log2

    return {
        level: log2(m / u)
        for level, (m, u) in zip(comparison.levels, comparison.default_parameters, strict=True)
    }
