"""Vendors (manufacturers, distributors, service companies) in the ERP and procurement."""

from __future__ import annotations

from typing import Any

from . import identifiers as ids
from . import text as tx
from .context import Ctx, Seq, copies, presence
from .formats import addr_lines, fmt_ein, fmt_phone, fmt_zip, new_address
from .rates import P_DELETED, P_DROP, P_TYPO

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
