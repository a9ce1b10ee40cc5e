"""The change stream's store side, on both databases: sequence numbers in commit order under
concurrent writers, the event document (its JSON Schema, checked against real events of
every kind), reading after a cursor with filters, named consumers, retention."""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import select, update

from mdm import changes, notify
from mdm.auth import Principal, Role
from mdm.errors import (
    ConsumerExistsError,
    CursorBeyondHeadError,
    CursorExpiredError,
    ForbiddenError,
    InvalidInputError,
    InvalidPositionError,
    PositionBeyondHeadError,
    UnknownConsumerError,
    UnknownEntityTypeError,
    UnknownSystemError,
)
from mdm.events import ChangeKind, event_row, record_change_event
from mdm.hub import Hub
from mdm.ingest import RecordInput
from mdm.loader import load
from mdm.notify import ChangeNotifier
from mdm.relay import read_events
from mdm.store import ChangeEvent, ConsumerOffset, utcnow
from mdm.unmerge import unmerge_record

SCHEMA_PATH = Path(changes.__file__).parent / "schemas" / "change_event.schema.json"
ALICE = Principal("alice", Role.INTEGRATOR)
BOB = Principal("bob", Role.READER)
ADMIN = Principal("root", Role.ADMIN)


def _ingest(hub: Hub, *records: RecordInput, correlation_id: str | None = None) -> None:
    with hub.database.session() as session:
        for record in records:
            hub.ingestor.ingest(session, record, actor="test", correlation_id=correlation_id)


def _vendor(system: str, source_id: str, **attributes: Any) -> RecordInput:
    return RecordInput("vendor", system, source_id, attributes)


def _bridged_vendors(hub: Hub) -> None:
    """ERP V1 and EHR O1 apart, then PROCUREMENT P1 holding both identifiers: a merge."""
    _ingest(
        hub,
        _vendor("ERP", "V1", name="Northwind Surgical Inc", tax_id="41-2847561"),
        _vendor("EHR", "O1", name="Northwind Surgical", duns="150483782"),
    )
    _ingest(
        hub,
        _vendor(
            "PROCUREMENT",
            "P1",
            name="Northwind Surgical Inc",
            tax_id="41-2847561",
            duns="150483782",
        ),
        correlation_id="load-42",
    )


def _all(hub: Hub) -> list[changes.Change]:
    with hub.database.read_session() as session:
        return changes.read_changes(session, 0, 10_000).changes


def _documents(hub: Hub) -> list[dict[str, Any]]:
    """Every event as the relay publishes it (and the schema describes it)."""
    return [orjson.loads(e.body) for e in read_events(hub.database, 0, 10_000)]


# --------------------------------------------------------------------------- content


def test_events_of_every_kind_follow_the_published_schema(hub: Hub) -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    _bridged_vendors(hub)  # created, merged, updated
    _ingest(hub, _vendor("ERP", "V1", name="Northwind Surgical Incorporated", tax_id="41-2847561"))
    with hub.database.session() as session:  # unmerged (and a created)
        unmerge_record(
            session, hub.specs, "vendor", "PROCUREMENT", "P1", actor="steward", reason="test"
        )
    _ingest(hub, RecordInput("vendor", "PROCUREMENT", "P1", {}, is_deleted=True))  # retired

    documents = _documents(hub)
    assert {d["kind"] for d in documents} == {k.value for k in ChangeKind}
    for document in documents:
        errors = sorted(validator.iter_errors(document), key=str)
        assert not errors, f"{document['kind']}: {errors[0].message} at {errors[0].json_path}"
    # A document that breaks it is refused: the schema is not vacuous.
    broken = {**documents[0], "payload": {**documents[0]["payload"], "sources": [{"x": 1}]}}
    assert not validator.is_valid(broken)
    assert not validator.is_valid({**documents[0], "kind": "renamed"})


def test_events_carry_changes_source_ids_actor_correlation_and_merges(hub: Hub) -> None:
    _bridged_vendors(hub)
    events = _all(hub)
    kinds = [(e.kind, e.golden_id) for e in events]
    erp_golden, ehr_golden = events[0].golden_id, events[1].golden_id
    assert kinds == [
        ("created", erp_golden),
        ("created", ehr_golden),
        ("merged", ehr_golden),
        ("updated", erp_golden),
        ("updated", erp_golden),
    ]
    created = events[0].payload
    assert created["schemaVersion"] == 1
    assert created["changes"] == {
        "name": {"old": None, "new": "Northwind Surgical Inc"},
        "tax_id": {"old": None, "new": "41-2847561"},
    }
    assert created["sources"] == [{"system": "ERP", "sourceId": "V1"}]
    assert events[0].actor == "test"

    merged = events[2]
    assert merged.payload["mergedInto"] == erp_golden
    assert merged.payload["status"] == "merged"
    assert merged.payload["removedSources"] == [{"system": "EHR", "sourceId": "O1"}]
    assert merged.systems == {"EHR"}
    assert merged.correlation_id == "load-42"
    survivor = events[3].payload
    assert survivor["mergedFrom"] == [ehr_golden]
    assert survivor["changes"] == {"duns": {"old": None, "new": "150483782"}}
    assert survivor["sources"] == [
        {"system": "ERP", "sourceId": "V1"},
        {"system": "EHR", "sourceId": "O1"},
    ]
    assert events[4].payload["sources"][-1] == {"system": "PROCUREMENT", "sourceId": "P1"}

    _ingest(hub, _vendor("ERP", "V1", name="Northwind Surgical Incorporated", tax_id="41-2847561"))
    renamed = _all(hub)[-1].payload
    assert renamed["changes"] == {
        "name": {"old": "Northwind Surgical Inc", "new": "Northwind Surgical Incorporated"}
    }


def test_a_member_that_leaves_is_named_in_the_event(hub: Hub) -> None:
    _bridged_vendors(hub)
    with hub.database.session() as session:
        done = unmerge_record(
            session, hub.specs, "vendor", "EHR", "O1", actor="steward", reason="not the same"
        )
    events = _all(hub)
    left = next(e for e in events if e.kind == "unmerged")
    assert left.golden_id == done.left_golden_id
    assert left.payload["removedSources"] == [{"system": "EHR", "sourceId": "O1"}]
    assert {"system": "EHR", "sourceId": "O1"} not in left.payload["sources"]
    # The EHR integration sees it: the record that left was its own.
    assert changes.ChangeFilter(systems=frozenset({"EHR"})).matches(left)

    _ingest(hub, RecordInput("vendor", "EHR", "O1", {}, is_deleted=True))
    retired = _all(hub)[-1]
    assert retired.kind == "retired"
    assert retired.payload["removedSources"] == [{"system": "EHR", "sourceId": "O1"}]
    assert retired.systems == {"EHR"}


def test_replaying_the_same_source_file_writes_no_event(hub: Hub, tmp_path: Path) -> None:
    folder = tmp_path / "erp"
    folder.mkdir()
    (folder / "vendors.csv").write_text(
        "VENDOR,NAME,TAX\nV1,Acme Medical Supply,12-3456789\nV2,Beta Labs Inc,\n",
        encoding="utf-8",
    )
    mapping = folder / "erp.toml"
    mapping.write_text(
        '[system]\ncode = "ERP"\n[[entity]]\ntype = "vendor"\nfile = "vendors.csv"\n'
        'source_id = "VENDOR"\n[entity.attributes]\nname = "NAME"\ntax_id = "TAX"\n',
        encoding="utf-8",
    )
    load(hub.database, hub.ingestor, [mapping])
    first = _all(hub)
    assert len(first) == 2
    load(hub.database, hub.ingestor, [mapping])  # skipped: loaded before
    load(hub.database, hub.ingestor, [mapping], force=True)  # read again: the same content
    assert _all(hub) == first


# --------------------------------------------------------------------------- order


def test_sequence_numbers_follow_commit_order_under_concurrent_writers(hub: Hub) -> None:
    """Writers hold their transaction open for a while after writing events; a reader that
    tails the stream never finds an event below what it has seen (no gap filled later)."""
    writers, per_writer = 6, 15
    seen: list[int] = []
    done = threading.Event()
    errors: list[BaseException] = []

    def write(n: int) -> None:
        rng = random.Random(n)
        try:
            for i in range(per_writer):
                with hub.database.session() as session:
                    record_change_event(session, _event(f"W{n}-{i}"))
                    time.sleep(rng.uniform(0, 0.02))  # committed later than it was numbered
                    record_change_event(session, _event(f"W{n}-{i}b"))
                    time.sleep(rng.uniform(0, 0.01))
        except BaseException as error:  # reported below
            errors.append(error)

    def tail() -> None:
        cursor = 0
        while True:
            finished = done.is_set()
            with hub.database.read_session() as session:
                batch = changes.read_changes(session, cursor, 1000)
            seen.extend(c.seq for c in batch.changes)
            cursor = batch.scanned_to
            if finished and batch.is_caught_up:
                return

    reader = threading.Thread(target=tail)
    reader.start()
    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    reader.join(timeout=60)
    assert not errors
    with hub.database.read_session() as session:
        stored = list(session.scalars(select(ChangeEvent.seq).order_by(ChangeEvent.seq)))
    assert len(stored) == writers * per_writer * 2
    assert seen == stored  # every event, once, in order: none appeared behind the reader


def _event(golden: str) -> dict[str, Any]:
    return event_row(
        entity_type="vendor",
        golden_public_id=golden,
        kind=ChangeKind.UPDATED,
        version=2,
        payload={"id": golden, "sources": [{"system": "ERP", "sourceId": golden}]},
        actor="test",
        correlation_id=None,
        created_at=utcnow(),
    )


# --------------------------------------------------------------------------- reading


def test_reading_after_a_cursor_with_filters(hub: Hub) -> None:
    _bridged_vendors(hub)
    _ingest(hub, RecordInput("location", "EHR", "L1", {"name": "Main Campus"}))
    with hub.database.read_session() as session:
        everything = changes.read_changes(session, 0, 100)
        assert everything.is_caught_up and everything.scanned_to == changes.head(session)
        erp = changes.change_filter(session, hub.specs, None, ["ERP"])
        by_erp = changes.read_changes(session, 0, 100, erp)
        locations = changes.change_filter(session, hub.specs, ["location"], None)
        by_type = changes.read_changes(session, 0, 100, locations)
        page = changes.read_changes(session, 0, 2)
        rest = changes.read_changes(session, page.scanned_to, 100)
    assert [c.seq for c in by_erp.changes] == [
        c.seq for c in everything.changes if "ERP" in c.systems
    ]
    assert "merged" not in {c.kind for c in by_erp.changes}  # the EHR golden record's
    assert [c.entity_type for c in by_type.changes] == ["location"]
    assert by_type.scanned_to == everything.scanned_to
    assert not page.is_caught_up and len(page.changes) == 2
    assert page.changes + rest.changes == everything.changes


def test_a_read_of_some_payload_members_gives_exactly_those_of_the_whole(hub: Hub) -> None:
    """``members``: the payload holds those members (and what a systems filter reads) as
    the whole payload has them, ``attributes`` as its JSON text, a null or missing one
    left out; everything else of the event is as read whole."""
    _bridged_vendors(hub)
    with hub.database.read_session() as session:
        whole = changes.read_changes(session, 0, 100).changes
        parts = changes.read_changes(session, 0, 100, members={"attributes", "mergedInto"})
        nothing = changes.read_changes(session, 0, 100, members=())
        erp = changes.change_filter(session, hub.specs, None, ["ERP"])
        filtered = changes.read_changes(session, 0, 100, erp, members={"changes"})
        by_erp = changes.read_changes(session, 0, 100, erp).changes
    assert {c.kind for c in whole} >= {"created", "merged"}
    for full, part, bare in zip(whole, parts.changes, nothing.changes, strict=True):
        expected = {
            k: full.payload[k]
            for k in ("attributes", "mergedInto")
            if full.payload.get(k) is not None
        }
        read = dict(part.payload)
        if "attributes" in read:
            assert type(read["attributes"]) is changes.RawJson
            read["attributes"] = orjson.loads(read["attributes"].text)
        assert read == expected and bare.payload == {}
        assert (part.seq, part.kind, part.golden_id, part.version, part.created_at) == (
            full.seq, full.kind, full.golden_id, full.version, full.created_at
        )  # fmt: skip
    assert "attributes" in parts.changes[0].payload
    assert [c.seq for c in filtered.changes] == [c.seq for c in by_erp]
    for part, full in zip(filtered.changes, by_erp, strict=True):
        assert set(part.payload) <= {"changes", "sources", "removedSources"}
        assert part.payload["sources"] == full.payload["sources"]
        assert part.payload.get("changes") == full.payload.get("changes")


def test_a_batch_read_ahead_is_what_a_read_gives_once_and_only_while_not_caught_up(
    hub: Hub,
) -> None:
    """``ReadAhead``: the batch read in the background equals a read of the same
    arguments, is given once, and not at all when it was caught up (more may have come) or
    was dropped (the newest ``kept``, for ``seconds``, until closed); ``depth`` batches
    are read ahead, one after the other."""
    _bridged_vendors(hub)
    with hub.database.read_session() as session:
        newest = changes.head(session)
        direct = changes.read_changes(session, 1, 2, members={"attributes"})
    assert newest >= 4 and not direct.is_caught_up
    everything, attributes = changes.EVERYTHING, frozenset({"attributes"})
    ahead = changes.ReadAhead(hub.database, depth=1, kept=2)
    try:
        ahead.start(1, 2, everything, attributes, lambda found: [c.seq for c in found])
        taken = ahead.take(1, 2, everything, attributes)
        assert taken is not None and taken.batch.scanned_to == direct.scanned_to
        assert [(c.seq, c.payload["attributes"].text) for c in taken.batch.changes] == [
            (c.seq, c.payload["attributes"].text) for c in direct.changes
        ]
        assert taken.made == [c.seq for c in direct.changes]  # what prepare made of it
        assert ahead.take(1, 2, everything, attributes) is None  # once
        ahead.start(1, 2, everything, None)
        assert ahead.take(1, 2, everything, attributes) is None  # other members: not it
        ahead.start(newest - 1, 5, everything, None)  # caught up when read
        assert ahead.take(newest - 1, 5, everything, None) is None
        for after in (0, 1, 2):  # the oldest of three is let go
            ahead.start(after, 1, everything, None)
        assert ahead.take(0, 1, everything, None) is None
        assert ahead.take(2, 1, everything, None) is not None
    finally:
        ahead.close()
    ahead.start(0, 1, everything, None)  # closed: nothing is read
    assert ahead.take(0, 1, everything, None) is None
    chained = changes.ReadAhead(hub.database, depth=2)
    try:  # the batch after the one asked for is read too, as soon as that one is
        chained.start(0, 1, everything, None)
        first = chained.take(0, 1, everything, None)
        assert first is not None and first.batch.scanned_to == 1 and first.made is None
        second = chained.take(1, 1, everything, None)
        assert second is not None and [c.seq for c in second.batch.changes] == [2]
        assert chained.take(2, 1, everything, None) is None  # two ahead, not three
    finally:
        chained.close()
    expiring = changes.ReadAhead(hub.database, depth=1, seconds=0.0)
    try:
        expiring.start(0, 1, everything, None)
        expiring.start(1, 1, everything, None)  # the first one has expired by now
        assert expiring.take(0, 1, everything, None) is None
        assert expiring.take(1, 1, everything, None) is not None
    finally:
        expiring.close()


@pytest.mark.parametrize(
    ("entity_types", "systems", "error"),
    [
        pytest.param(["vendor", "spaceship"], None, UnknownEntityTypeError, id="entity-type"),
        pytest.param(None, ["ERP", "MAINFRAME"], UnknownSystemError, id="system"),
        pytest.param(None, ["EHR", "ERP\x00"], InvalidInputError, id="nul-system"),
        pytest.param(None, ["EHR", "\ud800"], InvalidInputError, id="surrogate-system"),
    ],
)
def test_a_filter_naming_what_does_not_exist_is_refused(
    hub: Hub, entity_types: list[str] | None, systems: list[str] | None, error: type
) -> None:
    with hub.database.read_session() as session, pytest.raises(error) as raised:
        changes.change_filter(session, hub.specs, entity_types, systems)
    assert raised.value.field in ("entityTypes[1]", "systems[1]")


def test_cursors_beyond_the_head_or_outside_64_bits_are_refused(hub: Hub) -> None:
    _bridged_vendors(hub)
    with hub.database.read_session() as session:
        newest = changes.head(session)
        assert changes.check_after(session, newest) == newest
        with pytest.raises(CursorBeyondHeadError):
            changes.check_after(session, newest + 1)
        for bad in (-1, 2**63, 2**70):
            with pytest.raises(InvalidPositionError):
                changes.check_after(session, bad)


def test_retention_prunes_old_events_keeps_the_newest_and_expires_old_cursors(hub: Hub) -> None:
    _ingest(hub, *[_vendor("ERP", f"V{n}", name=f"Vendor {n:03d} Holdings") for n in range(5)])
    with hub.database.session() as session:
        session.execute(
            update(ChangeEvent).values(created_at=utcnow() - timedelta(days=10))
        )  # all old, the newest too
    with hub.database.session() as session:
        assert changes.prune(session, 0) == 0  # no retention: nothing goes
        assert changes.prune(session, 7) == 4  # the newest stays: numbering goes on from it
    with hub.database.read_session() as session:
        assert changes.pruned_through(session) == 4
        assert changes.head(session) == 5
        with pytest.raises(CursorExpiredError) as expired:
            changes.check_after(session, 3)
        assert expired.value.code == "CURSOR_EXPIRED"
        with pytest.raises(CursorExpiredError):
            changes.read_changes(session, 0, 10)
        assert [c.seq for c in changes.read_changes(session, 4, 10).changes] == [5]
    _ingest(hub, _vendor("ERP", "V9", name="Vendor 009 Holdings"))
    with hub.database.read_session() as session:
        assert changes.head(session) == 6  # after the kept one, not from 1 again


# --------------------------------------------------------------------------- consumers


def test_consumers_are_registered_owned_and_acknowledged(hub: Hub) -> None:
    _bridged_vendors(hub)
    with hub.database.session() as session:
        newest = changes.head(session)
        registered, is_new = changes.register_consumer(session, "erp-sync", ALICE)
        assert is_new and registered.position == newest and registered.owner == "alice"
        again, is_new = changes.register_consumer(session, "erp-sync", ALICE, position=0)
        assert not is_new and again.position == newest  # her own: unchanged
        with pytest.raises(ConsumerExistsError):
            changes.register_consumer(session, "erp-sync", BOB)
        early, _ = changes.register_consumer(session, "ehr-sync", BOB, position=1)
        assert early.position == 1
    with hub.database.session() as session:
        acked = changes.acknowledge(session, "ehr-sync", 3, BOB)
        assert acked.position == 3 and acked.acknowledged_at is not None
        assert changes.acknowledge(session, "ehr-sync", 2, BOB).position == 3  # never back
        assert changes.acknowledge(session, "ehr-sync", newest, ADMIN).position == newest
        with pytest.raises(ForbiddenError):
            changes.acknowledge(session, "erp-sync", 1, BOB)
        with pytest.raises(UnknownConsumerError):
            changes.acknowledge(session, "nobody", 1, BOB)
        with pytest.raises(PositionBeyondHeadError):
            changes.acknowledge(session, "ehr-sync", newest + 1, BOB)
        with pytest.raises(InvalidPositionError):
            changes.acknowledge(session, "ehr-sync", -1, BOB)
    with hub.database.read_session() as session:
        assert [c.name for c in changes.list_consumers(session, BOB)] == ["ehr-sync"]
        assert [c.name for c in changes.list_consumers(session, ADMIN)] == [
            "ehr-sync",
            "erp-sync",
        ]
        assert session.get(ConsumerOffset, "ehr-sync").position == newest  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param("x" * 201, id="too-long"),
        pytest.param("bad\x00name", id="nul"),
        pytest.param("bad\ud800name", id="surrogate"),
        pytest.param("tab\tname", id="control"),
        pytest.param("relay:MDM_CHANGES", id="relay-reserved"),
        pytest.param("mdm:pruned", id="hub-reserved"),
    ],
)
def test_a_consumer_name_no_consumer_can_have_is_refused(hub: Hub, name: str) -> None:
    with hub.database.session() as session, pytest.raises(InvalidInputError) as raised:
        changes.register_consumer(session, name, ALICE)
    assert raised.value.field == "name"
    with hub.database.read_session() as session:
        assert changes.list_consumers(session, ADMIN) == []


def test_the_relay_position_is_a_consumer_an_admin_sees(hub: Hub) -> None:
    from mdm.relay import store_position, stored_position

    _bridged_vendors(hub)
    store_position(hub.database, "relay:MDM_CHANGES", 3)
    assert stored_position(hub.database, "relay:MDM_CHANGES") == 3
    with hub.database.read_session() as session:
        found = changes.list_consumers(session, ADMIN)
    assert [(c.name, c.owner, c.position) for c in found] == [("relay:MDM_CHANGES", None, 3)]


def test_the_relay_message_is_the_event_document(hub: Hub) -> None:
    _bridged_vendors(hub)
    documents = _documents(hub)
    stored = _all(hub)
    assert [d["seq"] for d in documents] == [c.seq for c in stored]
    assert [d["payload"] for d in documents] == [c.payload for c in stored]
    assert [d["createdAt"] for d in documents] == [c.created_at.isoformat() for c in stored]
    assert [(d["goldenId"], d["version"], d["kind"]) for d in documents] == [
        (c.golden_id, c.version, c.kind) for c in stored
    ]


# --------------------------------------------------------------------------- wake-ups


def test_a_commit_that_wrote_events_wakes_the_notifier(hub: Hub) -> None:
    """This process's commits wake it directly; on PostgreSQL another process's commit
    wakes it through LISTEN/NOTIFY (checked with the direct path switched off)."""

    def write() -> None:
        with hub.database.session() as session:
            record_change_event(session, _event("WAKE"))

    async def woken_by() -> list[str]:
        notifier = ChangeNotifier(hub.database)
        await notifier.start()
        found = []
        try:
            changed = notifier.changed()
            await asyncio.to_thread(write)
            await asyncio.wait_for(changed.wait(), 5)
            found.append("commit")
            if not hub.database.is_sqlite:
                await asyncio.wait_for(notifier.listening.wait(), 5)
                notify._LOCAL.discard(notifier)  # from here on, only NOTIFY can wake it
                changed = notifier.changed()
                await asyncio.to_thread(write)
                await asyncio.wait_for(changed.wait(), 5)
                found.append("notify")
        finally:
            await notifier.close()
        return found

    expected = ["commit"] if hub.database.is_sqlite else ["commit", "notify"]
    assert asyncio.run(woken_by()) == expected


def test_a_subscriber_replays_in_batches_read_ahead_then_follows_live(hub: Hub) -> None:
    """Replay reads the next batch while the one before is taken: every event once, in
    order, across batch boundaries, then the live ones; a subscriber that stops mid-replay
    leaves no read behind."""
    with hub.database.session() as session:
        for n in range(7):
            record_change_event(session, _event(f"R{n}"))

    async def follow() -> tuple[list[int], list[int]]:
        notifier = ChangeNotifier(hub.database)
        await notifier.start()
        feed = notify.ChangeFeed(hub.database, notifier, buffer=100, replay_batch=3)
        try:
            stream = feed.follow(0)
            seen = [(await anext(stream)).seq for _ in range(7)]
            await asyncio.to_thread(_write_event, hub, "LIVE")
            seen.append((await asyncio.wait_for(anext(stream), 10)).seq)
            await stream.aclose()
            partial = feed.follow(0)
            first = [(await anext(partial)).seq for _ in range(4)]
            await partial.aclose()  # mid-replay, a read ahead in flight
            batches = feed.follow_batches(0, members=frozenset({"id"}))
            replayed = [await anext(batches) for _ in range(3)]
            await asyncio.to_thread(_write_event, hub, "LIVE2")
            await asyncio.to_thread(_write_event, hub, "LIVE3")
            live: list[changes.Change] = []
            while len(live) < 2:
                live += await asyncio.wait_for(anext(batches), 10)
            await batches.aclose()
            # Replayed as read: three at a time, then the rest, marked as read for this
            # subscriber alone (a renderer keeps no text of them for others).
            assert [len(b) for b in replayed] == [3, 3, 2]
            assert {type(b) for b in replayed} == {notify.StoredEvents}
            assert [c.golden_id for c in live] == ["LIVE2", "LIVE3"]
        finally:
            await feed.close()
            await notifier.close()
        return seen, first

    seen, first = asyncio.run(follow())
    stored = [c.seq for c in _all(hub)]
    assert seen == stored[:8] and len(stored) == 10
    assert first == stored[:4]


def _write_event(hub: Hub, golden_id: str) -> None:
    with hub.database.session() as session:
        record_change_event(session, _event(golden_id))


def test_an_operator_lists_consumers_and_moves_one_back_or_to_the_head(hub: Hub) -> None:
    from typer.testing import CliRunner

    from mdm.cli import app

    _ingest(hub, _vendor("ERP", "C1", name="Cedar Medical"), _vendor("ERP", "C2", name="Oak Labs"))
    owner = Principal("erp interface", Role.INTEGRATOR)
    with hub.database.session() as session:
        changes.register_consumer(session, "erp-sync", owner)
        newest = changes.head(session)
    url = ["--database-url", hub.settings.database_url]
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(app, ["changes", *args, *url])

    listed = run("consumers")
    assert listed.exit_code == 0, listed.output
    assert f"erp-sync\tposition {newest:,}\tlag 0\tacknowledged never\towner erp interface" in (
        listed.stdout
    )
    assert run("reset", "erp-sync", "--position", "0").exit_code == 0
    assert f"lag {newest:,}" in run("consumers").stdout
    assert run("reset", "erp-sync", "--position", "head").exit_code == 0
    for bad, code in [
        (["reset", "erp-sync", "--position", str(newest + 1)], "CURSOR_BEYOND_HEAD"),
        (["reset", "erp-sync", "--position", "²"], "INVALID_INPUT"),
        (["reset", "erp-sync", "--position", str(2**64)], "INVALID_POSITION"),
        (["reset", "nobody", "--position", "0"], "UNKNOWN_CONSUMER"),
        (["reset", "x\x00y", "--position", "0"], "INVALID_INPUT"),
    ]:
        refused = run(*bad)
        assert refused.exit_code == 2 and code in refused.output, (bad, refused.output)
    with hub.database.read_session() as session:
        found = changes.find_consumer(session, "erp-sync", owner)
    assert found is not None and found.position == newest


def test_a_live_subscriber_takes_events_directly_while_idle_and_in_order_when_not() -> None:
    """The feed hands an event to the sink while the subscriber's task waits and nothing
    is pending; a declined event, one arriving while a direct send goes on, or while the
    task holds a batch, is buffered and taken after, in order; a full buffer drops it."""

    def change(seq: int) -> changes.Change:
        return changes.Change(seq, "created", "vendor", f"G{seq}", 1, {}, None, None, utcnow())

    async def scenario() -> tuple[list[int], list[list[int]], bool]:
        sent: list[int] = []
        pending: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def sink(event: changes.Change) -> bool | asyncio.Future[None]:
            if event.seq == 3:
                return False  # declined (a token re-check is due)
            sent.append(event.seq)
            return pending if event.seq == 4 else True

        subscriber = notify.Subscriber(changes.EVERYTHING, 0, limit=3)
        subscriber.sink = sink
        assert subscriber.offer(change(1))  # no task waiting yet: buffered
        taken = [[c.seq for c in await subscriber.take()]]
        waiting = asyncio.ensure_future(subscriber.take())
        await asyncio.sleep(0)
        subscriber.offer(change(2))  # idle: sent directly
        subscriber.offer(change(3))  # declined: buffered, the task wakes
        taken.append([c.seq for c in await waiting])
        waiting = asyncio.ensure_future(subscriber.take())
        await asyncio.sleep(0)
        subscriber.offer(change(4))  # its send goes on ...
        subscriber.offer(change(5))  # ... so this one waits in the buffer
        await asyncio.sleep(0.01)
        assert not waiting.done()  # not before send 4 has ended
        pending.set_result(None)
        taken.append([c.seq for c in await asyncio.wait_for(waiting, 1)])
        for seq in (6, 7, 8, 9):  # no task waiting: buffered, three at most
            subscriber.offer(change(seq))
        return sent, taken, subscriber.is_dropped

    sent, taken, dropped = asyncio.run(scenario())
    assert sent == [2, 4]
    assert taken == [[1], [3], [5]]
    assert dropped
