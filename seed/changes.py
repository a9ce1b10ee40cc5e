"""Later versions of records (the systems' changes files)."""

from __future__ import annotations

import copy
import random
import re
from typing import TYPE_CHECKING, Any

from . import text as tx
from .formats import UOM_SPELL, addr_lines, fmt_ein, fmt_phone, fmt_zip, new_address
from .rates import P_CHANGE, P_CHANGE_DELETED

if TYPE_CHECKING:
    from .context import Ctx

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
