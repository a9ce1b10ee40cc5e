"""The ``mdm`` command line."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mdm.codes import load_codebook
from mdm.errors import MdmError
from mdm.settings import Settings

if TYPE_CHECKING:
    from mdm.quality import PairExample, QualityReport

ROOT = Path(__file__).resolve().parents[1]
SEED_DIR = ROOT / "seed"
SCHEMA_FILE = ROOT / "graphql" / "schema.graphql"

app = typer.Typer(help="Healthcare MDM hub.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
schema_app = typer.Typer(help="The GraphQL contract.", no_args_is_help=True)
seed_app = typer.Typer(help="Sample data.", no_args_is_help=True)
system_app = typer.Typer(help="Source systems.", no_args_is_help=True)
truth_app = typer.Typer(help="Ground truth for measuring match quality.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(token_app, name="token")
app.add_typer(schema_app, name="schema")
app.add_typer(seed_app, name="seed")
app.add_typer(system_app, name="system")
match_app = typer.Typer(help="Match models: parameters and their estimation.", no_args_is_help=True)
rejections_app = typer.Typer(help="Refused records: list and replay.", no_args_is_help=True)
app.add_typer(rejections_app, name="rejections")
app.add_typer(match_app, name="match")
app.add_typer(truth_app, name="truth")
codes_app = typer.Typer(
    help="Reference data: code sets, transcodings, unmapped values, learned correspondences.",
    no_args_is_help=True,
)
app.add_typer(codes_app, name="codes")

console = Console(stderr=True)
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="Overrides MDM_DATABASE_URL (default: the demo's, mdm.sqlite3 in MDM_DEMO_DIR=.demo).",
    ),
]


def _settings(**overrides: Any) -> Settings:
    try:
        return Settings.from_env(**overrides)
    except MdmError as error:
        _fail(error)
        raise


def _fail(error: MdmError) -> Any:
    console.print(f"[red]error[/red] {error.code}: {error.message}")
    raise typer.Exit(2)


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseUrl = None) -> None:
    """Create or migrate the database schema to the newest version."""
    from mdm.store import upgrade

    settings = _settings(database_url=database_url)
    upgrade(settings.database_url)
    console.print(f"database at head: {settings.database_url}")


@app.command("load")
def load_command(
    paths: Annotated[list[Path], typer.Argument(help="Mapping files, or folders of them.")],
    database_url: DatabaseUrl = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a machine-readable summary on stdout.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="Apply files loaded before too (unchanged: skipped)."),
    ] = False,
) -> None:
    """Load source files through their mapping files (CSV, JSON Lines, FHIR).

    Files loaded before with the same content and mapping are skipped unread.
    """
    from mdm.hub import Hub
    from mdm.loader import (
        STATUSES,
        FileStatus,
        count_records,
        find_mappings,
        load,
        plan_files,
        plan_load,
    )

    settings = _settings(database_url=database_url)
    hub = Hub(settings)
    files = [f for p in paths for f in find_mappings(p)]
    try:
        plan = plan_load(files, hub.ingestor)
        total = sum(
            f.loaded_records if f.loaded_records is not None else count_records(f.system, f.entity)
            for f in plan_files(hub.database, plan, force=force)
        )
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=quiet or as_json,
        ) as progress:
            task = progress.add_task("loading", total=total)

            def advance(label: str, n: int) -> None:
                progress.update(task, advance=n, description=label)

            summary = load(
                hub.database,
                hub.ingestor,
                files,
                on_progress=advance,
                workers=hub.settings.bulk_workers,
                force=force,
            )
    except MdmError as error:
        _fail(error)
    finally:
        hub.close()
    if as_json:
        typer.echo(json.dumps(summary.to_dict(), indent=2, default=str))
        return
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
        console.print(_reference_line(summary.reference_data))
    rejected = sum(summary.counts[(s, e, "rejected")] for s, e in keys)
    if rejected:
        console.print(
            f"[yellow]{rejected} records rejected[/yellow]: see query ingestRejections "
            f"(correlation id {summary.correlation_id})"
        )


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="reader, integrator, steward or admin")],
    name: Annotated[str, typer.Option(help="Who or what uses the token.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Create an API token and print it (it is shown only once)."""
    from mdm.auth import Role, create_token
    from mdm.store import Database

    settings = _settings(database_url=database_url)
    database = Database(settings.database_url)
    try:
        with database.session() as session:
            token = create_token(session, name, Role.parse(role))
    except MdmError as error:
        _fail(error)
    finally:
        database.dispose()
    typer.echo(token)


@system_app.command("add")
def system_add(code: str, name: str, database_url: DatabaseUrl = None) -> None:
    """Register a source system (its mapping comes with `mdm load`)."""
    from mdm.store import Database
    from mdm.systems import register_system

    database = Database(_settings(database_url=database_url).database_url)
    try:
        with database.session() as session:
            register_system(session, code, name)
    except MdmError as error:
        _fail(error)
    finally:
        database.dispose()
    console.print(f"system {code} registered")


@truth_app.command("load")
def truth_load(
    path: Annotated[Path, typer.Argument(help="A truth.csv, or a folder holding one.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Store truth labels (entity_type,system,source_id,entity_key); all or nothing."""
    from mdm.specs import DEFAULT_SPECS
    from mdm.store import Database
    from mdm.truth import TruthFile, store_truth

    database = Database(_settings(database_url=database_url).database_url)
    try:
        truth = TruthFile(path, DEFAULT_SPECS)
        with database.session() as session:
            written = store_truth(session, truth, DEFAULT_SPECS)
    except MdmError as error:
        _fail(error)
    finally:
        database.dispose()
    counts = ", ".join(f"{n} {entity_type}" for entity_type, n in written.items() if n)
    console.print(f"truth labels stored from {truth.path}: {counts or 'none'}")


@app.command("quality")
def quality_command(
    truth_path: Annotated[
        Path | None,
        typer.Option(
            "--truth", help="A truth.csv or a folder holding one (default: stored labels)."
        ),
    ] = None,
    entity_type: Annotated[
        str | None, typer.Option("--entity-type", help="Only this entity type.")
    ] = None,
    examples: Annotated[
        int, typer.Option(min=0, help="False merges and missed matches to show per type.")
    ] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    compare_without_context: Annotated[
        bool,
        typer.Option(
            "--without-context",
            help="Also match the records again in a scratch database without context "
            "evidence (parents, learned codes) and show both F1s; needs --truth.",
        ),
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Match quality of the golden records against the truth, per entity type."""
    from mdm.context import unresolved_references
    from mdm.errors import InvalidInputError
    from mdm.quality import quality_report, quality_without_context
    from mdm.reference import list_correspondences, unmapped_values
    from mdm.specs import DEFAULT_SPECS
    from mdm.store import Database
    from mdm.truth import StoredTruth, TruthFile, TruthSource

    if compare_without_context and truth_path is None:
        _fail(
            InvalidInputError(
                "--without-context needs --truth PATH (a truth.csv or a folder holding one)",
                field="truth",
            )
        )
    database = Database(_settings(database_url=database_url).database_url)
    without: QualityReport | None = None
    try:
        with database.read_session() as session:
            truth: TruthSource = (
                TruthFile(truth_path, DEFAULT_SPECS)
                if truth_path is not None
                else StoredTruth(session)
            )
            report = quality_report(
                session,
                DEFAULT_SPECS,
                truth,
                examples=examples,
                entity_type=entity_type,
                codes=load_codebook(session),
            )
            if compare_without_context:
                without = quality_without_context(
                    session, DEFAULT_SPECS, truth, entity_type=entity_type
                )
            unmapped = unmapped_values(session, entity_type=entity_type)
            unresolved = unresolved_references(session)
            proposals = [
                {
                    "id": p.id,
                    "code_set": p.code_set,
                    "from": [p.system_a, p.value_a],
                    "to": [p.system_b, p.value_b],
                    "support": p.support,
                    "conflicts": p.conflicts,
                }
                for p in list_correspondences(session, "proposed")
            ]
    except MdmError as error:
        _fail(error)
    finally:
        database.dispose()
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
        document["pending_proposals"] = proposals
        document["unresolved_references"] = [dataclasses.asdict(u) for u in unresolved]
        typer.echo(json.dumps(document, indent=2, default=str))
    else:
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


EntityTypeOption = Annotated[
    str | None, typer.Option("--entity-type", "-t", help="One entity type (default: all).")
]


@match_app.command("params")
def match_params(
    entity_type: EntityTypeOption = None,
    database_url: DatabaseUrl = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show the active match model of each entity type: levels, m, u, weights, thresholds."""
    from mdm.hub import Hub

    hub = Hub(_settings(database_url=database_url))
    try:
        specs = _chosen_specs(hub, entity_type)
        with hub.database.read_session() as session:
            models = [(spec, hub.ingestor.models.active(session, spec)) for spec in specs]
    except MdmError as error:
        _fail(error)
        raise
    finally:
        hub.close()
    if as_json:
        typer.echo(
            json.dumps(
                {
                    spec.name: {
                        "version": m.version,
                        "source": m.source,
                        "auto_threshold": m.auto_threshold,
                        "review_threshold": m.review_threshold,
                        **m.model.to_dict(),
                    }
                    for spec, m in models
                },
                indent=2,
            )
        )
        return
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


@match_app.command("estimate")
def match_estimate(
    entity_type: EntityTypeOption = None,
    database_url: DatabaseUrl = None,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
    activate: Annotated[
        bool, typer.Option("--activate", help="Use the new versions at once.")
    ] = False,
    labels_only: Annotated[
        bool,
        typer.Option(
            "--labels-only", help="Refine the active model from steward decisions only, no EM."
        ),
    ] = False,
) -> None:
    """Re-estimate match models from the stored records (u: random pairs, m: EM), then
    refine m by the steward decisions (approved candidates are matches); --labels-only
    refines the active model from the decisions alone.

    Each estimate is stored as a new version, inactive unless --activate: check it first
    (mdm quality) and activate it with `mdm match activate`.
    """
    from mdm.context import ContextView
    from mdm.hub import Hub

    hub = Hub(_settings(database_url=database_url))
    try:
        for spec in _chosen_specs(hub, entity_type):
            with hub.database.session() as session:
                models = hub.ingestor.models
                context = ContextView(hub.ingestor.codes(session), hub.specs)
                if labels_only:
                    saved, notes = models.refine_from_labels(
                        session,
                        spec,
                        actor="mdm match estimate",
                        activate=activate,
                        context=context,
                    )
                else:
                    saved, notes = models.estimate(
                        session,
                        spec,
                        actor="mdm match estimate",
                        seed=seed,
                        activate=activate,
                        context=context,
                    )
            state = "active" if activate else "stored, not active"
            typer.echo(f"{spec.name}: version {saved.version} ({state}) {json.dumps(notes)}")
    except MdmError as error:
        _fail(error)
    finally:
        hub.close()


REEVALUATE_STEP = 500  # re-evaluations per transaction


@match_app.command("reevaluate")
def match_reevaluate(
    limit: Annotated[
        int | None,
        typer.Option(min=1, help="Re-evaluate at most this many (default: the whole backlog)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only show the backlog; change nothing.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    actor: Annotated[str, typer.Option()] = "mdm match reevaluate",
    database_url: DatabaseUrl = None,
) -> None:
    """Work off the children waiting to be re-matched after a parent changed (the whole
    backlog, or --limit), with a progress bar; --dry-run only shows what waits."""
    from mdm.golden import ChangeContext
    from mdm.hub import Hub
    from mdm.reevaluate import backlog

    hub = Hub(_settings(database_url=database_url))
    done = 0
    try:
        with hub.database.read_session() as session:
            waiting = backlog(session)
        if not dry_run and waiting.pending:
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                disable=quiet,
            ) as progress:
                task = progress.add_task("re-evaluating", total=_to_do(waiting.pending, limit))
                while limit is None or done < limit:
                    step = REEVALUATE_STEP if limit is None else min(REEVALUATE_STEP, limit - done)
                    with hub.database.session() as session:
                        worked = hub.ingestor.work_backlog(
                            session, ChangeContext(actor, None), limit=step
                        )
                    done += worked
                    # Working a row may queue more (a parent's children): the total follows.
                    with hub.database.read_session() as session:
                        waiting = backlog(session)
                    left = None if limit is None else limit - done
                    progress.update(
                        task, completed=done, total=done + _to_do(waiting.pending, left)
                    )
                    if not worked:
                        break
    except MdmError as error:
        _fail(error)
    finally:
        hub.close()
    by_type = ", ".join(f"{k} {v:,}" for k, v in sorted(waiting.by_entity_type.items()))
    oldest = waiting.oldest.isoformat() if waiting.oldest else "-"
    typer.echo(
        f"re-evaluated {done:,}; waiting {waiting.pending:,} ({by_type or 'none'}), oldest {oldest}"
    )


def _to_do(pending: int, limit: int | None) -> int:
    return pending if limit is None else min(pending, limit)


@match_app.command("unmerge")
def match_unmerge(
    entity_type: Annotated[str, typer.Option("--entity-type", "-t")],
    system: Annotated[str, typer.Option(help="The source system of the record.")],
    source_id: Annotated[str, typer.Option(help="The record's id in its system.")],
    reason: Annotated[str, typer.Option(help="Why (kept in the audit log).")],
    expected_version: Annotated[
        int | None,
        typer.Option(help="The golden record's version you looked at (refused if it moved)."),
    ] = None,
    actor: Annotated[str, typer.Option()] = "mdm match unmerge",
    database_url: DatabaseUrl = None,
) -> None:
    """Take a source record out of the golden record it was matched into (a steward's
    correction): it gets its own, matching never puts it back, and what depended on the
    old golden record is queued for re-evaluation (`mdm match reevaluate`)."""
    from mdm.hub import Hub
    from mdm.unmerge import unmerge_record

    hub = Hub(_settings(database_url=database_url))
    try:
        with hub.database.session() as session:
            done = unmerge_record(
                session, hub.specs, entity_type, system, source_id, actor=actor, reason=reason,
                expected_version=expected_version,
            )  # fmt: skip
    except MdmError as error:
        _fail(error)
    finally:
        hub.close()
    typer.echo(
        f"{done.entity_type} {done.system}:{done.source_id} left {done.left_golden_id} "
        f"(now version {done.left_version}) for {done.golden_id}; "
        f"{done.children_queued:,} record(s) queued for re-evaluation"
    )


@match_app.command("activate")
def match_activate(
    entity_type: Annotated[str, typer.Option("--entity-type", "-t")],
    version: Annotated[int, typer.Option(help="A stored version; 0 for the defaults.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Choose the match model version an entity type matches with."""
    from mdm.hub import Hub

    hub = Hub(_settings(database_url=database_url))
    try:
        spec = hub.specs.get_spec(entity_type, field="--entity-type")
        with hub.database.session() as session:
            hub.ingestor.models.activate(session, spec, version)
    except MdmError as error:
        _fail(error)
    finally:
        hub.close()
    typer.echo(f"{entity_type}: version {version} active")


def _chosen_specs(hub: Any, entity_type: str | None) -> list[Any]:
    if entity_type is not None:
        return [hub.specs.get_spec(entity_type, field="--entity-type")]
    return [s for s in hub.specs.values() if s.matching is not None]


@rejections_app.command("list")
def rejections_list(
    system: Annotated[str | None, typer.Option(help="Only this source system.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
    database_url: DatabaseUrl = None,
) -> None:
    """Show open rejections with their reason."""
    from mdm.rejections import open_rejections
    from mdm.store import Database

    database = Database(_settings(database_url=database_url).database_url)
    try:
        with database.read_session() as session:
            rows = open_rejections(session, system=system, limit=limit)
    finally:
        database.dispose()
    table = Table(title=f"open rejections ({len(rows)} shown)")
    for column in ("id", "system", "type", "source id", "code", "field", "message", "origin"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            str(r.id), r.system or "", r.entity_type or "", r.source_id or "", r.code,
            r.field or "", r.message, r.origin or "",
        )  # fmt: skip
    Console(width=160).print(table)


@rejections_app.command("replay")
def rejections_replay(
    ids: Annotated[
        list[int] | None, typer.Argument(help="Rejection ids (default: all open).")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Send refused records through the pipeline again, once their cause is fixed."""
    from mdm.hub import Hub
    from mdm.rejections import replay_rejections

    hub = Hub(_settings(database_url=database_url))
    try:
        with hub.database.session() as session:
            replays = replay_rejections(
                session, hub.ingestor, ids or None, actor="mdm rejections replay"
            )
    except MdmError as error:
        _fail(error)
        raise
    finally:
        hub.close()
    accepted = [r for r in replays if r.outcome is not None]
    for replay in replays:
        if replay.error is not None:
            typer.echo(
                f"{replay.rejection_id}: still refused: {replay.error.code}: {replay.error.message}"
            )
    typer.echo(f"{len(accepted)} accepted, {len(replays) - len(accepted)} still refused")


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="Overrides MDM_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Overrides MDM_PORT.")] = None,
    database_url: DatabaseUrl = None,
    log_level: Annotated[str | None, typer.Option(help="Overrides MDM_LOG_LEVEL.")] = None,
) -> None:
    """Serve the GraphQL API (GraphiQL at /graphql)."""
    import uvicorn

    from mdm.app import create_app

    settings = _settings(host=host, port=port, database_url=database_url, log_level=log_level)
    logging.basicConfig(level=settings.log_level.upper())
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,
    )


@schema_app.command("export")
def schema_export(
    out: Annotated[Path, typer.Option(help="Where to write the SDL.")] = SCHEMA_FILE,
) -> None:
    """Write the GraphQL schema (SDL) that the code builds: the API contract."""
    typer.echo(f"wrote {write_schema(out)}")


def schema_sdl() -> str:
    from mdm.api.schema import build_schema
    from mdm.specs import DEFAULT_SPECS

    return build_schema(DEFAULT_SPECS, Settings()).as_str() + "\n"


def write_schema(out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(schema_sdl(), encoding="utf-8")
    return out


def _seed_module() -> Any:
    spec = importlib.util.spec_from_file_location("mdm_seed_generate", SEED_DIR / "generate.py")
    if spec is None or spec.loader is None:
        raise typer.BadParameter(f"no generator at {SEED_DIR / 'generate.py'}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@seed_app.command("generate")
def seed_generate(
    out: Annotated[Path, typer.Option(help="Folder to write the data set into.")],
    records: Annotated[
        int | None,
        typer.Option(
            min=1, help="About how many source records to write, in all systems (default 2,000)."
        ),
    ] = None,
    scale: Annotated[
        float | None,
        typer.Option(help="Instead of --records: a multiplier, 1 is about 2,000 source records."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same files.")] = 42,
) -> None:
    """Generate a realistic multi-system data set with its ground truth (at most 5,000,000
    source records)."""
    from mdm.errors import InvalidInputError

    generator = _seed_module()
    if records is not None and scale is not None:
        _fail(InvalidInputError("give --records or --scale, not both", field="records"))
    if records is not None:
        chosen = generator.scale_for(records)
    else:
        chosen = scale if scale is not None else 1.0
    try:
        generator.check_scale(chosen)
    except ValueError as error:
        _fail(InvalidInputError(str(error), field="records" if records else "scale"))
    counts = generator.generate(out, scale=chosen, seed=seed)
    typer.echo(json.dumps(counts, indent=2, sort_keys=True))
    console.print(f"{sum(counts.values()):,} source records written to {out}")


@app.command("demo")
def demo(
    host: Annotated[str | None, typer.Option(help="Overrides MDM_HOST (127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Overrides MDM_PORT (8000).")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Migrate, load the seed, print a token per role and a curl example, then serve."""
    from mdm.auth import Role, create_token
    from mdm.store import Database, upgrade

    roles = {  # what each token adds; the README's examples say which one they need
        Role.READER: "golden records, review queue, quality",
        Role.INTEGRATOR: "+ crosswalk, translate, source records, ingest",
        Role.STEWARD: "+ review decisions, unmerge, reference data decisions",
    }
    settings = _settings(database_url=database_url, host=host, port=port)
    upgrade(settings.database_url)
    load_command([SEED_DIR / "data"], database_url=settings.database_url, quiet=False)
    database = Database(settings.database_url)
    with database.session() as session:
        tokens = {role: create_token(session, f"demo {role.name.lower()}", role) for role in roles}
    database.dispose()
    url = f"http://{settings.host}:{settings.port}/graphql"
    query = (
        '{"query":"{ crosswalk(entityType: \\"vendor\\", system: \\"ERP\\", sourceId: '
        '\\"V1001\\") { goldenId golden { ... on Vendor { name taxId } } } }"}'
    )
    lines = [f"\nGraphiQL:          {url}", f"database:          {settings.database_url}"]
    for role, can in roles.items():
        lines.append(f"{role.name.lower() + ' token:':<19}{tokens[role]}  ({can})")
    typer.echo(
        "\n".join(lines) + "\n\n"
        "Try it (the crosswalk needs the integrator token):\n"
        f"  curl -s {url} -H 'Authorization: Bearer {tokens[Role.INTEGRATOR]}' "
        f"-H 'Content-Type: application/json' -d '{query}'\n"
    )
    serve(host=settings.host, port=settings.port, database_url=settings.database_url)


# -- reference data ----------------------------------------------------------------------

ActorOption = Annotated[str, typer.Option("--actor", help="Who decides (for the audit log).")]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why (required, audited).")]


def _reference_line(loaded: Any) -> str:
    return (
        f"reference data (version {loaded.version}): {loaded.codes_added} codes added, "
        f"{loaded.codes_updated} updated; {loaded.transcodings_added} transcodings added, "
        f"{loaded.transcodings_replaced} replaced; {loaded.unchanged} unchanged"
    )


@codes_app.command("load")
def codes_load(
    paths: Annotated[
        list[Path], typer.Argument(help="code_sets.csv / transcodings.csv, or folders of them.")
    ],
    actor: ActorOption = "mdm codes load",
    database_url: DatabaseUrl = None,
) -> None:
    """Check reference data files whole and apply them (upsert), or apply nothing."""
    from mdm.reference import load_reference_files
    from mdm.store import Database

    database = Database(_settings(database_url=database_url).database_url)
    try:
        with database.session() as session:
            loaded = load_reference_files(session, paths, actor=actor)
    except MdmError as error:
        _fail(error)
        raise
    finally:
        database.dispose()
    console.print(_reference_line(loaded))


@codes_app.command("list")
def codes_list(
    code_set: Annotated[str | None, typer.Option("--code-set", help="Only this code set.")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Show code sets: their canonical codes and each system's transcodings."""
    from mdm.reference import list_code_sets
    from mdm.store import Database

    database = Database(_settings(database_url=database_url).database_url)
    try:
        with database.read_session() as session:
            views = list_code_sets(session, code_set)
    finally:
        database.dispose()
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


@codes_app.command("unmapped")
def codes_unmapped(
    system: Annotated[str | None, typer.Option(help="Only this source system.")] = None,
    entity_type: Annotated[
        str | None, typer.Option("--entity-type", "-t", help="Only this entity type.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Coded values of live records that no transcoding maps, most frequent first."""
    from dataclasses import asdict

    from mdm.reference import unmapped_values
    from mdm.store import Database

    database = Database(_settings(database_url=database_url).database_url)
    try:
        with database.read_session() as session:
            values = unmapped_values(session, system=system, entity_type=entity_type)
    finally:
        database.dispose()
    if as_json:
        typer.echo(json.dumps([asdict(v) for v in values], indent=2))
        return
    table = Table(title=f"unmapped values ({len(values)})")
    for column in ("entity", "attribute", "system", "value", "records"):
        table.add_column(column, justify="right" if column == "records" else "left")
    for v in values:
        table.add_row(v.entity_type, v.attribute, v.system, v.value, str(v.count))
    Console(width=140).print(table)


@codes_app.command("learn")
def codes_learn(actor: ActorOption = "mdm codes learn", database_url: DatabaseUrl = None) -> None:
    """Propose correspondences of coded values seen on strongly linked records."""
    from mdm.reference import learn_correspondences
    from mdm.specs import DEFAULT_SPECS
    from mdm.store import Database

    database = Database(_settings(database_url=database_url).database_url)
    try:
        with database.session() as session:
            learned = learn_correspondences(session, DEFAULT_SPECS, actor)
    except MdmError as error:
        _fail(error)
        raise
    finally:
        database.dispose()
    typer.echo(
        f"{learned.golden_records} golden records read ({', '.join(learned.entity_types)}): "
        f"{learned.proposed} new proposals, {learned.updated} updated, "
        f"{learned.decided} already decided (version {learned.version})"
    )


@codes_app.command("proposals")
def codes_proposals(
    status: Annotated[
        str | None, typer.Option(help="proposed, accepted or rejected (default: all).")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Learned correspondences with their support and conflicts."""
    from mdm.reference import conflict_share, is_evidence, list_correspondences
    from mdm.store import Database

    database = Database(_settings(database_url=database_url).database_url)
    try:
        with database.read_session() as session:
            rows = list_correspondences(session, status)
    except MdmError as error:
        _fail(error)
        raise
    finally:
        database.dispose()
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


@codes_app.command("accept")
def codes_accept(
    proposal_id: Annotated[
        int, typer.Argument(metavar="ID", help="The proposal's id (see `mdm codes proposals`).")
    ],
    reason: ReasonOption,
    actor: ActorOption = "mdm codes accept",
    database_url: DatabaseUrl = None,
) -> None:
    """Accept a proposal: it becomes a transcoding and the records carrying it are updated."""
    from mdm.hub import Hub
    from mdm.reference import accept_correspondence

    hub = Hub(_settings(database_url=database_url))
    try:
        with hub.database.session() as session:
            decision = accept_correspondence(session, proposal_id, actor, reason, specs=hub.specs)
    except MdmError as error:
        _fail(error)
        raise
    finally:
        hub.close()
    row = decision.correspondence
    code = decision.transcoding.code if decision.transcoding is not None else "?"
    typer.echo(
        f"accepted {row.id}: {row.system_a} {row.value_a} -> {code}; "
        f"{decision.records_updated} records updated (version {decision.version})"
    )


@codes_app.command("reject")
def codes_reject(
    proposal_id: Annotated[
        int, typer.Argument(metavar="ID", help="The proposal's id (see `mdm codes proposals`).")
    ],
    reason: ReasonOption,
    actor: ActorOption = "mdm codes reject",
    database_url: DatabaseUrl = None,
) -> None:
    """Reject a proposal for good: it is never proposed again."""
    from mdm.reference import reject_correspondence
    from mdm.store import Database

    database = Database(_settings(database_url=database_url).database_url)
    try:
        with database.session() as session:
            decision = reject_correspondence(session, proposal_id, actor, reason)
    except MdmError as error:
        _fail(error)
        raise
    finally:
        database.dispose()
    typer.echo(f"rejected {decision.correspondence.id} (version {decision.version})")


if __name__ == "__main__":  # pragma: no cover
    app()
