"""Product titles and descriptions: model and part numbers, colours, and how much each
word says.

A product title often carries its model number ("Sony BRAVIA KDL-46W4100 46in LCD TV"),
and a hospital description sometimes its catalog number ("GLOVE EXAM NITRILE LG N8830").
Such a code says far more than any word: two offers sharing it are almost surely one
product, two offers with different ones almost surely not. ``model_codes`` finds them:
tokens that mix letters and digits (or long digit runs), compared without hyphens, dots,
underscores and case, leaving out what only measures something (``22G``, ``4X4IN``,
``100ML``, ``42IN``, ``1080P``, ``10/BX``, ``2.0``).

``token_weight`` is a corpus-free stand-in for inverse document frequency: codes and
numbers weigh more than words, long words more than short ones, and a few function words
hardly count. Comparisons are stateless (a newcomer is scored against its candidates
alone), so a weight cannot come from counting a batch.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property, lru_cache

from matchers.identifiers import gtin_check_digit
from matchers.units import find_pack_spans

_CACHE_SIZE = 1 << 14

# Units a number is written with: a token that is only a number (or a range, or
# dimensions) with one of these measures something and names no product.
MEASURE_UNITS: frozenset[str] = frozenset(
    """
    MM CM M KM IN INCH INCHES FT FEET YD MI
    ML CC L LT LTR LITER LITRE DL OZ FLOZ QT PT GAL
    G GM GR GRAM GRAMS KG MG MCG UG LB LBS
    GA GAUGE FR FRENCH PLY
    W WATT WATTS KW V VOLT VOLTS VAC VDC A AMP AMPS MA MAH AH WH KWH OHM
    HZ KHZ MHZ GHZ KB MB GB TB KBPS MBPS GBPS BIT BITS
    MP PX DPI PPI PPM RPM FPS MS SEC SECS MIN MINS HR HRS H D DAY DAYS WK YR YRS
    DB X P I K CH CU SQ PSI BTU LM AWG
    ST ND RD TH
    EA PC PCS PK PKG CT CS BX BG DZ PR KT RL
    PORT PORTS PACK CASE BOX CUP CUPS QUART QUARTS PIECE PIECES SHEET SHEETS
    """.split()
)
FUNCTION_WORDS: frozenset[str] = frozenset(
    "A AN AND OR OF FOR THE WITH WITHOUT W WO IN ON TO BY PER AT FROM X".split()
)
# Words that, before a number, say what the number counts or measures ("BOX 100",
# "SIZE 7"): never joined into a code.
_NOT_JOINED = (
    FUNCTION_WORDS
    | MEASURE_UNITS
    | frozenset(
        "SIZE SZ QTY COUNT CNT NO NUM NUMBER REF CAT MODEL PART ITEM SKU LOT SERIES TYPE "
        "VERSION VER VOL STYLE USE BAG ROLL DOZEN UNITS UNIT EACH".split()
    )
)
MIN_CODE_LENGTH = 4
MIN_NUMERIC_CODE_LENGTH = 5
MAX_VARIANT_SUFFIX = 3  # "DSCW150" and "DSCW150N": one offer names the colour, one not

_NUMBER = r"\d+(?:[.,]\d+)?"
_MEASURE = re.compile(rf"{_NUMBER}(?:[X\-]{_NUMBER})*(-?)([A-Z]*)")
_RATIO = re.compile(r"\b\d+\s*:\s*\d+\b")
_SEPARATORS = re.compile(r"[\-._]")
_NOT_TOKEN = re.compile(r"[^A-Z0-9\-._]+")
_EDGE = re.compile(r"^[\-._]+|[\-._]+$")
_SPACED_DIMENSIONS = re.compile(rf"\b({_NUMBER})\s*X\s*(?={_NUMBER})")
_TRAILING_LETTERS = re.compile(r"[A-Z]+$")
_CLAUSE = re.compile(r"\s-\s|[,;()\[\]]")
_REFERENCE = re.compile(r"(?<![A-Z0-9\-._])(?:FOR|FITS|COMPATIBLE|REPLACES)(?=\s)")
_DIGIT = re.compile(r"\d")
_LETTER = re.compile(r"[A-Z]")


@dataclass(frozen=True)
class ModelCodes:
    """The codes found in a text.

    Attributes:
        codes: Every code, normalized (upper case, no hyphens, dots or underscores),
            with the other spellings sources use for it (``MB471LL/A`` gives ``MB471LL``
            and ``MB471LLA``; ``MDR EX55`` gives ``EX55`` and ``MDREX55``).
        primary: One spelling per code the text names: what a pair's two texts may
            disagree on (spellings added to meet another source's never do).
        mixed: The primary codes that mix letters and digits: the ones that name a
            model. Long digit runs (``98510``, a UPC) are codes too, but a text with only
            those may simply quote a retailer's own number, so they alone never count
            against a match.
    """

    codes: frozenset[str]
    primary: frozenset[str]
    mixed: frozenset[str]


def _ascii_upper(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return decomposed.encode("ascii", "ignore").decode().upper()


def is_measure(token: str) -> bool:
    """Whether a token only measures or counts something (``22G``, ``4X4IN``, ``2.0``).

    Args:
        token: An upper-case token, separators kept (``55-200MM``).

    Example:
        >>> is_measure("4X4IN"), is_measure("KDL46W4100")
        (True, False)
    """
    match = _MEASURE.fullmatch(token)
    if match is None:
        return False
    if match[2]:
        # "10-CUP", "7.1-CHANNEL", "2-LINE": a count of something, whatever the word.
        return bool(match[1]) or match[2] in MEASURE_UNITS
    # Without a unit: a number, dimensions (4X4) or a range of short numbers (10-100),
    # not a hyphenated catalog number (920-000383).
    return "-" not in token or all(len(p) <= 3 for p in re.split(r"[\-X]", token))


def normalize_code(token: str) -> str:
    """A code without case, hyphens, dots or underscores: ``kx-fp145`` -> ``KXFP145``."""
    return _SEPARATORS.sub("", _ascii_upper(token))


def _is_code(raw: str, code: str) -> bool:
    digits = len(_DIGIT.findall(code))
    if len(code) < MIN_CODE_LENGTH or not digits:
        return False
    if code.isdigit():
        # A long digit run is a code unless it reads as a decimal, a round quantity
        # or a range of numbers (10-100).
        return (
            len(code) >= MIN_NUMERIC_CODE_LENGTH
            and not re.search(r"\d[.,]\d", raw)
            and not code.endswith("000")
            and not ("-" in raw and is_measure(raw))
        )
    if is_measure(raw):
        return False
    # "LVL2", "MP3" name a level or a standard; "VMCC1B", "S550" a model.
    return len(code) > MIN_CODE_LENGTH or digits >= 2


def _raw_tokens(text: str) -> list[str]:
    upper = _RATIO.sub(" ", _ascii_upper(text))
    for start, end, _ in reversed(find_pack_spans(upper)):  # "100/BX" counts, names nothing
        upper = f"{upper[:start]} {upper[end:]}"
    upper = _SPACED_DIMENSIONS.sub(r"\1X", upper)  # "4 x 4 in" -> "4X4 IN"
    return [t for t in (_EDGE.sub("", t) for t in _NOT_TOKEN.split(upper)) if t]


def _slashed_codes(text: str) -> list[str]:
    upper = _ascii_upper(text)
    found = []
    for match in re.finditer(r"([A-Z0-9\-._]+)/([A-Z]{1,3})(?![A-Z0-9])", upper):
        head = _EDGE.sub("", match[1])
        code = normalize_code(head)
        if _is_code(head, code) and _LETTER.search(code) and find_pack_spans(match[0]) == []:
            found.append(code + match[2])
    return found


@lru_cache(maxsize=_CACHE_SIZE)
def model_codes(text: str) -> ModelCodes:
    """The model and part numbers in a free text.

    A token is a run of letters, digits, hyphens, dots and underscores (a slash, comma or
    space ends it). It is a code when, without its separators, it has at least
    ``MIN_CODE_LENGTH`` characters and mixes letters and digits, or is a digit run of at
    least ``MIN_NUMERIC_CODE_LENGTH`` that reads neither as a decimal nor as a round
    quantity; never when it is only a measure (``is_measure``). A word followed by a
    code, a number of three or more digits, or digits and then letters that measure
    nothing gives their joined form too (``RS 130`` -> ``RS130``, ``MDR EX55`` ->
    ``MDREX55``), as other sources write them. Codes after ``FOR``, ``FITS``,
    ``COMPATIBLE`` or ``REPLACES`` in a clause (up to a comma, semicolon, bracket or
    spaced hyphen) name another product and are left out.

    Example:
        >>> sorted(model_codes("Sony BRAVIA KDL-46W4100 46in LCD 15000:1").codes)
        ['KDL46W4100']
    """
    codes: set[str] = set()
    primary: set[str] = set()
    for clause in _CLAUSE.split(_ascii_upper(text)):
        # "Handset for the KX-TG6700B system", "ink for PIXMA MP480": what a product
        # fits names another product.
        own = _REFERENCE.split(clause, maxsplit=1)[0]
        primary.update(_slashed_codes(own))
        previous: str | None = None
        for raw in _raw_tokens(own):
            code = normalize_code(raw)
            found = _is_code(raw, code)
            if found:
                primary.add(code)
            if previous is not None and (found or _joins(raw)):
                joined = previous + code
                if _is_code(joined, joined):
                    # "RS 130" names the code RS130; "MDR EX55" names EX55, also so spelled.
                    (codes if found else primary).add(joined)
            previous = code if code.isalpha() and code not in _NOT_JOINED else None
    mixed = frozenset(c for c in primary if _LETTER.search(c))
    # A GTIN written in a text (a UPC of 12 digits) meets a record's GTIN-14.
    codes.update(c.zfill(14) for c in primary if _is_gtin(c))
    return ModelCodes(frozenset(codes | primary), frozenset(primary), mixed)


def _joins(raw: str) -> bool:
    # What a word before it makes a code of: 3 digits or more ("RS 130"), or digits and
    # then letters that measure nothing ("MDR 2R").
    if raw.isdigit():
        return len(raw) >= 3
    return raw[:1].isdigit() and not is_measure(raw)


def _is_gtin(code: str) -> bool:
    return (
        code.isdigit()
        and len(code) in (8, 12, 13, 14)
        and gtin_check_digit(code[:-1]) == int(code[-1])
    )


def code_stem(code: str) -> str | None:
    """The code without a short trailing letter suffix (a colour, a finish, a size), when
    what is left still mixes letters and digits: ``DSCW150N`` -> ``DSCW150``."""
    suffix = _TRAILING_LETTERS.search(code)
    if suffix is None or len(suffix[0]) > MAX_VARIANT_SUFFIX:
        return None
    stem = code[: suffix.start()]
    if len(stem) < MIN_CODE_LENGTH or not _LETTER.search(stem):
        return None
    return stem


def is_variant(left: str, right: str) -> bool:
    """Whether one code is the other plus a short letter suffix (``JFS516`` and
    ``JFS516NA``): the same model, one source naming its colour or finish."""
    if left == right:
        return False
    short, long = (left, right) if len(left) < len(right) else (right, left)
    return code_stem(long) == short


def is_sibling(left: str, right: str) -> bool:
    """Whether two codes are one stem with two different suffixes (``DSCW150N`` and
    ``DSCW150R``): two colours, finishes or sizes of one model line."""
    stem = code_stem(left)
    return left != right and stem is not None and stem == code_stem(right)


def agrees_with(code: str, others: frozenset[str]) -> bool:
    """Whether a code is among ``others``, or is a variant of one of them with no sibling
    among them (``DSCW150N`` agrees with ``{DSCW150}``, not with ``{DSCW150, DSCW150R}``)."""
    if code in others:
        return True
    return any(is_variant(code, o) for o in others) and not any(is_sibling(code, o) for o in others)


# Weights are whole units (a sixth of a word of three letters... see ``token_units``) and
# credits whole fifths, so sums are exact and the one-pair and the bulk paths, adding in
# different orders, reach the same score to the last bit.
WEIGHT_UNITS = 6
FULL_CREDIT = 5  # a token the other side has
SOFT_CREDIT = 4  # a token the other side has a related form of (``related_forms``)
_MIN_PREFIX = 3
_MIN_TYPO_LENGTH = 5
_UNIT_SUFFIX = re.compile(r"(?<=\d)[A-Z]+$")


@lru_cache(maxsize=_CACHE_SIZE)
def token_units(token: str) -> int:
    """How much a description token says, in ``WEIGHT_UNITS`` per unit of weight,
    without a corpus to count it in.

    A model-like code weighs most (3), then numbers and measures (1.5: a size, a gauge),
    then words by length (0.5 + length / 6, at most 2: long words are rarer); function
    words hardly count (1/6) and pack labels (``100/BX``, compared as a feature) not at
    all.
    """
    if "/" in token:
        return 0
    if token in FUNCTION_WORDS:
        return 1
    if _DIGIT.search(token):
        return 18 if _is_code(token, normalize_code(token)) else 9
    return min(3 + len(token), 12)


def token_weight(token: str) -> float:
    """``token_units`` as a weight: 3 for a model code, 0.2 for ``WITH``...

    Example:
        >>> token_weight("KDL46W4100") > token_weight("22GA") > token_weight("TV")
        True
    """
    return token_units(token) / WEIGHT_UNITS


@lru_cache(maxsize=_CACHE_SIZE)
def _typo_forms(word: str) -> frozenset[str]:
    return frozenset({word, *(word[:i] + word[i + 1 :] for i in range(1, len(word)))})


@lru_cache(maxsize=_CACHE_SIZE)
def _bare_measure(token: str) -> str | None:
    bare = _UNIT_SUFFIX.sub("", token)
    return bare if bare != token and is_measure(token) else None


@lru_cache(maxsize=1 << 16)
def related_forms(token: str) -> tuple[frozenset[str], frozenset[str]]:
    """The forms through which a token meets a related one: ``(shorter, typos)``.

    Two different tokens say the same thing in other words when one is among the other's
    ``shorter`` forms: a word cut short (``HYPO`` of ``HYPODERMIC``, 3 letters or more), a
    measure without its unit (``4X4`` of ``4X4IN``); or when both are words of 5 letters
    or more whose ``typos`` forms (the word, and the word with one letter after the first
    dropped) intersect: one letter added, dropped or replaced, or two neighbours swapped
    (``FOLEY``, ``FOLYE``). As sets, so that related tokens are found by lookups, not by
    comparing every two."""
    if token.isalpha():
        shorter = frozenset(token[:n] for n in range(_MIN_PREFIX, len(token)))
        typos = _typo_forms(token) if len(token) >= _MIN_TYPO_LENGTH else frozenset()
        return shorter, typos
    bare = _bare_measure(token) if token[:1].isdigit() else None
    return (frozenset({bare}) if bare else frozenset()), frozenset()


@dataclass(frozen=True)
class WeightedTokens:
    """A description's distinct tokens with their weights (``token_units``).

    Attributes:
        tokens: Distinct tokens with a weight, in order of first appearance.
        units: The weight of each token, in ``WEIGHT_UNITS``.
        total: The sum of the weights.
    """

    tokens: tuple[str, ...]
    units: tuple[int, ...]
    total: int

    @cached_property
    def _reach(self) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
        # The tokens, their shorter forms and their typo forms: what another token is
        # looked for in (``related_forms``).
        forms = [related_forms(t) for t in self.tokens]
        return (
            frozenset(self.tokens),
            frozenset().union(*(f[0] for f in forms)),
            frozenset().union(*(f[1] for f in forms)),
        )


def weigh_tokens(tokens: Iterable[str]) -> WeightedTokens:
    """The distinct ``tokens`` that weigh anything, with their weights."""
    distinct = tuple(t for t in dict.fromkeys(tokens) if token_units(t))
    units = tuple(token_units(t) for t in distinct)
    return WeightedTokens(distinct, units, sum(units))


def agreed_units(side: WeightedTokens, other: WeightedTokens) -> int:
    """The weight of ``side``'s tokens that ``other`` agrees with, times the credit:
    ``FULL_CREDIT`` for a token it has, ``SOFT_CREDIT`` for one it has a related token of
    (``related_forms``)."""
    present, shorter, typos = other._reach
    agreed = 0
    for token, units in zip(side.tokens, side.units, strict=True):
        if token in present:
            agreed += FULL_CREDIT * units
            continue
        own_shorter, own_typos = related_forms(token)
        if (
            token in shorter
            or not own_shorter.isdisjoint(present)
            or not own_typos.isdisjoint(typos)
        ):
            agreed += SOFT_CREDIT * units
    return agreed


def text_score(
    left_agreed: float, right_agreed: float, left_total: float, right_total: float
) -> float:
    """Rarity-weighted agreement of two descriptions, 0 to 1, from ``agreed_units`` of
    each side and their total weights: the mean of the weighted Dice coefficient and the
    better-covered side's share (one text may say more than the other: a retailer's title
    and a catalog's short description). ``ProductTextIndex.agreement`` computes the same
    for arrays, in the same operations."""
    dice = (left_agreed + right_agreed) / (FULL_CREDIT * (left_total + right_total))
    left_cover = left_agreed / (FULL_CREDIT * left_total)
    right_cover = right_agreed / (FULL_CREDIT * right_total)
    cover = left_cover if left_cover >= right_cover else right_cover
    return (dice + cover) / 2


def weighted_similarity(left: WeightedTokens, right: WeightedTokens) -> float:
    """``text_score`` of two descriptions' tokens (0 when either weighs nothing)."""
    if not left.total or not right.total:
        return 0.0
    return text_score(agreed_units(left, right), agreed_units(right, left), left.total, right.total)


COLOURS: dict[str, str] = {
    "BLACK": "BLACK", "BLK": "BLACK", "WHITE": "WHITE", "WHT": "WHITE", "WHI": "WHITE",
    "SILVER": "SILVER", "SLV": "SILVER", "SLVR": "SILVER", "GRAY": "GRAY", "GREY": "GRAY",
    "GRY": "GRAY", "RED": "RED", "BLUE": "BLUE", "BLU": "BLUE", "GREEN": "GREEN",
    "GRN": "GREEN", "YELLOW": "YELLOW", "ORANGE": "ORANGE", "PINK": "PINK", "PNK": "PINK",
    "PURPLE": "PURPLE", "VIOLET": "PURPLE", "GOLD": "GOLD", "BROWN": "BROWN", "BEIGE": "BEIGE",
    "IVORY": "IVORY", "CLEAR": "CLEAR", "PLUM": "PLUM", "BRONZE": "BRONZE", "TAN": "TAN",
}  # fmt: skip


@lru_cache(maxsize=_CACHE_SIZE)
def colour_of(text: str) -> str | None:
    """The one colour a text names (``"Sony DSC-W150 - Red"`` -> ``RED``), or None when it
    names none or several (``"Black/Silver"``)."""
    found = {COLOURS[t] for t in re.split(r"[^A-Z]+", _ascii_upper(text)) if t in COLOURS}
    return found.pop() if len(found) == 1 else None


_CODE_TOKEN = re.compile(r"(?<![\w\-.])[A-Za-z0-9]+(?:[\-._][A-Za-z0-9]+)+")
_SPACED_DIMENSIONS_ANY_CASE = re.compile(_SPACED_DIMENSIONS.pattern, re.IGNORECASE)


def join_codes(text: str) -> str:
    """The text with dimensions written apart joined (``4 x 4 in`` -> ``4X4 in``) and
    codes written with separators joined (``KX-TG9333T`` -> ``KXTG9333T``), so a
    description's words include its codes as ``model_codes`` spells them; the rest as
    written."""

    def joined(match: re.Match[str]) -> str:
        raw = match[0].upper()
        code = normalize_code(raw)
        return code if _is_code(raw, code) else match[0]

    return _CODE_TOKEN.sub(joined, _SPACED_DIMENSIONS_ANY_CASE.sub(r"\1X", text))
