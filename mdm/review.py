"""Review: a data steward decides a match candidate the engine was unsure of.

``merge``: the candidate's record and the golden record it was scored against are one
entity: the record's golden record is folded into that one (the old id redirects), the
children of the merged golden record are queued for re-evaluation (``parent_merged``),
and the pair is a match label for estimation and strong evidence for learned code
correspondences. ``reject``: they are not: the pair is a cannot-link (matching never
joins the record to that golden record, nor merges the two through a bridge) and a
non-match label. Both are audited with the steward's reason; a candidate is decided once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mdm.errors import AlreadyDecidedError, ConflictError, InvalidInputError, NotFoundError
from mdm.golden import ChangeContext, live_golden
from mdm.merging import FoldResult, fold_into
from mdm.specs import SpecRegistry
from mdm.store import (
    AuditLog,
    CandidateStatus,
    GoldenRecord,
    GoldenStatus,
    MatchCandidate,
    SourceRecord,
    utcnow,
)
from mdm.store.locks import lock_for_matching
from mdm.unmerge import check_version

DECISIONS = {"merge": CandidateStatus.MERGED, "reject": CandidateStatus.REJECTED}
"""A steward's decision -> the candidate's status."""


@dataclass(frozen=True)
class ReviewOutcome:
    candidate_id: int
    status: str
    golden_id: str  # the golden record the record is in after the decision
    children_queued: int


@dataclass(frozen=True)
class ReviewCandidate:
    id: int
    entity_type: str
    system: str
    source_id: str
    golden_id: str
    golden_version: int
    score: float
    explanation: dict[str, Any]
    created_at: Any


def pending_candidates(
    session: Session, entity_type: str | None = None, *, first: int = 100
) -> list[ReviewCandidate]:
    """Candidates waiting for a steward, oldest first."""
    statement = (
        select(
            MatchCandidate,
            SourceRecord.system,
            SourceRecord.source_id,
            GoldenRecord.public_id,
            GoldenRecord.version,
        )
        .join(SourceRecord, SourceRecord.id == MatchCandidate.source_record_id)
        .join(GoldenRecord, GoldenRecord.id == MatchCandidate.golden_id)
        .where(MatchCandidate.status == CandidateStatus.PENDING.value)
        .order_by(MatchCandidate.id)
        .limit(max(1, min(first, 1000)))
    )
    if entity_type is not None:
        statement = statement.where(MatchCandidate.entity_type == entity_type)
    return [
        ReviewCandidate(
            c.id,
            c.entity_type,
            system,
            source_id,
            public_id,
            version,
            c.score,
            c.explanation or {},
            c.created_at,
        )
        for c, system, source_id, public_id, version in session.execute(statement)
    ]


def decide_candidate(
    session: Session,
    specs: SpecRegistry,
    candidate_id: int,
    decision: str,
    *,
    actor: str,
    reason: str,
    correlation_id: str | None = None,
    expected_version: int | None = None,
) -> ReviewOutcome:
    """Apply a steward's ``decision`` (``merge`` or ``reject``) to a pending candidate, in
    the caller's transaction (see the module doc).

    Raises:
        InvalidInputError: an unknown decision or a blank reason.
        NotFoundError: no such candidate.
        AlreadyDecidedError: the candidate was decided before.
        ConflictError: a merge a steward's rejection forbids, or into a retired record;
            or ``expected_version`` given and the candidate's golden record (as
            ``reviewCandidates`` showed it) is at another.
    """
    status = DECISIONS.get(decision)
    if status is None:
        raise InvalidInputError(
            f"decision must be one of {', '.join(DECISIONS)}, got {decision!r}", field="decision"
        )
    text = (reason or "").strip()
    if not text:
        raise InvalidInputError("a reason is required to decide a candidate", field="reason")
    lock_for_matching(session)
    candidate = session.get(MatchCandidate, candidate_id)
    if candidate is None:
        raise NotFoundError(f"no match candidate {candidate_id}", field="id")
    if candidate.status != CandidateStatus.PENDING:
        raise AlreadyDecidedError(
            f"match candidate {candidate_id} was already decided ({candidate.status})", field="id"
        )
    check_version(session.get(GoldenRecord, candidate.golden_id), expected_version)
    spec = specs.get_spec(candidate.entity_type)
    row = session.get(SourceRecord, candidate.source_record_id)
    assert row is not None
    current = session.get(GoldenRecord, row.golden_id) if row.golden_id else None
    target = live_golden(session, candidate.golden_id)
    queued = 0
    conflicts: list[str] = []  # identifier vetoes the steward's merge overrode
    if status is CandidateStatus.MERGED:
        if (
            target is None
            or target.status != GoldenStatus.ACTIVE
            or current is None
            or row.is_deleted
        ):
            raise ConflictError(
                f"match candidate {candidate_id}: the record or the golden record is no "
                "longer live; nothing to merge",
                field="id",
            )
        if current.id != target.id:
            ctx = ChangeContext(actor, correlation_id)
            fold = fold_into(
                session, specs, spec, target.id, current.id, ctx, is_steward_decision=True
            )
            if fold.result is FoldResult.REFUSED:
                raise ConflictError(
                    f"match candidate {candidate_id}: a steward rejected a member of one of "
                    "these golden records for the other",
                    field="id",
                )
            queued = fold.children_queued
            conflicts = list(fold.conflicts)
    candidate.status = status.value
    candidate.decided_by = actor
    candidate.decided_at = utcnow()
    candidate.reason = text
    after = target if status is CandidateStatus.MERGED else current
    session.add(
        AuditLog(
            actor=actor,
            action=f"match.{decision}",
            target=str(candidate.id),
            details={
                "entity_type": spec.name,
                "system": row.system,
                "source_id": row.source_id,
                "golden_id": after.public_id if after is not None else None,
                "reason": text,
                "children_queued": queued,
                **({"overrode": conflicts} if conflicts else {}),
            },
        )
    )
    session.flush()
    return ReviewOutcome(
        candidate.id, status.value, after.public_id if after is not None else "", queued
    )
