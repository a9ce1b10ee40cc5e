"""Units of measure and pack quantities (``100/BX``, ``10BX/CS``, ``Box of 100``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

CANONICAL_UOMS: frozenset[str] = frozenset(
    {"EA", "BX", "CS", "CT", "PK", "DZ", "PR", "KT", "BG", "RL", "PL"}
)
CODE_LISTS: frozenset[str] = frozenset({"x12", "rec20"})

# Spellings that mean the same thing whatever code list the source uses.
_SPELLINGS: dict[str, str] = {
    "EA": "EA", "EACH": "EA", "E": "EA", "UN": "EA", "UNIT": "EA", "PC": "EA", "PCS": "EA",
    "PIECE": "EA",
    "BX": "BX", "BOX": "BX", "BXS": "BX",
    "CS": "CS", "CASE": "CS", "CSE": "CS",
    "CT": "CT", "CTN": "CT", "CARTON": "CT",
    "PK": "PK", "PKG": "PK", "PAK": "PK", "PACK": "PK", "PACKAGE": "PK",
    "DZ": "DZ", "DOZ": "DZ", "DOZEN": "DZ",
    "PR": "PR", "PAIR": "PR",
    "KT": "KT", "KIT": "KT",
    "BG": "BG", "BAG": "BG",
    "ROLL": "RL",
    "PALLET": "PL",
}  # fmt: skip
# Codes whose meaning depends on the code list (the CA trap: case vs can).
_CODE_LIST_CODES: dict[str, dict[str, str]] = {
    "x12": {"CA": "CS", "RL": "RL", "PL": "PL"},
    "rec20": {
        "C62": "EA", "H87": "EA", "XBX": "BX", "XCS": "CS", "XCT": "CT", "XPK": "PK",
        "DZN": "DZ", "XBG": "BG", "XRO": "RL", "XPX": "PL",
    },
}  # fmt: skip

_UNIT_WORDS = sorted(
    {w for w in _SPELLINGS if len(w) > 1} | set(_CODE_LIST_CODES["x12"]), key=len, reverse=True
)
_UNIT = rf"(?:{'|'.join(_UNIT_WORDS)})(?:ES|S)?"
_QTY = r"(?<![\w.])\d{1,6}"
_PACK_PATTERNS = (
    # 100/BX, 100 EA/BOX, 10BX/CS, 1000 EA PER CASE
    re.compile(rf"(?P<qty>{_QTY})\s*(?:(?P<inner>{_UNIT})\s*)?(?:/|\bPER\b)\s*(?P<pack>{_UNIT})\b"),
    # BX/100, CS/10BX
    re.compile(rf"\b(?P<pack>{_UNIT})\s*/\s*(?P<qty>\d{{1,6}})(?P<inner>{_UNIT})?\b"),
    # Box of 100, case of 10 boxes
    re.compile(rf"\b(?P<pack>{_UNIT})\s+OF\s+(?P<qty>\d{{1,6}})(?:\s*(?P<inner>{_UNIT}))?\b"),
)


@dataclass(frozen=True)
class PackQuantity:
    """How many inner units one pack holds, e.g. 100 EA per BX.

    Attributes:
        quantity: Number of inner units in the pack.
        inner_unit: Canonical UOM of the inner unit, e.g. ``"EA"``.
        pack_unit: Canonical UOM of the pack, e.g. ``"BX"``.
    """

    quantity: int
    inner_unit: str
    pack_unit: str

    @property
    def label(self) -> str:
        """Canonical text form: ``100/BX``, or ``10BX/CS`` when the inner unit is not EA."""
        inner = "" if self.inner_unit == "EA" else self.inner_unit
        return f"{self.quantity}{inner}/{self.pack_unit}"


def normalize_uom(raw: str, code_list: str = "x12") -> str | None:
    """Map a unit-of-measure spelling or code to a canonical code.

    Codes are read in the source's code list: ``CA`` is a case in X12 but a can
    in UN/ECE Rec 20/21, which has no canonical code here.

    Args:
        raw: The unit as received (``"Box"``, ``"CTN"``, ``"XBX"``).
        code_list: ``"x12"`` (default) or ``"rec20"``.

    Returns:
        A code from ``CANONICAL_UOMS``, or None when unknown.

    Raises:
        ValueError: If ``code_list`` is not one of ``CODE_LISTS``.

    Example:
        >>> normalize_uom("Case"), normalize_uom("CA"), normalize_uom("CA", "rec20")
        ('CS', 'CS', None)
    """
    codes = _CODE_LIST_CODES.get(code_list)
    if codes is None:
        raise ValueError(f"unknown code list {code_list!r}; expected one of {sorted(CODE_LISTS)}")
    word = raw.strip().upper().rstrip(".")
    for candidate in _singulars(word):
        if candidate in codes:
            return codes[candidate]
        if candidate in _SPELLINGS:
            return _SPELLINGS[candidate]
    return None


def parse_pack(text: str) -> PackQuantity | None:
    """Parse a text that is only a pack expression.

    Args:
        text: ``"100/BX"``, ``"BX/100"``, ``"10BX/CS"``, ``"1000 EA/CS"``,
            ``"Box of 100"``, ``"100 EA/BOX"``.

    Returns:
        The pack quantity, or None when the text is not a pack expression.

    Example:
        >>> parse_pack("10BX/CS")
        PackQuantity(quantity=10, inner_unit='BX', pack_unit='CS')
    """
    upper = text.strip().upper()
    for pattern in _PACK_PATTERNS:
        match = pattern.fullmatch(upper)
        if match:
            return _pack_from(match)
    return None


@lru_cache(maxsize=1 << 13)
def find_pack(text: str) -> PackQuantity | None:
    """Find the first pack expression inside a longer description.

    Args:
        text: A description such as ``"GLOVE EXAM NITRILE LG 100/BX"``.

    Returns:
        The leftmost pack quantity found, or None.

    Example:
        >>> find_pack("GLOVE EXAM NITRILE LG 100/BX").label
        '100/BX'
    """
    found = find_pack_spans(text)
    return found[0][2] if found else None


def find_pack_spans(text: str) -> list[tuple[int, int, PackQuantity]]:
    """Every non-overlapping pack expression in ``text`` with its character span.

    Args:
        text: Any text; matching is case-insensitive.

    Returns:
        ``(start, end, pack)`` triples ordered by position.
    """
    upper = text.upper()
    found: list[tuple[int, int, PackQuantity]] = []
    for pattern in _PACK_PATTERNS:
        for match in pattern.finditer(upper):
            pack = _pack_from(match)
            start, end = match.span()
            if pack and not any(s < end and start < e for s, e, _ in found):
                found.append((start, end, pack))
    return sorted(found, key=lambda item: item[0])


def _singulars(word: str) -> tuple[str, ...]:
    forms = [word]
    if len(word) > 3 and word.endswith("ES"):
        forms.append(word[:-2])
    if len(word) > 2 and word.endswith("S"):
        forms.append(word[:-1])
    return tuple(forms)


def _pack_from(match: re.Match[str]) -> PackQuantity | None:
    quantity = int(match["qty"])
    pack_unit = normalize_uom(match["pack"])
    inner_unit = normalize_uom(match["inner"]) if match["inner"] else "EA"
    if quantity == 0 or pack_unit is None or inner_unit is None:
        return None
    if inner_unit == pack_unit and not (pack_unit == "EA" and quantity == 1):
        return None
    return PackQuantity(quantity, inner_unit, pack_unit)
