"""``mdm rejections``: refused records, listed and replayed."""

from __future__ import annotations

from typing import Annotated

import typer

from mdm.cli.options import DatabaseUrl, load_settings
from mdm.cli.render import fail, print_rejections
from mdm.errors import MdmError

app = typer.Typer(help="Refused records: list and replay.", no_args_is_help=True)


@app.command("list")
def rejections_list(
    system: Annotated[str | None, typer.Option(help="Only this source system.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
    database_url: DatabaseUrl = None,
) -> None:
    """Show open rejections with their reason."""
    from mdm.rejections import open_rejections
    from mdm.store import Database

    database = Database(load_settings(database_url=database_url).database_url)
    try:
        with database.read_session() as session:
            rows = open_rejections(session, system=system, limit=limit)
    finally:
        database.dispose()
    print_rejections(rows)


@app.command("replay")
def rejections_replay(
    ids: Annotated[
        list[int] | None, typer.Argument(help="Rejection ids (default: all open).")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Send refused records through the pipeline again, once their cause is fixed."""
    from mdm.hub import Hub
    from mdm.rejections import replay_rejections

    hub = Hub(load_settings(database_url=database_url))
    try:
        with hub.database.session() as session:
            replays = replay_rejections(
                session, hub.ingestor, ids or None, actor="mdm rejections replay"
            )
    except MdmError as error:
        fail(error)
    finally:
        hub.close()
    accepted = [r for r in replays if r.outcome is not None]
    for replay in replays:
        if replay.error is not None:
            typer.echo(
                f"{replay.rejection_id}: still refused: {replay.error.code}: {replay.error.message}"
            )
    typer.echo(f"{len(accepted)} accepted, {len(replays) - len(accepted)} still refused")
