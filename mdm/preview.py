"""Dry run: what would this record match, and why — without writing anything."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from mdm.decision import StoredCannotLinks, decide
from mdm.errors import MissingSourceIdError
from mdm.ingest import RecordInput
from mdm.matching import ScoringMatcher
from mdm.specs import SpecRegistry
from mdm.standardize import record_keys, standardize
from mdm.store import Database, GoldenRecord
from mdm.systems import SystemDirectory


@dataclass(frozen=True)
class PreviewCandidate:
    golden_id: str
    probability: float
    match_weight: float | None
    vetoed_by: tuple[str, ...]
    contributions: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class MatchPreview:
    """The decision the pipeline would take now, with every candidate's explanation."""

    decision: str  # join | review | new
    golden_id: str | None  # the golden record it would join
    merges: tuple[str, ...]  # other golden records it would bridge to (and merge)
    candidates: tuple[PreviewCandidate, ...]
    findings: tuple[dict[str, Any], ...]
    keys: tuple[str, ...]
    model_version: int


def preview_match(
    database: Database,
    specs: SpecRegistry,
    matcher: ScoringMatcher,
    systems: SystemDirectory,
    record: RecordInput,
    *,
    limit: int = 10,
) -> MatchPreview:
    """Standardize, block and score ``record`` against the store, read-only.

    Raises:
        MdmError: the record would be refused (unknown type or system, bad attribute...).
    """
    spec = specs.get_spec(record.entity_type)
    with database.read_session() as session:
        systems.require(session, record.system)
        if not (record.source_id or "").strip():
            raise MissingSourceIdError(
                "sourceId is required and must not be blank", field="sourceId"
            )
        std = standardize(
            spec,
            record.attributes,
            system=record.system,
            date_format=record.date_format,
            codes=matcher.codes(session),
        )
        keys = record_keys(spec, std.values)
        if spec.matching is None:
            return MatchPreview("new", None, (), (), tuple(f.to_dict() for f in std.findings),
                                tuple(keys), 0)  # fmt: skip
        active = matcher.models.active(session, spec)
        scored = matcher.score(
            session, spec, std.values, None, keys, system=record.system, explain_all=True
        )
        # Decided on every candidate, as ingest would (cannot-links included): a preview
        # never promises a join or a merge that ingest would refuse.
        decided = decide(
            scored,
            auto_threshold=active.auto_threshold,
            review_threshold=active.review_threshold,
            links=StoredCannotLinks(session, spec),
        )
        joins = [c.golden_id for c in (decided.best, *decided.bridges) if c is not None]
        scored = scored[:limit]
        public = dict(
            session.execute(
                select(GoldenRecord.id, GoldenRecord.public_id).where(
                    GoldenRecord.id.in_([c.golden_id for c in scored] + joins)
                )
            ).all()
        )
    decision = "join" if decided.best else "review" if decided.review else "new"
    return MatchPreview(
        decision=decision,
        golden_id=public[decided.best.golden_id] if decided.best else None,
        merges=tuple(public[c.golden_id] for c in decided.bridges),
        candidates=tuple(
            PreviewCandidate(
                golden_id=public[c.golden_id],
                probability=c.score,
                match_weight=c.explanation.get("match_weight"),
                vetoed_by=tuple(c.explanation.get("vetoed_by", ())),
                contributions=tuple(c.explanation.get("contributions", ())),
            )
            for c in scored
        ),
        findings=tuple(f.to_dict() for f in std.findings),
        keys=tuple(keys),
        model_version=active.version,
    )
