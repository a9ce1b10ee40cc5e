"""Shared fixtures: one test body, two databases (SQLite always, PostgreSQL when configured)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from mdm.auth import Role, create_token
from mdm.hub import Hub
from mdm.settings import Settings
from mdm.store import Base, upgrade
from mdm.systems import register_system

ROOT = Path(__file__).resolve().parents[1]
PG_ENV = "MDM_TEST_DATABASE_URL"
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql"),
]


def _pg_admin_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"{PG_ENV} is not set: PostgreSQL variant not run")
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once is faster)."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


@contextmanager
def throwaway_pg_database(prefix: str = "mdm_test") -> Iterator[str]:
    """An empty PostgreSQL database of its own, dropped after (skips without
    MDM_TEST_DATABASE_URL)."""
    admin_url = make_url(_pg_admin_url())
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :n AND pid <> pg_backend_pid()"
                ),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A throwaway PostgreSQL database for this test session, migrated, dropped at the end."""
    with throwaway_pg_database() as url:
        upgrade(url)
        yield url


def _truncate_pg(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, migrated database of each backend."""
    if request.param == "sqlite":
        path = tmp_path / "mdm.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_database")
    _truncate_pg(url)
    return url


@pytest.fixture
def hub(database_url: str) -> Iterator[Hub]:
    """A hub on an empty database, with the systems ERP, EHR and PROCUREMENT registered."""
    hub = Hub(Settings(database_url=database_url))
    with hub.database.session() as session:
        for code in ("ERP", "EHR", "PROCUREMENT"):
            register_system(session, code, code.title())
    yield hub
    hub.close()


# -- a real server process per backend ---------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A running ``mdm serve`` process and tokens of every role."""

    def __init__(self, url: str, database_url: str, tokens: dict[str, str]) -> None:
        self.url = url
        self.database_url = database_url
        self.tokens = tokens

    def client(self, role: str | None = "admin") -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def query(self, document: str, variables: dict | None = None, role: str = "admin") -> dict:
        with self.client(role) as client:
            response = client.post("/graphql", json={"query": document, "variables": variables})
        assert response.status_code == 200, response.text
        return response.json()


def register_systems_and_tokens(database_url: str) -> dict[str, str]:
    """The systems ERP, EHR and PROCUREMENT, and a token per role (by role name)."""
    hub = Hub(Settings(database_url=database_url))
    tokens = {}
    with hub.database.session() as session:
        for code in ("ERP", "EHR", "PROCUREMENT"):
            register_system(session, code, code.title())
        for role in Role:
            tokens[role.name.lower()] = create_token(session, f"test {role.name}", role)
    hub.close()
    return tokens


def start_server(database_url: str, **env: str) -> tuple[subprocess.Popen[bytes], str]:
    """An ``mdm serve`` process on a free port (``env``: extra ``MDM_*`` settings), once it
    answers ``/healthz``; the caller stops it."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mdm.cli", "serve", "--port", str(port), "--log-level", "warning"],
        env={**os.environ, "MDM_DATABASE_URL": database_url, **env},
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("mdm serve did not start")
        time.sleep(0.1)


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="session", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    # Its own database: the server lives for the whole session and works the re-evaluation
    # backlog in the background, so it must never share the one other tests truncate.
    with ExitStack() as stack:
        if request.param == "sqlite":
            path = tmp_path_factory.mktemp("server") / "mdm.sqlite3"
            database_url = f"sqlite:///{path}"
        else:
            database_url = stack.enter_context(throwaway_pg_database("mdm_server"))
        upgrade(database_url)
        tokens = register_systems_and_tokens(database_url)
        process, url = start_server(database_url)
        try:
            yield Server(url, database_url, tokens)
        finally:
            stop_server(process)
