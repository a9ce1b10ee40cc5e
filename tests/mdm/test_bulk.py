"""The bulk path of an initial load: same answers whatever the file order, and as good as
record-by-record matching."""

from __future__ import annotations

import csv
import importlib.util
import json
import logging
import random
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from mdm.bulk import BulkLoader, SourceRow
from mdm.hub import Hub
from mdm.ingest import IngestStatus, RecordInput
from mdm.loader import find_mappings, load, plan_load, rows_of
from mdm.store import (
    ChangeEvent,
    GoldenHistory,
    GoldenRecord,
    IngestRejection,
    MatchCandidate,
    MatchKeyRow,
    SourceRecord,
)
from mdm.systems import register_system

ROOT = Path(__file__).resolve().parents[2]


def _generate(out: Path, scale: float, seed: int) -> None:
    spec = importlib.util.spec_from_file_location(
        "seed_generate_bulk", ROOT / "seed" / "generate.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    module.generate(out, scale=scale, seed=seed)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bulk") / "data"
    _generate(out, scale=0.3, seed=11)
    return out


def _shuffled_copy(source: Path, target: Path, seed: int) -> None:
    rng = random.Random(seed)
    for path in source.rglob("*"):
        if path.is_dir():
            continue
        dest = target / path.relative_to(source)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".jsonl":
            lines = path.read_text(encoding="utf-8").splitlines()
            rng.shuffle(lines)
            dest.write_text("\n".join(lines) + "\n", encoding="utf-8")
        elif path.suffix == ".csv" and path.name != "truth.csv":
            with path.open(newline="", encoding="utf-8") as handle:
                rows = list(csv.reader(handle))
            body = rows[1:]
            rng.shuffle(body)
            with dest.open("w", newline="", encoding="utf-8") as handle:
                csv.writer(handle).writerows([rows[0], *body])
        elif path.suffix == ".json":
            bundle = json.loads(path.read_text(encoding="utf-8"))
            rng.shuffle(bundle["entry"])
            dest.write_text(json.dumps(bundle), encoding="utf-8")
        else:
            dest.write_bytes(path.read_bytes())


def _partition(hub: Hub) -> set[frozenset[tuple[str, str, str]]]:
    groups: dict[int, set[tuple[str, str, str]]] = defaultdict(set)
    with hub.database.read_session() as session:
        rows = session.execute(
            select(
                SourceRecord.golden_id,
                SourceRecord.entity_type,
                SourceRecord.system,
                SourceRecord.source_id,
            ).where(SourceRecord.is_deleted.is_(False))
        ).all()
    for golden_id, entity_type, system, source_id in rows:
        groups[golden_id].add((entity_type, system, source_id))
    return {frozenset(g) for g in groups.values()}


def _stored_keys(session: Session) -> list[Any]:
    """(source id, key) of every match key, sorted."""
    return sorted(
        session.execute(
            select(SourceRecord.source_id, MatchKeyRow.key).join(
                SourceRecord, SourceRecord.id == MatchKeyRow.source_record_id
            )
        ).all()
    )


def _clear(hub: Hub) -> None:
    from mdm.store import Base

    with hub.database.session() as session:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name not in ("source_system", "api_token", "alembic_version"):
                session.execute(table.delete())


def _f1(hub: Hub, truth_path: Path) -> dict[str, tuple[float, float]]:
    truth = {}
    with truth_path.open() as handle:
        for row in csv.DictReader(handle):
            truth[(row["entity_type"], row["system"], row["source_id"])] = row["entity_key"]
    scores = {}
    by_type: dict[str, list[tuple[str, int]]] = defaultdict(list)
    with hub.database.read_session() as session:
        for entity_type, system, source_id, golden_id in session.execute(
            select(
                SourceRecord.entity_type,
                SourceRecord.system,
                SourceRecord.source_id,
                SourceRecord.golden_id,
            ).where(SourceRecord.is_deleted.is_(False))
        ):
            by_type[entity_type].append((truth[(entity_type, system, source_id)], golden_id))

    def pairs(counter: Counter) -> int:
        return sum(n * (n - 1) // 2 for n in counter.values())

    for entity_type, members in by_type.items():
        both = pairs(Counter(members))
        predicted = pairs(Counter(g for _, g in members))
        true = pairs(Counter(t for t, _ in members))
        precision = both / predicted if predicted else 1.0
        recall = both / true if true else 1.0
        scores[entity_type] = (precision, recall)
    return scores


def test_bulk_result_does_not_depend_on_file_order(hub: Hub, dataset: Path, tmp_path: Path) -> None:
    load(hub.database, hub.ingestor, find_mappings(dataset))
    first = _partition(hub)
    shuffled = tmp_path / "shuffled"
    _shuffled_copy(dataset, shuffled, seed=5)
    _clear(hub)
    load(hub.database, hub.ingestor, find_mappings(shuffled))
    assert _partition(hub) == first
    assert len(first) > 100


def test_bulk_matches_as_well_as_record_by_record(hub: Hub, dataset: Path) -> None:
    load(hub.database, hub.ingestor, find_mappings(dataset), bulk=False)
    incremental = _f1(hub, dataset / "truth.csv")
    _clear(hub)
    summary = load(hub.database, hub.ingestor, find_mappings(dataset))
    bulk = _f1(hub, dataset / "truth.csv")
    assert summary.total(IngestStatus.REJECTED) == 0
    for entity_type, (precision, recall) in bulk.items():
        assert precision >= 0.99, (entity_type, precision)
        # Record by record depends on arrival order; in bulk every pair is seen at once.
        assert recall >= incremental[entity_type][1] - 0.02, (entity_type, recall, incremental)


def test_a_bulk_load_times_its_phases(
    hub: Hub, dataset: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="mdm"):
        summary = load(hub.database, hub.ingestor, find_mappings(dataset))
    vendor = summary.phases["vendor"]
    assert list(vendor)[:3] == ["staging", "blocking", "preparing"]
    assert {"calibration", "scoring", "clustering", "writing golden records"} <= set(vendor)
    assert {"committing", "after the load"} <= set(vendor)
    assert vendor["staging"]["unit"] == "records"
    assert vendor["staging"]["items"] == vendor["preparing"]["items"] > 0
    assert vendor["blocking"]["unit"] == "pairs"
    assert all(p["seconds"] >= 0 and p["runs"] >= 1 for p in vendor.values())
    assert all(p["cpu_seconds"] >= 0 for p in vendor.values())
    # Locations match in rounds: a phase run again adds up.
    assert summary.phases["location"]["scoring"]["runs"] >= 1
    logged = [r.getMessage() for r in caplog.records if r.name == "mdm.bulk.load"]
    assert any(m.startswith("vendor: scoring took ") and "pairs)" in m for m in logged)
    assert json.loads(json.dumps(summary.to_dict()))["phases"]["vendor"] == vendor


def test_a_second_load_goes_record_by_record_and_changes_nothing(hub: Hub, dataset: Path) -> None:
    first = load(hub.database, hub.ingestor, find_mappings(dataset))
    with hub.database.read_session() as session:
        goldens = len(session.scalars(select(GoldenRecord.id)).all())
        stored = dict(session.execute(select(SourceRecord.id, SourceRecord.content_hash)).all())
    second = load(hub.database, hub.ingestor, find_mappings(dataset))
    assert first.total(IngestStatus.CREATED) > 0
    # Files holding later versions of records replay their history: updates, never new
    # records, and in the end the same content as after the first load.
    assert second.total(IngestStatus.CREATED) == 0
    assert second.total(IngestStatus.REJECTED) == 0
    with hub.database.read_session() as session:
        assert len(session.scalars(select(GoldenRecord.id)).all()) == goldens
        again = dict(session.execute(select(SourceRecord.id, SourceRecord.content_hash)).all())
    assert again == stored


def test_later_versions_in_a_bulk_load_are_matched_first_and_survive_last(hub: Hub) -> None:
    """A file of changes beside the extract, in one initial load: counted as record by
    record counts it, matched on the first version (a moved vendor still joins the other
    system's record of it), golden records built from the latest; a deletion stays out."""
    records = [
        _vendor(
            "ERP",
            "V1",
            name="Northwind Surgical Inc",
            tax_id="41-2847561",
            city="AUSTIN",
            postal_code="78701",
        ),
        _vendor("ERP", "V2", name="Bexar Healthcare Supply LLC", city="SAN ANTONIO"),
        _vendor("ERP", "V3", name="Gamma Surgical Corp", city="DALLAS"),
        _vendor("PROCUREMENT", "S1", name="NORTHWIND SURGICAL", tax_id="412847561", city="Austin"),
        # the changes file
        _vendor(
            "ERP",
            "V1",
            name="Northwind Surgical Inc",
            tax_id="41-2847561",
            city="HOUSTON",
            postal_code="77002",
        ),
        _vendor("ERP", "V2", name="Bexar Healthcare Supply LLC", city="SAN ANTONIO"),
        RecordInput("vendor", "ERP", "V3", {"name": "Gamma Surgical Corp"}, is_deleted=True),
    ]
    result = BulkLoader(hub.ingestor).load(
        hub.database, hub.ingestor.specs["vendor"], records, actor="test", correlation_id=None
    )
    statuses: Counter[str] = Counter()
    for (_, status), n in result.statuses.items():
        statuses[status.value] += n
    assert dict(statuses) == {
        "created": 4,
        "updated": 1,
        "unchanged": 1,
        "deleted": 1,
    }
    with hub.database.read_session() as session:
        rows = {
            r.source_id: r
            for r in session.scalars(select(SourceRecord).where(SourceRecord.system == "ERP"))
        }
        v1 = rows["V1"]
        golden = session.get(GoldenRecord, v1.golden_id)
        assert golden is not None
        members = session.scalars(
            select(SourceRecord.source_id).where(SourceRecord.golden_id == golden.id)
        ).all()
        keys = set(
            session.scalars(select(MatchKeyRow.key).where(MatchKeyRow.source_record_id == v1.id))
        )
        deleted_keys = session.scalars(
            select(MatchKeyRow.key).where(MatchKeyRow.source_record_id == rows["V3"].id)
        ).all()
    assert sorted(members) == ["S1", "V1"]
    assert (v1.version, v1.standardized["city"]) == (2, "HOUSTON")
    assert golden.attributes["city"] in {"HOUSTON", "Austin", "AUSTIN"}
    assert keys == set(
        hub.ingestor.stored_keys(hub.ingestor.specs["vendor"], "ERP", v1.standardized)
    )
    assert "b:postal_name:770|NORT" in keys and "b:postal_name:787|NORT" not in keys
    assert (rows["V2"].version, rows["V3"].is_deleted, rows["V3"].golden_id) == (1, True, None)
    assert deleted_keys == []
    assert result.golden_records == 2


def _vendor(system: str, source_id: str, **attributes: str) -> RecordInput:
    return RecordInput("vendor", system, source_id, attributes)


def test_worker_processes_stage_the_same_as_one_process(hub: Hub) -> None:
    """Standardizing in worker processes (while the main one writes) changes nothing: the
    same rows, keys, rejections (with their errors) and golden records."""
    words = ["Northwind", "Bexar", "Harbor", "Summit", "Cedar", "Lakeside", "Pioneer"]
    records = []
    for i in range(140):
        name = f"{words[i % 7]} {words[(i // 7) % 7]} Surgical Supply {i}"
        records.append(_vendor("ERP", f"V{i}", name=name.upper(), postal_code=f"78{i:03d}"))
        if i % 2:
            records.append(_vendor("PROCUREMENT", f"S{i}", name=name, postal_code=f"78{i:03d}"))
    records.insert(57, _vendor("ERP", " ", name="No Id Medical"))  # refused: no source id
    records.insert(90, _vendor("ERP", "V-BAD", name="Bad", colour="red"))  # unknown attribute
    records.append(_vendor("ERP", "V3", name="Cedar Northwind Surgical Supply 3 Inc"))

    def run(workers: int) -> tuple[Any, ...]:
        _clear(hub)
        result = BulkLoader(hub.ingestor, workers=workers, chunk_size=25).load(
            hub.database, hub.ingestor.specs["vendor"], records, actor="test", correlation_id=None
        )
        with hub.database.read_session() as session:
            rows = sorted(
                (r.system, r.source_id, json.dumps(r.standardized, sort_keys=True), r.content_hash,
                 r.version)
                for r in session.scalars(select(SourceRecord))
            )  # fmt: skip
            keys = _stored_keys(session)
            rejected = sorted(
                (r.source_id, r.code, r.field) for r in session.scalars(select(IngestRejection))
            )
        return result.worker_chunks, (dict(result.statuses), rows, keys, rejected, _partition(hub))

    (in_workers, alone), (in_workers_pooled, pooled) = run(1), run(2)
    assert (in_workers, in_workers_pooled) == (0, 9)  # 213 records, 25 a chunk
    assert pooled == alone
    statuses, rows, _, rejected, partition = pooled
    assert len(rows) == 140 + 70 and len(rejected) == 2
    assert len(partition) < len(rows)  # some matched


def test_file_rows_are_mapped_in_the_workers_as_in_one_process(hub: Hub, dataset: Path) -> None:
    """Rows of a file go to the worker processes unmapped (``SourceRow``): the same rows,
    keys, rejections (with the file and line they came from) and golden records."""
    plan = [
        (system, entity)
        for system, entity in plan_load(find_mappings(dataset), hub.ingestor)
        if entity.entity_type == "vendor"
    ]
    rows: list[SourceRow] = [row for system, entity in plan for row in rows_of(system, entity)]
    system, entity = plan[0]
    rows.insert(30, SourceRow(system.code, entity, 9999, {}))  # no source id: refused
    with hub.database.session() as session:
        for system, _ in plan:
            register_system(session, system.code, system.name)

    def run(workers: int) -> tuple[int, tuple[Any, ...]]:
        _clear(hub)
        result = BulkLoader(hub.ingestor, workers=workers, chunk_size=40).load(
            hub.database, hub.ingestor.specs["vendor"], rows, actor="test", correlation_id=None
        )
        with hub.database.read_session() as session:
            stored = sorted(
                (r.system, r.source_id, json.dumps(r.raw, sort_keys=True),
                 json.dumps(r.standardized, sort_keys=True), r.content_hash)
                for r in session.scalars(select(SourceRecord))
            )  # fmt: skip
            keys = _stored_keys(session)
            rejected = sorted(
                (r.code, r.field, r.origin) for r in session.scalars(select(IngestRejection))
            )
        return result.worker_chunks, (
            dict(result.statuses),
            stored,
            keys,
            rejected,
            _partition(hub),
        )

    (alone_chunks, alone), (pooled_chunks, pooled) = run(1), run(2)
    assert alone_chunks == 0 and pooled_chunks > 1
    assert pooled == alone
    _, stored, keys, rejected, _ = pooled
    assert rejected == [("MISSING_SOURCE_ID", "sourceId", f"{entity.file}:9999")]
    distinct = {(r.system, r.record().source_id) for r in rows if r.line != 9999}
    assert len(stored) == len(distinct) and keys  # later versions fold into their record
    latest = {(r.system, r.record().source_id): r.record() for r in rows if r.line != 9999}
    expected = latest[(rows[0].system, rows[0].record().source_id)]  # stored: the latest
    first = next(r for r in stored if (r[0], r[1]) == (expected.system, expected.source_id))
    assert json.loads(first[2]) == json.loads(json.dumps(dict(expected.attributes)))


def _written(hub: Hub) -> dict[tuple[str, str, str], dict[str, Any]]:
    """What each golden record's creation wrote (ids and times aside), by its member."""
    out = {}
    with hub.database.read_session() as session:
        for golden in session.scalars(select(GoldenRecord)):
            member = session.scalars(
                select(SourceRecord).where(SourceRecord.golden_id == golden.id)
            ).one()
            history = session.scalars(
                select(GoldenHistory).where(GoldenHistory.golden_id == golden.id)
            ).all()
            events = session.scalars(
                select(ChangeEvent).where(ChangeEvent.golden_public_id == golden.public_id)
            ).all()

            def lineage(found: dict[str, Any]) -> dict[str, Any]:
                return {k: {**v, "source_record_id": None} for k, v in found.items()}

            out[(member.entity_type, member.system, member.source_id)] = {
                "golden": (golden.entity_type, golden.attributes, lineage(golden.lineage),
                           golden.status, golden.version, golden.merged_into_id),
                "history": [
                    (h.version, h.attributes, lineage(h.lineage), h.members, h.status,
                     h.merged_into_id, h.change_kind, h.actor)
                    for h in history
                ],
                "events": [
                    (e.entity_type, e.kind, e.version, {**e.payload, "id": None}, e.actor,
                     e.payload["id"] == golden.public_id)
                    for e in events
                ],
            }  # fmt: skip
    return out


def test_a_golden_record_is_written_the_same_by_a_bulk_load_and_by_ingest(hub: Hub) -> None:
    """The same records, bulk loaded into an empty store and ingested one by one: equal
    golden attributes, lineage, history and event payloads (the row builders of
    ``mdm.golden`` and ``mdm.events``, shared by both paths)."""
    vendors = [
        _vendor("ERP", "V1", name="Northwind Surgical Inc", tax_id="41-2847561", city="AUSTIN"),
        _vendor("PROCUREMENT", "S2", name="Bexar Healthcare Supply", postal_code="78205"),
        _vendor("EHR", "O3", name="Gamma Labs", duns="150483782", vendor_type="MANUFACTURER"),
    ]
    items = [
        RecordInput(
            "item", "ERP", "I1",
            {"description": "GLOVE EXAM NITRILE LG", "gtin": "00036000291452", "uom": "BX",
             "pack_quantity": "100", "manufacturer": {"system": "EHR", "source_id": "O3"},
             "price": "12.50", "sterile": "false"},
        ),
    ]  # fmt: skip
    specs = hub.ingestor.specs
    for spec_name, records in (("vendor", vendors), ("item", items)):
        BulkLoader(hub.ingestor).load(
            hub.database, specs[spec_name], records, actor="test", correlation_id=None
        )
    bulk = _written(hub)
    _clear(hub)
    with hub.database.session() as session:
        for record in [*vendors, *items]:
            hub.ingestor.ingest(session, record, actor="test")
    incremental = _written(hub)
    assert len(bulk) == 4
    assert bulk == incremental
    # The event content both write: what changed (every attribute, for a new record),
    # the members' ids in every system, in the published document's shape.
    validator = _event_validator()
    for (_, system, source_id), written in bulk.items():
        ((entity_type, kind, version, payload, actor, is_own_id),) = written["events"]
        attributes = written["golden"][1]
        assert payload["schemaVersion"] == 1 and kind == "created" and is_own_id
        assert payload["changes"] == {k: {"old": None, "new": v} for k, v in attributes.items()}
        assert payload["sources"] == [{"system": system, "sourceId": source_id}]
        assert payload["removedSources"] == [] and payload["mergedFrom"] == []
        document = {
            "seq": 1, "kind": kind, "entityType": entity_type, "goldenId": "X", "version": version,
            "payload": {**payload, "id": "X"}, "actor": actor, "correlationId": None,
            "createdAt": "2026-01-01T00:00:00+00:00",
        }  # fmt: skip
        assert validator.is_valid(document), next(validator.iter_errors(document)).message


def _event_validator() -> Any:
    from jsonschema import Draft202012Validator

    import mdm

    schema = Path(mdm.__file__).parent / "schemas" / "change_event.schema.json"
    return Draft202012Validator(json.loads(schema.read_text(encoding="utf-8")))


def test_bulk_review_candidates_are_explained_as_record_by_record(hub: Hub) -> None:
    """A pair in the review band found by a bulk load carries the per-comparison
    explanation incremental matching gives the same pair (only the path it was found on
    added)."""
    records = [
        _vendor("ERP", "V1384", name="TAMARACK HEALTH HOLDINGS", tax_id="33-8463598",
                address_line1="3257 S FRANKLIN AVE", postal_code="06131", phone="8676912361"),
        _vendor("ERP", "V1386", name="TAMARACK HEALTH SERVICES LLC", duns="936804997",
                address_line1="3257 S FRANKLIN AVE / STE 452", postal_code="06131",
                phone="6964684349"),
    ]  # fmt: skip

    def candidates() -> list[Any]:
        with hub.database.read_session() as session:
            return list(
                session.execute(
                    select(
                        SourceRecord.source_id, MatchCandidate.score, MatchCandidate.explanation
                    ).join(SourceRecord, SourceRecord.id == MatchCandidate.source_record_id)
                ).all()
            )

    BulkLoader(hub.ingestor).load(
        hub.database, hub.ingestor.specs["vendor"], records, actor="test", correlation_id=None
    )
    ((newcomer, bulk_score, bulk),) = candidates()
    _clear(hub)
    with hub.database.session() as session:
        for record in records:
            hub.ingestor.ingest(session, record, actor="test")
    ((same, score, incremental),) = candidates()
    assert newcomer == same == "V1386"
    assert bulk_score == pytest.approx(score, abs=1e-6)
    assert bulk.pop("path") == "bulk"
    assert bulk.pop("best_member") and incremental.pop("best_member")
    assert bulk == incremental
    assert [c["comparison"] for c in bulk["contributions"]][:2] == ["name", "tax_id"]
