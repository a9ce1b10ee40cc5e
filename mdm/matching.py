"""The match step: find candidate golden records for a source record and decide.

``Matcher`` is the plug-in point of the pipeline. ``ExactIdentifierMatcher`` joins a
record to a golden record only when they share a validated strong identifier and no
unique identifier disagrees; fuzzy scoring plugs in as another ``Matcher``.
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from sqlalchemy import Text, bindparam, func, select, type_coerce, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from matchers import Judgement, MatchModel, PairScore, probability
from mdm.codes import EMPTY_CODEBOOK, LEARNED_MARK, CodeBook
from mdm.context import ContextView, Reference, compared_references, references_of, sibling_records
from mdm.decision import (
    Action,
    Candidate,
    MatchDecision,
    StoredCannotLinks,
    cannot_link_goldens,
    decide,
    member_conflicts,
)
from mdm.match_models import ActiveModel, MatchModels
from mdm.resolutions import ResolutionCache
from mdm.scoring import spec_rules
from mdm.specs import EntitySpec, MatchSettings, SpecRegistry
from mdm.standardize import record_keys
from mdm.store import MatchKeyRow, SourceRecord, core_connection

__all__ = [  # what others import from here (the decision's types live in ``mdm.decision``)
    "Action",
    "Candidate",
    "CandidateRecord",
    "ExactIdentifierMatcher",
    "MatchDecision",
    "Matcher",
    "ScoringMatcher",
    "block_sizes",
    "candidate_records",
    "explain",
    "explain_views",
]


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
        blocked = cannot_link_goldens(session, record.id, list(shared))
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


# A stored record's coded values as codes and its compared references (``_remember_shape``).
_Shape = tuple[tuple[Any, ...], tuple[Reference | None, ...]]


@dataclass(frozen=True)
class CandidateRecord:
    """A stored record a newcomer is compared with. ``document``: its standardized values
    as the database returned them (JSON text, or already parsed), read only when needed:
    a candidate whose prepared values are known is scored without them."""

    record_id: int
    golden_id: int
    version: int
    document: Any
    system: str = ""

    @property
    def values(self) -> dict[str, Any]:
        raw = self.document
        if isinstance(raw, (str, bytes)):
            return dict(orjson.loads(raw))
        return dict(raw or {})


CANDIDATE_BUDGET = 64  # records compared per newcomer, beyond its most specific keys
SPECIFIC_BLOCK = 8  # a key this rare (an identifier, a full address) is always used


def _keys_through_codes(
    spec: EntitySpec, values: Mapping[str, Any], view: Mapping[str, Any], keys: list[str]
) -> list[str]:
    """Keys the record would have if its coded values were written as their codes: a
    company written as its name, known through a learned correspondence, meets the records
    that write the company's code (a cost-center code alone repeats in every company)."""
    known = {}
    for attribute in spec.coded:
        token = view.get(attribute.name)
        if isinstance(token, str) and token.startswith(LEARNED_MARK):
            known[attribute.name] = token[len(LEARNED_MARK) :]
    if not known:
        return []
    return [k for k in record_keys(spec, {**values, **known}) if k not in keys]


# The statements of the request path, built once: building one costs more than running it.
_KEY_SIZES: dict[int, Any] = {}


def _key_sizes(count: int) -> Any:
    """The statement sizing ``count`` keys' blocks (parameters ``k0``..), each counted only
    up to ``cap`` rows: in a store of a million golden records an item's description words
    are held by 200,000 records, and counting such a block whole (to learn that it is too
    large to use) took 30 ms a record. Built once per number of keys."""
    statement = _KEY_SIZES.get(count)
    if statement is None:
        parts = []
        for i in range(count):
            key = bindparam(f"k{i}", type_=MatchKeyRow.key.type)
            rows = (
                select(MatchKeyRow.id)
                .where(MatchKeyRow.entity_type == bindparam("type"), MatchKeyRow.key == key)
                .limit(bindparam("cap"))
                .subquery()
            )
            parts.append(
                select(key.label("key"), select(func.count()).select_from(rows).scalar_subquery())
            )
        statement = parts[0] if count == 1 else union_all(*parts)
        _KEY_SIZES[count] = statement
    return statement


def block_sizes(
    session: Session, entity_type: str, keys: Sequence[str], cap: int
) -> list[tuple[str, int]]:
    """Each key's block size among ``entity_type``'s records, counted up to ``cap`` (a
    larger block reads as ``cap``)."""
    distinct = sorted(set(keys))
    if not distinct:
        return []
    params: dict[str, Any] = {f"k{i}": key for i, key in enumerate(distinct)}
    rows = core_connection(session).execute(
        _key_sizes(len(distinct)), {**params, "type": entity_type, "cap": cap}
    )
    return [(key, int(size)) for key, size in rows if size]


_SHARING = select(MatchKeyRow.source_record_id).where(
    MatchKeyRow.entity_type == bindparam("type"),
    MatchKeyRow.key.in_(bindparam("keys", expanding=True)),
)


def _candidates_query(chosen: ColumnElement[bool]) -> Any:
    return (
        select(
            SourceRecord.id,
            SourceRecord.golden_id,
            SourceRecord.version,
            type_coerce(SourceRecord.standardized, Text),  # parsed only if needed
            SourceRecord.system,
        )
        .where(
            chosen,
            SourceRecord.golden_id.is_not(None),
            SourceRecord.is_deleted.is_(False),
            SourceRecord.id != bindparam("me"),  # 0 for a record not stored
        )
        .order_by(SourceRecord.id)
    )


_CANDIDATES = _candidates_query(SourceRecord.id.in_(_SHARING))
_CANDIDATES_WITH_ALSO = _candidates_query(
    SourceRecord.id.in_(_SHARING) | SourceRecord.id.in_(bindparam("also", expanding=True))
)
_PLACED_RECORDS = select(
    SourceRecord.id, SourceRecord.version, SourceRecord.system, SourceRecord.standardized
).where(
    SourceRecord.entity_type == bindparam("type"),
    SourceRecord.golden_id.is_not(None),
    SourceRecord.is_deleted.is_(False),
)


def candidate_records(
    session: Session,
    spec: EntitySpec,
    record_id: int | None,
    keys: list[str],
    max_block: int,
    also: list[int] | None = None,
) -> list[CandidateRecord]:
    """Placed, live records sharing a key with the record.

    Keys are taken rarest first: every key held by at most ``SPECIFIC_BLOCK`` records,
    then broader ones while the candidates stay within ``CANDIDATE_BUDGET``; keys held by
    more than ``max_block`` records are too common to say anything and are skipped. So a
    newcomer costs a bounded number of comparisons however large the store grows.
    ``also``: more record ids to take whatever their keys (the children of the same
    parent, found through the context).
    """
    if not keys and not also:
        return []
    connection = core_connection(session)
    sizes = block_sizes(session, spec.name, keys, max_block + 1)
    usable: list[str] = []
    total = 0
    for key, size in sorted(sizes, key=lambda pair: (pair[1], pair[0])):
        if size > max_block or (size > SPECIFIC_BLOCK and total + size > CANDIDATE_BUDGET):
            break
        usable.append(key)
        total += size
    if not usable and not also:
        return []
    rows = connection.execute(
        _CANDIDATES_WITH_ALSO if also else _CANDIDATES,
        {"type": spec.name, "keys": usable, "also": also or [], "me": record_id or 0},
    )
    return [
        CandidateRecord(rid, gid, version, document, system)
        for rid, gid, version, document, system in rows
        if gid is not None
    ]


def explain(
    judged: Judgement,
    model_version: int,
    best_member: int,
    pair: PairScore | None = None,
    **more: Any,
) -> dict[str, Any]:
    """A scored candidate's explanation, as review candidates store it: the rules that
    held the pair back (vetoes, doubts) or were overridden, the model and the golden
    record's best member; with ``pair`` (its ``MatchModel.score_prepared``) the weights and
    each comparison's values, level and weight. ``more``: what else the path that scored
    it adds."""
    explanation: dict[str, Any] = {
        "rule": "score",
        **more,
        "vetoed_by": list(judged.vetoed_by),
        "doubted_by": list(judged.doubted_by),
        "conflicts": list(judged.conflicts),
        "model_version": model_version,
        "best_member": best_member,
    }
    if pair is not None:
        explanation.update(
            match_weight=round(pair.match_weight, 3),
            match_probability=pair.match_probability,
            prior_weight=round(pair.prior_weight, 3),
            contributions=[
                {
                    "comparison": c.comparison,
                    "left": c.left_value,
                    "right": c.right_value,
                    "level": c.level,
                    "weight": round(c.weight, 3),
                    **({} if c.frequency is None else {"frequency": round(c.frequency, 6)}),
                }
                for c in pair.contributions
            ],
        )
    return explanation


def explain_views(
    active: ActiveModel,
    settings: MatchSettings,
    mine: Mapping[str, Any],
    theirs: Mapping[str, Any],
    best_member: int,
    **more: Any,
) -> dict[str, Any]:
    """``explain`` of a pair known by its two matching views (``mdm.context``): the
    newcomer's and its candidate's best member's, judged by the spec's rules as
    ``ScoringMatcher.score`` judges it."""
    model = active.model
    left, right = model.prepare(mine), model.prepare(theirs)
    found, weight = model.levels_prepared(left, right)
    judged = spec_rules(settings, model).judge(
        found, probability(weight), active.review_threshold, active.auto_threshold
    )
    pair = model.score_prepared(mine, theirs, left, right)
    return explain(judged, active.version, best_member, pair, **more)


class ScoringMatcher:
    """Blocking keys -> candidate records -> Fellegi–Sunter scores -> decision.

    Records are compared through their context view (``mdm.context``): coded values as
    canonical codes, references as the parents' golden records today. A golden record's
    score is its best-scoring member's. At or above the entity type's auto threshold the
    record joins it, unless another member holds an identifier the spec vetoes with the
    record's (``mdm.decision.member_conflicts``: then it goes to review); in the review band
    a candidate is stored for a steward; below, the record starts a golden record of its
    own. A record sure of two golden records bridges them: they are merged unless a
    cannot-link forbids it, and then the bridge goes to review (``mdm.decision.decide``,
    which every path that decides shares). Entity
    types without match settings fall back to exact identifiers.
    """

    def __init__(
        self,
        models: MatchModels | None = None,
        cache_size: int = 200_000,
        codes: Callable[[Session], CodeBook] | None = None,
        specs: SpecRegistry | None = None,
    ) -> None:
        self.models = models or MatchModels()
        self.specs = specs
        self.exact = ExactIdentifierMatcher()
        self.codes: Callable[[Session], CodeBook] = codes or (lambda _session: EMPTY_CODEBOOK)
        # Prepared (normalized) values of stored records, by record id, version and the
        # context they were seen in: a record is normalized once, however many newcomers
        # it is compared with, and again only when its parents or codes change.
        self._prepared: OrderedDict[tuple[Any, ...], tuple[Any, ...]] = OrderedDict()
        self._cache_size = cache_size
        # What of a stored record its context key is made of, by record id, version and
        # code book version: its coded values as codes, and its compared references (see
        # ``_prepared_candidates``). With it, a candidate whose prepared values are kept is
        # scored without parsing its document or building its view (a department meets the
        # hundred departments of its facility).
        self._shapes: OrderedDict[tuple[Any, ...], _Shape] = OrderedDict()
        # Parents' golden records (and theirs) as of their versions: a location or cost
        # center resolves its candidates' references from here, not a query per level.
        self.resolutions = ResolutionCache()

    def _prepare(
        self,
        model: MatchModel,
        key: tuple[Any, ...],
        view: dict[str, Any],
    ) -> tuple[Any, ...]:
        found = self._prepared.get(key)
        if found is None:
            found = model.prepare(view)
            self._prepared[key] = found
            if len(self._prepared) > self._cache_size:
                self._prepared.popitem(last=False)
        return found

    def warm(self, session: Session, spec: EntitySpec, *, chunk: int = 2_000) -> int:
        """Prepare the live, placed records of ``spec``'s type as ``score`` prepares them as
        candidates (their references resolved, kept in the resolution cache once the
        session commits), so the first newcomers after start-up do not pay for it; returns
        how many were prepared. For types with sibling candidates: a newcomer there is
        compared with every child of its parent (a department with the hundred departments
        of its facility), and a parent nobody asked about since start-up cost 10-25 ms on
        the request path. Stops before the prepared-values cache would evict anything.
        """
        if spec.matching is None:
            return 0
        model = self.models.active(session, spec).model
        context = ContextView(self.codes(session), self.specs, self.resolutions)
        key_of = context.context_key_of(spec)
        room = self._cache_size - len(self._prepared)
        done = 0
        rows = core_connection(session).execute(_PLACED_RECORDS, {"type": spec.name})
        for part in rows.partitions(chunk):
            part = part[: room - done]
            records = [(system, values) for _, _, system, values in part]
            views = context.views(session, spec, records)
            for (record_id, version, _, values), view in zip(part, views, strict=True):
                found = key_of(view)
                self._prepare(model, (spec.name, record_id, version, id(model), found), view)
                self._remember_shape(spec, (record_id, version), found, values)
            done += len(part)
            if done >= room:
                break
        return done

    def _remember_shape(
        self,
        spec: EntitySpec,
        record: tuple[int, int],
        context_key: tuple[Any, ...],
        values: Mapping[str, Any],
    ) -> None:
        """Keep what ``_prepared_candidates`` needs to key a stored record (id, version)
        whose view was built: the code book version and coded part of its context key,
        and its compared references."""
        coded = context_key[1 : 1 + len(spec.coded)]
        found = references_of(spec, values)
        refs = tuple(found.get(name) for name in compared_references(spec))
        self._shapes[(spec.name, *record, context_key[0])] = (coded, refs)
        if len(self._shapes) > self._cache_size:
            self._shapes.popitem(last=False)

    def _prepared_candidates(
        self,
        session: Session,
        spec: EntitySpec,
        context: ContextView,
        model: MatchModel,
        candidates: Sequence[CandidateRecord],
    ) -> list[tuple[Any, ...]]:
        """Each candidate's prepared values. A candidate seen before (same version, same
        code book) is keyed from its remembered shape and its references resolved now,
        and taken from the cache without reading its document; the others are parsed,
        viewed in context, prepared and remembered. Keys are the ones ``context_key_of``
        gives the candidate's view, so both ways find the same entries."""
        codes_version = context.codes.version
        model_id = id(model)
        shapes = [
            self._shapes.get((spec.name, c.record_id, c.version, codes_version)) for c in candidates
        ]
        wanted = {ref for shape in shapes if shape is not None for ref in shape[1] if ref}
        resolved = context.resolve(session, wanted) if wanted else {}
        out: list[tuple[Any, ...] | None] = []
        unknown: list[int] = []
        for i, (candidate, shape) in enumerate(zip(candidates, shapes, strict=True)):
            theirs = None
            if shape is not None:
                coded, refs = shape
                parents = (None if ref is None else resolved.get(ref) for ref in refs)
                key = (codes_version, *coded, *parents)
                theirs = self._prepared.get(
                    (spec.name, candidate.record_id, candidate.version, model_id, key)
                )
            if theirs is None:
                unknown.append(i)
            out.append(theirs)
        if unknown:
            context_key = context.context_key_of(spec)
            records = [(candidates[i].system, candidates[i].values) for i in unknown]
            views = context.views(session, spec, records)
            for i, (_, values), view in zip(unknown, records, views, strict=True):
                candidate = candidates[i]
                found = context_key(view)
                out[i] = self._prepare(
                    model,
                    (spec.name, candidate.record_id, candidate.version, model_id, found),
                    view,
                )
                self._remember_shape(spec, (candidate.record_id, candidate.version), found, values)
        ready = [theirs for theirs in out if theirs is not None]
        assert len(ready) == len(candidates)
        return ready

    def decide(
        self, session: Session, spec: EntitySpec, record: SourceRecord, keys: list[str]
    ) -> MatchDecision:
        if spec.matching is None:
            return self.exact.decide(session, spec, record, keys)
        scored = self.score(
            session, spec, record.standardized, record.id, keys, system=record.system
        )
        active = self.models.active(session, spec)
        decision = decide(
            scored,
            auto_threshold=active.auto_threshold,
            review_threshold=active.review_threshold,
            links=StoredCannotLinks(session, spec),
            record_id=record.id,
            golden_id=record.golden_id,
        )
        reason = "no candidate" if not scored else "no candidate above the auto threshold"
        return decision.as_match_decision(reason)

    def score(
        self,
        session: Session,
        spec: EntitySpec,
        values: dict[str, Any],
        record_id: int | None,
        keys: list[str],
        *,
        system: str = "",
        explain_all: bool = False,
        also: Sequence[int] = (),
    ) -> list[Candidate]:
        """Every candidate golden record with its best member's score, best first.

        Candidates scored below the review threshold carry their per-comparison
        explanation only with ``explain_all`` (a dry run shows them all; a decision drops
        them). ``also``: more stored records to compare with, whatever their keys.
        """
        assert spec.matching is not None
        active = self.models.active(session, spec)
        context = ContextView(self.codes(session), self.specs, self.resolutions)
        (mine_view,) = context.views(session, spec, [(system, values)])
        # The children of the same parent are candidates whatever their keys say.
        siblings = (
            sibling_records(session, spec, mine_view, spec.matching.max_block_size, context.codes)
            if spec.matching.sibling_candidates
            else []
        )
        candidates = candidate_records(
            session,
            spec,
            record_id,
            keys + _keys_through_codes(spec, values, mine_view, keys),
            spec.matching.max_block_size,
            sorted({*siblings, *also}),
        )
        model = active.model
        mine = model.prepare(mine_view)
        plan = spec_rules(spec.matching, model)
        prepared = self._prepared_candidates(session, spec, context, model, candidates)
        # Each golden record's best member, found from levels and weights alone; only the
        # ones that count (in the review band or above, or all when asked) are explained.
        best: dict[int, tuple[Judgement, CandidateRecord, tuple[Any, ...]]] = {}
        cleared: dict[int, set[int]] = defaultdict(set)  # golden -> members no veto held
        for candidate, theirs in zip(candidates, prepared, strict=True):
            found, weight = model.levels_prepared(mine, theirs)
            judged = plan.judge(
                found, probability(weight), active.review_threshold, active.auto_threshold
            )
            if not judged.vetoed_by:
                cleared[candidate.golden_id].add(candidate.record_id)
            current = best.get(candidate.golden_id)
            if current is not None and current[0].probability >= judged.probability:
                continue
            best[candidate.golden_id] = (judged, candidate, theirs)
        out = []
        for golden_id, (judged, candidate, theirs) in best.items():
            pair = None
            if explain_all or judged.probability >= active.review_threshold:
                (view,) = context.views(session, spec, [(candidate.system, candidate.values)])
                pair = model.score_prepared(mine_view, view, mine, theirs)
            explanation = explain(judged, active.version, candidate.record_id, pair)
            # A sure one is joined only if no other member holds another tax id.
            conflicts = (
                member_conflicts(session, spec, values, golden_id, cleared[golden_id])
                if judged.probability >= active.auto_threshold
                else ()
            )
            out.append(Candidate(golden_id, judged.probability, explanation, conflicts))
        return sorted(out, key=lambda c: (-c.score, c.golden_id))
