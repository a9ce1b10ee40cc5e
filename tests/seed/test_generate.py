"""Tests of the seed generator (seed/generate.py): determinism, files, truth, mappings,
identifiers, references and hard negatives. Validators here are written independently of
the generator's own helpers."""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import re
import subprocess
import sys
import tomllib
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
GENERATE = ROOT / "seed" / "generate.py"
SCALE = 0.5
SEED = 7

CANONICAL = {
    "vendor": {
        "name",
        "dba_name",
        "tax_id",
        "duns",
        "gln",
        "vendor_type",
        "address_line1",
        "address_line2",
        "city",
        "state",
        "postal_code",
        "phone",
        "status",
        "parent",
    },
    "item": {
        "description",
        "manufacturer",
        "manufacturer_name",
        "manufacturer_part_number",
        "vendor",
        "vendor_catalog_number",
        "gtin",
        "hibc",
        "unspsc",
        "hcpcs",
        "uom",
        "pack_quantity",
        "brand",
        "size",
        "sterile",
        "latex_free",
        "price",
        "status",
    },
    "location": {
        "code",
        "name",
        "location_type",
        "parent",
        "address_line1",
        "address_line2",
        "city",
        "state",
        "postal_code",
        "gln",
        "npi",
        "hin",
        "cost_center",
        "status",
    },
    "contract": {
        "contract_number",
        "name",
        "vendor",
        "gpo",
        "tier",
        "effective_date",
        "expiration_date",
        "status",
    },
    "cost_center": {"code", "name", "company", "location", "status"},
}
REFERENCES = {  # (entity type, attribute) -> referenced entity type
    ("vendor", "parent"): "vendor",
    ("item", "manufacturer"): "vendor",
    ("item", "vendor"): "vendor",
    ("location", "parent"): "location",
    ("location", "cost_center"): "cost_center",
    ("contract", "vendor"): "vendor",
    ("cost_center", "location"): "location",
}


def load_module() -> Any:
    spec = importlib.util.spec_from_file_location("seed_generate_under_test", GENERATE)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ------------------------------------------------------------------ independent validators


def gs1_ok(code: str) -> bool:
    if not code.isdigit() or len(code) not in (8, 12, 13, 14):
        return False
    total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(reversed(code)))
    return total % 10 == 0


def npi_ok(npi: str) -> bool:
    if not re.fullmatch(r"[12]\d{9}", npi):
        return False
    total = 0
    for i, d in enumerate(reversed("80840" + npi)):
        n = int(d) * (2 if i % 2 == 1 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


_H43 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-. $/+%"


def hibc_ok(code: str) -> bool:
    if not code.startswith("+") or any(c not in _H43 for c in code):
        return False
    return _H43[sum(_H43.index(c) for c in code[:-1]) % 43] == code[-1]


CHECKS = {"gtin": gs1_ok, "gln": gs1_ok, "npi": npi_ok, "hibc": hibc_ok}


# ------------------------------------------------------------------ reading the output


def flatten_fhir(res: dict[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {
        k: res.get(k) for k in ("id", "resourceType", "name", "status", "description")
    }
    flat["alias"] = (res.get("alias") or [None])[0]
    for ident in res.get("identifier", []):
        flat.setdefault(f"identifier|{ident['system']}", ident.get("value"))
    if res.get("type"):
        flat["type"] = res["type"][0]["coding"][0]["code"]
    if res.get("physicalType"):
        flat["physicalType"] = res["physicalType"]["coding"][0]["code"]
    addr = res.get("address") or {}
    lines = addr.get("line") or []
    flat["address.line"] = ", ".join(lines) if lines else None
    flat["address.line1"] = lines[0] if lines else None
    flat["address.line2"] = lines[1] if len(lines) > 1 else None
    for k in ("city", "state", "postalCode"):
        flat[f"address.{k}"] = addr.get(k)
    for k in ("partOf", "managingOrganization"):
        ref = (res.get(k) or {}).get("reference")
        flat[k] = ref.rsplit("/", 1)[-1] if ref else None
    return flat


def read_records(path: Path, fmt: str) -> list[dict[str, Any]]:
    if fmt == "csv":
        with path.open(newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    if fmt == "jsonl":
        with path.open(encoding="utf-8") as fh:
            return [json.loads(line) for line in fh]
    bundle = json.loads(path.read_text(encoding="utf-8"))
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    out = []
    for entry in bundle["entry"]:
        assert entry["resource"]["resourceType"] == "Location"
        assert entry["fullUrl"].endswith("/Location/" + entry["resource"]["id"])
        out.append(flatten_fhir(entry["resource"]))
    return out


_MISSING = object()


def get_path(rec: dict[str, Any], field: str, fmt: str) -> Any:
    if fmt in ("csv", "fhir"):
        return rec.get(field, _MISSING)
    cur: Any = rec
    for part in field.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return _MISSING
        cur = cur[part]
    return cur


def attr_value(rec: dict[str, Any], spec: Any, fmt: str) -> Any:
    if isinstance(spec, str):
        spec = {"field": spec}
    if "constant" in spec:
        return spec["constant"]
    if "fields" in spec:
        vals = [get_path(rec, f, fmt) for f in spec["fields"]]
        kept = [str(v) for v in vals if v not in (None, "", _MISSING)]
        return spec.get("separator", " ").join(kept)
    v = get_path(rec, spec["field"], fmt)
    if v is _MISSING or v is None or v == "":
        return None
    if isinstance(v, str):
        steps: dict[str, Callable[[str], str]] = {
            "strip": str.strip,
            "upper": str.upper,
            "lower": str.lower,
            "title": str.title,
        }
        for t in spec.get("transform", []):
            step = steps.get(t)
            v = step(v) if step is not None else v
    return spec.get("values", {}).get(v, v) if isinstance(v, str) else v


class DataSet:
    def __init__(self, root: Path, counts: dict[str, int]) -> None:
        self.root = root
        self.counts = counts
        self.mappings = {
            s: tomllib.loads((root / f"{s}.toml").read_text("utf-8"))
            for s in ("erp", "ehr", "procurement")
        }
        # (system, etype) -> (entity spec, records) of the main file (the first entry);
        # a later entry of the same type holds later versions of records (a changes file)
        self.entities: dict[tuple[str, str], tuple[dict[str, Any], list[dict[str, Any]]]] = {}
        self.changes: dict[tuple[str, str], tuple[dict[str, Any], list[dict[str, Any]]]] = {}
        self.files: list[tuple[str, dict[str, Any], list[dict[str, Any]]]] = []
        for m in self.mappings.values():
            code = m["system"]["code"]
            for ent in m["entity"]:
                recs = read_records(root / ent["file"], ent["format"])
                self.files.append((code, ent, recs))
                if (code, ent["type"]) in self.entities:
                    assert (code, ent["type"]) not in self.changes, ent["file"]
                    self.changes[(code, ent["type"])] = (ent, recs)
                else:
                    self.entities[(code, ent["type"])] = (ent, recs)
        with (root / "truth.csv").open(newline="", encoding="utf-8") as fh:
            self.truth = list(csv.DictReader(fh))
        with (root / "defects.csv").open(newline="", encoding="utf-8") as fh:
            self.defects = list(csv.DictReader(fh))
        self.truth_key = {
            (r["entity_type"], r["system"], r["source_id"]): r["entity_key"] for r in self.truth
        }

    def canonical(self, latest: bool = True) -> dict[tuple[str, str, str], dict[str, Any]]:
        """Mapped attributes per record: the latest version (changes applied) or the first."""
        out = {}
        versions = list(self.entities.items())
        if latest:
            versions += list(self.changes.items())
        for (system, etype), (ent, recs) in versions:
            for rec in recs:
                sid = str(get_path(rec, ent["source_id"], ent["format"]))
                attrs = {a: attr_value(rec, s, ent["format"]) for a, s in ent["attributes"].items()}
                out[(etype, system, sid)] = attrs
        return out

    def defect_set(self, kind: str) -> set[tuple[str, str, str, str]]:
        return {
            (d["entity_type"], d["system"], d["source_id"], d["attribute"])
            for d in self.defects
            if d["kind"] == kind
        }


@pytest.fixture(scope="module")
def gen() -> Any:
    return load_module()


@pytest.fixture(scope="module")
def data(gen: Any, tmp_path_factory: pytest.TempPathFactory) -> DataSet:
    out = tmp_path_factory.mktemp("seed_a")
    counts = gen.generate(out, scale=SCALE, seed=SEED)
    return DataSet(out, counts)


def digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# ------------------------------------------------------------------ tests


def test_same_seed_is_byte_identical_and_other_seed_differs(
    gen: Any, data: DataSet, tmp_path: Path
) -> None:
    again = gen.generate(tmp_path / "b", scale=SCALE, seed=SEED)
    assert again == data.counts
    assert digest(tmp_path / "b") == digest(data.root)
    gen.generate(tmp_path / "c", scale=SCALE, seed=SEED + 1)
    a, c = digest(data.root), digest(tmp_path / "c")
    assert a.keys() == c.keys()
    differing = [k for k in a if a[k] != c[k] and not k.endswith(".toml")]
    assert len(differing) >= 10


def test_expected_files_and_counts(data: DataSet) -> None:
    expected = {
        "erp/vendors.csv",
        "erp/items.csv",
        "erp/cost_centers.csv",
        "erp/locations.csv",
        "erp/contracts.csv",
        "ehr/locations.json",
        "ehr/supply_items.jsonl",
        "procurement/suppliers.jsonl",
        "procurement/catalog.jsonl",
        "procurement/contracts.jsonl",
        "procurement/cost_centers.jsonl",
        "erp/vendors_changes.csv",
        "erp/items_changes.csv",
        "ehr/supply_items_changes.jsonl",
        "procurement/suppliers_changes.jsonl",
        "procurement/catalog_changes.jsonl",
        "erp.toml",
        "ehr.toml",
        "procurement.toml",
        "truth.csv",
    }
    present = {str(p.relative_to(data.root)) for p in data.root.rglob("*") if p.is_file()}
    assert expected <= present
    for (system, etype), (_ent, recs) in data.entities.items():
        assert data.counts[f"{system}.{etype}"] == len(recs) > 0
    true_entities = Counter(k.split(":")[0] for k in set(data.truth_key.values()))
    # scale 0.5 of 150-180 vendors, 600-700 items, 40-50 locations, 80-100 cc, 100-120 contracts
    assert 75 <= true_entities["vendor"] <= 90
    assert 300 <= true_entities["item"] <= 350
    assert 16 <= true_entities["location"] <= 30
    assert 40 <= true_entities["cost_center"] <= 50
    assert 50 <= true_entities["contract"] <= 60


def test_truth_names_every_record_exactly_once(data: DataSet) -> None:
    truth_rows = [(r["entity_type"], r["system"], r["source_id"]) for r in data.truth]
    assert len(truth_rows) == len(set(truth_rows)), "duplicate truth rows"
    records = []
    for (system, etype), (ent, recs) in data.entities.items():
        ids = [str(get_path(r, ent["source_id"], ent["format"])) for r in recs]
        assert len(ids) == len(set(ids)), f"source ids not unique in {ent['file']}"
        records += [(etype, system, i) for i in ids]
    assert sorted(records) == sorted(truth_rows)
    # a changes file holds later versions of records of its main file: no truth rows of its own
    for (system, etype), (ent, recs) in data.changes.items():
        ids = [str(get_path(r, ent["source_id"], ent["format"])) for r in recs]
        assert len(ids) == len(set(ids)), f"source ids not unique in {ent['file']}"
        for i in ids:
            assert (etype, system, i) in data.truth_key, (ent["file"], i)
    for key in data.truth_key.values():
        assert re.fullmatch(r"(vendor|item|location|contract|cost_center):\d{6}", key)


def test_mappings_use_canonical_names_and_existing_fields(data: DataSet) -> None:
    for m in data.mappings.values():
        assert m["system"]["code"] in ("ERP", "EHR", "PROCUREMENT")
    for _code, ent, recs in data.files:
        assert ent["format"] in ("csv", "jsonl", "fhir")
        changes = ent["file"].rsplit(".", 1)[0].endswith("_changes")
        assert set(ent["attributes"]) <= CANONICAL[ent["type"]], ent["type"]
        fields = [ent["source_id"]]
        if "deleted" in ent:
            fields.append(ent["deleted"]["field"])
        for spec in ent["attributes"].values():
            spec = {"field": spec} if isinstance(spec, str) else spec
            fields += spec.get("fields", [spec.get("field")] if "field" in spec else [])
        for f in fields:
            assert any(get_path(r, f, ent["format"]) is not _MISSING for r in recs), (
                f"{ent['file']}: field {f!r} not found"
            )
            if ent["format"] != "fhir":  # csv/jsonl: every record carries every field
                assert all(get_path(r, f, ent["format"]) is not _MISSING for r in recs)
            # and at least one record has a value (a small changes file may lack some)
            assert changes or any(
                get_path(r, f, ent["format"]) not in (None, "", _MISSING) for r in recs
            ), f"{ent['file']}: field {f!r} always empty"


def test_identifiers_pass_check_digits_except_listed_defects(data: DataSet) -> None:
    invalid = data.defect_set("invalid_check_digit")
    junk = data.defect_set("junk")
    checked = bad = 0
    for (etype, system, sid), attrs in data.canonical().items():
        for attr, ok in CHECKS.items():
            v = attrs.get(attr)
            if v is None:
                continue
            v = str(v)
            key = (etype, system, sid, attr)
            checked += 1
            if key in junk:
                continue
            if key in invalid:
                bad += 1
                assert not ok(v), f"listed as invalid but passes: {key} {v}"
            else:
                assert ok(v), f"identifier fails its check: {key} {v}"
    assert checked > 500
    assert 0 < bad <= 0.05 * checked


def test_ein_prefixes_and_duns(data: DataSet) -> None:
    junk = data.defect_set("junk")
    bad_prefix = set("00 07 08 09 17 18 19 28 29 49 69 70 78 79 89 96 97".split())
    n = 0
    for (etype, system, sid), attrs in data.canonical().items():
        if etype != "vendor":
            continue
        for attr, pattern in (("tax_id", r"\d{2}-?\d{7}"), ("duns", r"\d{9}")):
            v = attrs.get(attr)
            if v is None or (etype, system, sid, attr) in junk:
                continue
            assert re.fullmatch(pattern, v), (sid, attr, v)
            if attr == "tax_id":
                assert v[:2] not in bad_prefix
                n += 1
    assert n > 30
    assert any(k[0] == "vendor" and k[3] in ("tax_id", "duns") for k in junk)


def test_references_point_at_existing_records(data: DataSet) -> None:
    ids = {
        (s, e): {str(get_path(r, ent["source_id"], ent["format"])) for r in recs}
        for (s, e), (ent, recs) in data.entities.items()
    }
    ref_system = {
        (m["system"]["code"], ent["type"], attr): spec["system"]
        for m in data.mappings.values()
        for ent in m["entity"]
        for attr, spec in ent["attributes"].items()
        if isinstance(spec, dict) and "system" in spec
    }
    assert ref_system[("EHR", "location", "cost_center")] == "ERP"
    assert ref_system[("PROCUREMENT", "cost_center", "location")] == "ERP"
    dangling = data.defect_set("dangling_ref")
    total = bad = 0
    for (etype, system, sid), attrs in data.canonical().items():
        for (rtype, attr), target in REFERENCES.items():
            if rtype != etype or attrs.get(attr) is None:
                continue
            total += 1
            # a reference into another system names it (`system = "ERP"`): the EHR has no
            # cost centers, procurement no locations
            tsys = ref_system.get((system, etype, attr), system)
            exists = attrs[attr] in ids[(tsys, target)]
            if (etype, system, sid, attr) in dangling:
                bad += 1
                assert not exists
            else:
                assert exists, (etype, system, sid, attr, attrs[attr])
    assert total > 500
    assert 0 < bad <= 0.03 * total


def test_duplicates_and_deletions_are_small_shares(data: DataSet) -> None:
    per_system = Counter((r["system"], r["entity_key"]) for r in data.truth)
    dups = sum(n - 1 for n in per_system.values())
    assert 0.01 * len(data.truth) < dups < 0.08 * len(data.truth)
    canon = data.canonical()
    deleted = 0
    for ent, recs in data.entities.values():
        if "deleted" in ent:
            f, eq = ent["deleted"]["field"], ent["deleted"]["equals"]
            deleted += sum(1 for r in recs if get_path(r, f, ent["format"]) in eq)
    assert 0 < deleted < 0.04 * len(canon)
    systems_per_entity = Counter(
        len({r["system"] for r in data.truth if r["entity_key"] == k})
        for k in list(set(data.truth_key.values()))[:200]
    )
    assert systems_per_entity[1] > 0 and systems_per_entity[2] > 0


def test_hard_negative_cost_centers_same_code_and_name_other_company(data: DataSet) -> None:
    _ent, recs = data.entities[("ERP", "cost_center")]
    by_code: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for r in recs:
        key = data.truth_key[("cost_center", "ERP", r["AU_ID"])]
        by_code[r["ACCT_UNIT"]].add((r["COMPANY"], key))
    shared = [
        c
        for c, s in by_code.items()
        if len({comp for comp, _ in s}) >= 2 and len({k for _, k in s}) >= 2
    ]
    assert len(shared) >= 3


def test_hard_negative_departments_same_name_in_each_hospital(data: DataSet) -> None:
    _ent, recs = data.entities[("EHR", "location")]
    names: dict[str, set[str]] = defaultdict(set)
    for r in recs:
        if r["physicalType"] == "wa":
            n = re.sub(r"^(HH[A-Z0-9]*|CL\d+) ", "", r["name"]).lower()
            names[n].add(data.truth_key[("location", "EHR", r["id"])])
    assert any(len(keys) >= 3 for keys in names.values())


def test_hard_negative_item_families(data: DataSet) -> None:
    _ent, recs = data.entities[("PROCUREMENT", "item")]
    fam: dict[tuple[str, str], dict[str, tuple[Any, Any]]] = defaultdict(dict)
    for r in recs:
        g = r["gtin"]
        if not g or not g.isdigit():
            continue
        key = data.truth_key[("item", "PROCUREMENT", r["catalogItemId"])]
        fam[(r["manufacturer"]["name"], g.zfill(14)[1:8])][key] = (r["size"], r["sterile"])
    size_families = [f for f in fam.values() if len({s for s, _ in f.values()}) >= 2]
    assert len(size_families) >= 5
    sterile_pairs = [
        f
        for f in fam.values()
        if any(s1 == s2 and st1 != st2 for s1, st1 in f.values() for s2, st2 in f.values())
    ]
    assert sterile_pairs


def test_gtins_of_other_packaging_levels_across_systems(data: DataSet) -> None:
    canon = data.canonical()
    per_entity: dict[str, set[str]] = defaultdict(set)
    for (etype, system, sid), attrs in canon.items():
        g = attrs.get("gtin")
        if etype == "item" and g and gs1_ok(str(g)):
            per_entity[data.truth_key[(etype, system, sid)]].add(str(g).zfill(14))
    levels = [
        gs
        for gs in per_entity.values()
        if len({g[1:13] for g in gs}) == 1 and len({g[0] for g in gs}) >= 2
    ]
    assert len(levels) >= 10


def test_hard_negative_vendors_and_renewed_contracts(data: DataSet) -> None:
    _ent, recs = data.entities[("PROCUREMENT", "vendor")]
    _ent, erp = data.entities[("ERP", "vendor")]
    suffix = r"\b(INC|INCORPORATED|LLC|L L C|CORP|CORPORATION|CO|COMPANY|LTD|LIMITED|LP|L P)\b"

    def norm(n: str) -> str:
        n = re.sub(r"[^A-Z0-9& ]", " ", n.upper().split(" DBA ")[0])
        return " ".join(re.sub(suffix, " ", n).split())

    groups: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for r in recs:
        groups[norm(r["supplierName"])].add(
            (data.truth_key[("vendor", "PROCUREMENT", r["supplierId"])], r["remitTo"]["state"])
        )
    for r in erp:
        groups[norm(r["VENDOR_VNAME"])].add(
            (data.truth_key[("vendor", "ERP", r["VENDOR"])], r["STATE_PROV"])
        )
    twins = [g for g in groups.values() if len({k for k, _ in g}) >= 2]
    assert twins, "no two true vendors share a name"
    numbered = [
        r
        for r in recs + erp
        if re.search(
            r"HEALTH \d{3}\b", (r.get("supplierName") or r.get("VENDOR_VNAME") or "").upper()
        )
    ]
    assert (
        len(
            {
                data.truth_key.get(("vendor", "PROCUREMENT", r.get("supplierId", "")))
                or data.truth_key[("vendor", "ERP", r["VENDOR"])]
                for r in numbered
            }
        )
        >= 2
    )
    _ent, ctr = data.entities[("PROCUREMENT", "contract")]
    by_vendor_name: dict[tuple[str, str], set[str]] = defaultdict(set)
    numbers: dict[str, set[str]] = defaultdict(set)
    for r in ctr:
        key = data.truth_key[("contract", "PROCUREMENT", r["contractId"])]
        by_vendor_name[(r["supplierId"], r["title"].lower())].add(key)
        numbers[key].add(r["contractNumber"])
    renewals = [ks for ks in by_vendor_name.values() if len(ks) >= 2]
    assert renewals
    for ks in renewals:
        nums = [numbers[k] for k in ks]
        assert all(a.isdisjoint(b) for a in nums for b in nums if a is not b)


def test_clinics_share_a_street_address_with_other_suites(data: DataSet) -> None:
    _ent, recs = data.entities[("ERP", "location")]
    fac = [r for r in recs if r["LOC_TYPE"] == "FAC" and r["LOCATION"].startswith("CL")]
    by_street: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in fac:
        line = f"{r['ADDR1']} {r['ADDR2']}"
        street = re.split(r" (STE|BLDG|FL|RM|#)", line)[0]
        by_street[(street, r["CITY"])].add(data.truth_key[("location", "ERP", r["LOCATION"])])
    assert any(len(v) >= 2 for v in by_street.values())


def test_generator_check_digit_helpers_match_domain_vectors() -> None:
    from seed import identifiers

    for valid in ("8904000210037", "7300011000017", "96385074", "036000291452", "5790000121830"):
        assert identifiers.gs1_valid(valid) and gs1_ok(valid)
    assert not identifiers.gs1_valid("7350088110002")
    assert identifiers.gtin_with_indicator("5201234000001", 1) == "15201234000008"
    assert identifiers.gtin_with_indicator("5201234000001", 3) == "35201234000002"
    assert identifiers.gtin_with_indicator("036000291452", 1) == "10036000291459"
    assert identifiers.npi_valid("1234567893") and identifiers.npi_valid("1558598797")
    assert not identifiers.npi_valid("1234567890")
    assert identifiers.npi_check_digit("123456789") == "3"
    assert identifiers.hibc_check_char("+A1234BJC5D6E71") == "K"
    assert identifiers.hibc_check_char("159AZ") == "H"


def test_cli_prints_one_line_summary(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(GENERATE),
            "--out",
            str(tmp_path / "o"),
            "--scale",
            "0.1",
            "--seed",
            "3",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1 and "ERP.item=" in lines[0]
    assert (tmp_path / "o" / "truth.csv").exists()


def test_checked_in_data_set_is_small_and_current(gen: Any, tmp_path: Path) -> None:
    checked_in = ROOT / "seed" / "data"
    if not (checked_in / "truth.csv").exists():
        pytest.skip("seed/data not generated")
    size = sum(p.stat().st_size for p in checked_in.rglob("*") if p.is_file())
    assert size < 3_000_000
    gen.generate(tmp_path / "d", scale=1.0, seed=20261126)
    assert digest(tmp_path / "d") == digest(checked_in), (
        "seed/data is stale: python seed/generate.py --out seed/data --scale 1 --seed 20261126"
    )


# ------------------------------------------------------------------ changes files

CHANGES = {  # main file -> changes file (later versions of some of its records)
    "erp/vendors.csv": "erp/vendors_changes.csv",
    "erp/items.csv": "erp/items_changes.csv",
    "ehr/supply_items.jsonl": "ehr/supply_items_changes.jsonl",
    "procurement/suppliers.jsonl": "procurement/suppliers_changes.jsonl",
    "procurement/catalog.jsonl": "procurement/catalog_changes.jsonl",
}
# attributes that identify the real-world entity: a change may only fill in a missing one
IDENTITY = {
    "vendor": ("tax_id", "duns", "gln", "vendor_type", "parent"),
    "item": (
        "gtin",
        "hibc",
        "manufacturer",
        "manufacturer_name",
        "manufacturer_part_number",
        "vendor",
        "vendor_catalog_number",
        "unspsc",
        "hcpcs",
        "pack_quantity",
        "size",
        "sterile",
        "latex_free",
    ),
}


@pytest.fixture(scope="module")
def big(gen: Any, tmp_path_factory: pytest.TempPathFactory) -> DataSet:
    """Scale 3: enough change rows per file to measure shares."""
    out = tmp_path_factory.mktemp("seed_changes")
    return DataSet(out, gen.generate(out, scale=3, seed=SEED))


def _deleted(ent: dict[str, Any], rec: dict[str, Any]) -> bool:
    d = ent.get("deleted")
    return d is not None and get_path(rec, d["field"], ent["format"]) in d["equals"]


def test_changes_files_are_mapped_right_after_their_main_file(data: DataSet) -> None:
    for m in data.mappings.values():
        files = [e["file"] for e in m["entity"]]
        for main, later in CHANGES.items():
            if main not in files:
                continue
            i = files.index(main)
            assert files[i + 1] == later, f"{later} must follow {main}"
            a, b = m["entity"][i], m["entity"][i + 1]
            assert {k: v for k, v in a.items() if k != "file"} == {
                k: v for k, v in b.items() if k != "file"
            }
            assert (data.root / later).is_file()
    assert {e["file"] for e, _ in data.changes.values()} == set(CHANGES.values())


def test_changes_reference_existing_records_in_small_shares(big: DataSet) -> None:
    total = main_total = deleted = 0
    for (system, etype), (ent, recs) in big.changes.items():
        main_ent, main_recs = big.entities[(system, etype)]
        main_ids = {str(get_path(r, main_ent["source_id"], main_ent["format"])) for r in main_recs}
        ids = [str(get_path(r, ent["source_id"], ent["format"])) for r in recs]
        assert ids, f"{ent['file']} is empty"
        assert set(ids) <= main_ids, f"{ent['file']}: source ids not in {main_ent['file']}"
        assert len(ids) <= 0.07 * len(main_recs), ent["file"]
        total += len(ids)
        main_total += len(main_recs)
        deleted += sum(_deleted(ent, r) for r in recs)
    assert 0.015 * main_total < total < 0.05 * main_total
    assert 0 < deleted < 0.015 * main_total


def test_changes_are_real_changes_that_keep_identity(big: DataSet) -> None:
    first = big.canonical(latest=False)
    by_entity: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for (etype, system, sid), attrs in first.items():
        by_entity[big.truth_key[(etype, system, sid)]].append(attrs)
    n = changed = 0
    kinds: Counter[str] = Counter()
    for (system, etype), (ent, recs) in big.changes.items():
        for rec in recs:
            sid = str(get_path(rec, ent["source_id"], ent["format"]))
            before = first[(etype, system, sid)]
            assert not _deleted(big.entities[(system, etype)][0], _find(big, system, etype, sid))
            after = {a: attr_value(rec, s, ent["format"]) for a, s in ent["attributes"].items()}
            diff = {a for a in after if after[a] != before[a]}
            if _deleted(ent, rec):
                assert diff == {"status"}, (ent["file"], sid, diff)
                continue
            n += 1
            changed += bool(diff)
            kinds.update(diff)
            for a in IDENTITY[etype]:
                if a not in diff:
                    continue
                # only a missing value filled in, with the value other records of it carry
                assert before[a] is None, (ent["file"], sid, a, before[a], after[a])
                key = big.truth_key[(etype, system, sid)]
                known = {_ident(a, o[a]) for o in by_entity[key] if o.get(a) is not None}
                if a == "gtin":
                    assert gs1_ok(str(after[a]))
                    known = {g[1:13] for g in known}
                    assert not known or str(after[a]).zfill(14)[1:13] in known
                else:
                    assert not known or _ident(a, after[a]) in known, (sid, a, after[a], known)
    assert n > 50
    assert changed >= 0.9 * n
    # the documented kinds of change all occur
    for a in ("address_line1", "phone", "name", "status", "price", "description", "gtin"):
        assert kinds[a] > 0, (a, kinds)


def _find(data: DataSet, system: str, etype: str, sid: str) -> dict[str, Any]:
    ent, recs = data.entities[(system, etype)]
    return next(r for r in recs if str(get_path(r, ent["source_id"], ent["format"])) == sid)


def _ident(attr: str, value: Any) -> str:
    v = str(value)
    return v.zfill(14) if attr == "gtin" else re.sub(r"\D", "", v) if attr == "tax_id" else v


# ------------------------------------------------------------------ context patterns

CODED = {  # attributes whose values are transcoded by reference data, not by value maps
    ("cost_center", "company"): "company",
    ("location", "location_type"): "location_type",
    ("contract", "gpo"): "gpo",
    ("contract", "tier"): "contract_tier",
}
UNITS_TSV = ROOT / "matchers" / "data" / "hospital_units.tsv"


def _fold(value: str) -> str:
    """The hub's comparison of a coded value: upper case, runs of spaces collapsed."""
    return " ".join(value.split()).upper()


def _unprefixed(name: str) -> str:
    """A department name without the facility code some records put in front."""
    return re.sub(r"^(HH[A-Z0-9]*|CL\d+) ", "", _fold(name))


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def reference_data(root: Path) -> tuple[dict[str, set[str]], dict[tuple[str, str, str], str]]:
    hdr, rows = _read_csv(root / "code_sets.csv")
    assert hdr == ["code_set", "code", "display"]
    codes: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        assert r["code"] and r["code"] == r["code"].strip(), r
        assert r["code"] not in codes[r["code_set"]], ("duplicate code", r)
        codes[r["code_set"]].add(r["code"])
    hdr, rows = _read_csv(root / "transcodings.csv")
    assert hdr == ["code_set", "system", "source_value", "code"]
    trans: dict[tuple[str, str, str], str] = {}
    for r in rows:
        k = (r["code_set"], r["system"], _fold(r["source_value"]))
        assert k not in trans, ("duplicate transcoding", r)
        assert r["code"] in codes[r["code_set"]], ("target is not a canonical code", r)
        assert r["system"] in ("ERP", "EHR", "PROCUREMENT")
        trans[k] = r["code"]
    return codes, trans


def _companies(root: Path) -> list[dict[str, str]]:
    return [r for r in _read_csv(root / "code_sets.csv")[1] if r["code_set"] == "company"]


def test_reference_data_files_are_valid(data: DataSet) -> None:
    codes, trans = reference_data(data.root)
    assert codes["location_type"] == {"SYSTEM", "FACILITY", "DEPARTMENT", "STOREROOM", "PAR"}
    assert codes["contract_tier"] == {"1", "2", "3", "4"}
    assert {"KPA", "CHS", "LOCAL"} <= codes["gpo"]
    for phys, code in [("jdn", "SYSTEM"), ("si", "FACILITY"), ("wa", "DEPARTMENT")]:
        assert trans[("location_type", "EHR", phys.upper())] == code
    assert trans[("location_type", "EHR", "RO")] == "STOREROOM"
    assert trans[("location_type", "EHR", "CA")] == "PAR"
    assert trans[("contract_tier", "PROCUREMENT", "TIER 2")] == "2"
    # every coded value in the data is a canonical code or transcoded, except the
    # procurement company names (deliberately unmapped, listed in defects.csv)
    unmapped = {(d["system"], d["source_id"]) for d in data.defects if d["kind"] == "unmapped_code"}
    assert unmapped
    seen: Counter[tuple[str, str]] = Counter()
    for (etype, system, sid), attrs in data.canonical().items():
        for (ctype, attr), code_set in CODED.items():
            v = attrs.get(attr) if ctype == etype else None
            if v is None:
                continue
            folded = _fold(str(v))
            ok = folded in codes[code_set] or (code_set, system, folded) in trans
            seen[(system, "mapped" if ok else "unmapped")] += 1
            assert ok != ((system, sid) in unmapped and attr == "company"), (etype, sid, v)
    assert seen[("PROCUREMENT", "unmapped")] == len(unmapped)


def test_mappings_leave_coded_attributes_to_reference_data(data: DataSet) -> None:
    status_maps = 0
    for m in data.mappings.values():
        for ent in m["entity"]:
            for attr, spec in ent["attributes"].items():
                if (ent["type"], attr) in CODED:
                    assert not (isinstance(spec, dict) and "values" in spec), (ent["file"], attr)
                status_maps += attr == "status" and isinstance(spec, dict) and "values" in spec
    assert status_maps >= 4  # value maps stay for status, uom, ...


def test_procurement_company_names_are_not_transcoded(big: DataSet) -> None:
    _codes, trans = reference_data(big.root)
    companies = _companies(big.root)
    mnemonic = {k[2]: code for k, code in trans.items() if k[:2] == ("company", "PROCUREMENT")}
    names = {_fold(c["display"]): c["code"] for c in companies}
    assert len(mnemonic) == len(companies) and set(mnemonic.values()) == set(names.values())
    for n in names:  # no company name is transcoded, in any system
        assert not any(k[0] == "company" and k[2] == n for k in trans), n
    _ent, recs = big.entities[("PROCUREMENT", "cost_center")]
    kinds: Counter[str] = Counter()
    variants = 0
    for r in recs:
        v = _fold(r["company"])
        assert v in mnemonic or v in names, r
        kinds["name" if v in names else "mnemonic"] += 1
        variants += v in names and r["company"] not in {c["display"] for c in companies}
    share = kinds["name"] / len(recs)
    assert 0.15 < share < 0.35, kinds
    assert variants > 0  # case and spacing variants of the names occur


def test_companies_grow_with_scale(data: DataSet, big: DataSet) -> None:
    small, large = _companies(data.root), _companies(big.root)
    assert [c["code"] for c in small] == ["1000", "2000", "3000"]
    assert [c["display"] for c in small] == [
        "Hope Health North",
        "Hope Health South",
        "Hope Health East",
    ]
    assert len(large) > len(small) and large[:3] == small
    assert len({c["code"] for c in large}) == len({_fold(c["display"]) for c in large})
    # every company has its hospital and cost centers in the ERP
    _ent, recs = big.entities[("ERP", "cost_center")]
    assert {r["COMPANY"] for r in recs} == {c["code"] for c in large}


def _loc_type(rec: dict[str, Any], system: str) -> str:
    return str(rec["LOC_TYPE"] if system == "ERP" else rec["physicalType"])


def test_department_parent_is_the_systems_own_facility_record(big: DataSet) -> None:
    dangling = big.defect_set("dangling_ref")
    fac_type = {"ERP": "FAC", "EHR": "si"}
    for system in ("ERP", "EHR"):
        ent, recs = big.entities[(system, "location")]
        by_id = {str(get_path(r, ent["source_id"], ent["format"])): r for r in recs}
        parent_field = ent["attributes"]["parent"]
        with_parent = 0
        for sid, r in by_id.items():
            if _loc_type(r, system) != {"ERP": "DEPT", "EHR": "wa"}[system]:
                continue
            parent = r[parent_field]
            if not parent or ("location", system, sid, "parent") in dangling:
                continue
            with_parent += 1
            p = by_id[parent]
            assert _loc_type(p, system) == fac_type[system], (system, sid, parent)
            if system == "ERP":
                assert p["COMPANY"] == r["COMPANY"]
        assert with_parent > 20, system


def test_ehr_departments_without_address_are_told_apart_by_parent(big: DataSet) -> None:
    _ent, recs = big.entities[("EHR", "location")]
    depts = [r for r in recs if r["physicalType"] == "wa"]
    bare = [r for r in depts if r["address.line1"] is None and r["address.city"] is None]
    assert 0.45 < len(bare) / len(depts) < 0.75
    listed = {d["source_id"] for d in big.defects if d["kind"] == "no_address"}
    assert {r["id"] for r in bare} == listed
    # the same department name under several facilities: only partOf tells them apart
    by_name: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for r in bare:
        if r["partOf"]:
            key = big.truth_key[("location", "EHR", r["id"])]
            by_name[_unprefixed(r["name"])].add((r["partOf"], key))
    shared = [v for v in by_name.values() if len({p for p, _ in v}) >= 2]
    assert shared
    for v in shared:  # departments of different hospitals are different entities
        parents_of = defaultdict(set)
        for p, k in v:
            parents_of[k].add(p)
        assert all(len(ps) == 1 for ps in parents_of.values())


def test_same_department_name_under_many_facilities(big: DataSet) -> None:
    for system, field in (("EHR", "name"), ("ERP", "NAME")):
        ent, recs = big.entities[(system, "location")]
        parents: dict[str, set[str]] = defaultdict(set)
        for r in recs:
            if _loc_type(r, system) in ("wa", "DEPT") and r[ent["attributes"]["parent"]]:
                parents[_unprefixed(r[field])].add(r[ent["attributes"]["parent"]])
        assert max(len(p) for p in parents.values()) >= 3, system


def test_location_codes_are_each_systems_own(data: DataSet) -> None:
    canon = data.canonical(latest=False)
    codes: dict[str, list[str]] = defaultdict(list)
    for (etype, system, _sid), attrs in canon.items():
        if etype == "location":
            assert attrs["code"], (system, _sid)
            codes[system].append(str(attrs["code"]))
    for system, cs in codes.items():
        assert len(cs) == len(set(cs)), system
    assert not set(codes["ERP"]) & set(codes["EHR"])


def test_unknown_abbreviations_are_not_in_the_hub_vocabulary(big: DataSet) -> None:
    known = set()
    for line in UNITS_TSV.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            known.add(line.split("\t")[0])

    def fold(text: str) -> str:
        return " ".join(re.sub(r"[^A-Z0-9 ]", " ", text.upper().replace("&", " AND ")).split())

    listed = [d for d in big.defects if d["kind"] == "unknown_abbreviation"]
    assert {d["system"] for d in listed} == {"ERP", "EHR"}
    assert {d["entity_type"] for d in listed} == {"location", "cost_center"}
    for d in listed:
        assert fold(d["value"]) not in known, d
        assert (d["entity_type"], d["system"], d["source_id"]) in big.truth_key


def test_cost_centers_reference_their_location(big: DataSet) -> None:
    ent, erp_locs = big.entities[("ERP", "location")]
    loc = {r["LOCATION"]: r for r in erp_locs}
    dangling = big.defect_set("dangling_ref")
    _e, erp_cc = big.entities[("ERP", "cost_center")]
    n = 0
    for r in erp_cc:
        if r["LOCATION"] and ("cost_center", "ERP", r["AU_ID"], "location") not in dangling:
            n += 1
            assert loc[r["LOCATION"]]["COMPANY"] == r["COMPANY"]
    assert n > 0.3 * len(erp_cc)
    _e, proc_cc = big.entities[("PROCUREMENT", "cost_center")]
    with_loc = [r for r in proc_cc if r["shipToLocation"]]
    assert 0.2 * len(proc_cc) < len(with_loc)
