"""Comparisons of values the matching context puts in: coded values (canonical codes,
learned correspondences, a system's own spellings) and references resolved to their
parents' golden records."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

import numpy as np

from matchers.comparisons import (
    MISSING,
    Column,
    Comparison,
    IndexArray,
    LevelArray,
    _CodedComparison,
    _factorize,
    _text,
)
from matchers.text import fold
from matchers.vocabulary import parse_vocabulary

LEARNED = "~"  # prefix of a coded value that rests on a learned correspondence


RAW = "="  # prefix of a value of a code set that is not loaded: "=SYSTEM|VALUE"


def raw_code_token(system: str, text: str) -> str:
    """The matching token of a coded value whose code set is not loaded: its system's own
    spelling, which says nothing against another system's spelling (see ``CodeComparison``)."""
    return f"{RAW}{system}|{text}"


_MAX_SPELLING = 4  # words in the longest spelling looked up


@dataclass(frozen=True, eq=False)
class CodeVocabulary:
    """The common spellings of a code set's codes, shipped for the kinds every hospital has
    (``location_type``: "NURS UNIT", "Nursing Unit" and "NU" are ``NURSING_UNIT``).

    Attributes:
        code_set: The code set's name.
        spellings: Folded words of a spelling -> its canonical code; every code is a
            spelling of itself.
    """

    code_set: str
    spellings: Mapping[tuple[str, ...], str]

    @property
    def codes(self) -> frozenset[str]:
        """The canonical codes."""
        return frozenset(self.spellings.values())

    def canonical(self, value: str) -> str | None:
        """The code a value spells ("Ship-To" -> ``SHIP_TO``), or None when it is not one
        known spelling as a whole ("CATH LAB | DEPT")."""
        words = _spelled(self, value)
        return words[0] if len(words) == 1 and words[0] in self.codes else None

    def spelled(self, value: str) -> str:
        """The value with each known spelling in it written as its code, longest first:
        "CATH LAB | DEPT" and "Cath Lab | Department" are both ``PROCEDURE_AREA
        DEPARTMENT``."""
        return " ".join(_spelled(self, value))


@lru_cache(maxsize=1 << 12)  # a code set has few values, seen record after record
def _spelled(vocabulary: CodeVocabulary, value: str) -> tuple[str, ...]:
    words = fold(value).split()
    out: list[str] = []
    i = 0
    while i < len(words):
        for size in range(min(_MAX_SPELLING, len(words) - i), 0, -1):
            code = vocabulary.spellings.get(tuple(words[i : i + size]))
            if code is not None:
                out.append(code)
                i += size
                break
        else:
            out.append(words[i])
            i += 1
    return tuple(out)


# Code sets with a shipped vocabulary, and the data file of each.
_SHIPPED = {"location_type": "location_types.tsv"}


@cache
def shipped_code_vocabularies() -> Mapping[str, CodeVocabulary]:
    """The vocabularies the hub ships, by code set (``data/location_types.tsv``): what a
    coded value means when reference data has loaded no code set for it."""
    return {name: _read_vocabulary(name, file) for name, file in _SHIPPED.items()}


def _read_vocabulary(code_set: str, file: str) -> CodeVocabulary:
    text = resources.files("matchers").joinpath("data", file).read_text("utf-8")
    entries = parse_vocabulary(text, origin=file)
    spellings = {tuple(fold(code).split()): code for _, code in entries}
    spellings.update({tuple(fold(variant).split()): code for variant, code in entries})
    return CodeVocabulary(code_set, spellings)


class CodeComparison(_CodedComparison[str]):
    """A coded value after transcoding to its code set's canonical codes.

    The caller puts in each record the canonical code, or ``~CODE`` when the record's own
    value is unmapped but a learned correspondence points to ``CODE``, or nothing when the
    value is unmapped and unexplained (it never makes or breaks a match by itself). When
    the code set is not loaded at all, the caller puts the code a shipped vocabulary reads
    the value as (``CodeVocabulary``: "Ship-To" is ``SHIP_TO``), or else the system's own
    value as ``raw_code_token`` gives it, its known spellings written as codes: equal
    values agree (``exact``: "CATH LAB | DEPT" and "Cath Lab | Department"), but two
    systems' unequal spellings ("320" and "PH-MAN") are each system's own codes and
    compare as missing, never ``different``, and so does such a spelling against a code:
    an unmapped value never vetoes. Within one system, unequal spellings are
    ``different``.

    Levels: ``exact``, ``learned`` (codes correspond through a learned correspondence),
    ``different``.
    """

    def __init__(
        self,
        attribute: str,
        *,
        name: str | None = None,
        parameters: Sequence[tuple[float, float]] = ((0.9, 0.05), (0.07, 0.004), (0.03, 0.946)),
    ) -> None:
        self.name = name or attribute
        self.attributes = (attribute,)
        self.levels = ("exact", "learned", "different")
        self.default_parameters = tuple(parameters)

    def prepare(self, record: Mapping[str, Any]) -> str | None:
        text = _text(record, self.attributes[0])
        return " ".join(text.split()).upper() if text else None

    def keys(self, value: str) -> tuple[Hashable, ...]:
        if value.startswith(RAW):
            return (RAW + value.partition("|")[2], None)
        return (value, value.removeprefix(LEARNED))

    def level(self, left: str | None, right: str | None) -> int | None:
        if left is None or right is None:
            return None
        found = self.compare(left, right)
        if found == len(self.levels) - 1 and _other_systems(left, right):
            return None
        return found

    def encode(
        self, left: Sequence[str | None], right: Sequence[str | None]
    ) -> tuple[Column[str], Column[str]]:
        left_column, right_column = super().encode(left, right)
        systems = _factorize([_raw_system(v) for v in left], [_raw_system(v) for v in right])
        return (
            Column(left, {**left_column.codes, "system": systems[0]}),
            Column(right, {**right_column.codes, "system": systems[1]}),
        )

    def batch_levels(
        self,
        left: Column[str],
        right: Column[str],
        left_index: IndexArray,
        right_index: IndexArray,
    ) -> LevelArray:
        out = super().batch_levels(left, right, left_index, right_index)
        ls, rs = left.codes["system"][left_index], right.codes["system"][right_index]
        out[(ls != rs) & (out == len(self.levels) - 1)] = MISSING
        return out


def _raw_system(value: str | None) -> str | None:
    if value is None or not value.startswith(RAW):
        return None
    return value[len(RAW) :].partition("|")[0]


def _other_systems(left: str, right: str) -> bool:
    """Not both codes, nor both spellings of one system."""
    return _raw_system(left) != _raw_system(right)


ANCESTRY = ">"  # separates a resolved parent from its own ancestors: "P>GP>GGP"


class ReferenceComparison(Comparison[tuple[str, tuple[str, ...]]]):
    """Whether two records refer to the same resolved parent (a golden record's id).

    The caller resolves each record's reference (a source id in some system) through the
    crosswalk to the parent's golden id, followed by that parent's own ancestors, nearest
    first, written ``"PARENT>GRANDPARENT>..."``; an unresolved reference is missing. A
    value that is not such a string (the raw ``{system, source_id}`` pair) is missing too:
    raw ids of two systems say nothing about each other.

    Levels: ``same``; ``ancestor`` (one parent is an ancestor of the other: systems model
    hierarchies to different depths, a par under its department in one and under the
    facility in another); ``sibling`` (two parents under one grandparent that is not the
    top of the hierarchy: two departments of one facility, which a vocabulary gap may have
    left unmatched); ``different``.
    """

    def __init__(
        self,
        attribute: str,
        *,
        name: str | None = None,
        parameters: Sequence[tuple[float, float]] = (
            (0.9, 0.01),
            (0.06, 0.02),
            (0.02, 0.1),
            (0.02, 0.87),
        ),
    ) -> None:
        self.name = name or attribute
        self.attributes = (attribute,)
        self.levels = ("same", "ancestor", "sibling", "different")
        self.default_parameters = tuple(parameters)

    def prepare(self, record: Mapping[str, Any]) -> tuple[str, tuple[str, ...]] | None:
        raw = record.get(self.attributes[0])
        if not isinstance(raw, str) or not raw:
            return None
        parent, *ancestors = raw.split(ANCESTRY)
        return parent, tuple(ancestors)

    def compare(self, left: tuple[str, tuple[str, ...]], right: tuple[str, tuple[str, ...]]) -> int:
        if left[0] == right[0]:
            return 0
        if left[0] in right[1] or right[0] in left[1]:
            return 1
        if len(left[1]) >= 2 and len(right[1]) >= 2 and left[1][0] == right[1][0]:
            return 2
        return 3

    def encode(
        self,
        left: Sequence[tuple[str, tuple[str, ...]] | None],
        right: Sequence[tuple[str, tuple[str, ...]] | None],
    ) -> tuple[Column[tuple[str, tuple[str, ...]]], Column[tuple[str, tuple[str, ...]]]]:
        """Parents as shared integer codes, and whether each record knows ancestors."""
        ids: dict[str, int] = {}

        def column(values: Sequence[tuple[str, tuple[str, ...]] | None]) -> Column[Any]:
            parent = np.fromiter(
                (MISSING if v is None else ids.setdefault(v[0], len(ids)) for v in values),
                dtype=np.int64,
                count=len(values),
            )
            known = np.fromiter(
                (v is not None and bool(v[1]) for v in values), dtype=np.int64, count=len(values)
            )
            return Column(values, {"parent": parent, "ancestors": known})

        left_column = column(left)
        return left_column, left_column if right is left else column(right)

    def batch_levels(
        self,
        left: Column[tuple[str, tuple[str, ...]]],
        right: Column[tuple[str, tuple[str, ...]]],
        left_index: IndexArray,
        right_index: IndexArray,
    ) -> LevelArray:
        """As ``level``; only pairs where a side knows ancestors are compared one by one."""
        lp, rp = left.codes["parent"][left_index], right.codes["parent"][right_index]
        out = np.full(len(left_index), 3, dtype=np.int8)
        out[lp == rp] = 0
        out[(lp == MISSING) | (rp == MISSING)] = MISSING
        deeper = (out == 3) & (
            (left.codes["ancestors"][left_index] > 0) | (right.codes["ancestors"][right_index] > 0)
        )
        lf, rf = left.features, right.features
        for k in np.flatnonzero(deeper).tolist():
            found = self.level(lf[int(left_index[k])], rf[int(right_index[k])])
            out[k] = MISSING if found is None else found
        return out

    def value(self, record: Mapping[str, Any]) -> str | None:
        raw = record.get(self.attributes[0])
        return raw if isinstance(raw, str) and raw else None
