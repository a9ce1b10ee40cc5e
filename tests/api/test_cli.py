"""The `mdm` command line as a user runs it: migrate, create a token, load, serve, ask."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from mdm.cli import app
from mdm.hub import Hub
from mdm.reevaluate import backlog
from tests.api.demo import Demo, running_demo
from tests.conftest import ROOT, _free_port
from tests.mdm.test_context import (
    NORTH_GLN,
    department,
    facility,
    golden_of,
    ingest,
    load_codes,
)


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


# -- what a new user meets first: `make demo`, its tokens, the README's examples ---------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """`make demo` in a fresh checkout: no MDM_DATABASE_URL; MDM_DEMO_DIR as the Makefile
    exports it (here another folder, to see it is honoured)."""
    cwd = tmp_path_factory.mktemp("checkout")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MDM_")}
    env["MDM_DEMO_DIR"] = "demo-data"
    with running_demo(cwd, env) as demo:
        yield demo


def readme_example(heading: str) -> tuple[str, str]:
    """The text between a README heading and its first GraphQL block, and the block."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index(f"### {heading}\n") :]
    found = re.search(r"(.*?)```graphql\n(.*?)```", section, flags=re.DOTALL)
    assert found is not None, heading
    return found[1], found[2]


def test_demo_prints_a_token_per_role_and_the_readme_examples_run_with_the_one_they_name(
    demo: Demo,
) -> None:
    assert set(demo.tokens) == {"reader", "integrator", "steward"}
    assert f"Bearer {demo.tokens['integrator']}" in demo.output  # the curl to paste

    said, crosswalk = readme_example("A crosswalk look-up")
    assert "Token: **integrator**" in said
    answer = demo.query(crosswalk, "integrator")
    assert "errors" not in answer, answer
    assert answer["data"]["crosswalk"]["goldenId"]  # type: ignore[index]
    refused = demo.query(crosswalk, "reader")
    assert {e["extensions"]["code"] for e in refused["errors"]} == {"FORBIDDEN"}  # type: ignore[attr-defined]

    said, ingest = readme_example("Ingesting a record")
    assert "Token: **integrator**" in said
    outcome = demo.query(ingest, "integrator")
    assert outcome["data"]["ingestRecord"]["outcome"]["status"] == "CREATED", outcome  # type: ignore[index]
    # The gloves' manufacturer is a maker of medical supplies in the seed, not a laundry.
    manufacturer = re.search(r'manufacturer: "(V\d+)"', ingest)
    assert manufacturer is not None
    with (ROOT / "seed" / "data" / "erp" / "vendors.csv").open(encoding="utf-8") as vendors:
        kind = {row["VENDOR"]: row["VENDOR_CLASS"] for row in csv.DictReader(vendors)}
    assert kind[manufacturer[1]] == "MFR"


def test_demo_keeps_its_database_in_mdm_demo_dir(demo: Demo) -> None:
    database = demo.cwd / "demo-data" / "mdm.sqlite3"
    assert database.exists()
    assert f"sqlite:///{database}" in demo.output
    assert not (demo.cwd / ".demo").exists() and not (demo.cwd / "mdm.sqlite3").exists()


def test_a_token_created_after_the_demo_works_against_the_demo_server(demo: Demo) -> None:
    created = subprocess.run(
        [sys.executable, "-m", "mdm.cli", "token", "create", "--role", "reader", "--name", "me"],
        cwd=demo.cwd,
        env=demo.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    body = httpx.post(
        f"{demo.url}/graphql",
        json={"query": "{ vendors(first: 1) { nodes { name } } }"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert body.status_code == 200, body.text
    assert body.json()["data"]["vendors"]["nodes"]


def test_seed_generate_takes_a_record_count_and_refuses_absurd_sizes(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "200"}  # error lines unwrapped
    made = mdm("seed", "generate", "--out", str(tmp_path / "small"), "--records", "600", env=env)
    assert made.returncode == 0, made.stderr
    assert 500 <= sum(json.loads(made.stdout).values()) <= 800
    for args, says in (
        (["--scale", "100000"], ["about 200,000,000 source records", "5,000,000"]),
        (["--records", "6000000"], ["about 6,000,000 source records", "5,000,000"]),
        (["--scale", "0"], ["scale must be positive"]),
        (["--records", "10", "--scale", "1"], ["--records or --scale, not both"]),
    ):
        refused = mdm("seed", "generate", "--out", str(tmp_path / "big"), *args, env=env)
        assert refused.returncode == 2, args
        assert all(s in refused.stderr for s in says), refused.stderr
        assert not (tmp_path / "big").exists()
    shown = mdm("seed", "generate", "--help", env=env)
    assert "source records" in shown.stdout


def test_match_reevaluate_works_off_the_whole_backlog_unless_dry_run(
    hub: Hub, tmp_path: Path
) -> None:
    load_codes(hub, tmp_path)
    ingest(hub, facility("ERP", "HHN", "HARBOR HEALTH NORTH MEDICAL CTR", NORTH_GLN))
    for n, name in enumerate(("PHARMACY", "RADIOLOGY", "LAB"), start=1):
        ingest(
            hub,
            department("ERP", f"HHN00{n}", name, "HHN"),
            department("EHR", f"D{n}", name.title(), "F1"),  # F1 is not in the store yet
        )
    ingest(hub, facility("EHR", "F1", "Harbor Health North Medical Center", NORTH_GLN))
    runner = CliRunner()
    url = ["--database-url", hub.database.url]

    shown = runner.invoke(app, ["match", "reevaluate", "--dry-run", *url])
    assert shown.exit_code == 0, shown.output
    with hub.database.read_session() as session:
        waiting = backlog(session).pending
    assert waiting >= 1
    assert f"re-evaluated 0; waiting {waiting} " in shown.stdout

    one = runner.invoke(app, ["match", "reevaluate", "--limit", "1", *url])
    assert one.exit_code == 0, one.output
    assert "re-evaluated 1;" in one.stdout

    everything = runner.invoke(app, ["match", "reevaluate", *url])
    assert everything.exit_code == 0, everything.output
    assert "waiting 0 (none)" in everything.stdout
    for n in (1, 2, 3):
        assert golden_of(hub, "location", "EHR", f"D{n}") == golden_of(
            hub, "location", "ERP", f"HHN00{n}"
        )
