"""Blocking: cheap keys that bring candidate duplicates together.

A blocking key function maps a record to a set of short strings; two records
are candidates when they share a key. Rules are composed per entity type in
``BlockingRules``, and each key is prefixed by its rule name so keys of
different rules never collide.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from matchers.coded import ANCESTRY
from matchers.comparisons import part_number_stems
from matchers.identifiers import check_identifier, gtin_family
from matchers.junk import is_junk
from matchers.product_text import MIN_CODE_LENGTH, code_stem, model_codes, normalize_code
from matchers.text import (
    fold,
    normalize_description,
    normalize_organization_name,
    normalize_postal_code,
    parse_address_line,
    sorted_token_key,
    token_set,
)

BlockingKey = Callable[[Mapping[str, Any]], set[str]]
Ref = TypeVar("Ref", bound=Hashable)

_SOUNDEX_CODES = {
    **dict.fromkeys("BFPV", "1"),
    **dict.fromkeys("CGJKQSXZ", "2"),
    **dict.fromkeys("DT", "3"),
    "L": "4",
    **dict.fromkeys("MN", "5"),
    "R": "6",
}
_PACK_LABEL = re.compile(r"\d+[A-Z]*/[A-Z]+")


def _text(record: Mapping[str, Any], attribute: str) -> str | None:
    raw = record.get(attribute)
    text = "" if raw is None else str(raw).strip()
    return None if not text or is_junk(text) else text


def _names(record: Mapping[str, Any], attribute: str) -> list[str]:
    text = _text(record, attribute)
    if text is None:
        return []
    parsed = normalize_organization_name(text)
    return [n for n in (parsed.legal, *parsed.trade_names) if n]


def exact_key(attribute: str, kind: str | None = None) -> BlockingKey:
    """Key on the whole value: folded, or validated as identifier ``kind``."""

    def keys(record: Mapping[str, Any]) -> set[str]:
        text = _text(record, attribute)
        if text is None:
            return set()
        value = check_identifier(kind, text).normalized if kind else fold(text)
        return {value} if value else set()

    return keys


def name_prefix_key(attribute: str = "name", n: int = 6) -> BlockingKey:
    """First ``n`` characters of each normalized organization name (legal and trade)."""
    return lambda record: {name.replace(" ", "")[:n] for name in _names(record, attribute)}


def token_sort_key(attribute: str = "name") -> BlockingKey:
    """Order-insensitive token key of each normalized organization name."""
    return lambda record: {sorted_token_key(name) for name in _names(record, attribute)}


def soundex(word: str) -> str:
    """American Soundex code of a word (``"ROBERT"`` -> ``"R163"``); ``""`` if no letter."""
    letters = [c for c in fold(word) if c.isalpha()]
    if not letters:
        return ""
    code, previous = letters[0], _SOUNDEX_CODES.get(letters[0], "")
    for char in letters[1:]:
        digit = _SOUNDEX_CODES.get(char, "")
        if digit and digit != previous:
            code += digit
        if char not in "HW":  # H and W do not separate equal codes; vowels do
            previous = digit
    return (code + "000")[:4]


def phonetic_key(attribute: str = "name") -> BlockingKey:
    """Soundex of the first two tokens of each normalized organization name."""

    def keys(record: Mapping[str, Any]) -> set[str]:
        found = set()
        for name in _names(record, attribute):
            codes = [c for c in (soundex(t) for t in name.split()[:2]) if c]
            if codes:
                found.add(" ".join(codes))
        return found

    return keys


def postal_prefix_and_name_key(
    postal_attribute: str = "postal_code",
    name_attribute: str = "name",
    *,
    postal_length: int = 3,
    name_length: int = 4,
) -> BlockingKey:
    """Postal-code prefix joined with each name's prefix (same area, similar name)."""

    def keys(record: Mapping[str, Any]) -> set[str]:
        text = _text(record, postal_attribute)
        postal = normalize_postal_code(text) if text else None
        if not postal:
            return set()
        area = postal[:postal_length]
        return {
            f"{area}|{name.replace(' ', '')[:name_length]}"
            for name in _names(record, name_attribute)
        }

    return keys


def street_address_key(
    line_attribute: str = "address_line1", postal_attribute: str = "postal_code"
) -> BlockingKey:
    """The street address (Pub 28 form, without the unit) with the 5-digit postal code.

    Everything at one building meets: the departments of a hospital, two clinics in
    different suites. PO boxes make no key (a lockbox is no place).
    """

    def keys(record: Mapping[str, Any]) -> set[str]:
        line = _text(record, line_attribute)
        postal_text = _text(record, postal_attribute)
        postal = normalize_postal_code(postal_text) if postal_text else None
        if not line or not postal:
            return set()
        address = parse_address_line(line)
        if address.is_po_box or not address.primary:
            return set()
        return {f"{postal[:5]}|{address.primary}"}

    return keys


def gtin_family_key(attribute: str = "gtin") -> BlockingKey:
    """The GTIN's product family, shared by all its pack levels."""

    def keys(record: Mapping[str, Any]) -> set[str]:
        text = _text(record, attribute)
        gtin = check_identifier("gtin", text).normalized if text else None
        return {gtin_family(gtin)} if gtin else set()

    return keys


def part_number_key(
    attribute: str = "part_number", manufacturer_attribute: str | None = None
) -> BlockingKey:
    """Normalized catalog number and its suffix-free stems, optionally per manufacturer.

    Stems (``part_number_stems``) are keys too, so a number and its variant
    with a size suffix are compared.
    """

    def keys(record: Mapping[str, Any]) -> set[str]:
        text = _text(record, attribute)
        full = check_identifier("part_number", text).normalized if text else None
        if not full or text is None:
            return set()
        values = {full, *part_number_stems(text)}
        if manufacturer_attribute is None:
            return values
        names = _names(record, manufacturer_attribute)
        owner = names[0].replace(" ", "")[:4] if names else ""
        return {f"{owner}|{v}" for v in values}

    return keys


def description_tokens_key(
    attribute: str = "description",
    *,
    token_counts: Mapping[str, int] | None = None,
    n_tokens: int = 3,
) -> BlockingKey:
    """Pairs of the rarest tokens of a normalized item description.

    Args:
        attribute: The description attribute.
        token_counts: Document frequency of each token (``count_description_tokens``);
            without it, longer tokens count as rarer.
        n_tokens: How many of the rarest tokens to pair up.
    """
    counts = token_counts or {}

    def keys(record: Mapping[str, Any]) -> set[str]:
        tokens = _description_words(record, attribute)
        rarest = sorted(tokens, key=lambda t: (counts.get(t, 0), -len(t), t))[:n_tokens]
        if len(rarest) == 1:
            return set(rarest)
        return {"|".join(pair) for pair in itertools.combinations(sorted(rarest), 2)}

    return keys


def count_description_tokens(
    records: Iterable[Mapping[str, Any]], attribute: str = "description"
) -> dict[str, int]:
    """Document frequency of normalized description tokens, for ``description_tokens_key``."""
    counts: dict[str, int] = defaultdict(int)
    for record in records:
        for token in _description_words(record, attribute):
            counts[token] += 1
    return dict(counts)


def _description_words(record: Mapping[str, Any], attribute: str) -> frozenset[str]:
    text = _text(record, attribute)
    return frozenset() if text is None else _words_of_description(text)


@lru_cache(maxsize=1 << 13)
def _words_of_description(text: str) -> frozenset[str]:
    # Pack labels are left out: 100/BX and 50/BX variants should still meet.
    return frozenset(
        t for t in token_set(normalize_description(text)) if not _PACK_LABEL.fullmatch(t)
    )


class BlockingRules:
    """Named blocking key functions, composed for one entity type.

    Args:
        rules: ``(name, key function)`` pairs or a mapping of them.

    Example:
        >>> rules = BlockingRules({"ein": exact_key("tax_id", "ein")})
        >>> rules.keys({"tax_id": "41-2847561"})
        {'ein:41-2847561'}
    """

    def __init__(self, rules: Mapping[str, BlockingKey] | Sequence[tuple[str, BlockingKey]]):
        items = list(rules.items()) if isinstance(rules, Mapping) else list(rules)
        names = [name for name, _ in items]
        if len(set(names)) != len(names) or any(":" in n for n in names):
            raise ValueError(f"rule names must be distinct and contain no ':', got {names}")
        self.rules: tuple[tuple[str, BlockingKey], ...] = tuple(items)

    def keys(self, record: Mapping[str, Any]) -> set[str]:
        """All keys of a record, each prefixed by its rule name."""
        return {f"{name}:{key}" for name, rule in self.rules for key in rule(record) if key}


@dataclass(frozen=True)
class SkippedBlock:
    """A block left out because it had more records than allowed.

    Attributes:
        key: The prefixed blocking key.
        size: Number of records sharing it.
    """

    key: str
    size: int


@dataclass(frozen=True)
class CandidatePairs:
    """Pairs of record indices sharing at least one blocking key.

    Attributes:
        pairs: ``(i, j)`` with ``i < j``, sorted, each once.
        skipped_blocks: Blocks over the size limit, largest first.
    """

    pairs: tuple[tuple[int, int], ...]
    skipped_blocks: tuple[SkippedBlock, ...]


def candidate_pairs(
    records: Sequence[Mapping[str, Any]], rules: BlockingRules, max_block_size: int = 200
) -> CandidatePairs:
    """Pairs of records that share a blocking key.

    Args:
        records: The records to deduplicate.
        rules: The blocking rules.
        max_block_size: Blocks with more records are skipped (and reported):
            they hold common values whose pairs would swamp scoring.

    Returns:
        The candidate pairs and the skipped blocks.
    """
    blocks: dict[str, list[int]] = defaultdict(list)
    for index, record in enumerate(records):
        for key in rules.keys(record):
            blocks[key].append(index)
    found: set[tuple[int, int]] = set()
    skipped = []
    for key, members in blocks.items():
        if len(members) > max_block_size:
            skipped.append(SkippedBlock(key, len(members)))
            continue
        found.update(itertools.combinations(members, 2))
    skipped.sort(key=lambda block: (-block.size, block.key))
    return CandidatePairs(tuple(sorted(found)), tuple(skipped))


def block_pairs(
    key_hashes: NDArray[np.int64],
    key_records: NDArray[np.int64],
    record_ids: Sequence[int],
    max_block_size: int,
) -> NDArray[np.intp]:
    """``candidate_pairs`` over arrays: ``(n, 2)`` index pairs ``i < j`` (into
    ``record_ids``) of records sharing a key.

    ``key_hashes[k]`` is a key (hashed to an integer) of record ``key_records[k]``; records
    not in ``record_ids`` are left out. Blocks larger than ``max_block_size`` are skipped.
    The pairs are sorted and unique, whatever the order of the keys.
    """
    n = len(record_ids)
    ids = np.asarray(record_ids, dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    where = np.searchsorted(ids, key_records, sorter=order)
    where = np.minimum(where, max(n - 1, 0))
    known = (ids[order[where]] == key_records) if n else np.zeros(len(key_records), dtype=bool)
    index = order[where[known]].astype(np.int64)
    hashes = key_hashes[known]
    if not len(index):
        return np.empty((0, 2), dtype=np.intp)
    # Sorted by key and then by record, each (key, record) once.
    by_key = np.lexsort((index, hashes))
    hashes, index = hashes[by_key], index[by_key]
    distinct = np.r_[True, (hashes[1:] != hashes[:-1]) | (index[1:] != index[:-1])]
    hashes, members = hashes[distinct], index[distinct]
    starts = np.flatnonzero(np.r_[True, hashes[1:] != hashes[:-1]])
    sizes = np.diff(np.r_[starts, len(members)])
    parts: list[NDArray[np.int64]] = []
    # The blocks of one size at a time, as a matrix of members (a row a block).
    for size in np.unique(sizes[(sizes >= 2) & (sizes <= max_block_size)]).tolist():
        firsts = starts[sizes == size]
        a, b = _pairs_of_size(size)
        step = max(1, 2_000_000 // len(a))  # about two million pairs at a time
        for lo in range(0, len(firsts), step):
            block = members[firsts[lo : lo + step, None] + np.arange(size)]
            parts.append(np.unique(block[:, a] * n + block[:, b]))
    if not parts:
        return np.empty((0, 2), dtype=np.intp)
    codes = np.unique(np.concatenate(parts))
    return np.stack([codes // n, codes % n], axis=1).astype(np.intp)


def with_sibling_pairs(
    pairs: NDArray[np.integer[Any]],
    references: Sequence[Mapping[str, Ref]],
    resolved: Mapping[Ref, str],
    max_block_size: int,
) -> NDArray[np.intp]:
    """``pairs`` (as ``block_pairs`` gives them) plus every pair of *siblings*: records
    whose reference through the same attribute resolves to the same parent.

    ``references[i]``: record ``i``'s references, attribute -> reference; ``resolved``:
    reference -> its parent as ``ReferenceComparison`` reads it (the parent first, then its
    ancestors after ``ANCESTRY``). Parents with more than ``max_block_size`` children are
    skipped, as an oversized block is. Sorted and unique, like ``block_pairs``.
    """
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, found in enumerate(references):
        for name, ref in found.items():
            parent = resolved.get(ref)
            if parent is not None:
                groups[(name, parent.split(ANCESTRY, 1)[0])].append(i)
    n = len(references)
    parts = [pairs[:, 0].astype(np.int64) * n + pairs[:, 1]]
    for members in groups.values():
        if 2 <= len(members) <= max_block_size:
            m = np.asarray(sorted(set(members)), dtype=np.int64)
            a, b = _pairs_of_size(len(m))
            parts.append(m[a] * n + m[b])
    codes = np.unique(np.concatenate(parts))
    return np.stack([codes // n, codes % n], axis=1).astype(np.intp)


@lru_cache(maxsize=512)
def _pairs_of_size(size: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """``np.triu_indices(size, k=1)``, worked out once per block size (millions of blocks,
    most of a few sizes)."""
    a, b = np.triu_indices(size, k=1)
    a.flags.writeable = b.flags.writeable = False
    return a, b


def pair_completeness(
    pairs: Iterable[tuple[int, int]], true_pairs: Iterable[tuple[int, int]]
) -> float:
    """Share of true matching pairs that blocking kept (order within a pair ignored).

    Returns:
        1.0 when there are no true pairs.
    """
    truth = {frozenset(p) for p in true_pairs}
    if not truth:
        return 1.0
    kept = {frozenset(p) for p in pairs}
    return len(truth & kept) / len(truth)


def model_code_key(
    attribute: str = "description",
    number_attributes: Sequence[str] = (),
    gtin_attribute: str | None = None,
) -> BlockingKey:
    """The model and part numbers written in a description (``model_codes``), with the
    record's own catalog numbers and GTIN, each also without a short letter suffix
    (``code_stem``): a title's ``KDL-46W4100`` meets another's ``KDL46W4100``, a
    ``DSCW150N`` meets a ``DSC-W150``, and a catalog number or GTIN meets the same code
    written into another record's description.
    """

    def keys(record: Mapping[str, Any]) -> set[str]:
        text = _text(record, attribute)
        found = set(model_codes(text).codes) if text else set()
        for name in number_attributes:
            number = normalize_code(_text(record, name) or "")
            if len(number) >= MIN_CODE_LENGTH and any(c.isdigit() for c in number):
                found.add(number)
        gtin = _text(record, gtin_attribute) if gtin_attribute else None
        if gtin:
            found.add(normalize_code(gtin))
        stems = {stem for code in found if (stem := code_stem(code))}
        return found | stems

    return keys
