"""``mdm changes``: the change stream's retention (``prune``) and head."""

from __future__ import annotations

from typing import Annotated

import typer

from mdm.cli.options import DatabaseUrl, load_settings
from mdm.cli.render import console, fail
from mdm.errors import InvalidInputError, MdmError

app = typer.Typer(help="The change stream: retention and head.", no_args_is_help=True)


@app.command("prune")
def prune_command(
    days: Annotated[
        float | None,
        typer.Option(help="Keep this many days of events (overrides MDM_CHANGE_RETENTION_DAYS)."),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Delete change events older than the retention (never the newest one). A consumer
    whose position is older gets CURSOR_EXPIRED and resyncs from a snapshot."""
    from mdm import changes
    from mdm.store import Database

    settings = load_settings(database_url=database_url)
    retention = settings.change_retention_days if days is None else days
    try:
        if retention <= 0:
            raise InvalidInputError(
                "no retention: pass --days or set MDM_CHANGE_RETENTION_DAYS above 0",
                field="days",
            )
        database = Database(settings.database_url)
        try:
            with database.session() as session:
                pruned = changes.prune(session, retention)
                through = changes.pruned_through(session)
        finally:
            database.dispose()
    except MdmError as error:
        fail(error)
    console.print(f"pruned {pruned:,} change events; positions up to {through:,} are gone")


@app.command("head")
def head_command(database_url: DatabaseUrl = None) -> None:
    """Print the change stream's head (newest position) and the newest pruned position."""
    from mdm import changes
    from mdm.store import Database

    database = Database(load_settings(database_url=database_url).database_url)
    try:
        with database.read_session() as session:
            newest, pruned = changes.head(session), changes.pruned_through(session)
    finally:
        database.dispose()
    console.print(f"head {newest:,}; pruned through {pruned:,}")
