"""``examples/vendor_sync.py`` run for real against a real ``mdm serve``, on both databases
(the hub's; the example's copy is always SQLite): killed with SIGKILL mid-stream and
started again, its copy equals the hub's golden vendors and it applied every vendor event
once, in order; after its events were pruned, it resyncs from a snapshot."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from mdm.api.changes import change_cursor
from mdm.hub import Hub
from mdm.settings import Settings
from mdm.store import ChangeEvent, GoldenRecord, upgrade, utcnow
from tests.conftest import (
    BACKENDS,
    ROOT,
    register_systems_and_tokens,
    start_server,
    stop_server,
    throwaway_pg_database,
)

EXAMPLE = ROOT / "examples" / "vendor_sync.py"
CONSUMER = "vendor-copy"
WAIT = 60.0  # seconds any one expected line or exit may take
INGEST = """mutation($records: [SourceRecordInput!]!) { ingestRecords(records: $records) {
  __typename ... on IngestRecordsSuccess { outcomes { status } } } }"""
UNMERGE = """mutation($system: String!, $sourceId: String!) {
  unmergeRecord(entityType: "vendor", system: $system, sourceId: $sourceId, reason: "test") {
    __typename } }"""
CHANGES = """query($after: String) {
  changes(after: $after, first: 500, entityTypes: ["vendor"]) {
    edges { node { position kind } } pageInfo { hasNextPage endCursor } } }"""
CONSUMERS = "query { changeConsumers { name position } }"


@dataclass
class RunningHub:
    database_url: str
    tokens: dict[str, str]
    url: str

    def query(self, document: str, variables: dict[str, Any], role: str) -> dict[str, Any]:
        response = httpx.post(
            f"{self.url}/graphql",
            json={"query": document, "variables": variables},
            headers={"Authorization": f"Bearer {self.tokens[role]}"},
            timeout=120,
        )
        body: dict[str, Any] = response.json()
        assert response.status_code == 200 and "errors" not in body, body
        return body["data"]

    def ingest(self, records: list[dict[str, Any]]) -> None:
        result = self.query(INGEST, {"records": records}, "integrator")["ingestRecords"]
        assert result["__typename"] == "IngestRecordsSuccess", result

    def vendor_events(self, after: str) -> list[tuple[int, str]]:
        """(position, kind) of every vendor event after the cursor, from the polling feed."""
        found: list[tuple[int, str]] = []
        while True:
            page = self.query(CHANGES, {"after": after}, "reader")["changes"]
            nodes = [edge["node"] for edge in page["edges"]]
            found += [(int(node["position"]), node["kind"].lower()) for node in nodes]
            after = page["pageInfo"]["endCursor"]
            if not page["pageInfo"]["hasNextPage"]:
                return found

    def consumer_position(self) -> int:
        consumers = self.query(CONSUMERS, {}, "reader")["changeConsumers"]
        (found,) = [c for c in consumers if c["name"] == CONSUMER]
        return int(found["position"])

    def golden_vendors(self) -> dict[str, tuple[Any, ...]]:
        """Every golden vendor, by id: version, status, name, survivor, attributes."""
        hub = Hub(Settings(database_url=self.database_url))
        try:
            with hub.database.read_session() as session:
                rows = session.scalars(
                    select(GoldenRecord).where(GoldenRecord.entity_type == "vendor")
                ).all()
                public = {r.id: r.public_id for r in rows}
                return {
                    r.public_id: (r.version, r.status, r.attributes.get("name"),
                                  public.get(r.merged_into_id or 0), r.attributes)
                    for r in rows
                }  # fmt: skip
        finally:
            hub.close()


@pytest.fixture(params=BACKENDS)
def running(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningHub]:
    """A hub of its own with the three systems and a token per role, served with a small
    subscriber buffer (a burst larger than it reaches the copy through the socket, whose
    own flow control holds what the copy has not read yet)."""
    with _database(request, tmp_path) as database_url:
        tokens = register_systems_and_tokens(database_url)
        process, url = start_server(database_url, MDM_SUBSCRIPTION_BUFFER="20")
        try:
            yield RunningHub(database_url, tokens, url)
        finally:
            stop_server(process)


@contextmanager
def _database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "mdm.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    with throwaway_pg_database("mdm_example") as url:
        upgrade(url)
        yield url


class Example:
    """The example as its own process, its output read line by line."""

    def __init__(self, hub: RunningHub, copy: Path, until_idle: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(EXAMPLE), hub.url, str(copy), "--consumer", CONSUMER,
             "--until-idle", str(until_idle)],
            env={**os.environ, "MDM_TOKEN": hub.tokens["reader"]},
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line.rstrip("\n"))

    def wait_for(self, wanted: Callable[[list[str]], bool]) -> None:
        """Read lines until ``wanted(lines)``."""
        while not wanted(self.lines):
            try:
                self.lines.append(self._lines.get(timeout=WAIT))
            except queue.Empty:
                raise AssertionError(f"example stuck; it printed: {self.lines}") from None

    def finish(self) -> list[str]:
        """Its output once it exits on its own (idle), having exited 0."""
        code = self.process.wait(timeout=WAIT * 2)
        time.sleep(0.1)
        while not self._lines.empty():
            self.lines.append(self._lines.get())
        assert code == 0, self.lines
        return self.lines

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


def applied(lines: list[str]) -> list[int]:
    """The positions the example printed as applied (it prints after the commit)."""
    return [int(line.split()[0]) for line in lines if line.endswith((" applied", " in-snapshot"))]


def vendors(prefix: str, count: int, system: str = "ERP") -> list[dict[str, Any]]:
    """Vendors that match nothing else: one golden record (one event) each."""
    return [
        {"entityType": "vendor", "system": system, "sourceId": f"{prefix}-{n}",
         "attributes": {"name": f"{prefix} Vendor {n:04d} Co"}}
        for n in range(count)
    ]  # fmt: skip


def merge_three(hub: RunningHub) -> None:
    """Two golden vendors, then a record that holds both their identifiers: merged."""
    hub.ingest([
        {"entityType": "vendor", "system": "ERP", "sourceId": "V1",
         "attributes": {"name": "Northwind Surgical Inc", "tax_id": "41-2847561"}},
        {"entityType": "vendor", "system": "EHR", "sourceId": "O1",
         "attributes": {"name": "Northwind Surgical", "duns": "150483782"}},
    ])  # fmt: skip
    hub.ingest([
        {"entityType": "vendor", "system": "PROCUREMENT", "sourceId": "P1",
         "attributes": {"name": "Northwind Surgical Inc", "tax_id": "41-2847561",
                        "duns": "150483782"}},
    ])  # fmt: skip


def local_copy(path: Path) -> tuple[dict[str, tuple[Any, ...]], list[int], sqlite3.Row]:
    """The example's vendors (as ``golden_vendors``), its applied positions, its state."""
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    try:
        copied = {
            r["id"]: (r["version"], r["status"], r["name"], r["merged_into"],
                      json.loads(r["attributes"]))
            for r in db.execute("SELECT * FROM vendor")
        }  # fmt: skip
        positions = [r[0] for r in db.execute("SELECT position FROM applied_event ORDER BY 1")]
        (state,) = db.execute("SELECT * FROM sync_state").fetchall()
        return copied, positions, state
    finally:
        db.close()


def snapshots(path: Path) -> list[tuple[int, int]]:
    db = sqlite3.connect(path)
    try:
        return [tuple(r) for r in db.execute("SELECT position, vendors FROM snapshot ORDER BY 1")]
    finally:
        db.close()


def test_a_killed_copy_restarts_with_exactly_the_events_it_missed(
    running: RunningHub, tmp_path: Path
) -> None:
    hub = running
    location = {"entityType": "location", "system": "EHR", "sourceId": "L1",
                "attributes": {"name": "Main Campus"}}  # fmt: skip
    hub.ingest(vendors("BEFORE", 10) + [location])  # in its first snapshot
    copy = tmp_path / "copy.sqlite3"

    first = Example(hub, copy, until_idle=WAIT)
    first.wait_for(lambda lines: any(line.startswith("following after") for line in lines))
    time.sleep(1.0)  # live: the feed offers it what is committed next
    hub.ingest(vendors("BURST", 300) + [{**location, "sourceId": "L2"}])  # one transaction
    first.wait_for(lambda lines: len(applied(lines)) >= 50)
    first.kill()
    _, positions, state = local_copy(copy)
    (snapshot_head, snapshot_size), *_ = snapshots(copy)
    assert snapshot_size == 10
    burst = hub.vendor_events(after=change_cursor(snapshot_head))
    assert positions[-1] == state["position"] < burst[-1][0], "it finished before the kill"
    assert hub.consumer_position() <= state["position"]  # acknowledged after the commit

    # While it is down: new vendors, an update, a merge, an unmerge, a deletion.
    hub.ingest(vendors("DOWN", 5))
    hub.ingest([{**vendors("DOWN", 1)[0], "attributes": {"name": "Down Vendor Renamed Co"}}])
    merge_three(hub)
    unmerged = hub.query(UNMERGE, {"system": "EHR", "sourceId": "O1"}, "steward")
    assert unmerged["unmergeRecord"]["__typename"] == "UnmergeRecordSuccess"
    hub.ingest([{**vendors("DOWN", 2)[1], "deleted": True}])

    second = Example(hub, copy, until_idle=3)
    second.finish()
    assert any(line.startswith("reusing consumer") for line in second.lines)
    copied, positions, state = local_copy(copy)
    expected = hub.vendor_events(after=change_cursor(snapshot_head))
    assert positions == [p for p, _ in expected]  # every vendor event after the snapshot, once
    printed = applied(first.lines) + applied(second.lines)
    assert len(printed) == len(set(printed)) and printed == sorted(printed)
    assert applied(second.lines)[0] > applied(first.lines)[-1]  # resumed after its position
    assert {k for _, k in expected} == {"created", "updated", "merged", "unmerged", "retired"}
    assert copied == hub.golden_vendors()
    assert hub.consumer_position() == state["position"] == expected[-1][0]


def test_an_expired_position_resyncs_from_a_snapshot(running: RunningHub, tmp_path: Path) -> None:
    hub = running
    hub.ingest(vendors("OLD", 5))
    copy = tmp_path / "copy.sqlite3"
    Example(hub, copy, until_idle=2).finish()
    hub.ingest(vendors("NEW", 5))
    merge_three(hub)
    _age_every_event(hub.database_url)
    pruned = subprocess.run(
        [sys.executable, "-m", "mdm.cli", "changes", "prune", "--days", "30"],
        env={**os.environ, "MDM_DATABASE_URL": hub.database_url},
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert pruned.returncode == 0, pruned.stdout + pruned.stderr

    lines = Example(hub, copy, until_idle=2).finish()
    assert any(line.startswith("CURSOR_EXPIRED") for line in lines), lines
    copied, _, state = local_copy(copy)
    head = hub.query("query { changeHead { position } }", {}, "reader")["changeHead"]
    assert snapshots(copy) == [(5, 5), (int(head["position"]), 5 + 5 + 2)]  # P1 joined V1
    assert state["position"] == int(head["position"])
    assert copied == hub.golden_vendors()
    assert {v[1] for v in copied.values()} == {"active", "merged"}


def _age_every_event(database_url: str) -> None:
    hub = Hub(Settings(database_url=database_url))
    try:
        with hub.database.session() as session:
            session.execute(update(ChangeEvent).values(created_at=utcnow().replace(year=2000)))
    finally:
        hub.close()
