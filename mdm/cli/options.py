"""What commands share: their common options and the settings they build from them."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from mdm.cli.render import fail
from mdm.errors import MdmError
from mdm.settings import Settings

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="Overrides MDM_DATABASE_URL (default: the demo's, mdm.sqlite3 in MDM_DEMO_DIR=.demo).",
    ),
]
EntityTypeOption = Annotated[
    str | None, typer.Option("--entity-type", "-t", help="One entity type (default: all).")
]
ActorOption = Annotated[str, typer.Option("--actor", help="Who decides (for the audit log).")]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why (required, audited).")]


def load_settings(**overrides: Any) -> Settings:
    """``Settings`` from the environment with the command's flags on top; exit 2 if bad."""
    try:
        return Settings.from_env(**overrides)
    except MdmError as error:
        fail(error)
