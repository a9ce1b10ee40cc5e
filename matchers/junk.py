"""Placeholder values that source systems put where a real value is missing."""

from __future__ import annotations

import re
from functools import lru_cache

_PLACEHOLDER_WORDS = frozenset(
    {
        "N/A",
        "NA",
        "N.A.",
        "#N/A",
        "NONE",
        "NIL",
        "NULL",
        "NAN",
        "UNKNOWN",
        "UNK",
        "TBD",
        "TBA",
        "NOT APPLICABLE",
        "NOT AVAILABLE",
        "-",
        "--",
        "?",
        "0",
    }
)
_LETTER = re.compile(r"[A-Z]")
_SEPARATORS = re.compile(r"[\s\-./]+")
_PUNCTUATION_ONLY = re.compile(r"[\W_]+")
_SEQUENCES = frozenset({"123456789", "012345678", "987654321"})


@lru_cache(maxsize=1 << 16)  # placeholders and common values repeat across records
def is_junk(value: str) -> bool:
    """Tell whether a value is a placeholder rather than real data.

    Blank strings, words such as ``N/A``, ``NONE``, ``UNKNOWN``, ``TBD`` and
    ``NULL``, strings made only of punctuation, ``0``, runs of one repeated
    digit (``0000000``, ``999-99-9999``) and the nine-digit counting sequence
    ``123456789`` are junk.

    Args:
        value: The value as received.

    Returns:
        True when the value carries no information.

    Example:
        >>> is_junk("n/a"), is_junk("000-000-000"), is_junk("1234567893")
        (True, True, False)
    """
    text = " ".join(value.upper().split())
    if not text or text in _PLACEHOLDER_WORDS:
        return True
    if _LETTER.search(text):
        return False  # a word that is no placeholder: neither punctuation nor digits
    if _PUNCTUATION_ONLY.fullmatch(text):
        return True
    digits = _SEPARATORS.sub("", text)
    if not (digits.isascii() and digits.isdigit()):
        return False
    if len(digits) >= 3 and len(set(digits)) == 1:
        return True
    return digits in _SEQUENCES or set(digits) == {"0"}
