"""Med/surg product families for the seed generator.

Each family is one manufacturer product line; its variants (sizes, French/gauge sizes,
volumes, sterile vs non-sterile, pack quantities) are separate true items with sibling
GTINs. UNSPSC commodity codes are plausible segment-42 codes chosen for fictional data.
"""

from __future__ import annotations

import random
from typing import Any

# canonical token -> ERP abbreviation (DOMAIN.md section 5)
ERP_TOKENS = {
    "Glove": "GLV",
    "Exam": "EXAM",
    "Nitrile": "NITR",
    "Vinyl": "VNYL",
    "Latex": "LTX",
    "Powder-Free": "PF",
    "Latex-Free": "LF",
    "Sterile": "STRL",
    "Non-Sterile": "NS",
    "Syringe": "SYR",
    "Needle": "NDL",
    "Catheter": "CATH",
    "Dressing": "DRSG",
    "Gauze": "GZ",
    "Sponge": "SPNG",
    "Disposable": "DISP",
    "Luer-Lock": "LL",
    "Luer-Slip": "LS",
    "Transparent": "TRANSP",
    "Film": "FILM",
    "Foley": "FOLEY",
    "Silicone": "SIL",
    "Suture": "SUT",
    "Absorbable": "ABS",
    "Non-Absorbable": "NONABS",
    "Isolation": "ISOL",
    "Gown": "GWN",
    "Mask": "MSK",
    "Procedure": "PROC",
    "Ear-Loop": "EARLOOP",
    "Drape": "DRP",
    "Specimen": "SPEC",
    "Container": "CONT",
    "Surgical": "SURG",
    "Polyisoprene": "POLYISO",
    "Hypodermic": "HYPO",
    "Safety": "SFTY",
    "IV": "IV",
    "with Needle": "W/NDL",
    "Coated": "CTD",
    "Balloon": "BLN",
    "Polyglactin": "PGLAC",
    "Nylon": "NYL",
    "Polypropylene": "PROLN",
    "Cutting": "CUT",
    "Taper": "TPR",
    "Level 2": "LVL2",
    "Laparotomy": "LAP",
    "Sheet": "SHT",
    "Half": "HALF",
    "Three-Quarter": "3/4",
    "Screw-Cap": "SCRW CAP",
    "Regular": "REG",
    "Bordered": "BRDR",
}
SIZE_WORDS = {
    "XS": ("X-Small", "XSM"),
    "S": ("Small", "SM"),
    "M": ("Medium", "MED"),
    "L": ("Large", "LG"),
    "XL": ("X-Large", "XL"),
    "REG": ("Regular", "REG"),
}


def _subset(rng: random.Random, values: list[Any], lo: int, hi: int) -> list[Any]:
    n = min(len(values), rng.randint(lo, hi))
    start = rng.randrange(0, len(values) - n + 1)
    return values[start : start + n]


def _v(
    tokens: list[str],
    size: str | None,
    sterile: bool,
    latex_free: bool,
    levels: list[tuple[str, int]],
    price: float,
    suffix: str,
    hcpcs: str = "",
    unspsc: str = "",
) -> dict[str, Any]:
    return {
        "tokens": tokens,
        "size": size,
        "sterile": sterile,
        "latex_free": latex_free,
        "levels": levels,
        "price": round(price, 2),
        "suffix": suffix,
        "hcpcs": hcpcs,
        "unspsc": unspsc,
    }


def exam_glove(rng: random.Random) -> list[dict[str, Any]]:
    mat = rng.choice(["Nitrile", "Nitrile", "Vinyl", "Latex"])
    lf = mat != "Latex"
    base = rng.uniform(5, 12)
    out = []
    for sz in _subset(rng, ["XS", "S", "M", "L", "XL"], 2, 5):
        pack = 90 if sz == "XL" else 100
        toks = ["Glove", "Exam", mat, "Powder-Free"] + (["Latex-Free"] if lf else [])
        out.append(
            _v(
                toks,
                sz,
                False,
                lf,
                [("BX", pack), ("CS", pack * 10)],
                base,
                sz,
                "A4927",
                "42132203",
            )
        )
    return out


def surgical_glove(rng: random.Random) -> list[dict[str, Any]]:
    mat = rng.choice(["Latex", "Polyisoprene"])
    base = rng.uniform(60, 140)
    out = []
    for sz in _subset(rng, ["6.0", "6.5", "7.0", "7.5", "8.0", "8.5"], 2, 6):
        toks = ["Glove", "Surgical", mat, "Sterile", "Powder-Free"]
        out.append(
            _v(
                toks,
                sz,
                True,
                mat != "Latex",
                [("BX", 50), ("CS", 200)],
                base,
                sz.replace(".", ""),
                "",
                "42132205",
            )
        )
    return out


def syringe(rng: random.Random) -> list[dict[str, Any]]:
    tip = rng.choice(["Luer-Lock", "Luer-Slip"])
    needle = rng.random() < 0.35
    out = []
    for ml in _subset(rng, [1, 3, 5, 10, 20, 60], 2, 4):
        toks = ["Syringe", tip, f"{ml} mL"]
        hcpcs = ""
        if needle:
            toks += ["with Needle", "23G x 1 in"]
            hcpcs = {1: "A4206", 3: "A4208"}.get(ml, "A4209")
        toks.append("Sterile")
        per_box = 30 if ml >= 60 else 100
        price = 0.08 * per_box + ml * 0.02 * per_box
        out.append(
            _v(
                toks,
                f"{ml} mL",
                True,
                True,
                [("EA", 1), ("BX", per_box), ("CS", per_box * 8)],
                price / per_box,
                f"{ml:02d}",
                hcpcs,
                "42142609",
            )
        )
    return out


def needle(rng: random.Random) -> list[dict[str, Any]]:
    length = rng.choice(["1 in", "1-1/2 in", "5/8 in"])
    safety = rng.random() < 0.4
    out = []
    for ga in _subset(rng, [18, 20, 21, 22, 23, 25, 27], 2, 5):
        toks = (
            ["Needle", "Hypodermic"]
            + (["Safety"] if safety else [])
            + [f"{ga}G x {length}", "Sterile"]
        )
        out.append(
            _v(
                toks,
                f"{ga}G",
                True,
                True,
                [("BX", 100), ("CS", 1000)],
                rng.uniform(6, 25),
                f"{ga}",
                "A4215",
                "42142523",
            )
        )
    return out


def iv_catheter(rng: random.Random) -> list[dict[str, Any]]:
    length = rng.choice(["1 in", "1.25 in", "1.75 in"])
    out = []
    base = rng.uniform(90, 180)
    for ga in _subset(rng, [14, 16, 18, 20, 22, 24], 3, 5):
        toks = ["Catheter", "IV", "Safety", f"{ga}G x {length}", "Sterile"]
        out.append(
            _v(toks, f"{ga}G", True, True, [("BX", 50), ("CS", 200)], base, f"{ga}", "", "42221501")
        )
    return out


def foley(rng: random.Random) -> list[dict[str, Any]]:
    sil = rng.random() < 0.5
    balloon = rng.choice(["5 mL", "10 mL", "30 mL"])
    out = []
    for fr in _subset(rng, [12, 14, 16, 18, 20, 22, 24], 3, 5):
        mat = ["Silicone"] if sil else ["Latex", "Silicone", "Coated"]
        toks = ["Catheter", "Foley"] + mat + [f"{fr}Fr", balloon, "Balloon", "Sterile"]
        out.append(
            _v(
                toks,
                f"{fr}Fr",
                True,
                sil,
                [("EA", 1), ("CS", 10)],
                rng.uniform(3, 12),
                f"{fr}",
                "A4344" if sil else "A4338",
                "42142703",
            )
        )
    return out


def gauze(rng: random.Random) -> list[dict[str, Any]]:
    sizes = _subset(rng, ["2 x 2 in", "3 x 3 in", "4 x 4 in"], 1, 3)
    steril = rng.choice([[True], [False], [True, False], [True, False]])
    out = []
    for sz in sizes:
        for st in steril:
            toks = ["Sponge", "Gauze", "12-Ply", sz, "Sterile" if st else "Non-Sterile"]
            levels = [("BX", 50), ("CS", 1200)] if st else [("BG", 200), ("CS", 2000)]
            out.append(
                _v(
                    toks,
                    sz,
                    st,
                    True,
                    levels,
                    rng.uniform(3, 9),
                    sz[0] + ("S" if st else "N"),
                    "A6402" if st else "A6216",
                    "42311505",
                )
            )
    return out


def film_dressing(rng: random.Random) -> list[dict[str, Any]]:
    border = rng.random() < 0.3
    specs = [
        ("2-3/8 x 2-3/4 in", 100, "A6257"),
        ("4 x 4-3/4 in", 50, "A6258"),
        ("6 x 8 in", 10, "A6258"),
    ]
    out = []
    for i, (sz, pack, hc) in enumerate(_subset(rng, specs, 2, 3)):
        toks = (
            ["Dressing", "Transparent", "Film"] + (["Bordered"] if border else []) + [sz, "Sterile"]
        )
        out.append(
            _v(
                toks,
                sz,
                True,
                True,
                [("BX", pack), ("CS", pack * 4)],
                rng.uniform(20, 60),
                f"{i + 1}",
                hc,
                "42311514",
            )
        )
    return out


def suture(rng: random.Random) -> list[dict[str, Any]]:
    mat = rng.choice(["Polyglactin", "Nylon", "Polypropylene"])
    absorb = "Absorbable" if mat == "Polyglactin" else "Non-Absorbable"
    ndl = rng.choice(["Cutting", "Taper"])
    out = []
    for sz in _subset(rng, ["2-0", "3-0", "4-0", "5-0"], 2, 4):
        toks = ["Suture", mat, absorb, sz, ndl, "Needle", "Sterile"]
        out.append(
            _v(
                toks,
                sz,
                True,
                True,
                [("BX", 36)],
                rng.uniform(80, 250),
                sz.replace("-", ""),
                "",
                "42312202",
            )
        )
    return out


def gown(rng: random.Random) -> list[dict[str, Any]]:
    out = []
    for sz in _subset(rng, ["REG", "XL"], 2, 2):
        toks = ["Gown", "Isolation", "Level 2", "Disposable"]
        out.append(
            _v(
                toks,
                sz,
                False,
                True,
                [("BG", 10), ("CS", 100)],
                rng.uniform(6, 14),
                sz[0],
                "",
                "42131606",
            )
        )
    return out


def mask(rng: random.Random) -> list[dict[str, Any]]:
    out = []
    for pack in rng.choice([[50, 100], [50], [100]]):
        toks = ["Mask", "Procedure", "Ear-Loop", "Disposable"]
        out.append(
            _v(
                toks,
                None,
                False,
                True,
                [("BX", pack), ("CS", pack * 10)],
                pack * rng.uniform(0.06, 0.12),
                f"{pack}",
                "",
                "42131713",
            )
        )
    return out


def specimen(rng: random.Random) -> list[dict[str, Any]]:
    out = []
    for st in rng.choice([[True, False], [True], [False]]):
        toks = ["Container", "Specimen", "4 oz", "Screw-Cap"] + (
            ["Sterile"] if st else ["Non-Sterile"]
        )
        out.append(
            _v(
                toks,
                "4 oz",
                st,
                True,
                [("EA", 1), ("CS", 100)],
                rng.uniform(0.3, 1.2),
                "S" if st else "N",
                "",
                "42142800",
            )
        )
    return out


def drape(rng: random.Random) -> list[dict[str, Any]]:
    kinds = _subset(rng, [["Half", "Sheet"], ["Three-Quarter", "Sheet"], ["Laparotomy"]], 1, 3)
    out = []
    for i, k in enumerate(kinds):
        toks = ["Drape", "Surgical"] + k + ["Sterile"]
        out.append(
            _v(
                toks,
                None,
                True,
                True,
                [("EA", 1), ("CS", 20)],
                rng.uniform(4, 20),
                "HTL"[i],
                "",
                "42131704",
            )
        )
    return out


FAMILY_KINDS = [
    (exam_glove, 14),
    (surgical_glove, 6),
    (syringe, 10),
    (needle, 8),
    (iv_catheter, 7),
    (foley, 7),
    (gauze, 9),
    (film_dressing, 6),
    (suture, 8),
    (gown, 5),
    (mask, 5),
    (specimen, 5),
    (drape, 5),
]
_KIND_FUNCS = [k for k, _ in FAMILY_KINDS]
_KIND_WEIGHTS = [w for _, w in FAMILY_KINDS]


def make_family(rng: random.Random) -> tuple[str, list[dict[str, Any]]]:
    fn = rng.choices(_KIND_FUNCS, weights=_KIND_WEIGHTS)[0]
    return fn.__name__, fn(rng)


BRAND_PARTS = [
    "Guard",
    "Flex",
    "Touch",
    "Pro",
    "Plus",
    "Safe",
    "Cure",
    "Lite",
    "Max",
    "Shield",
    "Sure",
    "Clear",
    "Soft",
    "Prime",
]
