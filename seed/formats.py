"""How the systems write values: addresses, ZIP codes, phones, tax ids, dates, units."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from . import text as tx

UOM_SPELL = {
    "ERP": {"EA": ["EA"], "BX": ["BX"], "CS": ["CS"], "BG": ["BG"], "PK": ["PK"]},
    "EHR": {
        "EA": ["Each", "EACH", "EA"],
        "BX": ["Box", "BOX", "Box of {n}"],
        "CS": ["Case", "CASE", "CS"],
        "BG": ["Bag", "BAG", "Bag of {n}"],
        "PK": ["Pack", "PKG"],
    },
    "PROCUREMENT": {
        "EA": ["EA"],
        "BX": ["BX", "BOX"],
        "CS": ["CA", "CS", "CASE"],
        "BG": ["BG", "BAG"],
        "PK": ["PK", "PAK"],
    },
}


def new_address(
    rng: random.Random, city: tuple[str, str, str] | None = None, unit: bool | None = None
) -> dict[str, Any]:
    c = city or rng.choice(tx.CITIES)
    use_unit = rng.random() < 0.35 if unit is None else unit
    return {
        "num": str(rng.randint(10, 9899)),
        "dir": rng.randrange(4) if rng.random() < 0.3 else None,
        "street": rng.choice(tx.STREET_NAMES),
        "stype": rng.randrange(len(tx.STREET_TYPES)),
        "unit": (rng.randrange(len(tx.UNIT_WORDS)), str(rng.randint(100, 950)))
        if use_unit
        else None,
        "city": c[0],
        "state": c[1],
        "zip": c[2] + f"{rng.randint(0, 99):02d}",
        "zip4": f"{rng.randint(1, 9999):04d}",
    }


def addr_lines(a: dict[str, Any], style: str, rng: random.Random) -> tuple[str, str]:
    """style: full (Street, Suite), usps (upper, abbreviated), mixed (title, abbreviated)."""
    full = style == "full" and rng.random() < 0.8
    d = ""
    if a["dir"] is not None:
        d = tx.DIRECTIONS[a["dir"]][0 if full else 1] + " "
    st_full, st_ab = tx.STREET_TYPES[a["stype"]]
    line1 = f"{a['num']} {d}{a['street']} {st_full if full else st_ab.title()}"
    line2 = ""
    if a["unit"]:
        uf, ua = tx.UNIT_WORDS[a["unit"][0]]
        line2 = f"{uf if full else ua.title()} {a['unit'][1]}"
        if rng.random() < 0.1:
            line2 = f"#{a['unit'][1]}"
    if style == "usps":
        line1, line2 = line1.upper(), line2.upper()
    if line2 and rng.random() < 0.1:  # unit written on line 1
        line1, line2 = f"{line1} {line2}", ""
    return line1, line2


def fmt_zip(a: dict[str, Any], rng: random.Random, p4: float) -> str:
    return f"{a['zip']}-{a['zip4']}" if rng.random() < p4 else a["zip"]


def fmt_phone(p: str, rng: random.Random) -> str:
    r = rng.random()
    if r < 0.4:
        return f"({p[:3]}) {p[3:6]}-{p[6:]}"
    if r < 0.7:
        return f"{p[:3]}-{p[3:6]}-{p[6:]}"
    if r < 0.85:
        return f"{p[:3]}.{p[3:6]}.{p[6:]}"
    return p


def fmt_ein(e: str, rng: random.Random) -> str:
    return f"{e[:2]}-{e[2:]}" if rng.random() < 0.6 else e


def erp_date(d: dt.date) -> str:
    return d.strftime("%m/%d/%Y")


def add_years(d: dt.date, n: int) -> dt.date:
    return d.replace(year=d.year + n)
