"""``mdm codes``: reference data (code sets, transcodings, unmapped values) and the
correspondences learned from linked records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mdm.cli.options import ActorOption, DatabaseUrl, ReasonOption, load_settings
from mdm.cli.render import (
    console,
    fail,
    print_code_sets,
    print_correspondences,
    print_unmapped,
    reference_line,
)
from mdm.errors import MdmError

app = typer.Typer(
    help="Reference data: code sets, transcodings, unmapped values, learned correspondences.",
    no_args_is_help=True,
)
ProposalId = Annotated[
    int, typer.Argument(metavar="ID", help="The proposal's id (see `mdm codes proposals`).")
]


@app.command("load")
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

    database = Database(load_settings(database_url=database_url).database_url)
    try:
        with database.session() as session:
            loaded = load_reference_files(session, paths, actor=actor)
    except MdmError as error:
        fail(error)
    finally:
        database.dispose()
    console.print(reference_line(loaded))


@app.command("list")
def codes_list(
    code_set: Annotated[str | None, typer.Option("--code-set", help="Only this code set.")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Show code sets: their canonical codes and each system's transcodings."""
    from mdm.reference import list_code_sets
    from mdm.store import Database

    database = Database(load_settings(database_url=database_url).database_url)
    try:
        with database.read_session() as session:
            views = list_code_sets(session, code_set)
    finally:
        database.dispose()
    print_code_sets(views)


@app.command("unmapped")
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

    database = Database(load_settings(database_url=database_url).database_url)
    try:
        with database.read_session() as session:
            values = unmapped_values(session, system=system, entity_type=entity_type)
    finally:
        database.dispose()
    if as_json:
        typer.echo(json.dumps([asdict(v) for v in values], indent=2))
        return
    print_unmapped(values)


@app.command("learn")
def codes_learn(actor: ActorOption = "mdm codes learn", database_url: DatabaseUrl = None) -> None:
    """Propose correspondences of coded values seen on strongly linked records."""
    from mdm.reference import learn_correspondences
    from mdm.specs import DEFAULT_SPECS
    from mdm.store import Database

    database = Database(load_settings(database_url=database_url).database_url)
    try:
        with database.session() as session:
            learned = learn_correspondences(session, DEFAULT_SPECS, actor)
    except MdmError as error:
        fail(error)
    finally:
        database.dispose()
    typer.echo(
        f"{learned.golden_records} golden records read ({', '.join(learned.entity_types)}): "
        f"{learned.proposed} new proposals, {learned.updated} updated, "
        f"{learned.decided} already decided (version {learned.version})"
    )


@app.command("proposals")
def codes_proposals(
    status: Annotated[
        str | None, typer.Option(help="proposed, accepted or rejected (default: all).")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Learned correspondences with their support and conflicts."""
    from mdm.reference import list_correspondences
    from mdm.store import Database

    database = Database(load_settings(database_url=database_url).database_url)
    try:
        with database.read_session() as session:
            rows = list_correspondences(session, status)
    except MdmError as error:
        fail(error)
    finally:
        database.dispose()
    print_correspondences(rows)


@app.command("accept")
def codes_accept(
    proposal_id: ProposalId,
    reason: ReasonOption,
    actor: ActorOption = "mdm codes accept",
    database_url: DatabaseUrl = None,
) -> None:
    """Accept a proposal: it becomes a transcoding and the records carrying it are updated."""
    from mdm.hub import Hub
    from mdm.reference import accept_correspondence

    hub = Hub(load_settings(database_url=database_url))
    try:
        with hub.database.session() as session:
            decision = accept_correspondence(session, proposal_id, actor, reason, specs=hub.specs)
    except MdmError as error:
        fail(error)
    finally:
        hub.close()
    row = decision.correspondence
    code = decision.transcoding.code if decision.transcoding is not None else "?"
    typer.echo(
        f"accepted {row.id}: {row.system_a} {row.value_a} -> {code}; "
        f"{decision.records_updated} records updated (version {decision.version})"
    )


@app.command("reject")
def codes_reject(
    proposal_id: ProposalId,
    reason: ReasonOption,
    actor: ActorOption = "mdm codes reject",
    database_url: DatabaseUrl = None,
) -> None:
    """Reject a proposal for good: it is never proposed again."""
    from mdm.reference import reject_correspondence
    from mdm.store import Database

    database = Database(load_settings(database_url=database_url).database_url)
    try:
        with database.session() as session:
            decision = reject_correspondence(session, proposal_id, actor, reason)
    except MdmError as error:
        fail(error)
    finally:
        database.dispose()
    typer.echo(f"rejected {decision.correspondence.id} (version {decision.version})")
