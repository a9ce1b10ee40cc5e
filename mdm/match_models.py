"""Versioned match models: the parameters and thresholds each entity type matches with.

A model starts from the comparisons' domain defaults (version 0, never stored), and is
re-estimated from the data (EM) and from steward decisions; every estimate is a new
stored version. At most one version is active; none active means the defaults. An
estimate is stored inactive unless asked: EM assumes comparisons independent given match
status, and where they are not (a department's address and postal code move together)
it can over-weight them, so a version is activated only after its quality is checked.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from matchers import (
    BlockingRules,
    MatchModel,
    candidate_pairs,
    estimate_m,
    estimate_u,
)
from mdm.errors import InvalidInputError
from mdm.specs import EntitySpec
from mdm.store import MatchModelVersion, SourceRecord


@dataclass(frozen=True)
class ActiveModel:
    """The model an entity type matches with now."""

    entity_type: str
    version: int  # 0: the comparisons' defaults, never estimated
    model: MatchModel
    auto_threshold: float
    review_threshold: float
    source: str


class MatchModels:
    """Loads and saves model versions; caches the active one briefly per process."""

    def __init__(self, cache_seconds: float = 10.0) -> None:
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, ActiveModel]] = {}

    def active(self, session: Session, spec: EntitySpec) -> ActiveModel:
        """The newest active model of ``spec``'s entity type (defaults if none stored)."""
        now = time.monotonic()
        cached = self._cache.get(spec.name)
        if cached is not None and cached[0] > now:
            return cached[1]
        row = session.scalar(
            select(MatchModelVersion)
            .where(MatchModelVersion.entity_type == spec.name, MatchModelVersion.is_active)
            .order_by(MatchModelVersion.version.desc())
            .limit(1)
        )
        active = self._from_row(spec, row) if row is not None else defaults(spec)
        self._cache[spec.name] = (now + self.cache_seconds, active)
        return active

    def save(
        self,
        session: Session,
        spec: EntitySpec,
        model: MatchModel,
        *,
        source: str,
        actor: str | None,
        auto_threshold: float | None = None,
        review_threshold: float | None = None,
        notes: dict[str, Any] | None = None,
        activate: bool = False,
    ) -> ActiveModel:
        """Store ``model`` as the entity type's next version (and make it the active one).

        Raises:
            InvalidInputError: thresholds out of order or outside (0, 1).
        """
        current = self.active(session, spec)
        auto = current.auto_threshold if auto_threshold is None else auto_threshold
        review = current.review_threshold if review_threshold is None else review_threshold
        if not 0 < review <= auto < 1:
            raise InvalidInputError(
                f"thresholds must satisfy 0 < review ({review}) <= auto ({auto}) < 1",
                field="autoThreshold",
            )
        latest = session.scalar(
            select(func.max(MatchModelVersion.version)).where(
                MatchModelVersion.entity_type == spec.name
            )
        )
        row = MatchModelVersion(
            entity_type=spec.name,
            version=(latest or 0) + 1,
            parameters=model.to_dict(),
            auto_threshold=auto,
            review_threshold=review,
            source=source,
            notes=notes or {},
            is_active=False,
            created_by=actor,
        )
        session.add(row)
        session.flush()
        if activate:
            self.activate(session, spec, row.version)
        return self._from_row(spec, row)

    def estimate(
        self,
        session: Session,
        spec: EntitySpec,
        *,
        actor: str | None,
        seed: int = 0,
        activate: bool = False,
    ) -> tuple[ActiveModel, dict[str, Any]]:
        """Re-estimate from the stored records (``estimate_model``) and store the version."""
        start = self.active(session, spec)
        model, notes = estimate_model(session, spec, start.model, seed=seed)
        saved = self.save(
            session, spec, model, source="em", actor=actor, notes=notes, activate=activate
        )
        return saved, notes

    def activate(self, session: Session, spec: EntitySpec, version: int) -> None:
        """Make ``version`` the one used (0: back to the defaults).

        Raises:
            InvalidInputError: no such stored version.
        """
        if version != 0:
            found = session.scalar(
                select(MatchModelVersion.id).where(
                    MatchModelVersion.entity_type == spec.name,
                    MatchModelVersion.version == version,
                )
            )
            if found is None:
                raise InvalidInputError(
                    f"{spec.name} has no match model version {version}", field="version"
                )
        session.execute(
            update(MatchModelVersion)
            .where(MatchModelVersion.entity_type == spec.name)
            .values(is_active=MatchModelVersion.version == version)
        )
        self._cache.pop(spec.name, None)

    def history(self, session: Session, spec: EntitySpec) -> list[ActiveModel]:
        """Every stored version, oldest first."""
        rows = session.scalars(
            select(MatchModelVersion)
            .where(MatchModelVersion.entity_type == spec.name)
            .order_by(MatchModelVersion.version)
        ).all()
        return [self._from_row(spec, r) for r in rows]

    @staticmethod
    def _from_row(spec: EntitySpec, row: MatchModelVersion) -> ActiveModel:
        assert spec.matching is not None
        return ActiveModel(
            spec.name,
            row.version,
            MatchModel.from_dict(row.parameters, spec.matching.comparisons),
            row.auto_threshold,
            row.review_threshold,
            row.source,
        )


def defaults(spec: EntitySpec) -> ActiveModel:
    """Version 0: the comparisons' domain defaults and the spec's thresholds."""
    if spec.matching is None:
        raise InvalidInputError(f"{spec.name} has no match settings", field="entityType")
    settings = spec.matching
    return ActiveModel(
        spec.name,
        0,
        MatchModel(settings.comparisons, prior=settings.prior),
        settings.auto_threshold,
        settings.review_threshold,
        "defaults",
    )


def estimate_model(
    session: Session,
    spec: EntitySpec,
    start: MatchModel,
    *,
    max_records: int = 50_000,
    u_pairs: int = 200_000,
    seed: int = 0,
) -> tuple[MatchModel, dict[str, Any]]:
    """Re-estimate ``start`` from the stored records: u from random pairs, m by EM.

    EM runs over the pairs the spec's blocking finds, so the match rate it sees is that of
    candidate pairs, not of all pairs; comparisons whose attributes a blocking rule keys on
    exactly are held at their current m (blocking forced them to agree).
    """
    assert spec.matching is not None
    records = [
        dict(values)
        for values in session.scalars(
            select(SourceRecord.standardized)
            .where(SourceRecord.entity_type == spec.name, SourceRecord.is_deleted.is_(False))
            .order_by(SourceRecord.id)
        )
    ]
    if len(records) > max_records:
        records = random.Random(seed).sample(records, max_records)
    if len(records) < 2:
        raise InvalidInputError(
            f"{spec.name}: {len(records)} records are too few to estimate from",
            field="entityType",
        )
    with_u = estimate_u(start, records, n_pairs=u_pairs, seed=seed)
    rules = BlockingRules(list(spec.matching.blocking))
    pairs = candidate_pairs(records, rules, max_block_size=spec.matching.max_block_size)
    blocked_on = {r for r, _ in spec.matching.blocking}
    fixed = tuple(c.name for c in spec.matching.comparisons if c.name in blocked_on)
    result = estimate_m(with_u, records, pairs.pairs, seed=seed, fixed=fixed)
    notes = {
        "records": len(records),
        "candidate_pairs": len(pairs.pairs),
        "skipped_blocks": len(pairs.skipped_blocks),
        "em_match_rate": result.match_rate,
        "em_iterations": result.iterations,
        "em_converged": result.is_converged,
        "fixed": list(fixed),
    }
    return result.model, notes
