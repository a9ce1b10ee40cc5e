"""Match quality on the public benchmarks of /work/shared/benchmarks, loaded cold via the CLI.

    python bench/external.py CASE_DIR [CASE_DIR ...] [--database-url URL] [--json]

For each case folder (``<entity_type>.csv``, ``truth.csv``, ``case.json``; format in the
benchmarks' README): splits each entity CSV per ``source_system`` into a temporary folder
and writes one identity mapping per system (case column -> the canonical attribute of the
same name, or of the same meaning for the format's few renamed columns, see ``RENAMED``;
columns with no canonical attribute are dropped and reported). System codes are derived
from the benchmark's names the same way for every case (``system_code``). Then runs, each
as a subprocess, ``mdm db upgrade`` and ``mdm load FOLDER -q`` (timed) on a fresh SQLite
file (or ``--database-url``; with several cases it must contain ``{case}``), with no
``MDM_*`` variables: the default configuration. Clusters are read back through
``mdm.crosswalk`` (following merges); a record the hub does not hold (rejected) counts as
a singleton. Prints, per entity type, pairwise and B-cubed precision / recall / F1 against
``truth.csv`` beside the README's baselines and the target (best baseline + 0.03, at most
0.99), and the load's rejections by code and field. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Hashable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from matchers import evaluate_clusters  # noqa: E402
from mdm.crosswalk import follow_merges, resolve_many  # noqa: E402
from mdm.specs import DEFAULT_SPECS  # noqa: E402
from mdm.store import Database, IngestRejection, MatchCandidate, SourceRecord  # noqa: E402

# Columns of the benchmark format whose canonical attribute has another name.
RENAMED = {
    "dba": "dba_name",
    "address1": "address_line1",
    "address2": "address_line2",
    "mfr_part_number": "manufacturer_part_number",
    "manufacturer": "manufacturer_name",  # a name in the benchmarks, a vendor id in the hub
    "pack_qty": "pack_quantity",
    "unit_price": "price",
    "parent_code": "parent",  # a reference to a record of the same system
}
# README "figures to beat": pairwise F1 (the previous hub's B-cubed F1 in hub_b3).
_KEYS = ("exact", "fuzzy", "splink", "hub", "hub_b3")
BASELINES: dict[str, dict[str, float]] = {
    case: dict(zip(_KEYS, row, strict=True))
    for case, row in {
        "fodors_zagat": (0.820, 0.835, 0.915, 0.926, 0.993),
        "febrl3": (0.912, 0.782, 0.998, 0.519, 0.764),
        "chicago_early_childhood": (0.506, 0.549, 0.850, 0.594, 0.779),
        "abt_buy": (0.018, 0.111, 0.367, 0.000, 0.667),
    }.items()
}
BASELINES["abt_buy"]["fuzzy_token_set"] = 0.215
_CODE_MAX = 64  # mdm.systems: ^[A-Z][A-Z0-9_]{0,63}$


def system_code(name: str) -> str:
    """A valid system code for a benchmark's source name: upper case, non-alnum -> ``_``,
    a letter first, too long -> truncated plus 8 hex of its SHA-1."""
    code = re.sub(r"[^A-Z0-9]+", "_", name.upper()).strip("_") or "SYSTEM"
    if not code[0].isalpha():
        code = "S_" + code
    if len(code) > _CODE_MAX:
        code = code[: _CODE_MAX - 9] + "_" + hashlib.sha1(name.encode()).hexdigest()[:8].upper()
    return code


def target(case: str) -> float | None:
    base = BASELINES.get(case)
    if base is None:
        return None
    best = max(v for k, v in base.items() if not k.startswith("hub"))
    return min(round(best + 0.03, 3), 0.99)


@dataclass
class TypeResult:
    entity_type: str
    records: int
    loaded: int
    true_pairs: int
    predicted_pairs: int
    pending_review: int  # match candidates left for a steward
    pairwise: dict[str, float]
    bcubed: dict[str, float]


@dataclass
class CaseResult:
    case: str
    load_seconds: float = 0.0
    systems: dict[str, str] = field(default_factory=dict)  # benchmark name -> code
    dropped: dict[str, int] = field(default_factory=dict)  # "type.column" -> non-empty values
    types: list[TypeResult] = field(default_factory=list)
    rejected: int = 0
    rejections: list[dict[str, Any]] = field(default_factory=list)  # code, field, count, e.g.
    baseline: dict[str, float] = field(default_factory=dict)
    target: float | None = None
    error: str | None = None


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def write_mappings(case_dir: Path, out: Path, result: CaseResult) -> None:
    """Split each ``<type>.csv`` per system and write one identity mapping per system."""
    types = [p.stem for p in sorted(case_dir.glob("*.csv")) if p.stem in DEFAULT_SPECS]
    tables: dict[str, list[str]] = defaultdict(list)  # system code -> [[entity]] tables
    for entity_type in types:
        spec = DEFAULT_SPECS[entity_type]
        with (case_dir / f"{entity_type}.csv").open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            header = list(reader.fieldnames or [])
            rows = list(reader)
        by_system: dict[str, list[dict[str, str]]] = defaultdict(list)
        for row in rows:
            by_system[row["source_system"]].append(row)
        attributes: dict[str, str] = {}
        for column in header[2:]:
            name = RENAMED.get(column, column)
            if spec.attribute(name) is None:
                filled = sum(1 for r in rows if r[column])
                result.dropped[f"{entity_type}.{column}"] = filled
                log(f"  {case_dir.name}: {entity_type}.{column} dropped (no canonical "
                    f"attribute; {filled} non-empty values)")  # fmt: skip
            else:
                attributes[name] = column
        for system, system_rows in sorted(by_system.items()):
            code = result.systems.setdefault(system, system_code(system))
            file = f"{code}.{entity_type}.csv"
            with (out / file).open("w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=header)
                writer.writeheader()
                writer.writerows(system_rows)
            lines = [f'[[entity]]\ntype = "{entity_type}"\nfile = "{file}"\nformat = "csv"',
                     'source_id = "source_id"\n\n[entity.attributes]']  # fmt: skip
            for name, column in attributes.items():
                reference = spec.attribute(name).reference is not None  # type: ignore[union-attr]
                rule = (
                    f'{{ field = "{column}", system = "{code}" }}' if reference else f'"{column}"'
                )
                lines.append(f"{name} = {rule}")
            tables[code].append("\n".join(lines))
    for system, code in result.systems.items():
        head = f'[system]\ncode = "{code}"\nname = {json.dumps(system)}\n\n'
        (out / f"{code}.toml").write_text(head + "\n\n".join(tables[code]) + "\n", "utf-8")


def run_cli(args: list[str], database_url: str) -> subprocess.CompletedProcess[str]:
    mdm = Path(sys.executable).parent / "mdm"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MDM_")}
    command = [str(mdm), *args, "--database-url", database_url]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"`mdm {' '.join(args)}` exited {done.returncode}: {last[0]}")
    return done


def read_truth(case_dir: Path, codes: dict[str, str]) -> dict[str, dict[str | int, Hashable]]:
    """Entity type -> ``"SYSTEM/source id"`` -> entity key."""
    truth: dict[str, dict[str | int, Hashable]] = defaultdict(dict)
    with (case_dir / "truth.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            code = codes.get(row["source_system"]) or system_code(row["source_system"])
            truth[row["entity_type"]][f"{code}/{row['source_id']}"] = row["entity_key"]
    return truth


def pairs(labels: Mapping[Any, Hashable]) -> int:
    return sum(n * (n - 1) // 2 for n in Counter(labels.values()).values())


def score(database: Database, case_dir: Path, result: CaseResult) -> None:
    truth = read_truth(case_dir, result.systems)
    with database.read_session() as session:
        candidate = MatchCandidate
        pending: dict[str, int] = dict(
            session.execute(
                select(candidate.entity_type, func.count())
                .where(candidate.status == "pending")
                .group_by(candidate.entity_type)
            ).all()
        )
        for entity_type, labels in sorted(truth.items()):
            by_system: dict[str, list[str]] = defaultdict(list)
            for key in labels:
                system, source_id = str(key).split("/", 1)
                by_system[system].append(source_id)
            golden: dict[str | int, str] = {}
            for system, ids in by_system.items():
                for start in range(0, len(ids), 1000):
                    found = resolve_many(session, entity_type, system, ids[start : start + 1000])
                    for sid, entry in found.items():
                        if entry.golden_id is not None:
                            golden[f"{system}/{sid}"] = entry.golden_id
            survivor: dict[str, str] = {}
            for public_id in set(golden.values()):
                record = follow_merges(session, public_id)
                survivor[public_id] = record.public_id if record is not None else public_id
            predicted: dict[str | int, Hashable] = {
                key: survivor[golden[key]] if key in golden else ("alone", key) for key in labels
            }  # records the hub does not hold (rejected) stay alone
            ev = evaluate_clusters(predicted, labels, max_examples=0)
            result.types.append(
                TypeResult(
                    entity_type=entity_type,
                    records=len(labels),
                    loaded=len(golden),
                    true_pairs=pairs(labels),
                    predicted_pairs=pairs(predicted),
                    pending_review=pending.get(entity_type, 0),
                    pairwise={
                        "p": ev.pairwise_precision,
                        "r": ev.pairwise_recall,
                        "f1": ev.pairwise_f1,
                    },  # fmt: skip
                    bcubed={"p": ev.bcubed_precision, "r": ev.bcubed_recall, "f1": ev.bcubed_f1},
                )
            )
        rejection = IngestRejection
        grouped = session.execute(
            select(rejection.code, rejection.field, func.count(), func.min(rejection.message))
            .group_by(rejection.code, rejection.field)
            .order_by(func.count().desc())
        ).all()
        result.rejected = sum(n for _, _, n, _ in grouped)
        result.rejections = [
            {"code": c, "field": f, "count": n, "example": m} for c, f, n, m in grouped[:5]
        ]


def run_case(case_dir: Path, url_template: str | None) -> CaseResult:
    result = CaseResult(case_dir.name, baseline=dict(BASELINES.get(case_dir.name, {})))
    result.target = target(case_dir.name)
    with tempfile.TemporaryDirectory(prefix=f"mdm-ext-{case_dir.name}-") as tmp:
        folder = Path(tmp) / "mappings"
        folder.mkdir()
        write_mappings(case_dir, folder, result)
        url = (url_template.replace("{case}", case_dir.name) if url_template
               else f"sqlite:///{Path(tmp) / 'hub.sqlite3'}")  # fmt: skip
        try:
            run_cli(["db", "upgrade"], url)
            database = Database(url)
            try:
                with database.read_session() as session:
                    held = session.scalar(select(func.count()).select_from(SourceRecord)) or 0
                if held:
                    log(f"  WARNING {case_dir.name}: database not cold ({held} source records)")
                log(f"  {case_dir.name}: mdm load ({', '.join(result.systems.values())})")
                started = time.perf_counter()
                run_cli(["load", str(folder), "-q"], url)
                result.load_seconds = time.perf_counter() - started
                score(database, case_dir, result)
            finally:
                database.dispose()
        except Exception as error:  # noqa: BLE001 - reported, the other cases still run
            result.error = f"{type(error).__name__}: {error}"
    return result


def report(result: CaseResult) -> None:
    renamed = [f"{k}->{v}" for k, v in result.systems.items() if k.upper() != v]
    codes = f"{len(result.systems)} systems" + (f" ({', '.join(renamed)})" if renamed else "")
    print(f"\n== {result.case}  (load {result.load_seconds:.1f} s; {codes})")
    if result.error:
        print(f"   ERROR {result.error}")
        return
    head = ("type", "records", "loaded", "true pr", "pred pr", "pair P", "pair R", "pair F1",
            "B3 P", "B3 R", "B3 F1", "review", "load s")  # fmt: skip
    print("   " + " ".join(f"{h:>9}" for h in head))
    for t in result.types:
        cells = [t.entity_type, t.records, t.loaded, t.true_pairs, t.predicted_pairs]
        cells += [f"{t.pairwise[k]:.3f}" for k in ("p", "r", "f1")]
        cells += [f"{t.bcubed[k]:.3f}" for k in ("p", "r", "f1")]
        cells += [t.pending_review, f"{result.load_seconds:.1f}"]
        print("   " + " ".join(f"{c:>9}" for c in cells))
    b = result.baseline
    if b:
        f1 = result.types[0].pairwise["f1"] if result.types else 0.0
        token = f" (token set {b['fuzzy_token_set']:.3f})" if "fuzzy_token_set" in b else ""
        print(f"   README pairwise F1: exact id {b['exact']:.3f} | fuzzy name {b['fuzzy']:.3f}"
              f"{token} | Splink 5 {b['splink']:.3f} | hub before {b['hub']:.3f} "
              f"(B3 {b['hub_b3']:.3f}) | target {result.target:.3f} | now {f1:.3f} "
              f"({f1 - (result.target or 0):+.3f} vs target)")  # fmt: skip
    for name, filled in result.dropped.items():
        print(f"   dropped column {name} ({filled} non-empty values)")
    print(f"   rejected records: {result.rejected}")
    for r in result.rejections:
        print(f"     {r['count']:>6}  {r['code']} on {r['field']}: {r['example']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cases", nargs="+", type=Path, metavar="CASE_DIR")
    parser.add_argument("--database-url", help="instead of a temp SQLite file ({case}: name)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    if args.database_url and len(args.cases) > 1 and "{case}" not in args.database_url:
        parser.error("several cases need a --database-url containing {case} (each loads cold)")
    results = []
    # A shell glob over the benchmarks folder names its README too: only folders are cases.
    for case_dir in (c for c in args.cases if c.is_dir() or not c.exists()):
        log(f"{case_dir.name}: loading")
        results.append(run_case(case_dir.resolve(), args.database_url))
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))
    else:
        for result in results:
            report(result)
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
