"""Learning code correspondences from strongly linked records.

Two live source records of one golden record, from different systems, that agree on a
validated identifier (or that a steward merged) describe the same thing: when one says
company ``HHN`` and the other ``1000``, that is one observation of ``HHN`` -> ``1000``.
Support counts the golden records showing a correspondence; conflicts count those showing
another value of the same system for the same source value.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import combinations, groupby
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from mdm.codes import LEARN, CodeBook, code_key, load_codebook
from mdm.errors import InvalidInputError
from mdm.reference.store import audit
from mdm.specs import Attribute, AttributeKind, EntitySpec, SpecRegistry
from mdm.store import CandidateStatus, CodeCorrespondence, MatchCandidate, SourceRecord, utcnow

MAX_GROUP = 50
"""Golden records with more members are skipped: pairs grow quadratically, and so large a
cluster is a matching problem to fix, not evidence to learn from."""

_BATCH = 2000
_MAX_VALUE = 300  # the columns' length

Observation = tuple[str, str, str, str, str]  # code set, system_a, value_a, system_b, value_b


@dataclass(frozen=True)
class LearnSummary:
    """What a learning run saw and changed."""

    entity_types: tuple[str, ...]
    golden_records: int  # golden records with members of several systems, scanned
    observations: int  # distinct (correspondence, golden record) pairs seen
    proposed: int  # new proposals
    updated: int  # proposals whose support or conflicts changed
    decided: int  # observed correspondences a steward already decided (left alone)
    skipped_golden_records: int  # larger than MAX_GROUP
    version: int


@dataclass(frozen=True)
class _Member:
    id: int
    system: str
    values: dict[str, Any]


def learn_correspondences(session: Session, specs: SpecRegistry, actor: str) -> LearnSummary:
    """Count correspondences of coded values between strongly linked records; upsert them
    as proposals.

    Only entity types with coded attributes are read, and of them only golden records with
    live members of several systems, streamed in golden-record order. Existing proposals
    get fresh support and conflict counts; accepted and rejected ones are never touched
    or proposed again.
    """
    book = load_codebook(session)
    counts: Counter[Observation] = Counter()
    origin: dict[Observation, tuple[str, str]] = {}
    scanned = skipped = 0
    types = []
    for spec in specs.values():
        if not spec.coded:
            continue
        types.append(spec.name)
        approved = _steward_approved(session, spec)
        for golden_id, members in _groups(session, spec):
            if len(members) > MAX_GROUP:
                skipped += 1
                continue
            scanned += 1
            seen = _observations(spec, book, golden_id, members, approved, origin)
            counts.update(seen)
    code_sets = {a.code_set for n in types for a in specs[n].coded if a.code_set is not None}
    proposed, updated, decided = _upsert(session, counts, origin, code_sets)
    version = audit(
        session,
        actor,
        LEARN,
        ",".join(sorted(code_sets))[:200] or None,
        {
            "entity_types": types,
            "golden_records": scanned,
            "observations": sum(counts.values()),
            "proposed": proposed,
            "updated": updated,
            "decided": decided,
            "skipped_golden_records": skipped,
        },
    )
    return LearnSummary(
        tuple(types), scanned, sum(counts.values()), proposed, updated, decided, skipped, version
    )


def _steward_approved(session: Session, spec: EntitySpec) -> set[tuple[int, int]]:
    """(source record, golden record) pairs a steward merged."""
    rows = session.execute(
        select(MatchCandidate.source_record_id, MatchCandidate.golden_id).where(
            MatchCandidate.entity_type == spec.name,
            MatchCandidate.status == CandidateStatus.MERGED.value,
        )
    )
    return {(r, g) for r, g in rows}


def _groups(session: Session, spec: EntitySpec) -> Iterator[tuple[int, list[_Member]]]:
    live = (
        SourceRecord.entity_type == spec.name,
        SourceRecord.is_deleted.is_(False),
        SourceRecord.golden_id.is_not(None),
    )
    several_systems = (
        select(SourceRecord.golden_id)
        .where(*live)
        .group_by(SourceRecord.golden_id)
        .having(func.count(func.distinct(SourceRecord.system)) > 1)
    )
    rows = session.execute(
        select(
            SourceRecord.golden_id, SourceRecord.id, SourceRecord.system, SourceRecord.standardized
        )
        .where(*live, SourceRecord.golden_id.in_(several_systems))
        .order_by(SourceRecord.golden_id, SourceRecord.id),
        execution_options={"yield_per": _BATCH},
    )
    for golden_id, group in groupby(rows, key=lambda r: r[0]):
        yield golden_id, [_Member(i, s, v or {}) for _, i, s, v in group]


def _observations(
    spec: EntitySpec,
    book: CodeBook,
    golden_id: int,
    members: Sequence[_Member],
    approved: set[tuple[int, int]],
    origin: dict[Observation, tuple[str, str]],
) -> set[Observation]:
    identifiers = [a.name for a in spec.attributes if a.kind is AttributeKind.IDENTIFIER]
    seen: set[Observation] = set()
    for left, right in combinations(members, 2):
        if left.system == right.system:
            continue
        linked = (left.id, golden_id) in approved or (right.id, golden_id) in approved
        linked = linked or any(
            left.values.get(i) is not None and left.values.get(i) == right.values.get(i)
            for i in identifiers
        )
        if not linked:
            continue
        for attribute in spec.coded:
            for observation in _pair(book, attribute, left, right):
                seen.add(observation)
                origin.setdefault(observation, (spec.name, attribute.name))
    return seen


def _pair(
    book: CodeBook, attribute: Attribute, left: _Member, right: _Member
) -> Iterable[Observation]:
    code_set = attribute.code_set
    a, b = left.values.get(attribute.name), right.values.get(attribute.name)
    if code_set is None or a is None or b is None:
        return
    a_key, b_key = code_key(str(a)), code_key(str(b))
    if a_key == b_key or max(len(a_key), len(b_key)) > _MAX_VALUE:
        return
    canonical = book.codes.get(code_set)
    for (system_a, value_a), (system_b, value_b) in (
        ((left.system, a_key), (right.system, b_key)),
        ((right.system, b_key), (left.system, a_key)),
    ):
        if canonical is not None and (
            value_a in canonical or (code_set, system_a, value_a) in book.transcodings
        ):
            continue  # already canonical or mapped: nothing to learn
        yield code_set, system_a, value_a, system_b, value_b


def _upsert(
    session: Session,
    counts: Counter[Observation],
    origin: dict[Observation, tuple[str, str]],
    code_sets: set[str],
) -> tuple[int, int, int]:
    totals: Counter[tuple[str, str, str, str]] = Counter()
    for (code_set, system_a, value_a, system_b, _), n in counts.items():
        totals[(code_set, system_a, value_a, system_b)] += n
    now = utcnow()
    updated = decided = 0
    existing: set[Observation] = set()
    if code_sets:
        stored = session.scalars(
            select(CodeCorrespondence).where(CodeCorrespondence.code_set.in_(code_sets))
        )
        for row in stored:
            key = (row.code_set, row.system_a, row.value_a, row.system_b, row.value_b)
            existing.add(key)
            if row.status != "proposed":
                decided += key in counts
                continue
            support = counts.get(key, 0)
            conflicts = totals.get(key[:4], 0) - support
            if (row.support, row.conflicts) != (support, conflicts):
                row.support, row.conflicts, row.updated_at = support, conflicts, now
                updated += 1
    new = [
        {
            "code_set": key[0],
            "entity_type": origin[key][0],
            "attribute": origin[key][1],
            "system_a": key[1],
            "value_a": key[2],
            "system_b": key[3],
            "value_b": key[4],
            "support": n,
            "conflicts": totals[key[:4]] - n,
            "status": "proposed",
            "updated_at": now,
        }
        for key, n in sorted(counts.items())
        if key not in existing
    ]
    if new:
        session.execute(insert(CodeCorrespondence), new)
    session.flush()
    return len(new), updated, decided


CORRESPONDENCE_STATUSES = ("proposed", "accepted", "rejected")


def list_correspondences(
    session: Session,
    status: str | None = None,
    *,
    code_set: str | None = None,
    limit: int = 500,
) -> list[CodeCorrespondence]:
    """Learned correspondences, best supported first.

    Raises:
        InvalidInputError: an unknown status (``field`` is ``status``).
    """
    query = select(CodeCorrespondence)
    if status is not None:
        if status not in CORRESPONDENCE_STATUSES:
            raise InvalidInputError(
                f"unknown status {status!r} (one of {', '.join(CORRESPONDENCE_STATUSES)})",
                field="status",
            )
        query = query.where(CodeCorrespondence.status == status)
    if code_set is not None:
        query = query.where(CodeCorrespondence.code_set == code_set)
    order = (CodeCorrespondence.support.desc(), CodeCorrespondence.id)
    return list(session.scalars(query.order_by(*order).limit(limit)))
