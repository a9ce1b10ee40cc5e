"""The change stream over real ``mdm serve`` processes and real sockets, on both databases:
``goldenRecordChanges`` over graphql-transport-ws (a ``gql`` client), the ``changes``
polling feed, named consumers, slow and killed subscribers, restarts, concurrent writers
on two servers, and the codes bad input gets."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from sqlalchemy import select

from mdm.api.changes import change_cursor
from mdm.hub import Hub
from mdm.ingest import RecordInput
from mdm.settings import Settings
from mdm.store import ChangeEvent, upgrade
from tests.api.changes_client import ACKNOWLEDGE, FOLLOW, SUBPROTOCOL, transport
from tests.conftest import (
    BACKENDS,
    ROOT,
    register_systems_and_tokens,
    start_server,
    stop_server,
    throwaway_pg_database,
)

HEAD = "query { changeHead { position cursor prunedThrough } }"
CHANGES = """query($after: String, $first: Int!, $systems: [String!], $entityTypes: [String!]) {
  changes(after: $after, first: $first, systems: $systems, entityTypes: $entityTypes) {
    edges { cursor node { position kind goldenId sourceIds { system sourceId } } }
    pageInfo { hasNextPage endCursor }
    head { position cursor }
  }
}"""
REGISTER = """mutation($name: String!, $after: String) {
  registerConsumer(name: $name, after: $after) {
    __typename ... on RegisterConsumerSuccess { isNew consumer { name owner position } }
    ... on UserError { code message field } } }"""
CONSUMERS = "query { changeConsumers { name owner position lag acknowledgedAt } }"
INGEST = """mutation($records: [SourceRecordInput!]!) { ingestRecords(records: $records) {
  __typename } }"""
READ = """subscription($after: String) {
  goldenRecordChanges(after: $after) { position kind goldenId attributes changes { attribute } }
}"""
WAIT = 30.0  # seconds any one expected event may take


@dataclass
class Stream:
    """A migrated database with the three systems, a token per role, and its first server."""

    database_url: str
    tokens: dict[str, str]
    url: str
    process: subprocess.Popen[bytes]
    env: dict[str, str]

    def query(self, document: str, variables: dict[str, Any] | None = None, role: str = "admin",
              url: str | None = None) -> dict[str, Any]:  # fmt: skip
        response = httpx.post(
            f"{url or self.url}/graphql",
            json={"query": document, "variables": variables or {}},
            headers={"Authorization": f"Bearer {self.tokens[role]}"},
            timeout=60,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def head(self) -> int:
        return int(self.query(HEAD)["data"]["changeHead"]["position"])

    def stored(self) -> list[int]:
        hub = Hub(Settings(database_url=self.database_url))
        try:
            with hub.database.read_session() as session:
                return list(session.scalars(select(ChangeEvent.seq).order_by(ChangeEvent.seq)))
        finally:
            hub.close()

    def ingest(self, records: list[RecordInput]) -> None:
        """Written straight to the store, as another process (``mdm load``) would."""
        hub = Hub(Settings(database_url=self.database_url))
        try:
            with hub.database.session() as session:
                hub.ingestor.ingest_many(session, records, enforce_batch_limit=False)
        finally:
            hub.close()


@pytest.fixture
def server_env() -> dict[str, str]:
    """Settings of the servers a test starts (a test parametrizes it to change them)."""
    return {}


@pytest.fixture(params=BACKENDS)
def stream(
    request: pytest.FixtureRequest, tmp_path: Path, server_env: dict[str, str]
) -> Iterator[Stream]:
    """A database of its own (servers stopped and started at will) and one server on it."""
    with _database(request, tmp_path) as database_url:
        tokens = register_systems_and_tokens(database_url)
        process, url = start_server(database_url, **server_env)
        made = Stream(database_url, tokens, url, process, server_env)
        try:
            yield made
        finally:
            if made.process.poll() is None:
                stop_server(made.process)


@pytest.fixture(scope="module", params=BACKENDS)
def shared_stream(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stream]:
    """One server per backend for the tests of refused input (which change nothing)."""
    with _database(request, tmp_path_factory.mktemp("shared")) as database_url:
        tokens = register_systems_and_tokens(database_url)
        process, url = start_server(database_url)
        made = Stream(database_url, tokens, url, process, {})
        made.ingest(vendors("X", 2))
        made.query(REGISTER, {"name": "mine", "after": change_cursor(1)}, role="integrator")
        try:
            yield made
        finally:
            stop_server(made.process)


@contextmanager
def _database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "mdm.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    with throwaway_pg_database("mdm_stream") as url:
        upgrade(url)
        yield url


def vendors(prefix: str, count: int, system: str = "ERP") -> list[RecordInput]:
    """Vendors that match nothing else: one golden record (one event) each."""
    return [
        RecordInput("vendor", system, f"{prefix}-{n}", {"name": f"{prefix} Vendor {n:04d} Co"})
        for n in range(count)
    ]


def as_input(records: list[RecordInput]) -> list[dict[str, Any]]:
    return [
        {"entityType": r.entity_type, "system": r.system, "sourceId": r.source_id,
         "attributes": dict(r.attributes)}
        for r in records
    ]  # fmt: skip


async def take(
    url: str,
    token: str,
    count: int,
    variables: dict[str, Any] | None = None,
    *,
    after_each: Any = None,
    until: Any = None,
    document: str = FOLLOW,
) -> list[dict[str, Any]]:
    """The first ``count`` events of a subscription (or until ``until(events)``)."""
    found: list[dict[str, Any]] = []
    async with Client(transport=transport(url, token)) as session:
        request = GraphQLRequest(document, variable_values=variables or {})
        subscription = session.subscribe(request)
        while len(found) < count if until is None else not until(found):
            result = await asyncio.wait_for(anext(subscription), WAIT)
            found.append(result["goldenRecordChanges"])
            if after_each is not None:
                await after_each(found)
        await subscription.aclose()
    return found


async def refused(url: str, token: str, variables: dict[str, Any]) -> dict[str, Any]:
    """The error a subscription ends with before any event."""
    with pytest.raises(TransportQueryError) as raised:
        await take(url, token, 1, variables)
    errors = raised.value.errors or []
    assert len(errors) == 1, errors
    error: dict[str, Any] = errors[0]
    return error


def positions(events: list[dict[str, Any]]) -> list[int]:
    return [int(e["position"]) for e in events]


# --------------------------------------------------------------------------- streaming


def test_replay_then_live_with_no_gap_and_no_duplicate(stream: Stream) -> None:
    stream.ingest(vendors("OLD", 30))
    writer_done = threading.Event()

    def write_while_replaying() -> None:
        for n in range(10):  # committed while the subscriber replays and after it went live
            stream.query(INGEST, {"records": as_input(vendors(f"NEW{n}", 2))}, role="integrator")
            time.sleep(0.05)
        writer_done.set()

    async def first_event(found: list[dict[str, Any]]) -> None:
        if len(found) == 1:
            threading.Thread(target=write_while_replaying).start()

    events = asyncio.run(
        take(stream.url, stream.tokens["integrator"], 50, {"after": change_cursor(0)},
             after_each=first_event)
    )  # fmt: skip
    assert writer_done.wait(WAIT)
    assert positions(events) == stream.stored()  # every event once, in order
    assert {e["kind"] for e in events} == {"CREATED"}


def test_a_killed_subscriber_resumes_from_its_acknowledged_position(stream: Stream) -> None:
    consumer = f"erp-sync-{uuid.uuid4().hex[:6]}"
    registered = stream.query(REGISTER, {"name": consumer, "after": change_cursor(0)},
                              role="integrator")  # fmt: skip
    assert registered["data"]["registerConsumer"]["isNew"] is True
    stream.ingest(vendors("A", 400))
    client = subprocess.Popen(
        [sys.executable, "-m", "tests.api.changes_client", stream.url,
         stream.tokens["integrator"], consumer],
        cwd=ROOT, stdout=subprocess.PIPE, env={**os.environ},
    )  # fmt: skip
    assert client.stdout is not None
    taken = [int(client.stdout.readline()) for _ in range(25)]
    client.send_signal(signal.SIGKILL)
    client.wait(timeout=10)
    consumers = stream.query(CONSUMERS, role="integrator")["data"]["changeConsumers"]
    (found,) = [c for c in consumers if c["name"] == consumer]
    acknowledged = int(found["position"])
    assert acknowledged >= taken[-1] and found["acknowledgedAt"]
    assert int(found["lag"]) == stream.head() - acknowledged
    assert acknowledged < stream.stored()[-1], "the subscriber finished before it was killed"

    stream.ingest(vendors("B", 5))  # and more while it is down
    rest = asyncio.run(
        take(stream.url, stream.tokens["integrator"], 0, {"consumer": consumer},
             until=lambda found: found and int(found[-1]["position"]) == stream.stored()[-1])
    )  # fmt: skip
    assert positions(rest) == [s for s in stream.stored() if s > acknowledged]  # exactly those


def test_a_restarted_server_loses_nothing(stream: Stream) -> None:
    consumer = "ehr-sync"
    token = stream.tokens["integrator"]

    async def acknowledge(found: list[dict[str, Any]]) -> None:
        await asyncio.to_thread(
            stream.query, ACKNOWLEDGE, {"consumer": consumer, "position": found[-1]["position"]},
            "integrator",
        )  # fmt: skip

    async def first() -> list[dict[str, Any]]:
        task = asyncio.create_task(take(stream.url, token, 3, {"consumer": consumer},
                                        after_each=acknowledge))  # fmt: skip
        await asyncio.sleep(1.0)  # registered at the head on first use, then live
        await asyncio.to_thread(stream.ingest, vendors("UP", 3))
        return await task

    before = asyncio.run(first())
    stop_server(stream.process)
    stream.ingest(vendors("DOWN", 4))  # while no server runs
    stream.process, stream.url = start_server(stream.database_url, **stream.env)
    after = asyncio.run(take(stream.url, token, 4, {"consumer": consumer}))
    assert positions(before) + positions(after) == stream.stored()


def test_concurrent_writers_on_two_servers_reach_every_subscriber_once_in_order(
    stream: Stream,
) -> None:
    second, second_url = start_server(stream.database_url)
    start = stream.head()
    writers, batches = 4, 6
    token = stream.tokens["integrator"]
    try:

        async def run() -> list[list[dict[str, Any]]]:
            sinks: list[list[dict[str, Any]]] = [[], [], []]
            subscribers = [
                asyncio.create_task(collect(url, token, {"after": change_cursor(start)}, sink))
                for url, sink in zip((stream.url, stream.url, second_url), sinks, strict=True)
            ]
            await asyncio.sleep(1.0)  # live before the writers start (and some while replaying)

            def write(n: int) -> None:
                for b in range(batches):
                    url = stream.url if (n + b) % 2 else second_url
                    records = as_input(vendors(f"W{n}B{b}", 3))
                    stream.query(INGEST, {"records": records}, role="integrator", url=url)

            await asyncio.gather(*(asyncio.to_thread(write, n) for n in range(writers)))
            target = (await asyncio.to_thread(stream.stored))[-1]
            deadline = time.monotonic() + WAIT
            while not all(sink and int(sink[-1]["position"]) >= target for sink in sinks):
                assert time.monotonic() < deadline, [len(sink) for sink in sinks]
                assert not any(task.done() for task in subscribers), subscribers
                await asyncio.sleep(0.1)
            for task in subscribers:
                task.cancel()
            await asyncio.gather(*subscribers, return_exceptions=True)
            return sinks

        seen = asyncio.run(run())
    finally:
        stop_server(second)
    expected = [s for s in stream.stored() if s > start]
    assert len(expected) == writers * batches * 3
    for events in seen:
        assert positions(events) == expected


async def collect(
    url: str, token: str, variables: dict[str, Any], sink: list[dict[str, Any]]
) -> None:
    """Every event of a subscription into ``sink``, until cancelled."""
    async with Client(transport=transport(url, token)) as session:
        async for result in session.subscribe(GraphQLRequest(FOLLOW, variable_values=variables)):
            sink.append(result["goldenRecordChanges"])


def test_a_merge_reaches_each_system_with_its_own_ids(stream: Stream) -> None:
    cursor = stream.query(HEAD)["data"]["changeHead"]["cursor"]
    stream.query(INGEST, {"records": [
        {"entityType": "vendor", "system": "ERP", "sourceId": "V1",
         "attributes": {"name": "Northwind Surgical Inc", "tax_id": "41-2847561"}},
        {"entityType": "vendor", "system": "EHR", "sourceId": "O1",
         "attributes": {"name": "Northwind Surgical", "duns": "150483782"}},
    ]}, role="integrator")  # fmt: skip
    stream.query(INGEST, {"records": [
        {"entityType": "vendor", "system": "PROCUREMENT", "sourceId": "P1",
         "attributes": {"name": "Northwind Surgical Inc", "tax_id": "41-2847561",
                        "duns": "150483782"}},
    ]}, role="integrator")  # fmt: skip
    newest = stream.head()

    def by(system: str) -> list[dict[str, Any]]:
        return asyncio.run(
            take(stream.url, stream.tokens["integrator"], 0,
                 {"after": cursor, "systems": [system]},
                 until=lambda found: found and int(found[-1]["position"]) == newest)
        )  # fmt: skip

    erp, ehr, procurement = by("ERP"), by("EHR"), by("PROCUREMENT")
    merged = [e for e in ehr if e["kind"] == "MERGED"]
    assert len(merged) == 1
    survivor = merged[0]["mergedInto"]
    assert merged[0]["removedSourceIds"] == [{"system": "EHR", "sourceId": "O1"}]
    assert merged[0]["sourceIds"] == []
    assert "MERGED" not in {e["kind"] for e in erp}  # the EHR golden record was merged away
    folded = [e for e in erp if e["mergedFrom"]]
    assert [e["mergedFrom"] for e in folded] == [[merged[0]["goldenId"]]]
    assert folded[0]["goldenId"] == survivor
    # Each system's subscriber gets its own ids only: the crosswalk change as it sees it.
    assert ehr[-1]["goldenId"] == survivor
    assert ehr[-1]["sourceIds"] == [{"system": "EHR", "sourceId": "O1"}]
    assert erp[-1]["sourceIds"] == [{"system": "ERP", "sourceId": "V1"}]
    assert [e["sourceIds"] for e in procurement] == [[{"system": "PROCUREMENT", "sourceId": "P1"}]]
    everything = stream.query(CHANGES, {"after": cursor, "first": 50})["data"]["changes"]
    assert len(everything["edges"]) == len({e["position"] for e in erp + ehr + procurement})


@pytest.mark.parametrize("server_env", [{"MDM_SUBSCRIPTION_BUFFER": "5"}], ids=["buffer-5"])
def test_a_subscriber_that_stops_reading_is_ended_and_resumes_from_its_cursor(
    stream: Stream,
) -> None:
    """A client that stops reading: once its socket's buffers are full, the server keeps
    at most MDM_SUBSCRIPTION_BUFFER events for it, then ends the subscription with
    CONSUMER_TOO_SLOW after what it had sent; resumed from the last cursor received, the
    client gets exactly the rest."""
    token = stream.tokens["integrator"]
    burst = 1500  # events of ~4 KB: far more than the sockets' and the server's buffers hold
    bulky = [
        RecordInput(r.entity_type, r.system, r.source_id,
                    {**r.attributes, "address_line2": f"Suite {n} " + "x" * 3900})
        for n, r in enumerate(vendors("BURST", burst))
    ]  # fmt: skip
    document = "subscription { goldenRecordChanges { position cursor attributes } }"

    async def run() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        from websockets.asyncio.client import connect
        from websockets.typing import Subprotocol

        host, port = stream.url.removeprefix("http://").split(":")
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window
        sock.connect((host, int(port)))
        ws = await connect(f"ws://{host}:{port}/graphql", sock=sock, max_queue=1,
                           subprotocols=[Subprotocol(SUBPROTOCOL)], ping_interval=None)  # fmt: skip
        await ws.send(json.dumps({"type": "connection_init",
                                  "payload": {"Authorization": f"Bearer {token}"}}))  # fmt: skip
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe",
                                  "payload": {"query": document, "variables": {}}}))  # fmt: skip
        await asyncio.sleep(1.0)  # subscribed: live
        await asyncio.to_thread(stream.ingest, vendors("PRIME", 1))
        first = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        # Stop reading: the burst fills the socket, then the server's buffer overflows.
        await asyncio.to_thread(stream.ingest, bulky)
        await asyncio.sleep(2.0)
        messages = [first]
        while messages[-1]["type"] == "next" and "errors" not in messages[-1]["payload"]:
            try:
                messages.append(json.loads(await asyncio.wait_for(ws.recv(), WAIT)))
            except TimeoutError:
                raise AssertionError(f"stalled after {len(messages)}: {messages[-1]}") from None
        await ws.close()
        return [m["payload"]["data"]["goldenRecordChanges"] for m in messages[:-1]], [messages[-1]]

    got, (last,) = asyncio.run(run())
    assert last["type"] == "next" and last["payload"]["data"] is None, last
    assert last["payload"]["errors"][0]["extensions"]["code"] == "CONSUMER_TOO_SLOW"
    assert 1 <= len(got) < burst + 1  # ended before the end of the burst
    rest = burst + 1 - len(got)
    resumed = asyncio.run(take(stream.url, token, rest, {"after": got[-1]["cursor"]}))
    assert positions(got) + positions(resumed) == stream.stored()[-(burst + 1) :]


# --------------------------------------------------------------------------- polling


def test_the_polling_feed_pages_in_order_with_the_head(stream: Stream) -> None:
    stream.ingest(vendors("P", 7) + vendors("Q", 3, system="EHR"))
    pages, after = [], None
    while True:
        page = stream.query(CHANGES, {"after": after, "first": 3}, role="integrator")
        assert "errors" not in page, page
        found = page["data"]["changes"]
        pages.append([int(e["node"]["position"]) for e in found["edges"]])
        after = found["pageInfo"]["endCursor"]
        if not found["pageInfo"]["hasNextPage"]:
            break
    assert [p for page in pages for p in page] == stream.stored()
    assert max(len(p) for p in pages) == 3
    assert int(found["head"]["position"]) == stream.stored()[-1]
    assert found["head"]["cursor"] == after
    ehr = stream.query(CHANGES, {"first": 50, "systems": ["EHR"]}, role="integrator")
    nodes = [e["node"] for e in ehr["data"]["changes"]["edges"]]
    assert [n["sourceIds"][0]["system"] for n in nodes] == ["EHR"] * 3
    # Nothing new: an empty page whose cursor stays at the head.
    empty = stream.query(CHANGES, {"after": after, "first": 3})["data"]["changes"]
    assert empty["edges"] == [] and empty["pageInfo"] == {
        "hasNextPage": False,
        "endCursor": after,
    }


def test_a_reader_may_subscribe_but_sees_no_source_ids(stream: Stream) -> None:
    stream.ingest(vendors("R", 2))
    events = asyncio.run(
        take(stream.url, stream.tokens["reader"], 2, {"after": change_cursor(0)}, document=READ)
    )
    assert all(e["attributes"]["name"].startswith("R Vendor") for e in events)
    assert positions(events) == stream.stored()
    with pytest.raises(TransportQueryError) as raised:
        asyncio.run(_take_with_source_ids(stream, "reader"))
    assert raised.value.errors[0]["extensions"]["code"] == "FORBIDDEN"  # type: ignore[index]


async def _take_with_source_ids(stream: Stream, role: str) -> Any:
    document = "subscription($after: String) { goldenRecordChanges(after: $after) { sourceIds { system } } }"  # noqa: E501
    async with Client(transport=transport(stream.url, stream.tokens[role])) as session:
        request = GraphQLRequest(document, variable_values={"after": change_cursor(0)})
        async for result in session.subscribe(request):
            return result


def test_a_websocket_without_a_good_token_is_refused(shared_stream: Stream) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    async def close_code(payload: dict[str, Any], headers: dict[str, str]) -> int | None:
        url = shared_stream.url.replace("http://", "ws://") + "/graphql"
        async with connect(url, subprotocols=[SUBPROTOCOL], additional_headers=headers) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
            try:
                answer = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
            except ConnectionClosed as closed:
                return closed.rcvd.code if closed.rcvd else None
            assert answer["type"] == "connection_ack"
            return None

    good = f"Bearer {shared_stream.tokens['reader']}"
    assert asyncio.run(close_code({}, {})) == 4403
    assert asyncio.run(close_code({"Authorization": "Bearer mdm_not-a-token"}, {})) == 4403
    assert asyncio.run(close_code({}, {"Authorization": "Bearer mdm_not-a-token"})) == 4403
    assert asyncio.run(close_code({"Authorization": good}, {})) is None
    assert asyncio.run(close_code({}, {"Authorization": good})) is None


@pytest.mark.parametrize("server_env", [{"MDM_TOKEN_CACHE_SECONDS": "0.2"}], ids=["cache-0.2s"])
def test_a_revoked_token_ends_its_subscription(stream: Stream) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mdm.cli", "token", *args],
            env={**os.environ, "MDM_DATABASE_URL": stream.database_url},
            cwd=ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    created = cli("create", "--role", "reader", "--name", "night shift")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    kept = stream.tokens["reader"]

    async def run() -> tuple[dict[str, Any], list[dict[str, Any]]]:

        async def revoke_then_write(found: list[dict[str, Any]]) -> None:
            if len(found) == 1:
                revoked = await asyncio.to_thread(cli, "revoke", "--name", "night shift")
                assert revoked.returncode == 0, revoked.stderr
                await asyncio.sleep(0.5)  # past the server's cached check
                await asyncio.to_thread(stream.ingest, vendors("AFTER", 2))

        follower = asyncio.create_task(
            take(stream.url, kept, 3, {"after": change_cursor(0)}, document=READ)
        )
        with pytest.raises(TransportQueryError) as raised:
            await take(stream.url, token, 3, {"after": change_cursor(0)},
                       document=READ, after_each=revoke_then_write)  # fmt: skip
        return (raised.value.errors or [{}])[0], await follower

    stream.ingest(vendors("BEFORE", 1))
    error, other = asyncio.run(run())
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert len(other) == 3  # another token's subscription goes on
    listed = cli("list")
    assert "revoked" in listed.stdout and "night shift" in listed.stdout
    unknown = cli("revoke", "--name", "night shift")  # no live token of that name now
    assert unknown.returncode == 2 and "NOT_FOUND" in unknown.stderr


def test_queries_over_the_websocket_answer_as_over_http(shared_stream: Stream) -> None:
    """Queries and mutations over the socket run on the worker threads (with a context of
    their own each: the DataLoaders of one do not outlive it), next to a subscription."""
    stream = shared_stream
    document = """query { vendors(first: 5) { nodes { id name sourceRecords { system sourceId } } }
      changeHead { position } }"""
    over_http = stream.query(document, role="integrator")["data"]

    async def over_socket() -> tuple[list[Any], list[dict[str, Any]]]:
        token = stream.tokens["integrator"]
        async with Client(transport=transport(stream.url, token)) as session:
            live = asyncio.create_task(
                take(stream.url, token, 2, {"after": change_cursor(0)}, document=READ)
            )
            answers = [await session.execute(GraphQLRequest(document)) for _ in range(3)]
            with pytest.raises(TransportQueryError) as refused:
                await session.execute(GraphQLRequest(REGISTER, variable_values={"name": "x\x00y"}))
            answers.append((refused.value.errors or [{}])[0]["extensions"]["code"])
            return answers, await live

    answers, live = asyncio.run(over_socket())
    assert answers == [over_http] * 3 + ["INVALID_INPUT"] and over_http["vendors"]["nodes"]
    assert len(live) == 2


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("variables", "role", "code", "field"),
    [
        pytest.param({"entityTypes": ["vendor", "starship"]}, "reader", "UNKNOWN_ENTITY_TYPE",
                     "entityTypes[1]", id="entity-type"),
        pytest.param({"systems": ["ERP", "MAINFRAME"]}, "integrator", "UNKNOWN_SYSTEM",
                     "systems[1]", id="system"),
        pytest.param({"systems": ["ERP"]}, "reader", "FORBIDDEN", None, id="reader-systems"),
        pytest.param({"after": "bm90IGEgY3Vyc29y"}, "reader", "INVALID_CURSOR", "after",
                     id="malformed-cursor"),
        pytest.param({"after": "Zzo1"}, "reader", "INVALID_CURSOR", "after",
                     id="another-lists-cursor"),
        pytest.param({"after": "YzotMQ=="}, "reader", "INVALID_CURSOR", "after",
                     id="negative-cursor"),
        pytest.param({"after": "YzoxODQ0Njc0NDA3MzcwOTU1MTYxNg=="}, "reader", "INVALID_CURSOR",
                     "after", id="cursor-beyond-64-bits"),
        pytest.param({"after": "YzoxMDAwMDAw"}, "reader", "CURSOR_BEYOND_HEAD", "after",
                     id="future-cursor"),
        pytest.param({"consumer": "x\x00y"}, "reader", "INVALID_INPUT", "consumer", id="nul"),
        pytest.param({"consumer": "x\ud800y"}, "reader", "INVALID_INPUT", "consumer",
                     id="lone-surrogate"),
        pytest.param({"consumer": "c" * 10_001}, "reader", "INVALID_INPUT", "consumer",
                     id="long-consumer"),
        pytest.param({"consumer": "relay:MDM_CHANGES"}, "reader", "INVALID_INPUT", "consumer",
                     id="reserved-consumer"),
        pytest.param({"consumer": "theirs"}, "reader", "FORBIDDEN", None, id="their-consumer"),
    ],
)  # fmt: skip
def test_a_subscription_with_bad_input_ends_with_its_code(
    shared_stream: Stream, variables: dict[str, Any], role: str, code: str, field: str | None
) -> None:
    stream = shared_stream
    stream.query(REGISTER, {"name": "theirs"}, role="integrator")
    before = stream.query(CONSUMERS)["data"]["changeConsumers"]
    error = asyncio.run(refused(stream.url, stream.tokens[role], variables))
    assert error["extensions"]["code"] == code, error
    assert error["extensions"].get("field") == field
    assert stream.query(CONSUMERS)["data"]["changeConsumers"] == before  # nothing registered


@pytest.mark.parametrize(
    ("document", "variables", "role", "code", "field"),
    [
        pytest.param(ACKNOWLEDGE, {"consumer": "nobody", "position": 0}, "integrator",
                     "UNKNOWN_CONSUMER", "consumer", id="unknown-consumer"),
        pytest.param(ACKNOWLEDGE, {"consumer": "mine", "position": 10**6}, "integrator",
                     "POSITION_BEYOND_HEAD", "position", id="beyond-head"),
        pytest.param(ACKNOWLEDGE, {"consumer": "mine", "position": -1}, "integrator",
                     "INVALID_POSITION", "position", id="negative"),
        pytest.param(ACKNOWLEDGE, {"consumer": "mine", "position": 2**64}, "integrator",
                     "INVALID_POSITION", "position", id="beyond-64-bits"),
        pytest.param(ACKNOWLEDGE, {"consumer": "mine", "position": 10**400}, "integrator",
                     "INVALID_POSITION", "position", id="huge"),
        pytest.param(ACKNOWLEDGE, {"consumer": "mine", "position": "7"}, "integrator",
                     "GRAPHQL_VALIDATION_FAILED", None, id="string-position"),
        pytest.param(
            'mutation { acknowledgeChanges(consumer: "mine", position: 18446744073709551616) '
            "{ __typename } }", {}, "integrator", "INVALID_POSITION", "position",
            id="literal-beyond-64-bits"),
        pytest.param(ACKNOWLEDGE, {"consumer": "mine", "position": 1}, "reader", "FORBIDDEN",
                     None, id="their-consumer"),
        pytest.param(ACKNOWLEDGE, {"consumer": "mine\x00", "position": 1}, "integrator",
                     "INVALID_INPUT", "consumer", id="nul-consumer"),
        pytest.param(REGISTER, {"name": "mine"}, "reader", "CONSUMER_EXISTS", "name",
                     id="taken-name"),
        pytest.param(REGISTER, {"name": "n" * 201}, "reader", "INVALID_INPUT", "name",
                     id="long-name"),
        pytest.param(REGISTER, {"name": "new", "after": "YzoxMDAwMDAw"}, "reader",
                     "CURSOR_BEYOND_HEAD", "after", id="register-beyond-head"),
        pytest.param(CHANGES, {"after": "YzoxMDAwMDAw", "first": 5}, "reader",
                     "CURSOR_BEYOND_HEAD", "after", id="changes-future-cursor"),
        pytest.param(CHANGES, {"after": "%%%", "first": 5}, "reader", "INVALID_CURSOR", "after",
                     id="changes-malformed-cursor"),
        pytest.param(CHANGES, {"first": 5, "entityTypes": ["starship"]}, "reader",
                     "UNKNOWN_ENTITY_TYPE", "entityTypes[0]", id="changes-entity-type"),
        pytest.param(CHANGES, {"first": 5, "systems": ["MAINFRAME"]}, "integrator",
                     "UNKNOWN_SYSTEM", "systems[0]", id="changes-system"),
        pytest.param(CHANGES, {"first": 5, "systems": ["ERP"]}, "reader", "FORBIDDEN", None,
                     id="changes-reader-systems"),
        pytest.param(CHANGES, {"first": 0}, "reader", "INVALID_INPUT", "first",
                     id="changes-first"),
    ],
)  # fmt: skip
def test_bad_input_gets_its_code_and_changes_nothing(
    shared_stream: Stream,
    document: str,
    variables: dict[str, Any],
    role: str,
    code: str,
    field: str | None,
) -> None:
    stream = shared_stream
    before = stream.query(CONSUMERS)["data"]["changeConsumers"]
    body = stream.query(document, variables, role=role)
    if "errors" in body:
        (error,) = body["errors"]
        found = (error["extensions"]["code"], error["extensions"].get("field"))
    else:
        (result,) = body["data"].values()
        found = (result["code"], result["field"])
    assert found == (code, field), body
    after = stream.query(CONSUMERS)["data"]["changeConsumers"]
    assert after == before


def test_an_expired_cursor_is_refused_after_pruning(stream: Stream) -> None:
    stream.ingest(vendors("OLD", 4))
    first = stream.query(CHANGES, {"after": change_cursor(0), "first": 1})["data"]["changes"]
    assert first["pageInfo"]["hasNextPage"]  # the page after it is read ahead meanwhile
    hub = Hub(Settings(database_url=stream.database_url))
    try:
        with hub.database.session() as session:
            from sqlalchemy import update

            from mdm.store import utcnow

            session.execute(update(ChangeEvent).values(created_at=utcnow().replace(year=2000)))
    finally:
        hub.close()
    pruned = subprocess.run(
        [sys.executable, "-m", "mdm.cli", "changes", "prune", "--days", "30"],
        env={**os.environ, "MDM_DATABASE_URL": stream.database_url},
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert pruned.returncode == 0, pruned.stdout + pruned.stderr
    assert "pruned 3 change events" in pruned.stdout + pruned.stderr
    head = stream.query(HEAD)["data"]["changeHead"]
    assert head["prunedThrough"] == head["position"] - 1
    error = asyncio.run(refused(stream.url, stream.tokens["reader"], {"after": change_cursor(1)}))
    assert error["extensions"]["code"] == "CURSOR_EXPIRED"
    body = stream.query(CHANGES, {"after": change_cursor(0), "first": 5})
    assert body["errors"][0]["extensions"]["code"] == "CURSOR_EXPIRED"
    body = stream.query(CHANGES, {"after": first["pageInfo"]["endCursor"], "first": 1})
    assert body["errors"][0]["extensions"]["code"] == "CURSOR_EXPIRED"  # read ahead or not
    # The resync: the head, then a snapshot, then the stream after the head.
    assert (
        stream.query(CHANGES, {"after": head["cursor"], "first": 5})["data"]["changes"]["edges"]
        == []
    )
    vendors_page = stream.query("query { vendors(first: 10) { nodes { id } } }", role="reader")
    assert len(vendors_page["data"]["vendors"]["nodes"]) == 4
