"""How the commands show their results: rich tables and messages on stderr, documents on
stdout. Nothing here reads or writes the store."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from mdm.context import UnresolvedReference
    from mdm.errors import MdmError
    from mdm.loader import LoadSummary
    from mdm.match_models import ActiveModel
    from mdm.quality import PairExample, QualityReport
    from mdm.reference import CodeSetView, UnmappedValue
    from mdm.specs import EntitySpec
    from mdm.store import CodeCorrespondence, IngestRejection

console = Console(stderr=True)


def fail(error: MdmError) -> NoReturn:
    """Print an expected failure as ``error CODE: message`` and exit with status 2."""
    # The message may hold user input ("[/]", "[bold]"): printed as text, never as markup.
    console.print(f"[red]error[/red] {escape(error.code)}: {escape(error.message)}")
    raise typer.Exit(2)


def progress_bar(*, disable: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=disable,
    )


# -- load ------------------------------------------------------------------------------


def print_load_summary(summary: LoadSummary) -> None:
    from mdm.loader import STATUSES, FileStatus

    table = Table(title="mdm load")
    for column in ["system", "entity", *STATUSES]:
        table.add_column(column)
    keys = sorted({(s, e) for s, e, _ in summary.counts})
    for system, entity in keys:
        table.add_row(
            system, entity, *[str(summary.counts[(system, entity, st)]) for st in STATUSES]
        )
    Console(width=120).print(table)
    applied = len(summary.files_with(FileStatus.APPLIED))
    skipped = len(summary.files_with(FileStatus.SKIPPED))
    console.print(f"files: {applied} applied, {skipped} skipped (loaded before, unchanged)")
    if summary.reference_data is not None:
        console.print(reference_line(summary.reference_data))
    for entity_type, found in summary.calibrations.items():
        console.print(calibration_line(entity_type, found))
    rejected = sum(summary.counts[(s, e, "rejected")] for s, e in keys)
    if rejected:
        console.print(
            f"[yellow]{rejected} records rejected[/yellow]: see query ingestRejections "
            f"(correlation id {summary.correlation_id})"
        )


def calibration_line(entity_type: str, found: Mapping[str, Any]) -> str:
    """How a first load set its type's match model (``BulkResult.calibration``)."""
    if found.get("source") != "calibrated":
        return f"{entity_type}: match model kept the domain defaults ({found.get('reason')})"
    return (
        f"{entity_type}: match model estimated from {found['records']:,} records "
        f"({found['candidate_pairs']:,} candidate pairs, prior {found['prior']:.3g}, "
        f"EM {found['em_iterations']} iterations); see mdm match params"
    )


def reference_line(loaded: Any) -> str:
    return (
        f"reference data (version {loaded.version}): {loaded.codes_added} codes added, "
        f"{loaded.codes_updated} updated; {loaded.transcodings_added} transcodings added, "
        f"{loaded.transcodings_replaced} replaced; {loaded.unchanged} unchanged"
    )


# -- quality ---------------------------------------------------------------------------


def proposal_summaries(rows: Iterable[CodeCorrespondence]) -> list[dict[str, Any]]:
    """Pending correspondence proposals as plain values (read inside the session)."""
    return [
        {
            "id": p.id,
            "code_set": p.code_set,
            "from": [p.system_a, p.value_a],
            "to": [p.system_b, p.value_b],
            "support": p.support,
            "conflicts": p.conflicts,
        }
        for p in rows
    ]


def print_quality_report(
    report: QualityReport,
    without: QualityReport | None,
    unmapped: Sequence[UnmappedValue],
    proposals: Sequence[dict[str, Any]],
    unresolved: Sequence[UnresolvedReference],
    *,
    as_json: bool,
) -> None:
    """The report as JSON on stdout, or as tables and notes on the terminal."""
    if all(q.records == 0 for q in report.entity_types):
        console.print(
            "[yellow]no labelled records[/yellow]: load truth with `mdm truth load PATH` "
            "or pass --truth PATH"
        )
    if as_json:
        document = report.to_dict()
        if without is not None:
            for entry in document["entity_types"]:
                plain = without.of(entry["entity_type"])
                entry["without_context"] = {
                    "records": plain.records,
                    "golden_records": plain.golden_records,
                    "pairwise": dataclasses.asdict(plain.pairwise),
                    "bcubed": dataclasses.asdict(plain.bcubed),
                }
        document["unmapped_values"] = [dataclasses.asdict(u) for u in unmapped]
        document["pending_proposals"] = list(proposals)
        document["unresolved_references"] = [dataclasses.asdict(u) for u in unresolved]
        typer.echo(json.dumps(document, indent=2, default=str))
        return
    _print_quality(report, without)
    shown = ", ".join(f"{u.system} {u.attribute} {u.value!r} x{u.count}" for u in unmapped[:10])
    console.print(f"unmapped values: {len(unmapped)}" + (f" ({shown}...)" if shown else ""))
    console.print(f"pending correspondence proposals: {len(proposals)} (`mdm codes proposals`)")
    for u in unresolved:
        console.print(
            f"unresolved references: {u.records} {u.entity_type} record(s) refer to "
            f"{u.count} {u.parent_type} id(s) of {u.system} not in the store "
            f"(e.g. {', '.join(u.examples)})"
        )


def _print_quality(report: QualityReport, without: QualityReport | None = None) -> None:
    out = Console(width=160)
    table = Table(title="match quality")
    columns = [
        "entity",
        "records",
        "unlabelled",
        "golden",
        "true",
        "pair P",
        "pair R",
        "pair F1",
        "B3 P",
        "B3 R",
        "B3 F1",
        "blocking",
        "review",
    ]
    for column in columns:
        table.add_column(column, justify="left" if column == "entity" else "right")
    for q in report.entity_types:
        completeness = "-" if q.pair_completeness is None else f"{q.pair_completeness:.3f}"
        table.add_row(
            q.entity_type,
            str(q.records),
            str(q.unlabelled),
            str(q.golden_records),
            str(q.true_entities),
            *(f"{v:.3f}" for v in (q.pairwise.precision, q.pairwise.recall, q.pairwise.f1)),
            *(f"{v:.3f}" for v in (q.bcubed.precision, q.bcubed.recall, q.bcubed.f1)),
            completeness,
            str(q.pending_review),
        )
    out.print(table)
    out.print("blocking: share of true pairs that share a blocking key (pair completeness)")
    if without is not None:
        _print_context(out, report, without)
    for q in report.entity_types:
        for kind, pairs in (("false merge", q.false_merges), ("missed match", q.missed_matches)):
            for pair in pairs:
                _print_pair(out, f"{q.entity_type} {kind}", pair)


def _print_context(out: Console, report: QualityReport, without: QualityReport) -> None:
    table = Table(title="pairwise quality with and without context evidence")
    columns = ["entity", "golden", "golden w/o", "P", "P w/o", "R", "R w/o", "F1", "F1 w/o"]
    for column in [*columns, "F1 gain"]:
        table.add_column(column, justify="left" if column == "entity" else "right")
    for q in report.entity_types:
        plain = without.of(q.entity_type)
        pairs = zip(
            (q.pairwise.precision, q.pairwise.recall, q.pairwise.f1),
            (plain.pairwise.precision, plain.pairwise.recall, plain.pairwise.f1),
            strict=True,
        )
        table.add_row(
            q.entity_type,
            str(q.golden_records),
            str(plain.golden_records),
            *(f"{v:.3f}" for pair in pairs for v in pair),
            f"{q.pairwise.f1 - plain.pairwise.f1:+.3f}",
        )
    out.print(table)
    out.print(
        "w/o: the store's records matched again from scratch in a scratch database, without "
        "resolved parents or learned codes (and without steward decisions)"
    )


def _print_pair(out: Console, kind: str, pair: PairExample) -> None:
    out.print()
    out.print(f"[bold]{kind}[/bold]", end="")
    if pair.match_weight is not None and pair.match_probability is not None:
        out.print(
            f"  weight {pair.match_weight:.2f}, probability {pair.match_probability:.3f}", end=""
        )
    out.print()
    for side in (pair.left, pair.right):
        out.print(
            f"  {side.system} {side.source_id}  golden {side.golden_id or '-'}  "
            f"truth {side.entity_key}",
            highlight=False,
        )
    table = Table(show_edge=False)
    for column in ("comparison", "left", "right", "level", "weight"):
        table.add_column(column, justify="right" if column == "weight" else "left")
    for c in pair.explanation:
        table.add_row(
            c.comparison,
            c.left_value or "",
            c.right_value or "",
            c.level or "(missing)",
            f"{c.weight:+.2f}",
        )
    out.print(table)


# -- match -----------------------------------------------------------------------------


def match_models_document(models: Sequence[tuple[EntitySpec, ActiveModel]]) -> dict[str, Any]:
    return {
        spec.name: {
            "version": m.version,
            "source": m.source,
            "auto_threshold": m.auto_threshold,
            "review_threshold": m.review_threshold,
            **m.model.to_dict(),
        }
        for spec, m in models
    }


def print_match_models(models: Sequence[tuple[EntitySpec, ActiveModel]]) -> None:
    out = Console(width=120)
    for spec, m in models:
        table = Table(
            title=f"{spec.name}: version {m.version} ({m.source}), auto >= {m.auto_threshold}, "
            f"review >= {m.review_threshold}, prior {m.model.prior:g}"
        )
        for column in ("comparison", "level", "m", "u", "weight"):
            table.add_column(column)
        for comparison in m.model.comparisons:
            for level in m.model.levels_of(comparison.name):
                table.add_row(
                    comparison.name,
                    level.name,
                    f"{level.m:.4g}",
                    f"{level.u:.4g}",
                    f"{level.weight:+.2f}",
                )
        out.print(table)


# -- rejections ------------------------------------------------------------------------


def print_rejections(rows: Sequence[IngestRejection]) -> None:
    table = Table(title=f"open rejections ({len(rows)} shown)")
    for column in ("id", "system", "type", "source id", "code", "field", "message", "origin"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            str(r.id), r.system or "", r.entity_type or "", r.source_id or "", r.code,
            r.field or "", r.message, r.origin or "",
        )  # fmt: skip
    Console(width=160).print(table)


# -- reference data --------------------------------------------------------------------


def print_code_sets(views: Sequence[CodeSetView]) -> None:
    out = Console(width=140)
    if not views:
        console.print("no code sets loaded")
    for view in views:
        table = Table(title=f"code set {view.name}: {len(view.codes)} codes")
        for column in ("code", "display", "transcoded from"):
            table.add_column(column)
        sources: dict[str, list[str]] = {}
        for t in view.transcodings:
            sources.setdefault(t.code, []).append(f"{t.system} {t.source_value} ({t.origin})")
        for c in view.codes:
            table.add_row(c.code, c.display or "", ", ".join(sources.get(c.code, [])))
        out.print(table)


def print_unmapped(values: Sequence[UnmappedValue]) -> None:
    table = Table(title=f"unmapped values ({len(values)})")
    for column in ("entity", "attribute", "system", "value", "records"):
        table.add_column(column, justify="right" if column == "records" else "left")
    for v in values:
        table.add_row(v.entity_type, v.attribute, v.system, v.value, str(v.count))
    Console(width=140).print(table)


def print_correspondences(rows: Sequence[CodeCorrespondence]) -> None:
    from mdm.reference import conflict_share, is_evidence

    table = Table(title=f"code correspondences ({len(rows)})")
    columns = ("id", "code set", "from", "to", "support", "conflicts", "share", "evidence")
    for column in (*columns, "status"):
        table.add_column(column)
    for r in rows:
        evidence = r.status == "proposed" and is_evidence(r.support, r.conflicts)
        table.add_row(
            str(r.id), r.code_set, f"{r.system_a} {r.value_a}", f"{r.system_b} {r.value_b}",
            str(r.support), str(r.conflicts), f"{conflict_share(r.support, r.conflicts):.2f}",
            "yes" if evidence else "", r.status,
        )  # fmt: skip
    Console(width=160).print(table)


# -- demo ------------------------------------------------------------------------------

_DEMO_QUERY = (
    '{"query":"{ crosswalk(entityType: \\"vendor\\", system: \\"ERP\\", sourceId: '
    '\\"V1001\\") { goldenId golden { ... on Vendor { name taxId } } } }"}'
)


def demo_banner(
    url: str, database_url: str, tokens: dict[str, tuple[str, str]], *, curl_token: str
) -> str:
    """What ``mdm demo`` prints before it serves: where, a token per role (``tokens``:
    role -> (token, what it adds)) and a curl example with ``curl_token``."""
    lines = [f"\nGraphiQL:          {url}", f"database:          {database_url}"]
    for role, (token, can) in tokens.items():
        lines.append(f"{role + ' token:':<19}{token}  ({can})")
    return (
        "\n".join(lines) + "\n\n"
        "Try it (the crosswalk needs the integrator token):\n"
        f"  curl -s {url} -H 'Authorization: Bearer {curl_token}' "
        f"-H 'Content-Type: application/json' -d '{_DEMO_QUERY}'\n"
    )
