"""``mdm quality`` and ``mdm truth``: match quality against the ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mdm.cli.options import DatabaseUrl, load_settings
from mdm.cli.render import console, fail, print_quality_report, proposal_summaries
from mdm.errors import MdmError

if TYPE_CHECKING:
    from mdm.quality import QualityReport

truth_app = typer.Typer(help="Ground truth for measuring match quality.", no_args_is_help=True)


@truth_app.command("load")
def truth_load(
    path: Annotated[Path, typer.Argument(help="A truth.csv, or a folder holding one.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Store truth labels (entity_type,system,source_id,entity_key); all or nothing."""
    from mdm.specs import DEFAULT_SPECS
    from mdm.store import Database
    from mdm.truth import TruthFile, store_truth

    database = Database(load_settings(database_url=database_url).database_url)
    try:
        truth = TruthFile(path, DEFAULT_SPECS)
        with database.session() as session:
            written = store_truth(session, truth, DEFAULT_SPECS)
    except MdmError as error:
        fail(error)
    finally:
        database.dispose()
    counts = ", ".join(f"{n} {entity_type}" for entity_type, n in written.items() if n)
    console.print(f"truth labels stored from {truth.path}: {counts or 'none'}")


def quality_command(
    truth_path: Annotated[
        Path | None,
        typer.Option(
            "--truth", help="A truth.csv or a folder holding one (default: stored labels)."
        ),
    ] = None,
    entity_type: Annotated[
        str | None, typer.Option("--entity-type", help="Only this entity type.")
    ] = None,
    examples: Annotated[
        int, typer.Option(min=0, help="False merges and missed matches to show per type.")
    ] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    compare_without_context: Annotated[
        bool,
        typer.Option(
            "--without-context",
            help="Also match the records again in a scratch database without context "
            "evidence (parents, learned codes) and show both F1s; needs --truth.",
        ),
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Match quality of the golden records against the truth, per entity type."""
    from mdm.codes import load_codebook
    from mdm.context import unresolved_references
    from mdm.errors import InvalidInputError
    from mdm.quality import quality_report, quality_without_context
    from mdm.reference import list_correspondences, unmapped_values
    from mdm.specs import DEFAULT_SPECS
    from mdm.store import Database
    from mdm.truth import StoredTruth, TruthFile, TruthSource

    if compare_without_context and truth_path is None:
        fail(
            InvalidInputError(
                "--without-context needs --truth PATH (a truth.csv or a folder holding one)",
                field="truth",
            )
        )
    database = Database(load_settings(database_url=database_url).database_url)
    without: QualityReport | None = None
    try:
        with database.read_session() as session:
            truth: TruthSource = (
                TruthFile(truth_path, DEFAULT_SPECS)
                if truth_path is not None
                else StoredTruth(session)
            )
            report = quality_report(
                session,
                DEFAULT_SPECS,
                truth,
                examples=examples,
                entity_type=entity_type,
                codes=load_codebook(session),
            )
            if compare_without_context:
                without = quality_without_context(
                    session, DEFAULT_SPECS, truth, entity_type=entity_type
                )
            unmapped = unmapped_values(session, entity_type=entity_type)
            unresolved = unresolved_references(session)
            proposals = proposal_summaries(list_correspondences(session, "proposed"))
    except MdmError as error:
        fail(error)
    finally:
        database.dispose()
    print_quality_report(report, without, unmapped, proposals, unresolved, as_json=as_json)
