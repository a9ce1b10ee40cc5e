"""``mdm seed``: generate a sample data set (the generator of ``seed/``, installed as
``mdm._seed``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mdm.cli.render import console, fail

app = typer.Typer(help="Sample data.", no_args_is_help=True)


@app.command("generate")
def seed_generate(
    out: Annotated[Path, typer.Option(help="Folder to write the data set into.")],
    records: Annotated[
        int | None,
        typer.Option(
            min=1, help="About how many source records to write, in all systems (default 2,000)."
        ),
    ] = None,
    scale: Annotated[
        float | None,
        typer.Option(help="Instead of --records: a multiplier, 1 is about 2,000 source records."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same files.")] = 42,
) -> None:
    """Generate a realistic multi-system data set with its ground truth (at most 5,000,000
    source records)."""
    import mdm._seed as generator
    from mdm.errors import InvalidInputError

    if records is not None and scale is not None:
        fail(InvalidInputError("give --records or --scale, not both", field="records"))
    if records is not None:
        chosen = generator.scale_for(records)
    else:
        chosen = scale if scale is not None else 1.0
    try:
        generator.check_scale(chosen)
    except ValueError as error:
        fail(InvalidInputError(str(error), field="records" if records else "scale"))
    counts = generator.generate(out, scale=chosen, seed=seed)
    typer.echo(json.dumps(counts, indent=2, sort_keys=True))
    console.print(f"{sum(counts.values()):,} source records written to {out}")
