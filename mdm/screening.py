"""Screening: what a record or an argument may hold before it is stored or looked up.

The database and its drivers refuse some values outright, and would otherwise fail inside a
statement (``INTERNAL``, and on PostgreSQL an aborted transaction): PostgreSQL's text and
JSON values hold no NUL byte, no driver encodes a lone surrogate (``"\\ud800"``, which
JSON lets through as an escape), columns have sizes, JSON numbers are 64-bit at most, and
deep nesting exhausts recursion. The rules, checked here before anything is written:

- an identifier (a system code, a source id) has no control character (NUL included) and
  no lone surrogate, and fits its column (``SOURCE_ID_LENGTH``, ``SYSTEM_LENGTH``);
- any other text has no NUL byte and no lone surrogate;
- an attribute value nests at most ``MAX_DEPTH`` levels;
- a number kept as a number is finite and within ±``MAX_SAFE_INTEGER`` (what a JSON
  client reading numbers as doubles gets back exactly).

What must be kept although it breaks them (the record of a rejection, a raw value) is
stored by ``storable``: NUL bytes and lone surrogates written as ``\\uXXXX`` text, numbers
out of range and non-finite ones as their text, nesting deeper than ``MAX_DEPTH`` cut.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, String

from mdm.errors import InvalidInputError
from mdm.store import SourceRecord, SourceSystem

MAX_DEPTH = 32
MAX_SAFE_INTEGER = 2**53 - 1
MAX_TEXT_LENGTH = 4000  # an attribute's text; longer is flagged (TOO_LONG), not matched on
CUT_MARK = "…"


def column_length(column: ColumnElement[Any]) -> int:
    """The size of a ``String(n)`` column."""
    assert isinstance(column.type, String) and column.type.length is not None, column
    return column.type.length


SOURCE_ID_LENGTH = column_length(SourceRecord.__table__.c.source_id)
SYSTEM_LENGTH = column_length(SourceSystem.__table__.c.code)

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_NOT_IN_IDENTIFIER = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def text_problem(text: str, *, is_identifier: bool = False) -> str | None:
    """What makes ``text`` unstorable (or, for an identifier, unfit), or None."""
    found = (_NOT_IN_IDENTIFIER if is_identifier else _UNSTORABLE).search(text)
    if found is None:
        return None
    char = found.group()
    if char == "\x00":
        return "a NUL byte"
    if "\ud800" <= char <= "\udfff":
        return f"a lone surrogate ({escape_text(char)})"
    return f"a control character ({char!r})"


def require_identifier(value: str, *, field: str, max_length: int) -> None:
    """Refuse an identifier holding a control character or lone surrogate, or too long.

    Raises:
        InvalidInputError: naming ``field``.
    """
    problem = text_problem(value, is_identifier=True)
    if problem is not None:
        raise InvalidInputError(f"{field} contains {problem}", field=field)
    if len(value) > max_length:
        raise InvalidInputError(
            f"{field} is {len(value):,} characters long; at most {max_length} are kept",
            field=field,
        )


def nesting_depth(value: Any, *, limit: int = MAX_DEPTH) -> int:
    """How many levels of lists and objects ``value`` nests (a scalar: 0), up to ``limit``
    + 1 (counting stops there). Iterative: any depth is measured without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        depth += 1
        if depth > limit:
            return depth
        deepest = max(deepest, depth)
        stack.extend((child, depth) for child in children)
    return deepest


def is_safe_number(value: int | float) -> bool:
    """Whether a number can be kept as a number (finite, within ±``MAX_SAFE_INTEGER``)."""
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER


def escape_text(text: str) -> str:
    """``text`` with NUL bytes and lone surrogates written as ``\\uXXXX``."""
    return _UNSTORABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def storable_text(text: str, max_length: int) -> str:
    """``text`` escaped and cut to ``max_length`` characters (``…`` marks a cut), for a
    column of that size."""
    text = escape_text(text)
    return text if len(text) <= max_length else text[: max_length - 1] + CUT_MARK


def is_plain_json(attributes: Mapping[str, Any]) -> bool:
    """Whether ``storable`` would keep these attributes as they are: text, booleans, nulls
    and numbers in range only (the fast path of most records)."""
    for key, value in attributes.items():
        if _UNSTORABLE.search(key) is not None:
            return False
        kind = type(value)
        if kind is str:
            if _UNSTORABLE.search(value) is not None:
                return False
        elif kind is int or kind is float:
            if not is_safe_number(value):
                return False
        elif value is not None and kind is not bool:
            return False
    return True


def storable(value: Any, *, depth: int = 0) -> tuple[Any, bool]:
    """A JSON value any database column takes, and whether it differs from ``value``.

    Strings (keys too) are escaped (``escape_text``); numbers out of range or not finite
    become their text; lists and objects nested deeper than ``MAX_DEPTH`` are replaced by
    a note saying so. Only these count as a difference: a value that is not JSON (a date
    read from a file) becomes its text, as JSON columns always stored it.
    """
    if isinstance(value, str):
        if _UNSTORABLE.search(value) is not None:
            return escape_text(value), True
        return value, False
    if isinstance(value, bool) or value is None:
        return value, False
    if isinstance(value, int | float):
        if is_safe_number(value):
            return value, False
        return _number_text(value), True
    if isinstance(value, Mapping | list | tuple):
        if depth > MAX_DEPTH:
            return f"(nested deeper than {MAX_DEPTH} levels: not kept)", True
        altered = False
        if isinstance(value, Mapping):
            out: dict[str, Any] = {}
            for key, item in value.items():
                name = escape_text(str(key))
                out[name], changed = storable(item, depth=depth + 1)
                altered = altered or changed or name != key
            return out, altered
        items = []
        for item in value:
            stored, changed = storable(item, depth=depth + 1)
            items.append(stored)
            altered = altered or changed
        return items, altered
    return escape_text(str(value)), False


def _number_text(value: int | float) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    if value.bit_length() > 10_000:  # past what str() converts
        return f"(an integer of {value.bit_length():,} bits)"
    return str(value)
