"""What every entity generator shares: the output, one random stream per phase, id
sequences, and the deliberate defects of references and identifiers."""

from __future__ import annotations

import random

from . import identifiers as ids
from . import text as tx
from .changes import Changes
from .rates import P_BAD_CHECK, P_DANGLING, P_DUP, P_JUNK
from .sink import Sink


class Seq:
    """Per-system id sequence with optional random gaps (deterministic)."""

    def __init__(self, start: int, gap: int = 1) -> None:
        self.n = start
        self.gap = gap

    def next(self, rng: random.Random) -> int:
        v = self.n
        self.n += rng.randint(1, self.gap) if self.gap > 1 else 1
        return v


class Ctx:
    """One run: the sink, the seed and scale, and the writer of later versions."""

    def __init__(self, sink: Sink, seed: int, scale: float) -> None:
        self.sink = sink
        self.seed = seed
        self.scale = scale
        self.dangling = 0
        self.changes = Changes(self)

    def rng(self, phase: str) -> random.Random:
        return random.Random(f"{self.seed}:{phase}")

    def ref(
        self,
        rng: random.Random,
        etype: str,
        system: str,
        sid: str,
        attr: str,
        target: str | None,
        dangling_id: str,
    ) -> str | None:
        """Reference value: target id, or (rarely) an id that was never delivered."""
        if not target:
            return None
        if rng.random() < P_DANGLING:
            self.dangling += 1
            self.sink.defect(etype, system, sid, attr, "dangling_ref", dangling_id)
            return dangling_id
        return target

    def ident(
        self,
        rng: random.Random,
        etype: str,
        system: str,
        sid: str,
        attr: str,
        value: str | None,
        checked: bool,
        junk: bool = False,
    ) -> str | None:
        """Identifier value with rare transposed digits (checked ids) or junk placeholders."""
        if not value:
            return value
        if junk and rng.random() < P_JUNK:
            j = rng.choice(tx.JUNK)
            self.sink.defect(etype, system, sid, attr, "junk", j)
            return j
        if checked and rng.random() < P_BAD_CHECK:
            valid = ids.npi_valid if attr == "npi" else ids.gs1_valid
            bad = ids.transpose_invalid(value, valid, rng)
            self.sink.defect(etype, system, sid, attr, "invalid_check_digit", bad)
            return bad
        return value


def presence(rng: random.Random, probs: dict[str, float]) -> list[str]:
    systems = [s for s, p in probs.items() if rng.random() < p]
    if not systems:
        systems = [rng.choice(list(probs))]
    return systems


def copies(rng: random.Random, allow_dup: bool = True) -> list[bool]:
    """[False] or [False, True]: second entry is a within-system duplicate."""
    return [False, True] if allow_dup and rng.random() < P_DUP else [False]
