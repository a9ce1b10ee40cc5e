"""Vocabulary and spelling variations for the seed generator (all names are fictional)."""

from __future__ import annotations

import random
import re

NAME_WORDS = [
    "Northwind",
    "Bluegate",
    "Silverline",
    "Cedarbrook",
    "Ironwood",
    "Granite Peak",
    "Lakeshore",
    "Redstone",
    "Brightwater",
    "Copperfield",
    "Oakhollow",
    "Stonebridge",
    "Pinecrest",
    "Clearview",
    "Riverbend",
    "Maplewood",
    "Fairhaven",
    "Kestrel",
    "Bluestem",
    "Aspen Ridge",
    "Foxglove",
    "Tidewater",
    "Prairie Wind",
    "Lighthouse",
    "Juniper",
    "Willowbrook",
    "Ravenwood",
    "Thornbury",
    "Alder Creek",
    "Birchfield",
    "Cobalt Bay",
    "Driftwood",
    "Falcon Ridge",
    "Glenmore",
    "Hawthorne",
    "Larkspur",
    "Northgate",
    "Orchard Hill",
    "Pembrook",
    "Rosewood",
    "Saltmarsh",
    "Tamarack",
    "Upland",
    "Windmere",
    "Yarrow",
    "Harborlight",
    "Quarry Point",
    "Sandpiper",
    "Bramblewood",
    "Eastbrook",
]
SYLLABLES = [
    "ve",
    "lo",
    "ca",
    "re",
    "qui",
    "nta",
    "bre",
    "vi",
    "ax",
    "or",
    "tel",
    "ix",
    "sa",
    "no",
    "tri",
    "don",
    "ka",
    "ly",
    "pha",
    "ro",
    "zen",
    "cor",
    "vo",
    "li",
    "ta",
    "gen",
    "sy",
    "na",
    "mar",
    "del",
    "qua",
    "ben",
    "sol",
    "vex",
    "ori",
    "pra",
]
TYPE_WORDS = {
    "manufacturer": [
        "Medical",
        "Surgical",
        "Medical Products",
        "Healthcare",
        "Biomedical",
        "Life Sciences",
        "Medical Devices",
        "Scientific",
        "Health Products",
        "Laboratories",
    ],
    "distributor": [
        "Medical Supply",
        "Surgical Supply",
        "Healthcare Distribution",
        "Medical Distributors",
        "Health Supply",
        "Clinical Supply",
    ],
    "service": [
        "Biomedical Services",
        "Linen Services",
        "Staffing",
        "Consulting Group",
        "Facility Services",
        "Waste Solutions",
        "Courier Services",
        "Sterilization Services",
        "Imaging Services",
        "Health IT",
        "Laundry Services",
        "Food Services",
    ],
}
LEGAL_SUFFIXES = ["Inc.", "LLC", "Corporation", "Company", "Ltd.", "LP", "Inc.", "LLC", "Inc."]
SUFFIX_VARIANTS = {
    "Inc.": ["Inc", "INC", "Inc.", "Incorporated", "INC."],
    "LLC": ["LLC", "L.L.C.", "Llc"],
    "Corporation": ["Corp", "Corp.", "CORP", "Corporation", "CORPORATION"],
    "Company": ["Co", "Co.", "CO", "Company"],
    "Ltd.": ["Ltd", "Limited", "LTD"],
    "LP": ["LP", "L.P."],
}
ERP_ABBREV = {
    "MEDICAL": "MED",
    "SURGICAL": "SURG",
    "SUPPLY": "SUP",
    "SUPPLIES": "SUPPL",
    "CORPORATION": "CORP",
    "COMPANY": "CO",
    "PRODUCTS": "PROD",
    "HEALTHCARE": "HLTHCARE",
    "LABORATORIES": "LABS",
    "AND": "&",
    "SERVICES": "SVCS",
    "DISTRIBUTION": "DIST",
    "DISTRIBUTORS": "DISTR",
    "INCORPORATED": "INC",
    "INTERNATIONAL": "INTL",
    "SCIENTIFIC": "SCI",
    "DEVICES": "DEV",
    "HEALTH": "HLTH",
    "CLINICAL": "CLIN",
}
CITIES = [
    ("Columbus", "OH", "432"),
    ("Dayton", "OH", "454"),
    ("Cleveland", "OH", "441"),
    ("Louisville", "KY", "402"),
    ("Nashville", "TN", "372"),
    ("Memphis", "TN", "381"),
    ("Indianapolis", "IN", "462"),
    ("Atlanta", "GA", "303"),
    ("Dallas", "TX", "752"),
    ("Austin", "TX", "787"),
    ("Charlotte", "NC", "282"),
    ("Raleigh", "NC", "276"),
    ("Minneapolis", "MN", "554"),
    ("Denver", "CO", "802"),
    ("Phoenix", "AZ", "850"),
    ("Pittsburgh", "PA", "152"),
    ("St. Louis", "MO", "631"),
    ("Kansas City", "MO", "641"),
    ("Milwaukee", "WI", "532"),
    ("Richmond", "VA", "232"),
    ("Jacksonville", "FL", "322"),
    ("Tampa", "FL", "336"),
    ("Irvine", "CA", "926"),
    ("San Diego", "CA", "921"),
    ("Portland", "OR", "972"),
    ("Omaha", "NE", "681"),
    ("Albany", "NY", "122"),
    ("Hartford", "CT", "061"),
    ("Springfield", "IL", "627"),
    ("Springfield", "MO", "658"),
    ("Springfield", "MA", "011"),
    ("Madison", "WI", "537"),
    ("Salem", "OR", "973"),
]
STREET_NAMES = [
    "Main",
    "Oak",
    "Maple",
    "Commerce",
    "Industrial",
    "Harbor",
    "Lakeview",
    "Pioneer",
    "Riverside",
    "Medical Park",
    "Enterprise",
    "Corporate",
    "Technology",
    "Meadow",
    "Franklin",
    "Washington",
    "Lincoln",
    "Jefferson",
    "Cedar",
    "Elm",
    "Park",
    "Ridge",
    "Hillcrest",
    "Sunset",
    "Valley",
    "Willow",
    "Center",
    "Market",
    "Parkside",
    "Gateway",
]
STREET_TYPES = [
    ("Street", "ST"),
    ("Avenue", "AVE"),
    ("Boulevard", "BLVD"),
    ("Drive", "DR"),
    ("Road", "RD"),
    ("Lane", "LN"),
    ("Court", "CT"),
    ("Parkway", "PKWY"),
    ("Highway", "HWY"),
    ("Way", "WAY"),
]
DIRECTIONS = [("North", "N"), ("South", "S"), ("East", "E"), ("West", "W")]
UNIT_WORDS = [("Suite", "STE"), ("Building", "BLDG"), ("Floor", "FL"), ("Room", "RM")]
JUNK = ["N/A", "UNKNOWN", "000000000", "NONE", "TBD", "?"]


def syllable_name(rng: random.Random) -> str:
    n = rng.choice((2, 2, 3))
    return "".join(rng.choice(SYLLABLES) for _ in range(n)).capitalize()


def typo(text: str, rng: random.Random) -> str:
    """One transposition or dropped letter inside a word of 4+ letters (not the first)."""
    words = text.split(" ")
    idx = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not idx:
        return text
    i = rng.choice(idx)
    w = words[i]
    p = rng.randrange(1, len(w) - 1)
    if rng.random() < 0.5:
        w = w[:p] + w[p + 1] + w[p] + w[p + 2 :]
    else:
        w = w[:p] + w[p + 1 :]
    words[i] = w
    return " ".join(words)


def erp_upper(text: str, rng: random.Random, abbrev_p: float = 0.7) -> str:
    """ERP style: upper case, no punctuation except &, common abbreviations."""
    t = text.upper().replace(",", "").replace(".", "")
    out = []
    for w in t.split():
        if w in ERP_ABBREV and rng.random() < abbrev_p:
            out.append(ERP_ABBREV[w])
        else:
            out.append(w)
    return " ".join(out)


def vary_suffix(suffix: str, rng: random.Random) -> str:
    return rng.choice(SUFFIX_VARIANTS.get(suffix, [suffix]))


def drop_or_reorder(text: str, rng: random.Random) -> str:
    words = text.split()
    if len(words) < 3:
        return text
    if rng.random() < 0.5:
        del words[rng.randrange(1, len(words))]
    else:
        i = rng.randrange(0, len(words) - 1)
        words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


def usps_abbrev(line: str) -> str:
    out = line
    for full, ab in STREET_TYPES + DIRECTIONS + UNIT_WORDS:
        out = re.sub(rf"\b{full}\b", ab, out, flags=re.IGNORECASE)
    return out
