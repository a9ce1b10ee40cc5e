"""References given by the parent's code or name, as real feeds send them.

A reference attribute usually holds the parent's source id in its system. A mapping may
say instead that the field holds the parent's ``code`` (a location's parent as the parent
location's code) or its ``name`` (an item's manufacturer as a vendor name) within the
same system (``FieldRule.by``); standardized, such a reference is ``{system, code}`` or
``{system, name}``. It is *located*: the one record of the parent type in that system whose
code (folded) or name (as an organization name: legal form and a leading THE left out)
is the same becomes the reference, stored as ``{system, source_id}`` like any other, so
matching, reference keys and re-evaluation work as they do for source ids.

None, or several (never guessed between): the value is kept as given, with an
``UNRESOLVED_REFERENCE`` finding, and a ``waiting`` key (``w:<parent type>:<by>:<system>|
<value>``) under which the record is found again when a parent with that code or name
arrives (``relocate_children``). Every record of a type some spec refers to is kept
under ``locator`` keys (``l:<by>:<system>|<value>``) for the look-up.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from matchers import fold, normalize_organization_name
from mdm.golden import ChangeContext, refresh_golden
from mdm.mapping import BY
from mdm.specs import EntitySpec, SpecRegistry
from mdm.standardize import Finding, Standardized
from mdm.store import GoldenRecord, MatchKeyRow, SourceRecord, core_connection

BY_SOURCE_ID, *_LOCATED = BY
LOCATED_BY = tuple(_LOCATED)  # what else a reference field may hold of its parent
LOCATOR_PREFIX = "l:"
LOCATOR_KIND = "locator"
WAITING_PREFIX = "w:"
WAITING_KIND = "waiting"
UNRESOLVED = "UNRESOLVED_REFERENCE"
_CHUNK = 500

_PARENTS = (
    select(MatchKeyRow.key, SourceRecord.source_id)
    .join(SourceRecord, SourceRecord.id == MatchKeyRow.source_record_id)
    .where(
        MatchKeyRow.entity_type == bindparam("type"),
        MatchKeyRow.kind == LOCATOR_KIND,
        MatchKeyRow.key.in_(bindparam("keys", expanding=True)),
        SourceRecord.is_deleted.is_(False),
    )
)
# By entity type too: the key index leads with it (without, every key row is read).
_WAITING_CHILDREN = select(MatchKeyRow.source_record_id).where(
    MatchKeyRow.entity_type.in_(bindparam("types", expanding=True)),
    MatchKeyRow.key.in_(bindparam("keys", expanding=True)),
    MatchKeyRow.kind == WAITING_KIND,
)


def referring_types(specs: SpecRegistry, entity_type: str) -> list[str]:
    """The entity types with a reference attribute to ``entity_type`` (whose records may
    wait for one of its records)."""
    return sorted(
        name
        for name in specs
        if any(a.reference == entity_type for a in specs.get_spec(name).references)
    )


def located_value(by: str, text: str) -> str | None:
    """A code or name as records are located by it: a code folded, a name as an
    organization name's legal part (``"Medline Industries, Inc."`` is ``MEDLINE
    INDUSTRIES``)."""
    if by == "name":
        return normalize_organization_name(text).legal or None
    return fold(text) or None


def locator_key(by: str, system: str, value: str) -> str:
    """The key a parent record is located under."""
    return f"{LOCATOR_PREFIX}{by}:{system}|{value}"[:300]


def waiting_key(parent_type: str, locator: str) -> str:
    """The key a child waits under for the parent ``locator`` (a ``locator_key``)."""
    return f"{WAITING_PREFIX}{parent_type}:{locator[len(LOCATOR_PREFIX) :]}"[:300]


def is_located(specs: SpecRegistry, entity_type: str) -> bool:
    """Whether records of a type may be referred to by code or name (some spec refers to
    the type): only those are kept under ``locator`` keys."""
    return bool(referring_types(specs, entity_type))


def locator_keys(spec: EntitySpec, system: str, values: Mapping[str, Any]) -> list[str]:
    """The ``locator`` keys of a record of a type referred to (``is_located``)."""
    keys = []
    for by in LOCATED_BY:
        raw = values.get(by)
        if raw not in (None, "") and spec.attribute(by) is not None:
            value = located_value(by, str(raw))
            if value:
                keys.append(locator_key(by, system, value))
    return keys


def _wanted(spec: EntitySpec, values: Mapping[str, Any]) -> dict[str, tuple[str, str, str, str]]:
    """The record's references given by code or name: attribute -> (parent type, locator
    key, its system, how it was given)."""
    found = {}
    for attribute in spec.references:
        ref = values.get(attribute.name)
        if not isinstance(ref, Mapping) or ref.get(BY_SOURCE_ID):
            continue
        by = next((b for b in LOCATED_BY if ref.get(b)), None)
        value = located_value(by, str(ref[by])) if by else None
        if by is None or value is None or attribute.reference is None:
            continue
        system = str(ref.get("system", ""))
        key = locator_key(by, system, value)
        found[attribute.name] = (attribute.reference, key, system, f"{by} {str(ref[by])!r}")
    return found


def waiting_keys(spec: EntitySpec, values: Mapping[str, Any]) -> list[str]:
    """The ``waiting`` keys of a record whose references by code or name are unresolved."""
    wanted = _wanted(spec, values).values()
    return sorted({waiting_key(parent, key) for parent, key, _, _ in wanted})


def locate(
    session: Session, spec: EntitySpec, source_id: str, values: Mapping[str, Any]
) -> tuple[dict[str, Any], list[Finding]]:
    """The record's values with each reference by code or name that one parent answers
    replaced by that parent's ``{system, source_id}``; the others kept as given, each with
    an ``UNRESOLVED_REFERENCE`` finding (none, or several: never guessed)."""
    wanted = _wanted(spec, values)
    if not wanted:
        return dict(values), []
    keys_of: dict[str, set[str]] = defaultdict(set)
    for parent, key, _, _ in wanted.values():
        keys_of[parent].add(key)
    hits: dict[tuple[str, str], set[str]] = defaultdict(set)
    connection = core_connection(session)
    for parent, keys in keys_of.items():
        ordered = sorted(keys)
        for start in range(0, len(ordered), _CHUNK):
            for key, parent_id in connection.execute(
                _PARENTS, {"type": parent, "keys": ordered[start : start + _CHUNK]}
            ):
                hits[(parent, key)].add(parent_id)
    out = dict(values)
    findings = []
    for name, (parent, key, system, given) in wanted.items():
        found = hits[(parent, key)] - ({source_id} if parent == spec.name else set())
        if len(found) == 1:
            out[name] = {"system": system, "source_id": next(iter(found))}
            continue
        why = (
            f"{len(found)} {parent} records of {system} have the {given}: not guessed"
            if found
            else f"no {parent} of {system} has the {given} (yet)"
        )
        findings.append(Finding(name, UNRESOLVED, f"{name}: {why}", values[name]))
    return out, findings


def locate_standardized(
    session: Session, spec: EntitySpec, source_id: str, std: Standardized
) -> Standardized:
    """``locate`` on a freshly standardized record (its findings extended)."""
    values, findings = locate(session, spec, source_id, std.values)
    if not findings and values == std.values:
        return std
    return Standardized(values, (*std.findings, *findings))


KeyWriter = Callable[[Session, EntitySpec, SourceRecord, list[str]], None]


@dataclass(frozen=True)
class Relocation:
    """What ``relocate`` did: records whose references now resolve, by entity type."""

    records: dict[str, list[int]]

    @property
    def count(self) -> int:
        return sum(len(ids) for ids in self.records.values())


def relocate_children(
    session: Session,
    specs: SpecRegistry,
    parent: EntitySpec,
    locators: Iterable[str],
    ctx: ChangeContext,
    *,
    keys_of: Callable[[EntitySpec, str, Mapping[str, Any]], list[str]],
    write_keys: KeyWriter,
) -> Relocation:
    """Locate again the records waiting for a parent under one of ``locators`` (the new
    ``locator`` keys of a record of ``parent``'s type): see ``relocate``."""
    keys = sorted({waiting_key(parent.name, key) for key in locators})
    types = referring_types(specs, parent.name)
    ids: set[int] = set()
    connection = core_connection(session)
    for start in range(0, len(keys) if types else 0, _CHUNK):
        chunk = {"types": types, "keys": keys[start : start + _CHUNK]}
        ids.update(connection.scalars(_WAITING_CHILDREN, chunk))
    return relocate(session, specs, sorted(ids), ctx, keys_of=keys_of, write_keys=write_keys)


def waiting_for(session: Session, specs: SpecRegistry, parent: EntitySpec) -> list[int]:
    """Records waiting for a parent of ``parent``'s type (after a bulk load of it)."""
    types = referring_types(specs, parent.name)
    if not types:
        return []
    return sorted(
        set(
            session.scalars(
                select(MatchKeyRow.source_record_id).where(
                    MatchKeyRow.entity_type.in_(types),
                    MatchKeyRow.key.startswith(f"{WAITING_PREFIX}{parent.name}:"),
                    MatchKeyRow.kind == WAITING_KIND,
                )
            )
        )
    )


def relocate(
    session: Session,
    specs: SpecRegistry,
    record_ids: Sequence[int],
    ctx: ChangeContext,
    *,
    keys_of: Callable[[EntitySpec, str, Mapping[str, Any]], list[str]],
    write_keys: KeyWriter,
) -> Relocation:
    """Locate the references of stored records again (a parent with their code or name
    arrived): each one that now resolves is stored so, its ``UNRESOLVED_REFERENCE``
    finding dropped, its keys (``keys_of``) written again and its golden record
    recomputed. The caller queues the children of the parent, which now include them."""
    done: dict[str, list[int]] = defaultdict(list)
    for record_id in record_ids:
        row = session.get(SourceRecord, record_id)
        if row is None or row.is_deleted:
            continue
        spec = specs.get_spec(row.entity_type)
        # The ones still unresolved already carry their finding.
        values, _ = locate(session, spec, row.source_id, row.standardized or {})
        if values == row.standardized:
            continue
        resolved = {n for n in values if values[n] != (row.standardized or {}).get(n)}
        kept = [
            f
            for f in row.findings or ()
            if not (f.get("code") == UNRESOLVED and f.get("attribute") in resolved)
        ]
        row.standardized = values
        row.findings = kept
        session.flush()
        write_keys(session, spec, row, keys_of(spec, row.system, values))
        golden = session.get(GoldenRecord, row.golden_id) if row.golden_id else None
        if golden is not None:
            refresh_golden(session, spec, golden, ctx, members_changed=True)
        done[spec.name].append(record_id)
    return Relocation(dict(done))
