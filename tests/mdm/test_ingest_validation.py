"""Hostile values are screened record by record: one bad record never sinks its batch.

What no column can hold is refused (an identifier) or flagged and kept out of the values (an
attribute), before anything is written; a statement the database refuses anyway rolls back
that record only. Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from sqlalchemy import select

import mdm.ingest
from mdm.errors import NotFoundError
from mdm.hub import Hub
from mdm.ingest import IngestOutcome, IngestStatus, RecordInput, jsonable
from mdm.rejections import open_rejections, replay_rejections
from mdm.screening import MAX_DEPTH, storable
from mdm.store import IngestRejection, SourceRecord


def _nested(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = [value]
    return value


def _batch(hub: Hub, records: list[RecordInput]) -> list[IngestOutcome]:
    with hub.database.session() as session:
        return hub.ingestor.ingest_many(session, records)


def _vendor(source_id: str, **attributes: Any) -> RecordInput:
    return RecordInput("vendor", "ERP", source_id, attributes or {"name": "Acme Medical"})


def _stored(hub: Hub, source_id: str) -> SourceRecord | None:
    with hub.database.read_session() as session:
        return session.scalar(select(SourceRecord).where(SourceRecord.source_id == source_id))


@pytest.mark.parametrize(
    ("source_id", "field", "words"),
    [
        pytest.param("A\x00B", "sourceId", "NUL byte", id="nul"),
        pytest.param("A\ud800", "sourceId", "lone surrogate", id="lone-surrogate"),
        pytest.param("A\x01B", "sourceId", "control character", id="control-character"),
        pytest.param("A\tB", "sourceId", "control character", id="tab-inside"),
        pytest.param("X" * 201, "sourceId", "201 characters", id="over-the-column"),
        pytest.param("X" * 100_000, "sourceId", "100,000 characters", id="100k"),
    ],
)
def test_a_bad_source_id_is_rejected_and_the_rest_of_the_batch_lands(
    hub: Hub, source_id: str, field: str, words: str
) -> None:
    first, bad, last = _batch(hub, [_vendor("OK-1"), _vendor(source_id), _vendor("OK-2")])
    assert (first.status, last.status) == (IngestStatus.CREATED, IngestStatus.CREATED)
    assert bad.status is IngestStatus.REJECTED and bad.error is not None
    assert (bad.error.code, bad.error.field) == ("INVALID_INPUT", field)
    assert words in bad.error.message
    assert _stored(hub, "OK-1") is not None and _stored(hub, "OK-2") is not None
    with hub.database.read_session() as session:
        [rejection] = open_rejections(session)
    assert (rejection.code, rejection.field) == ("INVALID_INPUT", "sourceId")
    assert rejection.source_id is not None and len(rejection.source_id) <= 200
    assert "\x00" not in rejection.source_id and "\ud800" not in rejection.source_id


def test_a_rejected_nul_id_is_kept_escaped_and_marked_altered(hub: Hub) -> None:
    _batch(hub, [_vendor("A\x00B", name="Acme\x00", tax_id=2**80)])
    with hub.database.read_session() as session:
        [rejection] = open_rejections(session)
    assert rejection.source_id == "A\\u0000B"
    assert rejection.payload["sourceId"] == "A\\u0000B"
    assert rejection.payload["attributes"] == {
        "name": "Acme\\u0000",
        "tax_id": "1208925819614629174706176",
    }
    assert rejection.payload["altered"] == ["sourceId", "attributes"]


@pytest.mark.parametrize(
    ("system", "words"),
    [
        pytest.param("ERP\x00", "NUL byte", id="nul"),
        pytest.param("\udfff", "lone surrogate", id="lone-surrogate"),
        pytest.param("E" * 65, "65 characters", id="over-the-column"),
    ],
)
def test_a_bad_system_is_rejected_by_name(hub: Hub, system: str, words: str) -> None:
    [outcome] = _batch(hub, [RecordInput("vendor", system, "V1", {"name": "Acme"})])
    assert outcome.error is not None
    assert (outcome.error.code, outcome.error.field) == ("INVALID_INPUT", "system")
    assert words in outcome.error.message


def test_an_unknown_attribute_name_with_a_nul_is_refused_with_a_storable_field(hub: Hub) -> None:
    [outcome] = _batch(hub, [_vendor("V1", **{"na\x00me": "Acme"})])
    assert outcome.error is not None and outcome.error.code == "INVALID_ATTRIBUTE"
    with hub.database.read_session() as session:
        [rejection] = open_rejections(session)
    assert rejection.field == "attributes.na\\u0000me"


@pytest.mark.parametrize(
    ("attributes", "attribute", "code"),
    [
        pytest.param({"description": "GLOVE\x00"}, "description", "BAD_CHARACTERS", id="nul"),
        pytest.param({"description": "GLOVE \ud800"}, "description", "BAD_CHARACTERS", id="surr"),
        pytest.param({"description": "G" * 5000}, "description", "TOO_LONG", id="long-text"),
        pytest.param({"pack_quantity": 2**80}, "pack_quantity", "OUT_OF_RANGE", id="2**80"),
        pytest.param({"pack_quantity": 1e308}, "pack_quantity", "OUT_OF_RANGE", id="1e308"),
        pytest.param({"pack_quantity": -(2**60)}, "pack_quantity", "OUT_OF_RANGE", id="neg-int"),
        pytest.param({"pack_quantity": math.nan}, "pack_quantity", "OUT_OF_RANGE", id="int-nan"),
        pytest.param({"price": math.inf}, "price", "OUT_OF_RANGE", id="infinity"),
        pytest.param({"price": -math.inf}, "price", "OUT_OF_RANGE", id="minus-infinity"),
        pytest.param({"price": 10**400}, "price", "OUT_OF_RANGE", id="past-any-float"),
        pytest.param({"price": "1e400"}, "price", "OUT_OF_RANGE", id="text-past-any-float"),
        pytest.param({"manufacturer": "V\x00"}, "manufacturer", "BAD_CHARACTERS", id="ref-nul"),
        pytest.param({"manufacturer": "V" * 201}, "manufacturer", "TOO_LONG", id="ref-long"),
        pytest.param(
            {"manufacturer": {"system": "E\x01", "source_id": "V1"}},
            "manufacturer",
            "BAD_CHARACTERS",
            id="ref-system-control",
        ),
    ],
)
def test_an_attribute_no_column_can_hold_is_flagged_and_the_record_lands(
    hub: Hub, attributes: dict[str, Any], attribute: str, code: str
) -> None:
    records = [RecordInput("item", "ERP", "I1", {"description": "EXAM GLOVE", **attributes})]
    [outcome] = _batch(hub, records)
    assert outcome.status is IngestStatus.CREATED, outcome.error
    [finding] = [f for f in outcome.findings if f["attribute"] == attribute]
    assert finding["code"] == code
    row = _stored(hub, "I1")
    assert row is not None
    assert attribute not in row.standardized
    assert row.raw.keys() == records[0].attributes.keys()  # kept as sent, escaped


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 500, 900])
def test_nesting_past_the_bound_is_refused_naming_the_attribute(hub: Hub, levels: int) -> None:
    bad = RecordInput("item", "ERP", "I2", {"description": _nested(levels)})
    first, outcome, last = _batch(hub, [_vendor("OK-1"), bad, _vendor("OK-2")])
    assert outcome.error is not None
    assert (outcome.error.code, outcome.error.field) == (
        "INVALID_ATTRIBUTE",
        "attributes.description",
    )
    assert "deeper than 32" in outcome.error.message
    assert first.status is last.status is IngestStatus.CREATED
    with hub.database.read_session() as session:
        [rejection] = open_rejections(session)
    assert rejection.payload["altered"] == ["attributes"]


def test_a_value_the_database_refuses_rolls_back_that_record_only(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Screening off: the statement itself fails (an encoding error on both databases), in
    # the record's own savepoint.
    monkeypatch.setattr(mdm.ingest, "require_identifier", lambda *args, **kwargs: None)
    first, bad, last = _batch(hub, [_vendor("OK-1"), _vendor("BAD\ud800"), _vendor("OK-2")])
    assert first.status is last.status is IngestStatus.CREATED
    assert bad.error is not None and bad.error.code == "INVALID_INPUT"
    assert "database refused" in bad.error.message
    assert _stored(hub, "OK-1") is not None and _stored(hub, "OK-2") is not None


def test_an_escaped_record_is_not_replayed_as_sent(hub: Hub) -> None:
    _batch(hub, [RecordInput("vendor", "ERP", "V\x00", {"name": "Acme"})])
    with hub.database.session() as session:
        [rejection] = open_rejections(session)
        [replay] = replay_rejections(session, hub.ingestor, [rejection.id])
    assert replay.outcome is None and replay.error is not None
    assert (replay.error.code, replay.error.field) == ("INVALID_INPUT", "sourceId")
    assert _stored(hub, "V\\u0000") is None  # the escaped text never lands as an id
    with hub.database.read_session() as session:
        [still] = open_rejections(session)
    assert (still.id, still.message) == (rejection.id, "sourceId contains a NUL byte")


def test_escaped_attributes_replay_once_corrected(hub: Hub) -> None:
    _batch(hub, [RecordInput("vendor", "AP_LEGACY", "V1", {"name": "Acme\x00"})])
    with hub.database.session() as session:
        [rejection] = open_rejections(session)
        [refused] = replay_rejections(session, hub.ingestor, [rejection.id])
        assert refused.error is not None and refused.error.field == "attributes"
        [replay] = replay_rejections(
            session, hub.ingestor, [rejection.id], attributes={"name": "Acme"}
        )
    # Still refused for its system (not registered), but no longer for being escaped.
    assert replay.error is not None and replay.error.code == "UNKNOWN_SYSTEM"


def test_replaying_an_id_past_any_key_is_not_found(hub: Hub) -> None:
    with pytest.raises(NotFoundError), hub.database.session() as session:
        replay_rejections(session, hub.ingestor, [2**70])
    with hub.database.read_session() as session:
        assert session.scalars(select(IngestRejection)).all() == []


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        pytest.param("a\x00b", "a\\u0000b", id="nul"),
        pytest.param("\ud800x", "\\ud800x", id="surrogate"),
        pytest.param(2**80, "1208925819614629174706176", id="big-int"),
        pytest.param(math.nan, "NaN", id="nan"),
        pytest.param(-math.inf, "-Infinity", id="minus-infinity"),
        pytest.param(12.5, 12.5, id="plain-number"),
        pytest.param("plain", "plain", id="plain-text"),
    ],
)
def test_raw_values_are_stored_escaped(value: Any, stored: Any) -> None:
    assert jsonable({"a": value}) == {"a": stored}


def test_storable_cuts_nesting_without_recursing_past_the_bound() -> None:
    value, altered = storable({"a": _nested(5000)})
    assert altered
    depth = 0
    item = value["a"]
    while isinstance(item, list):
        item, depth = item[0], depth + 1
    assert depth == MAX_DEPTH and "not kept" in item
