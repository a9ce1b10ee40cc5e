#!/usr/bin/env python3
"""Deterministic sample-data generator for the MDM hub (fictional Hope Health Network).

Writes ERP (CSV), EHR (FHIR Bundle + JSON Lines) and procurement (JSON Lines) extracts of
vendors, items, locations, cost centers and contracts, the mapping files (TOML), the ground
truth (truth.csv) and the list of deliberate defects (defects.csv). Streams: records are
written as they are generated; only compact id lists needed for references stay in memory.

    python seed/generate.py --out seed/data --scale 1 --seed 20261126
"""

from __future__ import annotations

import argparse
import copy
import csv
import datetime as dt
import json
import random
import re
import sys
import time
from pathlib import Path
from typing import Any, TextIO

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))

import gen_ids as ids  # noqa: E402
import gen_items as gi  # noqa: E402
import gen_mappings as gm  # noqa: E402
import gen_network as gn  # noqa: E402
import gen_text as tx  # noqa: E402
from gen_mappings import MAPPINGS  # noqa: E402

# proportions (documented in seed/README.md)
P_DUP = 0.04  # within-system duplicate of a record
P_DELETED = 0.01  # record deleted at source
P_TYPO = 0.05  # typo in a name/description
P_DROP = 0.04  # dropped or reordered word
P_BAD_CHECK = 0.02  # transposed digits in GTIN/GLN/NPI (check digit fails)
P_JUNK = 0.02  # junk placeholder in an identifier field
P_DANGLING = 0.01  # reference to a record not delivered
P_CHANGE = 0.03  # record with a later version in the system's changes file
P_CHANGE_DELETED = 0.005  # of those: the later version is a source deletion
# context patterns (locations, cost centers)
P_COMPANY_NAME = 0.25  # procurement cost center writes the company name (not transcoded)
P_COMPANY_NAME_VARIANT = 0.2  # of those: upper/lower case or doubled space
P_COMPANY_MNEMONIC_LOWER = 0.1  # of the mnemonics: lower case ("hhn")
P_FAC_PREFIX = 0.3  # department name prefixed with the facility code ("HHN ED")
P_HOUSE_SPELLING = 0.7  # a system's usual spelling of a department (else another one)
P_UNKNOWN_ABBR = 0.1  # department name written with an abbreviation the hub may not know
P_EHR_DEPT_BARE = 0.6  # EHR department with no address nor identifiers (only partOf)
P_PROC_CC_LOCATION = 0.8  # procurement cost center names its ERP location (when in the ERP)
AS_OF = dt.date(2026, 11, 26)  # fixed "today" for contract status (never the clock)

ERP_HDR = {
    "vendor": [
        "VENDOR",
        "VENDOR_VNAME",
        "DBA_NAME",
        "TAX_ID",
        "DUNS_NBR",
        "GLN",
        "VENDOR_CLASS",
        "ADDR1",
        "ADDR2",
        "CITY_ADDR5",
        "STATE_PROV",
        "POSTAL_CODE",
        "PHONE_NBR",
        "PARENT_VENDOR",
        "VEN_STATUS",
    ],
    "item": [
        "ITEM",
        "DESCRIPTION",
        "MFR_VENDOR",
        "MFR_NAME",
        "MANUF_NBR",
        "VENDOR",
        "VEN_ITEM",
        "GTIN",
        "HIBC_UPN",
        "UNSPSC_CODE",
        "HCPCS",
        "PURCH_UOM",
        "UOM_MULT",
        "BRAND",
        "ITEM_SIZE",
        "STERILE_FLAG",
        "LATEX_FREE",
        "UNIT_COST",
        "ACTIVE_STATUS",
    ],
    "location": [
        "LOCATION",
        "NAME",
        "LOC_TYPE",
        "PARENT_LOC",
        "ADDR1",
        "ADDR2",
        "CITY",
        "STATE",
        "ZIP",
        "GLN",
        "NPI",
        "HIN",
        "ACCT_UNIT_ID",
        "COMPANY",
        "ACTIVE_STATUS",
    ],
    "cost_center": ["AU_ID", "COMPANY", "ACCT_UNIT", "DESCRIPTION", "LOCATION", "ACTIVE_STATUS"],
    "contract": [
        "CONTRACT_ID",
        "AGREEMENT_REF",
        "DESCRIPTION",
        "VENDOR",
        "GPO_CODE",
        "TIER",
        "EFFECTIVE_DATE",
        "EXPIRE_DATE",
        "STATUS",
    ],
}
FILES = {
    ("ERP", "vendor"): "erp/vendors.csv",
    ("ERP", "item"): "erp/items.csv",
    ("ERP", "location"): "erp/locations.csv",
    ("ERP", "cost_center"): "erp/cost_centers.csv",
    ("ERP", "contract"): "erp/contracts.csv",
    ("EHR", "location"): "ehr/locations.json",
    ("EHR", "item"): "ehr/supply_items.jsonl",
    ("PROCUREMENT", "vendor"): "procurement/suppliers.jsonl",
    ("PROCUREMENT", "item"): "procurement/catalog.jsonl",
    ("PROCUREMENT", "contract"): "procurement/contracts.jsonl",
    ("PROCUREMENT", "cost_center"): "procurement/cost_centers.jsonl",
}
# later versions of records (same source id, same layout), loaded after the main file
CHANGE_FILES = {k: gm.CHANGE_FILES[f] for k, f in FILES.items() if f in gm.CHANGE_FILES}
EHR_BASE_URL = "https://ehr.hopehealth.example/fhir/"
OID_GLN = "urn:oid:1.3.88"
SID_NPI = "http://hl7.org/fhir/sid/us-npi"
OID_HIN = "urn:oid:2.16.840.1.113883.6.40"
SID_CC = "urn:mdm:ehr:cost-center"
SID_LOC_CODE = "urn:mdm:ehr:location-code"


# --------------------------------------------------------------------------- output


class Sink:
    """Open output files, the truth file and the defects file; count records."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.counts: dict[str, int] = {}
        self.companies: list[tuple[str, str, str]] = []  # (number, mnemonic, name)
        self._fh: dict[str, TextIO] = {}
        self._csv: dict[str, tuple[Any, list[str]]] = {}
        self._fhir_first: dict[str, bool] = {}
        out.mkdir(parents=True, exist_ok=True)
        self.truth = csv.writer(self._open("truth.csv"), lineterminator="\n")
        self.truth.writerow(["entity_type", "system", "source_id", "entity_key"])
        self.defects = csv.writer(self._open("defects.csv"), lineterminator="\n")
        self.defects.writerow(["entity_type", "system", "source_id", "attribute", "kind", "value"])
        for (system, etype), rel in [*FILES.items(), *CHANGE_FILES.items()]:
            fh = self._open(rel)
            if rel.endswith(".csv"):
                hdr = ERP_HDR[etype]
                w = csv.writer(fh, lineterminator="\n")
                w.writerow(hdr)
                self._csv[rel] = (w, hdr)
            elif rel.endswith(".json"):
                fh.write('{"resourceType": "Bundle", "type": "collection", "entry": [\n')
                self._fhir_first[rel] = True
            if rel in FILES.values():
                self.counts[f"{system}.{etype}"] = 0

    def _open(self, rel: str) -> TextIO:
        p = self.out / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        fh = p.open("w", encoding="utf-8", newline="")
        self._fh[rel] = fh
        return fh

    def write(self, system: str, etype: str, sid: str, key: str, rec: dict[str, Any]) -> None:
        rel = FILES[(system, etype)]
        fh = self._fh[rel]
        if rel in self._csv:
            w, hdr = self._csv[rel]
            w.writerow(["" if rec.get(h) is None else rec[h] for h in hdr])
        elif rel in self._fhir_first:
            sep = "" if self._fhir_first[rel] else ",\n"
            self._fhir_first[rel] = False
            entry = {"fullUrl": f"{EHR_BASE_URL}Location/{sid}", "resource": rec}
            fh.write(sep + json.dumps(entry, ensure_ascii=False))
        else:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
        self.truth.writerow([etype, system, sid, key])
        self.counts[f"{system}.{etype}"] += 1

    def write_change(self, system: str, etype: str, rec: dict[str, Any]) -> None:
        """A later version of a record already written: no truth row (same record)."""
        rel = CHANGE_FILES[(system, etype)]
        if rel in self._csv:
            w, hdr = self._csv[rel]
            w.writerow(["" if rec.get(h) is None else rec[h] for h in hdr])
        else:
            self._fh[rel].write(json.dumps(rec, ensure_ascii=False) + "\n")

    def defect(self, etype: str, system: str, sid: str, attr: str, kind: str, value: str) -> None:
        self.defects.writerow([etype, system, sid, attr, kind, value])

    def close(self) -> None:
        for rel, fh in self._fh.items():
            if rel in self._fhir_first:
                fh.write("\n]}\n")
            fh.close()
        for system, text in MAPPINGS.items():
            (self.out / f"{system.lower()}.toml").write_text(text, encoding="utf-8")
        for rel, hdr, rows in (
            (gm.CODE_SETS_FILE, ["code_set", "code", "display"], gm.code_set_rows),
            (
                gm.TRANSCODINGS_FILE,
                ["code_set", "system", "source_value", "code"],
                gm.transcoding_rows,
            ),
        ):
            with (self.out / rel).open("w", encoding="utf-8", newline="") as fh:
                w = csv.writer(fh, lineterminator="\n")
                w.writerow(hdr)
                w.writerows(rows(self.companies))


class Seq:
    """Per-system id sequence with optional random gaps (deterministic)."""

    def __init__(self, start: int, gap: int = 1) -> None:
        self.n = start
        self.gap = gap

    def next(self, rng: random.Random) -> int:
        v = self.n
        self.n += rng.randint(1, self.gap) if self.gap > 1 else 1
        return v


# --------------------------------------------------------------------------- helpers


class Ctx:
    def __init__(self, sink: Sink, seed: int, scale: float) -> None:
        self.sink = sink
        self.seed = seed
        self.scale = scale
        self.dangling = 0
        self.changes = Changes(self)

    def rng(self, phase: str) -> random.Random:
        return random.Random(f"{self.seed}:{phase}")

    def ref(
        self,
        rng: random.Random,
        etype: str,
        system: str,
        sid: str,
        attr: str,
        target: str | None,
        dangling_id: str,
    ) -> str | None:
        """Reference value: target id, or (rarely) an id that was never delivered."""
        if not target:
            return None
        if rng.random() < P_DANGLING:
            self.dangling += 1
            self.sink.defect(etype, system, sid, attr, "dangling_ref", dangling_id)
            return dangling_id
        return target

    def ident(
        self,
        rng: random.Random,
        etype: str,
        system: str,
        sid: str,
        attr: str,
        value: str | None,
        checked: bool,
        junk: bool = False,
    ) -> str | None:
        """Identifier value with rare transposed digits (checked ids) or junk placeholders."""
        if not value:
            return value
        if junk and rng.random() < P_JUNK:
            j = rng.choice(tx.JUNK)
            self.sink.defect(etype, system, sid, attr, "junk", j)
            return j
        if checked and rng.random() < P_BAD_CHECK:
            valid = ids.npi_valid if attr == "npi" else ids.gs1_valid
            bad = ids.transpose_invalid(value, valid, rng)
            self.sink.defect(etype, system, sid, attr, "invalid_check_digit", bad)
            return bad
        return value


def presence(rng: random.Random, probs: dict[str, float]) -> list[str]:
    systems = [s for s, p in probs.items() if rng.random() < p]
    if not systems:
        systems = [rng.choice(list(probs))]
    return systems


def copies(rng: random.Random, allow_dup: bool = True) -> list[bool]:
    """[False] or [False, True]: second entry is a within-system duplicate."""
    return [False, True] if allow_dup and rng.random() < P_DUP else [False]


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


# --------------------------------------------------------------------------- changes


VENDOR_CHANGES = {"address": 35, "phone": 25, "name": 20, "inactive": 10, "tax_id": 10}
ITEM_CHANGES = {"price": 40, "pack": 25, "gtin": 20, "inactive": 15}
P_SECOND_CHANGE = 0.15  # a later version with two changes (e.g. moved and new phone)
_STATUS = {  # (system, etype) -> (status field, active, inactive, deleted)
    ("ERP", "vendor"): ("VEN_STATUS", "A", "I", "D"),
    ("PROCUREMENT", "vendor"): ("status", "active", "inactive", "deleted"),
    ("ERP", "item"): ("ACTIVE_STATUS", "A", "I", "D"),
    ("EHR", "item"): ("record_status", "ACTIVE", "INACTIVE", "DELETED"),
    ("PROCUREMENT", "item"): ("status", "active", "inactive", "deleted"),
}
_PROC_UOM_WORDS = {"Bx": "Box", "Cs": "Case", "Pk": "Pack", "Bg": "Bag"}


class Changes:
    """Later versions of about P_CHANGE of the records of CHANGE_FILES, written as each main
    record is written (streaming). Only what changes in reality changes: addresses, phones,
    name corrections, status, prices, pack text; never an identifier of the entity, except a
    missing GTIN or tax id filled in with the correct value. One rng per entity type."""

    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.rng = {"vendor": ctx.rng("change:vendor"), "item": ctx.rng("change:item")}
        self.started: set[tuple[str, str]] = set()

    def _decide(self, system: str, etype: str, rec: dict[str, Any]) -> str | None:
        """None, "delete" or "change"; the first live record of each file always changes."""
        r = self.rng[etype].random()
        field, _a, _i, deleted = _STATUS[(system, etype)]
        if rec[field] == deleted:
            return None
        if (system, etype) not in self.started:
            self.started.add((system, etype))
            return "change"
        if r < P_CHANGE_DELETED:
            return "delete"
        return "change" if r < P_CHANGE else None

    def _apply(
        self, rng: random.Random, weights: dict[str, int], appliers: dict[str, Any]
    ) -> list[str]:
        """Apply weighted change kinds until one changes the record (rarely a second one)."""
        left = dict(weights)
        done: list[str] = []
        while left:
            kind = rng.choices(list(left), list(left.values()))[0]
            del left[kind]
            if appliers[kind]():
                done.append(kind)
                if rng.random() >= P_SECOND_CHANGE or len(done) == 2:
                    break
        return done

    def _status(self, system: str, etype: str, new: dict[str, Any], to: int) -> bool:
        spec = _STATUS[(system, etype)]
        if to == 2 and new[spec[0]] != spec[1]:
            return False  # only active records become inactive
        new[spec[0]] = spec[to]
        return True

    def vendor(self, system: str, rec: dict[str, Any], v: dict[str, Any]) -> None:
        what = self._decide(system, "vendor", rec)
        if what is None:
            return
        rng = self.rng["vendor"]
        new = copy.deepcopy(rec)
        if what == "delete":
            self._status(system, "vendor", new, 3)
            self.ctx.sink.write_change(system, "vendor", new)
            return
        erp = system == "ERP"

        def address() -> bool:
            a = v["addr"]
            if rng.random() < 0.3:  # same building, other suite
                na = dict(a, unit=(0, str(rng.randint(100, 950))))
            else:  # new street, same city (60%) or another city
                same = rng.random() < 0.6
                na = new_address(rng, (a["city"], a["state"], a["zip"][:3]) if same else None)
            if erp:
                l1, l2 = addr_lines(na, "usps", rng)
                new.update(
                    ADDR1=l1,
                    ADDR2=l2,
                    CITY_ADDR5=na["city"].upper(),
                    STATE_PROV=na["state"],
                    POSTAL_CODE=fmt_zip(na, rng, 0.4),
                )
                return (new["ADDR1"], new["ADDR2"]) != (rec["ADDR1"], rec["ADDR2"])
            l1, l2 = addr_lines(na, "full", rng)
            new["remitTo"] = {
                "street": l1,
                "street2": l2 or None,
                "city": na["city"],
                "state": na["state"],
                "postalCode": fmt_zip(na, rng, 0.2),
            }
            return bool(
                new["remitTo"]["street"] != rec["remitTo"]["street"]
                or new["remitTo"]["street2"] != rec["remitTo"]["street2"]
            )

        def phone() -> bool:
            area = v["phone"][:3] if rng.random() < 0.7 else str(rng.randint(201, 989))
            p = f"{area}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"
            new["PHONE_NBR" if erp else "phone"] = fmt_phone(p, rng)
            return bool(p != v["phone"])

        def name() -> bool:  # typo fixed, legal suffix added, former name replaced
            f = "VENDOR_VNAME" if erp else "supplierName"
            legal = f"{v['base']} {v['suffix']}"
            clean = tx.erp_upper(legal, rng) if erp else f"{v['base']}, {v['suffix']}"
            tail = ""
            m = re.search(r" (dba .*|\(fka .*\))$", rec[f])
            if m:
                tail = m.group(0)
            if rec[f] == clean + tail:
                return False
            new[f] = clean + tail
            return True

        def tax_id() -> bool:  # filled in where missing, with the vendor's own EIN
            f = "TAX_ID" if erp else "taxId"
            if rec[f]:
                return False
            new[f] = fmt_ein(v["ein"], rng)
            return True

        self._apply(
            rng,
            VENDOR_CHANGES,
            {
                "address": address,
                "phone": phone,
                "name": name,
                "inactive": lambda: self._status(system, "vendor", new, 2),
                "tax_id": tax_id,
            },
        )
        self.ctx.sink.write_change(system, "vendor", new)

    def item(self, system: str, rec: dict[str, Any], uom: str, n_each: int, gtin: str) -> None:
        what = self._decide(system, "item", rec)
        if what is None:
            return
        rng = self.rng["item"]
        new = copy.deepcopy(rec)
        if what == "delete":
            self._status(system, "item", new, 3)
            self.ctx.sink.write_change(system, "item", new)
            return

        def price() -> bool:
            old = (
                float(rec["UNIT_COST"])
                if system == "ERP"
                else (rec["charge"]["cost"] if system == "EHR" else rec["unitPrice"])
            )
            f = rng.uniform(1.02, 1.12) if rng.random() < 0.75 else rng.uniform(0.88, 0.97)
            p = round(old * f, 2)
            if p == old:
                return False
            if system == "ERP":
                new["UNIT_COST"] = f"{p:.2f}"
            elif system == "EHR":
                new["charge"]["cost"] = p
            else:
                new["unitPrice"] = p
            return True

        def pack() -> bool:  # pack / UOM wording; same product, same packaging level
            if system == "ERP":
                d = rec["DESCRIPTION"]
                m = re.search(r"\b(\d+)/([A-Z]{2})\b", d)
                if m:
                    d = d[: m.start()] + f"{m.group(2)}/{m.group(1)}" + d[m.end() :]
                else:
                    d = f"{d} {n_each}/{uom}"[:60]
                new["DESCRIPTION"] = d
                return bool(d != rec["DESCRIPTION"])
            if system == "EHR":
                d = rec["name"]
                m = re.search(r" \(\d+/[a-z]+\)$", d)
                if m:
                    d = d[: m.start()]
                elif uom != "EA":
                    d = f"{d} ({n_each}/{uom.lower()})"
                if d == rec["name"]:
                    return False
                new["name"] = d
                spellings = [x.format(n=n_each) for x in UOM_SPELL["EHR"][uom]]
                if rng.random() < 0.5:  # and the unit spelled otherwise
                    new["uom"] = rng.choice([x for x in spellings if x != rec["uom"]])
                return True
            d = rec["description"]
            for ab, word in _PROC_UOM_WORDS.items():
                d = re.sub(rf"\b{ab}\b", word, d)
            new["description"] = d
            return bool(d != rec["description"])

        def gtin_fill() -> bool:  # the correct GTIN filled in where it was missing
            f = "GTIN" if system == "ERP" else "gtin"
            if rec[f]:
                return False
            new[f] = gtin
            return True

        self._apply(
            rng,
            ITEM_CHANGES,
            {
                "price": price,
                "pack": pack,
                "gtin": gtin_fill,
                "inactive": lambda: self._status(system, "item", new, 2),
            },
        )
        self.ctx.sink.write_change(system, "item", new)


# --------------------------------------------------------------------------- org


CLINIC_DEPTS = ["Primary Care", "Pediatrics", "Orthopedics", "Women's Health", "Urgent Care"]
ADMIN_CC = [
    ("Administration", "8410"),
    ("Finance", "8510"),
    ("Information Technology", "8610"),
    ("Human Resources", "8710"),
    ("Nursing Administration", "8420"),
    ("Environmental Services", "8310"),
    ("Food and Nutrition Services", "8320"),
    ("Plant Operations", "8330"),
    ("Patient Access", "8520"),
    ("Health Information Management", "8530"),
    ("Quality and Patient Safety", "8430"),
    ("Security", "8340"),
    ("Biomedical Engineering", "8350"),
    ("Case Management", "8440"),
    ("Supply Chain", "8030"),
    ("Marketing", "8720"),
    ("Revenue Cycle", "8540"),
    ("Volunteer Services", "8730"),
    ("Education", "8740"),
    ("Compliance", "8450"),
    ("Physical Therapy", "7410"),
    ("Occupational Therapy", "7420"),
    ("Dialysis", "6810"),
    ("Wound Care Center", "6910"),
]
ROLE_DISPLAY = {
    "HOSP": "Hospital",
    "ER": "Emergency room",
    "PHARM": "Pharmacy",
    "HU": "Hospital unit",
    "ICU": "Intensive care unit",
    "HLAB": "hospital laboratory",
    "RADDX": "Radiology diagnostics or therapeutics unit",
    "CATH": "Cardiac catheterization lab",
    "OF": "Outpatient facility",
}
PHYS = {k: (v[3], v[4]) for k, v in gm.LOCATION_TYPES.items()}  # FHIR physicalType
ERP_LOC_TYPE = {k: v[2] for k, v in gm.LOCATION_TYPES.items()}
LOC_PRESENCE = {
    "system": {"ERP": 1.0, "EHR": 0.5},
    "facility": {"ERP": 0.95, "EHR": 0.97},
    "department": {"ERP": 0.45, "EHR": 0.95},
    "storeroom": {"ERP": 1.0, "EHR": 0.15},
    "par": {"ERP": 0.97, "EHR": 0.2},
}
NET_GLN_PREFIX = "0860004"


class Org:
    """Generates locations and cost centers together (they reference each other)."""

    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.rng = ctx.rng("org")
        s = ctx.scale
        self.n_loc = max(16, round(45 * s))
        self.n_clinics = max(2, round(self.n_loc / 20))
        self.companies = gn.companies(gn.n_hospitals(s))
        self.company = {c.number: c for c in self.companies}
        ctx.sink.companies = [(c.number, c.mnemonic, c.name) for c in self.companies]
        self.loc_key = 0
        self.cc_key = 0
        self.ehr_seq = Seq(10500000)
        self.proc_cc_seq = Seq(10, 3)
        self.fac_seq: dict[str, int] = {}
        self.ehr_fac = {"HHSYS": "100"}  # facility code -> the EHR's code of the facility
        self.ehr_n: dict[str, int] = {}
        self.gln_ref = 1
        self.cc_counter: dict[str, int] = {}
        self.n_dept_total = 0

    # ids ---------------------------------------------------------------
    def erp_code(self, fac_code: str) -> str:
        n = self.fac_seq.get(fac_code, 0) + 1
        self.fac_seq[fac_code] = n
        return f"{fac_code}{n:03d}"

    def ehr_code(self, loc: dict[str, Any], dup: bool) -> str:
        """The EHR's own code scheme: system 100, facilities 101, 102, ..., anything below a
        facility (and a duplicate record) its facility's code + 4 digits (1010003)."""
        fac = loc["fac"]
        base = self.ehr_fac[fac]
        if loc["type"] in ("system", "facility") and not dup:
            return base
        n = self.ehr_n.get(fac, 0) + 1
        self.ehr_n[fac] = n
        return f"{base}{n:04d}"

    def gln(self) -> str:
        self.gln_ref += self.rng.randint(1, 4)
        return ids.make_gs1(NET_GLN_PREFIX, self.gln_ref)

    def hin_base(self) -> str:
        alnum = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
        return self.rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") + "".join(
            self.rng.choice(alnum) for _ in range(6)
        )

    # generation ----------------------------------------------------------
    def run(self) -> list[tuple[str, str | None, str]]:
        """Emit all locations and cost centers; return hospital (company, erp id, mnemonic)."""
        rng = self.rng
        system = {
            "type": "system",
            "name": "Hope Health Network",
            "code": "HHSYS",
            "address": new_address(rng, ("Dayton", "OH", "454"), unit=True),
            "gln": self.gln(),
            "npi": None,
            "hin": None,
            "company": "1000",
            "role": None,
            "erp_names": ["HOPE HEALTH NETWORK", "HOPE HLTH NETWORK"],
            "status": "active",
            "fac": "HHSYS",
        }
        sys_ids = self.emit_location(system, None, None, None)
        facilities: list[dict[str, Any]] = []
        for c in self.companies:
            if c.address:
                num, d, street, st, city = c.address
                a = new_address(rng, city, unit=False)
                a.update(num=num, dir=d, street=street, stype=st)
            else:
                a = new_address(rng, c.city or rng.choice(tx.CITIES), unit=False)
            facilities.append(
                {
                    "type": "facility",
                    "name": c.facility,
                    "code": c.mnemonic,
                    "address": a,
                    "gln": self.gln(),
                    "npi": ids.make_npi(rng),
                    "hin": self.hin_base() + "00",
                    "company": c.number,
                    "role": "HOSP",
                    "hospital": True,
                    "status": "active",
                    "fac": c.mnemonic,
                    "erp_names": [
                        c.facility.upper()[:30],
                        tx.erp_upper(c.facility, rng, 1.0)
                        .replace("CENTER", "CTR")
                        .replace("HOPE HEALTH", "HOPE HLTH")[:30],
                    ],
                }
            )
        prev_addr = None
        for k in range(self.n_clinics):
            owner = self.companies[k % len(self.companies)]
            word = tx.NAME_WORDS[k % len(tx.NAME_WORDS)]
            if k >= len(tx.NAME_WORDS):
                word = f"{word} {k // len(tx.NAME_WORDS) + 1}"
            name = f"Hope Health {word} Clinic"
            if prev_addr is not None and k % 4 == 1:  # hard negative: same building, other suite
                a = dict(prev_addr)
                ukind, unum = a["unit"]
                a["unit"] = (ukind, str(int(unum) + rng.randint(20, 180)))
            else:
                a = new_address(rng, rng.choice(tx.CITIES[:3]), unit=True)
            prev_addr = a
            facilities.append(
                {
                    "type": "facility",
                    "name": name,
                    "code": f"CL{k + 1:03d}",
                    "address": a,
                    "gln": self.gln(),
                    "npi": ids.make_npi(rng),
                    "hin": self.hin_base() + "00",
                    "company": owner.number,
                    "role": "OF",
                    "hospital": False,
                    "fac": f"CL{k + 1:03d}",
                    "status": "active" if rng.random() > 0.05 else "inactive",
                    "erp_names": [name.upper(), f"HH {word.upper()} CLINIC"],
                }
            )
        for j, f in enumerate(facilities):
            self.ehr_fac[f["fac"]] = str(101 + j)
        # allocate remaining locations over facilities
        remaining = self.n_loc - 1 - len(facilities)
        weights = [10 if f["hospital"] else 1 for f in facilities]
        tot = sum(weights)
        slots = [max(remaining, 0) * w // tot for w in weights]
        for i in range(max(remaining, 0) - sum(slots)):
            slots[i % len(slots)] += 1
        n_cc = max(round(90 * self.ctx.scale), 0)
        hospitals_out: list[tuple[str, str | None, str]] = []
        for f, n in zip(facilities, slots, strict=True):
            fids = self.emit_location(f, sys_ids, None, None)
            if f["hospital"]:
                hospitals_out.append((f["company"], fids[0], f["code"]))
            self.emit_children(f, fids, n)
        # administrative cost centers (no department location of their own): the same code
        # and name in every company, round by round
        n_admin = max(6, n_cc - self.n_dept_total)
        n_h = len(hospitals_out)
        for i in range(n_admin):
            comp, fac_erp, mn = hospitals_out[i % n_h]
            rnd = i // n_h
            if rnd < len(ADMIN_CC):
                name, code = ADMIN_CC[rnd]
            else:
                name = f"{tx.NAME_WORDS[rnd % len(tx.NAME_WORDS)]} Program {rnd}"
                code = str(90000 + 10 * rnd)
            self.emit_cost_center(comp, mn, code, name, fac_erp, None, rng.random() < 0.4, None)
        return hospitals_out

    def next_cc_code(self, comp: str) -> str:
        n = self.cc_counter.get(comp, 50000) + 10
        self.cc_counter[comp] = n
        return str(n)

    def emit_children(self, f: dict[str, Any], fids: tuple[str | None, str | None], n: int) -> None:
        rng = self.rng
        if n <= 0:
            return
        # a department's (storeroom's) parent is its facility's own record in each system,
        # blank where the facility is absent
        fpar = fids
        n_dept = n if n < 2 else max(1, round(n * 0.55))
        depts = []
        for i in range(n_dept):
            if f["hospital"]:
                dept = gn.DEPTS[i] if i < len(gn.DEPTS) else gn.nursing_unit(i - len(gn.DEPTS))
                cc_name = dept.name
            else:
                name = CLINIC_DEPTS[i % len(CLINIC_DEPTS)]
                if i >= len(CLINIC_DEPTS):
                    name = f"{name} {i // len(CLINIC_DEPTS) + 1}"
                dept = gn.Dept(
                    name, self.next_cc_code(f["company"]), "OF", (name.upper(),), (name,), ()
                )
                cc_name = f"{f['name'].replace('Hope Health ', '').replace(' Clinic', '')} {name}"
            code = dept.code
            a = dict(f["address"])
            if rng.random() < 0.3:
                a["unit"] = (2, str(rng.randint(1, 6)))  # Floor n
            d = {
                "type": "department",
                "name": dept.name,
                "dept": dept,
                "code": None,
                "address": a,
                "gln": self.gln() if rng.random() < 0.3 else None,
                "npi": ids.make_npi(rng) if rng.random() < 0.35 else None,
                "hin": (f["hin"][:7] + f"{i + 1:02d}") if rng.random() < 0.3 else None,
                "company": f["company"],
                "role": dept.role,
                "fac": f["code"],
                "status": "active" if rng.random() > 0.04 else "inactive",
                "erp_names": [f"{f['code']} {x}" for x in dept.erp] + list(dept.erp),
            }
            # cost center presence decided first so both sides can reference each other
            cc_sys = presence(rng, {"ERP": 0.97, "PROCUREMENT": 0.85})
            cc_erp_id = f"{f['company']}-{code}" if "ERP" in cc_sys else None
            d_ids = self.emit_location(d, fpar, cc_erp_id, cc_erp_id)
            self.emit_cost_center(
                f["company"], f["code"], code, cc_name, d_ids[0], cc_sys, True, dept
            )
            depts.append((d, d_ids, cc_erp_id, code))
        n_rest = n - n_dept
        for j in range(n_rest):
            if j == 0:
                mm = next((x for x in depts if x[0]["name"] == "Materials Management"), None)
                s = {
                    "type": "storeroom",
                    "name": rng.choice(
                        ["Main Storeroom", "Central Supply Storeroom", "General Stores"]
                    ),
                    "code": None,
                    "address": dict(f["address"]),
                    "gln": self.gln(),
                    "npi": None,
                    "hin": None,
                    "company": f["company"],
                    "role": None,
                    "status": "active",
                    "fac": f["code"],
                    "erp_names": [f"{f['code']} MAIN STORES", f"{f['code']} CENTRAL SUPPLY"],
                }
                cc_erp = mm[2] if mm else None
                self.emit_location(s, fpar, cc_erp, cc_erp)
                continue
            d, d_ids, cc_erp, code = depts[(j - 1) % len(depts)]
            k = (j - 1) // len(depts) + 1
            p = {
                "type": "par",
                "name": f"{d['name']} Supply Par {k}",
                "code": None,
                "address": dict(d["address"]),
                "gln": self.gln() if rng.random() < 0.5 else None,
                "npi": None,
                "hin": None,
                "company": f["company"],
                "role": None,
                "status": "active",
                "fac": f["code"],
                "erp_names": [f"{f['code']} {d['erp_names'][-1]} PAR {k:02d}"],
            }
            # nearest ancestor present in each system (the department, else the facility)
            parent = (d_ids[0] or fpar[0], d_ids[1] or fpar[1])
            self.emit_location(p, parent, cc_erp, cc_erp)

    def emit_location(
        self,
        loc: dict[str, Any],
        parent: tuple[str | None, str | None] | None,
        cc_erp: str | None,
        cc_code: str | None,
    ) -> tuple[str | None, str | None]:
        rng = self.rng
        key = f"location:{self.loc_key:06d}"
        self.loc_key += 1
        if loc["type"] == "department":
            self.n_dept_total += 1
        systems = presence(rng, LOC_PRESENCE[loc["type"]])
        if loc.get("hospital"):  # the hospitals are in every system
            systems = ["ERP", "EHR"]
        erp_id = ehr_id = None
        own_code = loc["code"]
        if "ERP" in systems:
            for dup in copies(rng):
                sid = own_code if own_code and not dup else self.erp_code(loc["fac"])
                if not dup:
                    erp_id = sid
                self.erp_location(loc, sid, key, parent[0] if parent else None, cc_erp, dup)
        if "EHR" in systems:
            for dup in copies(rng):
                sid = str(self.ehr_seq.next(rng))
                if not dup:
                    ehr_id = sid
                self.ehr_location(loc, sid, key, parent[1] if parent else None, cc_code, dup)
        return erp_id, ehr_id

    def _status(self, loc: dict[str, Any]) -> tuple[str, bool]:
        deleted = self.rng.random() < P_DELETED
        return loc["status"], deleted

    def dept_name(self, loc: dict[str, Any], system: str, sid: str) -> str:
        """A department's name in a system's vocabulary: the system's spellings, sometimes
        an abbreviation the hub may not know (listed in defects.csv), sometimes prefixed
        with the facility code; most often the same text in every hospital."""
        rng = self.rng
        dept: gn.Dept = loc["dept"]
        spellings = dept.erp if system == "ERP" else dept.ehr
        if dept.unknown and rng.random() < P_UNKNOWN_ABBR:
            name = rng.choice(dept.unknown)
            self.ctx.sink.defect("location", system, sid, "name", "unknown_abbreviation", name)
        elif len(spellings) == 1 or rng.random() < P_HOUSE_SPELLING:
            name = spellings[0]
        else:
            name = rng.choice(spellings[1:])
        if rng.random() < P_FAC_PREFIX:
            name = f"{loc['fac']} {name}"
        return name

    def erp_location(
        self, loc: dict[str, Any], sid: str, key: str, parent: str | None, cc: str | None, dup: bool
    ) -> None:
        ctx, rng = self.ctx, self.rng
        status, deleted = self._status(loc)
        if loc["type"] == "department":
            name = self.dept_name(loc, "ERP", sid)
        else:
            name = rng.choice(loc["erp_names"])
        if rng.random() < P_TYPO:
            name = tx.typo(name, rng)
        a = loc["address"]
        l1, l2 = addr_lines(a, "usps", rng)
        rec = {
            "LOCATION": sid,
            "NAME": name[:30],
            "LOC_TYPE": ERP_LOC_TYPE[loc["type"]],
            "PARENT_LOC": ctx.ref(
                rng, "location", "ERP", sid, "parent", parent, f"{sid[:3]}X{rng.randint(100, 999)}"
            ),
            "ADDR1": l1,
            "ADDR2": l2,
            "CITY": a["city"].upper(),
            "STATE": a["state"],
            "ZIP": fmt_zip(a, rng, 0.3),
            "GLN": ctx.ident(rng, "location", "ERP", sid, "gln", loc["gln"], True)
            if rng.random() < 0.8
            else None,
            "NPI": ctx.ident(rng, "location", "ERP", sid, "npi", loc["npi"], True)
            if rng.random() < 0.7
            else None,
            "HIN": loc["hin"] if rng.random() < 0.7 else None,
            "ACCT_UNIT_ID": ctx.ref(
                rng,
                "location",
                "ERP",
                sid,
                "cost_center",
                cc,
                f"{loc['company']}-9{rng.randint(1000, 9999)}",
            ),
            "COMPANY": loc["company"],
            "ACTIVE_STATUS": "D" if deleted else ("A" if status == "active" else "I"),
        }
        ctx.sink.write("ERP", "location", sid, key, rec)

    def ehr_location(
        self,
        loc: dict[str, Any],
        sid: str,
        key: str,
        parent: str | None,
        cc_code: str | None,
        dup: bool,
    ) -> None:
        ctx, rng = self.ctx, self.rng
        a = loc["address"]
        name = loc["name"]
        bare = False  # a department record carrying only its parent facility
        if loc["type"] == "department":
            name = self.dept_name(loc, "EHR", sid)
            bare = rng.random() < P_EHR_DEPT_BARE
            if bare:
                ctx.sink.defect("location", "EHR", sid, "address", "no_address", "")
        elif loc["type"] in ("par", "storeroom"):
            fac = loc["fac"]
            name = rng.choice([f"{fac} {name.upper()}", f"{fac} {name}", name])
        if rng.random() < P_TYPO:
            name = tx.typo(name, rng)
        identifiers: list[dict[str, Any]] = [
            {"system": SID_LOC_CODE, "value": self.ehr_code(loc, dup)}
        ]
        if not bare:
            gln = ctx.ident(rng, "location", "EHR", sid, "gln", loc["gln"], True)
            if gln and rng.random() < 0.7:
                identifiers.append({"system": OID_GLN, "value": gln})
            npi = ctx.ident(rng, "location", "EHR", sid, "npi", loc["npi"], True)
            if npi:
                identifiers.append({"system": SID_NPI, "value": npi})
            if loc["hin"] and rng.random() < 0.5:
                identifiers.append({"system": OID_HIN, "value": loc["hin"]})
        if cc_code and rng.random() < 0.9:
            v = ctx.ref(
                rng,
                "location",
                "EHR",
                sid,
                "cost_center",
                cc_code,
                f"{loc['company']}-9{rng.randint(1000, 9999)}",
            )
            identifiers.append({"system": SID_CC, "value": v})
        res: dict[str, Any] = {
            "resourceType": "Location",
            "id": sid,
            "status": loc["status"],
            "name": name,
        }
        res["alias"] = [rng.choice(loc["erp_names"])]
        res["identifier"] = identifiers
        if loc["role"]:
            res["type"] = [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
                            "code": loc["role"],
                            "display": ROLE_DISPLAY[loc["role"]],
                        }
                    ]
                }
            ]
        pc, pd = PHYS[loc["type"]]
        res["physicalType"] = {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/location-physical-type",
                    "code": pc,
                    "display": pd,
                }
            ]
        }
        if not bare:
            l1, l2 = addr_lines(a, "mixed", rng)
            res["address"] = {
                "line": [x for x in (l1, l2) if x],
                "city": a["city"],
                "state": a["state"],
                "postalCode": fmt_zip(a, rng, 0.2),
            }
        if parent:
            p = ctx.ref(
                rng, "location", "EHR", sid, "parent", parent, str(19900000 + rng.randint(0, 99999))
            )
            res["partOf"] = {"reference": f"Location/{p}"}
        ctx.sink.write("EHR", "location", sid, key, res)

    def proc_company(self, comp: str, sid: str) -> str:
        """Procurement's company: the mnemonic (transcoded), or for P_COMPANY_NAME the name,
        which is deliberately not transcoded (listed in defects.csv as unmapped_code)."""
        rng, c = self.rng, self.company[comp]
        if rng.random() < P_COMPANY_NAME:
            name = c.name
            if rng.random() < P_COMPANY_NAME_VARIANT:
                name = rng.choice([name.upper(), name.lower(), name.replace(" ", "  ", 1)])
            self.ctx.sink.defect(
                "cost_center", "PROCUREMENT", sid, "company", "unmapped_code", name
            )
            return name
        return c.mnemonic.lower() if rng.random() < P_COMPANY_MNEMONIC_LOWER else c.mnemonic

    def emit_cost_center(
        self,
        comp: str,
        fac_mn: str,
        code: str,
        name: str,
        loc_erp: str | None,
        systems: list[str] | None,
        in_proc: bool,
        dept: gn.Dept | None,
    ) -> None:
        ctx, rng = self.ctx, self.rng
        key = f"cost_center:{self.cc_key:06d}"
        self.cc_key += 1
        if systems is None:
            systems = presence(rng, {"ERP": 0.97, "PROCUREMENT": 0.85 if in_proc else 0.0})
        status = "active" if rng.random() > 0.05 else "inactive"
        mnem = self.company[comp].mnemonic
        if "ERP" in systems:  # Lawson keys accounting units by company: no duplicates
            sid = f"{comp}-{code}"
            deleted = rng.random() < P_DELETED
            desc = tx.erp_upper(name, rng)
            if dept is not None and dept.unknown and rng.random() < P_UNKNOWN_ABBR:
                desc = rng.choice(dept.unknown)
                ctx.sink.defect("cost_center", "ERP", sid, "name", "unknown_abbreviation", desc)
            elif dept is not None and rng.random() < 0.5:
                desc = rng.choice(dept.erp)
            if rng.random() < P_TYPO:
                desc = tx.typo(desc, rng)
            ctx.sink.write(
                "ERP",
                "cost_center",
                sid,
                key,
                {
                    "AU_ID": sid,
                    "COMPANY": comp,
                    "ACCT_UNIT": code,
                    "DESCRIPTION": desc[:30],
                    "LOCATION": ctx.ref(
                        rng,
                        "cost_center",
                        "ERP",
                        sid,
                        "location",
                        loc_erp,
                        f"{fac_mn[:3]}X{rng.randint(100, 999)}",
                    ),
                    "ACTIVE_STATUS": "D" if deleted else ("A" if status == "active" else "I"),
                },
            )
        if "PROCUREMENT" in systems:
            for dup in copies(rng):
                sid = f"DEPT-{self.proc_cc_seq.next(rng):05d}"
                deleted = rng.random() < P_DELETED
                r = rng.random()
                pname = name if r < 0.6 else (f"{mnem} {name}" if r < 0.85 else f"{name} Dept")
                if dup or rng.random() < P_TYPO:
                    pname = tx.typo(pname, rng)
                company = self.proc_company(comp, sid)
                ship_to = ctx.ref(
                    rng,
                    "cost_center",
                    "PROCUREMENT",
                    sid,
                    "location",
                    loc_erp if rng.random() < P_PROC_CC_LOCATION else None,
                    f"{fac_mn[:3]}X{rng.randint(100, 999)}",
                )
                ctx.sink.write(
                    "PROCUREMENT",
                    "cost_center",
                    sid,
                    key,
                    {
                        "costCenterId": sid,
                        "code": code,
                        "name": pname,
                        "company": company,
                        "shipToLocation": ship_to,
                        "status": "deleted" if deleted else status,
                    },
                )


# --------------------------------------------------------------------------- vendors


SURNAMES = [
    "Hale",
    "Brody",
    "Whitcomb",
    "Ashford",
    "Kimball",
    "Prescott",
    "Lindqvist",
    "Okafor",
    "Delgado",
    "Nakamura",
    "Fenwick",
    "Marlowe",
    "Castellan",
    "Rourke",
]
VCLASS = {"manufacturer": "MFR", "distributor": "DIST", "service": "SVC"}
PTYPE = {"manufacturer": "Manufacturer", "distributor": "Distributor", "service": "Services"}


class Vendors:
    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.rng = ctx.rng("vendor")
        self.n = max(12, round(165 * ctx.scale))
        self.erp_ids: list[str] = []
        self.proc_ids: list[str] = []
        # compact tables for items and contracts
        self.manufacturers: list[tuple[int, str, str, str, str, list[int]]] = []
        self.distributors: list[tuple[int, str, str]] = []
        self.services: list[tuple[int, str]] = []
        self.erp_seq = Seq(1001, 3)
        self.proc_seq = Seq(100, 4)
        self.groups = 0

    def base_name(self, vtype: str) -> str:
        rng = self.rng
        tw = rng.choice(tx.TYPE_WORDS[vtype])
        r = rng.random()
        if r < 0.08:
            a, b = rng.sample(SURNAMES, 2)
            name = f"{a} & {b} {tw}"
        elif r < 0.45:
            name = f"{tx.syllable_name(rng)} {tw}"
        else:
            name = f"{rng.choice(tx.NAME_WORDS)} {tw}"
        if rng.random() < 0.04:
            name = "The " + name
        return name

    def core(
        self,
        vtype: str,
        base: str,
        suffix: str | None = None,
        addr: dict[str, Any] | None = None,
        parent: int | None = None,
    ) -> dict[str, Any]:
        rng = self.rng
        a = addr or new_address(rng)
        v = {
            "key": len(self.erp_ids),
            "type": vtype,
            "base": base,
            "suffix": suffix or rng.choice(tx.LEGAL_SUFFIXES),
            "dba": None,
            "former": None,
            "ein": ids.make_ein(rng),
            "duns": f"{rng.randint(0, 999999999):09d}",
            "addr": a,
            "phone": f"{rng.randint(201, 989)}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}",
            "status": "active" if rng.random() > 0.08 else "inactive",
            "parent": parent,
            "gln": ids.make_gs1(f"08{rng.randint(10000, 99999)}", rng.randint(0, 99999))
            if rng.random() < 0.5
            else None,
        }
        r = rng.random()
        if r < 0.08:
            v["dba"] = f"{rng.choice(tx.NAME_WORDS)} {rng.choice(tx.TYPE_WORDS[vtype])}"
        elif r < 0.11:
            v["former"] = self.base_name(vtype)
        return v

    def legal(self, v: dict[str, Any]) -> str:
        return f"{v['base']}, {v['suffix']}"

    def run(self) -> None:
        rng = self.rng
        while len(self.erp_ids) < self.n:
            room = self.n - len(self.erp_ids)
            r = rng.random()
            vtype = rng.choices(["manufacturer", "distributor", "service"], [40, 15, 45])[0]
            if self.groups < 3:  # every kind of hard negative exists at any scale
                r = (0.0, 0.05, 0.08)[self.groups]
            self.groups += 1
            if r < 0.035 and room >= 2:  # same name, different state and tax id
                base = self.base_name(vtype)
                suffix = rng.choice(tx.LEGAL_SUFFIXES)
                c1, c2 = rng.sample(tx.CITIES, 2)
                while c2[1] == c1[1]:
                    c2 = rng.choice(tx.CITIES)
                for c in (c1, c2):
                    self.emit(self.core(vtype, base, suffix, new_address(rng, c)))
            elif r < 0.06 and room >= 3:  # parent with numbered subsidiaries
                word = rng.choice(tx.NAME_WORDS)
                parent = self.core("service", f"{word} Health Holdings", "Inc.")
                self.emit(parent)
                nums = rng.sample(range(100, 990), 2)
                for n in nums:
                    a = dict(parent["addr"])
                    a["unit"] = (0, str(n))
                    self.emit(self.core("service", f"{word} Health {n}", "LLC", a, parent["key"]))
            elif r < 0.09 and room >= 2:  # manufacturer and its distribution arm
                base = f"{rng.choice(tx.NAME_WORDS)} Surgical"
                m = self.core("manufacturer", base)
                self.emit(m)
                self.emit(
                    self.core(
                        "distributor",
                        f"{base} Distribution",
                        "LLC",
                        new_address(
                            rng, (m["addr"]["city"], m["addr"]["state"], m["addr"]["zip"][:3])
                        ),
                        m["key"],
                    )
                )
            else:
                self.emit(self.core(vtype, self.base_name(vtype)))

    def name_variant(self, v: dict[str, Any], system: str, dup: bool) -> str:
        rng = self.rng
        base = v["base"]
        if v["former"] and system == "ERP" and rng.random() < 0.6:
            base = v["former"]  # ERP still carries the former name
        if base.startswith("The ") and rng.random() < 0.5:
            base = base[4:]
        suffix = "" if rng.random() < 0.15 else tx.vary_suffix(v["suffix"], rng)
        if rng.random() < P_DROP or dup and rng.random() < 0.3:
            base = tx.drop_or_reorder(base, rng)
        if system == "ERP":
            name = tx.erp_upper(f"{base} {suffix}".strip(), rng)
        else:
            name = f"{base}, {suffix}" if suffix and rng.random() < 0.7 else f"{base} {suffix}"
            name = name.strip()
            if v["dba"] and rng.random() < 0.3:
                name = f"{name} dba {v['dba']}"
            if v["former"] and rng.random() < 0.3:
                name = f"{name} (fka {v['former']})"
        if rng.random() < P_TYPO or dup and rng.random() < 0.3:
            name = tx.typo(name, rng)
        return name

    def emit(self, v: dict[str, Any]) -> None:
        ctx, rng = self.ctx, self.rng
        key = f"vendor:{v['key']:06d}"
        heavy = v["type"] != "service"
        systems = presence(
            rng, {"ERP": 0.9 if heavy else 0.85, "PROCUREMENT": 0.85 if heavy else 0.35}
        )
        erp_id = proc_id = ""
        a = v["addr"]
        parent = v["parent"]
        for system in systems:
            for dup in copies(rng):
                deleted = rng.random() < P_DELETED
                if system == "ERP":
                    sid = f"V{self.erp_seq.next(rng)}"
                    erp_id = erp_id or sid
                    l1, l2 = addr_lines(a, "usps", rng)
                    pref = self.erp_ids[parent] if parent is not None else None
                    rec = {
                        "VENDOR": sid,
                        "VENDOR_VNAME": self.name_variant(v, system, dup),
                        "DBA_NAME": v["dba"].upper() if v["dba"] and rng.random() < 0.7 else None,
                        "TAX_ID": ctx.ident(
                            rng,
                            "vendor",
                            "ERP",
                            sid,
                            "tax_id",
                            fmt_ein(v["ein"], rng),
                            False,
                            junk=True,
                        )
                        if rng.random() < 0.8
                        else None,
                        "DUNS_NBR": ctx.ident(
                            rng, "vendor", "ERP", sid, "duns", v["duns"], False, junk=True
                        )
                        if rng.random() < 0.3
                        else None,
                        "GLN": ctx.ident(rng, "vendor", "ERP", sid, "gln", v["gln"], True)
                        if rng.random() < 0.3
                        else None,
                        "VENDOR_CLASS": VCLASS[v["type"]],
                        "ADDR1": l1,
                        "ADDR2": l2,
                        "CITY_ADDR5": a["city"].upper(),
                        "STATE_PROV": a["state"],
                        "POSTAL_CODE": fmt_zip(a, rng, 0.4),
                        "PHONE_NBR": fmt_phone(v["phone"], rng),
                        "PARENT_VENDOR": ctx.ref(
                            rng,
                            "vendor",
                            "ERP",
                            sid,
                            "parent",
                            pref,
                            f"V{9000000 + rng.randint(0, 99999)}",
                        ),
                        "VEN_STATUS": "D"
                        if deleted
                        else ("A" if v["status"] == "active" else rng.choice("IH")),
                    }
                    ctx.sink.write("ERP", "vendor", sid, key, rec)
                    ctx.changes.vendor("ERP", rec, v)
                else:
                    sid = f"SUP-{self.proc_seq.next(rng):06d}"
                    proc_id = proc_id or sid
                    if rng.random() < 0.1:  # remit-to lockbox instead of the street address
                        lb = rng.choice(tx.CITIES)
                        remit = {
                            "street": f"PO Box {rng.randint(1000, 99999)}",
                            "street2": None,
                            "city": lb[0],
                            "state": lb[1],
                            "postalCode": lb[2] + "01",
                        }
                    else:
                        l1, l2 = addr_lines(a, "full", rng)
                        remit = {
                            "street": l1,
                            "street2": l2 or None,
                            "city": a["city"],
                            "state": a["state"],
                            "postalCode": fmt_zip(a, rng, 0.2),
                        }
                    pref = self.proc_ids[parent] if parent is not None else None
                    rec = {
                        "supplierId": sid,
                        "supplierName": self.name_variant(v, system, dup),
                        "dbaName": v["dba"] if v["dba"] and rng.random() < 0.5 else None,
                        "taxId": ctx.ident(
                            rng,
                            "vendor",
                            "PROCUREMENT",
                            sid,
                            "tax_id",
                            fmt_ein(v["ein"], rng),
                            False,
                            junk=True,
                        )
                        if rng.random() < 0.45
                        else None,
                        "dunsNumber": ctx.ident(
                            rng, "vendor", "PROCUREMENT", sid, "duns", v["duns"], False, junk=True
                        )
                        if rng.random() < 0.85
                        else None,
                        "gln": ctx.ident(rng, "vendor", "PROCUREMENT", sid, "gln", v["gln"], True)
                        if rng.random() < 0.6
                        else None,
                        "supplierType": PTYPE[v["type"]],
                        "remitTo": remit,
                        "phone": fmt_phone(v["phone"], rng),
                        "parentSupplierId": ctx.ref(
                            rng,
                            "vendor",
                            "PROCUREMENT",
                            sid,
                            "parent",
                            pref,
                            f"SUP-{900000 + rng.randint(0, 99999)}",
                        ),
                        "status": "deleted" if deleted else v["status"],
                    }
                    ctx.sink.write("PROCUREMENT", "vendor", sid, key, rec)
                    ctx.changes.vendor("PROCUREMENT", rec, v)
        self.erp_ids.append(erp_id)
        self.proc_ids.append(proc_id)
        k = v["key"]
        short = v["base"].removeprefix("The ")
        if v["type"] == "manufacturer":
            # 7-digit GS1 company prefix, unique: a GTIN names one trade item, world-wide.
            prefix = ids.new_gs1_prefix(rng, self.__dict__.setdefault("gs1_prefixes", set()))
            lic = rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") + "".join(
                rng.choice("0123456789ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(3)
            )
            catp = "".join(w[0] for w in short.split()[:3]).upper()
            self.manufacturers.append(
                (k, self.legal(v), prefix, lic, catp, [rng.randint(100, 900)])
            )
        elif v["type"] == "distributor":
            self.distributors.append((k, self.legal(v), short[:2].upper()))
        else:
            self.services.append((k, self.legal(v)))


# --------------------------------------------------------------------------- items


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


class Items:
    def __init__(self, ctx: Ctx, vendors: Vendors) -> None:
        self.ctx = ctx
        self.v = vendors
        self.rng = ctx.rng("item")
        self.n = max(20, round(650 * ctx.scale))
        self.key = 0
        self.fam_no = 1000
        self.erp_seq = Seq(100001, 3)
        self.ehr_seq = Seq(3000001, 2)
        self.cat_seq = Seq(1, 2)
        self.families_with_sizes = 0

    def run(self) -> None:
        rng = self.rng
        mfrs = self.v.manufacturers
        dists = self.v.distributors
        while self.key < self.n:
            kind, variants = gi.make_family(rng)
            variants = variants[: self.n - self.key]
            # manufacturers are uneven: a few make many lines
            index = (
                min(int(rng.paretovariate(1.2)) - 1, len(mfrs) - 1)
                if rng.random() < 0.4
                else rng.randrange(len(mfrs))
            )
            m = mfrs[index]
            if m[5][0] + len(variants) + 20 >= 10**5:
                # Item references of this prefix are used up: like a GS1 member with many
                # products, the maker gets another company prefix (never a reused GTIN).
                prefix = ids.new_gs1_prefix(rng, self.v.__dict__.setdefault("gs1_prefixes", set()))
                m = (m[0], m[1], prefix, m[3], m[4], [rng.randint(100, 900)])
                mfrs[index] = m
            d = rng.choice(dists) if dists and rng.random() < 0.75 else None
            self.fam_no += rng.randint(1, 40)
            brand = (m[4][:1] + rng.choice(gi.BRAND_PARTS)) if rng.random() < 0.7 else None
            ref = m[5][0]
            m[5][0] += len(variants) + rng.randint(1, 20)
            if len({x["size"] for x in variants}) > 1:
                self.families_with_sizes += 1
            for i, var in enumerate(variants):
                gtin0 = ids.make_gs1(m[2], ref + i)  # sibling GTINs: neighbouring item refs
                self.emit(kind, var, m, d, brand, gtin0)

    def emit(
        self,
        kind: str,
        var: dict[str, Any],
        m: tuple[Any, ...],
        d: tuple[Any, ...] | None,
        brand: str | None,
        gtin0: str,
    ) -> None:
        ctx, rng = self.ctx, self.rng
        key = f"item:{self.key:06d}"
        self.key += 1
        status = "active" if rng.random() > 0.06 else "inactive"
        catalog = f"{m[4]}-{self.fam_no}{var['suffix']}"
        hibc_ok = m[3][0] in "ABCDEFGHJK"  # ~40% of manufacturers label with HIBC
        levels = []
        for li, (uom, n) in enumerate(var["levels"]):
            g = (
                ids.gtin14(gtin0)
                if li == 0
                else ids.gtin_with_indicator(gtin0, li * 2 - 1 + (m[3][1] in "02468ACEG"))
            )
            levels.append((uom, n, g, li))
        dist_cat = f"{d[2]}{rng.randint(100000, 999999)}" if d else catalog
        vendor_key = d[0] if d else m[0]
        systems = presence(rng, {"ERP": 0.8, "EHR": 0.55, "PROCUREMENT": 0.65})
        base_price = var["price"]
        for system in systems:
            for dup in copies(rng):
                deleted = rng.random() < P_DELETED
                if system == "ERP":
                    lv = (
                        levels[-1]
                        if len(levels) > 1 and rng.random() < 0.4
                        else levels[1 if levels[0][0] == "EA" and len(levels) > 2 else 0]
                    )
                elif system == "EHR":
                    lv = levels[0]
                else:
                    lv = levels[-1] if rng.random() < 0.6 else levels[0]
                uom, n_each, gtin, li = lv
                price = round(base_price * n_each / levels[0][1] * rng.uniform(0.93, 1.07), 2)
                gtin_v = gtin
                if system == "EHR" and gtin.startswith("0") and rng.random() < 0.6:
                    gtin_v = gtin.lstrip("0") if len(gtin.lstrip("0")) >= 12 else gtin[1:]
                hibc = ids.make_hibc(m[3], catalog, li) if hibc_ok else None
                mpn = self.mpn_variant(catalog, system)
                desc = self.describe(var, system, uom, n_each, levels, dup)
                flags = (var["sterile"], var["latex_free"])
                if system == "ERP":
                    sid = str(self.erp_seq.next(rng))
                    mref = self.v.erp_ids[m[0]]
                    vref = self.v.erp_ids[vendor_key]
                    rec = {
                        "ITEM": sid,
                        "DESCRIPTION": desc,
                        "MFR_VENDOR": ctx.ref(
                            rng,
                            "item",
                            system,
                            sid,
                            "manufacturer",
                            mref,
                            f"V{9000000 + rng.randint(0, 99999)}",
                        ),
                        "MFR_NAME": tx.erp_upper(m[1], rng)[:30],
                        "MANUF_NBR": mpn,
                        "VENDOR": ctx.ref(
                            rng,
                            "item",
                            system,
                            sid,
                            "vendor",
                            vref,
                            f"V{9000000 + rng.randint(0, 99999)}",
                        ),
                        "VEN_ITEM": dist_cat if vref else None,
                        "GTIN": ctx.ident(rng, "item", system, sid, "gtin", gtin, True, junk=True)
                        if rng.random() < 0.7
                        else None,
                        "HIBC_UPN": hibc if hibc and rng.random() < 0.3 else None,
                        "UNSPSC_CODE": var["unspsc"] if rng.random() < 0.7 else None,
                        "HCPCS": var["hcpcs"] if rng.random() < 0.3 else None,
                        "PURCH_UOM": rng.choice(UOM_SPELL[system][uom]),
                        "UOM_MULT": str(n_each),
                        "BRAND": brand.upper() if brand and rng.random() < 0.2 else None,
                        "ITEM_SIZE": var["size"] if var["size"] and rng.random() < 0.6 else None,
                        "STERILE_FLAG": "Y" if flags[0] else "N",
                        "LATEX_FREE": "Y" if flags[1] else "N",
                        "UNIT_COST": f"{price:.2f}",
                        "ACTIVE_STATUS": "D" if deleted else ("A" if status == "active" else "I"),
                    }
                elif system == "EHR":
                    sid = str(self.ehr_seq.next(rng))
                    spell = rng.choice(UOM_SPELL[system][uom]).format(n=n_each)
                    rec = {
                        "supply_id": sid,
                        "name": desc,
                        "mfr": {
                            "name": m[1] if rng.random() < 0.5 else m[1].split(",")[0],
                            "catalog_no": mpn,
                        },
                        "gtin": ctx.ident(rng, "item", system, sid, "gtin", gtin_v, True, junk=True)
                        if rng.random() < 0.5
                        else None,
                        "hibc": hibc if hibc and rng.random() < 0.6 else None,
                        "uom": spell,
                        "pack_qty": n_each,
                        "size": var["size"],
                        "brand": brand if rng.random() < 0.4 else None,
                        "sterile": flags[0],
                        "latex_free": flags[1] if rng.random() < 0.9 else None,
                        "charge": {"hcpcs": var["hcpcs"] or None, "cost": price},
                        "record_status": "DELETED" if deleted else status.upper(),
                    }
                else:
                    sid = f"CAT-{self.cat_seq.next(rng):07d}"
                    mref = self.v.proc_ids[m[0]]
                    vref = self.v.proc_ids[vendor_key]
                    pack = n_each
                    if li > 0 and rng.random() < 0.2:  # pack counted in inner packs
                        pack = n_each // levels[0][1] if levels[0][0] != "EA" else n_each
                    rec = {
                        "catalogItemId": sid,
                        "supplierId": ctx.ref(
                            rng,
                            "item",
                            system,
                            sid,
                            "vendor",
                            vref,
                            f"SUP-{900000 + rng.randint(0, 99999)}",
                        ),
                        "supplierPartNumber": dist_cat,
                        "description": desc,
                        "manufacturer": {
                            "supplierId": ctx.ref(
                                rng,
                                "item",
                                system,
                                sid,
                                "manufacturer",
                                mref,
                                f"SUP-{900000 + rng.randint(0, 99999)}",
                            ),
                            "name": m[1],
                            "partNumber": mpn,
                        },
                        "gtin": ctx.ident(rng, "item", system, sid, "gtin", gtin, True, junk=True)
                        if rng.random() < 0.8
                        else None,
                        "unspsc": var["unspsc"] if rng.random() < 0.9 else None,
                        "uom": rng.choice(UOM_SPELL[system][uom]),
                        "packQuantity": pack,
                        "unitPrice": price,
                        "brand": brand if rng.random() < 0.8 else None,
                        "size": var["size"],
                        "sterile": flags[0],
                        "latexFree": flags[1],
                        "status": "deleted" if deleted else status,
                    }
                ctx.sink.write(system, "item", sid, key, rec)
                ctx.changes.item(system, rec, uom, n_each, gtin_v if system == "EHR" else gtin)

    def mpn_variant(self, catalog: str, system: str) -> str:
        r = self.rng.random()
        if system == "ERP":
            return catalog.replace("-", "") if r < 0.4 else catalog
        if system == "EHR":
            return catalog.replace("-", " ") if r < 0.2 else catalog
        return catalog if r < 0.8 else catalog.replace("-", ".")

    def describe(
        self,
        var: dict[str, Any],
        system: str,
        uom: str,
        n_each: int,
        levels: list[tuple[str, int, str, int]],
        dup: bool,
    ) -> str:
        rng = self.rng
        toks = list(var["tokens"])
        size = var["size"]
        if system == "ERP":
            words = [gi.ERP_TOKENS.get(t, t.upper()) for t in toks]
            if size in gi.SIZE_WORDS:
                words.append(gi.SIZE_WORDS[size][1])
            elif size and size.replace(".", "").isdigit():
                words.append(f"SZ {size}")
            if rng.random() < 0.6:
                per = levels[0]
                words.append(f"{per[1]}/{per[0]}" if per[0] != "EA" else f"{n_each}/{uom}")
            text = " ".join(words)
        elif system == "EHR":
            words = [t.lower() if t not in ("IV",) else t for t in toks]
            if size in gi.SIZE_WORDS:
                words.append(rng.choice([gi.SIZE_WORDS[size][0].lower(), size]))
            elif size and size.replace(".", "").isdigit():
                words.append(f"size {size}")
            text = " ".join(words)
            text = text[0].upper() + text[1:]
            if rng.random() < 0.3 and levels[0][0] != "EA":
                text += f" ({levels[0][1]}/{levels[0][0].lower()})"
        else:
            words = list(toks)
            if len(words) > 2:
                words[0], words[1] = words[1], words[0]
            text = " ".join(words[:2]) + ", " + ", ".join(words[2:])
            if size in gi.SIZE_WORDS:
                text += f", Size {rng.choice([size, gi.SIZE_WORDS[size][0]])}"
            elif size and size.replace(".", "").isdigit():
                text += f", Size {size}"
            if levels[0][0] != "EA":
                text += f", {levels[0][1]}/{levels[0][0].title()}"
                if len(levels) > 1:
                    text += f", {levels[1][1] // levels[0][1]} {levels[0][0].title()}/Case"
        if rng.random() < P_TYPO or dup and rng.random() < 0.3:
            text = tx.typo(text, rng)
        return text[:60] if system == "ERP" else text


# --------------------------------------------------------------------------- contracts


GPOS = gm.GPOS
CATEGORIES = [
    "Exam Gloves",
    "Surgical Gloves",
    "Syringes and Needles",
    "IV Catheters",
    "Urology Catheters",
    "Wound Care",
    "Sutures",
    "Isolation Apparel",
    "Face Masks",
    "Specimen Collection",
    "Surgical Drapes",
    "Med/Surg Distribution",
    "Biomedical Services",
    "Linen Services",
    "Waste Management",
]


class Contracts:
    def __init__(self, ctx: Ctx, vendors: Vendors) -> None:
        self.ctx = ctx
        self.v = vendors
        self.rng = ctx.rng("contract")
        self.n = max(8, round(110 * ctx.scale))
        self.key = 0
        self.erp_seq = Seq(4500001, 3)
        self.proc_seq = Seq(100, 3)
        self.num_seq = Seq(101, 7)
        self.renewals = 0

    def run(self) -> None:
        rng = self.rng
        pool = [(m[0], m[1]) for m in self.v.manufacturers] + [
            (d[0], d[1]) for d in self.v.distributors
        ]
        while self.key < self.n:
            if rng.random() < 0.15 and self.v.services:
                vk, vname = rng.choice(self.v.services)
                cat = rng.choice(CATEGORIES[-3:])
            else:
                vk, vname = rng.choice(pool)
                cat = rng.choice(CATEGORIES[:-3])
            gpo = rng.choices(GPOS, [45, 35, 20])[0]
            start = dt.date(rng.randint(2019, 2026), rng.randint(1, 12), 1)
            term = rng.choice([2, 3, 3, 5])
            tier = str(rng.randint(1, 4))
            name = f"{cat} - {vname.split(',')[0]}"
            renew = (self.key == 0 or rng.random() < 0.12) and self.n - self.key >= 2
            self.emit(vk, name, gpo, tier, start, term, cat)
            if renew:  # renewal: new number, same vendor and name, following term
                self.renewals += 1
                self.emit(
                    vk,
                    name,
                    gpo,
                    rng.choice([tier, str(max(1, int(tier) - 1))]),
                    add_years(start, term),
                    term,
                    cat,
                )

    def emit(
        self,
        vk: int,
        name: str,
        gpo: tuple[str, str],
        tier: str,
        start: dt.date,
        term: int,
        cat: str,
    ) -> None:
        ctx, rng = self.ctx, self.rng
        key = f"contract:{self.key:06d}"
        self.key += 1
        end = add_years(start, term) - dt.timedelta(days=1)
        status = "expired" if end < AS_OF else ("pending" if start > AS_OF else "active")
        abbr = "".join(w[0] for w in cat.replace("/", " ").split()).upper()
        if gpo[0] == "LOCAL":
            number = f"HHN-{start.year}-{self.num_seq.next(rng):04d}"
        else:
            number = f"{gpo[0]}-{abbr}-{start.year}-{self.num_seq.next(rng):04d}"
        systems = presence(rng, {"ERP": 0.75, "PROCUREMENT": 0.85})
        for system in systems:
            for dup in copies(rng):
                deleted = rng.random() < P_DELETED
                if system == "ERP":
                    sid = str(self.erp_seq.next(rng))
                    vref = self.v.erp_ids[vk]
                    rec = {
                        "CONTRACT_ID": sid,
                        "AGREEMENT_REF": number.replace("-", "") if rng.random() < 0.3 else number,
                        "DESCRIPTION": tx.erp_upper(name, rng)[:40],
                        "VENDOR": ctx.ref(
                            rng,
                            "contract",
                            system,
                            sid,
                            "vendor",
                            vref,
                            f"V{9000000 + rng.randint(0, 99999)}",
                        ),
                        "GPO_CODE": gpo[0],
                        "TIER": tier if rng.random() < 0.8 else None,
                        "EFFECTIVE_DATE": erp_date(start),
                        "EXPIRE_DATE": erp_date(end),
                        "STATUS": "D"
                        if deleted
                        else {"active": "A", "expired": "E", "pending": "P"}[status],
                    }
                else:
                    sid = f"CTR-{self.proc_seq.next(rng):06d}"
                    vref = self.v.proc_ids[vk]
                    title = name if not dup else tx.drop_or_reorder(name, rng)
                    if rng.random() < P_TYPO:
                        title = tx.typo(title, rng)
                    rec = {
                        "contractId": sid,
                        "contractNumber": number,
                        "title": title,
                        "supplierId": ctx.ref(
                            rng,
                            "contract",
                            system,
                            sid,
                            "vendor",
                            vref,
                            f"SUP-{900000 + rng.randint(0, 99999)}",
                        ),
                        "gpo": gpo[1],
                        "tier": f"Tier {tier}",
                        "startDate": start.isoformat(),
                        "endDate": end.isoformat(),
                        "status": "deleted" if deleted else status,
                    }
                ctx.sink.write(system, "contract", sid, key, rec)


# --------------------------------------------------------------------------- main


RECORDS_PER_SCALE = 2_000  # about this many source records at scale 1
MAX_RECORDS = 5_000_000  # a bigger set takes hours to load and tens of GB: refused


def scale_for(records: int) -> float:
    """The scale that gives about ``records`` source records (at least ~100 at any scale)."""
    return records / RECORDS_PER_SCALE


def check_scale(scale: float) -> None:
    """Refuse a scale that is not positive or gives more than ``MAX_RECORDS`` records.

    Raises:
        ValueError: with a message that says the size in records and the limit.
    """
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale:g}")
    records = scale * RECORDS_PER_SCALE
    if records > MAX_RECORDS:
        raise ValueError(
            f"about {records:,.0f} source records (scale {scale:g}) is more than the "
            f"{MAX_RECORDS:,} this generator writes (scale 1 is about {RECORDS_PER_SCALE:,})"
        )


def generate(out_dir: Path, scale: float = 1.0, seed: int = 42) -> dict[str, int]:
    """Write the sample data set into ``out_dir``; return record counts per system.entity.

    Raises:
        ValueError: the scale is not positive or too large (see ``check_scale``).
    """
    check_scale(scale)
    out_dir = Path(out_dir)
    sink = Sink(out_dir)
    ctx = Ctx(sink, seed, scale)
    try:
        Org(ctx).run()
        vendors = Vendors(ctx)
        vendors.run()
        Items(ctx, vendors).run()
        Contracts(ctx, vendors).run()
    finally:
        sink.close()
    return dict(sink.counts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    size = ap.add_mutually_exclusive_group()
    size.add_argument(
        "--records", type=int, help=f"about this many source records (at most {MAX_RECORDS:,})"
    )
    size.add_argument(
        "--scale", type=float, default=1.0, help=f"1 is about {RECORDS_PER_SCALE:,} records"
    )
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args(argv)
    scale = scale_for(args.records) if args.records is not None else args.scale
    try:
        check_scale(scale)
    except ValueError as error:
        ap.error(str(error))
    t0 = time.perf_counter()
    counts = generate(args.out, scale, args.seed)
    total = sum(counts.values())
    parts = " ".join(f"{k}={v}" for k, v in counts.items())
    print(f"seed: {total} records in {time.perf_counter() - t0:.1f}s -> {args.out}: {parts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
