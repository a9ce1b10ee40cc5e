"""The `mdm` command line as a user runs it: migrate, create a token, load, serve, ask."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import ROOT, _free_port


def mdm(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mdm.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_migrate_token_load_serve(tmp_path: Path) -> None:
    env = {**os.environ, "MDM_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}"}
    assert mdm("db", "upgrade", env=env).returncode == 0
    bad_role = mdm("token", "create", "--role", "king", "--name", "x", env=env)
    assert bad_role.returncode == 2
    assert "unknown role" in bad_role.stderr
    created = mdm("token", "create", "--role", "integrator", "--name", "interface", env=env)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("mdm_")

    (tmp_path / "v.csv").write_text("ID,NAME\nV1,Acme Medical\nV2,Beta Labs\n", encoding="utf-8")
    (tmp_path / "erp.toml").write_text(
        '[system]\ncode = "ERP"\n[[entity]]\ntype = "vendor"\nfile = "v.csv"\n'
        'source_id = "ID"\n[entity.attributes]\nname = "NAME"\n',
        encoding="utf-8",
    )
    loaded = mdm("load", "-q", str(tmp_path / "erp.toml"), env=env)
    assert loaded.returncode == 0, loaded.stderr
    assert "ERP" in loaded.stdout and "vendor" in loaded.stdout

    (tmp_path / "bad.toml").write_text(
        '[system]\ncode = "ERP"\n[[entity]]\ntype = "x"\n', encoding="utf-8"
    )
    refused = mdm("load", "-q", str(tmp_path / "bad.toml"), env=env)
    assert refused.returncode == 2
    assert "INVALID_MAPPING" in refused.stderr and "entity[0].type" in refused.stderr

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mdm.cli", "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        cwd=ROOT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        body = httpx.post(
            f"{url}/graphql",
            json={
                "query": '{ crosswalk(entityType: "vendor", system: "ERP", sourceId: "V2") '
                "{ golden { ... on Vendor { name } } } }"
            },
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        assert body == {"data": {"crosswalk": {"golden": {"name": "Beta Labs"}}}}
        too_deep = (
            "{ vendors { nodes { " + "sourceRecords { golden { " * 8 + "id" + " } }" * 8 + " } } }"
        )
        limited = httpx.post(
            f"{url}/graphql", json={"query": too_deep}, headers={"Authorization": f"Bearer {token}"}
        ).json()
        assert "exceeds maximum operation depth" in limited["errors"][0]["message"]
    finally:
        server.terminate()
        server.wait(timeout=10)
