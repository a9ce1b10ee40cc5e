"""``mdm changes``: the change stream's retention (``prune``), head, and named consumers
(``consumers``, ``reset``)."""

from __future__ import annotations

from typing import Annotated

import typer

from mdm.cli.options import DatabaseUrl, load_settings
from mdm.cli.render import console, fail
from mdm.errors import InvalidInputError, MdmError

app = typer.Typer(
    help="The change stream: retention, head and named consumers.", no_args_is_help=True
)


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


@app.command("consumers")
def consumers_command(database_url: DatabaseUrl = None) -> None:
    """List the named consumers (the relay's too) with their position and lag."""
    from mdm import changes
    from mdm.auth import Principal, Role
    from mdm.store import Database

    database = Database(load_settings(database_url=database_url).database_url)
    try:
        with database.read_session() as session:
            newest = changes.head(session)
            found = changes.list_consumers(session, Principal("mdm changes", Role.ADMIN))
    finally:
        database.dispose()
    for consumer in found:
        acknowledged = (
            f"{consumer.acknowledged_at:%Y-%m-%d %H:%M:%S}" if consumer.acknowledged_at else "never"
        )
        lag = max(0, newest - consumer.position)
        typer.echo(
            f"{consumer.name}\tposition {consumer.position:,}\tlag {lag:,}"
            f"\tacknowledged {acknowledged}\towner {consumer.owner or '-'}"
        )


@app.command("reset")
def reset_command(
    consumer: Annotated[str, typer.Argument(help="The consumer's name.")],
    position: Annotated[
        str, typer.Option(help="A position (0: before the first event kept), or 'head'.")
    ],
    database_url: DatabaseUrl = None,
) -> None:
    """Move a consumer back or forward (to replay after a downstream restore, or to start
    from a snapshot's head); acknowledgements only ever move it forward."""
    from mdm import changes
    from mdm.store import Database

    database = Database(load_settings(database_url=database_url).database_url)
    try:
        with database.session() as session:
            if position == "head":
                target = changes.head(session)
            elif position.isascii() and position.isdigit():
                target = int(position)
            else:
                raise InvalidInputError(
                    f"position must be a whole number or 'head', not {position!r}",
                    field="position",
                )
            moved = changes.reset_consumer(session, consumer, target)
    except MdmError as error:
        fail(error)
    finally:
        database.dispose()
    console.print(f"consumer {moved.name!r} is at position {moved.position:,}", markup=False)
