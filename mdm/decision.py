"""The decision after scoring, shared by every path that decides: what a record's scored
candidate golden records make of it.

``decide`` takes the candidates (each a golden record with its best member's judged
probability) and returns the golden record the record joins (the best sure one), the other
sure ones it *bridges* (they are one entity with it, so they are merged), and the unsure
ones a steward should see. Cannot-links are applied on the way: a candidate the record
was rejected for is dropped; a sure candidate that cannot be put together with the
record's own golden record, with the best one, or with a bridge already taken, goes to
review instead, saying why. Two golden records cannot be put together when a steward
rejected a member of one for the other, or when a member of one and a member of the other
hold identifiers the spec vetoes (two different tax ids: ``identifier_conflicts``): a
record without a tax id, sure of two vendors with different ones, must not bridge them.
Nor may a record join a golden record one of whose members holds an identifier the spec
vetoes with the record's (``member_conflicts``): a golden record scores as its best
member, which may hold no tax id while another member holds another one. Constraints
hold per golden record, not only per scored pair.

Record-by-record ingest (``ScoringMatcher.decide``), the dry run (``mdm.preview``),
re-evaluation (``Ingestor.redecide``) and the bulk path (its review step and its sibling
pass) all decide through it; they differ only in how they find and score candidates, and
in where they write the outcome.

Cannot-links are read through ``CannotLinks``: ``StoredCannotLinks`` asks the store
(following merges: a rejection of a golden record holds against the one it was merged
into; members' identifiers as stored). A first bulk load holds no rejection: its
clustering keeps apart the records a veto on identifiers holds apart, and its review
step reads why two clusters were kept apart through ``mdm.bulk.writing``'s own
``CannotLinks``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from matchers import Comparison, RulePlan, rule_plan
from mdm.golden import live_goldens
from mdm.specs import AttributeKind, EntitySpec, MatchSettings
from mdm.store import CandidateStatus, MatchCandidate, SourceRecord, core_connection

REJECTED_APART = "a steward rejected a member of one golden record for the other"


class Action(StrEnum):
    JOIN = "join"  # join the golden record ``golden_id``
    NEW = "new"  # start a new golden record


@dataclass(frozen=True)
class Candidate:
    """A golden record the record might belong to, with the evidence."""

    golden_id: int
    score: float
    explanation: dict[str, Any]
    # Vetoes on identifiers between the record and a member it was not scored with in
    # full (``member_conflicts``): a golden record scores as its best member, and another
    # may hold another tax id. Such a candidate is never joined automatically.
    conflicts: tuple[str, ...] = ()


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

    def apart(self, a: int, b: int) -> str | None:
        """Why two golden records must never be one (a member of one was rejected for the
        other; members hold identifiers the spec vetoes), or None."""
        ...


class _NoCannotLinks:
    def rejected(self, record_id: int | None, golden_ids: Collection[int]) -> set[int]:
        return set()

    def apart(self, a: int, b: int) -> str | None:
        return None


NO_CANNOT_LINKS: CannotLinks = _NoCannotLinks()
"""No rejection and nothing apart: a decision on the scores (and candidates' conflicts)
alone."""


class StoredCannotLinks:
    """The rejections in the store (``cannot_link_goldens``, ``goldens_cannot_link``) and
    the identifiers of ``spec``'s golden records' members (``identifier_conflicts``)."""

    def __init__(self, session: Session, spec: EntitySpec) -> None:
        self.session = session
        self.spec = spec

    def rejected(self, record_id: int | None, golden_ids: Collection[int]) -> set[int]:
        return cannot_link_goldens(self.session, record_id, golden_ids)

    def apart(self, a: int, b: int) -> str | None:
        if goldens_cannot_link(self.session, a, b):
            return REJECTED_APART
        return bridge_refusal(identifier_conflicts(self.session, self.spec, a, b))


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


Condition = tuple[str, str]  # (comparison name, level name)


@dataclass(frozen=True)
class _IdentifierRules:
    """A spec's comparisons of identifiers alone, with the vetoes and decisive rules that
    name nothing else: what two golden records' members can be judged by without their
    context (codes, parents)."""

    comparisons: tuple[Comparison[Any], ...]
    plan: RulePlan
    vetoes: tuple[Condition, ...]
    decisive: tuple[tuple[Condition, ...], ...]


# By settings id, with the settings kept (so the id stays theirs): worked out once.
_IDENTIFIER_RULES: dict[int, tuple[MatchSettings, _IdentifierRules | None]] = {}


def _identifier_rules(spec: EntitySpec) -> _IdentifierRules | None:
    settings = spec.matching
    if settings is None:
        return None
    cached = _IDENTIFIER_RULES.get(id(settings))
    if cached is None or cached[0] is not settings:
        cached = (settings, _plan_identifier_rules(spec, settings))
        _IDENTIFIER_RULES[id(settings)] = cached
    return cached[1]


def _plan_identifier_rules(spec: EntitySpec, settings: MatchSettings) -> _IdentifierRules | None:
    comparisons = tuple(c for c in settings.comparisons if _reads_identifiers(spec, c))
    names = {c.name for c in comparisons}
    vetoes = tuple((name, level) for name, level in settings.vetoes if name in names)
    decisive = tuple(
        tuple(rule) for rule in settings.decisive if all(name in names for name, _ in rule)
    )
    if not vetoes:
        return None
    return _IdentifierRules(comparisons, rule_plan(comparisons, vetoes, decisive), vetoes, decisive)


def _reads_identifiers(spec: EntitySpec, comparison: Comparison[Any]) -> bool:
    kinds = {getattr(spec.attribute(name), "kind", None) for name in comparison.attributes}
    return kinds == {AttributeKind.IDENTIFIER}


def identifier_vetoes(
    spec: EntitySpec,
) -> tuple[tuple[Condition, ...], tuple[tuple[Condition, ...], ...]]:
    """The spec's vetoes on identifiers and its decisive rules on identifiers alone: the
    constraints that hold per golden record (``identifier_conflicts``), which a first
    load's clustering holds too (``matchers.value_conflicts``)."""
    rules = _identifier_rules(spec)
    return ((), ()) if rules is None else (rules.vetoes, rules.decisive)


_MEMBER_VALUES = select(SourceRecord.golden_id, SourceRecord.id, SourceRecord.standardized).where(
    SourceRecord.golden_id.in_(bindparam("goldens", expanding=True)),
    SourceRecord.is_deleted.is_(False),
)


def _member_identifiers(
    session: Session, rules: _IdentifierRules, goldens: list[int], cleared: Collection[int] = ()
) -> dict[int, list[tuple[Any, ...]]]:
    """Per golden record, the distinct prepared identifiers of its live members (but the
    ``cleared`` ones)."""
    distinct: dict[int, list[tuple[Any, ...]]] = {golden_id: [] for golden_id in goldens}
    rows = core_connection(session).execute(_MEMBER_VALUES, {"goldens": goldens})
    for golden_id, record_id, values in rows:
        if record_id in cleared:
            continue
        prepared = tuple(c.prepare(values or {}) for c in rules.comparisons)
        if prepared not in distinct[golden_id]:
            distinct[golden_id].append(prepared)
    return distinct


def _vetoes_between(
    rules: _IdentifierRules, lefts: list[tuple[Any, ...]], rights: list[tuple[Any, ...]]
) -> tuple[str, ...]:
    found: set[str] = set()
    for left in lefts:
        for right in rights:
            levels = [c.level(x, y) for c, x, y in zip(rules.comparisons, left, right, strict=True)]
            found.update(rules.plan.judge(levels, 1.0, 1.0, 1.0).vetoed_by)
    return tuple(sorted(found))


def identifier_conflicts(session: Session, spec: EntitySpec, a: int, b: int) -> tuple[str, ...]:
    """The spec's vetoes on identifiers (``tax_id.different``) that hold between a member
    of golden record ``a`` and a member of ``b``, unless a decisive rule on identifiers
    holds for the same two members: the pair-by-pair vetoes, checked for golden records as
    wholes. Empty when nothing keeps them apart (a member without the identifier, a tax id
    a keystroke from the other: those are evidence, not constraints)."""
    rules = _identifier_rules(spec)
    if rules is None or a == b:
        return ()
    distinct = _member_identifiers(session, rules, [a, b])
    return _vetoes_between(rules, distinct[a], distinct[b])


def member_conflicts(
    session: Session,
    spec: EntitySpec,
    values: Mapping[str, Any],
    golden_id: int,
    cleared: Collection[int] = (),
) -> tuple[str, ...]:
    """``identifier_conflicts`` between a record (its standardized ``values``) and the
    members of golden record ``golden_id``, but the ``cleared`` members (the record was
    scored with them in full, and no veto held: their judgement stands)."""
    rules = _identifier_rules(spec)
    if rules is None:
        return ()
    mine = tuple(c.prepare(values) for c in rules.comparisons)
    if all(value is None for value in mine):
        return ()
    theirs = _member_identifiers(session, rules, [golden_id], cleared)[golden_id]
    return _vetoes_between(rules, [mine], theirs)


def bridge_refusal(conflicts: Sequence[str]) -> str | None:
    """Why a record may not bridge two golden records whose members hold ``conflicts``
    (from ``identifier_conflicts``), or None when there are none."""
    if not conflicts:
        return None
    return f"would bridge two golden records with different {_names(conflicts)}s " + (
        f"({', '.join(conflicts)})"
    )


def join_refusal(conflicts: Sequence[str]) -> str | None:
    """Why a record may not join a golden record when it and a member hold ``conflicts``
    (from ``member_conflicts``), or None when there are none."""
    if not conflicts:
        return None
    return f"a member of the golden record holds another {_names(conflicts)} " + (
        f"({', '.join(conflicts)})"
    )


def _names(conflicts: Sequence[str]) -> str:
    """``tax_id.different`` -> ``tax id``."""
    return " and ".join(sorted({label.split(".", 1)[0].replace("_", " ") for label in conflicts}))


@dataclass(frozen=True)
class Decision:
    """What a record's scored candidates decide (see ``decide``).

    Attributes:
        best: The sure candidate the record joins (the highest score), if any.
        bridges: The other sure candidates, to merge with ``best``: the record is sure of
            them all, so they are one entity.
        refused: Sure candidates a cannot-link keeps apart from the record's own golden
            record, from ``best`` or from a bridge: for review instead, their explanation
            saying why (``refused``).
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
    rejected for is dropped; a sure one that a cannot-link (``CannotLinks.apart``) keeps
    apart from the record's own golden record (``golden_id``, when the record is placed
    and takes it along), from the best one or from a bridge taken before, or whose
    members hold an identifier the record's vetoes (``Candidate.conflicts``: a golden
    record scores as its best member, and another may hold another tax id) is refused
    (sent to review, with the reason in its explanation).

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
            continue
        reason = join_refusal(candidate.conflicts) or next(
            (why for other in taken if (why := links.apart(candidate.golden_id, other))), None
        )
        if reason is None:
            taken.append(candidate.golden_id)
            joined.append(candidate)
        else:
            refused.append(
                replace(candidate, explanation={**candidate.explanation, "refused": reason})
            )
    if not joined:
        return Decision(refused=tuple(refused), unsure=unsure)
    return Decision(joined[0], tuple(joined[1:]), tuple(refused), unsure)
