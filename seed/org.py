"""The network walk: the system, its hospitals and clinics, their departments,
storerooms and par locations, and the cost centers that go with them."""

from __future__ import annotations

from typing import Any

from . import identifiers as ids
from . import network as gn
from . import text as tx
from .context import Ctx, presence
from .cost_centers import CostCenters
from .formats import new_address
from .locations import Locations

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
        ehr_fac = {"HHSYS": "100"}  # facility code -> the EHR's code of the facility
        self.locations = Locations(ctx, self.rng, ehr_fac)
        self.cost_centers = CostCenters(ctx, self.rng, self.company)
        self.gln_ref = 1
        self.cc_counter: dict[str, int] = {}

    def gln(self) -> str:
        self.gln_ref += self.rng.randint(1, 4)
        return ids.make_gs1(NET_GLN_PREFIX, self.gln_ref)

    def hin_base(self) -> str:
        alnum = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
        return self.rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") + "".join(
            self.rng.choice(alnum) for _ in range(6)
        )

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
        sys_ids = self.locations.emit(system, None, None, None)
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
            self.locations.ehr_fac[f["fac"]] = str(101 + j)
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
            fids = self.locations.emit(f, sys_ids, None, None)
            if f["hospital"]:
                hospitals_out.append((f["company"], fids[0], f["code"]))
            self.emit_children(f, fids, n)
        # administrative cost centers (no department location of their own): the same code
        # and name in every company, round by round
        n_admin = max(6, n_cc - self.locations.n_departments)
        n_h = len(hospitals_out)
        for i in range(n_admin):
            comp, fac_erp, mn = hospitals_out[i % n_h]
            rnd = i // n_h
            if rnd < len(ADMIN_CC):
                name, code = ADMIN_CC[rnd]
            else:
                name = f"{tx.NAME_WORDS[rnd % len(tx.NAME_WORDS)]} Program {rnd}"
                code = str(90000 + 10 * rnd)
            self.cost_centers.emit(comp, mn, code, name, fac_erp, None, rng.random() < 0.4, None)
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
            d_ids = self.locations.emit(d, fpar, cc_erp_id, cc_erp_id)
            self.cost_centers.emit(
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
                self.locations.emit(s, fpar, cc_erp, cc_erp)
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
            self.locations.emit(p, parent, cc_erp, cc_erp)
