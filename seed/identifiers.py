"""Identifier helpers for the seed generator: check digits and deliberate corruption.

Implemented here (stdlib only) so the generator has no dependency on the hub:
GS1 mod-10 (GTIN, GLN), NPI Luhn with the 80840 prefix, HIBC mod-43, EIN prefixes.
"""

from __future__ import annotations

import random
from collections.abc import Callable

# IRS prefixes that are never issued (DOMAIN.md section 1).
EIN_INVALID_PREFIXES = frozenset("00 07 08 09 17 18 19 28 29 49 69 70 78 79 89 96 97".split())
EIN_VALID_PREFIXES = tuple(
    f"{p:02d}" for p in range(1, 100) if f"{p:02d}" not in EIN_INVALID_PREFIXES
)

HIBC_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-. $/+%"


def gs1_check_digit(body: str) -> str:
    """Check digit for a GS1 key body (all digits but the check digit)."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        total += int(ch) * (3 if i % 2 == 0 else 1)
    return str((10 - total % 10) % 10)


def gs1_valid(code: str) -> bool:
    if not code.isdigit() or len(code) not in (8, 12, 13, 14):
        return False
    return gs1_check_digit(code[:-1]) == code[-1]


def gtin14(code: str) -> str:
    return code.zfill(14)


def gtin_with_indicator(gtin: str, indicator: int) -> str:
    """Higher packaging level: inner GTIN as 14 digits, leading 0 -> indicator, new check."""
    body = str(indicator) + gtin14(gtin)[1:13]
    return body + gs1_check_digit(body)


def new_gs1_prefix(rng: random.Random, used: set[str]) -> str:
    """A 7-digit GS1 company prefix not in ``used`` (and now in it)."""
    prefix = f"0{rng.randint(300000, 999999)}"
    while prefix in used:
        prefix = f"0{rng.randint(300000, 999999)}"
    used.add(prefix)
    return prefix


def make_gs1(prefix: str, ref: int, length: int = 13) -> str:
    """GS1 key of ``length`` digits from a company prefix and an item/location reference."""
    width = length - 1 - len(prefix)
    body = prefix + str(ref % (10**width)).zfill(width)
    return body + gs1_check_digit(body)


def _luhn_sum(digits: str, double_first_from_right: bool) -> int:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if (i % 2 == 0) == double_first_from_right:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total


def npi_check_digit(body9: str) -> str:
    total = _luhn_sum("80840" + body9, double_first_from_right=True)
    return str((10 - total % 10) % 10)


def npi_valid(npi: str) -> bool:
    if len(npi) != 10 or not npi.isdigit() or npi[0] not in "12":
        return False
    return _luhn_sum("80840" + npi, double_first_from_right=False) % 10 == 0


def make_npi(rng: random.Random) -> str:
    body = rng.choice("12") + "".join(rng.choice("0123456789") for _ in range(8))
    return body + npi_check_digit(body)


def hibc_check_char(data: str) -> str:
    return HIBC_CHARS[sum(HIBC_CHARS.index(c) for c in data) % 43]


def make_hibc(lic: str, catalog: str, uom_digit: int) -> str:
    """HIBC primary data: '+' LIC product-no UoM-digit check-char."""
    product = "".join(c for c in catalog.upper() if c.isalnum())[:18]
    data = f"+{lic}{product}{uom_digit}"
    return data + hibc_check_char(data)


def hibc_valid(code: str) -> bool:
    if len(code) < 8 or not code.startswith("+"):
        return False
    if any(c not in HIBC_CHARS for c in code):
        return False
    return hibc_check_char(code[:-1]) == code[-1]


def make_ein(rng: random.Random) -> str:
    return rng.choice(EIN_VALID_PREFIXES) + "".join(rng.choice("0123456789") for _ in range(7))


def make_digits(rng: random.Random, n: int) -> str:
    return str(rng.randint(1, 9)) + "".join(rng.choice("0123456789") for _ in range(n - 1))


def transpose_invalid(code: str, valid: Callable[[str], bool], rng: random.Random) -> str:
    """Swap two adjacent digits so that the check digit no longer matches.

    Adjacent swaps of digits differing by 5 keep a GS1 check valid, so positions are
    tried until the result fails validation. Falls back to changing the check digit.
    """
    positions = list(range(len(code) - 1))
    rng.shuffle(positions)
    for i in positions:
        a, b = code[i], code[i + 1]
        if a == b:
            continue
        cand = code[:i] + b + a + code[i + 2 :]
        if not valid(cand):
            return cand
    last = str((int(code[-1]) + 1) % 10)
    return code[:-1] + last
