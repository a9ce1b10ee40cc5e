"""The network's companies (hospitals) and the hospital department vocabulary per system."""

from __future__ import annotations

import math
from typing import NamedTuple

from . import text as tx


class Company(NamedTuple):
    """A hospital company (legal entity): ERP number, mnemonic, name, its hospital."""

    number: str  # ERP company number, the canonical code ("1000")
    mnemonic: str  # procurement writes this ("HHN")
    name: str  # company name ("Hope Health North"), procurement writes it for a share
    facility: str  # the hospital's name
    address: tuple[str, int, str, int, tuple[str, str, str]] | None  # fixed street, or None
    city: tuple[str, str, str] | None  # the hospital's city (name, state, zip3), or None


# the seed's three hospitals (every scale has them, in this order)
FIXED = [
    Company(
        "1000",
        "HHN",
        "Hope Health North",
        "Hope Health North Medical Center",
        ("2100", 0, "Meridian", 1, ("Dayton", "OH", "454")),
        None,
    ),
    Company(
        "2000",
        "HHS",
        "Hope Health South",
        "Hope Health South Hospital",
        ("800", 1, "Hospital", 3, ("Columbus", "OH", "432")),
        None,
    ),
    Company(
        "3000",
        "HHE",
        "Hope Health East",
        "Hope Health East Medical Center",
        ("1250", 2, "Medical Park", 7, ("Cincinnati", "OH", "452")),
        None,
    ),
]
# cities with a name of their own (Springfield is in several states)
_CITIES = [c for i, c in enumerate(tx.CITIES) if c[0] not in {x[0] for x in tx.CITIES[:i]}]
FACILITY_WORDS = ["Medical Center", "Hospital", "Regional Medical Center", "Community Hospital"]


def n_hospitals(scale: float) -> int:
    """Hospital companies at a scale: 3 up to scale 1, then 3·sqrt(scale) (95 at 1000)."""
    return max(3, round(3 * math.sqrt(max(scale, 0.0))))


def company_number(k: int) -> str:
    """1000, 2000, ... 9000, then 1010, 2010, ... 9010, 1020, ... (unique up to k = 899)."""
    return str((k % 9 + 1) * 1000 + (k // 9) * 10)


def companies(n: int) -> list[Company]:
    """The first n hospital companies: the fixed three, Hope Health West, then one named
    after its hospital's city (Hope Health Louisville, ..., Hope Health Columbus 2, ...)."""
    out = list(FIXED[:n])
    used = {c.mnemonic for c in out}
    k = len(out)
    while len(out) < n:
        city = None
        if k == 3:
            word = "West"
        else:
            i = k - 4
            city = _CITIES[i % len(_CITIES)]
            word = city[0]
            if i >= len(_CITIES):
                word = f"{word} {i // len(_CITIES) + 1}"
        letters = [c for c in word.upper() if c.isalpha()]
        digits = "".join(c for c in word if c.isdigit())
        cands = [f"HH{letters[0]}"] + [f"HH{letters[0]}{c}" for c in letters[1:]]
        mn = next((c + digits for c in cands if c + digits not in used), None)
        j = 2
        while mn is None or mn in used:
            mn = f"HH{letters[0]}{letters[1]}{j}"
            j += 1
        used.add(mn)
        name = f"Hope Health {word}"
        facility = f"{name} {FACILITY_WORDS[k % len(FACILITY_WORDS)]}"
        out.append(Company(company_number(k), mn, name, facility, None, city))
        k += 1
    return out


class Dept(NamedTuple):
    """A hospital department: the same name and cost-center code in every hospital."""

    name: str  # full name (procurement, FHIR display)
    code: str  # cost-center code (accounting unit), the same in every company
    role: str  # v3 RoleCode of the FHIR Location.type
    erp: tuple[str, ...]  # ERP spellings (abbreviations the hub's vocabulary knows)
    ehr: tuple[str, ...]  # EHR spellings (Epic-like upper case, or the full name)
    unknown: tuple[str, ...]  # abbreviations NOT in matchers/data/hospital_units.tsv


# in the order a hospital gets them (scale 1: the first 7 per hospital)
DEPTS = [
    Dept(
        "Emergency Department",
        "6010",
        "ER",
        ("ED", "EMERGENCY DEPT", "EMERG DEPT"),
        ("EMERGENCY DEPT", "Emergency Department", "ED"),
        ("EMER", "EC"),
    ),
    Dept(
        "Pharmacy",
        "4010",
        "PHARM",
        ("PHARM", "RX", "PHARMACY"),
        ("PHARMACY", "Pharmacy"),
        ("PHAR", "PHRM"),
    ),
    Dept(
        "Materials Management",
        "8010",
        "HU",
        ("MATL MGMT", "MATERIALS MGMT"),
        ("MATERIALS MGMT", "Materials Management"),
        ("MAT MGT", "MMS"),
    ),
    Dept(
        "Intensive Care Unit",
        "6110",
        "ICU",
        ("ICU", "INTENSIVE CARE"),
        ("ICU", "INTENSIVE CARE UNIT", "Intensive Care Unit"),
        ("CRIT CARE",),
    ),
    Dept(
        "Operating Room",
        "6210",
        "HU",
        ("OR", "SURGERY OR", "OPERATING RM"),
        ("OR", "OPERATING ROOM", "Operating Room"),
        ("PERIOP", "SURG"),
    ),
    Dept("3 South", "6320", "HU", ("3 SOUTH", "3 S"), ("3 SOUTH", "3 South"), ("3S", "3SO")),
    Dept(
        "Radiology",
        "7110",
        "RADDX",
        ("RAD", "RADIOLOGY", "IMAGING"),
        ("RADIOLOGY", "Radiology", "DIAGNOSTIC IMAGING"),
        ("XRAY", "RADIOL"),
    ),
    Dept(
        "Labor and Delivery",
        "6510",
        "HU",
        ("L&D", "LABOR & DELIVERY"),
        ("LABOR AND DELIVERY", "Labor and Delivery", "L&D"),
        ("L/D", "LDRP"),
    ),
    Dept(
        "Sterile Processing",
        "8020",
        "HU",
        ("SPD", "STERILE PROC"),
        ("CENTRAL STERILE", "Sterile Processing", "SPD"),
        ("CSS", "STERILE SUPPLY"),
    ),
    Dept(
        "Laboratory",
        "7010",
        "HLAB",
        ("LAB", "CLINICAL LAB", "LABORATORY"),
        ("LABORATORY", "Laboratory"),
        ("CORE LAB", "PATH LAB"),
    ),
    Dept(
        "Post Anesthesia Care Unit",
        "6220",
        "HU",
        ("PACU", "RECOVERY ROOM"),
        ("PACU", "Post Anesthesia Care Unit"),
        ("RECOVERY", "PHASE I RECOVERY"),
    ),
    Dept(
        "Medical/Surgical Unit",
        "6310",
        "HU",
        ("MED/SURG", "MED SURG UNIT"),
        ("MED SURG", "Medical Surgical Unit"),
        ("M/S",),
    ),
    Dept(
        "Cardiac Cath Lab",
        "7210",
        "CATH",
        ("CATH LAB", "CARDIAC CATH"),
        ("CATH LAB", "Cardiac Cath Lab"),
        ("HEART CATH", "CVL"),
    ),
    Dept(
        "Respiratory Therapy",
        "7310",
        "HU",
        ("RESP THERAPY", "RT"),
        ("RESPIRATORY THERAPY", "Respiratory Therapy"),
        ("RESP CARE",),
    ),
    Dept(
        "Endoscopy",
        "6610",
        "HU",
        ("ENDO", "ENDOSCOPY"),
        ("GI LAB", "Endoscopy", "ENDOSCOPY"),
        ("GI",),
    ),
    Dept(
        "Oncology Infusion",
        "6710",
        "HU",
        ("ONC INFUSION", "INFUSION CTR"),
        ("INFUSION CENTER", "Oncology Infusion"),
        ("ONC INF",),
    ),
]
_WINGS = ["South", "North", "East", "West"]


def nursing_unit(idx: int) -> Dept:
    """The idx-th further nursing unit (after DEPTS): "4 North"..., then "Tower 2 2 South"...
    The same name and cost-center code (70000 + 10·idx) in every hospital."""
    combos = [(f, w) for f in range(2, 10) for w in _WINGS if (f, w) != (3, "South")]
    floor, wing = combos[idx % len(combos)]
    tower = idx // len(combos) + 1
    t_full = f"Tower {tower} " if tower > 1 else ""
    t_ab = f"T{tower} " if tower > 1 else ""
    name = f"{t_full}{floor} {wing}"
    return Dept(
        name,
        str(70000 + 10 * idx),
        "HU",
        (f"{t_ab}{floor} {wing.upper()}", f"{t_ab}{floor} {wing[0]}"),
        (name.upper(), name),
        (f"{t_ab}{floor}{wing[0]}",),
    )


DEPT_BY_NAME = {d.name: d for d in DEPTS}
