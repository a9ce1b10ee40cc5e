"""Text normalization for matching: names, addresses, contact data, item descriptions."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import TypeVar

import phonenumbers
from rapidfuzz import fuzz

from matchers.junk import is_junk
from matchers.units import find_pack_spans

# Normalizers are pure and see the same values again and again: cache them.
_CACHE_SIZE = 1 << 13

_SPECIAL_LETTERS = str.maketrans(
    {"Ø": "O", "ø": "o", "Æ": "AE", "æ": "ae", "Œ": "OE", "œ": "oe", "Ł": "L", "ł": "l",
     "Đ": "D", "đ": "d", "ß": "ss", "Þ": "TH", "þ": "th"}
)  # fmt: skip
_APOSTROPHES = re.compile(r"['\u2019`\u00b4]")
_NOT_WORD = re.compile(r"[^A-Z0-9]+")
_NOT_TOKEN = re.compile(r"(?:(?<![0-9])\.|\.(?![0-9])|(?<![A-Z0-9])/|/(?![A-Z0-9])|[^A-Z0-9./])+")
_NUMBER = r"\d+(?:\.\d+)?"
_T = TypeVar("_T")


@lru_cache(maxsize=_CACHE_SIZE)
def fold(text: str) -> str:
    """Fold text to upper-case ASCII words for comparison.

    Accents are stripped (NFKD), ``&`` becomes ``AND``, apostrophes are
    dropped (``CHILDREN'S`` -> ``CHILDRENS``), any other character that is
    not a letter or digit becomes a space, and whitespace is collapsed.

    Args:
        text: Any text.

    Returns:
        The folded text.

    Example:
        >>> fold("Johnson & Johnson, Médical Inc.")
        'JOHNSON AND JOHNSON MEDICAL INC'
    """
    return " ".join(_NOT_WORD.sub(" ", _ascii_upper(text)).split())


def token_set(text: str) -> frozenset[str]:
    """Distinct tokens of a text, for set-based similarity.

    Tokens are split like ``fold`` except that decimal points between digits
    (``7.5``) and slashes inside a token (``100/BX``) are kept, so the output of
    ``normalize_description`` keeps its sizes and pack labels.

    Args:
        text: Any text, typically already normalized.

    Returns:
        The set of tokens.
    """
    return frozenset(_tokens(text))


def sorted_token_key(text: str) -> str:
    """Order-insensitive key: the distinct tokens sorted and joined by spaces.

    Args:
        text: Any text, typically already normalized.

    Returns:
        A key equal for texts with the same tokens in any order.

    Example:
        >>> sorted_token_key("Nitrile Glove, nitrile")
        'GLOVE NITRILE'
    """
    return " ".join(sorted(token_set(text)))


# --- organization names -------------------------------------------------------

_LEGAL_SUFFIXES = {
    "INC": "INC", "INCORPORATED": "INC", "CORP": "CORP", "CORPORATION": "CORP",
    "CO": "CO", "COMPANY": "CO", "LLC": "LLC", "LP": "LP", "LLP": "LLP", "LTD": "LTD",
    "LIMITED": "LTD", "PLLC": "PLLC", "PC": "PC", "PA": "PA",
}  # fmt: skip
_NAME_SEPARATOR = re.compile(
    r"(?<![A-Z0-9])(?:D\s*/\s*B\s*/\s*A|D\.\s*B\.\s*A\.?|DBA|DOING\s+BUSINESS\s+AS|T\s*/\s*A"
    r"|TRADING\s+AS|A\s*/\s*K\s*/\s*A|A\.\s*K\.\s*A\.?|AKA|ALSO\s+KNOWN\s+AS"
    r"|F\s*/\s*K\s*/\s*A|F\.\s*K\.\s*A\.?|FKA|FORMERLY(?:\s+KNOWN\s+AS)?)(?![A-Z0-9])"
)


@dataclass(frozen=True)
class OrganizationName:
    """An organization name split into comparable parts.

    Attributes:
        legal: Folded legal name without a leading THE or trailing legal suffixes.
        trade_names: Names after DBA, T/A, AKA or FKA markers, normalized alike.
        suffixes: Legal suffixes removed from the legal name, canonical
            (``INC``, ``CORP``, ``LLC``...), in the order they appeared.
    """

    legal: str
    trade_names: tuple[str, ...]
    suffixes: tuple[str, ...]


@lru_cache(maxsize=_CACHE_SIZE)
def normalize_organization_name(name: str) -> OrganizationName:
    """Normalize a vendor, manufacturer or facility name.

    Args:
        name: The name as received, e.g. ``"The Acme Co., Inc. d/b/a Acme Medical"``.

    Returns:
        The legal name, trade names and removed legal suffixes.

    Example:
        >>> normalize_organization_name("The Acme Co., Inc. d/b/a Acme Medical")
        OrganizationName(legal='ACME', trade_names=('ACME MEDICAL',), suffixes=('CO', 'INC'))
    """
    parts = _NAME_SEPARATOR.split(_ascii_upper(name))
    legal, suffixes = _strip_legal_form(parts[0])
    trade_names = tuple(t for t in (_strip_legal_form(p)[0] for p in parts[1:]) if t)
    return OrganizationName(legal, trade_names, suffixes)


def _strip_legal_form(part: str) -> tuple[str, tuple[str, ...]]:
    tokens = _join_initials(fold(part).split())
    if len(tokens) > 1 and tokens[0] == "THE":
        tokens = tokens[1:]
    if len(tokens) > 1 and tokens[-1] == "THE":
        tokens = tokens[:-1]
    removed: list[str] = []
    while len(tokens) > 1 and tokens[-1] in _LEGAL_SUFFIXES:
        removed.append(_LEGAL_SUFFIXES[tokens.pop()])
        if len(tokens) > 1 and tokens[-1] == "AND":  # "SMITH & CO"
            tokens.pop()
    return " ".join(tokens), tuple(reversed(removed))


def _join_initials(tokens: list[str]) -> list[str]:
    # "L L C" (from "L.L.C.") -> "LLC"; "I B M" -> "IBM".
    joined: list[str] = []
    run = ""
    for token in tokens:
        if len(token) == 1 and token.isalpha():
            run += token
            continue
        if run:
            joined.append(run)
            run = ""
        joined.append(token)
    if run:
        joined.append(run)
    return joined


# --- addresses, postal codes, phones ------------------------------------------

_PO_BOX = re.compile(r"\b(?:POST\s+OFFICE|P\s*O)\s*(?:BOX|BX|B)\b|\bPOB\b")
_LOCKBOX = re.compile(r"\bLOCK\s*BOX\b")
_ORDINAL = re.compile(r"(\d+)(?:ST|ND|RD|TH)")
_ORDINAL_WORDS = {
    word: k + 1
    for k, word in enumerate(
        "FIRST SECOND THIRD FOURTH FIFTH SIXTH SEVENTH EIGHTH NINTH TENTH ELEVENTH TWELFTH "
        "THIRTEENTH FOURTEENTH FIFTEENTH SIXTEENTH SEVENTEENTH EIGHTEENTH NINETEENTH".split()
    )
} | {
    word: 10 * (k + 2)
    for k, word in enumerate(
        "TWENTIETH THIRTIETH FORTIETH FIFTIETH SIXTIETH SEVENTIETH EIGHTIETH NINETIETH".split()
    )
}
_TENS = {
    word: 10 * (k + 2)
    for k, word in enumerate("TWENTY THIRTY FORTY FIFTY SIXTY SEVENTY EIGHTY NINETY".split())
}
# Words that start a note after the street, not part of it: cross streets and landmarks
# ("747 9TH AVE BETWEEN 50TH AND 51ST STS", "551 5TH AVE AT 45TH ST").
_NOTE_WORDS = frozenset(
    "BETWEEN BTWN BTW AT NEAR NR OFF JUST CORNER CNR ACROSS OPPOSITE OPP NEXT INSIDE BEHIND".split()
)


@dataclass(frozen=True)
class AddressLine:
    """A street line split into its primary part and secondary unit.

    Attributes:
        primary: Number, street name and suffix, e.g. ``"1500 N MAIN ST"``,
            or ``"PO BOX 123"``.
        unit: Secondary unit such as ``"STE 200"``, or None.
        is_po_box: True for PO boxes and lockboxes, which are not physical sites.
        number: The house number (``"1500"``), or a PO box's number; None when absent.
        street: The primary part without the house number: ``"N MAIN ST"``.
        name: The street's name alone, without directionals and suffix: ``"MAIN"``.
        suffix: The street suffix in Pub 28 form (``"ST"``), or None when the line has none.
        directionals: The street's pre- and post-directional (``"N"``...), each or None.
        note: What follows the street and is not a unit (cross streets, landmarks:
            ``"BETWEEN 50TH AND 51ST STS"``), left out of ``primary``; or None.
    """

    primary: str
    unit: str | None
    is_po_box: bool
    number: str | None = None
    street: str = ""
    name: str = ""
    suffix: str | None = None
    directionals: tuple[str | None, str | None] = (None, None)
    note: str | None = None


def normalize_address_line(line: str) -> str:
    """Normalize a street line to USPS Publication 28 form.

    Args:
        line: ``"1500 North Main Street Suite 200"``.

    Returns:
        Upper-case, no periods, standard abbreviations: ``"1500 N MAIN ST STE 200"``.
    """
    address = parse_address_line(line)
    return " ".join(p for p in (address.primary, address.unit) if p)


@lru_cache(maxsize=_CACHE_SIZE)
def parse_address_line(line: str) -> AddressLine:
    """Split a street line into primary address and secondary unit.

    Ordinal street names are written as numbers (``"NINTH AVE"`` -> ``"9TH AVE"``), and
    what follows the street without being a unit (``"AT 65TH ST"``) is kept apart as its
    ``note``.

    Args:
        line: ``"1500 North Main Street Suite 200"`` or ``"P.O. Box 123"``.

    Returns:
        An ``AddressLine``; e.g. primary ``"1500 N MAIN ST"``, unit ``"STE 200"``.
    """
    text = re.sub(r"\b([A-Z])\.", r"\1", _ascii_upper(line)).replace("#", " # ")
    text = re.sub(r"(?<=\d)([-/])(?=\d)|[^A-Z0-9#]+", lambda m: m.group(1) or " ", text)
    text = _LOCKBOX.sub("LOCKBOX", _PO_BOX.sub("PO BOX", text))
    tokens = _ordinals(text.split())
    is_po_box = "LOCKBOX" in tokens or re.search(r"\bPO BOX\b", " ".join(tokens)) is not None
    vocabulary = _pub28()
    split = next(
        (
            i
            for i, token in enumerate(tokens)
            if token in vocabulary["unit"]
            and not (i + 1 < len(tokens) and tokens[i + 1] in vocabulary["suffix"])
            and not is_po_box
        ),
        len(tokens),
    )
    primary, unit = tokens[:split], tokens[split:]
    if unit and vocabulary["unit"][unit[0]] == "FL" and primary and _ORDINAL.fullmatch(primary[-1]):
        unit = [unit[0], _ORDINAL.sub(r"\1", primary.pop()), *unit[1:]]  # "2ND FLOOR" -> "FL 2"
    unit_text = " ".join(vocabulary["unit"].get(t, t) for t in unit) if unit else None
    if is_po_box:
        number = next((t for t in primary if t[:1].isdigit()), None)
        return AddressLine(" ".join(primary), unit_text, True, number, " ".join(primary))
    primary, note = _split_note(primary)
    street, suffix_at = _abbreviate_street(primary)
    # "21ST ST": an ordinal is the street's name, not a house number.
    number = street[0] if street and _is_house_number(street[0]) else None
    rest = street[1:] if number else street
    offset = 1 if number else 0
    suffix = street[suffix_at] if suffix_at >= offset + 1 else None
    directionals = set(vocabulary["directional"].values())
    # A directional that is the whole name ("NORTH ST" keeps NORTH) was not abbreviated.
    before = rest[0] if len(rest) > 1 and rest[0] in directionals else None
    after = rest[-1] if rest and suffix_at == len(street) - 2 and rest[-1] in directionals else None
    name = rest[1 if before else 0 : len(rest) - (1 if after else 0)]
    name = [t for i, t in enumerate(name, offset + (1 if before else 0)) if i != suffix_at]
    if not name and before:  # "S ST": the letter is the street's name
        name, before = [before], None
    return AddressLine(
        " ".join(street),
        unit_text,
        False,
        number,
        " ".join(rest),
        " ".join(name),
        suffix,
        (before, after),
        " ".join(note) or None,
    )


def _is_house_number(token: str) -> bool:
    return token[:1].isdigit() and not _ORDINAL.fullmatch(token)


def _ordinals(tokens: list[str]) -> list[str]:
    """Ordinal words as numbers: ``NINTH`` -> ``9TH``, ``TWENTY FIRST`` -> ``21ST``."""
    if not any(t in _ORDINAL_WORDS for t in tokens):
        return tokens
    out: list[str] = []
    for token in tokens:
        value = _ORDINAL_WORDS.get(token)
        if value is None:
            out.append(token)
        elif value < 10 and out and out[-1] in _TENS:
            out[-1] = _ordinal_number(_TENS[out[-1]] + value)
        else:
            out.append(_ordinal_number(value))
    return out


def _ordinal_number(value: int) -> str:
    ending = "TH" if 10 <= value % 100 <= 20 else {1: "ST", 2: "ND", 3: "RD"}.get(value % 10, "TH")
    return f"{value}{ending}"


def _split_note(tokens: list[str]) -> tuple[list[str], list[str]]:
    """The street, and what follows it: a note word after a street suffix starts a note."""
    suffixes = _pub28()["suffix"]
    first = 1 if tokens and _is_house_number(tokens[0]) else 0
    seen_suffix = False
    for i, token in enumerate(tokens):
        if seen_suffix and token in _NOTE_WORDS:
            return tokens[:i], tokens[i:]
        seen_suffix = seen_suffix or (token in suffixes and i > first)
    return tokens, []


def _abbreviate_street(tokens: list[str]) -> tuple[list[str], int]:
    """The street in Pub 28 form, and the position of its suffix (-1: none)."""
    vocabulary = _pub28()
    suffixes, directionals = vocabulary["suffix"], vocabulary["directional"]
    # Only the last suffix word is the street type ("COURT STREET" -> "COURT ST").
    last_suffix = max((i for i, t in enumerate(tokens) if t in suffixes and i > 0), default=-1)
    result: list[str] = []
    for i, token in enumerate(tokens):
        if i == last_suffix:
            result.append(suffixes[token])
        elif token in directionals and i + 1 != last_suffix:
            result.append(directionals[token])  # "NORTH ST" keeps NORTH: it is the name
        else:
            result.append(token)
    return result, last_suffix


# Abbreviations in place names (USPS Publication 28, Appendix C2 and directionals).
_PLACE_WORDS = {
    "ST": "SAINT", "STE": "SAINTE", "FT": "FORT", "MT": "MOUNT", "PT": "POINT",
    "N": "NORTH", "S": "SOUTH", "E": "EAST", "W": "WEST",
}  # fmt: skip


@lru_cache(maxsize=_CACHE_SIZE)
def normalize_city(value: str) -> str:
    """Normalize a city name: folded, abbreviations spelled out.

    Args:
        value: ``"St. Paul"``, ``"W. Hollywood"``, ``"Ft Worth"``.

    Returns:
        ``"SAINT PAUL"``, ``"WEST HOLLYWOOD"``, ``"FORT WORTH"``.
    """
    return " ".join(_PLACE_WORDS.get(t, t) for t in fold(value).split())


@lru_cache(maxsize=_CACHE_SIZE)
def normalize_region(value: str) -> str:
    """A state or province as its postal code when the name is known (``"Texas"`` ->
    ``"TX"``), else folded as written (codes stay codes: ``"tx"`` -> ``"TX"``)."""
    folded = fold(value)
    return _regions().get(folded, folded)


def region_names() -> frozenset[str]:
    """Full names of US states, territories and Canadian provinces, folded."""
    return frozenset(_regions())


@cache
def _regions() -> dict[str, str]:
    return {name: code for name, code in _load_table("regions.tsv")}


@lru_cache(maxsize=_CACHE_SIZE)
def normalize_postal_code(value: str) -> str | None:
    """Normalize a US ZIP code or Canadian postal code.

    US codes become 5 digits: ZIP+4 is cut and leading zeros lost by
    spreadsheets are restored (``"2139"`` -> ``"02139"``). Canadian codes are
    returned upper-case without the space (``"K1A0B1"``).

    Args:
        value: The postal code as received.

    Returns:
        The normalized code, or None when it is junk or unrecognized.
    """
    text = _ascii_upper(value).strip()
    compact = re.sub(r"[\s\-]+", "", text)
    if re.fullmatch(r"[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z]\d[ABCEGHJ-NPRSTV-Z]\d", compact):
        return compact
    if not (compact.isascii() and compact.isdigit()):
        return None
    zip5: str | None = None
    if "-" in text:  # ZIP+4 with the first part's zeros lost: "2139-1234"
        head = re.split(r"\s*-\s*", text)[0]
        zip5 = head.zfill(5) if 3 <= len(head) <= 5 else None
    elif 3 <= len(compact) <= 5:
        zip5 = compact.zfill(5)
    elif 7 <= len(compact) <= 9:
        zip5 = compact.zfill(9)[:5]
    return None if zip5 is None or is_junk(zip5) else zip5


_EXTENSION = re.compile(r"\s*(?:EXTENSION|EXT|X|#)\.?\s*\d{1,6}\s*$")


@lru_cache(maxsize=_CACHE_SIZE)
def normalize_phone(value: str) -> str | None:
    """Normalize a phone number: a North American (NANP) one to its 10 digits, any other
    written with its country code to E.164.

    Args:
        value: ``"+1 (617) 555-0142 ext. 12"``, ``"+44 20 7946 0958"``, ``"0044 …"``.

    Returns:
        ``"6175550142"``, ``"+442079460958"``; None when the number is not a valid one
        (a number without its country code outside North America cannot be placed).
    """
    text = _EXTENSION.sub("", _ascii_upper(value).strip())
    if re.search(r"[A-Z]", text):
        return None
    if text.startswith(("+", "00")) and not text.startswith(("+1", "001")):
        return _international_phone(text)
    digits = re.sub(r"\D", "", text.removeprefix("00"))
    if len(digits) == 11 and digits[0] == "1":
        digits = digits[1:]
    if len(digits) != 10 or digits[0] in "01" or digits[3] in "01" or is_junk(digits):
        return None
    return digits


def _international_phone(text: str) -> str | None:
    """A number written with a country code other than North America's, in E.164, as
    phonenumbers (Google's libphonenumber metadata) validates it for that country."""
    candidate = "+" + text[2:] if text.startswith("00") else text
    try:
        number = phonenumbers.parse(candidate, None)
    except phonenumbers.NumberParseException:
        return None
    if number.country_code == 1 or not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# --- item descriptions --------------------------------------------------------

_MEASURE_UNITS = {
    "ML": "ML", "CC": "ML", "MILLILITER": "ML", "MILLILITERS": "ML", "MILLILITRE": "ML",
    "L": "L", "LTR": "L", "LITER": "L", "LITERS": "L", "LITRE": "L",
    "MM": "MM", "CM": "CM", "IN": "IN", "INCH": "IN", "INCHES": "IN", "FT": "FT",
    "FR": "FR", "FRENCH": "FR", "GA": "GA", "GAUGE": "GA",
    "MG": "MG", "MCG": "MCG", "KG": "KG", "GM": "G", "GRAM": "G", "GRAMS": "G", "G": "G",
    "OZ": "OZ", "PLY": "PLY",
}  # fmt: skip
_DEVICE_WORDS = frozenset(
    {"NEEDLE", "NDL", "CATHETER", "CATH", "SYRINGE", "SYR", "CANNULA", "IV", "LANCET",
     "SPINAL", "HYPODERMIC", "BUTTERFLY", "INTRODUCER", "SAFETY"}
)  # fmt: skip
_SALINE_WORDS = frozenset({"SALINE", "NACL", "SODIUM", "FLUSH", "0.9%", "IRRIGATION"})
_INFUSION_NEXT = frozenset({"SET", "PUMP", "LINE", "TUBING"})
_SIZES = frozenset({"XSMALL", "SMALL", "MEDIUM", "LARGE", "XLARGE", "XXLARGE"})
_LETTER_SIZES_AFTER_SIZE = {"S": "SMALL", "M": "MEDIUM", "L": "LARGE"}
_PHARMACY_SEGMENT = "51"
_MEASURE = re.compile(rf"({_NUMBER}(?:X{_NUMBER})*)([A-Z]+)")
_DIMENSIONS = re.compile(rf"{_NUMBER}(?:X{_NUMBER})+")
_MIXED_FRACTION = re.compile(r"\b(\d+)[ -](\d)/(\d{1,2})\b")
_TO_MM = {"MM": 1.0, "CM": 10.0, "IN": 25.4, "FT": 304.8}


@dataclass(frozen=True)
class ItemFeatures:
    """Attributes of an item description that make two items different.

    Each field is None when the description says nothing (or contradicts itself).

    Attributes:
        size: ``XSMALL`` ... ``XXLARGE``, or a numeric size such as ``"7.5"``.
        french: French size, ``"14"`` from ``14FR``.
        gauge: Needle gauge, ``"22"`` from ``22G`` or ``22GA``.
        volume_ml: Volume in millilitres.
        length_mm: Length in millimetres (the largest of ``4X4IN`` dimensions).
        sterile: True for sterile, False for non-sterile.
        latex_free: True for latex-free, False for latex.
        powder_free: True for powder-free, False for powdered.
        laterality: ``LEFT`` or ``RIGHT``.
        patient_size: ``ADULT``, ``PEDIATRIC``, ``INFANT`` or ``NEONATAL``.
    """

    size: str | None
    french: str | None
    gauge: str | None
    volume_ml: float | None
    length_mm: float | None
    sterile: bool | None
    latex_free: bool | None
    powder_free: bool | None
    laterality: str | None
    patient_size: str | None


@lru_cache(maxsize=_CACHE_SIZE)
def normalize_description(text: str, *, unspsc: str | None = None) -> str:
    """Normalize an item description for comparison.

    Folds the text, expands abbreviations (``GLV`` -> ``GLOVE``, ``STRL`` ->
    ``STERILE``, ``PF`` -> ``POWDER FREE``), spells sizes out (``LG`` ->
    ``LARGE``), joins numbers to canonical units (``10 cc`` -> ``10ML``,
    ``22G needle`` -> ``22GA``) and rewrites pack expressions as labels
    (``Box of 100`` -> ``100/BX``).

    Args:
        text: The description as received.
        unspsc: Optional UNSPSC code of the item. Abbreviations are read in its
            category: in drugs (segment 51) ``PF`` is preservative-free and
            ``NS`` normal saline.

    Returns:
        The normalized description.

    Example:
        >>> normalize_description("Glv Exam Nitr PF LG 100/bx")
        'GLOVE EXAM NITRILE POWDER FREE LARGE 100/BX'
    """
    return " ".join(_description_tokens(text, unspsc))


@lru_cache(maxsize=_CACHE_SIZE)
def extract_item_features(text: str, *, unspsc: str | None = None) -> ItemFeatures:
    """Pull hard-negative evidence (size, gauge, sterility...) from a description.

    Args:
        text: A raw or normalized description.
        unspsc: Optional UNSPSC code, as for ``normalize_description``.

    Returns:
        The features found; fields the description does not state are None.

    Example:
        >>> extract_item_features("CATH FOLEY 14FR 10ML STRL").french
        '14'
    """
    tokens = _description_tokens(text, unspsc)
    joined = f" {' '.join(tokens)} "
    size = _single(t for t in tokens if t in _SIZES)
    if size is None and not any(t in _SIZES for t in tokens):
        size = _single(
            b
            for a, b in zip(tokens, tokens[1:], strict=False)
            if a == "SIZE" and re.fullmatch(_NUMBER, b)
        )
    measures = [(m[1], m[2]) for t in tokens if (m := _MEASURE.fullmatch(t))]
    return ItemFeatures(
        size=size,
        french=_single(n for n, unit in measures if unit == "FR"),
        gauge=_single(n for n, unit in measures if unit == "GA"),
        volume_ml=_single(
            float(n) * (1000.0 if unit == "L" else 1.0)
            for n, unit in measures
            if unit in ("ML", "L") and "X" not in n
        ),
        length_mm=_single(
            max(float(d) for d in n.split("X")) * _TO_MM[unit]
            for n, unit in measures
            if unit in _TO_MM
        ),
        sterile=_flag(" STERILE " in joined, " NONSTERILE " in joined),
        latex_free=_flag(" LATEX FREE " in joined, " LATEX " in joined.replace("LATEX FREE", "")),
        powder_free=_flag(" POWDER FREE " in joined, " POWDERED " in joined),
        laterality=_single(t for t in tokens if t in ("LEFT", "RIGHT")),
        patient_size=_single(
            t for t in tokens if t in ("ADULT", "PEDIATRIC", "INFANT", "NEONATAL")
        ),
    )


def _description_tokens(text: str, unspsc: str | None) -> list[str]:
    upper = _ascii_upper(text)
    upper = re.sub(r"\bW\s*/\s*O\b", " WITHOUT ", upper)
    upper = re.sub(r"\bW\s*/", " WITH ", upper)
    upper = _MIXED_FRACTION.sub(_decimal_fraction, upper)
    upper = re.sub(r'(\d)\s*"', r"\1IN ", upper)
    upper = re.sub(r"\bNON[\s\-]*STERILE\b", "NONSTERILE", upper)
    # "X-S", "X-LG", "XX-L", "2X-L": one size word, not a letter and a size.
    upper = re.sub(
        r"\b(X{1,3}|[23]X)[\s\-/.]+(S|SM|SML|SMALL|L|LG|LRG|LARGE)\b",
        lambda m: _joined_size(m[1], m[2]),
        upper,
    )
    tokens: list[str] = []
    position = 0
    for start, end, pack in find_pack_spans(upper):
        tokens += _word_tokens(upper[position:start])
        tokens.append(pack.label)
        position = end
    tokens += _word_tokens(upper[position:])
    return _expand(_join_measures(tokens), unspsc)


def _joined_size(prefix: str, size: str) -> str:
    extra = {"X": 1, "XX": 2, "XXX": 3, "2X": 2, "3X": 3}[prefix]
    word = "SMALL" if size.startswith("S") else "LARGE"
    return "X" * extra + word


def _word_tokens(text: str) -> list[str]:
    # "%" survives so "0.9%" can mark saline context.
    return re.sub(r"(?:(?<!\d)\.|\.(?!\d)|[^A-Z0-9.%])+", " ", text).split()


def _decimal_fraction(match: re.Match[str]) -> str:
    whole, numerator, denominator = (int(g) for g in match.groups())
    if denominator == 0 or numerator >= denominator:
        return match.group(0)
    return f"{whole + numerator / denominator:g}"


def _join_measures(tokens: list[str]) -> list[str]:
    joined: list[str] = []
    for token in tokens:
        previous = joined[-1] if joined else ""
        if token in _MEASURE_UNITS and (
            re.fullmatch(_NUMBER, previous) or _DIMENSIONS.fullmatch(previous)
        ):
            joined[-1] = previous + token
        else:
            joined.append(token)
    return [_canonical_measure(t, joined) for t in joined]


def _canonical_measure(token: str, context: list[str]) -> str:
    match = _MEASURE.fullmatch(token)
    if not match or match[2] not in _MEASURE_UNITS:
        return token
    unit = _MEASURE_UNITS[match[2]]
    if unit == "G" and "." not in match[1] and any(t in _DEVICE_WORDS for t in context):
        unit = "GA"  # "22G" next to a needle word is a gauge, not grams
    return match[1] + unit


def _expand(tokens: list[str], unspsc: str | None) -> list[str]:
    is_pharmacy = bool(unspsc) and str(unspsc).startswith(_PHARMACY_SEGMENT)
    general, pharmacy = _abbreviations()
    has_saline = any(t in _SALINE_WORDS for t in tokens)
    expanded: list[str] = []
    for i, token in enumerate(tokens):
        following = tokens[i + 1] if i + 1 < len(tokens) else ""
        previous = expanded[-1] if expanded else ""
        if previous == "SIZE" and token in _LETTER_SIZES_AFTER_SIZE:
            word = _LETTER_SIZES_AFTER_SIZE[token]
        elif token == "NS" and has_saline:
            word = "NORMAL SALINE"
        elif token == "INF" and following in _INFUSION_NEXT:
            word = "INFUSION"
        elif token == "MED" and following in ("SURG", "SURGICAL"):
            word = "MEDICAL"
        elif is_pharmacy and token in pharmacy:
            word = pharmacy[token]
        else:
            word = general.get(token, token)
        expanded += word.split()
    return expanded


def _single(values: Iterable[_T]) -> _T | None:
    distinct = list(dict.fromkeys(values))
    return distinct[0] if len(distinct) == 1 else None


def _flag(is_true: bool, is_false: bool) -> bool | None:
    return None if is_true == is_false else is_true


@cache
def _abbreviations() -> tuple[dict[str, str], dict[str, str]]:
    general: dict[str, str] = {}
    pharmacy: dict[str, str] = {}
    for context, abbreviation, expansion in _load_table("item_abbreviations.tsv"):
        (pharmacy if context == "pharmacy" else general)[abbreviation] = expansion
    return general, pharmacy


# --- shared helpers -----------------------------------------------------------


@lru_cache(maxsize=1 << 16)  # the same names and words come back record after record
def _ascii_upper(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.translate(_SPECIAL_LETTERS))
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    stripped = _APOSTROPHES.sub("", stripped).upper().replace("&", " AND ")
    return stripped.encode("ascii", "ignore").decode()


def _tokens(text: str) -> list[str]:
    return _NOT_TOKEN.sub(" ", _ascii_upper(text)).split()


def _load_table(name: str) -> list[list[str]]:
    content = resources.files("matchers").joinpath("data", name).read_text(encoding="utf-8")
    return [line.split("\t") for line in content.splitlines() if line and not line.startswith("#")]


@cache
def _pub28() -> dict[str, dict[str, str]]:
    tables: dict[str, dict[str, str]] = {"directional": {}, "suffix": {}, "unit": {}}
    for kind, word, abbreviation in _load_table("usps_pub28.tsv"):
        tables[kind][word] = abbreviation
    return tables


_SAME_MAKER = 85.0


def abbreviates_word(short: str, long: str) -> bool:
    """Whether ``short`` abbreviates ``long`` (or equals it): ``MED`` of ``MEDICAL``,
    ``LABS`` of ``LABORATORIES``: the same first letter, then the rest in order."""
    return _abbreviates(short, long)


def _abbreviates(short: str, long: str) -> bool:
    """``MED`` of ``MEDICAL``, ``LABS`` of ``LABORATORIES``: same first letter, in order."""
    if short == long:
        return True
    if len(short) < 2 or short[0] != long[0] or len(short) > len(long):
        return False
    rest = iter(long)
    return all(ch in rest for ch in short)


@lru_cache(maxsize=_CACHE_SIZE)
def is_same_maker(left: str, right: str) -> bool:
    """Whether two normalized company names name the same maker, abbreviations allowed.

    Either the names are close as token sets, or every word of the shorter name
    abbreviates a word of the longer one, in order, starting with the first word.
    """
    return fuzz.token_set_ratio(left, right) >= _SAME_MAKER or abbreviates_name(left, right)


def abbreviates_name(left: str, right: str) -> bool:
    """Whether every word of the shorter of two normalized names abbreviates (or is) a word
    of the longer one, in order, starting with the first word: "YARROW LABS" of "YARROW
    LABORATORIES", "ACME MED" of "ACME MEDICAL SUPPLY"."""
    a, b = left.split(), right.split()
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    if not short or short[0] != long[0]:
        return False
    position = 0
    for word in short:
        while position < len(long) and not (
            _abbreviates(word, long[position]) or _abbreviates(long[position], word)
        ):
            position += 1
        if position == len(long):
            return False
        position += 1
    return True
