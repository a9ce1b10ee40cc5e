"""`mdm load` of files with hostile values: bad rows are rejected one by one with the field
named, good rows land, on the bulk path (first load) and record by record, both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from mdm.errors import InvalidInputError
from mdm.hub import Hub
from mdm.ingest import IngestStatus
from mdm.loader import load
from mdm.store import IngestRejection, SourceRecord

MAPPING = (
    '[system]\ncode = "ERP"\n[[entity]]\ntype = "item"\nfile = "items.csv"\n'
    'source_id = "ID"\n[entity.attributes]\ndescription = "DESC"\n'
    'pack_quantity = "PACK"\n'
)
GOOD = ["I1,GLOVE EXAM NITRILE LG,100", "I2,GAUZE SPONGE 4X4,200"]
BAD = {
    "nul-id": "I\x003,GOWN ISOLATION,10",
    "long-id": f"{'X' * 300},SYRINGE 10ML,100",
    "control-id": "I\x074,MASK N95,20",
}
FLAGGED = {
    "huge-number": ("I5,TAPE SURGICAL 1IN,1" + "0" * 80, "pack_quantity"),
    "nul-text": ("I6,CATHETER\x00 FOLEY,10", "description"),
}


def _write(folder: Path, rows: list[str]) -> Path:
    (folder / "items.csv").write_text("ID,DESC,PACK\n" + "\n".join(rows) + "\n", "utf-8")
    mapping = folder / "erp.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    return mapping


@pytest.mark.parametrize("path", ["bulk", "record-by-record"])
def test_hostile_rows_are_rejected_alone_and_the_rest_lands(
    hub: Hub, tmp_path: Path, path: str
) -> None:
    if path == "record-by-record":  # a first load goes bulk: make this one the second
        load(hub.database, hub.ingestor, [_write(tmp_path, ["I0,PRIMER,1"])])
    rows = [GOOD[0], *BAD.values(), *(row for row, _ in FLAGGED.values()), GOOD[1]]
    summary = load(hub.database, hub.ingestor, [_write(tmp_path, rows)])

    assert summary.total(IngestStatus.REJECTED) == len(BAD)
    with hub.database.read_session() as session:
        stored = dict(session.execute(select(SourceRecord.source_id, SourceRecord.findings)).all())
        rejections = session.scalars(select(IngestRejection)).all()
    assert {"I1", "I2", "I5", "I6"} <= set(stored)
    assert all("\x00" not in key and len(key) <= 200 for key in stored)
    assert sorted(r.field or "" for r in rejections) == ["sourceId"] * len(BAD)
    assert all(r.code == "INVALID_INPUT" for r in rejections)
    # Values that can be flagged land with a finding on their attribute.
    for source_id, attribute in (("I5", "pack_quantity"), ("I6", "description")):
        assert any(f["attribute"] == attribute for f in stored[source_id] or []), stored[source_id]


def test_a_file_that_is_not_utf8_is_refused_whole_naming_file_and_line(
    hub: Hub, tmp_path: Path
) -> None:
    mapping = _write(tmp_path, GOOD)
    (tmp_path / "items.csv").write_bytes(
        b"ID,DESC,PACK\nI1,GLOVE EXAM,100\nI2,GAUZE \x96 4X4,200\n"  # cp1252 en dash
    )
    with pytest.raises(InvalidInputError) as refused:
        load(hub.database, hub.ingestor, [mapping])
    assert refused.value.field == "encoding"
    assert "items.csv" in refused.value.message and "line 3" in refused.value.message
    with hub.database.read_session() as session:
        assert session.scalar(select(SourceRecord.id)) is None  # nothing of it written

    # Declared, the same bytes load.
    mapping.write_text(
        MAPPING.replace('file = "items.csv"', 'file = "items.csv"\nencoding = "cp1252"')
    )
    summary = load(hub.database, hub.ingestor, [mapping])
    assert summary.total(IngestStatus.CREATED) == 2
    with hub.database.read_session() as session:
        descriptions = session.scalars(select(SourceRecord.raw)).all()
    assert {"description": "GAUZE \u2013 4X4", "pack_quantity": "200"} in [
        {k: str(v) for k, v in d.items()} for d in descriptions
    ]


def test_an_unknown_encoding_is_a_mapping_error(hub: Hub, tmp_path: Path) -> None:
    mapping = _write(tmp_path, GOOD)
    mapping.write_text(
        MAPPING.replace('file = "items.csv"', 'file = "items.csv"\nencoding = "klingon"')
    )
    with pytest.raises(InvalidInputError) as refused:
        load(hub.database, hub.ingestor, [mapping])
    assert (
        "entity[0].encoding" in refused.value.message or refused.value.field == "entity[0].encoding"
    )
