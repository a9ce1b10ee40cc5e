"""One file holding several systems' rows: each system's mapping takes its own (``where``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from mdm.errors import MappingError
from mdm.hub import Hub
from mdm.loader import find_mappings, load
from mdm.mapping import parse_mapping
from mdm.store import SourceRecord

ROWS = """source_system,id,name,city
erp,V1,Northwind Surgical Inc,Austin
proc,S1,NORTHWIND SURGICAL,Austin
erp,V2,Bexar Healthcare Supply LLC,San Antonio
proc,S2,Gamma Surgical Corp,Dallas
legacy,L1,Old Vendor,Houston
"""


def _mapping(code: str, equals: str) -> str:
    return f"""
[system]
code = "{code}"

[[entity]]
type = "vendor"
file = "vendors.csv"
source_id = "id"
where = {{ field = "source_system", equals = {equals} }}

[entity.attributes]
name = "name"
city = "city"
"""


def test_each_system_loads_only_its_rows_of_a_shared_file(hub: Hub, tmp_path: Path) -> None:
    (tmp_path / "vendors.csv").write_text(ROWS, encoding="utf-8")
    (tmp_path / "erp.toml").write_text(_mapping("ERP", '["erp"]'), encoding="utf-8")
    (tmp_path / "proc.toml").write_text(_mapping("PROCUREMENT", '"proc"'), encoding="utf-8")
    summary = load(hub.database, hub.ingestor, find_mappings(tmp_path))
    assert summary.total() == 4  # the legacy row is no one's
    with hub.database.read_session() as session:
        loaded = set(session.execute(select(SourceRecord.system, SourceRecord.source_id)).all())
    assert loaded == {("ERP", "V1"), ("ERP", "V2"), ("PROCUREMENT", "S1"), ("PROCUREMENT", "S2")}
    # Loaded again: each file is known per mapping, nothing is read twice.
    again = load(hub.database, hub.ingestor, find_mappings(tmp_path))
    assert again.total("skipped") == 4


@pytest.mark.parametrize(
    ("where", "key"),
    [
        ("x", "entity[0].where"),
        ({"equals": ["a"]}, "entity[0].where"),
        ({"field": "s", "equals": []}, "entity[0].where.equals"),
        ({"field": "s", "equals": [True]}, "entity[0].where.equals"),
        ({"field": "s", "equals": "a", "other": 1}, "entity[0].where"),
    ],
)
def test_a_bad_where_names_the_key(where: object, key: str) -> None:
    document = {
        "system": {"code": "X"},
        "entity": [{"type": "vendor", "source_id": "ID", "where": where}],
    }
    with pytest.raises(MappingError) as caught:
        parse_mapping(document)
    assert caught.value.field == key
