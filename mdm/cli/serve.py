"""``mdm serve`` and ``mdm demo``: the GraphQL API, and the API with sample data."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from mdm.cli.load import load_command
from mdm.cli.options import DatabaseUrl, load_settings
from mdm.cli.render import demo_banner


def serve(
    host: Annotated[str | None, typer.Option(help="Overrides MDM_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Overrides MDM_PORT.")] = None,
    database_url: DatabaseUrl = None,
    log_level: Annotated[str | None, typer.Option(help="Overrides MDM_LOG_LEVEL.")] = None,
) -> None:
    """Serve the GraphQL API (GraphiQL at /graphql)."""
    import uvicorn

    from mdm.api.socket_writes import CoalescingWebSocketProtocol
    from mdm.app import create_app

    settings = load_settings(host=host, port=port, database_url=database_url, log_level=log_level)
    logging.basicConfig(level=settings.log_level.upper())
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,
        # Change events go to many subscribers at once: compressing each copy per socket
        # would cost more CPU than the events' few hundred bytes save.
        ws_per_message_deflate=False,
        ws=CoalescingWebSocketProtocol,  # a replay's messages in one write a loop turn
    )


def demo(
    host: Annotated[str | None, typer.Option(help="Overrides MDM_HOST (127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Overrides MDM_PORT (8000).")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Migrate, load the seed, print a token per role and a curl example, then serve."""
    import mdm._seed as seed
    from mdm.auth import Role, create_token
    from mdm.store import Database, upgrade

    roles = {  # what each token adds; the README's examples say which one they need
        Role.READER: "golden records, review queue, quality",
        Role.INTEGRATOR: "+ crosswalk, translate, source records, ingest",
        Role.STEWARD: "+ review decisions, unmerge, reference data decisions",
    }
    settings = load_settings(database_url=database_url, host=host, port=port)
    upgrade(settings.database_url)
    load_command([seed.DATA_DIR], database_url=settings.database_url, quiet=False)
    database = Database(settings.database_url)
    with database.session() as session:
        tokens = {role: create_token(session, f"demo {role.name.lower()}", role) for role in roles}
    database.dispose()
    url = f"http://{settings.host}:{settings.port}/graphql"
    typer.echo(
        demo_banner(
            url,
            settings.database_url,
            {role.name.lower(): (tokens[role], can) for role, can in roles.items()},
            curl_token=tokens[Role.INTEGRATOR],
        )
    )
    serve(host=settings.host, port=settings.port, database_url=settings.database_url)
