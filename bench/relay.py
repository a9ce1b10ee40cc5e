"""Relay throughput: events per second from the outbox to NATS JetStream.

Fills a scratch database's ``change_event`` table with N synthetic events (one insert
statement per 10,000), then times ``Relay.run(until_caught_up=True)`` publishing them to a
fresh stream on the local NATS server, and checks the stream holds N messages.

Usage:
    python bench/relay.py --events 100000 [--database-url postgresql+psycopg://...]
        [--batch 500] [--nats nats://127.0.0.1:4222]

With no --database-url a temporary SQLite file is used; a PostgreSQL URL names a server
where a scratch database is created and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

from mdm.relay import Relay, RelayConfig
from mdm.store import ChangeEvent, Database, upgrade


def _scratch_database(url: str | None, folder: Path) -> tuple[str, str | None]:
    if url is None:
        return f"sqlite:///{folder / 'relay.sqlite3'}", None
    admin = make_url(url)
    name = f"mdm_bench_relay_{uuid.uuid4().hex[:8]}"
    engine = create_engine(admin.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin.set(database=name).render_as_string(hide_password=False), name


def _drop(url: str, name: str) -> None:
    engine = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def _fill(database: Database, count: int) -> None:
    now = datetime.now(UTC)
    chunk = 10_000
    for start in range(0, count, chunk):
        rows = [
            {
                "entity_type": ("vendor", "item", "location")[n % 3],
                "golden_public_id": f"g{n:012d}",
                "kind": "updated",
                "version": 2,
                "payload": {"attributes": {"name": f"Vendor {n}"}, "changed": ["name"]},
                "actor": "bench",
                "correlation_id": "bench",
                "created_at": now,
            }
            for n in range(start, min(count, start + chunk))
        ]
        with database.session() as session:
            session.execute(insert(ChangeEvent), rows)


async def _stream_count(url: str, stream: str, delete: bool) -> int:
    import nats

    client = await nats.connect(url)
    try:
        js = client.jetstream()
        messages = int((await js.stream_info(stream)).state.messages)
        if delete:
            await js.delete_stream(stream)
        return messages
    finally:
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--database-url")
    parser.add_argument("--nats", default="nats://127.0.0.1:4222")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        url, scratch = _scratch_database(args.database_url, Path(folder))
        try:
            upgrade(url)
            database = Database(url)
            started = time.perf_counter()
            _fill(database, args.events)
            filled = time.perf_counter() - started
            tag = uuid.uuid4().hex[:8]
            config = RelayConfig(
                url=args.nats,
                stream=f"MDM_BENCH_{tag}",
                subject_prefix=f"mdmbench.{tag}",
                batch=args.batch,
            )
            started = time.perf_counter()
            published = asyncio.run(Relay(database, config).run(until_caught_up=True))
            took = time.perf_counter() - started
            stored = asyncio.run(_stream_count(args.nats, config.stream, delete=True))
            database.dispose()
        finally:
            if scratch is not None:
                _drop(url, scratch)
    backend = "postgresql" if scratch else "sqlite"
    print(f"backend {backend}: {args.events:,} events written in {filled:.1f} s")
    print(
        f"relay: {published:,} published in {took:.2f} s = {published / took:,.0f} events/s "
        f"(batch {args.batch}); stream holds {stored:,}"
    )


if __name__ == "__main__":
    main()
