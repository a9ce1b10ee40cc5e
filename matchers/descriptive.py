"""Comparisons of descriptive text: organization names, street addresses and item
descriptions, each normalized into its parts (legal and trade names, house number and
street, product features) so that levels say which parts agree.

Unlike identifiers, these are not independent evidence (a name and an address often say
the same thing twice): specs hold them back with vetoes (``matchers.rules``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from rapidfuzz import fuzz
from rapidfuzz.distance import JaroWinkler

from matchers.comparisons import (
    MISSING,
    Column,
    Comparison,
    IndexArray,
    LevelArray,
    _factorize,
    _flags,
    _similarity,
    _text,
)
from matchers.text import (
    extract_item_features,
    is_same_maker,
    normalize_description,
    normalize_organization_name,
    parse_address_line,
)
from matchers.units import find_pack

_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class _Name:
    legal: str
    names: frozenset[str]
    words: str
    numbers: tuple[str, ...]


class OrganizationNameComparison(Comparison[_Name]):
    """Vendor, manufacturer or facility names (``normalize_organization_name``).

    Levels: ``exact`` (equal legal names), ``trade_name`` (a legal name equals
    the other's trade name, or trade names agree), ``jaro_winkler_0.95``,
    ``token_set_0.90``, ``token_set_0.80``, ``different``. Names equal except
    for different numbers (numbered subsidiaries, "X Health 200" vs
    "X Health 414") are ``different``.
    """

    def __init__(
        self,
        attribute: str = "name",
        trade_name_attribute: str | None = "dba_name",
        *,
        name: str | None = None,
    ) -> None:
        self.name = name or attribute
        self.attributes = (attribute,) + ((trade_name_attribute,) if trade_name_attribute else ())
        self.levels = (
            "exact", "trade_name", "jaro_winkler_0.95", "token_set_0.90", "token_set_0.80",
            "different",
        )  # fmt: skip
        self.default_parameters = (
            (0.70, 1e-4), (0.05, 2e-5), (0.12, 5e-4), (0.06, 2e-3), (0.04, 0.01), (0.03, 0.98738),
        )  # fmt: skip

    def prepare(self, record: Mapping[str, Any]) -> _Name | None:
        texts = [t for t in (_text(record, a) for a in self.attributes) if t]
        if not texts:
            return None
        parsed = [normalize_organization_name(t) for t in texts]
        names = {n for p in parsed for n in (p.legal, *p.trade_names) if n}
        legal = parsed[0].legal or next(iter(sorted(names)), "")
        if not legal:
            return None
        words = " ".join(_DIGITS.sub(" ", legal).split())
        return _Name(legal, frozenset(names), words, tuple(_DIGITS.findall(legal)))

    def compare(self, left: _Name, right: _Name) -> int:
        if left.legal == right.legal:
            return 0
        if left.names & right.names:
            return 1
        if _is_numbered_sibling(left, right):
            return 5
        if JaroWinkler.normalized_similarity(left.legal, right.legal) >= 0.95:
            return 2
        ratio = fuzz.token_set_ratio(left.legal, right.legal)
        if ratio >= 90 or is_same_maker(left.legal, right.legal):
            return 3  # "YARROW LABS" abbreviates "YARROW LABORATORIES"
        return 4 if ratio >= 80 else 5

    def encode(
        self, left: Sequence[_Name | None], right: Sequence[_Name | None]
    ) -> tuple[Column[_Name], Column[_Name]]:
        getters: dict[str, Callable[[_Name], Hashable]] = {
            "legal": lambda v: v.legal,
            "words": lambda v: v.words,
            "numbers": lambda v: v.numbers or None,
        }
        codes = {
            k: _factorize([g(v) if v else None for v in left], [g(v) if v else None for v in right])
            for k, g in getters.items()
        }
        left_codes = {k: c[0] for k, c in codes.items()}
        right_codes = {k: c[1] for k, c in codes.items()}
        left_codes["has_trade"] = _flags(left, lambda v: v.names != {v.legal})
        right_codes["has_trade"] = _flags(right, lambda v: v.names != {v.legal})
        return Column(left, left_codes), Column(right, right_codes)

    def batch_levels(
        self,
        left: Column[_Name],
        right: Column[_Name],
        left_index: IndexArray,
        right_index: IndexArray,
    ) -> LevelArray:
        def pair(key: str) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
            return left.codes[key][left_index], right.codes[key][right_index]

        legal_l, legal_r = pair("legal")
        words_l, words_r = pair("words")
        numbers_l, numbers_r = pair("numbers")
        trade_l, trade_r = pair("has_trade")
        out = np.full(len(left_index), 5, dtype=np.int8)
        present = (legal_l != MISSING) & (legal_r != MISSING)
        exact = present & (legal_l == legal_r)
        sibling = (
            (words_l == words_r) & (numbers_l != MISSING) & (numbers_r != MISSING)
            & (numbers_l != numbers_r)
        )  # fmt: skip
        fuzzy = np.flatnonzero(present & ~exact & ~sibling)
        lf, rf = left.features, right.features
        ls = [lf[i].legal for i in left_index[fuzzy].tolist()]
        rs = [rf[j].legal for j in right_index[fuzzy].tolist()]
        jw = _similarity(ls, rs, JaroWinkler.normalized_similarity)
        ts = _similarity(ls, rs, fuzz.token_set_ratio)
        out[fuzzy] = np.select([jw >= 0.95, ts >= 90, ts >= 80], [2, 3, 4], 5)
        for k, a, b in zip(fuzzy.tolist(), ls, rs, strict=True):
            if out[k] >= 4 and is_same_maker(a, b):
                out[k] = 3
        traded = np.flatnonzero(present & ~exact & ((trade_l == 1) | (trade_r == 1)))
        for k in traded.tolist():
            a, b = lf[int(left_index[k])], rf[int(right_index[k])]
            if a is not None and b is not None and a.names & b.names:
                out[k] = 1
        out[exact] = 0
        out[~present] = MISSING
        return out


def _is_numbered_sibling(left: _Name, right: _Name) -> bool:
    return (
        left.words == right.words
        and bool(left.numbers)
        and bool(right.numbers)
        and left.numbers != right.numbers
    )


@dataclass(frozen=True)
class _Address:
    primary: str
    unit: str | None
    is_po_box: bool
    number: str | None
    text: str


class AddressComparison(Comparison[_Address]):
    """Street address lines (``parse_address_line``, USPS Publication 28 forms).

    Levels: ``exact`` (same primary address and unit), ``other_unit`` (same
    primary address, different unit: two clinics in one building, weak
    negative evidence), ``token_set_0.90``, ``different``. Two addresses with
    different house numbers are ``different``. A PO box or lockbox against a
    physical address is not compared at all (missing): a remit-to lockbox says
    nothing for or against the supplier's site.
    """

    def __init__(
        self,
        attribute: str = "address_line1",
        unit_attribute: str | None = "address_line2",
        *,
        name: str | None = None,
    ) -> None:
        self.name = name or attribute
        self.attributes = (attribute,) + ((unit_attribute,) if unit_attribute else ())
        self.levels = ("exact", "other_unit", "token_set_0.90", "different")
        # "other_unit" is rare among random pairs, but among pairs that reach this
        # level (one building) sites are usually distinct: keep its weight below 0.
        self.default_parameters = ((0.75, 1e-4), (0.02, 0.03), (0.15, 0.005), (0.08, 0.9649))

    def prepare(self, record: Mapping[str, Any]) -> _Address | None:
        line = " ".join(t for t in (_text(record, a) for a in self.attributes) if t)
        if not line:
            return None
        parsed = parse_address_line(line)
        if not parsed.primary:
            return None
        first = parsed.primary.split()[0]
        number = first if first[:1].isdigit() else None
        text = " ".join(p for p in (parsed.primary, parsed.unit) if p)
        # "STE 200", "RM 200" and "#200" name the same unit: compare its number.
        unit = parsed.unit.split()[-1].lstrip("#") if parsed.unit else None
        return _Address(parsed.primary, unit or None, parsed.is_po_box, number, text)

    def level(self, left: _Address | None, right: _Address | None) -> int | None:
        if left is None or right is None or left.is_po_box != right.is_po_box:
            return None
        return self.compare(left, right)

    def compare(self, left: _Address, right: _Address) -> int:
        if left.primary == right.primary:
            if left.unit == right.unit:
                return 0
            if left.unit and right.unit:
                return 1
        if left.number and right.number and left.number != right.number:
            return 3
        return 2 if fuzz.token_set_ratio(left.text, right.text) >= 90 else 3

    def encode(
        self, left: Sequence[_Address | None], right: Sequence[_Address | None]
    ) -> tuple[Column[_Address], Column[_Address]]:
        getters: dict[str, Callable[[_Address], Hashable]] = {
            "primary": lambda v: v.primary,
            "full": lambda v: (v.primary, v.unit),
            "number": lambda v: v.number,
        }
        codes = {
            k: _factorize([g(v) if v else None for v in left], [g(v) if v else None for v in right])
            for k, g in getters.items()
        }
        left_codes = {k: c[0] for k, c in codes.items()}
        right_codes = {k: c[1] for k, c in codes.items()}
        for side, values in ((left_codes, left), (right_codes, right)):
            side["has_unit"] = _flags(values, lambda v: v.unit is not None)
            side["po_box"] = _flags(values, lambda v: v.is_po_box)
        return Column(left, left_codes), Column(right, right_codes)

    def batch_levels(
        self,
        left: Column[_Address],
        right: Column[_Address],
        left_index: IndexArray,
        right_index: IndexArray,
    ) -> LevelArray:
        def pair(key: str) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
            return left.codes[key][left_index], right.codes[key][right_index]

        primary_l, primary_r = pair("primary")
        full_l, full_r = pair("full")
        number_l, number_r = pair("number")
        unit_l, unit_r = pair("has_unit")
        po_l, po_r = pair("po_box")
        present = (primary_l != MISSING) & (primary_r != MISSING)
        exact = present & (full_l == full_r)
        other_unit = present & ~exact & (primary_l == primary_r) & (unit_l == 1) & (unit_r == 1)
        blocked = (number_l != MISSING) & (number_r != MISSING) & (number_l != number_r)
        fuzzy = np.flatnonzero(present & ~exact & ~other_unit & ~blocked)
        lf, rf = left.features, right.features
        ls = [lf[i].text for i in left_index[fuzzy].tolist()]
        rs = [rf[j].text for j in right_index[fuzzy].tolist()]
        out = np.full(len(left_index), 3, dtype=np.int8)
        out[fuzzy] = np.where(_similarity(ls, rs, fuzz.token_set_ratio) >= 90, 2, 3)
        out[other_unit] = 1
        out[exact] = 0
        out[~present | (po_l != po_r)] = MISSING
        return out


_FEATURE_FIELDS = (
    "size", "french", "gauge", "volume_ml", "length_mm", "sterile", "latex_free", "powder_free",
    "laterality", "patient_size", "pack",
)  # fmt: skip


@dataclass(frozen=True)
class _Description:
    text: str
    features: tuple[Hashable, ...]


class DescriptionComparison(Comparison[_Description]):
    """Item descriptions (``normalize_description``, ``extract_item_features``).

    Levels: ``token_set_0.95``, ``token_set_0.85``, ``token_set_0.70``,
    ``different``, ``features_conflict``. The last is a strong negative level
    that wins over any text similarity: both descriptions state a size, French
    size, gauge, volume, length, sterility, latex, powder, laterality, patient
    size or pack quantity (``find_pack``) and the two differ.
    """

    def __init__(
        self,
        attribute: str = "description",
        *,
        name: str | None = None,
        unspsc_attribute: str | None = None,
    ) -> None:
        self.name = name or attribute
        self.attributes = (attribute,)
        self.unspsc_attribute = unspsc_attribute
        self.levels = (
            "token_set_0.95",
            "token_set_0.85",
            "token_set_0.70",
            "different",
            "features_conflict",
        )
        self.default_parameters = (
            (0.55, 0.002),
            (0.25, 0.01),
            (0.12, 0.05),
            (0.075, 0.838),
            (0.005, 0.1),
        )

    def prepare(self, record: Mapping[str, Any]) -> _Description | None:
        text = _text(record, self.attributes[0])
        if not text:
            return None
        unspsc = _text(record, self.unspsc_attribute) if self.unspsc_attribute else None
        normalized = normalize_description(text, unspsc=unspsc)
        found = extract_item_features(normalized, unspsc=unspsc)
        pack = find_pack(normalized)
        values = {
            **{f: getattr(found, f, None) for f in _FEATURE_FIELDS[:-1]},
            "pack": pack and pack.label,
        }
        return (
            _Description(normalized, tuple(values[f] for f in _FEATURE_FIELDS))
            if normalized
            else None
        )

    def compare(self, left: _Description, right: _Description) -> int:
        if any(
            a is not None and b is not None and a != b
            for a, b in zip(left.features, right.features, strict=True)
        ):
            return 4
        ratio = fuzz.token_set_ratio(left.text, right.text)
        return 0 if ratio >= 95 else 1 if ratio >= 85 else 2 if ratio >= 70 else 3

    def encode(
        self, left: Sequence[_Description | None], right: Sequence[_Description | None]
    ) -> tuple[Column[_Description], Column[_Description]]:
        left_codes: dict[str, NDArray[np.int64]] = {}
        right_codes: dict[str, NDArray[np.int64]] = {}
        left_codes["text"], right_codes["text"] = _factorize(
            [v and v.text for v in left], [v and v.text for v in right]
        )
        for k, f in enumerate(_FEATURE_FIELDS):
            left_codes[f], right_codes[f] = _factorize(
                [v and v.features[k] for v in left], [v and v.features[k] for v in right]
            )
        return Column(left, left_codes), Column(right, right_codes)

    def batch_levels(
        self,
        left: Column[_Description],
        right: Column[_Description],
        left_index: IndexArray,
        right_index: IndexArray,
    ) -> LevelArray:
        text_l, text_r = left.codes["text"][left_index], right.codes["text"][right_index]
        present = (text_l != MISSING) & (text_r != MISSING)
        conflict = np.zeros(len(left_index), dtype=bool)
        for f in _FEATURE_FIELDS:
            fl, fr = left.codes[f][left_index], right.codes[f][right_index]
            conflict |= (fl != MISSING) & (fr != MISSING) & (fl != fr)
        fuzzy = np.flatnonzero(present & ~conflict & (text_l != text_r))
        lf, rf = left.features, right.features
        ls = [lf[i].text for i in left_index[fuzzy].tolist()]
        rs = [rf[j].text for j in right_index[fuzzy].tolist()]
        ratio = _similarity(ls, rs, fuzz.token_set_ratio)
        out = np.zeros(len(left_index), dtype=np.int8)
        out[fuzzy] = np.select([ratio >= 95, ratio >= 85, ratio >= 70], [0, 1, 2], 3)
        out[conflict] = 4
        out[~present] = MISSING
        return out
