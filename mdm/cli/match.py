"""``mdm match``: match models (parameters, estimation, activation), re-evaluation and
unmerge."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from mdm.cli.options import DatabaseUrl, EntityTypeOption, load_settings
from mdm.cli.render import fail, match_models_document, print_match_models, progress_bar
from mdm.errors import MdmError

if TYPE_CHECKING:
    from mdm.hub import Hub
    from mdm.specs import EntitySpec

app = typer.Typer(help="Match models: parameters and their estimation.", no_args_is_help=True)

REEVALUATE_STEP = 500  # re-evaluations per transaction


@app.command("params")
def match_params(
    entity_type: EntityTypeOption = None,
    database_url: DatabaseUrl = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show the active match model of each entity type: levels, m, u, weights, thresholds."""
    from mdm.hub import Hub

    hub = Hub(load_settings(database_url=database_url))
    try:
        specs = _chosen_specs(hub, entity_type)
        with hub.database.read_session() as session:
            models = [(spec, hub.ingestor.models.active(session, spec)) for spec in specs]
    except MdmError as error:
        fail(error)
    finally:
        hub.close()
    if as_json:
        typer.echo(json.dumps(match_models_document(models), indent=2))
        return
    print_match_models(models)


@app.command("estimate")
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

    hub = Hub(load_settings(database_url=database_url))
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
        fail(error)
    finally:
        hub.close()


@app.command("reevaluate")
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

    hub = Hub(load_settings(database_url=database_url))
    done = 0
    try:
        with hub.database.read_session() as session:
            waiting = backlog(session)
        if not dry_run and waiting.pending:
            with progress_bar(disable=quiet) as progress:
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
        fail(error)
    finally:
        hub.close()
    by_type = ", ".join(f"{k} {v:,}" for k, v in sorted(waiting.by_entity_type.items()))
    oldest = waiting.oldest.isoformat() if waiting.oldest else "-"
    typer.echo(
        f"re-evaluated {done:,}; waiting {waiting.pending:,} ({by_type or 'none'}), oldest {oldest}"
    )


def _to_do(pending: int, limit: int | None) -> int:
    return pending if limit is None else min(pending, limit)


@app.command("unmerge")
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

    hub = Hub(load_settings(database_url=database_url))
    try:
        with hub.database.session() as session:
            done = unmerge_record(
                session, hub.specs, entity_type, system, source_id, actor=actor, reason=reason,
                expected_version=expected_version,
            )  # fmt: skip
    except MdmError as error:
        fail(error)
    finally:
        hub.close()
    typer.echo(
        f"{done.entity_type} {done.system}:{done.source_id} left {done.left_golden_id} "
        f"(now version {done.left_version}) for {done.golden_id}; "
        f"{done.children_queued:,} record(s) queued for re-evaluation"
    )


@app.command("activate")
def match_activate(
    entity_type: Annotated[str, typer.Option("--entity-type", "-t")],
    version: Annotated[int, typer.Option(help="A stored version; 0 for the defaults.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Choose the match model version an entity type matches with."""
    from mdm.hub import Hub

    hub = Hub(load_settings(database_url=database_url))
    try:
        spec = hub.specs.get_spec(entity_type, field="--entity-type")
        with hub.database.session() as session:
            hub.ingestor.models.activate(session, spec, version)
    except MdmError as error:
        fail(error)
    finally:
        hub.close()
    typer.echo(f"{entity_type}: version {version} active")


def _chosen_specs(hub: Hub, entity_type: str | None) -> list[EntitySpec]:
    if entity_type is not None:
        return [hub.specs.get_spec(entity_type, field="--entity-type")]
    return [s for s in hub.specs.values() if s.matching is not None]
