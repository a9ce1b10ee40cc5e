"""The match step: find candidate golden records for a source record and decide.

``Matcher`` is the plug-in point of the pipeline. ``ExactIdentifierMatcher`` joins a
record to a golden record only when they share a validated strong identifier and no
unique identifier disagrees; fuzzy scoring plugs in as another ``Matcher``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from mdm.specs import EntitySpec
from mdm.store import MatchCandidate, MatchKeyRow, SourceRecord


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


class Matcher(Protocol):
    def decide(
        self, session: Session, spec: EntitySpec, record: SourceRecord, keys: list[str]
    ) -> MatchDecision: ...


def _key_name(key: str) -> str:
    return key.split(":", 1)[0]


class ExactIdentifierMatcher:
    """Join on a shared validated identifier; send conflicts to review."""

    def decide(
        self, session: Session, spec: EntitySpec, record: SourceRecord, keys: list[str]
    ) -> MatchDecision:
        if not keys:
            return MatchDecision(Action.NEW, explanation={"reason": "no identifier to match on"})
        hits = session.execute(
            select(SourceRecord.golden_id, MatchKeyRow.key)
            .join(SourceRecord, SourceRecord.id == MatchKeyRow.source_record_id)
            .where(
                MatchKeyRow.entity_type == spec.name,
                MatchKeyRow.key.in_(keys),
                SourceRecord.id != record.id,
                SourceRecord.golden_id.is_not(None),
                SourceRecord.is_deleted.is_(False),
            )
        ).all()
        shared: dict[int, set[str]] = defaultdict(set)
        for golden_id, key in hits:
            if golden_id is not None:
                shared[golden_id].add(key)
        if not shared:
            return MatchDecision(Action.NEW, explanation={"reason": "no shared identifier"})
        blocked = self._cannot_link(session, record, list(shared))
        conflicts = self._conflicts(session, spec, keys, list(shared))
        sure: list[Candidate] = []
        unsure: list[Candidate] = []
        for golden_id, agreed in shared.items():
            explanation = {
                "rule": "exact_identifier",
                "agreed": sorted(agreed),
                "disagreed": sorted(conflicts.get(golden_id, ())),
            }
            candidate = Candidate(golden_id, float(len(agreed)), explanation)
            if golden_id in blocked:
                continue
            (unsure if conflicts.get(golden_id) else sure).append(candidate)
        sure.sort(key=lambda c: (-c.score, c.golden_id))
        if not sure:
            return MatchDecision(
                Action.NEW,
                explanation={"reason": "identifier conflict or cannot-link"},
                review=tuple(unsure),
            )
        best, rest = sure[0], sure[1:]
        return MatchDecision(
            Action.JOIN, best.golden_id, best.explanation, review=tuple(rest + unsure)
        )

    @staticmethod
    def _cannot_link(session: Session, record: SourceRecord, golden_ids: list[int]) -> set[int]:
        rows = session.scalars(
            select(MatchCandidate.golden_id).where(
                MatchCandidate.source_record_id == record.id,
                MatchCandidate.golden_id.in_(golden_ids),
                MatchCandidate.status == "rejected",
            )
        ).all()
        return set(rows)

    @staticmethod
    def _conflicts(
        session: Session, spec: EntitySpec, keys: list[str], golden_ids: list[int]
    ) -> dict[int, set[str]]:
        """Per golden record, the unique keys where it holds values and none is the record's."""
        unique_names = {k.name for k in spec.match_keys if k.unique}
        mine = {k for k in keys if _key_name(k) in unique_names}
        if not mine:
            return {}
        rows = session.execute(
            select(SourceRecord.golden_id, MatchKeyRow.key)
            .join(SourceRecord, SourceRecord.id == MatchKeyRow.source_record_id)
            .where(SourceRecord.golden_id.in_(golden_ids), SourceRecord.is_deleted.is_(False))
        ).all()
        theirs: dict[int, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        for golden_id, key in rows:
            if golden_id is not None:
                theirs[golden_id][_key_name(key)].add(key)
        conflicts: dict[int, set[str]] = {}
        for golden_id, by_name in theirs.items():
            for key in mine:
                values = by_name.get(_key_name(key))
                if values and key not in values:
                    conflicts.setdefault(golden_id, set()).add(_key_name(key))
        return conflicts
