"""After a bulk load of a parent type: the children loaded before it, matched again
against their siblings (``match_alone_children``)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from matchers import prepare_records, score_in_batches
from mdm.bulk.staging import rows_by_id
from mdm.bulk.writing import Explainer
from mdm.context import ContextView
from mdm.decision import Action, Candidate, MatchDecision, StoredCannotLinks, decide
from mdm.golden import ChangeContext, live_golden
from mdm.ingest import Ingestor
from mdm.merging import FoldResult, fold_all
from mdm.reevaluate import alone_records, child_types, sibling_groups
from mdm.scoring import spec_rules
from mdm.specs import EntitySpec
from mdm.store import SourceRecord
from mdm.store.locks import lock_for_matching


@dataclass
class SiblingPass:
    """What matching children against their siblings did (see ``match_alone_children``)."""

    scored: int = 0  # lone records scored
    pairs: int = 0
    merged: int = 0
    refused: int = 0  # sure matches a steward's rejection forbids: sent to review
    review_candidates: int = 0


def match_alone_children(
    session: Session, ingestor: Ingestor, parent: EntitySpec, ctx: ChangeContext
) -> SiblingPass:
    """After ``parent``'s type was loaded in bulk, decide again, in one vectorized pass, the
    records of other types that refer to it and are still alone in their golden record
    (they were matched before their parents were in: a department before its cost center).

    A resolved parent can turn into a match only with a *sibling*: a record of the same
    type, in another golden record, whose reference resolves to the same parent golden
    record. So each lone record is scored against its siblings (a parent with more children
    than the incremental path would compare is skipped, as an oversized block is); the best
    sure one takes it in (its golden record is folded into the sibling's, cannot-links
    hold), unsure ones go to review. The record's other candidates were scored when it was
    loaded, and nothing about them changed.
    """
    result = SiblingPass()
    specs = ingestor.specs
    lock_for_matching(session)  # before any row is locked (see ``Ingestor.work_backlog``)
    for name in child_types(specs, parent.name):
        spec = specs.get_spec(name)
        if name == parent.name or spec.matching is None:
            continue  # a type referring to itself was matched in rounds
        limit = spec.matching.max_block_size
        alone = alone_records(session, name)
        pairs: set[tuple[int, int]] = set()
        for members in sibling_groups(session, spec, parent.name):
            if len(members) > limit:
                continue
            for record_id, golden_id in members:
                if record_id in alone:
                    pairs.update(
                        (min(record_id, other), max(record_id, other))
                        for other, other_golden in members
                        if other_golden != golden_id
                    )
        if pairs:
            _match_siblings(session, ingestor, spec, sorted(pairs), alone, ctx, result)
    return result


def _match_siblings(
    session: Session,
    ingestor: Ingestor,
    spec: EntitySpec,
    pairs: list[tuple[int, int]],
    alone: set[int],
    ctx: ChangeContext,
    result: SiblingPass,
) -> None:
    assert spec.matching is not None
    ids = sorted({r for pair in pairs for r in pair})
    found: dict[int, tuple[str, dict[str, Any], int]] = {}
    for record_id, system, values, golden_id in rows_by_id(
        session, ids, SourceRecord.system, SourceRecord.standardized, SourceRecord.golden_id
    ):
        found[record_id] = (system, values or {}, golden_id)
    index = {record_id: i for i, record_id in enumerate(ids)}
    views = ContextView(ingestor.codes(session), ingestor.specs).views(
        session, spec, [(found[r][0], found[r][1]) for r in ids]
    )
    active = ingestor.models.active(session, spec)
    prepared = prepare_records(active.model.comparisons, views)
    del views
    at = np.asarray([(index[a], index[b]) for a, b in pairs], dtype=np.intp)
    left, right, probability, _ = score_in_batches(
        active.model, spec_rules(spec.matching, active.model), prepared, at,
        active.review_threshold, active.auto_threshold,
    )  # fmt: skip
    result.pairs += len(pairs)
    # lone record -> its siblings' golden records (as stored) -> (probability, -sibling)
    scored: dict[int, dict[int, tuple[float, int]]] = defaultdict(dict)
    for k, p in enumerate(probability.tolist()):
        if p < active.review_threshold:
            continue
        a, b = ids[int(left[k])], ids[int(right[k])]
        for mine, other in ((b, a), (a, b)):
            if mine not in alone:
                continue
            if p < active.auto_threshold and other in alone and mine < other:
                continue  # two lone records: one review, the later one the newcomer
            best = scored[mine]
            golden_id = found[other][2]
            if best.get(golden_id, (-1.0, 0)) < (p, -other):
                best[golden_id] = (p, -other)
    result.scored += len(set(ids) & alone)
    links = StoredCannotLinks(session, spec)
    explain = Explainer(
        session, spec, ingestor.codes(session), active, None, ingestor.specs, path="siblings"
    )
    refused: set[tuple[int, int]] = set()  # golden pairs refused once, whichever asked
    for record_id in sorted(scored):
        row = session.get(SourceRecord, record_id)
        assert row is not None and row.golden_id is not None
        current = live_golden(session, row.golden_id)
        assert current is not None
        # The siblings' golden records as they are now (some may have merged meanwhile).
        best_of: dict[int, tuple[float, int]] = {}
        for golden_id, found_p in scored[record_id].items():
            live = live_golden(session, golden_id)
            if live is not None and live.id != current.id:
                best_of[live.id] = max(best_of.get(live.id, found_p), found_p)
        decision = decide(
            [Candidate(golden_id, p, {}) for golden_id, (p, _) in best_of.items()],
            auto_threshold=active.auto_threshold,
            review_threshold=active.review_threshold,
            links=links,
            record_id=record_id,
            golden_id=current.id,
        )
        review = []
        for candidate in decision.refused:
            pair = (min(candidate.golden_id, current.id), max(candidate.golden_id, current.id))
            if pair not in refused:
                refused.add(pair)
                result.refused += 1
                review.append(candidate)
        review += decision.unsure
        if decision.best is not None:
            # The lone record's golden record is folded into the best sibling's, and so is
            # every other golden record it is sure of (cannot-links hold).
            target = decision.best.golden_id
            others = (current.id, *(c.golden_id for c in decision.bridges))
            for fold in fold_all(session, ingestor.specs, spec, target, others, ctx):
                result.merged += fold.is_merged
                result.refused += fold.result is FoldResult.REFUSED
            current = live_golden(session, target) or current
        candidates = tuple(
            replace(c, explanation=explain(record_id, -best_of[c.golden_id][1]))
            for c in review
            if c.golden_id != current.id
        )
        result.review_candidates += ingestor.store_review(
            session, spec, row, MatchDecision(Action.NEW, review=candidates)
        )
