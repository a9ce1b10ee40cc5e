"""A first load calibrates its types' match models from its own records; incremental
matching afterwards uses the stored version; too little data keeps the defaults, and says
why (on SQLite and PostgreSQL)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from mdm.cli import app
from mdm.hub import Hub
from mdm.loader import find_mappings, load
from mdm.store import MatchModelVersion

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = importlib.util.spec_from_file_location(
        "seed_generate_first_load", ROOT / "seed" / "generate.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    out = tmp_path_factory.mktemp("calibration") / "data"
    module.generate(out, scale=0.3, seed=11)
    return out


def _versions(hub: Hub) -> dict[str, MatchModelVersion]:
    with hub.database.read_session() as session:
        rows = session.scalars(select(MatchModelVersion)).all()
        for row in rows:
            session.expunge(row)
    return {row.entity_type: row for row in rows}


def test_a_first_load_stores_and_activates_its_calibrated_model(hub: Hub, dataset: Path) -> None:
    summary = load(hub.database, hub.ingestor, find_mappings(dataset))
    versions = _versions(hub)
    item = versions["item"]
    assert item.is_active and item.source == "calibrated" and item.version == 1
    assert item.notes["records"] >= 200 and item.notes["candidate_pairs"] > 0
    assert 0 < item.notes["prior"] < 0.05
    assert item.parameters["prior"] == pytest.approx(item.notes["prior"])
    assert summary.calibrations["item"]["source"] == "calibrated"
    # Types with too few records keep the domain defaults, stored so that it is said.
    vendor = versions["vendor"]
    assert vendor.source == "defaults" and vendor.is_active
    assert "records" in vendor.notes["reason"]
    # Matching after the load (incremental) uses the stored version.
    with hub.database.read_session() as session:
        active = hub.ingestor.models.active(session, hub.ingestor.specs["item"])
    assert (active.version, active.source) == (1, "calibrated")
    assert active.model.prior == pytest.approx(item.notes["prior"])


def test_the_same_data_gives_the_same_model(hub: Hub, dataset: Path) -> None:
    load(hub.database, hub.ingestor, find_mappings(dataset))
    first = _versions(hub)["item"].parameters
    _clear_all(hub)
    load(hub.database, hub.ingestor, find_mappings(dataset))
    assert _versions(hub)["item"].parameters == first


def _clear_all(hub: Hub) -> None:
    from tests.mdm.test_bulk import _clear

    _clear(hub)  # every table, the stored model versions too
    hub.ingestor.models._cache.clear()


def test_calibration_can_be_turned_off(hub: Hub, dataset: Path) -> None:
    summary = load(hub.database, hub.ingestor, find_mappings(dataset), calibrates=False)
    assert summary.calibrations == {}
    assert _versions(hub) == {}


def test_mdm_load_reports_and_match_params_shows_the_calibrated_version(
    database_url: str, dataset: Path
) -> None:
    runner = CliRunner()
    loaded = runner.invoke(
        app, ["load", str(dataset), "--database-url", database_url, "--json", "-q"]
    )
    assert loaded.exit_code == 0, loaded.output
    calibrations = json.loads(loaded.output)["calibrations"]
    assert calibrations["item"]["source"] == "calibrated"
    assert calibrations["vendor"]["source"] == "defaults"
    shown = runner.invoke(
        app, ["match", "params", "-t", "item", "--database-url", database_url, "--json"]
    )
    assert shown.exit_code == 0, shown.output
    assert "calibrated" in shown.output
