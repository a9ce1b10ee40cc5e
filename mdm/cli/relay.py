"""``mdm relay``: publish the change-event outbox to NATS JetStream."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from mdm.cli.options import DatabaseUrl, load_settings
from mdm.cli.render import console, fail
from mdm.errors import MdmError


def relay_command(
    url: Annotated[str, typer.Argument(help="NATS server, e.g. nats://127.0.0.1:4222.")],
    stream: Annotated[str, typer.Option(help="JetStream stream (created if missing).")] = (
        "MDM_CHANGES"
    ),
    subject_prefix: Annotated[
        str, typer.Option(help="Subjects are <prefix>.<entity type>.")
    ] = "mdm.changes",
    batch: Annotated[int, typer.Option(help="Events read and published at once.")] = 500,
    max_rate: Annotated[float, typer.Option(help="Events per second at most (0: no limit).")] = 0.0,
    until_caught_up: Annotated[
        bool, typer.Option(help="Stop once every stored event is published.")
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Publish every change event, in order and exactly once, to NATS JetStream: one
    subject per entity type, the event sequence as message id (JetStream de-duplication),
    the position stored in the hub (consumer relay:<stream>). Runs until stopped."""
    from mdm.relay import Relay, RelayConfig
    from mdm.store import Database

    settings = load_settings(database_url=database_url)
    config = RelayConfig(
        url=url, stream=stream, subject_prefix=subject_prefix, batch=batch, max_rate=max_rate
    )
    database = Database(settings.database_url)
    try:
        relay = Relay(database, config)
        console.print(f"relaying {settings.database_url} -> {url} stream {stream}")
        published = asyncio.run(relay.run(until_caught_up=until_caught_up))
    except MdmError as error:
        fail(error)
    except KeyboardInterrupt:
        published = -1
    finally:
        database.dispose()
    if published >= 0:
        console.print(f"published {published:,} events")
