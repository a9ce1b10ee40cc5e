"""Validation and canonical forms for healthcare supply-chain identifiers.

Covers GS1 (GTIN, GLN), HIBCC (HIBC primary data, HIN), NPI, DUNS, EIN, NDC,
UNSPSC, HCPCS and free-form part, contract and internal codes.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from rapidfuzz import process
from rapidfuzz.distance import OSA

from matchers.junk import is_junk

# Normalizers are pure and see the same values again and again: cache them.
_CACHE_SIZE = 1 << 13

IDENTIFIER_KINDS: frozenset[str] = frozenset(
    {
        "gtin",
        "gln",
        "npi",
        "duns",
        "ein",
        "ndc",
        "hibcc",
        "unspsc",
        "hin",
        "hcpcs",
        "part_number",
        "contract_number",
        "code",
    }
)

TYPO_PRONE_KINDS: frozenset[str] = frozenset({"ein", "duns"})
"""Kinds whose valid values carry no check digit, so one mistyped digit or two swapped
ones give another valid value: two such values one keystroke apart are more likely one
number mistyped than two entities (``is_near_identifier``). Not GTIN, GLN or NPI: their
check digit catches every single-digit error and most swaps of neighbours, so two valid
values a keystroke apart are two numbers issued as they are, as different as any two."""

_DIGIT_SEPARATORS = re.compile(r"[\s\-.]+")
_NON_ALNUM = re.compile(r"[^0-9A-Z]+")
_GTIN_LENGTHS = (8, 12, 13, 14)
# IRS prefixes never issued (python-stdnum us/ein.dat agrees).
_EIN_INVALID_PREFIXES = frozenset("00 07 08 09 17 18 19 28 29 49 69 70 78 79 89 96 97".split())
_MOD43_CHARSET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-. $/+%"
_HIBC_PRODUCT = re.compile(r"[A-Z0-9]{1,18}")
_HIN = re.compile(r"[A-Z0-9]{9}")
_HCPCS = re.compile(r"[A-Z][0-9]{4}")
_UNSPSC_PAIRS = 4


@dataclass(frozen=True)
class IdentifierCheck:
    """Outcome of validating one identifier value.

    Attributes:
        kind: The identifier kind, one of ``IDENTIFIER_KINDS``.
        raw: The input exactly as given.
        normalized: Canonical form when valid, else None.
        is_valid: Whether the value passed every check.
        problem: Stable UPPER_SNAKE code when invalid: ``EMPTY``, ``JUNK_VALUE``,
            ``NOT_NUMERIC``, ``BAD_LENGTH``, ``BAD_CHECK_DIGIT``, ``BAD_PREFIX``
            or ``BAD_FORMAT``.
        detail: Human-readable explanation of the problem.
    """

    kind: str
    raw: str
    normalized: str | None
    is_valid: bool
    problem: str | None
    detail: str | None


class _Invalid(Exception):
    def __init__(self, problem: str, detail: str) -> None:
        super().__init__(detail)
        self.problem = problem
        self.detail = detail


@lru_cache(maxsize=_CACHE_SIZE)
def check_identifier(kind: str, raw: str) -> IdentifierCheck:
    """Validate an identifier and return its canonical form.

    Args:
        kind: One of ``IDENTIFIER_KINDS`` (``"gtin"``, ``"npi"``, ...).
        raw: The value as received from a source system.

    Returns:
        An ``IdentifierCheck``; ``normalized`` is set only when valid.

    Raises:
        ValueError: If ``kind`` is not a known identifier kind.

    Example:
        >>> check_identifier("gtin", "036000291452").normalized
        '00036000291452'
        >>> check_identifier("npi", "1234567890").problem
        'BAD_CHECK_DIGIT'
    """
    normalizer = _NORMALIZERS.get(kind)
    if normalizer is None:
        known = ", ".join(sorted(_NORMALIZERS))
        raise ValueError(f"unknown identifier kind {kind!r}; expected one of {known}")
    try:
        if not raw.strip():
            raise _Invalid("EMPTY", f"{_label(kind)} is empty")
        if is_junk(raw):
            raise _Invalid("JUNK_VALUE", f"{_label(kind)} {raw.strip()!r} is a placeholder value")
        normalized = normalizer(raw.strip())
    except _Invalid as invalid:
        return IdentifierCheck(kind, raw, None, False, invalid.problem, invalid.detail)
    return IdentifierCheck(kind, raw, normalized, True, None, None)


def is_near_identifier(kind: str, left: str, right: str) -> bool:
    """Whether two different valid values of a ``TYPO_PRONE_KINDS`` kind are one keystroke
    apart: one digit replaced or two neighbouring digits swapped (Damerau-Levenshtein
    distance 1 over the digits, separators left out: an EIN's hyphen is not a character
    one mistypes). Always false for other kinds.

    Args:
        kind: The identifier kind.
        left: A normalized value (``check_identifier(kind, ...).normalized``).
        right: Another one.

    Example:
        >>> is_near_identifier("ein", "30-3982847", "30-3902847")
        True
        >>> is_near_identifier("ein", "30-3982847", "30-3902874")
        False
    """
    return bool(near_identifiers(kind, [left], [right])[0])


def near_identifiers(kind: str, left: Sequence[str], right: Sequence[str]) -> NDArray[np.bool_]:
    """``is_near_identifier`` of many pairs (``left[k]``, ``right[k]``) at once.

    Example:
        >>> near_identifiers("duns", ["150483782", "150483782"], ["105483782", "1"]).tolist()
        [True, False]
    """
    if kind not in TYPO_PRONE_KINDS or not left:
        return np.zeros(len(left), dtype=bool)
    # Normalized values of these kinds hold digits and an EIN's hyphen, nothing else.
    a = [value.replace("-", "") for value in left]
    b = [value.replace("-", "") for value in right]
    distance = process.cpdist(a, b, scorer=OSA.distance, score_cutoff=1, workers=1)
    same_length = np.fromiter(
        (len(x) == len(y) for x, y in zip(a, b, strict=True)), dtype=bool, count=len(a)
    )
    found: NDArray[np.bool_] = (np.asarray(distance) == 1) & same_length
    return found


def gtin_check_digit(body: str) -> int:
    """Compute the GS1 mod-10 check digit (GTIN, GLN, SSCC).

    Args:
        body: The digits before the check digit.

    Returns:
        The check digit, 0-9.

    Raises:
        ValueError: If ``body`` is empty or not all ASCII digits.

    Example:
        >>> gtin_check_digit("890400021003")
        7
    """
    if not _is_digits(body):
        raise ValueError(f"GS1 body must be digits, got {body!r}")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def gtin_indicator(gtin14: str) -> int:
    """Return the packaging indicator digit of a GTIN (0 for base units).

    Args:
        gtin14: A valid GTIN of any length; shorter ones are padded to 14.

    Raises:
        ValueError: If the value is not a valid GTIN.
    """
    return int(_require_gtin(gtin14)[0])


@lru_cache(maxsize=_CACHE_SIZE)
def gtin_family(gtin14: str) -> str:
    """Key shared by all pack levels of one product.

    The indicator digit is set to 0 and the check digit recomputed, so a case
    GTIN (``15201234000008``) and its inner unit (``05201234000001``) share a
    key. Indicator 9 (variable measure) is treated the same way. The key says
    nothing about quantities: never infer them from the indicator.

    Args:
        gtin14: A valid GTIN of any length; shorter ones are padded to 14.

    Returns:
        A 14-digit GTIN with indicator 0.

    Raises:
        ValueError: If the value is not a valid GTIN.
    """
    body = "0" + _require_gtin(gtin14)[1:13]
    return body + str(gtin_check_digit(body))


def hibc_check_character(data: str) -> str:
    """Compute the HIBC mod-43 check character over every character given.

    Args:
        data: The symbol data before the check character, including the
            leading ``+``.

    Raises:
        ValueError: If a character is outside the mod-43 character set.

    Example:
        >>> hibc_check_character("+A1234BJC5D6E71")
        'K'
    """
    total = 0
    for char in data:
        value = _MOD43_CHARSET.find(char)
        if value < 0:
            raise ValueError(f"{char!r} is not in the HIBC mod-43 character set")
        total += value
    return _MOD43_CHARSET[total % 43]


def _label(kind: str) -> str:
    return kind.replace("_", " ") if kind in _WORDY_KINDS else kind.upper()


_WORDY_KINDS = frozenset({"part_number", "contract_number", "code"})


def _is_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _require_gtin(value: str) -> str:
    check = check_identifier("gtin", value)
    if check.normalized is None:
        raise ValueError(f"not a valid GTIN: {value!r} ({check.detail})")
    return check.normalized


def _digits(kind: str, text: str, lengths: tuple[int, ...]) -> str:
    digits = _DIGIT_SEPARATORS.sub("", text)
    if not _is_digits(digits):
        raise _Invalid("NOT_NUMERIC", f"{_label(kind)} must contain only digits, got {text!r}")
    if len(digits) not in lengths:
        expected = " or ".join(str(n) for n in lengths)
        raise _Invalid(
            "BAD_LENGTH", f"{_label(kind)} must have {expected} digits, got {len(digits)}"
        )
    if is_junk(digits):
        raise _Invalid("JUNK_VALUE", f"{_label(kind)} {text!r} is a placeholder value")
    return digits


def _verify_gs1(kind: str, digits: str) -> None:
    expected = gtin_check_digit(digits[:-1])
    if int(digits[-1]) != expected:
        raise _Invalid(
            "BAD_CHECK_DIGIT",
            f"{_label(kind)} check digit is {digits[-1]}, expected {expected}",
        )


def _normalize_gtin(text: str) -> str:
    element = gs1_gtin(text)
    if element is None and text.lstrip().startswith(("(", "]")):
        raise _Invalid("BAD_FORMAT", f"GS1 element string {text!r} holds no GTIN (AI 01)")
    digits = _digits("gtin", element or text, _GTIN_LENGTHS)
    _verify_gs1("gtin", digits)
    return digits.zfill(14)


_SYMBOLOGY = re.compile(r"^\](?:d2|C1|Q3|e0)")  # GS1 DataMatrix, GS1-128, GS1 QR, DataBar
_HRI_ELEMENT = re.compile(r"\((\d{2,4})\)([^()]*)")
_FNC1 = "\x1d"
_SHORTEST_RAW = 19  # 01 + 14 digits + another AI (2 digits) and a character of data


def gs1_gtin(text: str) -> str | None:
    """The GTIN (application identifier 01) of a GS1 element string, as scanned or
    printed: human-readable ``(01)15201234000008(17)271231(10)LOT123``, or raw after a
    symbology identifier (``]d2``, ``]C1``, ``]Q3``, ``]e0``) or starting with ``01``
    followed by more elements (``011520123400000817271231``).

    Returns:
        The 14 characters after AI 01 (not yet validated), or None when the text is no
        element string or holds no AI 01 (a plain GTIN is not an element string).

    Example:
        >>> gs1_gtin("(01)15201234000008(17)271231(10)LOT123")
        '15201234000008'
        >>> gs1_gtin("]d2" + "0115201234000008" + "17271231" + "10LOT123")
        '15201234000008'
    """
    value = text.strip()
    if value.startswith("("):
        elements = dict(_HRI_ELEMENT.findall(value.replace(" ", "")))
        gtin = elements.get("01")
        return gtin.strip() if gtin is not None else None
    raw = _SYMBOLOGY.sub("", value).lstrip(_FNC1)
    if raw == value and not (len(raw) >= _SHORTEST_RAW and raw.startswith("01")):
        return None  # a plain number: the GTIN itself, or not a GTIN at all
    return raw[2:16] if raw.startswith("01") and len(raw) >= 16 else None


def _normalize_gln(text: str) -> str:
    digits = _digits("gln", text, (13,))
    _verify_gs1("gln", digits)
    return digits


def _luhn_sum(digits: str) -> int:
    total = 0
    for i, char in enumerate(reversed(digits)):
        value = int(char)
        if i % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total


def _normalize_npi(text: str) -> str:
    digits = _digits("npi", text, (10,))
    if digits[0] not in "12":
        raise _Invalid("BAD_PREFIX", f"NPI must start with 1 or 2, got {digits[0]}")
    # Luhn over "80840" + NPI, the health-industry prefix CMS specifies.
    body_sum = _luhn_sum("80840" + digits[:-1] + "0")
    expected = (10 - body_sum % 10) % 10
    if int(digits[-1]) != expected:
        raise _Invalid("BAD_CHECK_DIGIT", f"NPI check digit is {digits[-1]}, expected {expected}")
    return digits


def _normalize_duns(text: str) -> str:
    return _digits("duns", text, (9,))


def _normalize_ein(text: str) -> str:
    digits = _digits("ein", text, (9,))
    if digits[:2] in _EIN_INVALID_PREFIXES:
        raise _Invalid("BAD_PREFIX", f"EIN prefix {digits[:2]} is not issued by the IRS")
    return f"{digits[:2]}-{digits[2:]}"


def _normalize_ndc(text: str) -> str:
    segments = [s for s in re.split(r"[\s\-]+", text) if s]
    if not all(_is_digits(s) for s in segments):
        raise _Invalid("NOT_NUMERIC", f"NDC must contain only digits and hyphens, got {text!r}")
    if len(segments) == 1:
        digits = segments[0]
        if len(digits) == 10:
            raise _Invalid(
                "BAD_FORMAT",
                "NDC of 10 digits without hyphens is ambiguous (4-4-2, 5-3-2 or 5-4-1)",
            )
        if len(digits) != 11:
            raise _Invalid("BAD_LENGTH", f"NDC must have 10 or 11 digits, got {len(digits)}")
        normalized = digits
    elif len(segments) == 3:
        labeler, product, package = segments
        # Pad to labeler-4-2; the labeler keeps its width (5 today, 6 planned).
        widths = (max(5, len(labeler)), 4, 2)
        padding = sum(w - len(s) for w, s in zip(widths, segments, strict=True))
        if any(len(s) > w or not s for w, s in zip(widths, segments, strict=True)) or padding > 1:
            shape = "-".join(str(len(s)) for s in segments)
            raise _Invalid(
                "BAD_FORMAT", f"NDC segments {shape} are not 4-4-2, 5-3-2, 5-4-1 or 5-4-2"
            )
        normalized = labeler.zfill(widths[0]) + product.zfill(4) + package.zfill(2)
    else:
        raise _Invalid("BAD_FORMAT", f"NDC must have 3 hyphen-separated segments, got {text!r}")
    if is_junk(normalized):
        raise _Invalid("JUNK_VALUE", f"NDC {text!r} is a placeholder value")
    return normalized


def _normalize_hibcc(text: str) -> str:
    symbol = text.upper().strip("*")
    if not symbol.startswith("+"):
        raise _Invalid("BAD_PREFIX", "HIBC data must start with '+'")
    data, check = symbol[:-1], symbol[-1:]
    # "/" joins secondary data; the check character then covers the whole symbol.
    body = data.split("/", 1)[0][1:]
    if not 6 <= len(body) <= 23:
        raise _Invalid(
            "BAD_LENGTH",
            f"HIBC primary data must have 6 to 23 characters after '+', got {len(body)}",
        )
    lic, product, unit = body[:4], body[4:-1], body[-1]
    if not (lic[0].isascii() and lic[0].isalpha() and lic.isalnum() and lic.isascii()):
        raise _Invalid("BAD_FORMAT", f"HIBC labeler code {lic!r} must be 4 alphanumerics")
    if not _HIBC_PRODUCT.fullmatch(product):
        raise _Invalid("BAD_FORMAT", f"HIBC product number {product!r} must be alphanumeric")
    if not _is_digits(unit):
        raise _Invalid("BAD_FORMAT", f"HIBC unit-of-measure {unit!r} must be a digit")
    try:
        expected = hibc_check_character(data)
    except ValueError as error:
        raise _Invalid("BAD_FORMAT", str(error)) from None
    if check != expected:
        raise _Invalid("BAD_CHECK_DIGIT", f"HIBC check character is {check}, expected {expected}")
    return symbol


def _normalize_unspsc(text: str) -> str:
    digits = _digits("unspsc", text, (8, 10))[:8]
    pairs = [digits[i : i + 2] for i in range(0, 8, 2)]
    if pairs[0] == "00":
        raise _Invalid("BAD_FORMAT", "UNSPSC segment must not be 00")
    first_zero = pairs.index("00") if "00" in pairs else _UNSPSC_PAIRS
    if any(pair != "00" for pair in pairs[first_zero:]):
        raise _Invalid("BAD_FORMAT", f"UNSPSC {digits} has a level under an empty (00) level")
    return digits


def _normalize_hin(text: str) -> str:
    hin = text.upper()
    if len(hin) != 9:
        raise _Invalid("BAD_LENGTH", f"HIN must have 9 characters, got {len(hin)}")
    if not _HIN.fullmatch(hin):
        raise _Invalid("BAD_FORMAT", f"HIN must be 9 letters or digits, got {text!r}")
    return hin


def _normalize_hcpcs(text: str) -> str:
    code = text.upper()
    if not _HCPCS.fullmatch(code):
        raise _Invalid("BAD_FORMAT", f"HCPCS code must be a letter and 4 digits, got {text!r}")
    return code


def _alphanumeric(kind: str) -> Callable[[str], str]:
    def normalize(text: str) -> str:
        ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
        key = _NON_ALNUM.sub("", ascii_text.upper())
        if not key:
            raise _Invalid("BAD_FORMAT", f"{_label(kind)} {text!r} has no letters or digits")
        if is_junk(key):
            raise _Invalid("JUNK_VALUE", f"{_label(kind)} {text!r} is a placeholder value")
        return key

    return normalize


def _normalize_code(text: str) -> str:
    return " ".join(text.upper().split())


_NORMALIZERS: dict[str, Callable[[str], str]] = {
    "gtin": _normalize_gtin,
    "gln": _normalize_gln,
    "npi": _normalize_npi,
    "duns": _normalize_duns,
    "ein": _normalize_ein,
    "ndc": _normalize_ndc,
    "hibcc": _normalize_hibcc,
    "unspsc": _normalize_unspsc,
    "hin": _normalize_hin,
    "hcpcs": _normalize_hcpcs,
    "part_number": _alphanumeric("part_number"),
    "contract_number": _alphanumeric("contract_number"),
    "code": _normalize_code,
}
assert frozenset(_NORMALIZERS) == IDENTIFIER_KINDS
