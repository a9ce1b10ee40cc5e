"""Reference data files: ``code_sets.csv`` and ``transcodings.csv``, read and checked whole.

Reading only checks what a file can tell by itself (header, empty cells, duplicates
between the files read together); what needs the store (known systems, codes already
loaded) is checked by ``mdm.reference.store`` before anything is applied.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mdm.codes import code_key

CODE_SETS_FILE = "code_sets.csv"
TRANSCODINGS_FILE = "transcodings.csv"
CODE_SET_COLUMNS = ("code_set", "code", "display")
TRANSCODING_COLUMNS = ("code_set", "system", "source_value", "code")
_OPTIONAL = {"display"}

__all__ = [
    "CODE_SETS_FILE",
    "TRANSCODINGS_FILE",
    "CodeRow",
    "ReferenceFiles",
    "TranscodingRow",
    "code_key",
    "find_reference_files",
    "read_reference_files",
]


@dataclass(frozen=True)
class CodeRow:
    """One canonical code, where it was read."""

    code_set: str
    code: str
    display: str | None
    origin: str  # file:line


@dataclass(frozen=True)
class TranscodingRow:
    """One system value -> canonical code, where it was read."""

    code_set: str
    system: str
    source_value: str  # trimmed, spaces collapsed, upper-cased
    code: str
    origin: str  # file:line
    raw_value: str


@dataclass(frozen=True)
class ReferenceFiles:
    """What a set of reference files holds, and every problem found reading them."""

    files: tuple[str, ...]
    codes: tuple[CodeRow, ...]
    transcodings: tuple[TranscodingRow, ...]
    problems: tuple[str, ...]


def find_reference_files(path: Path) -> list[Path]:
    """The reference files a path names: the file itself, or those of a folder.

    A folder contributes ``code_sets.csv`` then ``transcodings.csv`` when present.
    """
    if path.is_dir():
        return [p for p in (path / CODE_SETS_FILE, path / TRANSCODINGS_FILE) if p.is_file()]
    return [path]


def read_reference_files(paths: Iterable[Path]) -> ReferenceFiles:
    """Read code set and transcoding files; problems are collected, never raised.

    A file is a code set file when its name starts with ``code_sets`` and a transcoding
    file when it starts with ``transcodings``. Code set files are read first.
    """
    ordered = sorted(paths, key=lambda p: (not p.name.startswith("code_sets"), str(p)))
    codes: list[CodeRow] = []
    transcodings: list[TranscodingRow] = []
    problems: list[str] = []
    for path in ordered:
        if path.name.startswith("code_sets"):
            for origin, row in _rows(path, CODE_SET_COLUMNS, problems):
                display = row["display"] or None
                codes.append(CodeRow(row["code_set"], code_key(row["code"]), display, origin))
        elif path.name.startswith("transcodings"):
            for origin, row in _rows(path, TRANSCODING_COLUMNS, problems):
                transcodings.append(
                    TranscodingRow(
                        row["code_set"],
                        row["system"],
                        code_key(row["source_value"]),
                        code_key(row["code"]),
                        origin,
                        row["source_value"],
                    )
                )
        else:
            problems.append(
                f"{path}: not a reference data file (name it {CODE_SETS_FILE} or "
                f"{TRANSCODINGS_FILE}): {path.name!r}"
            )
    problems.extend(_duplicates(codes, transcodings))
    return ReferenceFiles(
        files=tuple(str(p) for p in ordered),
        codes=tuple(codes),
        transcodings=tuple(transcodings),
        problems=tuple(problems),
    )


def _rows(
    path: Path, columns: tuple[str, ...], problems: list[str]
) -> Iterable[tuple[str, dict[str, str]]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(_checked_rows(path, csv.reader(handle), columns, problems))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        problems.append(f"{path}: cannot be read: {error}")
        return []
    return rows


def _checked_rows(
    path: Path, reader: Any, columns: tuple[str, ...], problems: list[str]
) -> Iterable[tuple[str, dict[str, str]]]:
    header = [h.strip() for h in next(reader, [])]
    missing = [c for c in columns if c not in header]
    extra = [h for h in header if h not in columns]
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if missing or extra or duplicated:
        wanted = ",".join(columns)
        for name in missing:
            problems.append(f"{path}:1: missing column (header must be {wanted}): {name!r}")
        for name in extra:
            problems.append(f"{path}:1: unknown column (header must be {wanted}): {name!r}")
        for name in duplicated:
            problems.append(f"{path}:1: column listed twice: {name!r}")
        return
    for cells in reader:
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue  # blank line
        if len(cells) != len(header):
            problems.append(
                f"{path}:{line}: expected {len(header)} cells, got {len(cells)}: "
                f"{','.join(cells)!r}"
            )
            continue
        row = {name: " ".join(cell.split()) for name, cell in zip(header, cells, strict=True)}
        empty = [c for c in columns if not row[c] and c not in _OPTIONAL]
        if empty:
            for name in empty:
                problems.append(f"{path}:{line}: empty cell {name}: {','.join(cells)!r}")
            continue
        yield f"{path}:{line}", row


def _duplicates(codes: list[CodeRow], transcodings: list[TranscodingRow]) -> list[str]:
    problems = []
    seen_codes: dict[tuple[str, str], str] = {}
    for c in codes:
        first = seen_codes.setdefault((c.code_set, c.code), c.origin)
        if first != c.origin:
            problems.append(
                f"{c.origin}: code {c.code!r} of code set {c.code_set!r} is already listed "
                f"at {first}"
            )
    seen_maps: dict[tuple[str, str, str], str] = {}
    for t in transcodings:
        first = seen_maps.setdefault((t.code_set, t.system, t.source_value), t.origin)
        if first != t.origin:
            problems.append(
                f"{t.origin}: duplicate mapping of {t.system} value {t.raw_value!r} in code set "
                f"{t.code_set!r} (already mapped at {first})"
            )
    return problems
