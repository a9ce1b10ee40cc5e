"""Comparisons: how two records agree on one attribute, as ordered levels.

Each comparison turns a pair of records into a level index (0 = strongest
agreement) or None when a value is missing on either side. Values are
normalized once per record (``prepare``) and, for bulk scoring, encoded once
per record set (``encode``) so that many pairs are compared with numpy and
rapidfuzz instead of Python loops (``batch_levels``).

Here: the base class, exact, coded and reference comparisons, identifiers, part numbers,
numbers and generic fuzzy text. Names, addresses and descriptions are in
``matchers.descriptive``; units of use in ``matchers.vocabulary``; manufacturer part
numbers in ``matchers.catalog``.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from operator import attrgetter
from typing import Any, Generic, TypeVar, cast

import numpy as np
from numpy.typing import NDArray
from rapidfuzz import fuzz, process
from rapidfuzz.distance import JaroWinkler

from matchers.identifiers import (
    TYPO_PRONE_KINDS,
    check_identifier,
    gtin_family,
    is_near_identifier,
    near_identifiers,
)
from matchers.junk import is_junk
from matchers.text import (
    fold,
    normalize_phone,
    normalize_postal_code,
    parse_address_line,
)

# Normalizers are pure and see the same values again and again: cache them.
_CACHE_SIZE = 1 << 13

F = TypeVar("F")
IndexArray = NDArray[np.intp]
LevelArray = NDArray[np.int8]
MISSING = -1


@dataclass(frozen=True)
class Column(Generic[F]):
    """Prepared values of one comparison for a record set.

    Attributes:
        features: The output of ``prepare`` for each record, in record order.
        codes: Named integer encodings of the features (``-1`` for missing),
            shared with the column of the other record set so equal values
            get equal codes on both sides.
    """

    features: Sequence[F | None]
    codes: Mapping[str, NDArray[np.int64]] = field(default_factory=dict)


class Comparison(ABC, Generic[F]):
    """Base of all comparisons.

    Subclasses set ``name``, ``attributes``, ``levels`` (strongest agreement
    first) and ``default_parameters`` (an ``(m, u)`` pair per level, from domain
    knowledge, so a model scores sensibly before any estimation), and implement
    ``prepare`` and ``compare`` (``level`` adds the missing-value rule).
    ``encode`` and ``batch_levels`` may be overridden for speed; they must
    agree with ``level``.
    """

    name: str
    attributes: tuple[str, ...]
    levels: tuple[str, ...]
    default_parameters: tuple[tuple[float, float], ...]

    @abstractmethod
    def prepare(self, record: Mapping[str, Any]) -> F | None:
        """Normalize the compared values of one record; None when missing."""

    @abstractmethod
    def compare(self, left: F, right: F) -> int:
        """Level index for two prepared, present values."""

    def level(self, left: F | None, right: F | None) -> int | None:
        """Level index of a prepared pair, or None when either value is missing."""
        if left is None or right is None:
            return None
        return self.compare(left, right)

    def encode(
        self, left: Sequence[F | None], right: Sequence[F | None]
    ) -> tuple[Column[F], Column[F]]:
        """Column form of two record sets' prepared values (shared encodings): each value
        coded (``VALUE``), when values are hashable, so ``batch_levels`` compares each
        distinct pair of values once."""
        return encode_values(left, right)

    def batch_levels(
        self, left: Column[F], right: Column[F], left_index: IndexArray, right_index: IndexArray
    ) -> LevelArray:
        """Levels of many pairs (``-1`` where a value is missing)."""
        return by_distinct_values(left, right, left_index, right_index, self._pair_levels)

    def _pair_levels(
        self, left: Column[F], right: Column[F], left_index: IndexArray, right_index: IndexArray
    ) -> LevelArray:
        lf, rf = left.features, right.features
        out = np.empty(len(left_index), dtype=np.int8)
        for k, (i, j) in enumerate(zip(left_index.tolist(), right_index.tolist(), strict=True)):
            found = self.level(lf[i], rf[j])
            out[k] = MISSING if found is None else found
        return out

    def value(self, record: Mapping[str, Any]) -> str | None:
        """The raw compared value(s) of a record, for explanations."""
        values = [str(record[a]) for a in self.attributes if record.get(a) not in (None, "")]
        return " / ".join(values) if values else None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, attributes={self.attributes!r})"


def _text(record: Mapping[str, Any], attribute: str) -> str | None:
    raw = record.get(attribute)
    if raw is None:
        return None
    text = str(raw).strip()
    return None if not text or is_junk(text) else text


def encode_fields(
    left: Sequence[F | None], right: Sequence[F | None], fields: Sequence[str]
) -> tuple[Column[F], Column[F]]:
    """Columns of prepared values coded by each of their ``fields`` (attributes)."""
    left_codes: dict[str, NDArray[np.int64]] = {}
    right_codes: dict[str, NDArray[np.int64]] = {}
    for key in fields:
        left_codes[key], right_codes[key] = _factorize(
            [getattr(v, key) if v else None for v in left],
            [getattr(v, key) if v else None for v in right],
        )
    return Column(left, left_codes), Column(right, right_codes)


# The code of each prepared value as a whole (``encode_values``): equal values, equal codes.
VALUE = "value"
_Levels = Callable[[Column[Any], Column[Any], IndexArray, IndexArray], LevelArray]


def encode_values(
    left: Sequence[F | None], right: Sequence[F | None]
) -> tuple[Column[F], Column[F]]:
    """Columns with each prepared value coded as a whole (``VALUE``), or without codes
    when values are not hashable."""
    try:
        left_codes, right_codes = _factorize(
            cast(Sequence[Hashable | None], left), cast(Sequence[Hashable | None], right)
        )
    except TypeError:  # unhashable values: compared pair by pair
        return Column(left), Column(right)
    return Column(left, {VALUE: left_codes}), Column(right, {VALUE: right_codes})


def by_distinct_values(
    left: Column[Any],
    right: Column[Any],
    left_index: IndexArray,
    right_index: IndexArray,
    levels: _Levels,
) -> LevelArray:
    """``levels`` of many pairs, worked out once per distinct pair of values (``VALUE``
    codes) and copied to the pairs holding the same two values: for a comparison whose
    level is a function of the two prepared values alone. Candidate pairs repeat value
    pairs often (a block of one common name, a maker's items), and more so as blocks grow
    with the data. Without codes, every pair is worked out."""
    left_values, right_values = left.codes.get(VALUE), right.codes.get(VALUE)
    if left_values is None or right_values is None or len(left_index) < 2:
        return levels(left, right, left_index, right_index)
    a, b = left_values[left_index] + 1, right_values[right_index] + 1  # MISSING (-1) -> 0
    key = a * (int(max(a.max(), b.max())) + 1) + b
    distinct, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    if len(distinct) == len(key):
        return levels(left, right, left_index, right_index)
    found = levels(left, right, left_index[first], right_index[first])
    return np.asarray(found[inverse.reshape(-1)], dtype=np.int8)


def _factorize(
    left: Sequence[Hashable | None], right: Sequence[Hashable | None]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    table: dict[Hashable, int] = {}

    def codes(values: Sequence[Hashable | None]) -> NDArray[np.int64]:
        return np.fromiter(
            (MISSING if v is None else table.setdefault(v, len(table)) for v in values),
            dtype=np.int64,
            count=len(values),
        )

    left_codes = codes(left)
    return left_codes, (left_codes if right is left else codes(right))


def _gather(values: Sequence[str | None], index: IndexArray) -> list[str]:
    return [values[i] or "" for i in index.tolist()]


def _similarity(
    left: list[str], right: list[str], scorer: Any, scale: float = 1.0
) -> NDArray[np.float64]:
    if not left:
        return np.empty(0, dtype=np.float64)
    scores = process.cpdist(left, right, scorer=scorer, workers=1, dtype=np.float64)
    return np.asarray(scores, dtype=np.float64) / scale


def _flags(values: Sequence[F | None], test: Callable[[F], bool]) -> NDArray[np.int64]:
    return np.fromiter(
        (v is not None and test(v) for v in values), dtype=np.int64, count=len(values)
    )


class _CodedComparison(Comparison[F]):
    """Comparisons decided by equality of derived keys (exact, identifiers...)."""

    def keys(self, value: F) -> tuple[Hashable, ...]:
        return (value,)

    def encode(
        self, left: Sequence[F | None], right: Sequence[F | None]
    ) -> tuple[Column[F], Column[F]]:
        n_keys = len(self.levels) - 1
        left_codes: dict[str, NDArray[np.int64]] = {}
        right_codes: dict[str, NDArray[np.int64]] = {}
        left_keys = [None if v is None else self.keys(v) for v in left]
        right_keys = (
            left_keys if right is left else [None if v is None else self.keys(v) for v in right]
        )
        for k in range(n_keys):
            lk = [None if v is None else v[k] for v in left_keys]
            rk = lk if right is left else [None if v is None else v[k] for v in right_keys]
            left_codes[f"key{k}"], right_codes[f"key{k}"] = _factorize(lk, rk)
        return Column(left, left_codes), Column(right, right_codes)

    def compare(self, left: F, right: F) -> int:
        for k, (a, b) in enumerate(zip(self.keys(left), self.keys(right), strict=True)):
            if a is not None and a == b:
                return k
        return len(self.levels) - 1

    def batch_levels(
        self, left: Column[F], right: Column[F], left_index: IndexArray, right_index: IndexArray
    ) -> LevelArray:
        first = left.codes["key0"][left_index]
        out = np.full(len(left_index), len(self.levels) - 1, dtype=np.int8)
        missing = (first == MISSING) | (right.codes["key0"][right_index] == MISSING)
        for k in reversed(range(len(self.levels) - 1)):
            lc = left.codes[f"key{k}"][left_index]
            rc = right.codes[f"key{k}"][right_index]
            out[(lc == rc) & (lc != MISSING)] = k
        out[missing] = MISSING
        return out


class ExactComparison(_CodedComparison[str]):
    """Exact agreement of a coded value, compared case- and punctuation-insensitively.

    Levels: ``exact``, ``different``.
    """

    def __init__(
        self,
        attribute: str,
        *,
        name: str | None = None,
        parameters: Sequence[tuple[float, float]] = ((0.9, 0.02), (0.1, 0.98)),
    ) -> None:
        self.name = name or attribute
        self.attributes = (attribute,)
        self.levels = ("exact", "different")
        self.default_parameters = tuple(parameters)

    def prepare(self, record: Mapping[str, Any]) -> str | None:
        text = _text(record, self.attributes[0])
        return (fold(text) or None) if text else None


FLAGGED = "~flagged"  # suffix of the key holding an identifier that failed its check
MIN_FLAGGED_LENGTH = 5


def flagged_key(attribute: str) -> str:
    """The key under which standardized values keep ``attribute``'s flagged identifier:
    one that failed its check (a sole proprietor's SSN as a tax id, a foreign or
    malformed id), cleaned by ``flagged_form``. Attribute names are snake_case, so the
    key never names an attribute; survivorship, the API and the reports leave it out
    (``is_flagged_key``)."""
    return f"{attribute}{FLAGGED}"


def is_flagged_key(key: str) -> bool:
    """Whether a key of standardized values is a ``flagged_key`` (not an attribute)."""
    return key.endswith(FLAGGED)


def flagged_form(raw: str) -> str | None:
    """An identifier that failed its check, as matching compares it: letters and digits
    only, upper case. None when too short (under ``MIN_FLAGGED_LENGTH`` characters) or
    too uniform (junk, a character repeated) to tell records apart: how common a value
    is, told without counting (a comparison sees two records, not the store)."""
    cleaned = re.sub(r"[^0-9A-Z]", "", raw.upper())
    if len(cleaned) < MIN_FLAGGED_LENGTH or len(set(cleaned)) < 3 or is_junk(cleaned):
        return None
    return cleaned


@dataclass(frozen=True)
class _Identifier:
    valid: str | None  # the checked, normalized value
    cleaned: str  # letters and digits: what a flagged value is compared on


class IdentifierComparison(Comparison[_Identifier]):
    """A validated identifier (GTIN, GLN, DUNS, EIN, NPI, contract number...).

    Values are validated and normalized with ``check_identifier``. Disagreement of two
    valid values of a unique identifier is strong negative evidence.

    Levels: ``exact``, ``different``; with ``flagged=True`` also ``flagged_exact``
    between them: one side or both carry an identifier that failed its check (a
    sole proprietor's SSN as a tax id, a foreign or malformed id; read from the record's
    ``flagged_key`` or from an invalid value in place), and the cleaned forms
    (``flagged_form``) are equal. It is moderate evidence, far below ``exact``: the
    value is unchecked, so a spec never makes it decisive; a flagged value against
    another one or a valid one is missing (no evidence either way, never a veto).
    Without ``flagged``, a value that fails its check is missing.

    With ``near=True`` (kinds without a check digit only, ``TYPO_PRONE_KINDS``) also
    ``near`` before ``different``: two valid values one keystroke apart
    (``is_near_identifier``), as likely a typo as another entity. Its default weight is
    slightly negative, so it never vetoes and never decides: a spec that wants a steward
    to see such pairs holds them back with a doubt (``MatchSettings.doubts``).

    Raises:
        ValueError: ``kind`` is unknown, or ``near`` is asked of a kind with a check digit.
    """

    def __init__(
        self,
        attribute: str,
        kind: str,
        *,
        name: str | None = None,
        flagged: bool = False,
        near: bool = False,
        parameters: Sequence[tuple[float, float]] | None = None,
    ) -> None:
        check_identifier(kind, "0")  # fail fast on an unknown kind
        if near and kind not in TYPO_PRONE_KINDS:
            raise ValueError(f"{kind}: its check digit catches a typo; no near level for it")
        self.name = name or attribute
        self.attributes = (attribute,)
        self.kind = kind
        self.flagged = flagged
        self.near = near
        self.levels = (
            "exact",
            *(("flagged_exact",) if flagged else ()),
            *(("near",) if near else ()),
            "different",
        )
        self.default_parameters = tuple(parameters or _IDENTIFIER_PARAMETERS[flagged, near])

    def prepare(self, record: Mapping[str, Any]) -> _Identifier | None:
        text = _text(record, self.attributes[0])
        valid = check_identifier(self.kind, text).normalized if text else None
        if valid is not None:
            return _Identifier(valid, flagged_form(valid) or valid)
        if not self.flagged:
            return None
        # Standardized values keep a flagged identifier apart; a raw record has it in place.
        raw = text or _text(record, flagged_key(self.attributes[0]))
        cleaned = flagged_form(raw) if raw else None
        return _Identifier(None, cleaned) if cleaned else None

    def level(self, left: _Identifier | None, right: _Identifier | None) -> int | None:
        if left is None or right is None:
            return None
        found = self.compare(left, right)
        return None if found == MISSING else found

    def compare(self, left: _Identifier, right: _Identifier) -> int:
        """The level index, or ``MISSING`` for a flagged value against another value."""
        different = len(self.levels) - 1
        if left.valid is not None and right.valid is not None:
            if left.valid == right.valid:
                return 0
            if self.near and is_near_identifier(self.kind, left.valid, right.valid):
                return different - 1
            return different
        return 1 if left.cleaned == right.cleaned else MISSING

    def encode(
        self, left: Sequence[_Identifier | None], right: Sequence[_Identifier | None]
    ) -> tuple[Column[_Identifier], Column[_Identifier]]:
        return encode_fields(left, right, ("valid", "cleaned"))

    def batch_levels(
        self,
        left: Column[_Identifier],
        right: Column[_Identifier],
        left_index: IndexArray,
        right_index: IndexArray,
    ) -> LevelArray:
        valid_l, valid_r = left.codes["valid"][left_index], right.codes["valid"][right_index]
        clean_l, clean_r = left.codes["cleaned"][left_index], right.codes["cleaned"][right_index]
        different = len(self.levels) - 1
        out = np.full(len(left_index), different, dtype=np.int8)
        both_valid = (valid_l != MISSING) & (valid_r != MISSING)
        out[both_valid & (valid_l == valid_r)] = 0
        if self.near:
            unequal = np.flatnonzero(both_valid & (valid_l != valid_r))
            near = self._near(left, right, left_index[unequal], right_index[unequal])
            out[unequal[near]] = different - 1
        flagged = ~both_valid
        out[flagged & (clean_l == clean_r)] = 1
        out[flagged & (clean_l != clean_r)] = MISSING
        out[(clean_l == MISSING) | (clean_r == MISSING)] = MISSING
        return out

    def _near(
        self,
        left: Column[_Identifier],
        right: Column[_Identifier],
        left_index: IndexArray,
        right_index: IndexArray,
    ) -> NDArray[np.bool_]:
        """Which pairs of two different valid values are ``is_near_identifier``."""
        # Every pair here holds two valid values: read them without a call per pair.
        valid = attrgetter("valid")
        return near_identifiers(
            self.kind,
            list(map(valid, map(left.features.__getitem__, left_index.tolist()))),
            list(map(valid, map(right.features.__getitem__, right_index.tolist()))),
        )

    def value(self, record: Mapping[str, Any]) -> str | None:
        shown = super().value(record)
        if shown is not None or not self.flagged:
            return shown
        flagged = record.get(flagged_key(self.attributes[0]))
        # Shown as a tax id would be masked: its last four characters.
        return f"…{str(flagged)[-4:]} (fails its check)" if flagged else None


# Default (m, u) of ``IdentifierComparison``'s levels by (flagged, near). ``near``'s m (a
# typo in one record of a true pair in two hundred) comes out of ``exact``'s and its u out
# of ``different``'s, so the other levels weigh what they weighed before it. Its weight,
# -1 bit, says "rather not", never "not": calibration holds it within ``BOUND_FACTOR`` of
# that, whatever random pairs say (they are almost never a keystroke apart).
_IDENTIFIER_PARAMETERS: dict[tuple[bool, bool], tuple[tuple[float, float], ...]] = {
    (False, False): ((0.97, 1e-5), (0.03, 1 - 1e-5)),
    (True, False): ((0.67, 1e-5), (0.30, 5e-4), (0.03, 1 - 5.1e-4)),
    (False, True): ((0.965, 1e-5), (0.005, 0.01), (0.03, 1 - 0.01001)),
    (True, True): ((0.665, 1e-5), (0.30, 5e-4), (0.005, 0.01), (0.03, 1 - 0.01051)),
}


class GtinComparison(_CodedComparison[tuple[str, str]]):
    """GTIN of an item, aware of pack levels (``gtin_family``).

    Levels: ``exact`` (equal GTIN-14), ``same_family`` (the same product at
    another packaging level), ``different``.
    """

    def __init__(self, attribute: str = "gtin", *, name: str | None = None) -> None:
        self.name = name or attribute
        self.attributes = (attribute,)
        self.levels = ("exact", "same_family", "different")
        self.default_parameters = ((0.9, 1e-6), (0.04, 1e-5), (0.06, 1 - 1.1e-5))

    def prepare(self, record: Mapping[str, Any]) -> tuple[str, str] | None:
        text = _text(record, self.attributes[0])
        gtin = check_identifier("gtin", text).normalized if text else None
        return (gtin, gtin_family(gtin)) if gtin else None

    def keys(self, value: tuple[str, str]) -> tuple[Hashable, ...]:
        return value


class PhoneComparison(_CodedComparison[str]):
    """North American phone numbers as 10 digits.

    Levels: ``exact``, ``different``.
    """

    def __init__(self, attribute: str = "phone", *, name: str | None = None) -> None:
        self.name = name or attribute
        self.attributes = (attribute,)
        self.levels = ("exact", "different")
        self.default_parameters = ((0.7, 1e-5), (0.3, 1 - 1e-5))

    def prepare(self, record: Mapping[str, Any]) -> str | None:
        text = _text(record, self.attributes[0])
        return normalize_phone(text) if text else None


class PostalCodeComparison(_CodedComparison[str]):
    """US ZIP (5 digits) or Canadian postal codes.

    Levels: ``exact``, ``same_prefix`` (first 3 characters: sectional center
    or forward sortation area), ``different``. With ``address_attribute``, the
    code of a PO box or lockbox address is not compared (it is the bank's).
    """

    def __init__(
        self,
        attribute: str = "postal_code",
        *,
        name: str | None = None,
        address_attribute: str | None = None,
    ) -> None:
        self.name = name or attribute
        self.attributes = (attribute,)
        self.address_attribute = address_attribute
        self.levels = ("exact", "same_prefix", "different")
        self.default_parameters = ((0.9, 0.002), (0.05, 0.02), (0.05, 0.978))

    def prepare(self, record: Mapping[str, Any]) -> str | None:
        text = _text(record, self.attributes[0])
        if not text:
            return None
        if self.address_attribute is not None:
            line = _text(record, self.address_attribute)
            if line and parse_address_line(line).is_po_box:
                return None
        return normalize_postal_code(text)

    def keys(self, value: str) -> tuple[Hashable, ...]:
        return (value, value[:3])


_PART_SEPARATOR = re.compile(r"[\s\-./_]+")
_SIZE_SUFFIXES = ("XXXL", "XXL", "XL", "XS", "LRG", "LG", "MED", "MD", "SML", "SM", "S", "M", "L")


@lru_cache(maxsize=_CACHE_SIZE)
def part_number_stems(raw: str) -> frozenset[str]:
    """Normalized forms of a catalog number with a trailing size or pack suffix removed.

    A suffix is a last separated segment of at most 4 characters
    (``"AB-123-100"`` -> ``AB123``) or a size code after a digit
    (``"AB123XL"`` -> ``AB123``). Such suffixes often encode size, so a stem
    match is weaker evidence than an exact match.

    Args:
        raw: The part number as received.

    Returns:
        The stems, possibly empty; never the full normalized value.
    """
    full = check_identifier("part_number", raw).normalized
    if full is None:
        return frozenset()
    stems: set[str] = set()
    segments = [s for s in _PART_SEPARATOR.split(raw.upper().strip()) if s]
    if len(segments) > 1 and len(re.sub(r"[^0-9A-Z]", "", segments[-1])) <= 4:
        stems.add(re.sub(r"[^0-9A-Z]", "", "".join(segments[:-1])))
    for suffix in _SIZE_SUFFIXES:
        stem = full[: -len(suffix)]
        if full.endswith(suffix) and stem[-1:].isdigit():
            stems.add(stem)
            break
    return frozenset(s for s in stems if len(s) >= 3 and s != full)


class PartNumberComparison(Comparison[tuple[str, frozenset[str]]]):
    """Manufacturer catalog number, compared without spaces, hyphens and dots.

    Levels: ``exact``, ``suffix_removed`` (one is the other without a trailing
    size-or-pack suffix; weaker, because suffixes often encode size),
    ``different``. Two numbers with different suffixes on one stem
    (``AB123-S`` vs ``AB123-L``) are ``different``.
    """

    def __init__(self, attribute: str = "part_number", *, name: str | None = None) -> None:
        self.name = name or attribute
        self.attributes = (attribute,)
        self.levels = ("exact", "suffix_removed", "different")
        self.default_parameters = ((0.85, 1e-4), (0.05, 2e-4), (0.10, 1 - 3e-4))

    def prepare(self, record: Mapping[str, Any]) -> tuple[str, frozenset[str]] | None:
        text = _text(record, self.attributes[0])
        full = check_identifier("part_number", text).normalized if text else None
        return (full, part_number_stems(text or "")) if full else None

    def compare(self, left: tuple[str, frozenset[str]], right: tuple[str, frozenset[str]]) -> int:
        if left[0] == right[0]:
            return 0
        if left[0] in right[1] or right[0] in left[1]:
            return 1
        return 2


class NumericComparison(Comparison[float]):
    """Numbers such as pack quantity or price, by relative difference.

    Levels: one per tolerance (``equal`` for 0, else ``within_5%``...), then
    ``different``.
    """

    def __init__(
        self, attribute: str, tolerances: Sequence[float] = (0.0, 0.05), *, name: str | None = None
    ) -> None:
        if list(tolerances) != sorted(tolerances) or not tolerances or tolerances[0] < 0:
            raise ValueError(f"tolerances must be ascending and non-negative, got {tolerances!r}")
        self.name = name or attribute
        self.attributes = (attribute,)
        self.tolerances = tuple(float(t) for t in tolerances)
        self.levels = (
            *(("equal" if t == 0 else f"within_{t * 100:g}%") for t in self.tolerances),
            "different",
        )
        self.default_parameters = _graded_parameters(len(self.tolerances), 0.8, 0.05)

    def prepare(self, record: Mapping[str, Any]) -> float | None:
        raw = record.get(self.attributes[0])
        try:
            value = float(raw) if raw is not None and str(raw).strip() else None
        except ValueError:
            return None
        return value if value is not None and np.isfinite(value) else None

    def compare(self, left: float, right: float) -> int:
        difference = _relative_difference(np.array([left]), np.array([right]))[0]
        return next(
            (k for k, t in enumerate(self.tolerances) if difference <= t), len(self.tolerances)
        )

    def batch_levels(
        self,
        left: Column[float],
        right: Column[float],
        left_index: IndexArray,
        right_index: IndexArray,
    ) -> LevelArray:
        lv = np.array([np.nan if v is None else v for v in left.features], dtype=np.float64)[
            left_index
        ]
        rv = np.array([np.nan if v is None else v for v in right.features], dtype=np.float64)[
            right_index
        ]
        difference = _relative_difference(lv, rv)
        out = np.full(len(left_index), len(self.tolerances), dtype=np.int8)
        for k in reversed(range(len(self.tolerances))):
            out[difference <= self.tolerances[k]] = k
        out[np.isnan(lv) | np.isnan(rv)] = MISSING
        return out


def _relative_difference(
    left: NDArray[np.float64], right: NDArray[np.float64]
) -> NDArray[np.float64]:
    scale = np.maximum(np.abs(left), np.abs(right))
    with np.errstate(invalid="ignore", divide="ignore"):
        difference = np.abs(left - right) / scale
    return np.where(left == right, 0.0, difference)


class FuzzyTextComparison(Comparison[str]):
    """Generic short text (names of places, cost centers) by string similarity.

    Similarity is the larger of Jaro-Winkler and token-set ratio on folded
    text (``use_jaro_winkler=False``: token-set ratio alone, for names whose shared
    prefix says little, such as "HHN ICU" and "HHN LAB"). Levels: ``exact``, one
    ``similarity_<t>`` per threshold, ``different``.
    """

    def __init__(
        self,
        attribute: str,
        thresholds: Sequence[float] = (0.95, 0.85),
        *,
        name: str | None = None,
        use_jaro_winkler: bool = True,
    ) -> None:
        if list(thresholds) != sorted(thresholds, reverse=True) or not all(
            0 < t <= 1 for t in thresholds
        ):
            raise ValueError(f"thresholds must be descending in (0, 1], got {thresholds!r}")
        self.name = name or attribute
        self.attributes = (attribute,)
        self.thresholds = tuple(float(t) for t in thresholds)
        self.use_jaro_winkler = use_jaro_winkler
        self.levels = ("exact", *(f"similarity_{t:g}" for t in self.thresholds), "different")
        self.default_parameters = _graded_parameters(len(self.thresholds) + 1, 0.75, 0.001)

    def prepare(self, record: Mapping[str, Any]) -> str | None:
        text = _text(record, self.attributes[0])
        return (self.normalize(text) or None) if text else None

    def normalize(self, text: str) -> str:
        """How values are normalized before comparing (subclasses change this)."""
        return fold(text)

    def compare(self, left: str, right: str) -> int:
        if left == right:
            return 0
        score = fuzz.token_set_ratio(left, right) / 100
        if self.use_jaro_winkler:
            score = max(score, JaroWinkler.normalized_similarity(left, right))
        return 1 + next(
            (k for k, t in enumerate(self.thresholds) if score >= t), len(self.thresholds)
        )

    def batch_levels(
        self, left: Column[str], right: Column[str], left_index: IndexArray, right_index: IndexArray
    ) -> LevelArray:
        return by_distinct_values(left, right, left_index, right_index, self._text_levels)

    def _text_levels(
        self, left: Column[str], right: Column[str], left_index: IndexArray, right_index: IndexArray
    ) -> LevelArray:
        ls = [left.features[i] for i in left_index.tolist()]
        rs = [right.features[j] for j in right_index.tolist()]
        present = np.fromiter(
            (a is not None and b is not None for a, b in zip(ls, rs, strict=True)), bool, len(ls)
        )
        exact = np.fromiter((a == b for a, b in zip(ls, rs, strict=True)), bool, len(ls)) & present
        a = [s or "" for s in ls]
        b = [s or "" for s in rs]
        score = _similarity(a, b, fuzz.token_set_ratio, 100.0)
        if self.use_jaro_winkler:
            score = np.maximum(score, _similarity(a, b, JaroWinkler.normalized_similarity))
        out = np.full(len(ls), len(self.levels) - 1, dtype=np.int8)
        for k in reversed(range(len(self.thresholds))):
            out[score >= self.thresholds[k]] = k + 1
        out[exact] = 0
        out[~present] = MISSING
        return out


def _graded_parameters(
    n_agreeing: int, top_m: float, top_u: float
) -> tuple[tuple[float, float], ...]:
    # The first level takes top_m; the rest of the agreement mass (and all but 5%)
    # is spread evenly, while u grows fourfold per level, the remainder on "different".
    rest = (0.95 - top_m) / max(n_agreeing - 1, 1)
    m = [top_m] + [rest] * (n_agreeing - 1)
    u = [top_u * 4**k for k in range(n_agreeing)]
    return (*zip(m, u, strict=True), (1 - sum(m), 1 - sum(u)))
