"""Comparisons of descriptive text: organization names and item descriptions, each
normalized into its parts (legal and trade names, product features) so that levels say
which parts agree. Street addresses are in ``matchers.places``.

Unlike identifiers, these are not independent evidence (a name and an address often say
the same thing twice): specs hold them back with vetoes (``matchers.rules``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from rapidfuzz import fuzz
from rapidfuzz.distance import JaroWinkler

from matchers.comparisons import (
    MISSING,
    VALUE,
    Column,
    Comparison,
    IndexArray,
    LevelArray,
    _factorize,
    _flags,
    _similarity,
    _text,
    by_distinct_values,
)
from matchers.product_match import (
    CodeAgreement,
    ProductText,
    ProductTextIndex,
    code_agreement,
)
from matchers.product_text import (
    colour_of,
    join_codes,
    model_codes,
    normalize_code,
    weigh_tokens,
    weighted_similarity,
)
from matchers.text import (
    abbreviates_name,
    abbreviates_word,
    extract_item_features,
    is_same_maker,
    normalize_description,
    normalize_organization_name,
    region_names,
)
from matchers.units import PackQuantity, find_pack

_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class _Name:
    legal: str
    names: frozenset[str]
    words: str
    numbers: tuple[str, ...]
    # The words of every name (without filler and numbers), their first letters, their
    # single deletions and the initials of each name of two words or more ("BD" of
    # "BECTON DICKINSON"): two names share one when they share a word, mistyped or not.
    keys: frozenset[str]


# Words that say nothing about which organization a name is.
_FILLER = frozenset("THE OF AND A AN FOR AT IN ON".split())
# Names this close (Jaro-Winkler) are one name mistyped ("CLARKE" / "CLYARJE"), and so are
# two words one edit apart, or sharing their first four letters ("BRAID" / "BRAIDEN").
_ALIKE = 0.85
_PREFIX = 4


class OrganizationNameComparison(Comparison[_Name]):
    """Vendor, manufacturer or facility names (``normalize_organization_name``).

    A name that embeds a trade name ("TITAN SCI LLC dba PRECIFORM MEDICAL") is split into
    its legal and trade names, and so is the ``trade_name_attribute``: either can agree
    with either of the other record's.

    Levels: ``exact`` (equal legal names), ``trade_name`` (a legal name equals
    the other's trade name, or trade names agree), ``jaro_winkler_0.95``,
    ``token_set_0.90``, ``token_set_0.80`` (the best of any two names),
    ``shares_word`` (a word in common or mistyped, names alike, or one name the other's
    initials), ``different`` (nothing in common), ``sibling``: the names are equal but
    for a number or a regional qualifier, in one or both ("X Health 200" / "X Health
    414" / "X Health", "X Health of Alabama" / "X Health"): numbered and regional
    subsidiaries are other legal entities, which a spec vetoes.
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
            "shares_word", "different", "sibling",
        )  # fmt: skip
        self.default_parameters = (
            (0.70, 1e-4), (0.05, 2e-5), (0.12, 5e-4), (0.06, 2e-3), (0.03, 0.01),
            (0.02, 0.06), (0.0198, 0.92688), (0.0002, 5e-4),
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
        tokens = {t for n in names for t in n.split() if t not in _FILLER and not t.isdigit()}
        initials = {
            "".join(t[0] for t in kept)
            for n in names
            if len(kept := [t for t in n.split() if t not in _FILLER]) >= 2
        }
        return _Name(
            legal,
            frozenset(names),
            words,
            tuple(_DIGITS.findall(legal)),
            frozenset().union(initials, *map(_word_keys, tokens)),
        )

    def compare(self, left: _Name, right: _Name) -> int:
        return _name_level(
            left,
            right,
            JaroWinkler.normalized_similarity(left.legal, right.legal),
            fuzz.token_set_ratio(left.legal, right.legal),
        )

    def encode(
        self, left: Sequence[_Name | None], right: Sequence[_Name | None]
    ) -> tuple[Column[_Name], Column[_Name]]:
        getters: dict[str, Callable[[_Name], Hashable]] = {
            "legal": lambda v: v.legal,
            "words": lambda v: v.words,
            "numbers": lambda v: v.numbers,
            "first": lambda v: v.legal.split()[0],
        }
        codes = {
            k: _factorize([g(v) if v else None for v in left], [g(v) if v else None for v in right])
            for k, g in getters.items()
        }
        left_codes = {k: c[0] for k, c in codes.items()}
        right_codes = {k: c[1] for k, c in codes.items()}
        left_codes["multi"] = _flags(left, lambda v: len(v.names) > 1)
        right_codes["multi"] = _flags(right, lambda v: len(v.names) > 1)
        left_codes[VALUE], right_codes[VALUE] = _factorize(left, right)
        return Column(left, left_codes), Column(right, right_codes)

    def batch_levels(
        self,
        left: Column[_Name],
        right: Column[_Name],
        left_index: IndexArray,
        right_index: IndexArray,
    ) -> LevelArray:
        # Blocks of common names hold the same two names many times over.
        return by_distinct_values(left, right, left_index, right_index, self._name_levels)

    def _name_levels(
        self,
        left: Column[_Name],
        right: Column[_Name],
        left_index: IndexArray,
        right_index: IndexArray,
    ) -> LevelArray:
        def pair(key: str) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
            return left.codes[key][left_index], right.codes[key][right_index]

        legal_l, legal_r = pair("legal")
        out = np.zeros(len(left_index), dtype=np.int8)
        present = (legal_l != MISSING) & (legal_r != MISSING)
        fuzzy = np.flatnonzero(present & (legal_l != legal_r))
        lf, rf = left.features, right.features
        li, ri = left_index[fuzzy], right_index[fuzzy]
        ls = [lf[i].legal for i in li.tolist()]
        rs = [rf[j].legal for j in ri.tolist()]
        jw = _similarity(ls, rs, JaroWinkler.normalized_similarity)
        ts = _similarity(ls, rs, fuzz.token_set_ratio)

        def sub(key: str) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
            return left.codes[key][li], right.codes[key][ri]

        words_l, words_r = sub("words")
        numbers_l, numbers_r = sub("numbers")
        first_l, first_r = sub("first")
        multi_l, multi_r = sub("multi")
        shares = jw >= _ALIKE
        lk = [lf[i].keys for i in li.tolist()]
        rk = [rf[j].keys for j in ri.tolist()]
        for k in np.flatnonzero((ts < 80) & ~shares).tolist():
            shares[k] = not lk[k].isdisjoint(rk[k])
        level = np.where(shares, 5, 6).astype(np.int8)
        level[jw >= 0.95] = 2
        level[(words_l == words_r) & (numbers_l != numbers_r)] = 7
        # What arrays cannot tell: several names, words in conflict or a qualifier added
        # (token sets from 80), and abbreviations of a first word in common ("YARROW LABS").
        by_pair = (multi_l == 1) | (multi_r == 1) | ((ts >= 80) & (level >= 5))
        by_pair |= (level >= 5) & (level != 7) & (first_l == first_r)
        by_pair |= (numbers_l != numbers_r) & (level != 7)
        for k in np.flatnonzero(by_pair).tolist():
            a, b = lf[int(li[k])], rf[int(ri[k])]
            assert a is not None and b is not None
            level[k] = _name_level(a, b, float(jw[k]), float(ts[k]))
        out[fuzzy] = level
        out[~present] = MISSING
        return out


def _name_level(left: _Name, right: _Name, jaro_winkler: float, token_set: float) -> int:
    """``OrganizationNameComparison``'s level, given the legal names' similarities."""
    if left.legal == right.legal:
        return 0
    if left.names & right.names:
        return 1
    if _is_sibling(left, right):
        return 7
    several = len(left.names) > 1 or len(right.names) > 1
    if several:  # the best of any two names
        for a in left.names:
            for b in right.names:
                jaro_winkler = max(jaro_winkler, JaroWinkler.normalized_similarity(a, b))
                token_set = max(token_set, fuzz.token_set_ratio(a, b))
    if jaro_winkler >= 0.95:
        return 2
    if token_set >= 80:
        if not several and _words_conflict(left.legal, right.legal):
            return 7  # "RITZ CARLTON CAFE" / "RITZ CARLTON DINING ROOM": two of one family
        if token_set >= 90 or any(is_same_maker(a, b) for a in left.names for b in right.names):
            return 3
        return 4
    if any(abbreviates_name(a, b) for a in left.names for b in right.names):
        return 3  # "YARROW LABS" abbreviates "YARROW LABORATORIES"
    return 5 if _shares_word(left, right, jaro_winkler) else 6


def _words_conflict(left: str, right: str) -> bool:
    """Whether two names share a core of two words or more and each has a word of its own,
    not the other's mistyped or abbreviated ("RITZ CARLTON CAFE" / "RITZ CARLTON DINING
    ROOM"): two of one family (outlets, divisions), which token sets do not see."""
    a = {t for t in left.split() if t not in _FILLER and not t.isdigit()}
    b = {t for t in right.split() if t not in _FILLER and not t.isdigit()}
    only_a, only_b = a - b, b - a
    if len(a & b) < 2:
        return False
    return any(not any(_alike_words(x, y) for y in only_b) for x in only_a) and any(
        not any(_alike_words(x, y) for x in only_a) for y in only_b
    )


@lru_cache(maxsize=1 << 16)
def _alike_words(left: str, right: str) -> bool:
    """One word mistyped or abbreviated as the other ("HLTHCARE" / "HEALTCARE")."""
    return (
        not _word_keys(left).isdisjoint(_word_keys(right))
        or abbreviates_word(left, right)
        or abbreviates_word(right, left)
        or JaroWinkler.normalized_similarity(left, right) >= _ALIKE
        or fuzz.ratio(left, right) >= 75
    )


@lru_cache(maxsize=1 << 14)
def _word_keys(word: str) -> frozenset[str]:
    """A word, its first letters and its single deletions: two words share one when one
    is the other mistyped ("GREDN" / "GREEN" share "~GREN")."""
    keys = {word}
    if len(word) > _PREFIX:
        keys.add("^" + word[:_PREFIX])
    if len(word) >= _PREFIX:
        keys.add("~" + word)
        keys.update("~" + word[:k] + word[k + 1 :] for k in range(len(word)))
    return frozenset(keys)


def _is_sibling(left: _Name, right: _Name) -> bool:
    """Legal names alike but for a number ("X HEALTH 200" / "X HLTH 414" / "X HEALTH",
    "X HEALTH HOLDINGS" / "X HEALTH 986": a numbered subsidiary of a holding), or equal
    but for a regional qualifier one adds ("X HEALTH OF ALABAMA", "X HEALTH TEXAS")."""
    if left.numbers != right.numbers:
        a, b = left.words.split(), right.words.split()
        short, long = (a, b) if len(a) <= len(b) else (b, a)
        if short and all(x in long or any(_alike_words(x, y) for y in long) for x in short):
            return True
    a, b = left.legal.split(), right.legal.split()
    short, long = (a, b) if len(a) < len(b) else (b, a)
    if not short or long[: len(short)] != short or len(long) == len(short):
        return False
    rest = long[len(short) :]
    return (rest[0] == "OF" and len(rest) > 1) or " ".join(rest) in region_names()


def _shares_word(left: _Name, right: _Name, jaro_winkler: float) -> bool:
    """Names alike (``_ALIKE``), or a word in common, mistyped or not, or as initials."""
    return jaro_winkler >= _ALIKE or not left.keys.isdisjoint(right.keys)


_FEATURE_FIELDS = (
    "size", "french", "gauge", "volume_ml", "length_mm", "sterile", "latex_free", "powder_free",
    "laterality", "patient_size",
)  # fmt: skip
_MIN_NUMBER_LENGTH = 4  # shorter catalog numbers are found inside too many texts


@dataclass(frozen=True)
class _Description:
    product: ProductText
    features: tuple[Hashable, ...]  # _FEATURE_FIELDS, then the colour
    pack: PackQuantity | None


@dataclass(frozen=True)
class _DescriptionColumn(Column[_Description]):
    index: ProductTextIndex | None = None  # shared by the two columns of one ``encode``


class DescriptionComparison(Comparison[_Description]):
    """Item descriptions: their model codes, rarity-weighted words and stated features.

    A description is normalized (``normalize_description``), its features read
    (``extract_item_features``, ``find_pack``, ``colour_of``), its model and part numbers
    found (``model_codes``) and its words weighed by how much they say (``token_weight``:
    codes and numbers most, function words least). A code of one description is looked
    for among the other's codes and the other record's catalog numbers
    (``number_attributes``) and GTIN (``gtin_attribute``): a catalog number on one side
    meets the same code written into the other's description.

    Levels:
        ``model_code``: a code of one is a code or number of the other, neither names a
        code the other does not agree with, and the words agree (``SIMILAR_TEXT``).
        ``model_code_only``: as ``model_code``, the words apart (two sellers' titles).
        ``model_variant``: as ``model_code``, but one code is the other plus a short
        letter suffix (``JFS516``, ``JFS516NA``: a colour, a finish, sometimes a size).
        ``model_code_conflict``: a code agrees, but each names a code the other does not
        (one model line: ``DSCW150`` in both, ``DSCW150N`` and ``DSCW150R`` apart).
        ``similar_0.9``, ``similar_0.7``, ``similar_0.5``: no code says either way; the
        rarity-weighted agreement of the words (``weighted_similarity``).
        ``model_code_different``: both name model codes (letters and digits) and none
        agrees: other models, unless a source mistyped one; negative, not a veto.
        ``different``.
        ``features_conflict``: both state a size, French size, gauge, volume, length,
        sterility, latex, powder, laterality, patient size or colour and the two differ,
        or the same pack unit with another count (``100/BX`` and ``50/BX``; ``100/BX`` and
        ``10BX/CS`` are two packaging levels of one product, not a conflict). It wins
        over any code or word agreement.
    """

    SIMILAR_TEXT = 0.5

    def __init__(
        self,
        attribute: str = "description",
        *,
        name: str | None = None,
        unspsc_attribute: str | None = None,
        number_attributes: Sequence[str] = (),
        gtin_attribute: str | None = None,
    ) -> None:
        self.name = name or attribute
        self.attributes = (attribute, *number_attributes)
        self.unspsc_attribute = unspsc_attribute
        self.number_attributes = tuple(number_attributes)
        self.gtin_attribute = gtin_attribute
        self.levels = (
            "model_code", "model_code_only", "model_variant", "model_code_conflict",
            "similar_0.9", "similar_0.7", "similar_0.5", "model_code_different", "different",
            "features_conflict",
        )  # fmt: skip
        # A model code shared by two descriptions that agree is about as rare among
        # non-matches as one maker's equal catalog number; words alone, without a code,
        # are weak evidence (many items read alike).
        self.default_parameters = (
            (0.55, 2e-7), (0.03, 1e-6), (0.08, 2e-6), (0.02, 1e-4),
            (0.15, 0.002), (0.08, 0.01), (0.04, 0.05), (0.01, 0.05), (0.035, 0.7878968),
            (0.005, 0.1),
        )  # fmt: skip

    def prepare(self, record: Mapping[str, Any]) -> _Description | None:
        text = _text(record, self.attributes[0])
        if not text:
            return None
        unspsc = _text(record, self.unspsc_attribute) if self.unspsc_attribute else None
        normalized = normalize_description(join_codes(text), unspsc=unspsc)
        if not normalized:
            return None
        numbers = set()
        for attribute in self.number_attributes:
            number = normalize_code(_text(record, attribute) or "")
            if len(number) >= _MIN_NUMBER_LENGTH and any(c.isdigit() for c in number):
                numbers.add(number)
        gtin = _text(record, self.gtin_attribute) if self.gtin_attribute else None
        if gtin:
            numbers.add(normalize_code(gtin))
        found = extract_item_features(normalized, unspsc=unspsc)
        words = weigh_tokens(normalized.split())
        return _Description(
            ProductText(normalized, words, model_codes(text), frozenset(numbers)),
            (*(getattr(found, f) for f in _FEATURE_FIELDS), colour_of(text)),
            find_pack(normalized),
        )

    def compare(self, left: _Description, right: _Description) -> int:
        if _features_conflict(left, right):
            return 9
        code = code_agreement(left.product, right.product)
        score = weighted_similarity(left.product.words, right.product.words)
        same_text = left.product.text == right.product.text
        return _description_level(code, score, same_text)

    def encode(
        self, left: Sequence[_Description | None], right: Sequence[_Description | None]
    ) -> tuple[Column[_Description], Column[_Description]]:
        getters: dict[str, Callable[[_Description], Hashable]] = {
            "present": lambda v: True,
            "pack_unit": lambda v: v.pack and v.pack.pack_unit,
            "pack": lambda v: v.pack,
        }
        for k in range(len(_FEATURE_FIELDS) + 1):
            getters[f"feature{k}"] = _feature(k)
        codes = {
            key: _factorize([v and get(v) for v in left], [v and get(v) for v in right])
            for key, get in getters.items()
        }
        products = [v.product if v else None for v in left]
        index = ProductTextIndex(
            products, products if right is left else [v.product if v else None for v in right]
        )
        left_column = _DescriptionColumn(left, {k: c[0] for k, c in codes.items()}, index)
        if right is left:
            return left_column, left_column
        return left_column, _DescriptionColumn(right, {k: c[1] for k, c in codes.items()}, index)

    def batch_levels(
        self,
        left: Column[_Description],
        right: Column[_Description],
        left_index: IndexArray,
        right_index: IndexArray,
    ) -> LevelArray:
        index = left.index if isinstance(left, _DescriptionColumn) else None
        if index is None or not isinstance(right, _DescriptionColumn) or right.index is not index:
            return super().batch_levels(left, right, left_index, right_index)

        def pair(key: str) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
            return left.codes[key][left_index], right.codes[key][right_index]

        present_l, present_r = pair("present")
        present = (present_l != MISSING) & (present_r != MISSING)
        conflict = np.zeros(len(left_index), dtype=bool)
        for k in range(len(_FEATURE_FIELDS) + 1):
            fl, fr = pair(f"feature{k}")
            conflict |= (fl != MISSING) & (fr != MISSING) & (fl != fr)
        unit_l, unit_r = pair("pack_unit")
        pack_l, pack_r = pair("pack")
        conflict |= (unit_l != MISSING) & (unit_l == unit_r) & (pack_l != pack_r)
        out = np.full(len(left_index), 9, dtype=np.int8)
        compared = np.flatnonzero(present & ~conflict)
        code, score, same_text = index.agreement(left_index[compared], right_index[compared])
        out[compared] = _description_levels(code, score, same_text)
        out[~present] = MISSING
        return out


def _feature(k: int) -> Callable[[_Description], Hashable]:
    return lambda v: v.features[k]


def _features_conflict(left: _Description, right: _Description) -> bool:
    if any(
        a is not None and b is not None and a != b
        for a, b in zip(left.features, right.features, strict=True)
    ):
        return True
    lp, rp = left.pack, right.pack
    return lp is not None and rp is not None and lp.pack_unit == rp.pack_unit and lp != rp


def _description_level(code: int, score: float, same_text: bool) -> int:
    """The level (below ``features_conflict``) of a pair from its ``CodeAgreement``, word
    agreement and text equality; ``_description_levels`` is the same rule for arrays."""
    similar = DescriptionComparison.SIMILAR_TEXT
    if code == CodeAgreement.EXACT:
        return 0 if score >= similar else 1
    if code == CodeAgreement.VARIANT:
        return 2
    if code == CodeAgreement.CONFLICT:
        return 3
    if code == CodeAgreement.DIFFERENT:
        return 7
    if same_text or score >= 0.9:
        return 4
    return 5 if score >= 0.7 else 6 if score >= similar else 8


def _description_levels(
    code: NDArray[np.integer[Any]], score: NDArray[np.float64], same_text: NDArray[np.bool_]
) -> LevelArray:
    """``_description_level`` of many pairs."""
    similar = DescriptionComparison.SIMILAR_TEXT
    return np.select(
        [
            (code == CodeAgreement.EXACT) & (score >= similar),
            code == CodeAgreement.EXACT,
            code == CodeAgreement.VARIANT,
            code == CodeAgreement.CONFLICT,
            code == CodeAgreement.DIFFERENT,
            same_text | (score >= 0.9),
            score >= 0.7,
            score >= similar,
        ],
        [0, 1, 2, 3, 7, 4, 5, 6],
        8,
    ).astype(np.int8)
