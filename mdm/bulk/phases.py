"""How long each phase of a bulk load took, and how many items it handled.

A load of a million records spends minutes in a handful of phases (staging, blocking,
calibration, scoring, clustering, writing); which one grows with the data is what a
slow load needs to know first. Each phase is timed with ``time.perf_counter`` and logged
at INFO as it ends, so ``mdm load --verbose`` shows them, and kept in
``BulkResult.phases`` (``mdm load --json``), with the CPU time this process spent (worker
processes that standardize records are not counted: a phase far longer than its CPU time
waited for them, or for the disk). Cheap: two clock reads and a log call a phase.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass
class Phase:
    """One phase as it runs: set ``items`` once they are known."""

    items: int | None = None


class PhaseTimes:
    """The phases of one entity type's load, in the order they first ran; a phase run
    again (a matching round) adds up its seconds and items."""

    def __init__(self, entity_type: str, log: logging.Logger) -> None:
        self.entity_type = entity_type
        self.log = log
        self.phases: dict[str, dict[str, Any]] = {}

    @contextmanager
    def timed(self, name: str, unit: str = "", items: int | None = None) -> Iterator[Phase]:
        """Time the block as phase ``name``, counting ``items`` (of ``unit``: records,
        pairs, clusters) given here or set on the yielded ``Phase``."""
        phase = Phase(items)
        started, cpu = time.perf_counter(), time.process_time()
        yield phase
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu
        found = self.phases.setdefault(name, {"seconds": 0.0, "cpu_seconds": 0.0, "runs": 0})
        found["seconds"] = round(found["seconds"] + seconds, 3)
        found["cpu_seconds"] = round(found["cpu_seconds"] + cpu_seconds, 3)
        found["runs"] += 1
        counted = ""
        if phase.items is not None:
            found["items"] = found.get("items", 0) + phase.items
            found["unit"] = unit
            counted = f" ({phase.items:,} {unit})".replace(" )", ")")
        self.log.info(
            "%s: %s took %.2f s (%.2f s of this process's CPU)%s",
            self.entity_type, name, seconds, cpu_seconds, counted,
        )  # fmt: skip

    def total(self) -> float:
        """Seconds of all phases."""
        return sum(float(p["seconds"]) for p in self.phases.values())
