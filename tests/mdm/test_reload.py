"""Loading files again: files loaded before are skipped, older versions never win, a
load that failed midway is completed, and `mdm load --json` says what happened."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from mdm import loader
from mdm.bulk import BulkLoader
from mdm.cli import app
from mdm.codes import reference_data_version
from mdm.hub import Hub
from mdm.ingest import IngestStatus
from mdm.loader import SKIPPED, SUPERSEDED, FileStatus, find_mappings, load
from mdm.reference import load_reference_files
from mdm.store import AuditLog, Base, ChangeEvent, GoldenRecord, LoadedFile, SourceRecord

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "seed" / "data"
WRITES = ("created", "updated", "unchanged", "deleted", "rejected", "superseded")

HEADER = "VENDOR,NAME,TAX,CITY,STATUS\n"
MAIN = (
    HEADER + "V1,Acme Medical,41-2847561,Austin,A\n"
    "V2,Beta Labs,,Dallas,A\n"
    "V3,Gamma Surgical,,Tampa,A\n"
    "V4,Delta Health Supply,,Boston,A\n"
    "V5,Epsilon Diagnostics,,Denver,A\n"
)
CHANGES = HEADER + "V1,Acme Medical Supply,41-2847561,Houston,A\nV3,Gamma Surgical,,Tampa,D\n"
TABLE = (
    '[[entity]]\ntype = "vendor"\nfile = "{file}"\nsource_id = "VENDOR"\n'
    'deleted = {{ field = "STATUS", equals = ["D"] }}\n'
    '[entity.attributes]\nname = "NAME"\ntax_id = "TAX"\ncity = "CITY"\n'
)


def write_mapping(folder: Path, *files: str, name: str = "erp.toml", extra: str = "") -> Path:
    """An ERP mapping of vendor files (in this order) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    tables = "".join(TABLE.format(file=f) + extra for f in files)
    path = folder / name
    path.write_text('[system]\ncode = "ERP"\n' + tables, encoding="utf-8")
    return path


@pytest.fixture
def extract(tmp_path: Path) -> Path:
    """A folder with a main extract and a file of later changes, both mapped."""
    folder = tmp_path / "erp"
    folder.mkdir()
    (folder / "vendors.csv").write_text(MAIN, encoding="utf-8")
    (folder / "vendors_changes.csv").write_text(CHANGES, encoding="utf-8")
    write_mapping(folder, "vendors.csv", "vendors_changes.csv")
    return folder


def snapshot(hub: Hub, *, without: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """Every row of every table: equal snapshots mean nothing was written."""
    with hub.database.read_session() as session:
        return {
            table.name: sorted(repr(tuple(row)) for row in session.execute(table.select()))
            for table in Base.metadata.sorted_tables
            if table.name not in without
        }


def record(hub: Hub, source_id: str) -> SourceRecord:
    with hub.database.read_session() as session:
        found = session.scalar(
            select(SourceRecord).where(
                SourceRecord.system == "ERP", SourceRecord.source_id == source_id
            )
        )
    assert found is not None
    return found


def count(hub: Hub, column: Any) -> int:
    with hub.database.read_session() as session:
        return int(session.scalar(select(func.count(column))) or 0)


# -- the same files again ---------------------------------------------------------------------


def test_the_seed_loaded_again_writes_nothing(hub: Hub) -> None:
    first = load(hub.database, hub.ingestor, find_mappings(SEED))
    before = snapshot(hub)
    with hub.database.read_session() as session:
        version = reference_data_version(session)
    second = load(hub.database, hub.ingestor, find_mappings(SEED))
    assert snapshot(hub) == before
    assert {status: second.total(status) for status in WRITES} == dict.fromkeys(WRITES, 0)
    assert second.total(SKIPPED) == first.total() > 2000
    assert [f.status for f in second.files] == [FileStatus.SKIPPED] * 16
    assert [(f.path, f.records) for f in second.files] == [(f.path, f.records) for f in first.files]
    assert second.reference_data is not None and not second.reference_data.has_changes
    assert second.reference_data.version == version
    assert second.learned is None  # nothing new to learn from: no audit row


def write_reversed_mapping(folder: Path, extract: Path) -> list[Path]:
    return [
        write_mapping(folder, str(extract / "vendors_changes.csv"), str(extract / "vendors.csv"))
    ]


@pytest.mark.parametrize(
    "second_paths",
    [
        pytest.param(lambda tmp, ex: [ex / "erp.toml"], id="same-mapping"),
        pytest.param(write_reversed_mapping, id="changes-listed-first"),
        pytest.param(
            lambda tmp, ex: [write_mapping(tmp, str(ex / "vendors.csv"))], id="main-extract-alone"
        ),
        pytest.param(
            lambda tmp, ex: [write_mapping(tmp, str(ex / "vendors_changes.csv"))],
            id="changes-alone",
        ),
        pytest.param(
            lambda tmp, ex: [
                write_mapping(tmp, str(ex / "vendors_changes.csv"), name="b.toml"),
                write_mapping(tmp, str(ex / "vendors.csv"), name="c.toml"),
                ex / "erp.toml",
            ],
            id="three-mappings",
        ),
        pytest.param(
            lambda tmp, ex: [shutil.copytree(ex, tmp / "copy") / "erp.toml"], id="copied-elsewhere"
        ),
    ],
)
@pytest.mark.parametrize("bulk", [pytest.param(True, id="bulk"), pytest.param(False, id="incr")])
def test_files_loaded_again_in_any_order_write_nothing(
    hub: Hub, extract: Path, tmp_path: Path, second_paths: Any, bulk: bool
) -> None:
    first = load(hub.database, hub.ingestor, [extract / "erp.toml"], bulk=bulk)
    # The first load goes through every version: V1 created then updated, V3 deleted.
    assert (first.total("created"), first.total("updated"), first.total("deleted")) == (5, 1, 1)
    assert first.total(SUPERSEDED) == 0
    # Another mapping file is registered as the system's mapping (configuration, not data).
    before = snapshot(hub, without=("source_system",))
    second = load(hub.database, hub.ingestor, second_paths(tmp_path / "again", extract))
    assert snapshot(hub, without=("source_system",)) == before
    assert {status: second.total(status) for status in WRITES} == dict.fromkeys(WRITES, 0)
    assert {f.status for f in second.files} == {FileStatus.SKIPPED}
    assert record(hub, "V1").raw["name"] == "Acme Medical Supply"
    assert record(hub, "V3").is_deleted


# -- changed files ------------------------------------------------------------------------


def test_a_changed_main_extract_does_not_revert_the_changes_loaded_before(
    hub: Hub, extract: Path
) -> None:
    load(hub.database, hub.ingestor, [extract / "erp.toml"])
    v1, v3 = record(hub, "V1"), record(hub, "V3")
    with hub.database.read_session() as session:
        goldens = session.scalar(select(func.count(GoldenRecord.id)))
        events = session.scalar(select(func.max(ChangeEvent.seq)))
    # A new main extract: V2 moved, V6 new, V1 and V3 as they were before their changes.
    changed = MAIN.replace("Dallas", "Fort Worth") + "V6,Zeta Medical,,Miami,A\n"
    (extract / "vendors.csv").write_text(changed, encoding="utf-8")
    summary = load(hub.database, hub.ingestor, [extract / "erp.toml"])
    counts = {status: summary.total(status) for status in (*WRITES, SKIPPED)}
    assert counts == {
        "created": 1,  # V6
        "updated": 1,  # V2
        "unchanged": 2,  # V4, V5
        "deleted": 0,
        "rejected": 0,
        "superseded": 2,  # V1 and V3: the changes file holds their later version
        "skipped": 2,  # the changes file, loaded before
    }
    assert [f.status for f in summary.files] == [FileStatus.APPLIED, FileStatus.SKIPPED]
    for before in (v1, v3):
        after = record(hub, before.source_id)
        assert (after.version, after.content_hash) == (before.version, before.content_hash)
    assert record(hub, "V2").raw["city"] == "Fort Worth"
    with hub.database.read_session() as session:
        assert session.scalar(select(func.count(GoldenRecord.id))) == goldens + 1
        assert session.scalar(select(func.count(GoldenRecord.id)).where(
            GoldenRecord.status == "retired"
        )) == 0  # fmt: skip
        kinds = session.scalars(select(ChangeEvent.kind).where(ChangeEvent.seq > events))
        assert sorted(kinds) == ["created", "updated"]  # V6's and V2's golden records

    # Loaded again, the new extract is skipped too.
    before = snapshot(hub)
    load(hub.database, hub.ingestor, [extract / "erp.toml"])
    assert snapshot(hub) == before


def test_changed_main_and_changes_files_write_only_the_latest_versions(
    hub: Hub, extract: Path
) -> None:
    load(hub.database, hub.ingestor, [extract / "erp.toml"])
    (extract / "vendors.csv").write_text(MAIN.replace("Acme Medical,", "ACME MEDICAL,"))
    (extract / "vendors_changes.csv").write_text(
        CHANGES.replace("Houston", "San Antonio"), encoding="utf-8"
    )
    version = record(hub, "V1").version
    summary = load(hub.database, hub.ingestor, [extract / "erp.toml"])
    # V1 of the main extract is not applied (a later file holds it): one new version.
    assert record(hub, "V1").version == version + 1
    assert record(hub, "V1").raw["city"] == "San Antonio"
    assert summary.total(SUPERSEDED) == 2 and summary.total("updated") == 1
    assert summary.total("unchanged") == 3 + 1  # V2, V4, V5; V3 still deleted


def test_a_file_mapped_otherwise_is_applied_again(hub: Hub, extract: Path) -> None:
    load(hub.database, hub.ingestor, [extract / "erp.toml"])
    write_mapping(extract, "vendors.csv", "vendors_changes.csv", extra='state = "STATUS"\n')
    summary = load(hub.database, hub.ingestor, [extract / "erp.toml"])
    assert {f.status for f in summary.files} == {FileStatus.APPLIED}
    assert record(hub, "V2").raw["state"] == "A"
    assert summary.total(SUPERSEDED) == 2  # V1 and V3 of the main extract


def test_force_reads_files_loaded_before(hub: Hub, extract: Path) -> None:
    load(hub.database, hub.ingestor, [extract / "erp.toml"])
    before = snapshot(hub)
    summary = load(hub.database, hub.ingestor, [extract / "erp.toml"], force=True)
    assert snapshot(hub) == before
    assert {f.status for f in summary.files} == {FileStatus.APPLIED}
    assert (summary.total("unchanged"), summary.total(SUPERSEDED)) == (5, 2)


# -- a load that did not finish -------------------------------------------------------------


class Crash(Exception):
    pass


def test_a_file_whose_load_failed_midway_is_applied_on_the_next_run(
    hub: Hub, extract: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_mapping(extract, "vendors.csv", name="main.toml")
    load(hub.database, hub.ingestor, [extract / "main.toml"])
    many_changes = HEADER + "".join(f"V{i},Changed Vendor {i},,Reno,A\n" for i in (1, 2, 3, 4, 5))
    (extract / "vendors_changes.csv").write_text(many_changes, encoding="utf-8")
    monkeypatch.setattr(loader, "CHUNK", 2)
    ingest_many = hub.ingestor.ingest_many
    calls = []

    def crash_on_the_second_chunk(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise Crash("the process died")
        return ingest_many(*args, **kwargs)

    monkeypatch.setattr(hub.ingestor, "ingest_many", crash_on_the_second_chunk)
    with pytest.raises(Crash):
        load(hub.database, hub.ingestor, [extract / "erp.toml"])
    with hub.database.read_session() as session:
        recorded = session.scalars(select(LoadedFile.path)).all()
    assert recorded == [str(extract / "vendors.csv")]  # the changes file is not recorded
    assert record(hub, "V2").raw["name"] == "Changed Vendor 2"  # the first chunk committed
    assert record(hub, "V3").raw["name"] == "Gamma Surgical"

    monkeypatch.setattr(hub.ingestor, "ingest_many", ingest_many)
    rerun = load(hub.database, hub.ingestor, [extract / "erp.toml"])
    assert [f.status for f in rerun.files] == [FileStatus.SKIPPED, FileStatus.APPLIED]
    assert (rerun.total("unchanged"), rerun.total("updated")) == (2, 3)
    assert all(record(hub, f"V{i}").raw["name"] == f"Changed Vendor {i}" for i in range(1, 6))
    before = snapshot(hub)
    again = load(hub.database, hub.ingestor, [extract / "erp.toml"])
    assert snapshot(hub) == before
    assert {f.status for f in again.files} == {FileStatus.SKIPPED}


def test_a_bulk_load_that_failed_records_no_file(
    hub: Hub, extract: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*args: Any, **kwargs: Any) -> None:
        raise Crash("the process died")

    monkeypatch.setattr(BulkLoader, "_match_and_write", crash)
    with pytest.raises(Crash):
        load(hub.database, hub.ingestor, [extract / "erp.toml"])
    assert count(hub, LoadedFile.id) == count(hub, SourceRecord.id) == 0
    monkeypatch.undo()
    rerun = load(hub.database, hub.ingestor, [extract / "erp.toml"])
    assert {f.status for f in rerun.files} == {FileStatus.APPLIED}
    assert rerun.total("created") == 5 and count(hub, LoadedFile.id) == 2


# -- reference data -----------------------------------------------------------------------------


def test_an_unchanged_reference_file_writes_nothing_and_keeps_the_version(
    hub: Hub, tmp_path: Path
) -> None:
    for name in ("code_sets.csv", "transcodings.csv"):
        shutil.copy(SEED / name, tmp_path / name)
    with hub.database.session() as session:
        first = load_reference_files(session, [tmp_path], actor="test")
    audits = count(hub, AuditLog.id)
    with hub.database.session() as session:
        again = load_reference_files(session, [tmp_path], actor="test")
    assert first.has_changes and not again.has_changes
    assert again.version == first.version and again.unchanged == 34
    assert count(hub, AuditLog.id) == audits == 1
    with hub.database.read_session() as session:
        assert reference_data_version(session) == first.version


# -- mdm load --json ----------------------------------------------------------------------------


def test_load_json_prints_the_counts_and_the_files(hub: Hub, extract: Path) -> None:
    runner = CliRunner()
    command = ["load", str(extract), "--json", "--database-url", hub.database.url]
    first = runner.invoke(app, command)
    assert first.exit_code == 0, first.output
    document = json.loads(first.stdout)
    assert document["files_applied"] == 2 and document["files_skipped"] == 0
    assert document["totals"]["created"] == 5 and document["totals"]["updated"] == 1
    assert document["counts"] == [
        {
            "system": "ERP",
            "entity_type": "vendor",
            "created": 5,
            "updated": 1,
            "unchanged": 0,
            "deleted": 1,
            "rejected": 0,
            "superseded": 0,
            "skipped": 0,
        }
    ]
    assert [(f["path"], f["status"], f["records"]) for f in document["files"]] == [
        (str(extract / "vendors.csv"), "applied", 5),
        (str(extract / "vendors_changes.csv"), "applied", 2),
    ]
    assert len(document["correlation_id"]) == 32
    assert document["reference_data"] is None

    second = json.loads(runner.invoke(app, command).stdout)
    assert second["files_applied"] == 0 and second["files_skipped"] == 2
    assert second["totals"] == {**dict.fromkeys(WRITES, 0), "skipped": 7}
    assert second["correlation_id"] != document["correlation_id"]


def test_load_json_reports_reference_data(hub: Hub, extract: Path) -> None:
    for name in ("code_sets.csv", "transcodings.csv"):
        shutil.copy(SEED / name, extract / name)
    runner = CliRunner()
    command = ["load", str(extract), "--json", "--database-url", hub.database.url]
    loaded = json.loads(runner.invoke(app, command).stdout)
    first = loaded["reference_data"]
    second = json.loads(runner.invoke(app, command).stdout)["reference_data"]
    assert first["has_changes"] and first["codes_added"] == 15
    assert not second["has_changes"] and second["unchanged"] == 34
    # The version the first load left (learning correspondences after the records).
    assert second["version"] == loaded["learned"]["version"] > first["version"]
    assert first["files"] == [str(extract / "code_sets.csv"), str(extract / "transcodings.csv")]


def test_ingest_statuses_are_all_counted() -> None:
    assert set(loader.STATUSES) >= {s.value for s in IngestStatus}
