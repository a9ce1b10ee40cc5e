"""`mdm demo` as a new user runs it (migrated, seeded, serving), for the API tests."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import _free_port, throwaway_pg_database

__all__ = ["Demo", "running_demo", "throwaway_pg_database"]

DEMO_START_SECONDS = 180


@dataclass
class Demo:
    """A running ``mdm demo``: its URL, the tokens it printed, its folder and environment."""

    url: str
    tokens: dict[str, str]
    output: str
    cwd: Path
    env: dict[str, str]

    def query(
        self, document: str, role: str, operation_name: str | None = None
    ) -> dict[str, object]:
        response = httpx.post(
            f"{self.url}/graphql",
            json={"query": document, "operationName": operation_name},
            headers={"Authorization": f"Bearer {self.tokens[role]}"},
            timeout=60,
        )
        assert response.status_code == 200, response.text
        body: dict[str, object] = response.json()
        return body


@contextmanager
def running_demo(cwd: Path, env: dict[str, str], *args: str) -> Iterator[Demo]:
    """Run ``mdm demo --port <free port> ARGS`` in ``cwd`` until it serves; stop it after."""
    port = _free_port()
    log = cwd / "demo.log"
    with log.open("w", encoding="utf-8") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "mdm.cli", "demo", "--port", str(port), *args],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + DEMO_START_SECONDS
        while not _is_up(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mdm demo did not start:\n{log.read_text(encoding='utf-8')}")
            time.sleep(0.2)
        output = log.read_text(encoding="utf-8")
        tokens = dict(re.findall(r"^(\w+) token: +(mdm_\S+)", output, flags=re.MULTILINE))
        yield Demo(url, tokens, output, cwd, env)
    finally:
        process.terminate()
        process.wait(timeout=15)


def _is_up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False
