"""Writing what a bulk load decided: golden records with their history and events (the
row layout of ``mdm.golden`` and ``mdm.events``, as record by record writes them), and
review candidates decided and explained as record by record decides and explains them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import insert
from sqlalchemy.orm import Session

from mdm.bulk.staging import Later, Staged, rows_by_id, table_of, values_of
from mdm.codes import CodeBook
from mdm.context import ContextView, Reference, forget_resolutions
from mdm.decision import NO_CANNOT_LINKS, Candidate, decide
from mdm.events import ChangeKind, record_change_events
from mdm.golden import ChangeContext, GoldenChange, member_refs, new_golden_row
from mdm.match_models import ActiveModel
from mdm.matching import explain_views
from mdm.specs import EntitySpec, SpecRegistry
from mdm.store import (
    CandidateStatus,
    GoldenHistory,
    GoldenRecord,
    MatchCandidate,
    SourceRecord,
    json_text,
    utcnow,
)
from mdm.store.rows import insert_rows, insert_rows_returning_ids, update_rows
from mdm.survivorship import Member, survive

GOLDEN_CHUNK = 5000  # clusters written at a time

# The judged pairs of a load: left and right record indices, judged probabilities.
Scored = tuple[NDArray[np.int32], NDArray[np.int32], NDArray[np.float32]]


def write_goldens(
    session: Session,
    spec: EntitySpec,
    staged: list[Staged],
    clusters: list[list[int]],
    later: Later,
    ctx: ChangeContext,
) -> list[int]:
    """Golden records, member links, history and events; the golden id of each record.

    Written a chunk of clusters at a time, so memory holds one chunk's rows.
    """
    golden_of = [0] * len(staged)  # 0: none (deleted in its latest version)
    if later.gone:
        clusters = [
            kept
            for members in clusters
            if (kept := [i for i in members if staged[i].record_id not in later.gone])
        ]
    for start in range(0, len(clusters), GOLDEN_CHUNK):
        chunk = clusters[start : start + GOLDEN_CHUNK]
        _write_golden_chunk(session, spec, staged, chunk, golden_of, later, ctx)
    return golden_of


def _write_golden_chunk(
    session: Session,
    spec: EntitySpec,
    staged: list[Staged],
    clusters: list[list[int]],
    golden_of: list[int],
    later: Later,
    ctx: ChangeContext,
) -> None:
    now = utcnow()
    values = values_of(session, staged, [i for members in clusters for i in members])
    values.update(
        (staged[i].record_id, latest)
        for members in clusters
        for i in members
        if (latest := later.latest.get(staged[i].record_id)) is not None
    )
    golden_rows = []
    for members in clusters:
        survivor = survive(
            spec,
            [
                Member(
                    staged[i].record_id,
                    staged[i].system,
                    staged[i].source_id,
                    values[staged[i].record_id],
                    now,
                )
                for i in members
            ],
        )
        # Serialized once for the golden row, its history and its event.
        golden_rows.append(
            new_golden_row(
                spec,
                attributes=json_text(survivor.attributes),
                lineage=json_text(survivor.lineage),
                version=1,
                now=now,
            )
        )
    del values
    golden_ids = insert_rows_returning_ids(session, table_of(GoldenRecord), golden_rows)
    for golden_id, members in zip(golden_ids, clusters, strict=True):
        for i in members:
            golden_of[i] = golden_id
    update_rows(
        session,
        table_of(SourceRecord),
        [
            {"id": staged[i].record_id, "golden_id": golden_of[i]}
            for members in clusters
            for i in members
        ],
    )
    forget_resolutions(session)
    changes = [
        GoldenChange(
            golden_id,
            row["public_id"],
            spec.name,
            row["version"],
            ChangeKind.CREATED,
            row["status"],
            row["attributes"],
            row["lineage"],
            json_text(member_refs((staged[i].system, staged[i].source_id) for i in members)),
        )
        for golden_id, row, members in zip(golden_ids, golden_rows, clusters, strict=True)
    ]
    insert_rows(session, table_of(GoldenHistory), [c.history_row(ctx.actor, now) for c in changes])
    record_change_events(session, [c.event_row(ctx, now) for c in changes])


def write_review(
    session: Session,
    spec: EntitySpec,
    staged: list[Staged],
    golden_of: list[int],
    scored: Scored,
    active: ActiveModel,
    codes: CodeBook,
    resolved: Mapping[Reference, str],
) -> int:
    """Review candidates for the unsure pairs across clusters; returns how many.

    Each record is decided (``mdm.decision.decide``) on its best unsure pair with each
    other cluster's golden record (``golden_of``: each record's), the later record of a
    pair (by system and id) being the newcomer, as it would be one by one; the clusters
    themselves are the sure links. A first load holds no rejection. Candidates carry the
    explanation record-by-record matching gives them (``resolved``: the parents the pairs
    were compared through).
    """
    left, right, probability = scored
    band = (probability >= active.review_threshold) & (probability < active.auto_threshold)
    found: dict[int, dict[int, tuple[float, int]]] = defaultdict(dict)  # j -> golden -> ..
    for k in np.flatnonzero(band).tolist():
        i, j = int(left[k]), int(right[k])
        if golden_of[i] == golden_of[j] or not golden_of[i] or not golden_of[j]:
            continue
        best = found[j]
        if best.get(golden_of[i], (-1.0, 0))[0] < probability[k]:
            best[golden_of[i]] = (float(probability[k]), i)
    review: list[tuple[int, Candidate, int]] = []  # (newcomer, candidate, its member)
    for j, goldens in found.items():
        decision = decide(
            [Candidate(golden_id, p, {}) for golden_id, (p, _) in goldens.items()],
            auto_threshold=active.auto_threshold,
            review_threshold=active.review_threshold,
            links=NO_CANNOT_LINKS,
        )
        review += [(j, c, goldens[c.golden_id][1]) for c in decision.review]
    if review:
        explain = Explainer(session, spec, codes, active, resolved, path="bulk")
        session.execute(
            insert(table_of(MatchCandidate)),
            [
                {
                    "entity_type": spec.name,
                    "source_record_id": staged[j].record_id,
                    "golden_id": c.golden_id,
                    "score": c.score,
                    "explanation": explain(staged[j].record_id, staged[i].record_id),
                    "status": CandidateStatus.PENDING.value,
                }
                for j, c, i in sorted(review, key=_newcomer_and_golden(staged))
            ],
        )
    return len(review)


def _newcomer_and_golden(
    staged: list[Staged],
) -> Callable[[tuple[int, Candidate, int]], tuple[int, int]]:
    return lambda found: (staged[found[0]].record_id, found[1].golden_id)


class Explainer:
    """The explanation of a review candidate found in bulk, as record-by-record matching
    gives it (``mdm.matching.explain_views``): the two records read back and viewed in
    context (parents from ``resolved``, or resolved in the store), for the few pairs that
    go to review."""

    def __init__(
        self,
        session: Session,
        spec: EntitySpec,
        codes: CodeBook,
        active: ActiveModel,
        resolved: Mapping[Reference, str] | None,
        specs: SpecRegistry | None = None,
        *,
        path: str,
    ) -> None:
        assert spec.matching is not None
        self.session, self.spec, self.settings = session, spec, spec.matching
        self.context = ContextView(codes, specs)
        self.active, self.resolved, self.path = active, resolved, path
        self.views: dict[int, dict[str, Any]] = {}

    def __call__(self, newcomer: int, member: int) -> dict[str, Any]:
        missing = [r for r in (newcomer, member) if r not in self.views]
        if missing:
            rows = list(
                rows_by_id(self.session, missing, SourceRecord.system, SourceRecord.standardized)
            )
            records = [(system, values or {}) for _, system, values in rows]
            views = self.context.views(self.session, self.spec, records, self.resolved)
            self.views.update(zip((r[0] for r in rows), views, strict=True))
        return explain_views(
            self.active, self.settings, self.views[newcomer], self.views[member], member,
            path=self.path,
        )  # fmt: skip
