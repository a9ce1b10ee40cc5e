"""Versioned match models: the parameters and thresholds each entity type matches with.

A model starts from the comparisons' domain defaults (version 0, never stored), and is
re-estimated from the data (EM) and from steward decisions; every estimate is a new
stored version. At most one version is active; none active means the defaults. An
estimate is stored inactive unless asked: EM assumes comparisons independent given match
status, and where they are not (a department's address and postal code move together)
it can over-weight them, so a version is activated only after its quality is checked.

Steward decisions are labels (``steward_labels``): an approved candidate is a match, a
rejected one a non-match, each compared with the golden member the engine scored it
against. They refine m after EM (version source ``em+labels``) or on their own
(``labels``). u stays as random pairs estimated it unless asked: decisions concern the
hard cases of the review band, not a sample of non-matches.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from matchers import (
    BlockingRules,
    LabelledPair,
    MatchModel,
    candidate_pairs,
    count_terms,
    estimate_m,
    estimate_u,
    prepare_records,
    update_from_labels,
)
from mdm.codes import load_codebook
from mdm.context import ContextView, survivors_of
from mdm.errors import InvalidInputError
from mdm.specs import EntitySpec
from mdm.store import CandidateStatus, MatchCandidate, MatchModelVersion, SourceRecord

# Candidate status -> is_match: what a steward's decision says about the pair.
DECISIONS = {CandidateStatus.MERGED.value: True, CandidateStatus.REJECTED.value: False}
# Pseudo-pairs the current parameters are worth against steward labels: a few decisions
# nudge the model, hundreds dominate it.
LABEL_PRIOR_STRENGTH = 20.0
_CHUNK = 500
_log = logging.getLogger(__name__)


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
        version = 0 if row is None else row.version
        if cached is not None and cached[1].version == version:
            # Still the same version (versions are never rewritten): the same object, so
            # what is kept per model (prepared candidates, rule plans) stays valid.
            active = cached[1]
        else:
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
        context: ContextView | None = None,
    ) -> tuple[ActiveModel, dict[str, Any]]:
        """Re-estimate from the stored records and the steward decisions, store the version.

        EM as ``estimate_model``, then m refined by the steward labels (``steward_labels``,
        compared through ``context``); the version's source is ``em+labels`` when a merged
        candidate refined it, else ``em``. ``notes["labels"]`` counts the labels.
        """
        start = self.active(session, spec)
        labels = steward_labels(session, spec, context=context)
        model, notes = estimate_model(
            session, spec, start.model, seed=seed, labels=labels, context=context
        )
        source = "em+labels" if notes["labels"]["matches"] else "em"
        saved = self.save(
            session, spec, model, source=source, actor=actor, notes=notes, activate=activate
        )
        return saved, notes

    def refine_from_labels(
        self,
        session: Session,
        spec: EntitySpec,
        *,
        actor: str | None,
        activate: bool = False,
        context: ContextView | None = None,
        prior_strength: float = LABEL_PRIOR_STRENGTH,
        is_u_updated: bool = False,
    ) -> tuple[ActiveModel, dict[str, Any]]:
        """Refine the active model from the steward decisions alone (no EM), store the version.

        The new version's source is ``labels``; its thresholds are the active model's.

        Args:
            session: The store.
            spec: The entity type.
            actor: Who asked (stored with the version).
            activate: Use the new version at once.
            context: How records are compared (see ``steward_labels``).
            prior_strength: Pseudo-pairs the active parameters are worth.
            is_u_updated: Let rejected candidates update u too. Off by default: they
                are hard cases, and u is better estimated from random pairs.

        Returns:
            The stored version and its notes (``notes["labels"]`` counts the labels).

        Raises:
            InvalidInputError: (field ``entityType``) no decided candidate, or only
                rejected ones while u is kept, so nothing would change.

        Example:
            >>> saved, notes = models.refine_from_labels(session, spec, actor="steward")
            >>> notes["labels"]["matches"], saved.source
            (12, 'labels')
        """
        start = self.active(session, spec)
        labels = steward_labels(session, spec, context=context)
        counts = _label_counts(labels, prior_strength, is_u_updated)
        if not labels:
            raise InvalidInputError(
                f"{spec.name} has no steward decisions to refine the match model from",
                field="entityType",
            )
        if not counts["matches"] and not is_u_updated:
            raise InvalidInputError(
                f"{spec.name}: only rejected candidates, which refine u only, and u is kept",
                field="entityType",
            )
        model = update_from_labels(
            start.model, labels, prior_strength=prior_strength, is_u_updated=is_u_updated
        )
        notes = {"start_version": start.version, "labels": counts}
        saved = self.save(
            session, spec, model, source="labels", actor=actor, notes=notes, activate=activate
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
        try:
            model = MatchModel.from_dict(row.parameters, spec.matching.comparisons)
        except (ValueError, KeyError, TypeError) as error:
            # A version stored by a release whose comparisons differ: matching goes on
            # with the defaults (re-estimate with `mdm match estimate`), never stops.
            _log.warning(
                "%s: match model version %s does not fit this release's comparisons (%s); "
                "using the domain defaults",
                spec.name,
                row.version,
                error,
            )
            return defaults(spec)
        return ActiveModel(
            spec.name,
            row.version,
            model,
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
    labels: Sequence[LabelledPair] = (),
    prior_strength: float = LABEL_PRIOR_STRENGTH,
    context: ContextView | None = None,
) -> tuple[MatchModel, dict[str, Any]]:
    """Re-estimate ``start`` from the stored records: u from random pairs, m by EM, then m
    refined by ``labels`` (steward decisions, see ``steward_labels``).

    EM runs over the pairs the spec's blocking finds, so the match rate it sees is that of
    candidate pairs, not of all pairs; comparisons whose attributes a blocking rule keys on
    exactly are held at their current m (blocking forced them to agree). Labels refine
    every comparison, those too: a steward's verdict is known, not inferred from
    agreement. u is kept as random pairs estimated it (``update_from_labels`` with
    ``is_u_updated=False``). ``notes["labels"]`` counts the labels. A model that weighs
    exact name agreements by their rarity (a first load's, unless that was turned off) has
    its term frequencies counted again from the stored records.
    """
    assert spec.matching is not None
    stored = [
        (system, dict(values))
        for system, values in session.execute(
            select(SourceRecord.system, SourceRecord.standardized)
            .where(SourceRecord.entity_type == spec.name, SourceRecord.is_deleted.is_(False))
            .order_by(SourceRecord.id)
        )
    ]
    if len(stored) > max_records:
        stored = random.Random(seed).sample(stored, max_records)
    # Compared as matching compares them: coded values as codes, references as the
    # parents' golden records (raw references would read as missing, and EM would
    # forget what "same parent" says).
    records = _context_or_store(session, context).views(session, spec, stored)
    if len(records) < 2:
        raise InvalidInputError(
            f"{spec.name}: {len(records)} records are too few to estimate from",
            field="entityType",
        )
    prepared = prepare_records(start.comparisons, records)
    if start.term_frequencies:
        features = [column.features for column in prepared.left]
        start = start.with_term_frequencies(
            count_terms(start.comparisons, features, [system for system, _ in stored])
        )
    with_u = estimate_u(start, records, n_pairs=u_pairs, seed=seed, prepared=prepared)
    rules = BlockingRules(list(spec.matching.blocking))
    pairs = candidate_pairs(records, rules, max_block_size=spec.matching.max_block_size)
    blocked_on = {r for r, _ in spec.matching.blocking}
    fixed = tuple(c.name for c in spec.matching.comparisons if c.name in blocked_on)
    result = estimate_m(with_u, records, pairs.pairs, seed=seed, fixed=fixed, prepared=prepared)
    model = result.model
    if labels:
        model = update_from_labels(model, labels, prior_strength=prior_strength, is_u_updated=False)
    notes = {
        "records": len(records),
        "candidate_pairs": len(pairs.pairs),
        "skipped_blocks": len(pairs.skipped_blocks),
        "em_match_rate": result.match_rate,
        "em_iterations": result.iterations,
        "em_converged": result.is_converged,
        "fixed": list(fixed),
        "labels": _label_counts(labels, prior_strength, is_u_updated=False),
    }
    return model, notes


def steward_labels(
    session: Session, spec: EntitySpec, *, context: ContextView | None = None
) -> list[LabelledPair]:
    """The steward decisions on ``spec``'s candidates as labelled pairs, by candidate id.

    A merged candidate is a match, a rejected one a non-match; pending ones are no label.
    The pair is the candidate's source record and the golden member its score was computed
    against (``explanation["best_member"]``) when that record is still live, else the
    lowest-id live member of the golden record (or of its merge survivor) other than the
    candidate's record. A pair whose records are gone (deleted, no other member, golden
    record retired) is left out.

    Both records are compared as matching compares them: their context views (coded values
    as canonical codes, references as the parents' golden records). Without ``context``
    the code book is read from the store and references resolve to the parent's golden
    record only, without its ancestors (the ingestor's ``ContextView(codes, specs)`` has
    them), so a reference comparison's ``ancestor`` and ``sibling`` levels read as
    ``different``.

    Example:
        >>> labels = steward_labels(session, VENDOR)
        >>> [label.is_match for label in labels]
        [True, False]
    """
    decided = session.execute(
        select(
            MatchCandidate.source_record_id,
            MatchCandidate.golden_id,
            MatchCandidate.status,
            MatchCandidate.explanation,
        )
        .where(
            MatchCandidate.entity_type == spec.name,
            MatchCandidate.status.in_(sorted(DECISIONS)),
        )
        .order_by(MatchCandidate.id)
    ).all()
    if not decided:
        return []
    named = [_best_member(explanation) for _, _, _, explanation in decided]
    records = _live_records(
        session,
        spec,
        {record_id for record_id, _, _, _ in decided} | {b for b in named if b is not None},
    )
    survivors = survivors_of(session, {golden_id for _, golden_id, _, _ in decided})
    needs_member = {
        survivors[golden_id][0]
        for (record_id, golden_id, _, _), best in zip(decided, named, strict=True)
        if (best is None or best not in records or best == record_id) and golden_id in survivors
    }
    members = _first_members(session, spec, needs_member)
    records.update(_live_records(session, spec, {m for ms in members.values() for m in ms}))
    pairs: list[tuple[int, int, bool]] = []
    for (record_id, golden_id, status, _), best in zip(decided, named, strict=True):
        if record_id not in records:
            continue
        other = best if best is not None and best in records and best != record_id else None
        if other is None and golden_id in survivors:
            live = survivors[golden_id][0]
            other = next((m for m in members.get(live, ()) if m != record_id), None)
        if other is not None:
            pairs.append((record_id, other, DECISIONS[status]))
    ids = sorted({i for left, right, _ in pairs for i in (left, right)})
    context = _context_or_store(session, context)
    views = dict(zip(ids, context.views(session, spec, [records[i] for i in ids]), strict=True))
    return [LabelledPair(views[left], views[right], is_match) for left, right, is_match in pairs]


def _context_or_store(session: Session, context: ContextView | None) -> ContextView:
    """``context``, or one with the store's code book (references resolve to the parent's
    golden record only, without its ancestors)."""
    return context or ContextView(load_codebook(session))


def _best_member(explanation: Mapping[str, Any] | None) -> int | None:
    found = (explanation or {}).get("best_member")
    return found if isinstance(found, int) and not isinstance(found, bool) else None


def _live_records(
    session: Session, spec: EntitySpec, ids: set[int]
) -> dict[int, tuple[str, dict[str, Any]]]:
    """Record id -> (system, standardized values), for the live records of the type."""
    ordered = sorted(ids)
    found: dict[int, tuple[str, dict[str, Any]]] = {}
    for start in range(0, len(ordered), _CHUNK):
        for record_id, system, values in session.execute(
            select(SourceRecord.id, SourceRecord.system, SourceRecord.standardized).where(
                SourceRecord.id.in_(ordered[start : start + _CHUNK]),
                SourceRecord.entity_type == spec.name,
                SourceRecord.is_deleted.is_(False),
            )
        ):
            found[record_id] = (system, dict(values or {}))
    return found


def _first_members(
    session: Session, spec: EntitySpec, golden_ids: set[int]
) -> dict[int, tuple[int, ...]]:
    """Golden id -> its two lowest live member ids (one may be the candidate's own)."""
    ordered = sorted(golden_ids)
    found: dict[int, list[int]] = {}
    for start in range(0, len(ordered), _CHUNK):
        for golden_id, record_id in session.execute(
            select(SourceRecord.golden_id, SourceRecord.id)
            .where(
                SourceRecord.golden_id.in_(ordered[start : start + _CHUNK]),
                SourceRecord.entity_type == spec.name,
                SourceRecord.is_deleted.is_(False),
            )
            .order_by(SourceRecord.golden_id, SourceRecord.id)
        ):
            assert golden_id is not None  # the filter asks for members of these
            kept = found.setdefault(golden_id, [])
            if len(kept) < 2:
                kept.append(record_id)
    return {golden_id: tuple(ids) for golden_id, ids in found.items()}


def _label_counts(
    labels: Sequence[LabelledPair], prior_strength: float, is_u_updated: bool
) -> dict[str, Any]:
    matches = sum(1 for label in labels if label.is_match)
    return {
        "matches": matches,
        "non_matches": len(labels) - matches,
        "prior_strength": prior_strength,
        "is_u_updated": is_u_updated,
    }
