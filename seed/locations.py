"""Locations (the network, facilities, departments, storerooms, par locations) as the ERP
and the EHR (FHIR Location) hold them."""

from __future__ import annotations

import random
from typing import Any

from . import mappings as gm
from . import network as gn
from . import text as tx
from .context import Ctx, Seq, copies, presence
from .formats import addr_lines, fmt_zip
from .layouts import OID_GLN, OID_HIN, SID_CC, SID_LOC_CODE, SID_NPI
from .rates import (
    P_DELETED,
    P_EHR_DEPT_BARE,
    P_FAC_PREFIX,
    P_HOUSE_SPELLING,
    P_TYPO,
    P_UNKNOWN_ABBR,
)

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


class Locations:
    """Writes one location into the systems that hold it, with each system's ids."""

    def __init__(self, ctx: Ctx, rng: random.Random, ehr_fac: dict[str, str]) -> None:
        self.ctx = ctx
        self.rng = rng
        self.ehr_fac = ehr_fac  # facility code -> the EHR's code of the facility
        self.key = 0
        self.ehr_seq = Seq(10500000)
        self.fac_seq: dict[str, int] = {}
        self.ehr_n: dict[str, int] = {}
        self.n_departments = 0

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

    def emit(
        self,
        loc: dict[str, Any],
        parent: tuple[str | None, str | None] | None,
        cc_erp: str | None,
        cc_code: str | None,
    ) -> tuple[str | None, str | None]:
        rng = self.rng
        key = f"location:{self.key:06d}"
        self.key += 1
        if loc["type"] == "department":
            self.n_departments += 1
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
