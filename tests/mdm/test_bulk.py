"""The bulk path of an initial load: same answers whatever the file order, and as good as
record-by-record matching."""

from __future__ import annotations

import csv
import importlib.util
import json
import random
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from sqlalchemy import select

from mdm.hub import Hub
from mdm.ingest import IngestStatus
from mdm.loader import find_mappings, load
from mdm.store import GoldenRecord, SourceRecord

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
