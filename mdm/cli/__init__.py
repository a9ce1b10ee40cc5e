"""The ``mdm`` command line (Typer, script ``mdm``).

One module per command group; each command parses its options, calls the service
modules, and leaves the showing to ``render``. Imports of the service modules stay inside
the commands, so ``mdm --help`` starts fast.
"""

from __future__ import annotations

import typer

from mdm.cli import access, changes, codes, db, export, match, quality, rejections, schema, seed
from mdm.cli.load import load_command
from mdm.cli.relay import relay_command
from mdm.cli.schema import schema_sdl, write_schema
from mdm.cli.serve import demo, serve

__all__ = ["app", "schema_sdl", "write_schema"]

app = typer.Typer(help="Healthcare MDM hub.", no_args_is_help=True, add_completion=False)
# Registration order is the order `mdm --help` lists: commands first, then the groups.
app.command("load")(load_command)
app.command("quality")(quality.quality_command)
app.command("serve")(serve)
app.command("demo")(demo)
app.command("relay")(relay_command)
app.add_typer(db.app, name="db")
app.add_typer(access.token_app, name="token")
app.add_typer(schema.app, name="schema")
app.add_typer(seed.app, name="seed")
app.add_typer(access.system_app, name="system")
app.add_typer(rejections.app, name="rejections")
app.add_typer(match.app, name="match")
app.add_typer(quality.truth_app, name="truth")
app.add_typer(codes.app, name="codes")
app.add_typer(changes.app, name="changes")
app.add_typer(export.app, name="export")
