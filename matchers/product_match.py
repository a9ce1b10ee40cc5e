"""How two product descriptions agree: their model codes and their weighted words, for
one pair (``code_agreement``, ``weighted_similarity``) or for batches of pairs
(``ProductTextIndex.agreement``), with the same answers.

A code of one description is looked for among the other's codes and the other record's
own numbers (catalog numbers, GTIN), so a catalog number on one side meets the same code
written into the other's description.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from numpy.typing import NDArray

from matchers.product_text import (
    FULL_CREDIT,
    SOFT_CREDIT,
    ModelCodes,
    WeightedTokens,
    agrees_with,
    code_stem,
    is_variant,
    related_forms,
)
from matchers.record_sets import IntArray, RecordSets, any_per


class CodeAgreement(IntEnum):
    """What two descriptions' codes say about a pair."""

    NONE = 0  # neither names a code, or they share none and not both name model codes
    EXACT = 1  # a code of one is a code or number of the other, and no code agrees loosely
    VARIANT = 2  # a code agrees only as another plus a short letter suffix (JFS516NA)
    CONFLICT = 3  # a code agrees, but each names a code the other lacks
    DIFFERENT = 4  # both name model codes and none agrees


@dataclass(frozen=True)
class ProductText:
    """A description prepared for comparing: its normalized text, weighted words, model
    codes, and the record's own numbers (normalized catalog numbers, GTIN)."""

    text: str
    words: WeightedTokens
    codes: ModelCodes
    numbers: frozenset[str]


def code_agreement(left: ProductText, right: ProductText) -> CodeAgreement:
    """What the two descriptions' codes say (``CodeAgreement``)."""
    lc, rc = left.codes, right.codes
    if not (lc.codes or rc.codes):
        return CodeAgreement.NONE
    left_all = lc.codes | left.numbers
    right_all = rc.codes | right.numbers
    exact = not (lc.codes.isdisjoint(right_all) and rc.codes.isdisjoint(left.numbers))
    variant = not exact and (
        any(is_variant(a, b) for a in lc.codes for b in right_all)
        or any(is_variant(a, b) for a in left.numbers for b in rc.codes)
    )
    if exact or variant:
        apart_left = any(not agrees_with(c, right_all) for c in lc.primary)
        apart_right = any(not agrees_with(c, left_all) for c in rc.primary)
        if apart_left and apart_right:
            return CodeAgreement.CONFLICT
        # "DVPFX820" against "DVPFX820LI": one names the model, the other also its colour.
        loose = any(c not in right_all and agrees_with(c, right_all) for c in lc.primary) or any(
            c not in left_all and agrees_with(c, left_all) for c in rc.primary
        )
        return CodeAgreement.EXACT if exact and not loose else CodeAgreement.VARIANT
    if lc.mixed and rc.mixed:
        return CodeAgreement.DIFFERENT
    return CodeAgreement.NONE


class _Side:
    """One side's descriptions as id sets."""

    def __init__(
        self,
        values: Sequence[ProductText | None],
        tokens: dict[str, int],
        codes: dict[str, int],
        texts: dict[str, int],
        stem_of: IntArray,
    ) -> None:
        words = [[tokens[t] for t in v.words.tokens] if v else [] for v in values]
        self.words = RecordSets(words, len(tokens))
        self.units: IntArray = np.fromiter(
            (u for v in values if v for u in v.words.units),
            dtype=np.int64,
            count=int(self.words.offsets[-1]),
        )
        self.total: IntArray = np.fromiter(
            (v.words.total if v else 0 for v in values), dtype=np.int64, count=len(values)
        )
        self.text: IntArray = np.fromiter(
            (texts[v.text] if v else -1 for v in values), dtype=np.int64, count=len(values)
        )
        named = [sorted(codes[c] for c in v.codes.codes) if v else [] for v in values]
        numbers = [sorted(codes[c] for c in v.numbers) if v else [] for v in values]
        every = [sorted({*c, *n}) for c, n in zip(named, numbers, strict=True)]
        n_codes = len(codes)

        def stems(found: list[int]) -> list[int]:
            return sorted({int(stem_of[i]) for i in found if stem_of[i] >= 0})

        self.codes = RecordSets(named, n_codes)
        self.numbers = RecordSets(numbers, n_codes)
        self.every = RecordSets(every, n_codes)
        self.code_stems = RecordSets([stems(c) for c in named], n_codes)
        self.every_stems = RecordSets([stems(c) for c in every], n_codes)
        self.primary = RecordSets(
            [sorted(codes[c] for c in v.codes.primary) if v else [] for v in values], n_codes
        )
        self.has_codes = self.codes.counts > 0
        self.has_mixed = np.fromiter(
            (v is not None and bool(v.codes.mixed) for v in values), dtype=bool, count=len(values)
        )


class ProductTextIndex:
    """Two sides' prepared descriptions (the same object twice to deduplicate one set),
    for ``agreement`` of many pairs at once.

    Related tokens (``related_forms``) are found once for the whole vocabulary, not per
    pair.
    """

    def __init__(
        self, left: Sequence[ProductText | None], right: Sequence[ProductText | None]
    ) -> None:
        values = [v for v in (*left, *(() if right is left else right)) if v is not None]
        tokens = {t: k for k, t in enumerate(sorted({t for v in values for t in v.words.tokens}))}
        texts = {t: k for k, t in enumerate(sorted({v.text for v in values}))}
        named = {c for v in values for c in (*v.codes.codes, *v.numbers)}
        stems = {c: code_stem(c) for c in named}
        every = sorted(named | {s for s in stems.values() if s is not None})
        codes = {c: k for k, c in enumerate(every)}
        stem_of = np.full(len(codes), -1, dtype=np.int64)
        for code, stem in stems.items():
            if stem is not None:
                stem_of[codes[code]] = codes[stem]
        self.stem_of = stem_of
        self.related = _related_tokens(tokens)
        self.left = _Side(left, tokens, codes, texts, stem_of)
        self.right = self.left if right is left else _Side(right, tokens, codes, texts, stem_of)

    def agreement(
        self, left_index: IntArray, right_index: IntArray
    ) -> tuple[NDArray[np.int8], NDArray[np.float64], NDArray[np.bool_]]:
        """For each pair ``(left_index[k], right_index[k])``: its ``CodeAgreement``, its
        ``weighted_similarity`` and whether the normalized texts are equal."""
        li = np.asarray(left_index, dtype=np.int64)
        ri = np.asarray(right_index, dtype=np.int64)
        left, right = self.left, self.right
        left_agreed = self._agreed(left, right, li, ri)
        right_agreed = self._agreed(right, left, ri, li)
        left_total = left.total[li].astype(np.float64)
        right_total = right.total[ri].astype(np.float64)
        weighs = (left_total > 0) & (right_total > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            dice = (left_agreed + right_agreed) / (FULL_CREDIT * (left_total + right_total))
            cover = np.maximum(
                left_agreed / (FULL_CREDIT * left_total), right_agreed / (FULL_CREDIT * right_total)
            )
            score = np.where(weighs, (dice + cover) / 2, 0.0)
        same_text = (left.text[li] == right.text[ri]) & (left.text[li] >= 0)
        return self._codes(li, ri), score, same_text

    def _agreed(
        self, side: _Side, other: _Side, side_index: IntArray, other_index: IntArray
    ) -> NDArray[np.float64]:
        owner, position = side.words.explode(side_index)
        token = side.words.items[position]
        exact = other.words.contains(other_index[owner], token)
        rest = np.flatnonzero(~exact)
        near, near_position = self.related.explode(token[rest])
        met = other.words.contains(
            other_index[owner[rest[near]]], self.related.items[near_position]
        )
        soft = np.zeros(len(token), dtype=bool)
        soft[rest] = any_per(near, met, len(rest))
        credit = np.where(exact, FULL_CREDIT, np.where(soft, SOFT_CREDIT, 0))
        return np.bincount(
            owner, weights=side.units[position] * credit, minlength=len(side_index)
        ).astype(np.float64)

    def _codes(self, li: IntArray, ri: IntArray) -> NDArray[np.int8]:
        left, right = self.left, self.right
        out = np.full(len(li), CodeAgreement.NONE, dtype=np.int8)
        chosen = np.flatnonzero(left.has_codes[li] | right.has_codes[ri])
        lk, rk, n = li[chosen], ri[chosen], len(chosen)
        stem_of = self.stem_of
        owner, position = left.codes.explode(lk)
        code = left.codes.items[position]
        exact = any_per(owner, right.every.contains(rk[owner], code), n)
        variant = any_per(
            owner,
            right.every.contains(rk[owner], stem_of[code])
            | right.every_stems.contains(rk[owner], code),
            n,
        )
        owner, position = right.codes.explode(rk)
        exact |= any_per(owner, left.numbers.contains(lk[owner], right.codes.items[position]), n)
        owner, position = left.numbers.explode(lk)
        number = left.numbers.items[position]
        variant |= any_per(
            owner,
            right.codes.contains(rk[owner], stem_of[number])
            | right.code_stems.contains(rk[owner], number),
            n,
        )
        variant &= ~exact
        exact_or_variant = exact | variant
        apart_left, loose_left = _apart(left.primary, lk, right, rk, stem_of)
        apart_right, loose_right = _apart(right.primary, rk, left, lk, stem_of)
        exact &= ~(loose_left | loose_right)
        out[chosen] = np.select(
            [
                exact_or_variant & apart_left & apart_right,
                exact,
                exact_or_variant & ~exact,
                left.has_mixed[lk] & right.has_mixed[rk],
            ],
            [CodeAgreement.CONFLICT, CodeAgreement.EXACT, CodeAgreement.VARIANT,
             CodeAgreement.DIFFERENT],
            CodeAgreement.NONE,
        )  # fmt: skip
        return out


def _apart(
    primary: RecordSets, index: IntArray, other: _Side, other_index: IntArray, stem_of: IntArray
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Whether each record names a primary code the other does not agree with
    (``agrees_with``), and whether it names one the other agrees with only loosely (as a
    variant)."""
    owner, position = primary.explode(index)
    code = primary.items[position]
    stem = stem_of[code]
    theirs = other_index[owner]
    variant = other.every.contains(theirs, stem) | other.every_stems.contains(theirs, code)
    sibling = other.every_stems.contains(theirs, stem)
    held = other.every.contains(theirs, code)
    loose = ~held & variant & ~sibling
    return any_per(owner, ~(held | loose), len(index)), any_per(owner, loose, len(index))


def _related_tokens(tokens: dict[str, int]) -> RecordSets:
    """Per token id, the ids of its related tokens (``related_forms``)."""
    forms = {t: related_forms(t) for t in tokens}
    having_shorter: dict[str, list[int]] = defaultdict(list)
    having_typo: dict[str, list[int]] = defaultdict(list)
    for token, (shorter, typos) in forms.items():
        for form in shorter:
            having_shorter[form].append(tokens[token])
        for form in typos:
            having_typo[form].append(tokens[token])
    related: list[list[int]] = []
    for token, (shorter, typos) in forms.items():
        found = set(having_shorter.get(token, ()))
        found.update(tokens[f] for f in shorter if f in tokens)
        for form in typos:
            found.update(having_typo[form])
        found.discard(tokens[token])
        related.append(sorted(found))
    return RecordSets(related, len(tokens))
