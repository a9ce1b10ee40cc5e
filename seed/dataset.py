"""The whole data set: its size, its limit, and the order the entity generators run in.

Each generator draws from its own ``random.Random(f"{seed}:{phase}")``, so the same seed
writes byte-identical files; parents come first (locations and cost centers, then
vendors, then the items and contracts that refer to vendors).
"""

from __future__ import annotations

from pathlib import Path

from .context import Ctx
from .contracts import Contracts
from .items import Items
from .org import Org
from .sink import Sink
from .vendors import Vendors

RECORDS_PER_SCALE = 2_000  # about this many source records at scale 1
MAX_RECORDS = 5_000_000  # a bigger set takes hours to load and tens of GB: refused


def scale_for(records: int) -> float:
    """The scale that gives about ``records`` source records (at least ~100 at any scale)."""
    return records / RECORDS_PER_SCALE


def check_scale(scale: float) -> None:
    """Refuse a scale that is not positive or gives more than ``MAX_RECORDS`` records.

    Raises:
        ValueError: with a message that says the size in records and the limit.
    """
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale:g}")
    records = scale * RECORDS_PER_SCALE
    if records > MAX_RECORDS:
        raise ValueError(
            f"about {records:,.0f} source records (scale {scale:g}) is more than the "
            f"{MAX_RECORDS:,} this generator writes (scale 1 is about {RECORDS_PER_SCALE:,})"
        )


def generate(out_dir: Path, scale: float = 1.0, seed: int = 42) -> dict[str, int]:
    """Write the sample data set into ``out_dir``; return record counts per system.entity.

    Raises:
        ValueError: the scale is not positive or too large (see ``check_scale``).
    """
    check_scale(scale)
    out_dir = Path(out_dir)
    sink = Sink(out_dir)
    ctx = Ctx(sink, seed, scale)
    try:
        Org(ctx).run()
        vendors = Vendors(ctx)
        vendors.run()
        Items(ctx, vendors).run()
        Contracts(ctx, vendors).run()
    finally:
        sink.close()
    return dict(sink.counts)
