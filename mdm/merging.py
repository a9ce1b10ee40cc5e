"""Folding one golden record into another: the one way golden records are merged.

``fold_into`` checks the cannot-links (a steward's rejection between the two holds; so, for
an automatic merge, do identifiers the spec vetoes between their members, such as two
different tax ids: nothing is merged), merges (``mdm.golden.merge_golden``: members and
overrides move, the old public id redirects, history and events written) and queues the
children of the survivor for re-evaluation (``parent_merged``: what they were compared
through changed). Ingest (a record bridging golden records, or a lone record joining
another), re-evaluation, a steward's merge decision and the bulk path's sibling pass all
merge through it. A steward's decision is explicit: it may merge golden records whose
identifiers conflict, and the fold names the conflicts (``Fold.conflicts``) for the audit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.orm import Session

from mdm.decision import (
    REJECTED_APART,
    bridge_refusal,
    goldens_cannot_link,
    identifier_conflicts,
)
from mdm.golden import ChangeContext, live_golden, merge_golden
from mdm.reevaluate import PARENT_MERGED, enqueue_golden_children
from mdm.specs import EntitySpec, SpecRegistry
from mdm.store import GoldenRecord, GoldenStatus


class FoldResult(StrEnum):
    MERGED = "merged"
    REFUSED = "refused"  # a cannot-link keeps the two apart (``Fold.reason``)
    SKIPPED = "skipped"  # nothing to fold: the same golden record, or one not active


@dataclass(frozen=True)
class Fold:
    """What ``fold_into`` did: the outcome, the golden record the two live on as now (the
    target, as followed through merges; ``None`` if it is gone), the one folded (or not)
    into it, the children queued, why it was refused, and the identifier vetoes between
    the two that a steward's merge overrode."""

    result: FoldResult
    survivor: GoldenRecord | None
    other: GoldenRecord | None
    children_queued: int = 0
    reason: str | None = None
    conflicts: tuple[str, ...] = ()

    @property
    def is_merged(self) -> bool:
        return self.result is FoldResult.MERGED


def fold_into(
    session: Session,
    specs: SpecRegistry,
    spec: EntitySpec,
    target_id: int,
    other_id: int,
    ctx: ChangeContext,
    *,
    is_steward_decision: bool = False,
) -> Fold:
    """Fold the golden record ``other_id`` into ``target_id`` (each followed through merges
    to the record it lives on as), unless they are already one, one of them is not active,
    or a steward rejected a member of one for the other. Unless ``is_steward_decision``,
    identifiers the spec vetoes between their members refuse it too (a steward may merge
    them: the fold's ``conflicts`` name them). Children of the survivor are queued for
    re-evaluation. In the caller's transaction.
    """
    target = live_golden(session, target_id)
    other = live_golden(session, other_id)
    if (
        target is None
        or other is None
        or target.id == other.id
        or target.status != GoldenStatus.ACTIVE
        or other.status != GoldenStatus.ACTIVE
    ):
        return Fold(FoldResult.SKIPPED, target, other)
    if goldens_cannot_link(session, target.id, other.id):
        return Fold(FoldResult.REFUSED, target, other, reason=REJECTED_APART)
    conflicts = identifier_conflicts(session, spec, target.id, other.id)
    if conflicts and not is_steward_decision:
        return Fold(FoldResult.REFUSED, target, other, reason=bridge_refusal(conflicts))
    merge_golden(session, spec, target, other, ctx)
    queued = enqueue_golden_children(
        session, specs, spec, target.id, reason=PARENT_MERGED, cause=target.public_id
    )
    return Fold(FoldResult.MERGED, target, other, queued, conflicts=conflicts)


def fold_all(
    session: Session,
    specs: SpecRegistry,
    spec: EntitySpec,
    target_id: int,
    other_ids: Iterable[int],
    ctx: ChangeContext,
) -> list[Fold]:
    """``fold_into`` of each of ``other_ids`` in turn, into ``target_id`` (automatic merges:
    identifier conflicts refuse them)."""
    return [fold_into(session, specs, spec, target_id, other, ctx) for other in other_ids]
