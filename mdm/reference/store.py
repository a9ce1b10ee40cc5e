"""Reference data in the store: apply files, validate steward edits, list, audit.

Every change of reference data writes one ``audit_log`` row whose action starts with
``reference_data.``; the newest such row's id is the reference data's version, so a
``CodeBook`` built from the store knows when it is stale.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mdm.codes import LOAD, forget_codebook, reference_data_version
from mdm.errors import InvalidInputError, InvalidReferenceDataError, NotFoundError
from mdm.reference.files import (
    ReferenceFiles,
    TranscodingRow,
    code_key,
    find_reference_files,
    read_reference_files,
)
from mdm.store import AuditLog, CodeSet, SourceSystem, Transcoding, utcnow


@dataclass(frozen=True)
class ReferenceLoadSummary:
    """What applying reference files changed."""

    files: tuple[str, ...]
    codes_added: int = 0
    codes_updated: int = 0
    transcodings_added: int = 0
    transcodings_replaced: int = 0
    unchanged: int = 0
    version: int = 0

    @property
    def has_changes(self) -> bool:
        """Whether the files changed anything (else nothing was written, version kept)."""
        changed = (
            self.codes_added,
            self.codes_updated,
            self.transcodings_added,
            self.transcodings_replaced,
        )
        return any(changed)


@dataclass(frozen=True)
class CodeEntry:
    code: str
    display: str | None


@dataclass(frozen=True)
class TranscodingEntry:
    code_set: str
    system: str
    source_value: str
    code: str
    origin: str
    updated_by: str | None
    updated_at: datetime | None


@dataclass(frozen=True)
class CodeSetView:
    """A code set with its canonical codes and every system's transcodings to them."""

    name: str
    codes: tuple[CodeEntry, ...]
    transcodings: tuple[TranscodingEntry, ...] = field(default=())


def audit(
    session: Session, actor: str, action: str, target: str | None, details: dict[str, Any]
) -> int:
    """Write the audit row of a reference data change; its id is the new version."""
    row = AuditLog(actor=actor, action=action, target=target, details=details)
    session.add(row)
    session.flush()
    row.details = {**details, "version": row.id}
    session.flush()
    forget_codebook(session)
    return row.id


def load_reference_files(
    session: Session, paths: Iterable[Path], *, actor: str
) -> ReferenceLoadSummary:
    """Check reference files whole against the store and apply them, or apply nothing.

    Paths are files or folders (a folder gives its ``code_sets.csv`` and
    ``transcodings.csv``). Rows are upserted: a code's display is updated, a transcoding
    with the same (code set, system, source value) is replaced; nothing is deleted.
    Files that change nothing write nothing: no audit row, the version stays.

    Raises:
        InvalidReferenceDataError: every problem found, each naming file, line and value.
    """
    files = [f for p in paths for f in find_reference_files(p)]
    data = read_reference_files(files)
    problems = [*data.problems, *_store_problems(session, data)]
    if problems:
        raise InvalidReferenceDataError(
            f"reference data refused, nothing applied ({len(problems)} problems):\n"
            + "\n".join(problems),
            problems=tuple(problems),
        )
    return _apply(session, data, actor)


def _store_problems(session: Session, data: ReferenceFiles) -> list[str]:
    systems = set(session.scalars(select(SourceSystem.code)))
    canonical = _stored_codes(session, {c.code_set for c in data.codes} | _sets_of(data))
    for c in data.codes:
        canonical.setdefault(c.code_set, set()).add(c.code)
    problems: list[str] = []
    for t in data.transcodings:
        problems.extend(
            f"{t.origin}: {message}: {value!r}"
            for _, message, value in _transcoding_problems(t, canonical, systems)
        )
    # A new canonical code that a stored transcoding maps to another code makes a chain.
    new_codes = {(c.code_set, c.code): c for c in data.codes}
    replaced = {(t.code_set, t.system, t.source_value) for t in data.transcodings}
    if new_codes:
        stored = session.scalars(
            select(Transcoding).where(Transcoding.code_set.in_({c for c, _ in new_codes}))
        )
        for mapped in stored:
            row = new_codes.get((mapped.code_set, mapped.source_value))
            key = (mapped.code_set, mapped.system, mapped.source_value)
            if row is not None and mapped.code != mapped.source_value and key not in replaced:
                problems.append(
                    f"{row.origin}: code is already a {mapped.system} value transcoded to "
                    f"{mapped.code!r} (a chain): {row.code!r}"
                )
    return problems


def _sets_of(data: ReferenceFiles) -> set[str]:
    return {t.code_set for t in data.transcodings}


def _stored_codes(session: Session, names: set[str]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    if names:
        for name, code in session.execute(
            select(CodeSet.name, CodeSet.code).where(CodeSet.name.in_(names))
        ):
            found[name].add(code)
    return dict(found)


def _transcoding_problems(
    t: TranscodingRow, canonical: dict[str, set[str]], systems: set[str]
) -> list[tuple[str, str, str]]:
    """``(field, message, value)`` for each problem of one transcoding."""
    codes = canonical.get(t.code_set)
    problems = []
    if codes is None:
        problems.append(("codeSet", "unknown code set", t.code_set))
    if t.system not in systems:
        problems.append(("system", "unknown source system (not registered)", t.system))
    if codes is not None and t.code not in codes:
        problems.append(("code", f"not a canonical code of code set {t.code_set!r}", t.code))
    if codes is not None and t.source_value in codes and t.source_value != t.code:
        problems.append(
            (
                "sourceValue",
                f"is itself a canonical code of {t.code_set!r}, mapped to {t.code!r} (a cycle)",
                t.raw_value,
            )
        )
    return problems


def _apply(session: Session, data: ReferenceFiles, actor: str) -> ReferenceLoadSummary:
    counts = dict.fromkeys(
        ("codes_added", "codes_updated", "transcodings_added", "transcodings_replaced"), 0
    )
    unchanged = 0
    stored_codes = _rows_by_key(
        session.scalars(select(CodeSet).where(CodeSet.name.in_({c.code_set for c in data.codes}))),
        lambda r: (r.name, r.code),
    )
    for c in data.codes:
        code_row = stored_codes.get((c.code_set, c.code))
        if code_row is None:
            session.add(CodeSet(name=c.code_set, code=c.code, display=c.display))
            counts["codes_added"] += 1
        elif code_row.display != c.display:
            code_row.display = c.display
            counts["codes_updated"] += 1
        else:
            unchanged += 1
    now = utcnow()
    stored_maps = _rows_by_key(
        session.scalars(select(Transcoding).where(Transcoding.code_set.in_(_sets_of(data)))),
        lambda r: (r.code_set, r.system, r.source_value),
    )
    for t in data.transcodings:
        map_row = stored_maps.get((t.code_set, t.system, t.source_value))
        if map_row is None:
            session.add(
                Transcoding(
                    code_set=t.code_set,
                    system=t.system,
                    source_value=t.source_value,
                    code=t.code,
                    origin="file",
                    updated_by=actor,
                    updated_at=now,
                )
            )
            counts["transcodings_added"] += 1
        elif map_row.code != t.code or map_row.origin != "file":
            map_row.code, map_row.origin = t.code, "file"
            map_row.updated_by, map_row.updated_at = actor, now
            counts["transcodings_replaced"] += 1
        else:
            unchanged += 1
    session.flush()
    if not any(counts.values()):
        # Loading the same files again is not a change of reference data: no audit row,
        # and running hubs keep their code book (its version is the newest audit row).
        version = reference_data_version(session)
        return ReferenceLoadSummary(data.files, **counts, unchanged=unchanged, version=version)
    details: dict[str, Any] = {"files": list(data.files), **counts, "unchanged": unchanged}
    sets = sorted({c.code_set for c in data.codes} | _sets_of(data))
    version = audit(session, actor, LOAD, ",".join(sets)[:200] or None, details)
    return ReferenceLoadSummary(data.files, **counts, unchanged=unchanged, version=version)


def _rows_by_key(rows: Iterable[Any], key: Any) -> dict[Any, Any]:
    return {key(r): r for r in rows}


def check_transcoding(
    session: Session, code_set: str, system: str, source_value: str, code: str
) -> TranscodingRow:
    """Validate one transcoding as a file row would be (the store's codes and systems).

    Raises:
        InvalidReferenceDataError: unknown code set or system, code not canonical, cycle;
            ``field`` names the first culprit.
    """
    row = TranscodingRow(
        code_set.strip(),
        system.strip(),
        code_key(source_value),
        code_key(code),
        "input",
        source_value.strip(),
    )
    if not row.source_value:
        raise InvalidReferenceDataError("sourceValue must not be blank", field="sourceValue")
    systems = set(session.scalars(select(SourceSystem.code)))
    problems = _transcoding_problems(row, _stored_codes(session, {row.code_set}), systems)
    if problems:
        messages = tuple(f"{message}: {value!r}" for _, message, value in problems)
        raise InvalidReferenceDataError(
            "; ".join(messages), field=problems[0][0], problems=messages
        )
    return row


def require_reason(reason: str | None) -> str:
    """The trimmed reason of a steward action (every one needs one).

    Raises:
        InvalidInputError: the reason is missing or blank (``field`` is ``reason``).
    """
    text = (reason or "").strip()
    if not text:
        raise InvalidInputError("a reason is required and must not be blank", field="reason")
    return text


def upsert_transcoding(
    session: Session, row: TranscodingRow, *, origin: str, actor: str
) -> Transcoding:
    stored = session.scalar(
        select(Transcoding).where(
            Transcoding.code_set == row.code_set,
            Transcoding.system == row.system,
            Transcoding.source_value == row.source_value,
        )
    )
    if stored is None:
        stored = Transcoding(
            code_set=row.code_set, system=row.system, source_value=row.source_value
        )
        session.add(stored)
    stored.code, stored.origin = row.code, origin
    stored.updated_by, stored.updated_at = actor, utcnow()
    session.flush()
    return stored


def delete_transcoding_row(
    session: Session, code_set: str, system: str, source_value: str
) -> TranscodingEntry:
    """Remove one transcoding; returns what it was.

    Raises:
        NotFoundError: no such transcoding.
    """
    stored = session.scalar(
        select(Transcoding).where(
            Transcoding.code_set == code_set.strip(),
            Transcoding.system == system.strip(),
            Transcoding.source_value == code_key(source_value),
        )
    )
    if stored is None:
        raise NotFoundError(
            f"no transcoding of {system} value {source_value!r} in code set {code_set!r}",
            field="sourceValue",
        )
    entry = transcoding_entry(stored)
    session.delete(stored)
    session.flush()
    return entry


def transcoding_entry(row: Transcoding) -> TranscodingEntry:
    return TranscodingEntry(
        row.code_set, row.system, row.source_value, row.code, row.origin, row.updated_by,
        row.updated_at,
    )  # fmt: skip


def list_code_sets(session: Session, name: str | None = None) -> list[CodeSetView]:
    """Code sets (one, or all) with their codes and transcodings, by name."""
    codes_query = select(CodeSet).order_by(CodeSet.name, CodeSet.code)
    maps_query = select(Transcoding).order_by(
        Transcoding.code_set, Transcoding.system, Transcoding.source_value
    )
    if name is not None:
        codes_query = codes_query.where(CodeSet.name == name)
        maps_query = maps_query.where(Transcoding.code_set == name)
    codes: dict[str, list[CodeEntry]] = defaultdict(list)
    for row in session.scalars(codes_query):
        codes[row.name].append(CodeEntry(row.code, row.display))
    maps: dict[str, list[TranscodingEntry]] = defaultdict(list)
    for t in session.scalars(maps_query):
        maps[t.code_set].append(transcoding_entry(t))
    return [
        CodeSetView(n, tuple(codes.get(n, ())), tuple(maps.get(n, ())))
        for n in sorted(set(codes) | set(maps))
    ]
