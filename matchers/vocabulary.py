"""Hospital vocabulary for department, unit and cost-center names.

"ED", "EMERG DEPT" and "Emergency Department" are one department; "3S" is "3 SOUTH".
The table lives in ``data/hospital_units.tsv`` and can be extended by the caller.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from importlib import resources

from matchers.comparisons import FuzzyTextComparison
from matchers.text import fold

_MAX_PHRASE = 4
_FLOOR_WING = re.compile(r"^(\d{1,2})([NSEW])$")
_WINGS = {"N": "NORTH", "S": "SOUTH", "E": "EAST", "W": "WEST"}


@cache
def unit_vocabulary() -> dict[tuple[str, ...], tuple[str, ...]]:
    """The shipped vocabulary: variant words -> canonical words."""
    text = resources.files("matchers").joinpath("data/hospital_units.tsv").read_text("utf-8")
    table: dict[tuple[str, ...], tuple[str, ...]] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        variant, canonical = line.split("\t")
        table[tuple(fold(variant).split())] = tuple(canonical.split())
    return table


def normalize_unit_name(text: str, extra: Mapping[str, str] | None = None) -> str:
    """Fold a department or unit name and spell its abbreviations out.

    Args:
        text: The name as received, e.g. ``"Emerg Dept - 3S"``.
        extra: More ``variant -> canonical`` entries (site vocabulary); they win.

    Returns:
        The canonical words, e.g. ``"EMERGENCY DEPARTMENT 3 SOUTH"``.

    Example:
        >>> normalize_unit_name("L&D")
        'LABOR AND DELIVERY'
    """
    table = unit_vocabulary()
    if extra:
        table = {
            **table,
            **{tuple(fold(k).split()): tuple(fold(v).split()) for k, v in extra.items()},
        }
    words: list[str] = []
    for token in fold(text).split():
        wing = _FLOOR_WING.match(token)
        words += [wing[1], _WINGS[wing[2]]] if wing else [token]
    out: list[str] = []
    i = 0
    while i < len(words):
        for size in range(min(_MAX_PHRASE, len(words) - i), 0, -1):
            canonical = table.get(tuple(words[i : i + size]))
            if canonical is not None:
                out += canonical
                i += size
                break
        else:
            out.append(words[i])
            i += 1
    return " ".join(out)


class UnitNameComparison(FuzzyTextComparison):
    """Department, unit and cost-center names, compared after ``normalize_unit_name``.

    Levels as ``FuzzyTextComparison``: ``exact``, ``similarity_<t>``…, ``different``.
    """

    def __init__(
        self,
        attribute: str = "name",
        thresholds: tuple[float, ...] = (0.95, 0.85),
        *,
        name: str | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(attribute, thresholds, name=name, use_jaro_winkler=False)
        self.extra = dict(extra or {})

    def normalize(self, text: str) -> str:
        return normalize_unit_name(text, self.extra)
