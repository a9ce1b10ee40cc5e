"""Match quality and wall time: this engine vs an exact-identifier baseline vs Splink.

    python bench/match.py [--size 100000] [--seed 20261127] [--sides engine,baseline,splink]
                          [--out-dir DIR] [--threshold P] [--u-max-pairs 1e7]
                          [--examples 0]

Generates about ``--size`` source records with the seed generator (scale = size / 2,000)
into a temporary folder (or ``--out-dir``), then runs, on that same data:

- **engine**: a fresh SQLite file, ``mdm.store.upgrade``, ``mdm.loader.load`` of every
  mapping (an initial load, so the bulk path) -- timed -- then ``quality_report`` against
  ``truth.csv`` (timed separately).
- **baseline**: exact identifier matching, union-find over records sharing any of the
  spec's ``match_keys`` (validated identifiers only).
- **splink**: Splink 5 on DuckDB, one dedupe_only model per entity type: comparisons,
  blocking rules, ``estimate_probability_two_random_records_match`` from deterministic
  rules, ``estimate_u_using_random_sampling``, EM on two blocking rules, ``predict`` and
  ``cluster_pairwise_predictions_at_threshold`` at a match-probability threshold per type,
  tuned once on the development seed (20261126, size 20,000) and fixed here
  (``--threshold`` sets one for all types instead). A failure of one entity type is
  reported, not fatal.

The baseline and Splink read every mapping's files with the hub's own mapping and
standardization (``load_mapping``, ``read_rows``, ``attributes_of``, ``standardize``), so
all sides see the same cleaned canonical values; deleted records are dropped, records that
fail standardization are dropped and counted. That shared preparation is timed on its own
line and is not in the baseline's or Splink's time (the engine's time includes its own
reading and standardizing). Every side is scored on its non-deleted, labelled records with
``matchers.evaluate_clusters`` (pairwise precision / recall / F1). Prints figures; asserts
nothing.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import logging
import re
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from matchers import evaluate_clusters  # noqa: E402
from mdm.errors import MdmError  # noqa: E402
from mdm.loader import find_mappings  # noqa: E402
from mdm.mapping import load_mapping  # noqa: E402
from mdm.readers import read_rows  # noqa: E402
from mdm.specs import DEFAULT_SPECS  # noqa: E402
from mdm.standardize import match_keys, standardize  # noqa: E402
from mdm.truth import TruthFile  # noqa: E402

RECORDS_PER_SCALE = 2000
DEVELOPMENT_SEED = 20261126
SIDES = ("engine", "no-context", "baseline", "splink")

RecordKey = tuple[str, str]  # (system, source id)


# --------------------------------------------------------------------------- results


@dataclass
class TypeResult:
    """One side's figures for one entity type."""

    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    bcubed_f1: float | None = None
    clusters: int | None = None
    error: str | None = None
    seconds: float | None = None


@dataclass
class SideResult:
    """One side's figures for every entity type, and its wall time."""

    name: str
    seconds: float | None = None
    records: int = 0
    types: dict[str, TypeResult] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str | None = None


def scored(predicted: dict[Any, Any], truth: dict[Any, str]) -> TypeResult:
    evaluation = evaluate_clusters(predicted, truth, max_examples=0)
    return TypeResult(
        precision=evaluation.pairwise_precision,
        recall=evaluation.pairwise_recall,
        f1=evaluation.pairwise_f1,
        bcubed_f1=evaluation.bcubed_f1,
        clusters=evaluation.n_clusters,
    )


# --------------------------------------------------------------------------- data


def generate(out: Path, size: int, seed: int) -> int:
    spec = importlib.util.spec_from_file_location("seed_generate", ROOT / "seed" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    counts: dict[str, int] = module.generate(out, scale=size / RECORDS_PER_SCALE, seed=seed)
    return sum(counts.values())


@dataclass
class Prepared:
    """The standardized, non-deleted records of one entity type, as every side sees them."""

    keys: list[RecordKey] = field(default_factory=list)
    values: list[dict[str, Any]] = field(default_factory=list)
    truth: dict[int, str] = field(default_factory=dict)  # record index -> entity (labelled)
    read: int = 0
    deleted: int = 0
    failed: int = 0
    unlabelled: int = 0


def prepare(data: Path) -> dict[str, Prepared]:
    """Read and standardize every mapping's records with the hub's own code.

    Files are read in mapping order; a later row with the same source id (a file of
    changes) replaces the record, or removes it when it is a deletion, as a load does.
    """
    from mdm.codes import CodeBook
    from mdm.reference import find_reference_files, read_reference_files

    # The same reference data the engine loads: coded values are transcoded for every side.
    files = read_reference_files(find_reference_files(data))
    codes: dict[str, set[str]] = {}
    for row in files.codes:
        codes.setdefault(row.code_set, set()).add(row.code)
    book = CodeBook(
        codes={name: frozenset(found) for name, found in codes.items()},
        transcodings={(t.code_set, t.system, t.source_value): t.code for t in files.transcodings},
    )
    prepared = {name: Prepared() for name in DEFAULT_SPECS}
    latest: dict[str, dict[RecordKey, dict[str, Any] | None]] = {name: {} for name in DEFAULT_SPECS}
    for path in find_mappings(data):
        system = load_mapping(path, DEFAULT_SPECS)
        for entity in system.entities:
            if entity.file is None:
                continue
            spec = DEFAULT_SPECS[entity.entity_type]
            into = prepared[spec.name]
            records = latest[spec.name]
            for _, row in read_rows(entity.file, entity.format):
                into.read += 1
                key = (system.code, entity.source_id_of(row))
                if entity.is_deleted(row):
                    into.deleted += 1
                    records[key] = None
                    continue
                try:
                    records[key] = standardize(
                        spec,
                        entity.attributes_of(row),
                        codes=book,
                        system=system.code,
                        date_format=entity.date_format,
                    ).values
                except MdmError:
                    into.failed += 1
    for name, records in latest.items():
        into = prepared[name]
        for key, values in records.items():
            if values is not None:
                into.keys.append(key)
                into.values.append(values)
    truth = TruthFile(data, DEFAULT_SPECS)
    for name, into in prepared.items():
        labels = truth.labels(name)
        for index, key in enumerate(into.keys):
            entity = labels.get(key)
            if entity is None:
                into.unlabelled += 1
            else:
                into.truth[index] = entity
    return prepared


# --------------------------------------------------------------------------- engine


def run_engine(
    data: Path, workdir: Path, records: int, examples: int, *, context: bool = True
) -> SideResult:
    """The engine; ``context=False`` takes context evidence away (no resolved parents, no
    learned or label correspondences; transcodings still apply), to show what it adds."""
    from mdm.codes import CodeBookCache
    from mdm.context import plain_codes, without_context
    from mdm.hub import Hub
    from mdm.ingest import Ingestor
    from mdm.loader import load
    from mdm.quality import quality_report
    from mdm.settings import Settings
    from mdm.store import upgrade

    side = "engine" if context else "no-context"
    result = SideResult(side, records=records)
    url = f"sqlite:///{workdir / f'{side}.sqlite3'}"
    upgrade(url)
    hub = Hub(Settings(database_url=url))
    specs = DEFAULT_SPECS
    if not context:
        specs = without_context(DEFAULT_SPECS)
        cache = CodeBookCache()
        hub.ingestor = Ingestor(specs, codes=lambda session: plain_codes(cache.get(session)))
    try:
        started = time.perf_counter()
        summary = load(
            hub.database, hub.ingestor, find_mappings(data), workers=hub.settings.bulk_workers
        )
        result.seconds = time.perf_counter() - started
        statuses = Counter({s: summary.total(s) for s in ("created", "updated", "rejected")})
        result.notes.append(
            "load: "
            + ", ".join(f"{n:,} {s}" for s, n in statuses.items())
            + f"; {summary.total():,} records"
        )
        started = time.perf_counter()
        with hub.database.read_session() as session:
            report = quality_report(session, specs, TruthFile(data), examples=examples)
        result.notes.append(f"quality_report: {time.perf_counter() - started:,.1f}s (not timed)")
    finally:
        hub.close()
    for q in report.entity_types:
        result.types[q.entity_type] = TypeResult(
            precision=q.pairwise.precision,
            recall=q.pairwise.recall,
            f1=q.pairwise.f1,
            bcubed_f1=q.bcubed.f1,
            clusters=q.golden_records,
        )
        completeness = "-" if q.pair_completeness is None else f"{q.pair_completeness:.4f}"
        result.notes.append(
            f"{q.entity_type}: {q.records:,} records, {q.golden_records:,} golden for "
            f"{q.true_entities:,} true entities, pair completeness {completeness}, "
            f"pending review {q.pending_review:,}, unlabelled {q.unlabelled:,}"
        )
        for kind, pairs in (("false merge", q.false_merges), ("missed", q.missed_matches)):
            for example in pairs:
                weight = "-" if example.match_weight is None else f"{example.match_weight:.1f}"
                result.notes.append(
                    f"  {kind} w={weight}: {example.left.system}:{example.left.source_id} "
                    f"({example.left.entity_key}) ~ {example.right.system}:"
                    f"{example.right.source_id} ({example.right.entity_key})"
                )
    return result


# --------------------------------------------------------------------------- baseline


def run_baseline(prepared: dict[str, Prepared]) -> SideResult:
    result = SideResult("baseline")
    started = time.perf_counter()
    for name, data in prepared.items():
        type_started = time.perf_counter()
        spec = DEFAULT_SPECS[name]
        parent = list(range(len(data.keys)))

        def find(i: int, parent: list[int] = parent) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        first: dict[str, int] = {}
        for index, values in enumerate(data.values):
            for key in match_keys(spec, values):
                other = first.setdefault(key, index)
                if other != index:
                    a, b = find(index), find(other)
                    if a != b:
                        parent[max(a, b)] = min(a, b)
        predicted = {i: find(i) for i in data.truth}
        result.types[name] = scored(predicted, data.truth)
        result.types[name].seconds = time.perf_counter() - type_started
        result.records += len(data.keys)
    result.seconds = time.perf_counter() - started
    return result


# --------------------------------------------------------------------------- splink

_NON_WORD = re.compile(r"[^a-z0-9 ]+")
_LEGAL_SUFFIXES = frozenset(
    "inc incorporated llc lp llp ltd co corp corporation company plc".split()
)


def clean_text(value: Any) -> str | None:
    """Lower case, punctuation to spaces, spaces collapsed (usual Splink preprocessing)."""
    if value is None:
        return None
    text = " ".join(_NON_WORD.sub(" ", str(value).lower()).split())
    return text or None


def clean_org_name(value: Any) -> str | None:
    """``clean_text`` without legal-form suffixes (Inc, LLC, Corp...)."""
    text = clean_text(value)
    if text is None:
        return None
    words = text.split()
    while len(words) > 1 and words[-1] in _LEGAL_SUFFIXES:
        words.pop()
    return " ".join(words)


def _plain(value: Any) -> str | None:
    if value is None or isinstance(value, dict):
        return None
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _gtin_item(values: dict[str, Any]) -> str | None:
    # GTIN-14 without packaging indicator and check digit: the same product at another
    # packaging level (each / box / case) keeps it.
    gtin = values.get("gtin")
    return gtin[1:13] if isinstance(gtin, str) and len(gtin) == 14 else None


def _zip5(values: dict[str, Any]) -> str | None:
    postal = values.get("postal_code")
    return postal[:5] if isinstance(postal, str) and postal else None


@dataclass(frozen=True)
class SplinkModel:
    """How a competent Splink user would set up one entity type."""

    columns: dict[str, Callable[[dict[str, Any]], str | None]]
    comparisons: Callable[[], list[Any]]
    blocking: Callable[[], list[Any]]
    deterministic: Callable[[], list[Any]]
    recall: float
    em_rules: Callable[[], list[Any]]
    threshold: float
    """Match probability to cluster at: the best of 0.5, 0.8, 0.9, 0.95, 0.99, 0.999,
    0.9999 on the development seed (20261126) at size 20,000, tuned once and kept."""


def _col(name: str, clean: Callable[[Any], str | None] = _plain) -> Callable[..., str | None]:
    return lambda values: clean(values.get(name))


def splink_models() -> dict[str, SplinkModel]:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import block_on

    return {
        "vendor": SplinkModel(
            columns={
                "name": _col("name", clean_org_name),
                "dba_name": _col("dba_name", clean_org_name),
                "tax_id": _col("tax_id"),
                "duns": _col("duns"),
                "address_line1": _col("address_line1", clean_text),
                "city": _col("city", clean_text),
                "state": _col("state"),
                "postal_code": _zip5,
                "phone": _col("phone"),
            },
            comparisons=lambda: [
                cl.NameComparison("name"),
                cl.ExactMatch("tax_id"),
                cl.ExactMatch("duns"),
                cl.LevenshteinAtThresholds("address_line1", [2, 5]),
                cl.ExactMatch("postal_code"),
                cl.ExactMatch("phone"),
                cl.ExactMatch("state"),
            ],
            blocking=lambda: [
                block_on("tax_id"),
                block_on("duns"),
                block_on("phone"),
                block_on("substr(name, 1, 6)"),
                block_on("postal_code", "substr(address_line1, 1, 4)"),
            ],
            deterministic=lambda: [block_on("tax_id"), block_on("duns")],
            recall=0.7,
            em_rules=lambda: [block_on("substr(name, 1, 6)"), block_on("postal_code")],
            threshold=0.99,
        ),
        "item": SplinkModel(
            columns={
                "description": _col("description", clean_text),
                "manufacturer_name": _col("manufacturer_name", clean_org_name),
                "manufacturer_part_number": _col("manufacturer_part_number"),
                "gtin": _col("gtin"),
                "gtin_item": _gtin_item,
                "hibc": _col("hibc"),
                "size": _col("size"),
                "uom": _col("uom"),
                "pack_quantity": _col("pack_quantity"),
                "sterile": _col("sterile"),
                "latex_free": _col("latex_free"),
            },
            comparisons=lambda: [
                cl.CustomComparison(
                    output_column_name="gtin",
                    comparison_levels=[
                        cll.NullLevel("gtin"),
                        cll.ExactMatchLevel("gtin"),
                        cll.CustomLevel(
                            "gtin_item_l = gtin_item_r", "same item reference, other pack"
                        ),
                        cll.ElseLevel(),
                    ],
                ),
                cl.LevenshteinAtThresholds("manufacturer_part_number", [1, 2]),
                cl.JaroWinklerAtThresholds("description", [0.95, 0.88, 0.75]),
                cl.JaroWinklerAtThresholds("manufacturer_name", [0.92, 0.8]),
                cl.ExactMatch("size"),
                cl.ExactMatch("uom"),
                cl.ExactMatch("pack_quantity"),
                cl.ExactMatch("sterile"),
                cl.ExactMatch("latex_free"),
            ],
            blocking=lambda: [
                block_on("gtin"),
                block_on("gtin_item"),
                block_on("manufacturer_part_number"),
                block_on("hibc"),
                block_on("substr(description, 1, 8)", "substr(manufacturer_name, 1, 4)"),
            ],
            deterministic=lambda: [block_on("gtin"), block_on("manufacturer_part_number")],
            recall=0.8,
            # Blocking on descriptions for EM takes a product family (sibling sizes, same
            # maker) for the match class: train on the identifiers instead.
            em_rules=lambda: [block_on("manufacturer_part_number"), block_on("gtin_item")],
            threshold=0.99,
        ),
        "location": SplinkModel(
            columns={
                "name": _col("name", clean_text),
                "location_type": _col("location_type"),
                "address_line1": _col("address_line1", clean_text),
                "address_line2": _col("address_line2", clean_text),
                "postal_code": _zip5,
                "gln": _col("gln"),
                "npi": _col("npi"),
            },
            comparisons=lambda: [
                cl.JaroWinklerAtThresholds("name", [0.95, 0.88, 0.7]),
                cl.LevenshteinAtThresholds("address_line1", [2, 5]),
                cl.ExactMatch("address_line2"),
                cl.ExactMatch("postal_code"),
                cl.ExactMatch("gln"),
                cl.ExactMatch("npi"),
                cl.ExactMatch("location_type"),
            ],
            blocking=lambda: [
                block_on("gln"),
                block_on("npi"),
                block_on("postal_code", "location_type"),
                block_on("substr(name, 1, 5)"),
            ],
            deterministic=lambda: [block_on("gln", "location_type")],
            recall=0.6,
            # Departments share their hospital's address: EM on the address takes them for
            # matches. Train on exact name and on GLN + type instead.
            em_rules=lambda: [block_on("name"), block_on("gln", "location_type")],
            threshold=0.9,
        ),
        "cost_center": SplinkModel(
            columns={
                "company": _col("company"),
                "code": _col("code"),
                "name": _col("name", clean_text),
            },
            # A code is unique only within its company: one comparison of the pair.
            comparisons=lambda: [
                cl.CustomComparison(
                    output_column_name="company_code",
                    comparison_levels=[
                        cll.Or(cll.NullLevel("company"), cll.NullLevel("code")),
                        cll.And(cll.ExactMatchLevel("company"), cll.ExactMatchLevel("code")),
                        cll.ExactMatchLevel("code"),
                        cll.ElseLevel(),
                    ],
                    # Not estimable by EM here: the same code and name recur in every
                    # company, so EM takes those hard negatives for matches. Set by hand.
                ).configure(m_probabilities=[0.95, 0.04, 0.01]),
                cl.JaroWinklerAtThresholds("name", [0.95, 0.88, 0.7]),
            ],
            blocking=lambda: [
                block_on("company", "code"),
                block_on("code"),
                block_on("company", "substr(name, 1, 4)"),
            ],
            deterministic=lambda: [block_on("company", "code")],
            recall=0.9,
            em_rules=lambda: [block_on("company", "code")],
            threshold=0.8,
        ),
        "contract": SplinkModel(
            columns={
                "contract_number": _col("contract_number"),
                "name": _col("name", clean_text),
                "gpo": _col("gpo"),
                "tier": _col("tier"),
                "effective_date": _col("effective_date"),
                "expiration_date": _col("expiration_date"),
            },
            comparisons=lambda: [
                cl.LevenshteinAtThresholds("contract_number", [1, 2]),
                cl.JaroWinklerAtThresholds("name", [0.95, 0.88, 0.7]),
                cl.ExactMatch("gpo"),
                cl.ExactMatch("effective_date"),
                cl.ExactMatch("expiration_date"),
            ],
            blocking=lambda: [
                block_on("contract_number"),
                block_on("substr(name, 1, 8)"),
                block_on("gpo", "effective_date"),
            ],
            deterministic=lambda: [block_on("contract_number")],
            recall=0.8,
            em_rules=lambda: [block_on("substr(name, 1, 8)"), block_on("effective_date")],
            threshold=0.999,
        ),
    }


def run_splink(
    prepared: dict[str, Prepared], threshold: float | None, u_max_pairs: float, seed: int
) -> SideResult:
    result = SideResult("splink")
    try:
        import splink
    except ImportError:
        result.error = "Splink is not installed: pip install -e '.[bench]'"
        return result
    result.notes.append(
        f"Splink {splink.__version__} (DuckDB), dedupe_only per type, "
        "clusters at match probability >= "
        + (
            f"{threshold} for every type (--threshold)"
            if threshold is not None
            else "a per-type threshold tuned once on the development seed 20261126 at "
            "size 20,000 and fixed"
        )
        + f"; u from {u_max_pairs:,.0f} random pairs"
    )
    try:
        models = splink_models()
    except Exception as error:  # noqa: BLE001 - reported, the other sides still run
        result.error = f"{type(error).__name__}: {error}"
        return result
    started = time.perf_counter()
    for name, data in prepared.items():
        type_started = time.perf_counter()
        result.records += len(data.keys)
        try:
            model = models[name]
            chosen = threshold if threshold is not None else model.threshold
            predicted, note = _splink_type(name, model, data, chosen, u_max_pairs, seed)
        except Exception as error:  # noqa: BLE001 - one type failing is a figure too
            result.types[name] = TypeResult(error=f"{type(error).__name__}: {error}")
            result.notes.append(f"{name}: FAILED\n{traceback.format_exc(limit=3)}")
        else:
            result.types[name] = scored(predicted, data.truth)
            result.notes.append(f"{name}: {note}")
        result.types[name].seconds = time.perf_counter() - type_started
        gc.collect()
    result.seconds = time.perf_counter() - started
    return result


def _splink_type(
    name: str,
    model: SplinkModel,
    data: Prepared,
    threshold: float,
    u_max_pairs: float,
    seed: int,
) -> tuple[dict[int, Any], str]:
    import duckdb
    import pyarrow as pa
    from splink import DuckDBAPI, Linker, SettingsCreator

    columns: dict[str, list[Any]] = {"unique_id": list(range(len(data.keys)))}
    for column, extract in model.columns.items():
        columns[column] = [extract(values) for values in data.values]
    table = pa.table(
        {
            column: pa.array(values, type=pa.int64() if column == "unique_id" else pa.string())
            for column, values in columns.items()
        }
    )
    del columns
    con = duckdb.connect(":memory:", config={"threads": 2, "memory_limit": "12GB"})
    con.execute("SET enable_progress_bar = false")
    try:
        db_api = DuckDBAPI(connection=con)
        frame = db_api.register(table, dataset_display_name=name)
        settings = SettingsCreator(
            link_type="dedupe_only",
            comparisons=model.comparisons(),
            blocking_rules_to_generate_predictions=model.blocking(),
            retain_matching_columns=False,
            retain_intermediate_calculation_columns=False,
        )
        linker = Linker(frame, settings, log_level=logging.ERROR)
        linker.training.estimate_probability_two_random_records_match(
            model.deterministic(), recall=model.recall
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=u_max_pairs, seed=seed)
        for rule in model.em_rules():
            linker.training.estimate_parameters_using_expectation_maximisation(
                rule, estimate_without_term_frequencies=True
            )
        predictions = linker.inference.predict(threshold_match_probability=threshold)
        edges = con.sql(f"select count(*) from {predictions.physical_name}").fetchall()[0]
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
            predictions, threshold_match_probability=threshold
        )
        rows = con.sql(f"select unique_id, cluster_id from {clusters.physical_name}").fetchall()
    finally:
        con.close()
    cluster_of = dict(rows)
    predicted = {i: cluster_of.get(i, ("alone", i)) for i in data.truth}
    n_edges = edges[0] if edges else 0
    return predicted, f"{len(data.keys):,} records, {n_edges:,} pairs >= {threshold}"


# --------------------------------------------------------------------------- output


def _cell(result: SideResult | None, name: str, with_pr: bool) -> str:
    if result is None:
        return "-"
    if result.error is not None:
        return "error"
    figures = result.types.get(name)
    if figures is None:
        return "-"
    if figures.error is not None:
        return "error"
    assert figures.f1 is not None and figures.precision is not None
    assert figures.recall is not None
    if with_pr:
        return f"{figures.f1:.4f} ({figures.precision:.3f}/{figures.recall:.3f})"
    return f"{figures.f1:.4f}"


def print_table(results: dict[str, SideResult], prepared: dict[str, Prepared]) -> None:
    header = [
        "entity type",
        "records",
        "engine F1 (P/R)",
        "without context F1 (P/R)",
        "baseline F1 (P/R)",
        "Splink F1 (P/R)",
    ]
    rows = []
    for name in DEFAULT_SPECS:
        data = prepared.get(name)
        rows.append(
            [
                name,
                f"{len(data.truth):,}" if data is not None else "-",
                *(_cell(results.get(side), name, True) for side in SIDES),
            ]
        )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, ["-" * w for w in widths], *rows]:
        print(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )


def print_times(results: dict[str, SideResult], prepare_seconds: float | None) -> None:
    parts = []
    for side in SIDES:
        result = results.get(side)
        if result is None or result.seconds is None:
            continue
        rate = result.records / result.seconds if result.seconds else 0.0
        parts.append(f"{side} {result.seconds:,.1f}s ({rate:,.0f} records/s)")
    print("wall time: " + " | ".join(parts))
    if prepare_seconds is not None:
        print(
            f"  (baseline and Splink times exclude the shared read + standardize step, "
            f"{prepare_seconds:,.1f}s; the engine's includes its own)"
        )
    for side in ("baseline", "splink"):
        result = results.get(side)
        if result is None or not result.types:
            continue
        per_type = ", ".join(
            f"{name} {figures.seconds:,.1f}s"
            for name, figures in result.types.items()
            if figures.seconds is not None
        )
        print(f"  {side} per type: {per_type}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=_int, default=100_000, help="source records (approx.)")
    parser.add_argument("--seed", type=int, default=20261127, help="generator seed")
    parser.add_argument(
        "--sides", type=_sides, default=list(SIDES), help="engine,no-context,baseline,splink"
    )
    parser.add_argument("--out-dir", type=Path, default=None, help="keep data and DB here")
    parser.add_argument(
        "--threshold", type=float, default=None, help="one Splink threshold for all types"
    )
    parser.add_argument(
        "--u-max-pairs", type=float, default=1e7, help="Splink u estimation sample (pairs)"
    )
    parser.add_argument("--examples", type=int, default=0, help="engine error examples per type")
    args = parser.parse_args(argv)
    if args.seed == DEVELOPMENT_SEED:
        print(f"warning: seed {DEVELOPMENT_SEED} is the development seed (seed/data)")
    if args.out_dir is not None:
        args.out_dir.mkdir(parents=True, exist_ok=True)
        bench(args, args.out_dir)
    else:
        with tempfile.TemporaryDirectory(prefix="mdm-bench-match-") as workdir:
            bench(args, Path(workdir))


def bench(args: argparse.Namespace, workdir: Path) -> None:
    data = workdir / "data"
    started = time.perf_counter()
    records = generate(data, args.size, args.seed)
    print(
        f"== bench/match.py: size {args.size:,} (scale {args.size / RECORDS_PER_SCALE:g}), "
        f"seed {args.seed}: {records:,} source records generated in "
        f"{time.perf_counter() - started:.1f}s into {data}"
    )
    results: dict[str, SideResult] = {}
    if "engine" in args.sides:
        results["engine"] = run_engine(data, workdir, records, args.examples)
        gc.collect()
    if "no-context" in args.sides:
        results["no-context"] = run_engine(data, workdir, records, args.examples, context=False)
        gc.collect()
    prepared: dict[str, Prepared] = {}
    prepare_seconds: float | None = None
    if "baseline" in args.sides or "splink" in args.sides:
        started = time.perf_counter()
        prepared = prepare(data)
        prepare_seconds = time.perf_counter() - started
        print(
            "shared input: "
            + "; ".join(
                f"{n} {p.read:,} read, {p.deleted:,} deleted, {p.failed:,} failed "
                f"standardization, {len(p.truth):,} labelled"
                for n, p in prepared.items()
            )
        )
    if "baseline" in args.sides:
        results["baseline"] = run_baseline(prepared)
    if "splink" in args.sides:
        results["splink"] = run_splink(prepared, args.threshold, args.u_max_pairs, args.seed)
    for side in SIDES:
        result = results.get(side)
        if result is None:
            continue
        for note in result.notes:
            print(f"[{side}] {note}")
        if result.error is not None:
            print(f"[{side}] FAILED: {result.error}")
    print()
    print(f"size {args.size:,}, seed {args.seed}, {records:,} source records")
    if not prepared:
        prepared = {}
    print_table(results, prepared)
    print_times(results, prepare_seconds)


def _int(value: str) -> int:
    return int(float(value.replace("_", "")))


def _sides(value: str) -> list[str]:
    sides = [v.strip() for v in value.split(",") if v.strip()]
    unknown = set(sides) - set(SIDES)
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown sides {sorted(unknown)}")
    return sides


if __name__ == "__main__":
    main()
