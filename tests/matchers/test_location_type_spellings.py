"""The shipped location-type vocabulary: the spellings of hospital ERPs, EHRs and
procurement systems read as one canonical code each, and a different kind a veto only
when both values are known kinds."""

from __future__ import annotations

import numpy as np
import pytest

from matchers import CodeComparison, shipped_code_vocabularies
from matchers.coded import raw_code_token
from matchers.comparisons import MISSING

TYPES = shipped_code_vocabularies()["location_type"]
KIND = CodeComparison("location_type")


@pytest.mark.parametrize(
    ("spelling", "code"),
    [
        pytest.param("NURS UNIT", "NURSING_UNIT", id="erp-abbreviation"),
        pytest.param("Nursing Unit", "NURSING_UNIT", id="ehr-words"),
        pytest.param("NU", "NURSING_UNIT", id="initials"),
        pytest.param("nursing_unit", "NURSING_UNIT", id="the-code-itself"),
        pytest.param("DEPT", "DEPARTMENT", id="dept"),
        pytest.param("Dept.", "DEPARTMENT", id="dept-with-period"),
        pytest.param("Department", "DEPARTMENT", id="department"),
        pytest.param("Ship-To", "SHIP_TO", id="ship-to"),
        pytest.param("SHIPTO", "SHIP_TO", id="shipto-glued"),
        pytest.param("Receiving Dock", "SHIP_TO", id="dock"),
        pytest.param("Stockroom", "STOREROOM", id="stockroom"),
        pytest.param("Store Room", "STOREROOM", id="store-room"),
        pytest.param("INVENTORY LOCATION", "STOREROOM", id="inventory-location"),
        pytest.param("PAR location", "PAR", id="par-location"),
        pytest.param("Bill-To", "BILL_TO", id="bill-to"),
        pytest.param("HOSP", "FACILITY", id="hospital-abbreviation"),
        pytest.param("Bldg", "BUILDING", id="building"),
        pytest.param("OR", "PROCEDURE_AREA", id="operating-room"),
        pytest.param("Cath Lab", "PROCEDURE_AREA", id="cath-lab"),
        pytest.param("Rx", "PHARMACY", id="pharmacy"),
        pytest.param("Clinical Laboratory", "LAB", id="lab"),
        pytest.param("Clinic", "CLINIC", id="clinic"),
        # Not one known spelling as a whole: no code (and so never a veto).
        pytest.param("wa", None, id="fhir-physical-type"),
        pytest.param("CATH LAB | DEPT", None, id="two-kinds"),
        pytest.param("Main OR", None, id="a-word-more"),
        pytest.param("", None, id="empty"),
    ],
)
def test_spellings_read_as_their_code(spelling: str, code: str | None) -> None:
    assert TYPES.canonical(spelling) == code


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("CATH LAB | DEPT", "Cath Lab | Department"),
        ("Main OR", "MAIN OPERATING ROOM"),
        ("4 WEST NURS UNIT", "4 West Nursing Unit"),
    ],
)
def test_two_spellings_of_one_unknown_value_are_spelled_alike(left: str, right: str) -> None:
    assert TYPES.spelled(left) == TYPES.spelled(right)
    assert TYPES.spelled(left) != TYPES.spelled("Ship-To")


def _level(left: str | None, right: str | None) -> str | None:
    a, b = KIND.prepare({"location_type": left}), KIND.prepare({"location_type": right})
    found = KIND.level(a, b)
    lc, rc = KIND.encode([a], [b])
    batch = int(KIND.batch_levels(lc, rc, np.array([0]), np.array([0]))[0])
    assert batch == (MISSING if found is None else found)
    return None if found is None else KIND.levels[found]


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        # Two known kinds: the same, or two kinds (the spec vetoes "different").
        pytest.param("NURSING_UNIT", "NURSING_UNIT", "exact", id="same-kind"),
        pytest.param("SHIP_TO", "NURSING_UNIT", "different", id="two-known-kinds"),
        # An unknown spelling never says "different": not against a known kind, not
        # against another system's spelling.
        pytest.param(
            raw_code_token("EHR", "WA"), "NURSING_UNIT", None, id="unknown-against-a-kind"
        ),
        pytest.param("DEPARTMENT", raw_code_token("ERP", "ZZ9"), None, id="a-kind-against-unknown"),
        pytest.param(
            raw_code_token("EHR", TYPES.spelled("CATH LAB | DEPT")),
            raw_code_token("ERP", TYPES.spelled("Cath Lab | Department")),
            "exact",
            id="one-unknown-value-two-spellings",
        ),
        # Within one system, two of its own values are two values.
        pytest.param(raw_code_token("ERP", "ZZ9"), raw_code_token("ERP", "ZZ8"), "different"),
    ],
)
def test_only_known_kinds_can_differ(left: str, right: str, expected: str | None) -> None:
    assert _level(left, right) == expected
