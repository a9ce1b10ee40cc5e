"""Migrations and models agree, on both databases; the schema contract file matches the code."""

from __future__ import annotations

from pathlib import Path

from graphql import build_schema as parse_sdl
from graphql import find_breaking_changes

from mdm.cli import schema_sdl
from mdm.hub import Hub
from mdm.store import large_page_cache
from mdm.store.migrate import check

ROOT = Path(__file__).resolve().parents[2]


def test_models_and_migrations_agree(database_url: str) -> None:
    check(database_url)  # raises alembic.util.CommandError on drift


def test_schema_file_matches_code() -> None:
    committed = (ROOT / "graphql" / "schema.graphql").read_text(encoding="utf-8")
    built = schema_sdl()
    breaking = find_breaking_changes(parse_sdl(committed), parse_sdl(built))
    assert not breaking, f"breaking API changes: {breaking}"
    assert committed == built, (
        "graphql/schema.graphql is out of date: run `mdm schema export` and commit it"
    )


def test_example_operations_are_valid_against_the_schema() -> None:
    from graphql import parse, validate

    schema = parse_sdl((ROOT / "graphql" / "schema.graphql").read_text(encoding="utf-8"))
    examples = sorted((ROOT / "graphql" / "examples").glob("*.graphql"))
    assert len(examples) >= 5
    for path in examples:
        errors = validate(schema, parse(path.read_text(encoding="utf-8")))
        assert not errors, f"{path.name}: {errors}"


def test_a_large_page_cache_lasts_only_its_block(hub: Hub) -> None:
    with hub.database.session() as session:
        connection = session.connection()

        def cache_size() -> int:
            return int(connection.exec_driver_sql("PRAGMA cache_size").scalar_one())

        before = cache_size() if hub.database.is_sqlite else None
        with large_page_cache(session, kib=64 * 1024):
            if hub.database.is_sqlite:
                assert cache_size() == -64 * 1024
        if hub.database.is_sqlite:
            assert cache_size() == before
