"""Golden record life cycle: create, recompute by survivorship, merge, retire — with history.

Also the two things every writer of golden records shares: the layout of the rows a change
writes (``new_golden_row``, ``GoldenChange``: the golden row, its history row and its
outbox event, the same whether one record is ingested or a million are bulk loaded), and
following merges to the record a golden id lives on as (``live_goldens``, ``live_golden``).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from mdm.events import EVENT_SCHEMA_VERSION, ChangeKind, event_row, record_change_event
from mdm.specs import EntitySpec
from mdm.store import (
    AttributeOverride,
    GoldenHistory,
    GoldenRecord,
    GoldenStatus,
    JsonText,
    SourceRecord,
    core_connection,
    utcnow,
)
from mdm.survivorship import Member, Override, survive

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U


def new_public_id(spec: EntitySpec) -> str:
    """A fresh opaque id such as ``VEN-7Q2M4XK9D3TB1F0A`` (80 random bits: never reused)."""
    number = secrets.randbits(80)
    chars = []
    for _ in range(16):
        number, digit = divmod(number, 32)
        chars.append(_ALPHABET[digit])
    return f"{spec.id_prefix}-{''.join(chars)}"


# Statements of every ingest, built once: building one costs more than running it.
_LIVE_MEMBERS = (
    select(SourceRecord)
    .where(SourceRecord.golden_id == bindparam("golden_id"), SourceRecord.is_deleted.is_(False))
    .order_by(SourceRecord.id)
)
_ACTIVE_OVERRIDES = select(AttributeOverride).where(
    AttributeOverride.golden_id == bindparam("golden_id"), AttributeOverride.is_active.is_(True)
)
_INSERT_HISTORY = insert(GoldenHistory)
_MEMBER_REFS = (
    select(SourceRecord.system, SourceRecord.source_id)
    .where(SourceRecord.golden_id == bindparam("golden_id"), SourceRecord.is_deleted.is_(False))
    .order_by(SourceRecord.id)
)
_HISTORY_MEMBERS = select(GoldenHistory.members).where(
    GoldenHistory.golden_id == bindparam("golden_id"),
    GoldenHistory.version == bindparam("version"),
)
_GOLDEN_STATES = select(
    GoldenRecord.id,
    GoldenRecord.public_id,
    GoldenRecord.merged_into_id,
    GoldenRecord.status,
    GoldenRecord.version,
).where(GoldenRecord.id.in_(bindparam("ids", expanding=True)))
_CHUNK = 500
MAX_MERGE_CHAIN = 32  # merges followed from one golden id (a guard against a cycle)


@dataclass(frozen=True)
class ChangeContext:
    actor: str | None
    correlation_id: str | None


# --------------------------------------------------------------------------- rows


def new_golden_row(
    spec: EntitySpec,
    *,
    attributes: Any,
    lineage: Any,
    version: int,
    now: datetime,
) -> dict[str, Any]:
    """The ``golden_record`` row of a new, active golden record with a fresh public id.
    ``attributes`` and ``lineage``: as survivorship gives them, or serialized once
    (``JsonText``) for the several rows that repeat them."""
    return {
        "public_id": new_public_id(spec),
        "entity_type": spec.name,
        "attributes": attributes,
        "lineage": lineage,
        "status": GoldenStatus.ACTIVE.value,
        "version": version,
        "created_at": now,
        "updated_at": now,
    }


def member_refs(members: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    """``(system, source id)`` of a golden record's members as history and events list
    them."""
    return [{"system": system, "sourceId": source_id} for system, source_id in members]


@dataclass(frozen=True)
class GoldenChange:
    """One new version of a golden record: what its ``golden_history`` row and its
    ``change_event`` (outbox) row say. Values may be given serialized (``JsonText``).

    ``survivor``: the public id of the golden record a ``MERGED`` one was folded into.
    ``previous``: its attributes before the change (None: it is new). ``removed``: the
    members (``member_refs``) that left it in this change: moved to the survivor of a
    merge, split out by an unmerge, or deleted. ``merged_from``: the public ids of the
    golden records merged into it by this change.
    """

    golden_id: int
    public_id: str
    entity_type: str
    version: int
    kind: ChangeKind
    status: str
    attributes: Any
    lineage: Any
    members: Any  # ``member_refs``
    merged_into_id: int | None = None
    survivor: str | None = None
    previous: Any = None
    removed: Any = ()
    merged_from: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        golden: GoldenRecord,
        kind: ChangeKind,
        members: Any,
        survivor: GoldenRecord | None = None,
        *,
        previous: Any = None,
        removed: Any = (),
        merged_from: tuple[str, ...] = (),
    ) -> GoldenChange:
        """The change a golden record (as changed, version bumped) records; ``survivor``:
        the one it was merged into."""
        return cls(
            golden.id,
            golden.public_id,
            golden.entity_type,
            golden.version,
            kind,
            golden.status,
            golden.attributes,
            golden.lineage,
            members,
            golden.merged_into_id,
            None if survivor is None else survivor.public_id,
            previous,
            removed,
            merged_from,
        )

    def history_row(self, actor: str | None, changed_at: datetime) -> dict[str, Any]:
        return {
            "golden_id": self.golden_id,
            "version": self.version,
            "attributes": self.attributes,
            "lineage": self.lineage,
            "members": self.members,
            "status": str(self.status),
            "merged_into_id": self.merged_into_id,
            "change_kind": self.kind.value,
            "actor": actor,
            "changed_at": changed_at,
        }

    def payload(self) -> dict[str, Any]:
        """The event's payload (``mdm/schemas/change_event.schema.json``): the golden record
        as it now is, what changed (each attribute's old and new value), its members' ids
        in every system, the members that left, and where it was merged (from)."""
        return {
            "schemaVersion": EVENT_SCHEMA_VERSION,
            "id": self.public_id,
            "status": str(self.status),
            "attributes": _embedded(self.attributes),
            "changes": attribute_changes(self.previous, self.attributes),
            "sources": _embedded(self.members),
            "removedSources": _embedded(self.removed) if self.removed else [],
            "mergedInto": self.survivor,
            "mergedFrom": list(self.merged_from),
        }

    def event_row(self, ctx: ChangeContext, created_at: datetime) -> dict[str, Any]:
        return event_row(
            entity_type=self.entity_type,
            golden_public_id=self.public_id,
            kind=self.kind,
            version=self.version,
            payload=self.payload(),
            actor=ctx.actor,
            correlation_id=ctx.correlation_id,
            created_at=created_at,
        )


def attribute_changes(previous: Any, current: Any) -> dict[str, dict[str, Any]]:
    """Each attribute whose value differs -> ``{"old": …, "new": …}`` (null where there is
    none); every attribute of a new golden record (``previous`` None)."""
    after = _decoded(current) or {}
    if previous is None:  # every created event of a bulk load: the short way
        return {
            name: {"old": None, "new": value} for name, value in after.items() if value is not None
        }
    before = _decoded(previous) or {}
    return {
        name: {"old": before.get(name), "new": after.get(name)}
        for name in sorted(before.keys() | after.keys())
        if before.get(name) != after.get(name)
    }


def _decoded(value: Any) -> Any:
    return orjson.loads(value.text) if isinstance(value, JsonText) else value


def _embedded(value: Any) -> Any:
    """A value inside a JSON document: one serialized already goes in as it is."""
    return orjson.Fragment(value.text) if isinstance(value, JsonText) else value


def _record(session: Session, change: GoldenChange, ctx: ChangeContext) -> None:
    """Write a change's history row and outbox event, in the caller's transaction."""
    now = utcnow()
    session.execute(_INSERT_HISTORY, change.history_row(ctx.actor, now))
    record_change_event(session, change.event_row(ctx, now))


# --------------------------------------------------------------------------- merges


@dataclass(frozen=True)
class LiveGolden:
    """The golden record a golden id lives on as (itself, or its merge survivor)."""

    id: int
    public_id: str
    status: str
    version: int


def live_goldens(
    session: Session,
    golden_ids: Iterable[int],
    chains: dict[int, dict[int, int]] | None = None,
) -> dict[int, LiveGolden]:
    """Each golden id -> the golden record it lives on as: itself, or the one it was
    merged into (following merges of merges). Unknown ids are left out; a retired record
    answers as itself, retired. With ``chains``: each id -> the golden records read on the
    way to its answer, at their version (what a cache of the answer depends on).

    The only implementation of following merges (``live_golden``,
    ``mdm.crosswalk.follow_merges`` and ``mdm.context.survivors_of`` use it): one query
    per link of the longest chain, in Core.
    """
    answer: dict[int, LiveGolden] = {}
    pending = {g: g for g in golden_ids}  # asked id -> id to look up next
    for _ in range(MAX_MERGE_CHAIN):
        if not pending:
            break
        rows: dict[int, tuple[str, int | None, str, int]] = {}
        lookup = sorted(set(pending.values()))
        connection = core_connection(session)
        for start in range(0, len(lookup), _CHUNK):
            for gid, public_id, merged_into, status, version in connection.execute(
                _GOLDEN_STATES, {"ids": lookup[start : start + _CHUNK]}
            ):
                rows[gid] = (public_id, merged_into, status, version)
        following: dict[int, int] = {}
        for asked, current in pending.items():
            row = rows.get(current)
            if row is None:
                continue
            public_id, merged_into, status, version = row
            if chains is not None:
                chains.setdefault(asked, {})[current] = version
            if status == GoldenStatus.MERGED and merged_into is not None:
                following[asked] = merged_into
            else:
                answer[asked] = LiveGolden(current, public_id, status, version)
        pending = following
    return answer


def live_golden(session: Session, golden_id: int | None) -> GoldenRecord | None:
    """The golden record ``golden_id`` lives on as (``live_goldens``), loaded."""
    golden = None if golden_id is None else session.get(GoldenRecord, golden_id)
    if golden is None or golden.status != GoldenStatus.MERGED or golden.merged_into_id is None:
        return golden  # most are live: no query beyond the session's
    found = live_goldens(session, (golden.merged_into_id,)).get(golden.merged_into_id)
    return None if found is None else session.get(GoldenRecord, found.id)


# --------------------------------------------------------------------------- life cycle


def create_golden(session: Session, spec: EntitySpec) -> GoldenRecord:
    """A new, empty golden record (version 0 until its first ``refresh_golden``)."""
    golden = GoldenRecord(
        **new_golden_row(spec, attributes={}, lineage={}, version=0, now=utcnow())
    )
    session.add(golden)
    session.flush()
    return golden


def refresh_golden(
    session: Session,
    spec: EntitySpec,
    golden: GoldenRecord,
    ctx: ChangeContext,
    *,
    members_changed: bool,
    update_kind: ChangeKind = ChangeKind.UPDATED,
    merged_from: tuple[str, ...] = (),
) -> ChangeKind | None:
    """Recompute a golden record from its members; write history and an event if it changed.

    A golden record left with no active member is retired. Returns the kind of change
    recorded, or ``None`` when nothing changed. ``update_kind``: what an update is recorded
    as (``UNMERGED`` when a member was split out). ``members_changed``: a member may have
    joined or left (then the event names the ones that left). ``merged_from``: the golden
    records just merged into this one.
    """
    rows = session.scalars(_LIVE_MEMBERS, {"golden_id": golden.id}).all()
    overrides = session.scalars(_ACTIVE_OVERRIDES, {"golden_id": golden.id}).all()
    members = [Member(r.id, r.system, r.source_id, r.standardized, r.updated_at) for r in rows]
    survivor = survive(
        spec, members, [Override(o.attribute, o.value, o.actor, o.reason) for o in overrides]
    )
    if golden.version == 0:
        kind = ChangeKind.CREATED
    elif not rows and golden.status == GoldenStatus.ACTIVE:
        kind = ChangeKind.RETIRED
    elif rows and golden.status == GoldenStatus.RETIRED:
        kind = ChangeKind.UPDATED
    elif (
        members_changed
        or survivor.attributes != golden.attributes
        or survivor.lineage != golden.lineage
    ):
        kind = update_kind
    else:
        return None
    previous = None if kind is ChangeKind.CREATED else golden.attributes
    sources = member_refs((r.system, r.source_id) for r in rows)
    removed = (
        _departed(session, golden, sources)
        if members_changed and kind is not ChangeKind.CREATED
        else []
    )
    golden.attributes = survivor.attributes
    golden.lineage = survivor.lineage
    golden.status = GoldenStatus.RETIRED if not rows else GoldenStatus.ACTIVE
    golden.version += 1
    golden.updated_at = utcnow()
    change = GoldenChange.of(
        golden, kind, sources, previous=previous, removed=removed, merged_from=merged_from
    )
    _record(session, change, ctx)
    return kind


def _departed(
    session: Session, golden: GoldenRecord, sources: list[dict[str, str]]
) -> list[dict[str, str]]:
    """The members of the golden record's current version (its history row) that are not
    among ``sources`` any more."""
    before = core_connection(session).scalar(
        _HISTORY_MEMBERS, {"golden_id": golden.id, "version": golden.version}
    )
    staying = {(s["system"], s["sourceId"]) for s in sources}
    return [m for m in before or [] if (m["system"], m["sourceId"]) not in staying]


def merge_golden(
    session: Session,
    spec: EntitySpec,
    survivor: GoldenRecord,
    merged: GoldenRecord,
    ctx: ChangeContext,
) -> None:
    """Fold ``merged`` into ``survivor``: members move, the old id redirects forever.

    Checks nothing: ``mdm.merging.fold_into`` is the one caller, after the cannot-links.
    """
    moved = member_refs(core_connection(session).execute(_MEMBER_REFS, {"golden_id": merged.id}))
    session.execute(
        update(SourceRecord)
        .where(SourceRecord.golden_id == merged.id)
        .values(golden_id=survivor.id)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(AttributeOverride)
        .where(AttributeOverride.golden_id == merged.id)
        .values(golden_id=survivor.id)
        .execution_options(synchronize_session=False)
    )
    merged.status = GoldenStatus.MERGED
    merged.merged_into_id = survivor.id
    merged.version += 1
    merged.updated_at = utcnow()
    change = GoldenChange.of(
        merged, ChangeKind.MERGED, [], survivor=survivor, previous=merged.attributes, removed=moved
    )
    _record(session, change, ctx)
    refresh_golden(
        session, spec, survivor, ctx, members_changed=True, merged_from=(merged.public_id,)
    )


def split_member(
    session: Session, spec: EntitySpec, row: SourceRecord, ctx: ChangeContext
) -> tuple[GoldenRecord, GoldenRecord]:
    """Move ``row`` out of its golden record into a new one of its own (an unmerge); both
    are recomputed, the one it left recorded as ``unmerged``. Returns (left, new)."""
    left = session.get(GoldenRecord, row.golden_id)
    assert left is not None
    created = create_golden(session, spec)
    row.golden_id = created.id
    session.flush()
    refresh_golden(session, spec, left, ctx, members_changed=True, update_kind=ChangeKind.UNMERGED)
    refresh_golden(session, spec, created, ctx, members_changed=True)
    return left, created
