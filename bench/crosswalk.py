"""Crosswalk look-up latency: GraphQL over HTTP vs a raw indexed SQL select, same data, same run.

    python bench/crosswalk.py [--golden 100000] [--singles 3000] [--batches 200]
                              [--database-url URL]

Loads N golden vendors (each with an ERP record, every other one also a PROCUREMENT
record) by bulk insert, starts a real ``mdm serve`` process, and measures:
single look-ups (p50/p99) and batches of 1,000 ids, beside the same selects run directly.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mdm.auth import Role, create_token  # noqa: E402
from mdm.store import Database, GoldenRecord, SourceRecord, SourceSystem, upgrade  # noqa: E402

SINGLE = """query($id: String!) {
  crosswalk(entityType: "vendor", system: "ERP", sourceId: $id) { goldenId }
}"""
BATCH = """query($ids: [String!]!) {
  crosswalkBatch(entityType: "vendor", system: "ERP", sourceIds: $ids) { sourceId goldenId }
}"""


def populate(database: Database, n: int) -> None:
    with database.session() as session:
        session.execute(
            insert(SourceSystem),
            [{"code": c, "name": c} for c in ("ERP", "PROCUREMENT")],
        )
    chunk = 10_000
    for start in range(0, n, chunk):
        ids = range(start, min(n, start + chunk))
        with database.session() as session:
            session.execute(
                insert(GoldenRecord),
                [
                    {
                        "id": i + 1,
                        "public_id": f"VEN-{i:016d}",
                        "entity_type": "vendor",
                        "attributes": {"name": f"Vendor {i}"},
                        "lineage": {},
                        "status": "active",
                        "version": 1,
                    }
                    for i in ids
                ],
            )
            rows = [
                {
                    "entity_type": "vendor",
                    "system": "ERP",
                    "source_id": f"V{i}",
                    "raw": {"name": f"Vendor {i}"},
                    "standardized": {"name": f"Vendor {i}"},
                    "findings": [],
                    "content_hash": f"{i:064d}",
                    "golden_id": i + 1,
                    "version": 1,
                    "is_deleted": False,
                }
                for i in ids
            ]
            rows += [
                {**r, "system": "PROCUREMENT", "source_id": f"SUP-{i}"}
                for i, r in zip(ids, rows, strict=False)
                if i % 2 == 0
            ]
            session.execute(insert(SourceRecord), rows)
    with database.engine.connect() as conn:  # fresh statistics, as a live database has
        conn.execute(text("ANALYZE"))
        conn.commit()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--golden", type=int, default=100_000)
    parser.add_argument("--singles", type=int, default=3000)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="mdm-bench-"))
    url = args.database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    drop = throwaway_postgres(url)
    try:
        run(args, url)
    finally:
        drop()


def throwaway_postgres(url: str) -> Callable[[], None]:
    """For a PostgreSQL URL: create its database fresh, and return how to drop it."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return lambda: None
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = parsed.database
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return drop


def run(args: argparse.Namespace, url: str) -> None:
    upgrade(url)
    database = Database(url)
    started = time.perf_counter()
    populate(database, args.golden)
    print(f"loaded {args.golden:,} golden records in {time.perf_counter() - started:.1f}s ({url})")
    with database.session() as session:
        token = create_token(session, "bench", Role.INTEGRATOR)

    rng = random.Random(7)
    single_ids = [f"V{rng.randrange(args.golden)}" for _ in range(args.singles)]
    batch_ids = [
        [f"V{rng.randrange(args.golden)}" for _ in range(1000)] for _ in range(args.batches)
    ]

    # Raw indexed select, same data, same machine, same run: the baseline.
    raw_single_stmt = text(
        "SELECT g.public_id FROM source_record s JOIN golden_record g ON g.id = s.golden_id "
        "WHERE s.entity_type = 'vendor' AND s.system = 'ERP' AND s.source_id = :id"
    )
    raw_batch_stmt = (
        select(SourceRecord.source_id, GoldenRecord.public_id)
        .join(GoldenRecord, GoldenRecord.id == SourceRecord.golden_id)
        .where(SourceRecord.entity_type == "vendor", SourceRecord.system == "ERP")
    )
    with database.engine.connect() as conn:
        it = iter(single_ids)
        raw_single = timed(
            lambda: conn.execute(raw_single_stmt, {"id": next(it)}).all(), len(single_ids)
        )
        bt = iter(batch_ids)
        raw_batch = timed(
            lambda: conn.execute(raw_batch_stmt.where(SourceRecord.source_id.in_(next(bt)))).all(),
            len(batch_ids),
        )

    port = free_port()
    env = {**os.environ, "MDM_DATABASE_URL": url}
    server = subprocess.Popen(
        [sys.executable, "-m", "mdm.cli", "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        cwd=ROOT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers) as client:

            def single(source_id: str) -> None:
                body = client.post(
                    "/graphql", json={"query": SINGLE, "variables": {"id": source_id}}
                ).json()
                assert body["data"]["crosswalk"]["goldenId"], body

            def batch(ids: list[str]) -> None:
                body = client.post(
                    "/graphql", json={"query": BATCH, "variables": {"ids": ids}}
                ).json()
                assert len(body["data"]["crosswalkBatch"]) == 1000, body

            for source_id in single_ids[:200]:  # warm-up: caches, connections
                single(source_id)
            batch(batch_ids[0])
            it = iter(single_ids)
            http_single = timed(lambda: single(next(it)), len(single_ids))
            bt = iter(batch_ids)
            http_batch = timed(lambda: batch(next(bt)), len(batch_ids))
    finally:
        server.terminate()
        server.wait(timeout=10)
        database.dispose()

    print(f"\n{'path':<46}{'p50 ms':>10}{'p99 ms':>10}{'mean ms':>10}")
    rows = [
        ("raw SQL select, one id", raw_single),
        ("GraphQL over HTTP, one id", http_single),
        ("raw SQL select, 1,000 ids (IN)", raw_batch),
        ("GraphQL over HTTP, batch of 1,000 ids", http_batch),
    ]
    for label, samples in rows:
        print(
            f"{label:<46}{percentile(samples, 50):>10.3f}{percentile(samples, 99):>10.3f}"
            f"{statistics.fmean(samples):>10.3f}"
        )
    print(
        f"\nratio GraphQL/raw p50: "
        f"single {percentile(http_single, 50) / percentile(raw_single, 50):.0f}x, "
        f"batch {percentile(http_batch, 50) / percentile(raw_batch, 50):.1f}x"
    )
    print(
        f"targets: single p99 <= 5 ms: {'met' if percentile(http_single, 99) <= 5 else 'MISSED'}; "
        f"batch of 1,000 <= 50 ms (p99): {'met' if percentile(http_batch, 99) <= 50 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
