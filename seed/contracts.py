"""Contracts (GPO and local agreements, with renewals) in the ERP and procurement."""

from __future__ import annotations

import datetime as dt

from . import mappings as gm
from . import text as tx
from .context import Ctx, Seq, copies, presence
from .formats import add_years, erp_date
from .rates import P_DELETED, P_TYPO
from .vendors import Vendors

AS_OF = dt.date(2026, 11, 26)  # fixed "today" for contract status (never the clock)
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
