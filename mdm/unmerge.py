"""Unmerge: a data steward takes a source record out of the golden record it was matched
into, when the match was wrong.

The record gets a golden record of its own (a new public id); the one it left is
recomputed by survivorship and recorded as ``unmerged`` (history and change event); the
new one is ``created``. The steward's decision is kept as a cannot-link (a ``rejected``
match candidate: matching never puts the record back, and estimation reads it as a
non-match label) and in the audit log with its reason.

What depended on the old golden record is queued for re-evaluation (``reevaluation``,
reason ``parent_unmerged``): the children of the record that moved (they now resolve to
its new golden record) and the children of the members that stayed (their siblings
changed). Re-evaluation can join or merge, never split on its own: a child whose golden
record no longer holds together once its parents differ goes to a steward as a review
candidate (see ``Ingestor.redecide``), never silently left as it was.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mdm.errors import ConflictError, InvalidInputError, NotFoundError
from mdm.golden import ChangeContext, split_member
from mdm.reevaluate import PARENT_UNMERGED, enqueue_children, enqueue_golden_children
from mdm.specs import SpecRegistry
from mdm.store import (
    AuditLog,
    CandidateStatus,
    GoldenRecord,
    MatchCandidate,
    SourceRecord,
    utcnow,
)
from mdm.store.locks import lock_for_matching

UNMERGE = "golden.unmerge"
"""The audit action of an unmerge."""


@dataclass(frozen=True)
class UnmergeOutcome:
    entity_type: str
    system: str
    source_id: str
    left_golden_id: str  # the golden record the record was taken out of
    left_version: int
    golden_id: str  # the record's new golden record
    version: int
    children_queued: int
    audit_id: int


def unmerge_record(
    session: Session,
    specs: SpecRegistry,
    entity_type: str,
    system: str,
    source_id: str,
    *,
    actor: str,
    reason: str,
    correlation_id: str | None = None,
    expected_version: int | None = None,
) -> UnmergeOutcome:
    """Take the live source record ``(entity_type, system, source_id)`` out of its golden
    record (see the module doc). All of it happens in the caller's transaction.

    Raises:
        InvalidInputError: unknown entity type, a blank reason, or a record alone in its
            golden record (``NOT_MERGED``: nothing to take it out of).
        NotFoundError: no live source record with that system and source id.
        ConflictError: ``expected_version`` given and the golden record is at another
            (it changed since the steward looked at it).
    """
    spec = specs.get_spec(entity_type)
    text = (reason or "").strip()
    if not text:
        raise InvalidInputError("a reason is required to unmerge a record", field="reason")
    lock_for_matching(session)
    row = session.scalar(
        select(SourceRecord).where(
            SourceRecord.entity_type == spec.name,
            SourceRecord.system == system,
            SourceRecord.source_id == source_id,
            SourceRecord.is_deleted.is_(False),
        )
    )
    if row is None or row.golden_id is None:
        raise NotFoundError(
            f"no live {spec.name} record {source_id!r} from system {system!r}", field="sourceId"
        )
    others = session.scalar(
        select(func.count()).where(
            SourceRecord.golden_id == row.golden_id,
            SourceRecord.is_deleted.is_(False),
            SourceRecord.id != row.id,
        )
    )
    if not others:
        raise InvalidInputError(
            f"{spec.name} record {source_id!r} from {system!r} is alone in its golden "
            "record: there is nothing to unmerge it from",
            field="sourceId",
            code="NOT_MERGED",
        )
    check_version(session.get(GoldenRecord, row.golden_id), expected_version)
    ctx = ChangeContext(actor, correlation_id)
    left, created = split_member(session, spec, row, ctx)
    now = utcnow()
    session.add(
        MatchCandidate(
            entity_type=spec.name,
            source_record_id=row.id,
            golden_id=left.id,
            score=0.0,
            explanation={"rule": "unmerge", "moved_to": created.public_id},
            status=CandidateStatus.REJECTED.value,
            decided_by=actor,
            decided_at=now,
            reason=text,
        )
    )
    queued = enqueue_children(
        session, specs, spec, [(row.system, row.source_id)], reason=PARENT_UNMERGED,
        cause=created.public_id, anchor=row.id,
    )  # fmt: skip
    queued += enqueue_golden_children(
        session, specs, spec, left.id, reason=PARENT_UNMERGED, cause=left.public_id
    )
    audit = AuditLog(
        actor=actor,
        action=UNMERGE,
        target=left.public_id,
        details={
            "entity_type": spec.name,
            "system": system,
            "source_id": source_id,
            "left": left.public_id,
            "new": created.public_id,
            "reason": text,
            "children_queued": queued,
        },
    )
    session.add(audit)
    session.flush()
    return UnmergeOutcome(
        spec.name,
        system,
        source_id,
        left.public_id,
        left.version,
        created.public_id,
        created.version,
        queued,
        audit.id,
    )


def check_version(golden: GoldenRecord | None, expected: int | None) -> None:
    """Optimistic concurrency for a steward's action: with ``expected`` (the version the
    steward looked at), the golden record must still be at it.

    Raises:
        ConflictError: it is at another version, or gone.
    """
    if expected is None:
        return
    if golden is None or golden.version != expected:
        found = "gone" if golden is None else f"at version {golden.version}"
        name = "the golden record" if golden is None else golden.public_id
        raise ConflictError(
            f"{name} is {found}, not at version {expected}: it changed since it was looked "
            "at; look again and decide on what it is now",
            field="expectedVersion",
        )
