"""Migrations and models agree, on both databases; the schema contract file matches the code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
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


def test_a_thread_keeps_its_read_connection_and_a_broken_one_is_replaced(hub: Hub) -> None:
    """``Database.read``: on PostgreSQL one connection per thread from call to call,
    with no transaction left open after a call; a failing ``work`` keeps it, and one the
    server dropped is replaced within the call that finds it broken. On SQLite each call
    reads on a pooled connection and leaves no read transaction behind."""
    import threading

    from sqlalchemy import Connection, text

    database = hub.database
    seen: list[Connection] = []

    def backend(connection: Connection) -> Any:
        seen.append(connection)
        if database.is_sqlite:
            return connection.exec_driver_sql("SELECT count(*) FROM change_event").scalar_one()
        return connection.execute(text("SELECT pg_backend_pid()")).scalar_one()

    def fails(connection: Connection) -> None:
        seen.append(connection)
        raise ValueError("not the connection's fault")

    first = database.read(backend)
    assert database.read(backend) == first
    with pytest.raises(ValueError):
        database.read(fails)
    if database.is_sqlite:
        assert all(c.closed for c in seen)  # back to the pool, its transaction ended
        return
    assert seen[0] is seen[1] is seen[2]
    assert not seen[0].in_transaction()  # nothing held between calls
    assert database.read(backend) == first  # kept after a failing work
    other: list[Any] = []
    thread = threading.Thread(target=lambda: other.append(database.read(backend)))
    thread.start()
    thread.join()
    assert other[0] != first  # the other thread's own
    with database.session() as session:  # the server drops the kept connection
        session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    replaced = database.read(backend)
    assert replaced != first
    assert database.read(backend) == replaced
    kept = seen[-1]
    database.dispose()
    assert kept.closed
