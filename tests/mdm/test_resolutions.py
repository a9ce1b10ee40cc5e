"""Resolved references kept across sessions: never stale, on SQLite and PostgreSQL.

Each case warms the matcher's cache, changes what a reference resolves to (a merge done by
another process, a member re-pointed, a parent deleted, a parent arriving, a rolled-back
transaction) and checks the next answer is what the store says, not what was kept.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from mdm.context import ANCESTRY, Reference, resolve_references
from mdm.golden import ChangeContext, merge_golden
from mdm.hub import Hub
from mdm.ingest import RecordInput
from mdm.resolutions import ResolutionCache
from mdm.settings import Settings
from mdm.store import ChangeEvent, GoldenRecord, SourceRecord
from tests.mdm.test_context import (
    NORTH_GLN,
    SOUTH_GLN,
    department,
    facility,
    golden_of,
    ingest,
    load_codes,
    two_hospitals,
)

FACILITY_F1: Reference = ("location", "EHR", "F1")
DEPARTMENT_D1: Reference = ("location", "EHR", "D1")


def cache_of(hub: Hub) -> ResolutionCache:
    cache = hub.ingestor.matcher.resolutions  # type: ignore[attr-defined]
    assert isinstance(cache, ResolutionCache)
    return cache


def resolve(hub: Hub, *refs: Reference) -> dict[Reference, str]:
    """Through the cache, in a transaction that commits (so what is read is kept)."""
    with hub.database.session() as session:
        return cache_of(hub).resolve(session, set(refs), hub.specs)


def truth(hub: Hub, *refs: Reference) -> dict[Reference, str]:
    """What the store says, no cache."""
    with hub.database.read_session() as session:
        return resolve_references(session, set(refs), hub.specs)


def public_id(hub: Hub, system: str, source_id: str) -> str:
    with hub.database.read_session() as session:
        golden = session.get(GoldenRecord, golden_of(hub, "location", system, source_id))
        assert golden is not None
        return golden.public_id


@pytest.fixture
def other_hub(database_url: str) -> Iterator[Hub]:
    """A second hub on the same database: another server process."""
    hub = Hub(Settings(database_url=database_url))
    yield hub
    hub.close()


def test_a_kept_answer_costs_one_query(hub: Hub, tmp_path: Path) -> None:
    load_codes(hub, tmp_path)
    ingest(
        hub,
        facility("EHR", "F1", "Harbor Health North Medical Center", NORTH_GLN),
        department("EHR", "D1", "Pharmacy", "F1"),
    )
    expected = {
        DEPARTMENT_D1: ANCESTRY.join([public_id(hub, "EHR", "D1"), public_id(hub, "EHR", "F1")])
    }
    assert resolve(hub, DEPARTMENT_D1) == expected
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(hub.database.engine, "before_cursor_execute", count)
    try:
        hits = cache_of(hub).hits
        assert resolve(hub, DEPARTMENT_D1) == expected
    finally:
        event.remove(hub.database.engine, "before_cursor_execute", count)
    assert cache_of(hub).hits == hits + 1
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1, selects  # the versions of the golden records it was read from


def test_a_merge_by_another_process_is_seen(hub: Hub, other_hub: Hub, tmp_path: Path) -> None:
    load_codes(hub, tmp_path)
    ingest(
        hub,
        facility("ERP", "HHN", "HARBOR HEALTH NORTH MEDICAL CTR", NORTH_GLN),
        facility("EHR", "F1", "Harbor Health North Hospital", "0860004000297"),
        department("EHR", "D1", "Pharm", "F1"),
    )
    north, f1 = public_id(hub, "ERP", "HHN"), public_id(hub, "EHR", "F1")
    assert north != f1
    before = resolve(hub, FACILITY_F1, DEPARTMENT_D1)
    assert before[FACILITY_F1] == f1
    assert before[DEPARTMENT_D1].endswith(f"{ANCESTRY}{f1}")
    # Another process merges F1's golden record into the ERP one.
    spec = hub.specs.get_spec("location")
    with other_hub.database.session() as session:
        survivor = session.get(GoldenRecord, golden_of(hub, "location", "ERP", "HHN"))
        merged = session.get(GoldenRecord, golden_of(hub, "location", "EHR", "F1"))
        assert survivor is not None and merged is not None
        merge_golden(session, spec, survivor, merged, ChangeContext("test", None))
    after = resolve(hub, FACILITY_F1, DEPARTMENT_D1)
    assert after == truth(hub, FACILITY_F1, DEPARTMENT_D1)
    assert after[FACILITY_F1] == north
    assert after[DEPARTMENT_D1].endswith(f"{ANCESTRY}{north}")


def test_a_member_re_pointed_changes_its_golden_records_version_and_ancestry(
    hub: Hub, tmp_path: Path
) -> None:
    load_codes(hub, tmp_path)
    two_hospitals(hub)
    ingest(
        hub,
        department("ERP", "HHN001", "EMERGENCY DEPT", "HHN"),
        department("EHR", "D1", "ED", "F1"),
    )
    assert golden_of(hub, "location", "ERP", "HHN001") == golden_of(hub, "location", "EHR", "D1")
    north, south = public_id(hub, "ERP", "HHN"), public_id(hub, "ERP", "HHS")
    before = resolve(hub, DEPARTMENT_D1)[DEPARTMENT_D1]
    assert south not in before
    with hub.database.read_session() as session:
        golden = session.get(GoldenRecord, golden_of(hub, "location", "EHR", "D1"))
        assert golden is not None
        version, attributes = golden.version, golden.attributes
    # The ERP files its department under the south hospital. The EHR's parent wins
    # survivorship (source priority): the golden record's attributes stay as they were,
    # but what its members refer to changed.
    ingest(hub, department("ERP", "HHN001", "EMERGENCY DEPT", "HHS"))
    with hub.database.read_session() as session:
        golden = session.get(GoldenRecord, golden_of(hub, "location", "EHR", "D1"))
        assert golden is not None
        assert golden.attributes == attributes
        assert golden.version == version + 1
        kinds = session.scalars(
            select(ChangeEvent.kind).where(
                ChangeEvent.golden_public_id == golden.public_id,
                ChangeEvent.version == golden.version,
            )
        ).all()
    assert kinds == ["updated"]
    after = resolve(hub, DEPARTMENT_D1)
    assert after == truth(hub, DEPARTMENT_D1)
    assert north in after[DEPARTMENT_D1] and south in after[DEPARTMENT_D1]


def test_a_member_changed_without_re_pointing_keeps_its_golden_records_version(
    hub: Hub, tmp_path: Path
) -> None:
    load_codes(hub, tmp_path)
    two_hospitals(hub)
    ingest(
        hub,
        department("ERP", "HHN001", "EMERGENCY DEPT", "HHN"),
        department("EHR", "D1", "ED", "F1"),
    )
    with hub.database.read_session() as session:
        version = session.scalar(
            select(GoldenRecord.version).where(
                GoldenRecord.id == golden_of(hub, "location", "EHR", "D1")
            )
        )
    # Same parent, a name the EHR's member wins anyway (source priority): nothing to publish.
    ingest(hub, department("ERP", "HHN001", "EMERGENCY DEPARTMENT", "HHN"))
    with hub.database.read_session() as session:
        golden = session.get(GoldenRecord, golden_of(hub, "location", "EHR", "D1"))
        assert golden is not None
        assert golden.version == version


def test_a_deleted_parent_no_longer_resolves(hub: Hub, tmp_path: Path) -> None:
    load_codes(hub, tmp_path)
    two_hospitals(hub)
    assert resolve(hub, FACILITY_F1) == {FACILITY_F1: public_id(hub, "EHR", "F1")}
    ingest(hub, RecordInput("location", "EHR", "F1", {}, is_deleted=True))
    assert resolve(hub, FACILITY_F1) == truth(hub, FACILITY_F1) == {}


def test_an_ancestry_with_a_missing_parent_is_not_kept(hub: Hub, tmp_path: Path) -> None:
    load_codes(hub, tmp_path)
    ingest(hub, department("EHR", "D1", "Pharmacy", "F1"))  # F1 is not in the store yet
    assert resolve(hub, DEPARTMENT_D1) == {DEPARTMENT_D1: public_id(hub, "EHR", "D1")}
    assert len(cache_of(hub)) == 0
    # The parent arrives: no version of anything the first answer read changes.
    ingest(hub, facility("EHR", "F1", "Harbor Health North Medical Center", NORTH_GLN))
    after = resolve(hub, DEPARTMENT_D1)
    assert after == truth(hub, DEPARTMENT_D1)
    assert after[DEPARTMENT_D1].endswith(f"{ANCESTRY}{public_id(hub, 'EHR', 'F1')}")


class Rollback(Exception):
    pass


def test_what_a_rolled_back_transaction_read_is_not_kept(hub: Hub, tmp_path: Path) -> None:
    load_codes(hub, tmp_path)
    ingest(
        hub,
        facility("ERP", "HHN", "HARBOR HEALTH NORTH MEDICAL CTR", NORTH_GLN),
        facility("EHR", "F1", "Harbor Health North Hospital", "0860004000297"),
    )
    f1 = public_id(hub, "EHR", "F1")
    spec = hub.specs.get_spec("location")
    # Merged in a savepoint that is released, read there, then the whole transaction rolls
    # back: the versions it saw (one more than now) are about to be reached again.
    with pytest.raises(Rollback), hub.database.session() as session:
        with session.begin_nested():
            survivor = session.get(GoldenRecord, golden_of(hub, "location", "ERP", "HHN"))
            merged = session.get(GoldenRecord, golden_of(hub, "location", "EHR", "F1"))
            assert survivor is not None and merged is not None
            merge_golden(session, spec, survivor, merged, ChangeContext("test", None))
            found = cache_of(hub).resolve(session, {FACILITY_F1}, hub.specs)
            assert found[FACILITY_F1] != f1
        raise Rollback
    # Other changes bring both golden records to the versions the rolled-back merge had.
    ingest(
        hub,
        facility("ERP", "HHN", "HARBOR HEALTH NORTH MEDICAL CENTER", NORTH_GLN),
        facility("EHR", "F1", "Harbor Health North General Hospital", "0860004000297"),
    )
    assert resolve(hub, FACILITY_F1) == truth(hub, FACILITY_F1) == {FACILITY_F1: f1}


def test_the_cache_keeps_at_most_its_size(hub: Hub, tmp_path: Path) -> None:
    load_codes(hub, tmp_path)
    two_hospitals(hub)
    cache = ResolutionCache(max_entries=2)
    refs = [("location", "ERP", "HHN"), ("location", "ERP", "HHS"), FACILITY_F1]
    with hub.database.session() as session:
        cache.resolve(session, set(refs), hub.specs)
    assert len(cache) == 2
    with hub.database.session() as session:
        assert cache.resolve(session, set(refs), hub.specs) == truth(hub, *refs)
    assert SOUTH_GLN  # both hospitals are in the store


def test_kept_answers_do_not_change_match_decisions(hub: Hub, tmp_path: Path) -> None:
    """The department case of test_context, with the cache warmed between every step."""
    load_codes(hub, tmp_path)
    two_hospitals(hub)
    refs = [("location", s, i) for s, i in (("ERP", "HHN"), ("ERP", "HHS"), ("EHR", "F1"))]
    resolve(hub, *refs)
    ingest(hub, department("ERP", "HHN001", "EMERGENCY DEPT", "HHN"))
    resolve(hub, *refs, ("location", "ERP", "HHN001"))
    ingest(hub, department("EHR", "D1", "ED", "F1"))
    assert golden_of(hub, "location", "EHR", "D1") == golden_of(hub, "location", "ERP", "HHN001")
    with hub.database.read_session() as session:
        assert session.scalar(select(SourceRecord.id).where(SourceRecord.source_id == "D1"))


def test_kept_answers_cost_full_collections_nothing(hub: Hub, tmp_path: Path) -> None:
    load_codes(hub, tmp_path)
    two_hospitals(hub)
    ingest(hub, department("EHR", "D1", "ED", "F1"))
    resolve(hub, FACILITY_F1, DEPARTMENT_D1)
    cache = cache_of(hub)
    assert len(cache) == 2
    for _ in range(3):  # a tuple is untracked once the tuples it holds are
        gc.collect()
    # Plain tuples of strings and ints: the collector stops tracking them.
    assert not any(gc.is_tracked(kept) for kept in cache._entries.values())
