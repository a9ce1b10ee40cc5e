"""Cost centers (accounting units) as the ERP and procurement hold them."""

from __future__ import annotations

import random

from . import network as gn
from . import text as tx
from .context import Ctx, Seq, copies, presence
from .rates import (
    P_COMPANY_MNEMONIC_LOWER,
    P_COMPANY_NAME,
    P_COMPANY_NAME_VARIANT,
    P_DELETED,
    P_PROC_CC_LOCATION,
    P_TYPO,
    P_UNKNOWN_ABBR,
)


class CostCenters:
    """Writes one cost center into the systems that hold it."""

    def __init__(self, ctx: Ctx, rng: random.Random, company: dict[str, gn.Company]) -> None:
        self.ctx = ctx
        self.rng = rng
        self.company = company
        self.key = 0
        self.proc_cc_seq = Seq(10, 3)

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

    def emit(
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
        key = f"cost_center:{self.key:06d}"
        self.key += 1
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
