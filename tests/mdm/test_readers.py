"""Source file readers: rows with their line numbers, and clear errors on a bad line."""

from __future__ import annotations

from pathlib import Path

import pytest

from mdm.errors import InvalidInputError
from mdm.readers import read_rows


def test_jsonl_rows_come_with_their_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text('{"id": "V1", "name": "Acme"}\n\n{"id": "V2", "n": {"a": 1}}\n')
    assert list(read_rows(path, "jsonl")) == [
        (1, {"id": "V1", "name": "Acme"}),
        (3, {"id": "V2", "n": {"a": 1}}),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param('{"id": "V1"}\n{"id": "V2"\n', "rows.jsonl:2:", id="truncated"),
        pytest.param('{"id": "V1"}\n[1, 2]\n', "rows.jsonl:2: not a JSON object", id="array"),
        pytest.param("not json\n", "rows.jsonl:1:", id="junk"),
    ],
)
def test_a_bad_jsonl_line_is_named(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text(text)
    with pytest.raises(InvalidInputError) as caught:
        list(read_rows(path, "jsonl"))
    assert expected in str(caught.value)
    assert caught.value.field == "file"
