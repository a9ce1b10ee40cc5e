"""``mdm load``: source files through their mapping files."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from mdm.cli.options import DatabaseUrl, load_settings
from mdm.cli.render import fail, print_load_summary, progress_bar
from mdm.errors import MdmError


def load_command(
    paths: Annotated[list[Path], typer.Argument(help="Mapping files, or folders of them.")],
    database_url: DatabaseUrl = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a machine-readable summary on stdout.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="Apply files loaded before too (unchanged: skipped)."),
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="Log each phase of a bulk load, timed, on stderr."),
    ] = False,
) -> None:
    """Load source files through their mapping files (CSV, JSON Lines, FHIR).

    Files loaded before with the same content and mapping are skipped unread.
    """
    if verbose:
        logging.basicConfig(format="%(asctime)s %(name)s %(message)s")
        logging.getLogger("mdm").setLevel(logging.INFO)
    from mdm.hub import Hub
    from mdm.loader import count_records, find_mappings, load, plan_files, plan_load

    hub = Hub(load_settings(database_url=database_url))
    files = [f for p in paths for f in find_mappings(p)]
    try:
        plan = plan_load(files, hub.ingestor)
        total = sum(
            f.loaded_records if f.loaded_records is not None else count_records(f.system, f.entity)
            for f in plan_files(hub.database, plan, force=force)
        )
        with progress_bar(disable=quiet or as_json) as progress:
            task = progress.add_task("loading", total=total)

            def advance(label: str, n: int) -> None:
                progress.update(task, advance=n, description=label)

            summary = load(
                hub.database,
                hub.ingestor,
                files,
                on_progress=advance,
                workers=hub.settings.bulk_workers,
                force=force,
                calibrates=hub.settings.calibration,
                term_frequencies=hub.settings.term_frequencies,
            )
    except MdmError as error:
        fail(error)
    finally:
        hub.close()
    if as_json:
        typer.echo(json.dumps(summary.to_dict(), indent=2, default=str))
        return
    print_load_summary(summary)
