"""``mdm export``: file extracts of golden records, the crosswalk, and the changes since a
named consumer's position, as CSV or JSON Lines (``mdm.export``)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, NoReturn

import typer

from mdm.cli.options import DatabaseUrl, load_settings
from mdm.cli.render import console, fail
from mdm.errors import MdmError

if TYPE_CHECKING:
    from collections.abc import Callable

    from mdm.export import ExtractSummary
    from mdm.hub import Hub

app = typer.Typer(
    help="File extracts: golden records, the crosswalk, changes since a consumer's position.",
    no_args_is_help=True,
)

FormatOption = Annotated[str, typer.Option("--format", help="csv or jsonl (JSON Lines).")]
OutOption = Annotated[
    str,
    typer.Option(
        "--out",
        "-o",
        help="The file (written as FILE.partial, then renamed into place), or - for stdout.",
    ),
]
EntityType = Annotated[str, typer.Option("--entity-type", "-t", help="The entity type.")]
SystemOption = Annotated[
    str | None,
    typer.Option("--system", help="Only this system's view: its records, its ids."),
]
JsonOption = Annotated[
    bool,
    typer.Option("--json", help="The summary as JSON (on stdout; on stderr with --out -)."),
]


@app.command("goldens")
def goldens_command(
    entity_type: EntityType,
    fmt: FormatOption,
    out: OutOption,
    system: SystemOption = None,
    as_json: JsonOption = False,
    database_url: DatabaseUrl = None,
) -> None:
    """One row per live golden record: id, version, status, updated time, the survived
    attributes, and its ids in every system (with --system: that system's ids, and only
    the golden records it holds a record of)."""
    from mdm import export

    _extract(
        lambda hub: export.export_goldens(
            hub.database,
            hub.specs,
            entity_type,
            export.ExtractFormat.parse(fmt),
            _target(out),
            system=system,
        ),
        database_url=database_url,
        as_json=as_json,
    )


@app.command("crosswalk")
def crosswalk_command(
    entity_type: EntityType,
    fmt: FormatOption,
    out: OutOption,
    system: SystemOption = None,
    as_json: JsonOption = False,
    database_url: DatabaseUrl = None,
) -> None:
    """One row per source record: system, source id, its live golden record (merges
    followed) and that record's status; a deleted record has none."""
    from mdm import export

    _extract(
        lambda hub: export.export_crosswalk(
            hub.database,
            hub.specs,
            entity_type,
            export.ExtractFormat.parse(fmt),
            _target(out),
            system=system,
        ),
        database_url=database_url,
        as_json=as_json,
    )


@app.command("changes")
def changes_command(
    consumer: Annotated[
        str, typer.Option("--consumer", help="The named consumer whose position to start from.")
    ],
    fmt: FormatOption,
    out: OutOption,
    entity_types: Annotated[
        list[str] | None,
        typer.Option("--entity-type", "-t", help="Only events of this type (repeatable)."),
    ] = None,
    systems: Annotated[
        list[str] | None,
        typer.Option("--system", help="Only events touching this system's records (repeatable)."),
    ] = None,
    max_events: Annotated[
        int | None, typer.Option("--max-events", min=1, help="At most this many events.")
    ] = None,
    as_json: JsonOption = False,
    database_url: DatabaseUrl = None,
) -> None:
    """The events after the consumer's position, one per line (JSON Lines: the event
    document of mdm/schemas/change_event.schema.json; CSV: flat columns and the payload as
    JSON). The consumer is acknowledged only once the file is complete and in place; an
    existing FILE is refused (it may not have been taken yet)."""
    from mdm import export

    _extract(
        lambda hub: export.export_changes(
            hub.database,
            hub.specs,
            consumer,
            export.ExtractFormat.parse(fmt),
            _target(out),
            entity_types=entity_types or None,
            systems=systems or None,
            max_events=max_events,
        ),
        database_url=database_url,
        as_json=as_json,
    )


def _extract(
    run: Callable[[Hub], ExtractSummary], *, database_url: str | None, as_json: bool
) -> None:
    """Run one extract on a hub of ``database_url`` and print its summary (or the error)."""
    from mdm.hub import Hub

    hub = Hub(load_settings(database_url=database_url))
    try:
        summary = run(hub)
    except MdmError as error:
        _fail(error)
    finally:
        hub.close()
    _print_summary(summary, as_json=as_json)


def _target(out: str) -> Path | IO[str]:
    if out != "-":
        return Path(out)
    stream = sys.stdout
    if isinstance(stream, io.TextIOWrapper) and stream.encoding.lower() not in ("utf-8", "utf8"):
        stream.reconfigure(encoding="utf-8")
    return stream


def _fail(error: MdmError) -> NoReturn:
    fail(error)  # ``fail`` prints the message as text, never as rich markup


def _print_summary(summary: ExtractSummary, *, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(summary.to_dict()), err=summary.out == "-")
        return
    where = "stdout" if summary.out == "-" else summary.out
    noun = {"goldens": "golden records", "changes": "events"}.get(summary.extract, "rows")
    line = f"wrote {summary.rows:,} {noun} to {where}"
    if summary.consumer is None:
        line += f"; change stream head {summary.position:,}"
    else:
        line += (
            f"; consumer {summary.consumer} at position {summary.position:,} "
            f"(was {summary.previous_position or 0:,})"
        )
    console.print(line, markup=False, highlight=False)
