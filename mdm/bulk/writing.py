"""Writing what a bulk load decided: golden records with their history and events (the
row layout of ``mdm.golden`` and ``mdm.events``, as record by record writes them), and
review candidates decided and explained as record by record decides and explains them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import insert
from sqlalchemy.orm import Session

from matchers import CANNOT_LINK_BELOW, JudgedPairs
from mdm.bulk.staging import Later, Staged, rows_by_id, table_of, values_of
from mdm.codes import CodeBook
from mdm.context import ContextView, Reference, forget_resolutions
from mdm.decision import Candidate, bridge_refusal, decide, identifier_conflicts
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
    scored: JudgedPairs,
    active: ActiveModel,
    codes: CodeBook,
    resolved: Mapping[Reference, str],
) -> int:
    """Review candidates for the unsure pairs across clusters, and for the sure ones a
    constraint cut; returns how many.

    Each record is decided (``mdm.decision.decide``) on its best unsure pair with each
    other cluster's golden record (``golden_of``: each record's), the later record of a
    pair (by system and id) being the newcomer, as it would be one by one, its own
    cluster's golden record the one it takes along. A sure pair across clusters was cut
    by the clustering: when a constraint keeps the two clusters apart (``FirstLoadApart``)
    it is decided on instead, and refused (for review, saying why) as a bridge record by
    record is; a weak chain cut leaves the unsure pairs to speak. A first load holds no
    rejection. Candidates carry the explanation record-by-record matching gives them
    (``resolved``: the parents the pairs were compared through).
    """
    unsure = _best_across(scored, golden_of, active.review_threshold, active.auto_threshold)
    cut = _best_across(scored, golden_of, active.auto_threshold, np.inf)
    asked = {g for j, goldens in cut.items() for g in (golden_of[j], *goldens)}
    links = FirstLoadApart(session, spec, golden_of, scored, asked)
    review: list[tuple[int, Candidate, int]] = []  # (newcomer, candidate, its member)
    for j in sorted(unsure.keys() | cut.keys()):
        goldens = dict(unsure.get(j, {}))
        goldens.update(
            (golden_id, found)
            for golden_id, found in cut.get(j, {}).items()
            if links.apart(golden_id, golden_of[j])
        )
        decision = decide(
            [Candidate(golden_id, p, {}) for golden_id, (p, _) in goldens.items()],
            auto_threshold=active.auto_threshold,
            review_threshold=active.review_threshold,
            links=links,
            golden_id=golden_of[j],
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
                    "explanation": {
                        **explain(staged[j].record_id, staged[i].record_id),
                        **c.explanation,
                    },
                    "status": CandidateStatus.PENDING.value,
                }
                for j, c, i in sorted(review, key=_newcomer_and_golden(staged))
            ],
        )
    return len(review)


VETOED_APART = "a veto holds a member of one golden record apart from a member of the other"


class FirstLoadApart:
    """The cannot-links of a first load (``mdm.decision.CannotLinks``), for its review
    step: two of its golden records are apart when their members hold identifiers the
    spec vetoes (``identifier_conflicts``, as record by record), or when a pair across
    them was held back by a veto on identifiers or scored as almost surely different
    (what the clustering cut them at). There is no rejection yet. ``among``: the golden
    records it may be asked about (those with a sure pair across them), so that only
    their held pairs are kept."""

    def __init__(
        self,
        session: Session,
        spec: EntitySpec,
        golden_of: list[int],
        scored: JudgedPairs,
        among: Collection[int],
    ) -> None:
        self.session, self.spec = session, spec
        left, right, probability, vetoed = scored
        goldens = np.asarray(golden_of, dtype=np.int64)
        asked = np.zeros(len(golden_of), dtype=bool)
        asked[np.isin(goldens, np.fromiter(among, dtype=np.int64, count=len(among)))] = True
        held = np.flatnonzero(
            (vetoed | (probability < CANNOT_LINK_BELOW)) & asked[left] & asked[right]
        )
        a, b = goldens[left[held]], goldens[right[held]]
        across = a != b
        # Each golden pair as one sorted int64 key (golden ids fit in 32 bits).
        self.held = np.unique(_pair_keys(a[across], b[across]))
        self.reasons: dict[frozenset[int], str | None] = {}  # asked again by ``decide``

    def rejected(self, record_id: int | None, golden_ids: Collection[int]) -> set[int]:
        return set()

    def apart(self, a: int, b: int) -> str | None:
        pair = frozenset((a, b))
        if pair not in self.reasons:
            self.reasons[pair] = self._reason(a, b)
        return self.reasons[pair]

    def _reason(self, a: int, b: int) -> str | None:
        reason = bridge_refusal(identifier_conflicts(self.session, self.spec, a, b))
        if reason is not None:
            return reason
        key = _pair_keys(np.asarray([a]), np.asarray([b]))
        found = np.searchsorted(self.held, key)
        is_held = bool(found[0] < len(self.held) and self.held[found[0]] == key[0])
        return VETOED_APART if is_held else None


def _pair_keys(a: NDArray[np.int64], b: NDArray[np.int64]) -> NDArray[np.int64]:
    low, high = np.minimum(a, b), np.maximum(a, b)
    return np.asarray((low << 32) | high, dtype=np.int64)


def _best_across(
    scored: JudgedPairs, golden_of: list[int], low: float, high: float
) -> dict[int, dict[int, tuple[float, int]]]:
    """Per newcomer (the later record of a pair), its best pair scored from ``low`` up to
    ``high`` (not included) with each other cluster's golden record: golden id ->
    (probability, member)."""
    left, right, probability, _ = scored
    goldens = np.asarray(golden_of, dtype=np.int64)
    a, b = goldens[left], goldens[right]
    across = (probability >= low) & (probability < high) & (a != b) & (a != 0) & (b != 0)
    found: dict[int, dict[int, tuple[float, int]]] = defaultdict(dict)
    for k in np.flatnonzero(across).tolist():
        i, j = int(left[k]), int(right[k])
        best = found[j]
        if best.get(golden_of[i], (-1.0, 0))[0] < probability[k]:
            best[golden_of[i]] = (float(probability[k]), i)
    return found


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
