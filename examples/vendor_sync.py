"""Keep a local SQLite copy of the hub's golden vendors in sync through the change stream.

    python examples/vendor_sync.py HUB_URL LOCAL_DB [--consumer NAME] [--token TOKEN]
                                   [--until-idle SECONDS]

    python examples/vendor_sync.py http://127.0.0.1:8000 vendors.sqlite3 --consumer vendor-copy

The token comes from ``--token`` or ``MDM_TOKEN``; a reader token is enough. It needs
``gql[websockets]`` and ``httpx`` (both in the hub's ``.[dev]`` extras).

How it stays exact:

- **Position committed with the data.** Each event is applied in one local transaction
  together with its position (``sync_state``) and a row of ``applied_event`` (keyed by
  position), and only then acknowledged to the hub (``acknowledgeChanges``). Killed at any
  moment and started again, it subscribes after the position it committed locally, so it
  gets exactly the events it missed. The hub's consumer position can only lag the local
  one (the acknowledgement is sent after the commit); it is there for the hub's operators
  (``changeConsumers`` shows the lag) and for the first subscription, which registers it.
- **Snapshot when there is no usable position**: on the first run (an empty local
  database) and after ``CURSOR_EXPIRED`` (events it had not read were pruned): read
  ``changeHead`` first, then every page of golden vendors, then follow the stream after
  that head. Events apply by golden id and version, so an event already reflected in the
  snapshot changes nothing (it is logged with the effect ``in-snapshot``).
- **CONSUMER_TOO_SLOW** (it fell ``MDM_SUBSCRIPTION_BUFFER`` events behind while live): it
  subscribes again after its local position and replays from there.

Local tables: ``vendor`` (id, version, status, name, merged_into, attributes as JSON),
``applied_event`` (one row per event applied), ``sync_state`` (the consumer, its position
and cursor) and ``snapshot`` (the head of each resync). Each applied event is printed as
``<position> <kind> <golden id> v<version> <effect>``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from gql import Client, GraphQLRequest
from gql.client import AsyncClientSession
from gql.transport.exceptions import TransportError, TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport

SUBPROTOCOL = "graphql-transport-ws"  # the one WebSocket protocol the hub speaks
RETRY_SECONDS = 1.0  # pause before subscribing again after the connection was lost

FOLLOW = """subscription($consumer: String!, $after: String!) {
  goldenRecordChanges(entityTypes: ["vendor"], consumer: $consumer, after: $after) {
    position cursor kind goldenId version recordStatus mergedInto attributes
  }
}"""
HEAD = "query { changeHead { position cursor prunedThrough } }"
VENDORS = """query($after: String) {
  vendors(first: 500, after: $after, filter: {recordStatus: null}) {
    nodes { id version recordStatus attributes }
    pageInfo { hasNextPage endCursor }
  }
}"""
SURVIVOR = "query($id: ID!) { vendor(id: $id) { id } }"  # a merged id redirects to it
REGISTER = """mutation($name: String!, $after: String) {
  registerConsumer(name: $name, after: $after) {
    __typename
    ... on RegisterConsumerSuccess { isNew consumer { position } }
    ... on UserError { code message }
  }
}"""
ACKNOWLEDGE = """mutation($consumer: String!, $position: ChangePosition!) {
  acknowledgeChanges(consumer: $consumer, position: $position) {
    __typename ... on UserError { code message }
  }
}"""

SCHEMA = """
CREATE TABLE IF NOT EXISTS vendor (
    id          TEXT PRIMARY KEY,   -- the golden vendor's public id
    version     INTEGER NOT NULL,   -- the golden version this row reflects
    status      TEXT NOT NULL,      -- active | merged | retired
    name        TEXT,
    merged_into TEXT,               -- merged: the survivor's id
    attributes  TEXT NOT NULL       -- the golden attributes, JSON
);
CREATE TABLE IF NOT EXISTS applied_event (
    position    INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,
    golden_id   TEXT NOT NULL,
    version     INTEGER NOT NULL,
    effect      TEXT NOT NULL,      -- applied | in-snapshot (already reflected)
    applied_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sync_state (
    consumer    TEXT PRIMARY KEY,   -- one row: this copy's consumer
    position    INTEGER NOT NULL,   -- every event up to here is applied
    cursor      TEXT NOT NULL       -- the same position as the hub's opaque cursor
);
CREATE TABLE IF NOT EXISTS snapshot (
    position    INTEGER PRIMARY KEY,  -- the head read before the snapshot
    vendors     INTEGER NOT NULL,
    taken_at    TEXT NOT NULL
);
"""


class StreamEndedError(Exception):
    """The hub ended the subscription with an error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


def log(message: str) -> None:
    print(message, flush=True)


def now() -> str:
    return datetime.now(UTC).isoformat()


# --------------------------------------------------------------------------- local copy


class LocalCopy:
    """The local database: the vendors, the events applied, and the position."""

    def __init__(self, path: str, consumer: str) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)  # transactions are explicit
        # WAL: a commit survives the process being killed (synchronous=FULL would also
        # survive a power cut, at an fsync per event).
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.executescript(SCHEMA)
        self.consumer = consumer
        self.active_at = time.monotonic()  # when it last applied an event (or started)
        found = self.db.execute("SELECT consumer FROM sync_state").fetchone()
        if found is not None and found[0] != consumer:
            raise SystemExit(f"{path} is the copy of consumer {found[0]!r}, not {consumer!r}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def position(self) -> tuple[int, str] | None:
        """The position every event up to which is applied, and its cursor (None: never
        synced)."""
        found = self.db.execute("SELECT position, cursor FROM sync_state").fetchone()
        return (int(found[0]), str(found[1])) if found is not None else None

    def apply(self, event: dict[str, Any]) -> str | None:
        """Apply one event with its position, in one transaction; returns its effect
        (None: at or below the stored position, already applied)."""
        position = int(event["position"])
        self.active_at = time.monotonic()
        with self.transaction() as db:
            stored = self.position()
            if stored is not None and position <= stored[0]:
                return None
            found = db.execute(
                "SELECT version FROM vendor WHERE id = ?", (event["goldenId"],)
            ).fetchone()
            if found is not None and found[0] >= event["version"]:
                effect = "in-snapshot"  # a snapshot read after the event already holds it
            else:
                # Every event carries the record's state after the change
                # (mdm/schemas/change_event.schema.json), so each kind is an upsert of it:
                # - created: a new golden vendor (version 1);
                # - updated: attributes or members changed (or a retired one came back);
                # - unmerged: a member was split out (it arrives as a `created` of its own),
                #   this record stays active with its recomputed attributes;
                # - merged: folded into `mergedInto`; kept, marked merged, pointing to the
                #   survivor (whose own `updated` event names it in `mergedFrom`);
                # - retired: no live member is left; kept, marked retired.
                self._store(
                    event["goldenId"],
                    event["version"],
                    event["recordStatus"],
                    event["attributes"],
                    event["mergedInto"],
                )
                effect = "applied"
            db.execute(
                "INSERT INTO applied_event VALUES (?, ?, ?, ?, ?, ?)",
                (position, event["kind"].lower(), event["goldenId"], event["version"], effect,
                 now()),
            )  # fmt: skip
            self._move_to(position, event["cursor"])
        return effect

    def replace(
        self, head: dict[str, Any], vendors: list[dict[str, Any]], survivors: dict[str, str]
    ) -> None:
        """Replace the copy by a snapshot read after ``head``, in one transaction."""
        with self.transaction() as db:
            db.execute("DELETE FROM vendor")
            for vendor in vendors:
                self._store(
                    vendor["id"],
                    vendor["version"],
                    vendor["recordStatus"],
                    vendor["attributes"],
                    survivors.get(vendor["id"]),
                )
            db.execute(
                "INSERT OR REPLACE INTO snapshot VALUES (?, ?, ?)",
                (int(head["position"]), len(vendors), now()),
            )
            self._move_to(int(head["position"]), head["cursor"])

    def _store(
        self,
        golden_id: str,
        version: int,
        status: str,
        attributes: dict[str, Any],
        merged_into: str | None,
    ) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO vendor VALUES (?, ?, ?, ?, ?, ?)",
            (golden_id, version, status.lower(), attributes.get("name"), merged_into,
             json.dumps(attributes, sort_keys=True)),
        )  # fmt: skip

    def _move_to(self, position: int, cursor: str) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO sync_state VALUES (?, ?, ?)", (self.consumer, position, cursor)
        )


# --------------------------------------------------------------------------- the hub


class Hub:
    """The hub's GraphQL API: queries and mutations over HTTP (``session``, of ``client``),
    the subscription over a WebSocket (graphql-transport-ws, the token in
    ``connection_init``)."""

    def __init__(self, url: str, token: str, session: AsyncClientSession) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.session = session

    @staticmethod
    def client(url: str, token: str) -> Client:
        headers = {"Authorization": f"Bearer {token}"}
        transport = HTTPXAsyncTransport(url=f"{url.rstrip('/')}/graphql", headers=headers)
        return Client(transport=transport, execute_timeout=60)

    async def query(self, document: str, variables: dict[str, Any] | None = None) -> Any:
        return await self.session.execute(GraphQLRequest(document, variable_values=variables))

    def socket(self) -> Client:
        ws_url = self.url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        return Client(
            transport=WebsocketsTransport(
                url=f"{ws_url}/graphql",
                subprotocols=[SUBPROTOCOL],
                init_payload={"Authorization": f"Bearer {self.token}"},
            )
        )


class Acknowledger:
    """Acknowledges the newest locally committed position to the hub, in the background
    and one request at a time: an acknowledgement covers every position up to it, so a
    fast stream does not wait for a request per event."""

    def __init__(self, hub: Hub, consumer: str) -> None:
        self.hub = hub
        self.consumer = consumer
        self.committed = 0  # the newest position committed locally
        self.acknowledged = 0
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run())

    def note(self, position: int) -> None:
        """Call after the local commit of everything up to ``position``."""
        self.committed = max(self.committed, position)
        self._wake.set()

    async def close(self, timeout: float = 10.0) -> None:
        """Send what is left (waiting up to ``timeout``), then stop.

        Raises:
            RuntimeError: the hub refused an acknowledgement.
        """
        async with asyncio.timeout(timeout):
            while self.acknowledged < self.committed and not self._task.done():
                await asyncio.sleep(0.05)
        if self._task.done():
            self._task.result()
        self._task.cancel()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self.acknowledged < self.committed:
                position = self.committed
                try:
                    answer = await self.hub.query(
                        ACKNOWLEDGE, {"consumer": self.consumer, "position": position}
                    )
                except (TransportError, OSError) as error:  # the hub is away: try again
                    log(f"acknowledging {position}: {error}; retrying")
                    await asyncio.sleep(RETRY_SECONDS)
                    continue
                result = answer["acknowledgeChanges"]
                if result["__typename"] != "AcknowledgeChangesSuccess":
                    raise RuntimeError(f"acknowledgeChanges: {result['code']}: {result['message']}")
                self.acknowledged = position


# --------------------------------------------------------------------------- syncing


async def resync(hub: Hub, local: LocalCopy) -> None:
    """Replace the local copy by a snapshot: the head first (every event up to it is
    committed, so the pages read after it reflect them all), then every golden vendor."""
    head = (await hub.query(HEAD))["changeHead"]
    vendors: list[dict[str, Any]] = []
    after = None
    while True:
        page = (await hub.query(VENDORS, {"after": after}))["vendors"]
        vendors += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    survivors = {}
    for vendor in vendors:  # few are merged: their survivor, one look-up each
        if vendor["recordStatus"] == "MERGED":
            found = (await hub.query(SURVIVOR, {"id": vendor["id"]}))["vendor"]
            survivors[vendor["id"]] = found["id"]
    local.replace(head, vendors, survivors)
    log(f"snapshot: {len(vendors)} vendors at position {head['position']}")


async def register(hub: Hub, consumer: str, cursor: str) -> bool:
    """Register the consumer at ``cursor``, or reuse it if this token registered it; False
    if ``cursor`` has expired (a new consumer cannot start there)."""
    answer = (await hub.query(REGISTER, {"name": consumer, "after": cursor}))["registerConsumer"]
    if answer["__typename"] != "RegisterConsumerSuccess":
        if answer["code"] == "CURSOR_EXPIRED":
            return False
        raise SystemExit(f"registerConsumer {consumer!r}: {answer['code']}: {answer['message']}")
    state = "registered" if answer["isNew"] else "reusing"
    log(f"{state} consumer {consumer} (hub position {answer['consumer']['position']})")
    return True


async def follow(hub: Hub, local: LocalCopy, acks: Acknowledger, until_idle: float | None) -> None:
    """Apply the vendor events after the local position until none came for
    ``until_idle`` seconds (None: forever).

    Raises:
        StreamEndedError: the hub ended the subscription (CONSUMER_TOO_SLOW, CURSOR_EXPIRED…).
    """
    position, cursor = current(local)
    request = GraphQLRequest(FOLLOW, variable_values={"consumer": local.consumer, "after": cursor})
    log(f"following after position {position}")
    async with hub.socket() as socket:
        events = socket.subscribe(request)
        while True:
            try:
                result = await asyncio.wait_for(anext(events), until_idle)
            except TimeoutError:
                log(f"no event for {until_idle:g} s: stopping at position {position}")
                return
            except StopAsyncIteration:
                raise StreamEndedError("COMPLETE", "the hub ended the subscription") from None
            except TransportQueryError as error:
                first = (error.errors or [{}])[0]
                code = str((first.get("extensions") or {}).get("code", "UNKNOWN"))
                raise StreamEndedError(code, str(first.get("message", error))) from None
            event = result["goldenRecordChanges"]
            effect = local.apply(event)
            if effect is None:
                continue
            position = int(event["position"])
            acks.note(position)  # after the local commit
            kind, golden_id, version = event["kind"].lower(), event["goldenId"], event["version"]
            log(f"{position} {kind} {golden_id} v{version} {effect}")


async def run(url: str, token: str, path: str, consumer: str, until_idle: float | None) -> None:
    local = LocalCopy(path, consumer)
    async with Hub.client(url, token) as session:
        hub = Hub(url, token, session)
        if local.position() is None:  # a new copy
            await resync(hub, local)
        while not await register(hub, consumer, current(local)[1]):
            await resync(hub, local)
        acks = Acknowledger(hub, consumer)
        acks.note(current(local)[0])  # e.g. committed just before it was killed last time
        while True:
            try:
                await follow(hub, local, acks, until_idle)
                break
            except StreamEndedError as ended:
                log(str(ended))
                if ended.code == "CURSOR_EXPIRED":  # events it had not read were pruned
                    await resync(hub, local)
                elif ended.code not in ("CONSUMER_TOO_SLOW", "COMPLETE"):
                    raise SystemExit(1) from None
                # else: subscribe again after the local position
            except (TransportError, OSError) as error:  # the hub restarts, the network…
                if until_idle is not None and time.monotonic() - local.active_at > until_idle:
                    log(f"hub unreachable ({error!r}) and no event for {until_idle:g} s: stopping")
                    break
                log(f"connection lost ({error!r}); subscribing again")
                await asyncio.sleep(RETRY_SECONDS)
        await acks.close()


def current(local: LocalCopy) -> tuple[int, str]:
    stored = local.position()
    assert stored is not None, "synced from a snapshot first"
    return stored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("hub_url", help="the hub, e.g. http://127.0.0.1:8000")
    parser.add_argument("local_db", help="the local SQLite file (created if missing)")
    parser.add_argument("--consumer", default="vendor-copy", help="the hub consumer's name")
    parser.add_argument("--token", default=os.environ.get("MDM_TOKEN"), help="or MDM_TOKEN")
    parser.add_argument(
        "--until-idle", type=float, metavar="SECONDS", help="exit after SECONDS with no event"
    )
    args = parser.parse_args()
    if not args.token:
        parser.error("a token is needed: --token or MDM_TOKEN")
    asyncio.run(run(args.hub_url, args.token, args.local_db, args.consumer, args.until_idle))


if __name__ == "__main__":
    main()
