#!/usr/bin/env python3
"""Deterministic sample-data generator for the MDM hub (fictional Hope Health Network).

Writes ERP (CSV), EHR (FHIR Bundle + JSON Lines) and procurement (JSON Lines) extracts of
vendors, items, locations, cost centers and contracts, the mapping files (TOML), the ground
truth (truth.csv) and the list of deliberate defects (defects.csv). Streams: records are
written as they are generated; only compact id lists needed for references stay in memory.

    python seed/generate.py --out seed/data --scale 1 --seed 20261126

Loaded by path (``importlib.util.spec_from_file_location``, as the tests and benchmarks
do) it offers the package's ``generate``, ``scale_for`` and ``check_scale``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if __package__:
    from .dataset import MAX_RECORDS, RECORDS_PER_SCALE, check_scale, generate, scale_for
else:  # a script, or loaded by path: import the folder beside it as the package `seed`
    _ROOT = str(Path(__file__).resolve().parents[1])
    if _ROOT not in sys.path:
        sys.path.insert(0, _ROOT)
    from seed.dataset import MAX_RECORDS, RECORDS_PER_SCALE, check_scale, generate, scale_for

__all__ = ["MAX_RECORDS", "RECORDS_PER_SCALE", "check_scale", "generate", "main", "scale_for"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    size = ap.add_mutually_exclusive_group()
    size.add_argument(
        "--records", type=int, help=f"about this many source records (at most {MAX_RECORDS:,})"
    )
    size.add_argument(
        "--scale", type=float, default=1.0, help=f"1 is about {RECORDS_PER_SCALE:,} records"
    )
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args(argv)
    scale = scale_for(args.records) if args.records is not None else args.scale
    try:
        check_scale(scale)
    except ValueError as error:
        ap.error(str(error))
    t0 = time.perf_counter()
    counts = generate(args.out, scale, args.seed)
    total = sum(counts.values())
    parts = " ".join(f"{k}={v}" for k, v in counts.items())
    print(f"seed: {total} records in {time.perf_counter() - t0:.1f}s -> {args.out}: {parts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
