"""`mdm load` of the seed through its mapping files, and mapping-file errors."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from mdm.errors import MappingError
from mdm.hub import Hub
from mdm.ingest import IngestStatus
from mdm.loader import SKIPPED, FileStatus, find_mappings, load
from mdm.mapping import load_mapping, parse_mapping
from mdm.store import GoldenRecord, IngestRejection, SourceRecord

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "seed" / "data"


def _pairs(counter: Counter) -> int:
    return sum(n * (n - 1) // 2 for n in counter.values())


def test_seed_loads_whole_and_matches_to_target_quality(hub: Hub) -> None:
    summary = load(hub.database, hub.ingestor, find_mappings(SEED))
    truth = {}
    with (SEED / "truth.csv").open() as handle:
        for row in csv.DictReader(handle):
            truth[(row["entity_type"], row["system"], row["source_id"])] = row["entity_key"]
    assert summary.total(IngestStatus.REJECTED) == 0
    # Every record lands once; files of later versions add versions of the same records.
    assert summary.total() >= len(truth)
    with hub.database.read_session() as session:
        assert len(session.scalars(select(SourceRecord.id)).all()) == len(truth)

    with hub.database.read_session() as session:
        assert session.scalar(select(IngestRejection)) is None
        rows = session.execute(
            select(
                SourceRecord.entity_type,
                SourceRecord.system,
                SourceRecord.source_id,
                SourceRecord.golden_id,
            ).where(SourceRecord.is_deleted.is_(False))
        ).all()
        references = session.scalars(
            select(GoldenRecord.attributes).where(GoldenRecord.entity_type == "location")
        ).all()
    by_type: dict[str, list[tuple[str, int]]] = {}
    for entity_type, system, source_id, golden_id in rows:
        by_type.setdefault(entity_type, []).append(
            (truth[(entity_type, system, source_id)], golden_id)
        )
    assert set(by_type) == {"vendor", "item", "location", "cost_center", "contract"}
    for entity_type, members in by_type.items():
        together = _pairs(Counter(members))
        predicted = _pairs(Counter(g for _, g in members))
        true = _pairs(Counter(t for t, _ in members))
        precision = together / predicted if predicted else 1.0
        recall = together / true if true else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        # The matching targets: F1 >= 0.97 per type; a false merge costs more than a miss.
        assert precision >= 0.99, (entity_type, precision, recall)
        assert f1 >= 0.97, (entity_type, precision, recall)
    # EHR locations refer to ERP cost centers across systems.
    assert any(
        isinstance(a.get("cost_center"), dict) and a["cost_center"]["system"] == "ERP"
        for a in references
    )


def test_loading_twice_changes_nothing(hub: Hub, tmp_path: Path) -> None:
    mapping = tmp_path / "erp.toml"
    (tmp_path / "vendors.csv").write_text(
        "VENDOR,NAME,TAX\nV1,Acme Medical,41-2847561\nV2,Beta Labs,\n", encoding="utf-8"
    )
    mapping.write_text(
        '[system]\ncode = "ERP"\n[[entity]]\ntype = "vendor"\nfile = "vendors.csv"\n'
        'source_id = "VENDOR"\n[entity.attributes]\nname = "NAME"\ntax_id = "TAX"\n',
        encoding="utf-8",
    )
    first = load(hub.database, hub.ingestor, [mapping])
    second = load(hub.database, hub.ingestor, [mapping])
    forced = load(hub.database, hub.ingestor, [mapping], force=True)
    assert first.total(IngestStatus.CREATED) == 2
    # The file is known (same bytes, same mapping): skipped unread; read again, unchanged.
    assert second.total(SKIPPED) == 2 and second.total() == 2
    assert [f.status for f in second.files] == [FileStatus.SKIPPED]
    assert forced.total(IngestStatus.UNCHANGED) == 2 and forced.total() == 2


@pytest.mark.parametrize(
    ("document", "key"),
    [
        pytest.param({}, "system.code", id="no-system"),
        pytest.param(
            {"system": {"code": "X"}, "entity": [{"type": "patient", "source_id": "ID"}]},
            "entity[0].type",
            id="unknown-type",
        ),
        pytest.param(
            {"system": {"code": "X"}, "entity": [{"type": "vendor"}]},
            "entity[0].source_id",
            id="no-source-id",
        ),
        pytest.param(
            {
                "system": {"code": "X"},
                "entity": [{"type": "vendor", "source_id": "ID", "attributes": {"colour": "C"}}],
            },
            "entity[0].attributes.colour",
            id="unknown-attribute",
        ),
        pytest.param(
            {
                "system": {"code": "X"},
                "entity": [
                    {
                        "type": "vendor",
                        "source_id": "ID",
                        "attributes": {"name": {"field": "N", "transform": ["shout"]}},
                    }
                ],
            },
            "entity[0].attributes.name",
            id="unknown-transform",
        ),
        pytest.param(
            {
                "system": {"code": "X"},
                "entity": [{"type": "vendor", "source_id": "ID", "format": "xml"}],
            },
            "entity[0].format",
            id="unknown-format",
        ),
        pytest.param(
            {
                "system": {"code": "X"},
                "entity": [
                    {
                        "type": "vendor",
                        "source_id": "ID",
                        "attributes": {"name": {"field": "N", "system": "ERP"}},
                    }
                ],
            },
            "entity[0].attributes.name",
            id="system-on-non-reference",
        ),
    ],
)
def test_bad_mapping_names_the_key(document: dict, key: str) -> None:
    with pytest.raises(MappingError) as caught:
        parse_mapping(document)
    assert caught.value.field == key
    assert caught.value.code == "INVALID_MAPPING"


def test_bad_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[system\n", encoding="utf-8")
    with pytest.raises(MappingError) as caught:
        load_mapping(path)
    assert str(path) in caught.value.message


def test_mapping_rules_transform_and_map_values() -> None:
    mapping = parse_mapping(
        {
            "system": {"code": "PROCUREMENT"},
            "entity": [
                {
                    "type": "cost_center",
                    "source_id": "id",
                    "attributes": {
                        "company": {
                            "field": "co",
                            "transform": ["strip", "upper"],
                            "values": {"HHN": "1000"},
                        },
                        "name": {"fields": ["dept", "sub"], "separator": " - "},
                        "status": {"constant": "ACTIVE"},
                        "location": {"field": "loc.id", "system": "ERP"},
                    },
                }
            ],
        }
    ).entities[0]
    row = {"id": "CC-1", "co": " hhn ", "dept": "Pharmacy", "sub": "Retail", "loc": {"id": "L9"}}
    assert mapping.source_id_of(row) == "CC-1"
    assert mapping.attributes_of(row) == {
        "company": "1000",
        "name": "Pharmacy - Retail",
        "status": "ACTIVE",
        "location": {"system": "ERP", "source_id": "L9"},
    }
