"""What feeds carry of parties has somewhere to go and counts as evidence: a contract's
supplier name and DUNS, a cost center's GL segment, department and owner, a vendor's
e-mail and country (standardized; matched record by record, SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest

from mdm.hub import Hub
from mdm.ingest import IngestOutcome, RecordInput
from mdm.specs import DEFAULT_SPECS
from mdm.standardize import standardize

VENDOR = DEFAULT_SPECS.get_spec("vendor")


@pytest.mark.parametrize(
    ("attribute", "raw", "value", "finding"),
    [
        pytest.param("email", "Orders@Acme.COM", "orders@acme.com", None, id="email"),
        pytest.param("email", "Acme <AP@acme.com>", "ap@acme.com", None, id="email-display"),
        pytest.param("email", "orders at acme.com", None, "BAD_FORMAT", id="email-malformed"),
        pytest.param("country", "usa", "US", None, id="country-alpha-3"),
        pytest.param("country", "Canada", "CA", None, id="country-name"),
        pytest.param("country", "de", "DE", None, id="country-alpha-2"),
        pytest.param("country", "Narnia", "NARNIA", "UNMAPPED_VALUE", id="country-unknown"),
    ],
)
def test_vendor_email_and_country_are_standardized(
    attribute: str, raw: str, value: str | None, finding: str | None
) -> None:
    std = standardize(VENDOR, {"name": "Acme", attribute: raw}, system="ERP")
    assert std.values.get(attribute) == value
    assert [f.code for f in std.findings] == ([finding] if finding else [])


def _ingest(
    hub: Hub, entity_type: str, system: str, source_id: str, **values: Any
) -> IngestOutcome:
    with hub.database.session() as session:
        return hub.ingestor.ingest(
            session, RecordInput(entity_type, system, source_id, values), actor="test"
        )


CONTRACT = {
    "name": "Nitrile Exam Gloves Powder Free",
    "effective_date": "2024-01-01",
    "expiration_date": "2026-12-31",
}


@pytest.mark.parametrize(
    ("left", "right", "is_same"),
    [
        pytest.param(
            {"supplier_duns": "804735132"}, {"supplier_duns": "80-473-5132"}, True, id="same-duns"
        ),
        pytest.param(
            {"supplier_duns": "804735132"}, {"supplier_duns": "617382904"}, False, id="other-duns"
        ),
        pytest.param(
            {"supplier_name": "Acme Medical, Inc."},
            {"supplier_name": "ACME MEDICAL LLC"},
            True,
            id="same-supplier-name",
        ),
        pytest.param(
            {"supplier_name": "Acme Medical"},
            {"supplier_name": "Zenith Surgical"},
            False,
            id="other-supplier-name",
        ),
    ],
)
def test_a_contracts_supplier_is_evidence(
    hub: Hub, left: dict[str, str], right: dict[str, str], is_same: bool
) -> None:
    # Two systems' own numberings: the supplier, the title and the dates decide.
    first = _ingest(
        hub, "contract", "PROCUREMENT", "P1", contract_number="AGR-682739", **CONTRACT, **left
    )
    other = _ingest(hub, "contract", "ERP", "E1", contract_number="PP-SU-1931", **CONTRACT, **right)
    assert (other.golden_id == first.golden_id) is is_same


def test_a_resolved_vendor_reference_counts_once(hub: Hub) -> None:
    _ingest(hub, "vendor", "ERP", "V1", name="Acme Medical", tax_id="41-7392815")
    _ingest(hub, "vendor", "PROCUREMENT", "S1", name="Acme Medical", tax_id="41-7392815")
    _ingest(hub, "contract", "PROCUREMENT", "P1", contract_number="AGR-682739", vendor="S1",
            supplier_duns="804735132", **CONTRACT)  # fmt: skip
    with hub.database.read_session() as session:
        scored = hub.ingestor.matcher.score(  # type: ignore[attr-defined]
            session,
            DEFAULT_SPECS.get_spec("contract"),
            {
                **CONTRACT,
                "vendor": {"system": "ERP", "source_id": "V1"},
                "supplier_duns": "804735132",
            },
            None,
            ["b:supplier_duns:804735132"],
            system="ERP",
            explain_all=True,
        )
    (candidate,) = scored
    levels = {c["comparison"]: c["level"] for c in candidate.explanation["contributions"]}
    assert levels["vendor"] == "same"
    assert "supplier" not in levels or levels["supplier"] is None


@pytest.mark.parametrize(
    ("gl_segment", "is_same"),
    [pytest.param("320-8020", True, id="same-gl-string"), pytest.param(None, False, id="none")],
)
def test_a_gl_segment_is_strong_evidence(hub: Hub, gl_segment: str | None, is_same: bool) -> None:
    first = _ingest(
        hub,
        "cost_center",
        "ERP",
        "1000-8020",
        code="8020",
        name="PHARMACY",
        gl_segment="320.8020",
        department="Pharmacy",
        owner="Director of Pharmacy",
    )
    extra = {"gl_segment": gl_segment} if gl_segment else {}
    # The procurement platform knows no code: the GL string it books to tells.
    other = _ingest(hub, "cost_center", "PROCUREMENT", "CC-17", name="Pharmacy Services",
                    department="PHARMACY", **extra)  # fmt: skip
    assert (other.golden_id == first.golden_id) is is_same


def test_a_vendors_email_and_country_are_evidence(hub: Hub) -> None:
    _ingest(hub, "vendor", "ERP", "V1", name="Acme Medical Supply", email="orders@acmemed.com",
            country="US", city="Boston", state="MA")  # fmt: skip
    spec = DEFAULT_SPECS.get_spec("vendor")

    def levels(**values: Any) -> dict[str, tuple[str, float]]:
        with hub.database.read_session() as session:
            (candidate,) = hub.ingestor.matcher.score(  # type: ignore[attr-defined]
                session, spec, {"name": "Acme Medical Supply", **values}, None,
                ["b:name_tokens:ACME MEDICAL SUPPLY"], system="PROCUREMENT", explain_all=True,
            )  # fmt: skip
        return {
            c["comparison"]: (c["level"], c["weight"])
            for c in candidate.explanation["contributions"]
        }

    same = levels(email="ORDERS@ACMEMED.COM", country="USA")
    assert same["email"][0] == "exact" and same["email"][1] > 5
    assert levels(email="billing@acmemed.com")["email"][0] == "same_domain"
    abroad = levels(country="Canada")
    assert abroad["country"][0] == "different" and abroad["country"][1] < -4
