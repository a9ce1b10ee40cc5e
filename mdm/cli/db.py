"""``mdm db``: the database schema."""

from __future__ import annotations

import typer

from mdm.cli.options import DatabaseUrl, load_settings
from mdm.cli.render import console

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
def db_upgrade(database_url: DatabaseUrl = None) -> None:
    """Create or migrate the database schema to the newest version."""
    from mdm.store import upgrade

    settings = load_settings(database_url=database_url)
    upgrade(settings.database_url)
    console.print(f"database at head: {settings.database_url}")
