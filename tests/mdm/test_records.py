"""Reading golden and source records (``mdm.records``) on both databases."""

from __future__ import annotations

from mdm import records
from mdm.hub import Hub
from mdm.ingest import RecordInput

VENDORS = [
    ("V1", "Northwind Surgical", "41-2847561"),
    ("V2", "Bluegrass Medical Supply", "52-1938475"),
    ("V3", "Cascade Instruments", "63-4729184"),
]


def _load(hub: Hub) -> None:
    with hub.database.session() as session:
        hub.ingestor.ingest_many(
            session,
            [
                RecordInput("vendor", "ERP", sid, {"name": name, "tax_id": tax_id})
                for sid, name, tax_id in VENDORS
            ],
        )


def test_pages_follow_the_key_and_say_whether_more_follow(hub: Hub) -> None:
    _load(hub)
    with hub.database.read_session() as session:
        first = records.golden_page(session, "vendor", first=2)
        rest = records.golden_page(session, "vendor", first=2, after=first.rows[-1].id)
        none = records.golden_page(session, "location", first=2)
    assert [r.attributes["name"] for r in first.rows] == [v[1] for v in VENDORS[:2]]
    assert first.has_next
    assert [r.attributes["name"] for r in rest.rows] == [VENDORS[2][1]]
    assert not rest.has_next
    assert none.rows == [] and not none.has_next


def test_page_filters(hub: Hub) -> None:
    _load(hub)
    by_tax_id = records.GoldenFilter(attributes=[("tax_id", "52-1938475")])
    merged_only = records.GoldenFilter(status="merged")
    with hub.database.read_session() as session:
        [found] = records.golden_page(session, "vendor", first=10, where=by_tax_id).rows
        assert records.golden_page(session, "vendor", first=10, where=merged_only).rows == []
        latest = max(r.updated_at for r in records.golden_page(session, "vendor", first=10).rows)
        later = records.GoldenFilter(updated_after=latest)
        assert records.golden_page(session, "vendor", first=10, where=later).rows == []
    assert found.attributes["name"] == "Bluegrass Medical Supply"


def test_look_ups_by_key_and_by_source_reference(hub: Hub) -> None:
    _load(hub)
    with hub.database.read_session() as session:
        v2 = records.source_record(session, "vendor", "ERP", "V2")
        assert v2 is not None and v2.golden_id is not None
        assert records.source_record(session, "vendor", "ERP", "nope") is None
        assert records.source_record(session, "location", "ERP", "V2") is None
        by_id = records.golden_by_ids(session, [v2.golden_id, 10**12])
        refs = [("vendor", "ERP", "V2"), ("vendor", "EHR", "V2"), ("location", "ERP", "V2")]
        by_ref = records.golden_by_source_refs(session, refs)
    assert list(by_id) == [v2.golden_id]
    assert list(by_ref) == [("vendor", "ERP", "V2")]
    assert by_ref[("vendor", "ERP", "V2")].id == v2.golden_id
