"""``mdm schema``: the GraphQL contract (SDL) the code builds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mdm.settings import Settings

_ROOT = Path(__file__).resolve().parents[2]
# A checkout keeps the contract at graphql/schema.graphql beside the code. Installed, the
# default is graphql/schema.graphql in the working folder: never site-packages/graphql/,
# which is graphql-core's.
SCHEMA_FILE = (
    _ROOT / "graphql" / "schema.graphql"
    if (_ROOT / "pyproject.toml").is_file()
    else Path("graphql") / "schema.graphql"
)

app = typer.Typer(help="The GraphQL contract.", no_args_is_help=True)


@app.command("export")
def schema_export(
    out: Annotated[Path, typer.Option(help="Where to write the SDL.")] = SCHEMA_FILE,
) -> None:
    """Write the GraphQL schema (SDL) that the code builds: the API contract."""
    typer.echo(f"wrote {write_schema(out)}")


def schema_sdl() -> str:
    """The SDL of the schema built from the default entity specs."""
    from mdm.api.schema import build_schema
    from mdm.specs import DEFAULT_SPECS

    return build_schema(DEFAULT_SPECS, Settings()).as_str() + "\n"


def write_schema(out: Path) -> Path:
    """Write ``schema_sdl()`` to ``out`` (folders created) and return ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(schema_sdl(), encoding="utf-8")
    return out
