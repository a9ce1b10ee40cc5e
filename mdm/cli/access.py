"""``mdm token`` and ``mdm system``: who may call the API, and which systems send records."""

from __future__ import annotations

from typing import Annotated

import typer

from mdm.cli.options import DatabaseUrl, load_settings
from mdm.cli.render import console, fail
from mdm.errors import MdmError

token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
system_app = typer.Typer(help="Source systems.", no_args_is_help=True)


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="reader, integrator, steward or admin")],
    name: Annotated[str, typer.Option(help="Who or what uses the token.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Create an API token and print it (it is shown only once)."""
    from mdm.auth import Role, create_token
    from mdm.store import Database

    settings = load_settings(database_url=database_url)
    database = Database(settings.database_url)
    try:
        with database.session() as session:
            token = create_token(session, name, Role.parse(role))
    except MdmError as error:
        fail(error)
    finally:
        database.dispose()
    typer.echo(token)


@token_app.command("list")
def token_list(database_url: DatabaseUrl = None) -> None:
    """List tokens by name and role (the tokens themselves are never stored)."""
    from mdm.auth import list_tokens
    from mdm.store import Database

    database = Database(load_settings(database_url=database_url).database_url)
    try:
        with database.read_session() as session:
            tokens = list_tokens(session)
    finally:
        database.dispose()
    for token in tokens:
        state = f"revoked {token.revoked_at:%Y-%m-%d %H:%M}" if token.revoked_at else "live"
        created = f"{token.created_at:%Y-%m-%d %H:%M}"
        typer.echo(f"{token.id}\t{token.role}\t{state}\t{created}\t{token.name}")


@token_app.command("revoke")
def token_revoke(
    name: Annotated[str, typer.Option(help="The name the token was created with.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke every live token of that name. Servers refuse it once their cached check
    lapses (MDM_TOKEN_CACHE_SECONDS); its open subscriptions end with UNAUTHENTICATED."""
    from mdm.auth import revoke_tokens
    from mdm.store import Database

    database = Database(load_settings(database_url=database_url).database_url)
    try:
        with database.session() as session:
            revoked = revoke_tokens(session, name)
    except MdmError as error:
        fail(error)
    finally:
        database.dispose()
    console.print(f"revoked {revoked} token(s) named {name!r}", markup=False)


@system_app.command("add")
def system_add(code: str, name: str, database_url: DatabaseUrl = None) -> None:
    """Register a source system (its mapping comes with `mdm load`)."""
    from mdm.store import Database
    from mdm.systems import register_system

    database = Database(load_settings(database_url=database_url).database_url)
    try:
        with database.session() as session:
            register_system(session, code, name)
    except MdmError as error:
        fail(error)
    finally:
        database.dispose()
    console.print(f"system {code} registered")
