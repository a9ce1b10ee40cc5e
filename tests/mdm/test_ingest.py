"""The ingest pipeline on both databases: idempotency, versions, deletes, exact matching."""

from __future__ import annotations

import pytest
from sqlalchemy import event, func, select

from mdm.errors import InvalidAttributeError, MdmError
from mdm.hub import Hub
from mdm.ingest import IngestStatus, RecordInput
from mdm.matching import block_sizes
from mdm.store import (
    ChangeEvent,
    GoldenHistory,
    GoldenRecord,
    IngestRejection,
    MatchCandidate,
    MatchKeyRow,
    SourceRecord,
)

VALID_GTIN = "00036000291452"


def vendor(system: str, source_id: str, **attributes: object) -> RecordInput:
    return RecordInput("vendor", system, source_id, attributes)


def ingest(hub: Hub, record: RecordInput):
    with hub.database.session() as session:
        return hub.ingestor.ingest(session, record, actor="test")


def count(hub: Hub, model: type) -> int:
    with hub.database.read_session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_same_content_twice_is_a_no_op(hub: Hub) -> None:
    record = vendor("ERP", "V1001", name="Northwind Surgical", tax_id="41-2847561")
    first = ingest(hub, record)
    events = count(hub, ChangeEvent)
    second = ingest(hub, record)
    assert first.status is IngestStatus.CREATED
    assert second.status is IngestStatus.UNCHANGED
    assert second.golden_id == first.golden_id
    assert second.version == 1
    assert count(hub, ChangeEvent) == events == 1
    assert count(hub, GoldenHistory) == 1


def test_changed_content_makes_a_new_version(hub: Hub) -> None:
    ingest(hub, vendor("ERP", "V1001", name="Northwind Surgical", city="Boston"))
    outcome = ingest(hub, vendor("ERP", "V1001", name="Northwind Surgical", city="Cambridge"))
    assert outcome.status is IngestStatus.UPDATED
    assert outcome.version == 2
    with hub.database.read_session() as session:
        golden = session.scalar(select(GoldenRecord))
        assert golden is not None
        assert golden.attributes["city"] == "Cambridge"
        assert golden.version == 2
        kinds = session.scalars(select(ChangeEvent.kind).order_by(ChangeEvent.seq)).all()
        history = session.execute(
            select(GoldenHistory.version, GoldenHistory.attributes).order_by(GoldenHistory.version)
        ).all()
    assert kinds == ["created", "updated"]
    assert [(v, a["city"]) for v, a in history] == [(1, "Boston"), (2, "Cambridge")]


def keys_of(hub: Hub, source_id: str) -> set[str]:
    with hub.database.read_session() as session:
        return set(
            session.scalars(
                select(MatchKeyRow.key)
                .join(SourceRecord, SourceRecord.id == MatchKeyRow.source_record_id)
                .where(SourceRecord.source_id == source_id)
            )
        )


def test_a_changed_record_has_the_keys_of_its_new_version_only(hub: Hub) -> None:
    ingest(hub, vendor("ERP", "V1001", name="Northwind Surgical", tax_id="41-2847561"))
    first = keys_of(hub, "V1001")
    assert "tax_id:41-2847561" in first
    ingest(hub, vendor("ERP", "V1001", name="Southwind Medical", duns="150483782"))
    second = keys_of(hub, "V1001")
    assert "duns:150483782" in second and "tax_id:41-2847561" not in second
    assert not first & second
    ingest(hub, RecordInput("vendor", "ERP", "V1001", {}, is_deleted=True))
    assert keys_of(hub, "V1001") == set()


def test_a_new_record_deletes_no_match_keys(hub: Hub) -> None:
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(hub.database.engine, "before_cursor_execute", count)
    try:
        ingest(hub, vendor("ERP", "V1001", name="Northwind Surgical", tax_id="41-2847561"))
    finally:
        event.remove(hub.database.engine, "before_cursor_execute", count)
    assert not [s for s in statements if s.lstrip().upper().startswith("DELETE")]
    assert len(keys_of(hub, "V1001")) >= 2


def test_shared_valid_identifier_joins_one_golden_record(hub: Hub) -> None:
    a = ingest(hub, vendor("ERP", "V1001", name="Northwind Surgical Inc", tax_id="41-2847561"))
    b = ingest(hub, vendor("PROCUREMENT", "SUP-1", name="NORTHWIND SURGICAL", tax_id="412847561"))
    c = ingest(hub, vendor("EHR", "ORG-9", name="Northwind Surgical Supply"))
    assert a.golden_id == b.golden_id
    assert c.golden_id != a.golden_id
    with hub.database.read_session() as session:
        golden = session.scalar(select(GoldenRecord).where(GoldenRecord.public_id == a.golden_id))
        assert golden is not None
        # ERP outranks PROCUREMENT for the vendor name; lineage says so.
        assert golden.attributes["name"] == "Northwind Surgical Inc"
        assert golden.lineage["name"]["system"] == "ERP"
        assert golden.lineage["name"]["rule"] == "source_priority"
        assert golden.attributes["tax_id"] == "41-2847561"


def test_bad_check_digit_is_flagged_not_matched(hub: Hub) -> None:
    good = RecordInput("item", "ERP", "100234", {"description": "GLOVE", "gtin": VALID_GTIN})
    bad_gtin = VALID_GTIN[:-1] + "3"
    bad = RecordInput("item", "EHR", "S-1", {"description": "GLOVE", "gtin": bad_gtin})
    first = ingest(hub, good)
    second = ingest(hub, bad)
    assert second.status is IngestStatus.CREATED
    assert second.golden_id != first.golden_id
    assert [f["code"] for f in second.findings] == ["BAD_CHECK_DIGIT"]
    assert second.findings[0]["attribute"] == "gtin"
    with hub.database.read_session() as session:
        row = session.scalar(select(SourceRecord).where(SourceRecord.source_id == "S-1"))
        assert row is not None
        assert row.raw["gtin"] == bad_gtin  # kept as delivered
        assert "gtin" not in row.standardized  # never used


def test_junk_identifier_never_matches(hub: Hub) -> None:
    a = ingest(hub, vendor("ERP", "V1", name="Acme Medical", duns="000000000"))
    b = ingest(hub, vendor("PROCUREMENT", "S1", name="Zeta Labs", duns="000000000"))
    assert a.golden_id != b.golden_id
    assert b.findings and b.findings[0]["code"] == "JUNK_VALUE"


def test_soft_delete_reruns_survivorship_and_retires_empty_golden(hub: Hub) -> None:
    a = ingest(hub, vendor("ERP", "V1", name="Acme Medical LLC", tax_id="41-2847561"))
    ingest(hub, vendor("PROCUREMENT", "S1", name="ACME MEDICAL", tax_id="41-2847561"))
    deleted = ingest(hub, RecordInput("vendor", "ERP", "V1", {"name": "x"}, is_deleted=True))
    assert deleted.status is IngestStatus.DELETED
    with hub.database.read_session() as session:
        golden = session.scalar(select(GoldenRecord).where(GoldenRecord.public_id == a.golden_id))
        assert golden is not None
        assert golden.attributes["name"] == "ACME MEDICAL"
        assert golden.status == "active"
    ingest(hub, RecordInput("vendor", "PROCUREMENT", "S1", {}, is_deleted=True))
    with hub.database.read_session() as session:
        golden = session.scalar(select(GoldenRecord).where(GoldenRecord.public_id == a.golden_id))
        assert golden is not None
        assert golden.status == "retired"
        kinds = session.scalars(select(ChangeEvent.kind).order_by(ChangeEvent.seq)).all()
    assert kinds[-1] == "retired"


def test_different_tax_ids_are_never_merged_whatever_else_agrees(hub: Hub) -> None:
    # Same name and DUNS (a site) but different tax ids: two legal entities.
    a = ingest(hub, vendor("ERP", "V1", name="Acme", tax_id="41-2847561", duns="150483782"))
    b = ingest(hub, vendor("PROCUREMENT", "S1", name="Acme", tax_id="52-1938476", duns="150483782"))
    assert a.golden_id != b.golden_id
    with hub.database.read_session() as session:
        assert session.scalar(select(MatchCandidate)) is None


def test_record_sure_of_two_golden_records_merges_them(hub: Hub) -> None:
    a = ingest(hub, vendor("ERP", "V1", name="Acme Medical", tax_id="41-2847561"))
    b = ingest(hub, vendor("EHR", "O1", name="Acme Medical", duns="150483782"))
    assert a.golden_id != b.golden_id  # a name alone is not enough
    c = ingest(
        hub,
        vendor("PROCUREMENT", "S1", name="Acme Medical", tax_id="41-2847561", duns="150483782"),
    )
    assert c.golden_id in {a.golden_id, b.golden_id}
    with hub.database.read_session() as session:
        goldens = session.scalars(
            select(SourceRecord.golden_id).where(SourceRecord.entity_type == "vendor").distinct()
        ).all()
        kinds = session.scalars(select(ChangeEvent.kind)).all()
    assert len(goldens) == 1
    assert "merged" in kinds


def test_bridge_across_a_steward_rejection_goes_to_review(hub: Hub) -> None:
    a = ingest(hub, vendor("ERP", "V1", name="Acme Medical", tax_id="41-2847561"))
    b = ingest(hub, vendor("EHR", "O1", name="Acme Medical", duns="150483782"))
    with hub.database.session() as session:
        o1 = session.scalar(select(SourceRecord).where(SourceRecord.source_id == "O1"))
        golden_a = session.scalar(select(GoldenRecord).where(GoldenRecord.public_id == a.golden_id))
        assert o1 is not None and golden_a is not None
        session.add(
            MatchCandidate(
                entity_type="vendor",
                source_record_id=o1.id,
                golden_id=golden_a.id,
                score=0.5,
                explanation={},
                status="rejected",
                decided_by="steward",
                reason="different company",
            )
        )
    c = ingest(
        hub,
        vendor("PROCUREMENT", "S1", name="Acme Medical", tax_id="41-2847561", duns="150483782"),
    )
    with hub.database.read_session() as session:
        goldens = session.scalars(
            select(SourceRecord.golden_id).where(SourceRecord.entity_type == "vendor").distinct()
        ).all()
        pending = session.scalars(
            select(MatchCandidate).where(MatchCandidate.status == "pending")
        ).all()
    assert len(goldens) == 2  # the rejection holds
    assert c.golden_id in {a.golden_id, b.golden_id}
    assert len(pending) == 1


def test_a_lone_record_that_gains_an_identifier_folds_into_its_match(hub: Hub) -> None:
    a = ingest(hub, vendor("ERP", "V1", name="Acme", tax_id="41-2847561"))
    b = ingest(hub, vendor("PROCUREMENT", "S1", name="Acme"))
    assert a.golden_id != b.golden_id
    c = ingest(hub, vendor("PROCUREMENT", "S1", name="Acme", tax_id="41-2847561"))
    assert c.golden_id == a.golden_id
    with hub.database.read_session() as session:
        old = session.scalar(select(GoldenRecord).where(GoldenRecord.public_id == b.golden_id))
        assert old is not None and old.status == "merged"
        survivor = session.get(GoldenRecord, old.merged_into_id)
        assert survivor is not None and survivor.public_id == a.golden_id


@pytest.mark.parametrize(
    ("attributes", "name"),
    [
        pytest.param({"pack_quantity": "lots"}, "pack_quantity", id="bad-integer"),
        pytest.param({"sterile": "maybe"}, "sterile", id="bad-boolean"),
        pytest.param({"price": "ten"}, "price", id="bad-number"),
        pytest.param({"price": "1.2.3,4"}, "price", id="broken-grouping"),
        pytest.param({"price": "1,23.45"}, "price", id="broken-us-grouping"),
        pytest.param({"pack_quantity": "9" * 5000}, "pack_quantity", id="huge-integer"),
        pytest.param({"uom": {"not": "a string"}}, "uom", id="not-a-single-value"),
    ],
)
def test_a_malformed_value_is_flagged_and_the_record_lands(
    hub: Hub, attributes: dict[str, object], name: str
) -> None:
    outcome = ingest(hub, RecordInput("item", "ERP", "1", {"description": "GLOVE", **attributes}))
    assert outcome.status is IngestStatus.CREATED
    assert [(f["attribute"], f["code"]) for f in outcome.findings] == [(name, "INVALID_VALUE")]
    with hub.database.read_session() as session:
        row = session.scalar(select(SourceRecord))
        assert row is not None and name not in row.standardized
        assert row.raw[name] == attributes[name]  # kept as delivered


@pytest.mark.parametrize(
    ("value", "amount", "currency"),
    [
        pytest.param("69.71 gbp", 69.71, "GBP", id="trailing-code"),
        pytest.param("USD 12.00", 12.0, "USD", id="leading-code"),
        pytest.param("$1,234.50", 1234.5, None, id="dollar"),
        pytest.param("£4.50", 4.5, "£", id="pound"),
        pytest.param("12,5 EUR", 12.5, "EUR", id="decimal-comma"),
        pytest.param("1.234,56 €", 1234.56, "€", id="european-grouping"),
        pytest.param("1 234,50", 1234.5, None, id="space-grouping"),
        pytest.param("1'234.50", 1234.5, None, id="apostrophe-grouping"),
        pytest.param("12,345,678", 12345678.0, None, id="us-grouping"),
        pytest.param("0,125", 0.125, None, id="leading-zero-is-no-grouping"),
        pytest.param("-1.234.567,8", -1234567.8, None, id="european-millions"),
    ],
)
def test_a_price_as_systems_write_it_is_the_amount_and_a_currency_is_flagged(
    hub: Hub, value: str, amount: float, currency: str | None
) -> None:
    outcome = ingest(hub, RecordInput("item", "ERP", "1", {"description": "GLOVE", "price": value}))
    assert outcome.status is IngestStatus.CREATED
    flagged = [(f["attribute"], f["code"]) for f in outcome.findings]
    assert flagged == ([("price", "CURRENCY_LEFT_OUT")] if currency else [])
    if currency:
        assert currency in outcome.findings[0]["message"]
    with hub.database.read_session() as session:
        row = session.scalar(select(SourceRecord))
        assert row is not None and row.standardized["price"] == amount


@pytest.mark.parametrize(
    "value",
    ["2024-01-31", "01/31/2024", "31-Jan-2024", "20240131", "Jan 31, 2024", "31/01/2024",
     "31.01.2024", "31 January 2024"],
)  # fmt: skip
def test_a_date_in_another_common_format_is_read(hub: Hub, value: str) -> None:
    outcome = ingest(hub, RecordInput("contract", "ERP", "C1", {"effective_date": value}))
    assert outcome.status is IngestStatus.CREATED and not outcome.findings
    with hub.database.read_session() as session:
        row = session.scalar(select(SourceRecord))
        assert row is not None and row.standardized["effective_date"] == "2024-01-31"


def test_a_month_first_date_is_read_month_first() -> None:
    from mdm.standardize import _to_date

    assert _to_date("03/04/2024", "effective_date", None) == "2024-03-04"


@pytest.mark.parametrize(
    ("attributes", "field"),
    [
        pytest.param({"colour": "blue"}, "attributes.colour", id="unknown-attribute"),
    ],
)
def test_wrong_attribute_is_refused_and_nothing_written(
    hub: Hub, attributes: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidAttributeError) as caught:
        ingest(hub, RecordInput("item", "ERP", "1", {"description": "GLOVE", **attributes}))
    assert caught.value.field == field
    assert caught.value.code == "INVALID_ATTRIBUTE"
    assert count(hub, SourceRecord) == count(hub, GoldenRecord) == count(hub, ChangeEvent) == 0


@pytest.mark.parametrize(
    ("record", "code", "field"),
    [
        pytest.param(
            RecordInput("vendor", "SAP", "1", {}), "UNKNOWN_SYSTEM", "system", id="system"
        ),
        pytest.param(
            RecordInput("patient", "ERP", "1", {}), "UNKNOWN_ENTITY_TYPE", "entityType", id="type"
        ),
        pytest.param(
            RecordInput("vendor", "ERP", "  ", {}), "MISSING_SOURCE_ID", "sourceId", id="source-id"
        ),
    ],
)
def test_bad_envelope_is_refused(hub: Hub, record: RecordInput, code: str, field: str) -> None:
    with pytest.raises(MdmError) as caught:
        ingest(hub, record)
    assert (caught.value.code, caught.value.field) == (code, field)
    assert count(hub, SourceRecord) == 0


def test_batch_keeps_good_records_and_rejections_with_reasons(hub: Hub) -> None:
    records = [
        vendor("ERP", "V1", name="Acme"),
        RecordInput("vendor", "ERP", "V2", {"name": "Beta", "fax_number": "555"}),
        vendor("ERP", "V3", name="Gamma"),
    ]
    with hub.database.session() as session:
        outcomes = hub.ingestor.ingest_many(session, records, actor="test")
    assert [o.status for o in outcomes] == [
        IngestStatus.CREATED,
        IngestStatus.REJECTED,
        IngestStatus.CREATED,
    ]
    assert count(hub, SourceRecord) == 2
    with hub.database.read_session() as session:
        rejection = session.scalar(select(IngestRejection))
        assert rejection is not None
        assert rejection.code == "INVALID_ATTRIBUTE"
        assert rejection.field == "attributes.fax_number"
        assert rejection.payload["sourceId"] == "V2"
        assert rejection.payload["attributes"]["name"] == "Beta"


def test_oversize_batch_writes_nothing(hub: Hub) -> None:
    records = [vendor("ERP", f"V{i}", name="x") for i in range(hub.ingestor.max_batch_size + 1)]
    with pytest.raises(MdmError) as caught, hub.database.session() as session:
        hub.ingestor.ingest_many(session, records)
    assert caught.value.code == "BATCH_TOO_LARGE"
    assert count(hub, SourceRecord) == 0


def test_cost_center_code_matches_only_within_its_company(hub: Hub) -> None:
    a = ingest(
        hub,
        RecordInput(
            "cost_center",
            "ERP",
            "1000-4010",
            {"company": "1000", "code": "4010", "name": "Pharmacy"},
        ),
    )
    b = ingest(
        hub,
        RecordInput(
            "cost_center",
            "ERP",
            "2000-4010",
            {"company": "2000", "code": "4010", "name": "Pharmacy"},
        ),
    )
    c = ingest(
        hub,
        RecordInput(
            "cost_center",
            "PROCUREMENT",
            "CC-1",
            {"company": "1000", "code": "4010", "name": "PHARMACY"},
        ),
    )
    assert a.golden_id != b.golden_id
    assert c.golden_id == a.golden_id


def test_block_sizes_count_each_key_up_to_the_cap(hub: Hub) -> None:
    """Candidate search sizes a newcomer's blocks counting at most ``cap`` rows per key (a
    key held by 200,000 records is known to be too large after 201): every key's answer is
    its true block size, or the cap when the block is larger."""
    for n in range(7):
        ingest(hub, vendor("ERP", f"V{n}", name=f"Medline Industries {n}", city="Northfield"))
    ingest(hub, vendor("EHR", "X1", name="Cardinal Health", city="Dublin"))
    with hub.database.read_session() as session:
        true = dict(
            session.execute(
                select(MatchKeyRow.key, func.count())
                .where(MatchKeyRow.entity_type == "vendor")
                .group_by(MatchKeyRow.key)
            ).all()
        )
        keys = sorted(true)
        assert max(true.values()) == 7 and min(true.values()) == 1
        for cap in (1, 3, 7, 50):
            assert block_sizes(session, "vendor", [*keys, "no such key"], cap) == [
                (key, min(true[key], cap)) for key in keys
            ]
        assert block_sizes(session, "item", keys, 5) == []  # another type's keys
        assert block_sizes(session, "vendor", [], 5) == []
