"""In-process checks that need the server's internals: SQL statement counts, field permissions."""

from __future__ import annotations

import gc
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from sqlalchemy import event

from mdm.app import create_app
from mdm.auth import Role, create_token
from mdm.ingest import RecordInput
from mdm.settings import Settings
from mdm.systems import register_system


@pytest.fixture
def client_and_hub(database_url: str) -> Iterator[tuple[httpx.Client, object, str]]:
    """The app served by uvicorn in a thread of this process, on a real socket."""
    # No background re-evaluation: its ticks would add statements to the counts.
    app = create_app(Settings(database_url=database_url, background_reevaluation=False))
    hub = app.state.hub
    with hub.database.session() as session:
        register_system(session, "ERP", "ERP")
        token = create_token(session, "t", Role.ADMIN)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}")
    client.app = app  # type: ignore[attr-defined]
    try:
        yield client, hub, token
    finally:
        client.close()
        server.should_exit = True
        thread.join(timeout=10)


def _load_items(hub: object, n: int) -> None:
    records = [RecordInput("vendor", "ERP", f"V{i}", {"name": f"Vendor {i}"}) for i in range(n)]
    records += [
        RecordInput(
            "item",
            "ERP",
            f"I{i}",
            {"description": f"ITEM {i}", "manufacturer": f"V{i % 7}", "vendor": f"V{i % 5}"},
        )
        for i in range(n)
    ]
    with hub.database.session() as session:  # type: ignore[attr-defined]
        hub.ingestor.ingest_many(session, records, enforce_batch_limit=False)  # type: ignore[attr-defined]


QUERY = """{ items(first: 40) { nodes { id description
    manufacturer { id name sourceRecords { system sourceId } }
    vendor { name }
    sourceRecords { sourceId golden { id } } } } }"""


def test_references_and_source_records_take_a_constant_number_of_queries(
    client_and_hub: tuple[httpx.Client, object, str],
) -> None:
    client, hub, token = client_and_hub
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    engine = hub.database.engine  # type: ignore[attr-defined]
    headers = {"Authorization": f"Bearer {token}"}
    client.post("/graphql", json={"query": "{ sourceSystems { code } }"}, headers=headers)
    counts = []
    for n in (10, 40):
        _load_items(hub, n)
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        response = client.post("/graphql", json={"query": QUERY}, headers=headers)
        event.remove(engine, "before_cursor_execute", count)
        body = response.json()
        assert "errors" not in body, body
        nodes = body["data"]["items"]["nodes"]
        assert len(nodes) == n
        assert all(node["manufacturer"]["name"].startswith("Vendor") for node in nodes)
        counts.append(len([s for s in statements if s.lstrip().upper().startswith("SELECT")]))
    # Four times the rows, the same number of SELECTs: DataLoaders batch every level.
    assert counts[0] == counts[1] <= 8, counts


def test_every_root_field_requires_a_role(client_and_hub: tuple[httpx.Client, object, str]) -> None:
    client, _, _ = client_and_hub
    schema = client.app.routes[0].endpoint.schema  # type: ignore[attr-defined]
    unguarded = []
    for root in (schema.query, schema.mutation):
        definition = root.__strawberry_definition__
        for field in definition.fields:
            if not field.permission_classes:
                unguarded.append(f"{definition.name}.{field.python_name}")
    assert unguarded == []


def test_the_server_settles_the_process_when_it_starts(
    client_and_hub: tuple[httpx.Client, object, str],
) -> None:
    _, hub, _ = client_and_hub
    database = hub.database  # type: ignore[attr-defined]
    # WAL checkpoints run off the request path (SQLite); start-up objects are frozen.
    if database.is_sqlite:
        assert database.checkpointer is not None and database.checkpointer.is_running
    else:
        assert database.checkpointer is None
    assert gc.get_freeze_count() > 0
