"""Golden record life cycle: create, recompute by survivorship, merge, retire — with history."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from mdm.events import ChangeKind, record_change_event
from mdm.specs import EntitySpec
from mdm.store import AttributeOverride, GoldenHistory, GoldenRecord, SourceRecord, utcnow
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


@dataclass(frozen=True)
class ChangeContext:
    actor: str | None
    correlation_id: str | None


def create_golden(session: Session, spec: EntitySpec) -> GoldenRecord:
    """A new, empty golden record (version 0 until its first ``refresh_golden``)."""
    golden = GoldenRecord(
        public_id=new_public_id(spec),
        entity_type=spec.name,
        attributes={},
        lineage={},
        status="active",
        version=0,
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
) -> ChangeKind | None:
    """Recompute a golden record from its members; write history and an event if it changed.

    A golden record left with no active member is retired. Returns the kind of change
    recorded, or ``None`` when nothing changed. ``update_kind``: what an update is recorded
    as (``UNMERGED`` when a member was split out).
    """
    rows = session.scalars(_LIVE_MEMBERS, {"golden_id": golden.id}).all()
    overrides = session.scalars(_ACTIVE_OVERRIDES, {"golden_id": golden.id}).all()
    members = [Member(r.id, r.system, r.source_id, r.standardized, r.updated_at) for r in rows]
    survivor = survive(
        spec, members, [Override(o.attribute, o.value, o.actor, o.reason) for o in overrides]
    )
    if golden.version == 0:
        kind = ChangeKind.CREATED
    elif not rows and golden.status == "active":
        kind = ChangeKind.RETIRED
    elif rows and golden.status == "retired":
        kind = ChangeKind.UPDATED
    elif (
        members_changed
        or survivor.attributes != golden.attributes
        or survivor.lineage != golden.lineage
    ):
        kind = update_kind
    else:
        return None
    golden.attributes = survivor.attributes
    golden.lineage = survivor.lineage
    golden.status = "retired" if not rows else "active"
    golden.version += 1
    golden.updated_at = utcnow()
    sources = [{"system": r.system, "sourceId": r.source_id} for r in rows]
    _write_history(session, golden, kind, ctx, sources)
    record_change_event(
        session,
        entity_type=golden.entity_type,
        golden_public_id=golden.public_id,
        kind=kind,
        version=golden.version,
        payload={
            "id": golden.public_id,
            "status": golden.status,
            "attributes": golden.attributes,
            "sources": sources,
        },
        actor=ctx.actor,
        correlation_id=ctx.correlation_id,
    )
    return kind


def merge_golden(
    session: Session,
    spec: EntitySpec,
    survivor: GoldenRecord,
    merged: GoldenRecord,
    ctx: ChangeContext,
) -> None:
    """Fold ``merged`` into ``survivor``: members move, the old id redirects forever."""
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
    merged.status = "merged"
    merged.merged_into_id = survivor.id
    merged.version += 1
    merged.updated_at = utcnow()
    _write_history(session, merged, ChangeKind.MERGED, ctx, [])
    record_change_event(
        session,
        entity_type=merged.entity_type,
        golden_public_id=merged.public_id,
        kind=ChangeKind.MERGED,
        version=merged.version,
        payload={"id": merged.public_id, "status": "merged", "mergedInto": survivor.public_id},
        actor=ctx.actor,
        correlation_id=ctx.correlation_id,
    )
    refresh_golden(session, spec, survivor, ctx, members_changed=True)


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


def _write_history(
    session: Session,
    golden: GoldenRecord,
    kind: ChangeKind,
    ctx: ChangeContext,
    sources: list[dict[str, str]],
) -> None:
    session.execute(
        _INSERT_HISTORY,
        {
            "golden_id": golden.id,
            "version": golden.version,
            "attributes": golden.attributes,
            "lineage": golden.lineage,
            "members": sources,
            "status": golden.status,
            "merged_into_id": golden.merged_into_id,
            "change_kind": kind.value,
            "actor": ctx.actor,
            "changed_at": utcnow(),
        },
    )
