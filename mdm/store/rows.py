"""Many rows at a time: the statements of an initial load, without per-row overhead.

An initial load writes millions of rows (source records, match keys, golden records, their
history and events). Through SQLAlchemy's Core ``executemany`` each row pays for
parameter construction and type processing in Python, more than SQLite pays to store it.
On SQLite these helpers hand the driver plain tuples, converted once per column by the
column type's own bind processor (so values are stored exactly as the ORM would store
them), and assign primary keys themselves: the writer holds the database's write lock for
the whole transaction, so nobody else can take the next ids. Other databases go through
Core statements (``RETURNING`` for the ids).

Statements here bypass the ORM: callers that cache what the ORM would have told them
(``mdm.context`` resolutions) must forget it themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Session

_Processor = Callable[[Any], Any] | None
_processors: dict[tuple[str, str, str], _Processor] = {}


def _connection(session: Session) -> Connection:
    session.flush()  # pending ORM objects first, so statement order is the caller's
    return session.connection()


def _processor(dialect: Dialect, table: Table, name: str) -> _Processor:
    key = (dialect.name, table.name, name)
    if key not in _processors:
        column_type = table.c[name].type
        _processors[key] = column_type.dialect_impl(dialect).bind_processor(dialect)
    return _processors[key]


def _tuples(
    dialect: Dialect, table: Table, names: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> list[tuple[Any, ...]]:
    processors = [(i, p) for i, name in enumerate(names) if (p := _processor(dialect, table, name))]
    # The same object in row after row (a chunk's one timestamp, a shared serialized
    # value) is converted once: the last value each column converted is remembered.
    seen: list[Any] = [_UNSEEN] * len(names)
    done: list[Any] = [None] * len(names)
    out = []
    for row in rows:
        values = [row[name] for name in names]
        for i, process in processors:
            value = values[i]
            if value is not seen[i]:
                seen[i], done[i] = value, process(value)
            values[i] = done[i]
        out.append(tuple(values))
    return out


_UNSEEN = object()


def _quoted(dialect: Dialect, names: Sequence[str]) -> list[str]:
    prepare = dialect.identifier_preparer
    return [prepare.quote(name) for name in names]


def insert_rows(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table`` in the session's
    transaction."""
    if not rows:
        return
    connection = _connection(session)
    dialect = connection.dialect
    if dialect.name != "sqlite":
        connection.execute(insert(table), list(rows))
        return
    names = list(rows[0])
    columns = ", ".join(_quoted(dialect, names))
    marks = ", ".join("?" for _ in names)
    connection.exec_driver_sql(
        f"INSERT INTO {table.name} ({columns}) VALUES ({marks})",
        _tuples(dialect, table, names, rows),
    )


def insert_tuples(
    session: Session, table: Table, names: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Insert ``rows``, tuples of the columns ``names``, into ``table`` (no dict a row:
    for the millions of narrow rows of a load, such as match keys)."""
    if not rows:
        return
    connection = _connection(session)
    dialect = connection.dialect
    if dialect.name != "sqlite":
        connection.execute(insert(table), [dict(zip(names, row, strict=True)) for row in rows])
        return
    processors = [(i, p) for i, name in enumerate(names) if (p := _processor(dialect, table, name))]
    if processors:
        rows = _tuples(dialect, table, names, [dict(zip(names, row, strict=True)) for row in rows])
    columns = ", ".join(_quoted(dialect, names))
    marks = ", ".join("?" for _ in names)
    connection.exec_driver_sql(f"INSERT INTO {table.name} ({columns}) VALUES ({marks})", rows)


def insert_rows_returning_ids(
    session: Session, table: Table, rows: Sequence[Mapping[str, Any]]
) -> list[int]:
    """Insert ``rows`` into ``table`` (integer primary key ``id``); their new ids, in order."""
    if not rows:
        return []
    connection = _connection(session)
    if connection.dialect.name != "sqlite":
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return [int(i) for i in connection.execute(statement, list(rows)).scalars()]
    # SQLite: the transaction holds the write lock (BEGIN IMMEDIATE), so the ids after
    # the largest one are ours; an explicit id is what SQLite would have picked.
    last = connection.execute(select(table.c.id).order_by(table.c.id.desc()).limit(1))
    start = (last.scalar() or 0) + 1
    ids = list(range(start, start + len(rows)))
    insert_rows(session, table, [{**row, "id": i} for row, i in zip(rows, ids, strict=True)])
    return ids


def update_rows(
    session: Session, table: Table, rows: Sequence[Mapping[str, Any]], *, key: str = "id"
) -> None:
    """``UPDATE table SET ... WHERE key = row[key]`` for each row (same keys in each)."""
    if not rows:
        return
    connection = _connection(session)
    dialect = connection.dialect
    names = [name for name in rows[0] if name != key]
    if dialect.name != "sqlite":
        statement = (
            update(table)
            .where(table.c[key] == bindparam(f"_{key}"))
            .values({name: bindparam(f"_{name}") for name in names})
        )
        connection.execute(statement, [{f"_{k}": v for k, v in row.items()} for row in rows])
        return
    assignments = ", ".join(f"{quoted} = ?" for quoted in _quoted(dialect, names))
    (where,) = _quoted(dialect, [key])
    connection.exec_driver_sql(
        f"UPDATE {table.name} SET {assignments} WHERE {where} = ?",
        _tuples(dialect, table, [*names, key], rows),
    )


def select_rows(session: Session, statement: Any, *, chunk: int = 50_000) -> Iterator[Any]:
    """The rows of a Core ``select``, streamed as tuples, without the ORM's per-row work
    (on SQLite, straight from the driver's cursor, each column through its type's result
    processor). Its bound values go to the driver as they are: plain strings and numbers.
    """
    connection = _connection(session)
    dialect = connection.dialect
    if dialect.name != "sqlite":
        yield from connection.execute(statement.execution_options(yield_per=chunk))
        return
    compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    processors = [
        (i, p)
        for i, column in enumerate(statement.selected_columns)
        if (p := column.type.dialect_impl(dialect).result_processor(dialect, None)) is not None
    ]
    parameters = compiled.construct_params()
    positions = compiled.positiontup or []
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(compiled.string, [parameters[name] for name in positions])
        while rows := cursor.fetchmany(chunk):
            if not processors:
                yield from rows
                continue
            for row in rows:
                values = list(row)
                for i, process in processors:
                    values[i] = process(values[i])
                yield tuple(values)
    finally:
        cursor.close()
