"""`mdm load` throughput and memory on generated data, then the match quality it reached.

    python bench/load.py [--sizes 100000,1000000] [--seed 42] [--database-url URL]
                         [--timeout 7200] [--examples 0]

For each size, generates about that many source records with the seed generator (scale =
size / 2,000; ~1.9 records per true entity) into a temporary folder, then runs, each as
its own process: ``mdm db upgrade``, ``mdm load DIR -q --json`` (timed: wall time, records
per second and peak RSS of that process alone, from ``wait4``; then the seconds of each
phase of each type's bulk load) and
``mdm quality --truth DIR --json`` (timed likewise), and prints precision, recall, F1,
B-cubed F1 and pair completeness per entity type. Each size gets a fresh SQLite file, or,
with ``--database-url`` naming a PostgreSQL server, a throwaway database on that server
(dropped afterwards). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
RECORDS_PER_SCALE = 2000


@dataclass(frozen=True)
class Run:
    """One finished child process."""

    seconds: float
    peak_rss_mb: float
    returncode: int
    stdout: str
    stderr: str


def run_measured(args: list[str], env: dict[str, str], timeout: float) -> Run:
    """Run ``mdm ARGS``; wall time and the peak RSS of that process (``wait4``)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "mdm.cli", *args], env=env, cwd=ROOT, stdout=out, stderr=err
        )
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                process.kill()  # reported as exit code -9
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        # ru_maxrss is in KiB on Linux.
        return Run(seconds, usage.ru_maxrss / 1024, process.returncode, out.read(), err.read())


def generate(out: Path, size: int, seed: int) -> int:
    spec = importlib.util.spec_from_file_location("seed_generate", ROOT / "seed" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    counts: dict[str, int] = module.generate(out, scale=size / RECORDS_PER_SCALE, seed=seed)
    return sum(counts.values())


@contextmanager
def fresh_database(workdir: Path, server_url: str | None, label: str) -> Iterator[str]:
    """A new, empty database: an SQLite file, or a throwaway database on a PostgreSQL server."""
    if server_url is None or make_url(server_url).get_backend_name() == "sqlite":
        yield f"sqlite:///{workdir / f'{label}.sqlite3'}"
        return
    parsed = make_url(server_url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = f"mdm_bench_load_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield parsed.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def bench_size(size: int, args: argparse.Namespace, workdir: Path) -> None:
    data = workdir / f"data-{size}"
    started = time.perf_counter()
    records = generate(data, size, args.seed)
    print(
        f"\n== {size:,} requested: {records:,} source records generated in "
        f"{time.perf_counter() - started:.1f}s (seed {args.seed})"
    )
    with fresh_database(workdir, args.database_url, f"load-{size}") as url:
        env = {**os.environ, "MDM_DATABASE_URL": url}
        upgraded = run_measured(["db", "upgrade"], env, args.timeout)
        if upgraded.returncode != 0:
            print(f"mdm db upgrade failed:\n{upgraded.stderr}")
            return
        loaded = run_measured(["load", str(data), "-q", "--json"], env, args.timeout)
        backend = make_url(url).get_backend_name()
        if loaded.returncode != 0:
            print(
                f"mdm load failed or timed out after {loaded.seconds:.0f}s "
                f"(exit {loaded.returncode}):\n{loaded.stderr[-2000:]}"
            )
            return
        print(
            f"mdm load ({backend}): {loaded.seconds:,.1f}s, "
            f"{records / loaded.seconds:,.0f} records/s, peak RSS {loaded.peak_rss_mb:,.0f} MB"
        )
        print_phases(json.loads(loaded.stdout).get("phases", {}))
        measured = run_measured(
            ["quality", "--truth", str(data), "--json", "--examples", str(args.examples)],
            env,
            args.timeout,
        )
        if measured.returncode != 0:
            print(f"mdm quality failed (exit {measured.returncode}):\n{measured.stderr[-2000:]}")
            return
        print(f"mdm quality: {measured.seconds:,.1f}s, peak RSS {measured.peak_rss_mb:,.0f} MB")
        print_quality(json.loads(measured.stdout))


def print_phases(phases: dict[str, dict[str, dict[str, Any]]]) -> None:
    """Seconds per phase of each type's bulk load (``mdm load --json``'s ``phases``)."""
    for entity_type, found in phases.items():
        cells = [
            f"{name} {p['seconds']:.1f}s"
            + (f" [cpu {p['cpu_seconds']:.1f}s]" if "cpu_seconds" in p else "")
            + (f" ({p['items']:,} {p['unit']})".replace(" )", ")") if "items" in p else "")
            for name, p in found.items()
        ]
        total = sum(p["seconds"] for p in found.values())
        print(f"  {entity_type} {total:.1f}s: " + ", ".join(cells))


def print_quality(report: dict[str, Any]) -> None:
    header = ("entity", "records", "golden", "true", "P", "R", "F1", "B3 F1", "blocking", "review")
    print("  ".join(f"{h:>11}" for h in header))
    for q in report["entity_types"]:
        completeness = q["pair_completeness"]
        cells = [
            q["entity_type"],
            f"{q['records']:,}",
            f"{q['golden_records']:,}",
            f"{q['true_entities']:,}",
            f"{q['pairwise']['precision']:.4f}",
            f"{q['pairwise']['recall']:.4f}",
            f"{q['pairwise']['f1']:.4f}",
            f"{q['bcubed']['f1']:.4f}",
            "-" if completeness is None else f"{completeness:.4f}",
            f"{q['pending_review']:,}",
        ]
        print("  ".join(f"{c:>11}" for c in cells))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=[100_000, 1_000_000],
        help="comma-separated source record counts (default 100000,1000000)",
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--database-url", default=None, help="a PostgreSQL server to use")
    parser.add_argument("--timeout", type=float, default=7200, help="seconds per command")
    parser.add_argument("--examples", type=int, default=0, help="examples in the report")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mdm-bench-load-") as workdir:
        for size in args.sizes:
            bench_size(size, args, Path(workdir))


def _sizes(value: str) -> list[int]:
    return [int(v.replace("_", "")) for v in value.split(",") if v.strip()]


if __name__ == "__main__":
    main()
