"""Ground truth: which real-world entity each source record is, for measuring match quality.

Truth comes from a ``truth.csv`` (columns ``entity_type,system,source_id,entity_key``, as
the seed generator writes it) or from the ``truth_label`` table it was loaded into. Either
way it is read one entity type at a time, so memory follows the largest type, not the file.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from mdm.errors import InvalidInputError
from mdm.specs import DEFAULT_SPECS, SpecRegistry
from mdm.store import TruthLabel

__all__ = [
    "TRUTH_COLUMNS",
    "TRUTH_FILE_NAME",
    "RecordKey",
    "StoredTruth",
    "TruthFile",
    "TruthSource",
    "store_truth",
]

TRUTH_FILE_NAME = "truth.csv"
TRUTH_COLUMNS = ("entity_type", "system", "source_id", "entity_key")
INVALID_TRUTH = "INVALID_TRUTH"
_MAX_LENGTH = {"system": 64, "source_id": 200, "entity_key": 200}
_CHUNK = 1000

RecordKey = tuple[str, str]
"""A source record of one entity type: ``(system, source id)``."""


class TruthSource(Protocol):
    """Where truth labels come from: a file or the ``truth_label`` table."""

    def labels(self, entity_type: str) -> dict[RecordKey, str]:
        """The entity key of each labelled record of ``entity_type``."""
        ...


class TruthFile:
    """A ``truth.csv``, checked row by row when opened.

    Args:
        path: The CSV file, or a folder holding ``truth.csv``.
        specs: The entity types a row may name.

    Raises:
        InvalidInputError: code ``INVALID_TRUTH``; the message names the file and line.

    Example:
        >>> truth = TruthFile(Path("seed/data"))
        >>> truth.labels("vendor")[("ERP", "V1001")]
        'vendor:000000'
    """

    def __init__(self, path: Path, specs: SpecRegistry = DEFAULT_SPECS) -> None:
        self.path = path / TRUTH_FILE_NAME if path.is_dir() else path
        self.specs = specs
        self.counts: Counter[str] = Counter(entity_type for _, entity_type, *_ in self._rows())

    def labels(self, entity_type: str) -> dict[RecordKey, str]:
        """The entity key of each record of ``entity_type``; a conflicting repeat is an error.

        Raises:
            InvalidInputError: code ``INVALID_TRUTH``: one record labelled two ways.
        """
        found: dict[RecordKey, str] = {}
        first_line: dict[RecordKey, int] = {}
        for line, row_type, system, source_id, entity_key in self._rows():
            if row_type != entity_type:
                continue
            key = (system, source_id)
            known = found.setdefault(key, entity_key)
            first_line.setdefault(key, line)
            if known != entity_key:
                raise self._error(
                    line,
                    f"{entity_type} {system} {source_id} is {entity_key!r} here but "
                    f"{known!r} on line {first_line[key]}",
                    "entity_key",
                )
        return found

    def _rows(self) -> Iterator[tuple[int, str, str, str, str]]:
        try:
            handle = self.path.open(encoding="utf-8", newline="")
        except OSError as error:
            raise InvalidInputError(
                f"cannot read truth file {self.path}: {error.strerror}",
                field="path",
                code=INVALID_TRUTH,
            ) from None
        with handle:
            reader = csv.DictReader(handle)
            missing = [c for c in TRUTH_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise self._error(1, f"missing column(s) {', '.join(missing)}", missing[0])
            for row in reader:
                yield (reader.line_num, *self._check(reader.line_num, row))

    def _check(self, line: int, row: dict[str, str | None]) -> tuple[str, str, str, str]:
        values = []
        for column in TRUTH_COLUMNS:
            value = (row.get(column) or "").strip()
            if not value:
                raise self._error(line, f"{column} is empty", column)
            if len(value) > _MAX_LENGTH.get(column, len(value)):
                raise self._error(
                    line, f"{column} is longer than {_MAX_LENGTH[column]} characters", column
                )
            values.append(value)
        if values[0] not in self.specs:
            known = ", ".join(self.specs)
            raise self._error(
                line, f"unknown entity type {values[0]!r} (known: {known})", "entity_type"
            )
        entity_type, system, source_id, entity_key = values
        return entity_type, system, source_id, entity_key

    def _error(self, line: int, message: str, column: str) -> InvalidInputError:
        return InvalidInputError(
            f"{self.path}, line {line}: {message}", field=column, code=INVALID_TRUTH
        )


class StoredTruth:
    """The truth labels stored in the ``truth_label`` table.

    Args:
        session: A session to read them with.
    """

    def __init__(self, session: Session) -> None:
        self.session = session

    def labels(self, entity_type: str) -> dict[RecordKey, str]:
        """The entity key of each labelled record of ``entity_type``."""
        rows = self.session.execute(
            select(TruthLabel.system, TruthLabel.source_id, TruthLabel.entity_key).where(
                TruthLabel.entity_type == entity_type
            )
        )
        return {(system, source_id): key for system, source_id, key in rows}


def store_truth(session: Session, truth: TruthSource, specs: SpecRegistry) -> dict[str, int]:
    """Upsert truth labels into ``truth_label``, in the caller's transaction.

    A label already stored for a record is replaced; labels of records not in ``truth``
    stay. Raised errors leave the transaction to the caller, which rolls back, so a bad
    file writes nothing.

    Args:
        session: The session of the transaction to write in.
        truth: Usually a ``TruthFile``.
        specs: The entity types to store labels of.

    Returns:
        Labels written per entity type.

    Raises:
        InvalidInputError: code ``INVALID_TRUTH`` from reading ``truth``.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(TruthLabel)
    statement = statement.on_conflict_do_update(
        index_elements=["entity_type", "system", "source_id"],
        set_={"entity_key": statement.excluded.entity_key},
    )
    written: dict[str, int] = {}
    for entity_type in specs:
        labels = iter(truth.labels(entity_type).items())
        written[entity_type] = 0
        while chunk := list(islice(labels, _CHUNK)):
            session.execute(
                statement,
                [
                    {"entity_type": entity_type, "system": s, "source_id": i, "entity_key": k}
                    for (s, i), k in chunk
                ],
            )
            written[entity_type] += len(chunk)
    return written
