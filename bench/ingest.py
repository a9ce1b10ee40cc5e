"""Incremental ingest latency with a large store: one record ingested, matched, survived and
committed with its change event.

    python bench/ingest.py [--size 1000000] [--records 2000] [--seed 20261127]
                           [--database-url URL] [--store DIR]

Generates about ``--size`` source records with the seed generator and loads them (bulk
path), then ingests ``--records`` records of another seed's data set, one transaction
each, under new source ids, as an interface sending changes one at a time would. Prints
p50/p99/max per record beside the same store's single-row insert-and-commit (the floor
any ingest pays). Prints figures; asserts nothing.

``--store DIR`` keeps the generated and loaded store (SQLite) in DIR and reuses it on the
next run with the same size and seed: each run ingests into a copy, so every run starts
from the same store.
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from mdm.codes import CodeBookCache  # noqa: E402
from mdm.context import plain_codes, without_context  # noqa: E402
from mdm.hub import Hub  # noqa: E402
from mdm.ingest import Ingestor, RecordInput  # noqa: E402
from mdm.loader import find_mappings, load, plan_load, records_of  # noqa: E402
from mdm.settings import Settings  # noqa: E402
from mdm.specs import DEFAULT_SPECS  # noqa: E402
from mdm.store import upgrade  # noqa: E402


def generate(out: Path, size: int, seed: int) -> None:
    spec = importlib.util.spec_from_file_location("seed_generate", ROOT / "seed" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    module.generate(out, scale=max(size / 2000, 0.05), seed=seed)


def drop_from_page_cache(path: Path) -> None:
    """Let the OS forget a file's cached pages (the kept store, once copied: at a million
    golden records it and the two working copies do not all fit in memory)."""
    if hasattr(os, "posix_fadvise"):
        with path.open("rb") as f:
            os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def warm_page_cache(*paths: Path) -> None:
    """Read a working store once, so a side starts as a running server's store is: in the
    OS page cache, not half evicted by copying the other."""
    for path in paths:
        with path.open("rb") as f:
            while f.read(16 << 20):
                pass


def _serve(url: str, plain: bool, incoming: list[RecordInput], pipe: Connection) -> None:
    """One side, in a process of its own: start as `mdm serve` does (background WAL
    checkpoints, sibling candidates prepared, start-up heap frozen), then ingest the
    records one transaction each, and answer with each one's milliseconds."""
    hub = Hub(Settings(database_url=url))
    if plain:
        cache = CodeBookCache()
        hub.ingestor = Ingestor(
            without_context(DEFAULT_SPECS), codes=lambda session: plain_codes(cache.get(session))
        )
    start = time.perf_counter()
    hub.start_serving()
    pipe.send(time.perf_counter() - start)
    timings = []
    for record in incoming:
        start = time.perf_counter()
        with hub.database.session() as session:
            hub.ingestor.ingest(session, record, actor="bench")
        timings.append((time.perf_counter() - start) * 1000)
    hub.close()
    pipe.send(timings)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--store", type=Path, default=None, help="keep the loaded store here and reuse it"
    )
    args = parser.parse_args()
    if args.store is not None and args.database_url is not None:
        parser.error("--store keeps a SQLite store: it does not combine with --database-url")

    work = Path(tempfile.mkdtemp(prefix="mdm-ingest-"))
    url = args.database_url or f"sqlite:///{work / 'ingest.sqlite3'}"
    started = time.perf_counter()
    kept = None if args.store is None else args.store / f"size{args.size}-seed{args.seed}"
    if kept is not None and (kept / "store.sqlite3").exists():
        shutil.copy(kept / "store.sqlite3", work / "ingest.sqlite3")
        hub = Hub(Settings(database_url=url))
        print(f"store: reused from {kept}")
    else:
        generate(work / "store", args.size, args.seed)
        upgrade(url)
        hub = Hub(Settings(database_url=url))
        summary = load(
            hub.database,
            hub.ingestor,
            find_mappings(work / "store"),
            workers=hub.settings.bulk_workers,
        )
        print(
            f"store: {summary.total():,} source records "
            f"({time.perf_counter() - started:.0f}s to generate and load; {url})"
        )
        if kept is not None:
            hub.database.dispose()
            kept.mkdir(parents=True, exist_ok=True)
            shutil.copy(work / "ingest.sqlite3", kept / "store.sqlite3")
    with hub.database.read_session() as session:
        goldens = session.execute(text("SELECT count(*) FROM golden_record")).scalar_one()
        sources = session.execute(text("SELECT count(*) FROM source_record")).scalar_one()
    print(f"store: {sources:,} source records, {goldens:,} golden records")

    generate(work / "incoming", args.records * 2, args.seed + 1)
    incoming: list[RecordInput] = []
    for system, entity in plan_load(find_mappings(work / "incoming"), hub.ingestor):
        incoming += [replace(r, source_id=f"NEW-{r.source_id}") for r in records_of(system, entity)]
    random.Random(args.seed).shuffle(incoming)
    incoming = incoming[: args.records]

    floor = []
    with hub.database.engine.connect() as conn:
        for n in range(200):
            start = time.perf_counter()
            conn.execute(
                text("INSERT INTO audit_log (actor, action, details, created_at) "
                     "VALUES (:a, 'bench', '{}', CURRENT_TIMESTAMP)"),
                {"a": f"bench-{n}"},
            )  # fmt: skip
            conn.commit()
            floor.append((time.perf_counter() - start) * 1000)

    # The same store without context evidence (no resolved parents, no learned codes),
    # to show what context costs per record: a copy of the file, fed the same records.
    # Each side runs alone in a process of its own, one after the other, as a server
    # would: in one process the side that went second met the standardizers' memo tables
    # warm, and two processes taking turns slowed each other by about 40%.
    hub.database.dispose()
    stores = [("context", url)]
    if url.startswith("sqlite:///") and args.database_url is None:
        copy = work / "no-context.sqlite3"
        shutil.copy(work / "ingest.sqlite3", copy)
        stores.append(("no context", f"sqlite:///{copy}"))
    if kept is not None:
        drop_from_page_cache(kept / "store.sqlite3")

    fork = multiprocessing.get_context("fork")
    timings: list[list[float]] = []
    for label, side_url in stores:
        # Each side's store in the page cache, the other's out (at a million golden
        # records two copies do not both fit in memory). SQLite files only.
        for _, other_url in stores:
            if other_url != side_url and other_url.startswith("sqlite:///"):
                drop_from_page_cache(Path(other_url.removeprefix("sqlite:///")))
        if side_url.startswith("sqlite:///"):
            warm_page_cache(Path(side_url.removeprefix("sqlite:///")))
        ours, theirs = fork.Pipe()
        process = fork.Process(
            target=_serve, args=(side_url, label == "no context", incoming, theirs), daemon=True
        )
        process.start()
        print(f"start-up ({label}): {ours.recv():.1f}s (background checkpoints, "
              "sibling candidates prepared)")  # fmt: skip
        timings.append(ours.recv())
        process.join()
    shutil.rmtree(work)  # two copies of the store: about 1 GB at 100k (``--store`` keeps one)

    samples = timings[0]
    plain_samples = timings[1] if len(timings) > 1 else []
    by_type: dict[str, list[float]] = {}
    plain_by_type: dict[str, list[float]] = {}
    for n, record in enumerate(incoming):
        by_type.setdefault(record.entity_type, []).append(samples[n])
        if plain_samples:
            plain_by_type.setdefault(record.entity_type, []).append(plain_samples[n])

    print(f"\n{'path':<44}{'n':>7}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    print(
        f"{'single-row insert + commit (floor)':<44}{len(floor):>7}"
        f"{percentile(floor, 50):>10.2f}{percentile(floor, 99):>10.2f}{max(floor):>10.2f}"
    )
    print(
        f"{'ingest one record (all types)':<44}{len(samples):>7}"
        f"{percentile(samples, 50):>10.2f}{percentile(samples, 99):>10.2f}{max(samples):>10.2f}"
    )
    if plain_samples:
        print(
            f"{'ingest one record, no context evidence':<44}{len(plain_samples):>7}"
            f"{percentile(plain_samples, 50):>10.2f}{percentile(plain_samples, 99):>10.2f}"
            f"{max(plain_samples):>10.2f}"
        )
    for entity_type, values in sorted(by_type.items()):
        print(
            f"{'  ' + entity_type:<44}{len(values):>7}{percentile(values, 50):>10.2f}"
            f"{percentile(values, 99):>10.2f}{max(values):>10.2f}"
        )
    for entity_type, values in sorted(plain_by_type.items()):
        print(
            f"{'  ' + entity_type + ', no context evidence':<44}{len(values):>7}"
            f"{percentile(values, 50):>10.2f}{percentile(values, 99):>10.2f}{max(values):>10.2f}"
        )
    print(
        f"\nmean {statistics.fmean(samples):.2f} ms; p99 / floor p99 = "
        f"{percentile(samples, 99) / percentile(floor, 99):.0f}x; "
        f"target p99 <= 20 ms: {'met' if percentile(samples, 99) <= 20 else 'MISSED'}"
    )
    if plain_samples:
        extra = percentile(samples, 99) - percentile(plain_samples, 99)
        print(
            f"context evidence adds {extra:+.2f} ms at p99 "
            f"(target <= 3 ms: {'met' if extra <= 3 else 'MISSED'})"
        )


if __name__ == "__main__":
    main()
