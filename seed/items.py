"""Items: product family variants with their packaging levels, in the ERP, the EHR and
procurement."""

from __future__ import annotations

from typing import Any

from . import identifiers as ids
from . import products as gi
from . import text as tx
from .context import Ctx, Seq, copies, presence
from .formats import UOM_SPELL
from .rates import P_DELETED, P_TYPO
from .vendors import Vendors


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
