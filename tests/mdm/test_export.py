"""File extracts on both databases: golden records and the crosswalk as CSV and JSON Lines
checked against the store, one system's view, merges; changes since a consumer's position,
acknowledged only once the file is complete (a failure mid-file or a killed process leaves
the consumer where it was); hostile input refused before anything is written; CSV cells a
spreadsheet would run as formulas."""

from __future__ import annotations

import csv
import io
import json
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import event, select, update
from typer.testing import CliRunner

from mdm import changes, crosswalk, export
from mdm.auth import Principal, Role
from mdm.cli import app
from mdm.errors import MdmError
from mdm.export import ExtractFormat
from mdm.hub import Hub
from mdm.ingest import RecordInput
from mdm.relay import read_events
from mdm.store import ChangeEvent, GoldenRecord, SourceRecord, utcnow
from tests.conftest import ROOT

CSV, JSONL = ExtractFormat.CSV, ExtractFormat.JSONL
OWNER = Principal("erp-team", Role.INTEGRATOR)
SCHEMA_PATH = Path(changes.__file__).parent / "schemas" / "change_event.schema.json"
HOSTILE_NAME = '=HYPERLINK("http://evil.example/x","Click")'
HOSTILE_ID = "-V3|a\\b"  # a leading minus, the separator and the escape character


def _ingest(hub: Hub, *records: RecordInput) -> None:
    with hub.database.session() as session:
        for record in records:
            hub.ingestor.ingest(session, record, actor="test")


def _vendor(system: str, source_id: str, **attributes: Any) -> RecordInput:
    return RecordInput("vendor", system, source_id, attributes)


def _load(hub: Hub) -> None:
    """Two golden records merged (ERP V1 + EHR O1 bridged by PROCUREMENT P1), hostile
    values in ERP's records, and an EHR record deleted (its golden record retired)."""
    _ingest(
        hub,
        _vendor("ERP", "V1", name="Northwind Surgical Inc", tax_id="41-2847561"),
        _vendor("EHR", "O1", name="Northwind Surgical", duns="150483782"),
        _vendor("ERP", "V2", name=HOSTILE_NAME, city="+1 Springfield"),
        _vendor("ERP", HOSTILE_ID, name="@SUM(1+1) Lab Partners", dba_name="'quoted"),
        _vendor("EHR", "O2", name="Zenith Radiology Group"),
    )
    _ingest(
        hub,
        _vendor(
            "PROCUREMENT",
            "P1",
            name="Northwind Surgical Inc",
            tax_id="41-2847561",
            duns="150483782",
        ),
    )
    _ingest(hub, RecordInput("vendor", "EHR", "O2", {}, is_deleted=True))


def _store(hub: Hub) -> tuple[dict[str, GoldenRecord], dict[str, set[tuple[str, str]]]]:
    """The vendor golden records not merged, by public id, and each one's live members."""
    with hub.database.read_session() as session:
        goldens = {
            g.public_id: g
            for g in session.scalars(
                select(GoldenRecord).where(
                    GoldenRecord.entity_type == "vendor", GoldenRecord.status != "merged"
                )
            )
        }
        by_id = {g.id: g.public_id for g in goldens.values()}
        members: dict[str, set[tuple[str, str]]] = {p: set() for p in goldens}
        for record in session.scalars(select(SourceRecord).where(~SourceRecord.is_deleted)):
            members[by_id[record.golden_id]].add((record.system, record.source_id))
    return goldens, members


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _jsonl(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    assert text == "" or text.endswith("\n")
    return [orjson.loads(line) for line in text.split("\n") if line]


def _unguarded(cell: str) -> str:
    """A CSV text cell's value: one leading ' taken off (see mdm.export)."""
    return cell[1:] if cell.startswith("'") else cell


def _split(cell: str) -> list[str]:
    """``a|b`` with ``\\|`` and ``\\\\`` escapes, back into its parts."""
    parts, current, chars = [], "", iter(cell)
    for char in chars:
        if char == "\\":
            current += next(chars)
        elif char == "|":
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current] if cell else []


def _consumer(hub: Hub, name: str = "erp-files", position: int | None = 0) -> int:
    with hub.database.session() as session:
        found, _ = changes.register_consumer(session, name, OWNER, position=position)
    return found.position


def _position(hub: Hub, name: str = "erp-files") -> int:
    with hub.database.read_session() as session:
        found = changes.find_consumer(session, name, export.OPERATOR)
        assert found is not None
        return found.position


def _head(hub: Hub) -> int:
    with hub.database.read_session() as session:
        return changes.head(session)


def _files(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()}


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    """An empty folder for extracts (the SQLite database lives beside it)."""
    folder = tmp_path / "outbox"
    folder.mkdir()
    return folder


# --------------------------------------------------------------------------- golden records


def test_golden_extracts_hold_every_live_golden_record_as_the_store_does(
    hub: Hub, outbox: Path
) -> None:
    _load(hub)
    goldens, members = _store(hub)
    spec = hub.specs["vendor"]
    as_csv, as_jsonl = outbox / "vendors.csv", outbox / "vendors.jsonl"
    # Pages of two: the keyset is followed across pages.
    first = export.export_goldens(hub.database, hub.specs, "vendor", CSV, as_csv, page_size=2)
    second = export.export_goldens(hub.database, hub.specs, "vendor", JSONL, as_jsonl, page_size=2)

    assert first.rows == second.rows == len(goldens) == 4  # the merged-away record is not
    assert first.position == second.position == _head(hub)
    rows = _csv_rows(as_csv)
    with as_csv.open(encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle))
    assert header == [
        "golden_id",
        "entity_type",
        "version",
        "record_status",
        "updated_at",
        *[a.name for a in spec.attributes],
        "sources",
    ]
    assert [r["golden_id"] for r in rows] == sorted(goldens, key=lambda p: goldens[p].id)
    for row in rows:
        golden = goldens[row["golden_id"]]
        assert row["entity_type"] == "vendor"
        assert (int(row["version"]), row["record_status"]) == (golden.version, golden.status)
        for attribute in spec.attributes:
            value = golden.attributes.get(attribute.name)
            assert _unguarded(row[attribute.name]) == ("" if value is None else str(value))
        sources = [tuple(part.split(":", 1)) for part in _split(row["sources"])]
        assert sources == sorted(members[row["golden_id"]])

    documents = _jsonl(as_jsonl)
    assert [d["goldenId"] for d in documents] == [r["golden_id"] for r in rows]
    for document in documents:
        golden = goldens[document["goldenId"]]
        assert document["attributes"] == golden.attributes  # raw: no guard in JSON
        assert document["recordStatus"] == golden.status
        assert document["version"] == golden.version
        assert document["updatedAt"].endswith("+00:00")
        assert {(s["system"], s["sourceId"]) for s in document["sources"]} == members[
            document["goldenId"]
        ]
    survivor = next(d for d in documents if ("EHR", "O1") in members[d["goldenId"]])
    assert {s["system"] for s in survivor["sources"]} == {"ERP", "EHR", "PROCUREMENT"}
    retired = [d for d in documents if d["recordStatus"] == "retired"]
    assert len(retired) == 1 and retired[0]["sources"] == []


def test_a_system_view_holds_only_golden_records_it_has_a_record_in_with_its_ids(
    hub: Hub, outbox: Path
) -> None:
    _load(hub)
    _, members = _store(hub)
    as_csv, as_jsonl = outbox / "erp.csv", outbox / "erp.jsonl"
    export.export_goldens(hub.database, hub.specs, "vendor", CSV, as_csv, system="ERP")
    export.export_goldens(hub.database, hub.specs, "vendor", JSONL, as_jsonl, system="ERP")

    expected = {
        golden_id: sorted(i for s, i in ids if s == "ERP")
        for golden_id, ids in members.items()
        if any(s == "ERP" for s, _ in ids)
    }
    rows = _csv_rows(as_csv)
    assert "sources" not in rows[0] and "source_ids" in rows[0]
    assert {r["golden_id"]: _split(_unguarded(r["source_ids"])) for r in rows} == expected
    assert HOSTILE_ID in {i for ids in expected.values() for i in ids}
    documents = _jsonl(as_jsonl)
    assert {d["goldenId"]: [s["sourceId"] for s in d["sources"]] for d in documents} == expected
    assert {s["system"] for d in documents for s in d["sources"]} == {"ERP"}

    export.export_goldens(hub.database, hub.specs, "vendor", CSV, as_csv, system="EHR")
    ehr = _csv_rows(as_csv)  # O2 is deleted: its retired golden record is not EHR's
    assert [_split(r["source_ids"]) for r in ehr] == [["O1"]]


def test_csv_cells_a_spreadsheet_would_run_are_guarded_and_json_keeps_the_value(
    hub: Hub, outbox: Path
) -> None:
    _load(hub)
    as_csv, as_jsonl = outbox / "v.csv", outbox / "v.jsonl"
    export.export_goldens(hub.database, hub.specs, "vendor", CSV, as_csv)
    export.export_goldens(hub.database, hub.specs, "vendor", JSONL, as_jsonl)
    raw = as_csv.read_text(encoding="utf-8")
    rows = {r["golden_id"]: r for r in _csv_rows(as_csv)}
    documents = {d["goldenId"]: d for d in _jsonl(as_jsonl)}
    hostile = next(i for i, d in documents.items() if d["attributes"]["name"] == HOSTILE_NAME)
    assert rows[hostile]["name"] == "'" + HOSTILE_NAME
    assert rows[hostile]["city"] == "'+1 Springfield"
    at = next(i for i, d in documents.items() if d["attributes"]["name"].startswith("@"))
    assert rows[at]["name"] == "'@SUM(1+1) Lab Partners"
    assert rows[at]["dba_name"] == "''quoted"  # a leading ' is doubled: one comes off
    assert documents[at]["attributes"]["dba_name"] == "'quoted"
    # No cell of the file starts with a formula character.
    with io.StringIO(raw, newline="") as handle:
        cells = [cell for row in csv.reader(handle) for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]

    assert export.csv_cell(-5) == "-5" and export.csv_cell(True) == "true"
    assert export.csv_cell(None) == ""
    assert export.csv_cell({"system": "ERP", "source_id": "V1"}) == (
        '{"system":"ERP","source_id":"V1"}'
    )


# --------------------------------------------------------------------------- crosswalk


def test_the_crosswalk_extract_resolves_as_the_crosswalk_does_merges_followed(
    hub: Hub, outbox: Path
) -> None:
    _load(hub)
    as_csv, as_jsonl = outbox / "xw.csv", outbox / "xw.jsonl"
    summary = export.export_crosswalk(hub.database, hub.specs, "vendor", CSV, as_csv, page_size=2)
    export.export_crosswalk(hub.database, hub.specs, "vendor", JSONL, as_jsonl, page_size=2)
    rows = _csv_rows(as_csv)
    documents = _jsonl(as_jsonl)
    assert summary.rows == len(rows) == len(documents) == 6
    keys = [(r["system"], _unguarded(r["source_id"])) for r in rows]
    assert keys == sorted(keys)  # by system, then source id
    assert keys == [(d["system"], d["sourceId"]) for d in documents]
    with hub.database.read_session() as session:
        for system in ("ERP", "EHR", "PROCUREMENT"):
            ids = [i for s, i in keys if s == system]
            resolved = crosswalk.resolve_many(session, "vendor", system, ids)
            for row, document in zip(rows, documents, strict=True):
                if row["system"] != system:
                    continue
                entry = resolved[document["sourceId"]]
                assert (row["golden_id"] or None) == document["goldenId"] == entry.golden_id
                assert document["isDeleted"] is entry.is_deleted
                assert row["is_deleted"] == ("true" if entry.is_deleted else "false")
        merged_away = session.scalar(select(GoldenRecord).where(GoldenRecord.status == "merged"))
        assert merged_away is not None
        survivor = crosswalk.follow_merges(session, merged_away.public_id)
        assert survivor is not None
    by_key = {(d["system"], d["sourceId"]): d for d in documents}
    # EHR O1 was born in the merged-away record: it resolves to the survivor, as V1 does.
    assert by_key[("EHR", "O1")]["goldenId"] == survivor.public_id
    assert by_key[("ERP", "V1")]["goldenId"] == survivor.public_id
    assert by_key[("EHR", "O1")]["goldenStatus"] == "active"
    assert merged_away.public_id not in {d["goldenId"] for d in documents}
    deleted = by_key[("EHR", "O2")]
    assert deleted["isDeleted"] is True and deleted["goldenId"] is None
    assert next(r for r in rows if r["source_id"] == "'" + HOSTILE_ID)  # guarded

    export.export_crosswalk(hub.database, hub.specs, "vendor", JSONL, as_jsonl, system="EHR")
    assert [(d["system"], d["sourceId"]) for d in _jsonl(as_jsonl)] == [
        ("EHR", "O1"),
        ("EHR", "O2"),
    ]


# --------------------------------------------------------------------------- changes


def test_a_changes_extract_holds_the_events_after_the_consumer_and_acknowledges_them(
    hub: Hub, outbox: Path
) -> None:
    _consumer(hub)
    _load(hub)
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    first = outbox / "changes-1.jsonl"
    summary = export.export_changes(hub.database, hub.specs, "erp-files", JSONL, first, page_size=3)
    published = [orjson.loads(e.body) for e in read_events(hub.database, 0, 10_000)]
    documents = _jsonl(first)
    assert [d["seq"] for d in documents] == [d["seq"] for d in published]
    for document, relayed in zip(documents, published, strict=True):
        assert {k: v for k, v in document.items() if k != "createdAt"} == {
            k: v for k, v in relayed.items() if k != "createdAt"
        }  # the relay's document (its time here always in UTC)
        assert not list(validator.iter_errors(document))
    assert summary.rows == len(documents) and summary.previous_position == 0
    assert summary.position == _position(hub) == _head(hub)
    assert not (outbox / "changes-1.jsonl.partial").exists()

    _ingest(hub, _vendor("ERP", "V1", name="Northwind Surgical Incorporated", tax_id="41-2847561"))
    second = outbox / "changes-2.csv"
    # What a killed run left, here a link planted to somewhere else: replaced, never followed.
    victim = outbox.parent / "victim.txt"
    victim.write_text("untouched")
    (outbox / "changes-2.csv.partial").symlink_to(victim)
    again = export.export_changes(hub.database, hub.specs, "erp-files", CSV, second)
    rows = _csv_rows(second)
    with hub.database.read_session() as session:
        new = changes.read_changes(session, summary.position, 100).changes
    assert [int(r["seq"]) for r in rows] == [c.seq for c in new] and len(new) == 1
    assert rows[0]["kind"] == "updated" and rows[0]["golden_id"] == new[0].golden_id
    assert json.loads(rows[0]["payload"]) == new[0].payload
    assert again.previous_position == summary.position and again.position == _head(hub)
    assert victim.read_text() == "untouched"
    assert _files(outbox) == {"changes-1.jsonl", "changes-2.csv"}

    nothing = outbox / "changes-3.csv"  # caught up: a header only, the consumer stays
    empty = export.export_changes(hub.database, hub.specs, "erp-files", CSV, nothing)
    assert empty.rows == 0 and _csv_rows(nothing) == [] and empty.position == again.position


def test_changes_filters_and_max_events_move_the_consumer_past_what_they_read(
    hub: Hub, outbox: Path
) -> None:
    _consumer(hub)
    _load(hub)
    everything = [orjson.loads(e.body) for e in read_events(hub.database, 0, 10_000)]
    touching_ehr = [d["seq"] for d in everything if _touches(d, "EHR")]
    assert 0 < len(touching_ehr) < len(everything)

    out = outbox / "ehr-1.jsonl"
    first = export.export_changes(
        hub.database, hub.specs, "erp-files", JSONL, out, systems=["EHR"], max_events=2
    )
    assert [d["seq"] for d in _jsonl(out)] == touching_ehr[:2]
    assert first.position == touching_ehr[1]  # the last one it wrote
    rest = outbox / "ehr-2.jsonl"
    second = export.export_changes(
        hub.database,
        hub.specs,
        "erp-files",
        JSONL,
        rest,
        entity_types=["vendor"],
        systems=["EHR"],
        page_size=1,
    )
    assert [d["seq"] for d in _jsonl(rest)] == touching_ehr[2:]
    # Past the events the filter left out, to the head: the file holds all it lets through.
    assert second.position == _head(hub) == everything[-1]["seq"]

    other = outbox / "items.jsonl"
    _consumer(hub, "items", position=0)
    items = export.export_changes(
        hub.database, hub.specs, "items", JSONL, other, entity_types=["item"]
    )
    assert items.rows == 0 and other.read_text() == "" and items.position == _head(hub)


def _touches(document: dict[str, Any], system: str) -> bool:
    payload = document["payload"]
    refs = [*payload.get("sources", ()), *payload.get("removedSources", ())]
    return any(r["system"] == system for r in refs)


def _break(monkeypatch: pytest.MonkeyPatch, step: str) -> None:
    """Make one step of writing an extract fail: mid-file (the JSON writer at the third
    event, a CSV cell in the third row), or after the last line (syncing, renaming)."""

    def failing(real: Any, after: int) -> Any:
        calls = {"n": 0}

        def call(*args: Any, **kwargs: Any) -> Any:
            calls["n"] += 1
            if calls["n"] > after:
                raise OSError(28, "No space left on device")
            return real(*args, **kwargs)

        return call

    def refused(*_: Any) -> None:
        raise OSError(5, "Input/output error")

    if step == "writer":
        monkeypatch.setattr(export, "event_body", failing(export.event_body, 2))
    elif step == "csv-cell":
        monkeypatch.setattr(export, "csv_cell", failing(export.csv_cell, 2 * 9 + 4))
    elif step == "fsync":
        monkeypatch.setattr(export.os, "fsync", refused)
    else:
        monkeypatch.setattr(export.os, "replace", refused)


@pytest.mark.parametrize("step", ["writer", "csv-cell", "fsync", "rename"])
def test_a_failure_before_the_file_is_in_place_leaves_the_consumer_and_no_file(
    hub: Hub, outbox: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    _load(hub)
    _consumer(hub)
    fmt = CSV if step == "csv-cell" else JSONL
    out = outbox / f"changes.{fmt.value}"
    _break(monkeypatch, step)
    with pytest.raises(MdmError) as failed:
        export.export_changes(hub.database, hub.specs, "erp-files", fmt, out, page_size=2)
    assert failed.value.code == export.WRITE_FAILED and failed.value.field == "out"
    assert _position(hub) == 0
    assert _files(outbox) == set()  # neither the file nor FILE.partial

    monkeypatch.undo()  # the failure is gone: the same extract is written whole
    again = export.export_changes(hub.database, hub.specs, "erp-files", fmt, out)
    assert again.previous_position == 0 and again.position == _head(hub) == _position(hub)
    assert again.rows == _head(hub) and _files(outbox) == {out.name}


def test_a_killed_export_to_stdout_leaves_the_consumer_where_it_was(hub: Hub, outbox: Path) -> None:
    _consumer(hub)
    _ingest(hub, *[_vendor("ERP", f"K{n}", name=f"Vendor {n:04d} Holdings") for n in range(400)])
    command = [
        sys.executable,
        "-m",
        "mdm.cli",
        "export",
        "changes",
        "--consumer",
        "erp-files",
        "--format",
        "jsonl",
        "--out",
        "-",
        "--database-url",
        hub.settings.database_url,
    ]
    # Nobody reads past the first line: the pipe fills and the export blocks mid-stream.
    with subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    ) as process:
        assert process.stdout is not None
        first = orjson.loads(process.stdout.readline())
        time.sleep(0.5)
        assert process.poll() is None, "the export ended before it was killed"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    assert first["seq"] == 1
    assert _position(hub) == 0

    finished = subprocess.run(command, cwd=ROOT, capture_output=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    lines = finished.stdout.decode().splitlines()
    assert len(lines) == 400 and orjson.loads(lines[-1])["seq"] == _head(hub)
    assert _position(hub) == _head(hub)
    assert f"consumer erp-files at position {_head(hub)} (was 0)".encode() in finished.stderr


class _ClosedPipe(io.StringIO):
    def write(self, text: str) -> int:
        if self.tell() > 100:
            raise BrokenPipeError(32, "Broken pipe")
        return super().write(text)


def test_a_closed_stream_is_a_write_failure_and_the_consumer_stays(hub: Hub) -> None:
    _load(hub)
    _consumer(hub)
    with pytest.raises(MdmError) as failed:
        export.export_changes(hub.database, hub.specs, "erp-files", JSONL, _ClosedPipe())
    assert failed.value.code == export.WRITE_FAILED
    assert _position(hub) == 0
    stream = io.StringIO()
    done = export.export_changes(hub.database, hub.specs, "erp-files", CSV, stream)
    assert done.out == "-" and done.position == _position(hub) == _head(hub)
    assert len(list(csv.DictReader(io.StringIO(stream.getvalue(), newline="")))) == done.rows


def test_the_command_line_writes_files_and_stdout_with_a_summary(hub: Hub, outbox: Path) -> None:
    _load(hub)
    _consumer(hub)
    runner = CliRunner()
    base = ["--database-url", hub.settings.database_url]
    out = outbox / "v.csv"
    made = runner.invoke(
        app,
        ["export", "goldens", "-t", "vendor", "--format", "csv", "--out", str(out), "--json"]
        + base,
    )
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout) == {
        "extract": "goldens",
        "rows": 4,
        "position": _head(hub),
        "out": str(out),
        "consumer": None,
        "previous_position": None,
    }
    assert len(_csv_rows(out)) == 4

    streamed = runner.invoke(
        app,
        ["export", "crosswalk", "-t", "vendor", "--format", "jsonl", "--out", "-", "--system"]
        + ["ERP"]
        + base,
    )
    assert streamed.exit_code == 0, streamed.output
    assert [orjson.loads(line)["system"] for line in streamed.stdout.splitlines()] == ["ERP"] * 3
    assert "wrote 3 rows to stdout" in streamed.stderr

    events = runner.invoke(
        app,
        ["export", "changes", "--consumer", "erp-files", "--format", "jsonl", "--out", "-"] + base,
    )
    assert events.exit_code == 0, events.output
    assert len(events.stdout.splitlines()) == _head(hub) == _position(hub)
    assert f"consumer erp-files at position {_head(hub)} (was 0)" in events.stderr


# --------------------------------------------------------------------------- refused


def _expire(hub: Hub) -> None:
    with hub.database.session() as session:
        session.execute(update(ChangeEvent).values(created_at=utcnow() - timedelta(days=10)))
    with hub.database.session() as session:
        assert changes.prune(session, 7) > 0


REFUSED = [
    pytest.param({"consumer": "nobody"}, "UNKNOWN_CONSUMER", "consumer", id="unknown-consumer"),
    pytest.param({"consumer": "erp\x00files"}, "INVALID_INPUT", "consumer", id="consumer-nul"),
    pytest.param({"consumer": "x" * 100_000}, "INVALID_INPUT", "consumer", id="consumer-long"),
    pytest.param({"consumer": "relay:MDM"}, "INVALID_INPUT", "consumer", id="consumer-reserved"),
    pytest.param({"consumer": "[/]"}, "UNKNOWN_CONSUMER", "consumer", id="consumer-markup"),
    pytest.param({"entity_types": ["vendr"]}, "UNKNOWN_ENTITY_TYPE", "entityType", id="type"),
    pytest.param({"systems": ["SAP"]}, "UNKNOWN_SYSTEM", "system", id="unknown-system"),
    pytest.param({"systems": ["ERP\x00"]}, "INVALID_INPUT", "system", id="system-nul"),
    pytest.param({"systems": ["E" * 100_000]}, "UNKNOWN_SYSTEM", "system", id="system-long"),
    pytest.param({"max_events": 0}, "INVALID_INPUT", "maxEvents", id="max-events"),
    pytest.param({"out": "missing/dir/c.jsonl"}, "INVALID_INPUT", "out", id="missing-directory"),
    pytest.param({"out": "."}, "INVALID_INPUT", "out", id="out-is-a-directory"),
    pytest.param({"out": "taken.jsonl"}, "CONFLICT", "out", id="file-not-taken-yet"),
    pytest.param({"expired": True}, "CURSOR_EXPIRED", "consumer", id="expired"),
]


@pytest.mark.parametrize(("arguments", "code", "field"), REFUSED)
def test_refused_changes_extracts_name_the_code_and_write_nothing(
    hub: Hub, outbox: Path, arguments: dict[str, Any], code: str, field: str
) -> None:
    arguments = dict(arguments)  # the table is shared by both databases' runs
    _consumer(hub)
    _load(hub)
    if arguments.pop("expired", False):
        _expire(hub)
    (outbox / "taken.jsonl").write_text("earlier extract\n")
    before = _files(outbox)
    out = outbox / arguments.pop("out", "c.jsonl")
    options = {"consumer": "erp-files", **arguments}
    consumer = options.pop("consumer")
    with pytest.raises(MdmError) as refused:
        export.export_changes(hub.database, hub.specs, consumer, JSONL, out, **options)
    assert (refused.value.code, refused.value.field) == (code, field)
    assert len(refused.value.message) < 600  # a long name is not echoed whole
    assert _files(outbox) == before
    assert (outbox / "taken.jsonl").read_text() == "earlier extract\n"
    assert _position(hub) == 0


@pytest.mark.parametrize(
    ("command", "code"),
    [
        pytest.param(["goldens", "-t", "vendr"], "UNKNOWN_ENTITY_TYPE", id="goldens-type"),
        pytest.param(["goldens", "-t", "vendor", "--system", "SAP"], "UNKNOWN_SYSTEM", id="sys"),
        pytest.param(["crosswalk", "-t", "vendor", "--format", "xml"], "INVALID_INPUT", id="fmt"),
        pytest.param(["changes", "--consumer", "[/]nobody"], "UNKNOWN_CONSUMER", id="consumer"),
        pytest.param(
            ["changes", "--consumer", "erp-files", "--out", "no/such/dir/x.jsonl"],
            "INVALID_INPUT",
            id="directory",
        ),
    ],
)
def test_refused_commands_exit_with_the_code_and_write_nothing(
    hub: Hub, outbox: Path, command: list[str], code: str
) -> None:
    _load(hub)
    _consumer(hub)
    arguments = ["export", *command]
    if "--format" not in arguments:
        arguments += ["--format", "jsonl"]
    if "--out" not in arguments:
        arguments += ["--out", str(outbox / "x.jsonl")]
    result = CliRunner().invoke(app, arguments + ["--database-url", hub.settings.database_url])
    assert result.exit_code == 2, result.output
    assert f"error {code}:" in result.stderr
    assert _files(outbox) == set()
    assert _position(hub) == 0


def test_golden_records_and_the_crosswalk_are_read_a_page_at_a_time(hub: Hub) -> None:
    _ingest(hub, *[_vendor("ERP", f"M{n}", name=f"Vendor {n:04d} Holdings") for n in range(9)])
    statements: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    engine = hub.database.read_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        with hub.database.read_session() as session:
            goldens = export.golden_extracts(session, hub.specs["vendor"], page_size=4)
            next(goldens)
            assert len(_paged(statements, "golden_record")) == 1  # one page read, not all
            assert len(list(goldens)) == 8
            records = list(export.crosswalk_extracts(session, hub.specs["vendor"], page_size=4))
            assert len(records) == 9
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert len(_paged(statements, "golden_record")) == 3  # 4 + 4 + 1
    assert len(_paged(statements, "source_record")) == 3
    assert all("LIMIT" in s.upper() for s in _paged(statements, ""))


def _paged(statements: list[tuple[str, Any]], table: str) -> list[str]:
    """The page queries: those reading ``table`` first (FROM ``table``), with ORDER BY."""
    return [
        s
        for s, _ in statements
        if f"FROM {table}" in s and "ORDER BY" in s and "IN (" not in s and "ANY" not in s
    ]
