"""The decision after scoring, shared by every path that decides: what a record's scored
candidate golden records make of it.

``decide`` takes the candidates (each a golden record with its best member's judged
probability) and returns the golden record the record joins (the best sure one), the other
sure ones it *bridges* (they are one entity with it, so they are merged), and the unsure
ones a steward should see. A steward's rejections (cannot-links) are applied on the way:
a candidate the record was rejected for is dropped; a sure candidate that cannot be put
together with the record's own golden record, with the best one, or with a bridge already
taken, goes to review instead. Record-by-record ingest (``ScoringMatcher.decide``), the
dry run (``mdm.preview``), re-evaluation (``Ingestor.redecide``) and the bulk path (its
review step and its sibling pass) all decide through it; they differ only in how they
find and score candidates, and in where they write the outcome.

Cannot-links are read through ``CannotLinks``: ``StoredCannotLinks`` asks the store
(following merges: a rejection of a golden record holds against the one it was merged
into), ``NO_CANNOT_LINKS`` is for a first bulk load, where the store holds no record of the
type and so no rejection.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from mdm.golden import live_goldens
from mdm.store import CandidateStatus, MatchCandidate, SourceRecord, core_connection


class Action(StrEnum):
    JOIN = "join"  # join the golden record ``golden_id``
    NEW = "new"  # start a new golden record


@dataclass(frozen=True)
class Candidate:
    """A golden record the record might belong to, with the evidence."""

    golden_id: int
    score: float
    explanation: dict[str, Any]


@dataclass(frozen=True)
class MatchDecision:
    action: Action
    golden_id: int | None = None
    explanation: dict[str, Any] = field(default_factory=dict)
    review: tuple[Candidate, ...] = ()  # unsure candidates, for a data steward
    merge: tuple[int, ...] = ()  # other golden records the record bridges to, sure ones


class CannotLinks(Protocol):
    """A steward's rejections, as matching must respect them."""

    def rejected(self, record_id: int | None, golden_ids: Collection[int]) -> set[int]:
        """Of ``golden_ids``, those a steward said the record does not belong to."""
        ...

    def apart(self, a: int, b: int) -> bool:
        """Whether two golden records must never be one (a member of one was rejected for
        the other)."""
        ...


class _NoCannotLinks:
    def rejected(self, record_id: int | None, golden_ids: Collection[int]) -> set[int]:
        return set()

    def apart(self, a: int, b: int) -> bool:
        return False


NO_CANNOT_LINKS: CannotLinks = _NoCannotLinks()
"""For a first bulk load of a type: the store holds none of its records, so no rejection."""


class StoredCannotLinks:
    """The rejections in the store (``cannot_link_goldens``, ``goldens_cannot_link``)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def rejected(self, record_id: int | None, golden_ids: Collection[int]) -> set[int]:
        return cannot_link_goldens(self.session, record_id, golden_ids)

    def apart(self, a: int, b: int) -> bool:
        return goldens_cannot_link(self.session, a, b)


_REJECTED_FOR = select(MatchCandidate.golden_id).where(
    MatchCandidate.source_record_id == bindparam("record_id"),
    MatchCandidate.status == CandidateStatus.REJECTED.value,
)
_REJECTIONS_OF_MEMBERS = (
    select(SourceRecord.golden_id, MatchCandidate.golden_id)
    .join(SourceRecord, SourceRecord.id == MatchCandidate.source_record_id)
    .where(
        MatchCandidate.status == CandidateStatus.REJECTED.value,
        SourceRecord.golden_id.in_(bindparam("goldens", expanding=True)),
    )
)


def cannot_link_goldens(
    session: Session, record_id: int | None, golden_ids: Collection[int]
) -> set[int]:
    """Of ``golden_ids``, the golden records a steward said this record does not belong
    to: those a rejection of the record names, or the ones they were merged into."""
    if record_id is None or not golden_ids:
        return set()
    named = set(core_connection(session).scalars(_REJECTED_FOR, {"record_id": record_id}))
    if not named:
        return set()
    wanted = set(golden_ids)
    return {live.id for live in live_goldens(session, named).values()} & wanted


def goldens_cannot_link(session: Session, a: int, b: int) -> bool:
    """Whether a steward rejected a member of one golden record for the other (or for a
    golden record since merged into it)."""
    if a == b:
        return False
    rows = core_connection(session).execute(_REJECTIONS_OF_MEMBERS, {"goldens": [a, b]}).all()
    if not rows:
        return False
    survivors = live_goldens(session, {named for _, named in rows})
    for home, named in rows:
        live = survivors.get(named)
        if live is not None and {home, live.id} == {a, b}:
            return True
    return False


@dataclass(frozen=True)
class Decision:
    """What a record's scored candidates decide (see ``decide``).

    Attributes:
        best: The sure candidate the record joins (the highest score), if any.
        bridges: The other sure candidates, to merge with ``best``: the record is sure of
            them all, so they are one entity.
        refused: Sure candidates a steward's rejection keeps apart from the record's own
            golden record, from ``best`` or from a bridge: for review instead.
        unsure: Candidates in the review band, best first.
    """

    best: Candidate | None = None
    bridges: tuple[Candidate, ...] = ()
    refused: tuple[Candidate, ...] = ()
    unsure: tuple[Candidate, ...] = ()

    @property
    def review(self) -> tuple[Candidate, ...]:
        """What a steward should see: the refused sure candidates, then the unsure ones."""
        return self.refused + self.unsure

    def as_match_decision(self, reason: str) -> MatchDecision:
        """The decision as the pipeline applies it; ``reason``: why there is no match,
        when there is none."""
        if self.best is None:
            return MatchDecision(Action.NEW, explanation={"reason": reason}, review=self.review)
        return MatchDecision(
            Action.JOIN,
            self.best.golden_id,
            self.best.explanation,
            review=self.review,
            merge=tuple(c.golden_id for c in self.bridges),
        )


def decide(
    scored: Sequence[Candidate],
    *,
    auto_threshold: float,
    review_threshold: float,
    links: CannotLinks,
    record_id: int | None = None,
    golden_id: int | None = None,
) -> Decision:
    """Decide a record from its scored candidates, one per golden record.

    At or above ``auto_threshold`` a candidate is sure; the best sure one (highest score,
    then lowest golden id) is joined and the others are bridged. In the review band it is
    unsure. Cannot-links hold throughout: a candidate the record (``record_id``) was
    rejected for is dropped; a sure one that a rejection keeps apart from the record's own
    golden record (``golden_id``, when the record is placed and takes it along), from the
    best one or from a bridge taken before it is refused (sent to review).

    Args:
        scored: The candidates, in any order.
        auto_threshold: The entity type's auto threshold.
        review_threshold: The entity type's review threshold.
        links: Where the rejections are read.
        record_id: The record's id, if it is stored.
        golden_id: The record's golden record, if it is placed.
    """
    ordered = sorted(scored, key=lambda c: (-c.score, c.golden_id))
    blocked = links.rejected(record_id, [c.golden_id for c in ordered])
    open_ = [c for c in ordered if c.golden_id not in blocked]
    sure = [c for c in open_ if c.score >= auto_threshold]
    unsure = tuple(c for c in open_ if review_threshold <= c.score < auto_threshold)
    # Golden records the record is put together with so far: its own (it takes it along),
    # then each sure candidate that no rejection keeps apart from any before it.
    taken: list[int] = [] if golden_id is None else [golden_id]
    joined: list[Candidate] = []
    refused: list[Candidate] = []
    for candidate in sure:
        if candidate.golden_id in taken:
            joined.append(candidate)  # its own golden record: nothing to check
        elif any(links.apart(candidate.golden_id, other) for other in taken):
            refused.append(candidate)
        else:
            taken.append(candidate.golden_id)
            joined.append(candidate)
    if not joined:
        return Decision(refused=tuple(refused), unsure=unsure)
    return Decision(joined[0], tuple(joined[1:]), tuple(refused), unsure)
