"""Change-stream delivery: latency to 1..1,000 live subscribers, throughput under ingest,
replay of stored events over the subscription and the polling feed, relay throughput.

    python bench/subscribe.py [--database-url postgresql+psycopg://postgres@127.0.0.1/x]
        [--subscribers 1,100,1000] [--latency-events 50] [--rate 5] [--client-processes 2]
        [--sustain-subscribers 100] [--sustain-seconds 15]
        [--replay-events 1000000] [--relay-events 100000] [--nats nats://127.0.0.1:4222]

A scratch PostgreSQL database (created and dropped) behind one real ``mdm serve`` process.
Subscribers are raw graphql-transport-ws clients (``websockets``), spread over
``--client-processes`` processes on the same machine (which shares its CPUs with the
server), each subscribed to ``goldenRecordChanges(entityTypes: ["vendor"])`` with the
selection ``position cursor kind goldenId version attributes createdAt``.

1. **Latency** at each subscriber count: once every subscriber has received a warm-up
   event, ``--latency-events`` new vendors are ingested one per ``ingestRecords`` call, at
   most ``--rate`` a second and each once every subscriber has the one before (one event
   in flight: latency, not queueing behind a backlog). Two figures per delivery: from the
   event's ``createdAt`` (set on the server in the writing transaction, just before its
   commit: the commit-to-subscriber latency plus the rest of that transaction) and from
   the moment the ingest mutation returned to the client (after the commit and the HTTP
   response; can be negative). Both end when the subscriber's process has read and parsed
   the message, so they include that process's own queue (a client process takes one
   event for hundreds of sockets at once).
2. **Sustained**: ``--sustain-subscribers`` subscribers while batches of 100 vendors are
   ingested back to back for ``--sustain-seconds``: events committed and delivered per
   second, and whether every subscriber kept up (no CONSUMER_TOO_SLOW).
3. **Replay**: ``--replay-events`` synthetic vendor events shaped as real ones (schema
   version 1: ten attributes, their changes, two sources) written straight into
   ``change_event`` with ``mdm.events.record_change_events`` in batches of 10,000 (no
   matching: generating them through ingest would take hours), then read from position 0
   by one subscriber (same selection) and by the polling feed
   (``changes(first: 500)``, the largest page by default), until the head; beside them
   the store alone (``mdm.changes.read_changes`` in this process, no GraphQL).
4. **Relay**: runs ``bench/relay.py --events N`` against the same PostgreSQL server (its
   own scratch database) and prints its figure (needs a NATS server with JetStream).

Targets printed beside the figures: p99 <= 50 ms at 1,000 subscribers; replay >= 50,000
events/s; relay >= 20,000 events/s. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mdm.api.changes import change_cursor  # noqa: E402
from mdm.auth import Role, create_token  # noqa: E402
from mdm.changes import read_changes  # noqa: E402
from mdm.events import ChangeKind, event_row, record_change_events  # noqa: E402
from mdm.store import Database, upgrade  # noqa: E402
from mdm.systems import register_system  # noqa: E402

SUBPROTOCOL = "graphql-transport-ws"
SELECTION = "position cursor kind goldenId version attributes createdAt"
LIVE = f'subscription {{ goldenRecordChanges(entityTypes: ["vendor"]) {{ {SELECTION} }} }}'
REPLAY = f"subscription($after: String) {{ goldenRecordChanges(after: $after) {{ {SELECTION} }} }}"
POLL = f"""query($after: String) {{ changes(after: $after, first: 500) {{
  edges {{ node {{ {SELECTION} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"""
INGEST = """mutation($records: [SourceRecordInput!]!) { ingestRecords(records: $records) {
  ... on IngestRecordsSuccess { outcomes { goldenId } } ... on UserError { code message } } }"""
CURSOR_ZERO = change_cursor(0)
WAIT = 120.0  # seconds the subscribers may take to receive what was sent


# --------------------------------------------------------------------------- subscribers


async def _subscribe(url: str, token: str, document: str, variables: dict[str, Any]) -> Any:
    """An open graphql-transport-ws socket with one subscription started."""
    ws = await connect(
        url, subprotocols=[Subprotocol(SUBPROTOCOL)], max_size=None, ping_interval=None
    )
    init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
    await ws.send(orjson.dumps(init).decode())
    ack = orjson.loads(await ws.recv())
    assert ack["type"] == "connection_ack", ack
    message = {"id": "1", "type": "subscribe",
               "payload": {"query": document, "variables": variables}}  # fmt: skip
    await ws.send(orjson.dumps(message).decode())
    return ws


class Received:
    """What one client process's subscribers received: per golden id, when (the server's
    ``createdAt`` and this process's clock), and the errors that ended a subscription."""

    def __init__(self) -> None:
        self.counts: list[int] = []
        self.samples: list[tuple[str, float, float]] = []  # golden id, createdAt, received
        self.errors: list[str] = []


async def _listen(ws: Any, index: int, received: Received) -> None:
    async for raw in ws:
        now = time.time()
        message = orjson.loads(raw)
        if message["type"] == "next":
            event = message["payload"]["data"]["goldenRecordChanges"]
            created = datetime.fromisoformat(event["createdAt"]).timestamp()
            received.samples.append((event["goldenId"], created, now))
            received.counts[index] += 1
        elif message["type"] == "error":
            received.errors.append(str(message["payload"]))
            return


async def _client(url: str, token: str, count: int, control: Connection) -> None:
    received = Received()
    received.counts = [0] * count
    sockets = []
    for _ in range(count):
        sockets.append(await _subscribe(url, token, LIVE, {}))
    tasks = [asyncio.create_task(_listen(ws, i, received)) for i, ws in enumerate(sockets)]
    control.send(("ready", count))
    while True:
        command = await asyncio.to_thread(control.recv)
        if command == "counts":
            control.send(("counts", received.counts, received.errors))
        elif command == "reset":
            received.samples.clear()
            received.counts = [0] * count
            control.send(("reset",))
        elif command == "stop":
            control.send(("samples", received.samples, received.errors))
            break
    for task in tasks:
        task.cancel()
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)


def _client_process(url: str, token: str, count: int, control: Connection) -> None:
    asyncio.run(_client(url, token, count, control))


class Subscribers:
    """``total`` live subscribers spread over client processes."""

    def __init__(self, ws_url: str, token: str, total: int, processes: int) -> None:
        context = multiprocessing.get_context("spawn")
        shares = [
            total // processes + (1 if i < total % processes else 0) for i in range(processes)
        ]
        self.controls: list[Connection] = []
        self.processes = []
        for share in (s for s in shares if s):
            mine, theirs = context.Pipe()
            process = context.Process(target=_client_process, args=(ws_url, token, share, theirs))
            process.start()
            self.controls.append(mine)
            self.processes.append(process)
        for control in self.controls:
            assert control.recv()[0] == "ready"
        self.total = total

    def counts(self) -> tuple[list[int], list[str]]:
        counts: list[int] = []
        errors: list[str] = []
        for control in self.controls:
            control.send("counts")
            _, theirs, their_errors = control.recv()
            counts += theirs
            errors += their_errors
        return counts, errors

    def reset(self) -> None:
        for control in self.controls:
            control.send("reset")
            control.recv()

    def wait_for(
        self, each: int, timeout: float = WAIT, poll: float = 0.1
    ) -> tuple[list[int], list[str]]:
        """Until every subscriber received ``each`` events (or errors, or ``timeout``)."""
        deadline = time.monotonic() + timeout
        while True:
            counts, errors = self.counts()
            if min(counts) >= each or errors or time.monotonic() > deadline:
                return counts, errors
            time.sleep(poll)

    def stop(self) -> tuple[list[tuple[str, float, float]], list[str]]:
        samples: list[tuple[str, float, float]] = []
        errors: list[str] = []
        for control in self.controls:
            control.send("stop")
            _, theirs, their_errors = control.recv()
            samples += theirs
            errors += their_errors
        for process in self.processes:
            process.join(timeout=30)
        return samples, errors


# --------------------------------------------------------------------------- the hub


class Hub:
    """The scratch database behind one ``mdm serve``, with an integrator and a reader."""

    def __init__(self, url: str) -> None:
        self.database_url = url
        upgrade(url)
        database = Database(url)
        with database.session() as session:
            register_system(session, "ERP", "ERP")
            self.writer = create_token(session, "bench writer", Role.INTEGRATOR)
            self.reader = create_token(session, "bench reader", Role.READER)
        database.dispose()
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}/graphql"
        env = {**os.environ, "MDM_DATABASE_URL": url, "MDM_BACKGROUND_REEVALUATION": "false"}
        self.server = subprocess.Popen(
            [sys.executable, "-m", "mdm.cli", "serve", "--port", str(port),
             "--log-level", "warning"],
            env=env, cwd=ROOT,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.http = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.writer}"}, timeout=300
        )
        self.serial = 0

    def close(self) -> None:
        self.http.close()
        self.server.terminate()
        self.server.wait(timeout=30)

    def ingest(self, count: int) -> list[str]:
        """``count`` new vendors in one ``ingestRecords`` call; their golden ids."""
        records = []
        for _ in range(count):
            self.serial += 1
            records.append({"entityType": "vendor", "system": "ERP",
                            "sourceId": f"B{self.serial}",
                            "attributes": {"name": f"Bench Vendor {self.serial:08d} Co",
                                           "city": "Springfield", "state": "IL"}})  # fmt: skip
        body = self.http.post("/graphql", json={"query": INGEST, "variables": {"records": records}})
        result = body.json()["data"]["ingestRecords"]
        assert "outcomes" in result, result
        return [o["goldenId"] for o in result["outcomes"]]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------- measurements


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def measure_latency(hub: Hub, count: int, args: argparse.Namespace) -> None:
    subscribers = Subscribers(hub.ws_url, hub.reader, count, min(args.client_processes, count))
    try:
        warmups = 0
        while True:  # every subscriber live (it has received an event)
            hub.ingest(1)
            warmups += 1
            counts, errors = subscribers.wait_for(1, timeout=2.0)
            assert not errors, errors[:3]
            if min(counts) >= 1:
                break
        subscribers.wait_for(warmups)
        subscribers.reset()
        returned: dict[str, float] = {}
        interval = 1.0 / args.rate
        next_at = time.monotonic()
        for sent in range(1, args.latency_events + 1):
            time.sleep(max(0.0, next_at - time.monotonic()))
            next_at = max(next_at + interval, time.monotonic())
            (golden_id,) = hub.ingest(1)
            returned[golden_id] = time.time()
            subscribers.wait_for(sent, poll=0.005)  # one event in flight at a time
        counts, errors = subscribers.wait_for(args.latency_events)
    finally:
        samples, stop_errors = subscribers.stop()
    errors += stop_errors
    from_created = [(received - created) * 1000 for _, created, received in samples]
    from_returned = [(received - returned[g]) * 1000 for g, _, received in samples if g in returned]
    expected = count * args.latency_events
    p99 = percentile(from_created, 99)
    target = f"  target p99 <= 50 ms: {'met' if p99 <= 50 else 'MISSED'}" if count >= 1000 else ""
    print(
        f"{count:>6,} subscribers: {len(samples):,}/{expected:,} deliveries; "
        f"from createdAt p50 {percentile(from_created, 50):.1f} ms, p99 {p99:.1f} ms, "
        f"max {max(from_created):.1f} ms; from the mutation's return p50 "
        f"{percentile(from_returned, 50):.1f} ms, p99 {percentile(from_returned, 99):.1f} ms"
        f"{'; errors: ' + errors[0] if errors else ''}{target}",
        flush=True,
    )


def measure_sustained(hub: Hub, args: argparse.Namespace) -> None:
    count = args.sustain_subscribers
    subscribers = Subscribers(hub.ws_url, hub.reader, count, min(args.client_processes, count))
    try:
        hub.ingest(1)
        subscribers.wait_for(1)
        subscribers.reset()
        written = 0
        started = time.monotonic()
        while time.monotonic() - started < args.sustain_seconds:
            written += len(hub.ingest(100))
        ingest_seconds = time.monotonic() - started
        counts, errors = subscribers.wait_for(written)
    finally:
        samples, stop_errors = subscribers.stop()
    errors += stop_errors
    first = min(created for _, created, _ in samples)
    last = max(received for _, _, received in samples)
    lag = [(received - created) * 1000 for _, created, received in samples]
    print(
        f"sustained, {count:,} subscribers: {written:,} events committed in {ingest_seconds:.1f} s "
        f"({written / ingest_seconds:,.0f}/s, batches of 100); each subscriber received "
        f"{min(counts):,}-{max(counts):,} ({min(counts) / (last - first):,.0f} events/s each, "
        f"{len(samples) / (last - first):,.0f} deliveries/s in all); from createdAt p50 "
        f"{percentile(lag, 50):.0f} ms, p99 {percentile(lag, 99):.0f} ms (a batch's events are "
        f"created before its commit){'; errors: ' + errors[0] if errors else ''}",
        flush=True,
    )


def fill(database_url: str, count: int) -> float:
    """``count`` synthetic vendor ``created`` events, shaped as real ones; seconds taken."""
    database = Database(database_url)
    started = time.perf_counter()
    now = datetime.now(UTC)
    chunk = 10_000
    for low in range(0, count, chunk):
        rows = []
        for n in range(low, min(count, low + chunk)):
            golden_id = f"VEN-R{n:015d}"
            attributes = {
                "name": f"Replay Vendor {n:08d} Co", "tax_id": f"{n % 100:02d}-{n % 10**7:07d}",
                "duns": f"{n % 10**9:09d}", "vendor_type": "DISTRIBUTOR",
                "address_line1": f"{n % 9999} Main Street", "city": "Springfield",
                "state": "IL", "postal_code": "62701", "phone": "2175550100", "status": "ACTIVE",
            }  # fmt: skip
            payload = {
                "schemaVersion": 1, "id": golden_id, "status": "active",
                "attributes": attributes,
                "changes": {k: {"old": None, "new": v} for k, v in attributes.items()},
                "sources": [{"system": "ERP", "sourceId": f"R{n}"},
                            {"system": "PROCUREMENT", "sourceId": f"SUP-{n}"}],
                "removedSources": [], "mergedInto": None, "mergedFrom": [],
            }  # fmt: skip
            rows.append(
                event_row(entity_type="vendor", golden_public_id=golden_id,
                          kind=ChangeKind.CREATED, version=1, payload=payload, actor="bench",
                          correlation_id=None, created_at=now)
            )  # fmt: skip
        with database.session() as session:
            record_change_events(session, rows)
    # Stored events are long vacuumed when a consumer replays them; left to autovacuum, a
    # fresh million would be vacuumed (1 GB read and written) during the measurement.
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM (ANALYZE) change_event"))
        conn.execute(text("CHECKPOINT"))  # its writes flushed before, not during, the reads
    database.dispose()
    return time.perf_counter() - started


async def _replay_subscription(hub: Hub, total: int) -> tuple[int, float]:
    started = time.perf_counter()
    ws = await _subscribe(hub.ws_url, hub.reader, REPLAY, {"after": CURSOR_ZERO})
    seen = 0
    async for raw in ws:
        message = orjson.loads(raw)
        assert message["type"] == "next", message
        seen += 1
        if seen == total:
            break
    took = time.perf_counter() - started
    await ws.close()
    return seen, took


def replay_polling(hub: Hub, total: int) -> tuple[int, float]:
    seen, after = 0, CURSOR_ZERO
    started = time.perf_counter()
    with httpx.Client(
        base_url=hub.url, headers={"Authorization": f"Bearer {hub.reader}"}, timeout=300
    ) as client:
        while True:
            body = client.post("/graphql", json={"query": POLL, "variables": {"after": after}})
            page = orjson.loads(body.content)["data"]["changes"]
            seen += len(page["edges"])
            after = page["pageInfo"]["endCursor"]
            if not page["pageInfo"]["hasNextPage"] or seen >= total:
                break
    return seen, time.perf_counter() - started


def replay_store(database_url: str, total: int) -> tuple[int, float]:
    """What the feed's reads alone cost: ``read_changes`` from 0 to the head."""
    database = Database(database_url)
    seen, after = 0, 0
    started = time.perf_counter()
    while seen < total:
        with database.read_session() as session:
            batch = read_changes(session, after, 500)
        seen += len(batch.changes)
        after = batch.scanned_to
        if batch.is_caught_up:
            break
    took = time.perf_counter() - started
    database.dispose()
    return seen, took


def measure_replay(hub: Hub, count: int) -> None:
    took = fill(hub.database_url, count)
    print(f"replay: {count:,} events written in {took:.1f} s (record_change_events, "
          "batches of 10,000)", flush=True)  # fmt: skip
    with httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {hub.reader}"}) as c:
        head = c.post("/graphql", json={"query": "query { changeHead { position } }"}).json()
        total = int(head["data"]["changeHead"]["position"])  # with the earlier parts' events
    seen, took = replay_store(hub.database_url, total)
    print(
        f"baseline, the store alone: {seen:,} events by read_changes (500 a read, in this "
        f"process, no GraphQL) in {took:.1f} s = {seen / took:,.0f} events/s",
        flush=True,
    )
    for label, (seen, took) in (
        ("subscription", asyncio.run(_replay_subscription(hub, total))),
        ("polling feed", replay_polling(hub, total)),
    ):
        rate = seen / took
        print(
            f"replay over the {label}: {seen:,} events in {took:.1f} s = {rate:,.0f} events/s  "
            f"target >= 50,000/s: {'met' if rate >= 50_000 else 'MISSED'}",
            flush=True,
        )


def measure_relay(admin_url: str, events: int, nats: str) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "relay.py"), "--events", str(events),
         "--database-url", admin_url, "--nats", nats],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        print(f"relay: bench/relay.py failed: {done.stderr.strip().splitlines()[-1:]}")
        return
    for line in done.stdout.strip().splitlines():
        print(f"relay (bench/relay.py): {line}")
    rate = int(done.stdout.split(" events/s")[0].split("= ")[-1].replace(",", ""))
    print(f"relay target >= 20,000 events/s: {'met' if rate >= 20_000 else 'MISSED'}")


# --------------------------------------------------------------------------- main


@contextmanager
def scratch_database(admin_url: str) -> Iterator[str]:
    admin = make_url(admin_url)
    if admin.get_backend_name() != "postgresql":
        raise SystemExit("bench/subscribe.py measures PostgreSQL: give a postgresql+psycopg URL")
    name = f"mdm_bench_subscribe_{uuid.uuid4().hex[:8]}"
    engine = create_engine(admin.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "MDM_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
        help="a PostgreSQL server where the scratch database is made (its name is ignored)",
    )
    parser.add_argument("--subscribers", default="1,100,1000")
    parser.add_argument("--latency-events", type=int, default=50)
    parser.add_argument(
        "--rate", type=float, default=5.0, help="latency: ingests a second, at most"
    )
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--sustain-subscribers", type=int, default=100)
    parser.add_argument("--sustain-seconds", type=float, default=15.0)
    parser.add_argument("--replay-events", type=int, default=1_000_000)
    parser.add_argument("--relay-events", type=int, default=100_000)
    parser.add_argument("--nats", default="nats://127.0.0.1:4222")
    args = parser.parse_args()
    counts = [int(c) for c in args.subscribers.split(",") if c]

    with scratch_database(args.database_url) as url:
        hub = Hub(url)
        try:
            print(
                f"mdm serve on a scratch PostgreSQL database; {os.cpu_count()} CPUs shared by "
                f"the server, the database and {args.client_processes} client processes",
                flush=True,
            )
            for count in counts:
                measure_latency(hub, count, args)
            if args.sustain_seconds > 0 and args.sustain_subscribers > 0:
                measure_sustained(hub, args)
            if args.replay_events > 0:
                measure_replay(hub, args.replay_events)
        finally:
            hub.close()
    if args.relay_events > 0:
        measure_relay(args.database_url, args.relay_events, args.nats)


if __name__ == "__main__":
    main()
