from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from mdm.specs import get_spec
from mdm.survivorship import Member, Override, survive

T0 = datetime(2026, 1, 1, tzinfo=UTC)
VENDOR = get_spec("vendor")


def member(record_id: int, system: str, days: int, **values: object) -> Member:
    return Member(record_id, system, f"{system}-{record_id}", values, T0 + timedelta(days=days))


def test_source_priority_then_most_recent() -> None:
    members = [
        member(1, "PROCUREMENT", 5, name="NORTHWIND SURGICAL", city="Boston"),
        member(2, "ERP", 1, name="Northwind Surgical Inc"),
        member(3, "ERP", 3, name="Northwind Surgical Incorporated"),
    ]
    result = survive(VENDOR, members)
    assert result.attributes["name"] == "Northwind Surgical Incorporated"  # ERP, newest
    assert result.lineage["name"] == {
        "rule": "source_priority",
        "source_record_id": 3,
        "system": "ERP",
        "source_id": "ERP-3",
    }
    # The only value wins whatever its system's rank.
    assert result.attributes["city"] == "Boston"


def test_attribute_priority_beats_entity_priority() -> None:
    members = [
        member(1, "ERP", 0, address_line1="1 MAIN ST"),
        member(2, "PROCUREMENT", 0, address_line1="PO BOX 44"),
    ]
    # Vendor addresses trust procurement first (remit-to is maintained there).
    assert survive(VENDOR, members).attributes["address_line1"] == "PO BOX 44"


def test_override_wins_with_lineage() -> None:
    members = [member(1, "ERP", 0, name="Acme")]
    result = survive(VENDOR, members, [Override("name", "ACME MEDICAL", "steward", "legal name")])
    assert result.attributes["name"] == "ACME MEDICAL"
    assert result.lineage["name"]["rule"] == "override"
    assert result.lineage["name"]["actor"] == "steward"


def test_result_does_not_depend_on_member_order() -> None:
    members = [
        member(
            i, random.Random(i).choice(["ERP", "EHR", "PROCUREMENT", "OTHER"]), i % 3, name=f"N{i}"
        )
        for i in range(12)
    ]
    expected = survive(VENDOR, members)
    for seed in range(5):
        shuffled = members[:]
        random.Random(seed).shuffle(shuffled)
        assert survive(VENDOR, shuffled) == expected
