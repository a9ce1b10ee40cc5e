"""Propagation: children whose match decisions depended on a parent that changed.

A department was compared with other departments through its facility's golden record; a
cost center through its location's. When that parent golden record is merged (or a parent
that was referred to before it existed arrives), what those comparisons say changes. The
children are queued in ``reevaluation`` and worked off a bounded number at a time (after
each ingested record, at the end of a load, or with ``mdm match reevaluate``); the rows not
yet processed are the visible backlog. Re-evaluating a record decides it again against its
candidates: a newly sure match joins (merging golden records unless a steward's rejection
forbids it), an unsure one goes to review; cannot-links always hold.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Select, bindparam, func, insert, select
from sqlalchemy.orm import Session

from mdm.codes import CodeBook, code_key
from mdm.context import (
    REFERENCE_KIND,
    compared_references,
    parent_goldens,
    reference_key,
    reference_of_key,
)
from mdm.golden import ChangeContext
from mdm.specs import EntitySpec, SpecRegistry
from mdm.store import MatchKeyRow, Reevaluation, SourceRecord, core_connection, utcnow

_CHUNK = 500

PARENT_ARRIVED = "parent_arrived"
"""The re-evaluation reason of the children of a record that arrived after them."""
PARENT_MERGED = "parent_merged"
"""The re-evaluation reason of the children of a merge survivor (``mdm.merging``)."""
PARENT_UNMERGED = "parent_unmerged"
"""The re-evaluation reason of the children of an unmerged golden record (``mdm.unmerge``)."""

CHILDREN_PER_CHANGE = 1_000
"""Children queued by the change itself; the rest are queued from the backlog, this many at
a time (a distributor's record can have a hundred thousand items referring to it)."""

EXPAND_CHILDREN = "expand_children"
"""The reason of a backlog row that queues the next children of a parent (its record is
the parent's; its cause ``record|golden`` (whose children) ``|reason|after id|cause``)."""


def child_types(specs: SpecRegistry, parent_type: str) -> list[str]:
    """Entity types whose comparisons read a reference to ``parent_type``."""
    children = []
    for name in specs:
        spec = specs.get_spec(name)
        if any(
            (a := spec.attribute(ref)) is not None and a.reference == parent_type
            for ref in compared_references(spec)
        ):
            children.append(name)
    return children


# Run for every new record: built once (building costs more than running it).
_CHILDREN_AFTER = (
    select(MatchKeyRow.source_record_id, MatchKeyRow.entity_type)
    .where(
        MatchKeyRow.entity_type.in_(bindparam("types", expanding=True)),
        MatchKeyRow.key.in_(bindparam("keys", expanding=True)),
        MatchKeyRow.kind == REFERENCE_KIND,
        MatchKeyRow.source_record_id > bindparam("after"),
    )
    .order_by(MatchKeyRow.source_record_id)
    .limit(bindparam("limit"))
)


def enqueue_children(
    session: Session,
    specs: SpecRegistry,
    parent: EntitySpec,
    members: Iterable[tuple[str, str]],
    *,
    reason: str,
    cause: str | None,
    anchor: int,
    after: int = 0,
    golden_wide: bool = False,
) -> int:
    """Queue the live children of the parent records ``(system, source id)``; returns how
    many were queued (a child already waiting is not queued twice).

    At most ``CHILDREN_PER_CHANGE`` children with ids above ``after`` are queued now; a
    backlog row on ``anchor`` (the id of a parent record: the only member given, or with
    ``golden_wide`` one of its golden record's members, all given) queues the next ones of
    the same parents when it is worked off: the change that caused it stays bounded, and
    no child is left out.
    """
    types = child_types(specs, parent.name)
    keys = sorted({reference_key(parent.name, system, source_id) for system, source_id in members})
    if not types or not keys:
        return 0
    limit = CHILDREN_PER_CHANGE
    rows = (
        core_connection(session)
        .execute(
            _CHILDREN_AFTER,
            {"types": list(types), "keys": keys, "after": after, "limit": limit + 1},
        )
        .all()
    )
    more = len(rows) > limit
    rows = rows[:limit]
    queued = _queue(
        session,
        [
            {"entity_type": kind, "source_record_id": rid, "reason": reason, "cause": cause}
            for rid, kind in sorted(dict(rows).items())
        ],
    )
    if more:
        # Inserted as is: the parent record may be waiting itself, as a child.
        core_connection(session).execute(
            _QUEUE,
            [
                {
                    "entity_type": parent.name,
                    "source_record_id": anchor,
                    "reason": EXPAND_CHILDREN,
                    "cause": (
                        f"{'golden' if golden_wide else 'record'}|{reason}|{rows[-1][0]}|"
                        f"{cause or ''}"
                    )[:200],
                }
            ],
        )
    return queued


def enqueue_golden_children(
    session: Session,
    specs: SpecRegistry,
    parent: EntitySpec,
    golden_id: int,
    *,
    reason: str,
    cause: str | None,
    after: int = 0,
) -> int:
    """Queue the children of every member of a (parent) golden record (the first
    ``CHILDREN_PER_CHANGE`` now, the next ones from the backlog; see ``enqueue_children``)."""
    members = session.execute(
        select(SourceRecord.id, SourceRecord.system, SourceRecord.source_id)
        .where(SourceRecord.golden_id == golden_id)
        .order_by(SourceRecord.id)
    ).all()
    if not members:
        return 0
    return enqueue_children(
        session,
        specs,
        parent,
        [(s, i) for _, s, i in members],
        reason=reason,
        cause=cause,
        anchor=members[0][0],
        after=after,
        golden_wide=True,
    )


@dataclass(frozen=True)
class Backlog:
    """Re-evaluations waiting: how many, and since when."""

    pending: int
    oldest: datetime | None
    by_entity_type: dict[str, int]


def backlog(session: Session) -> Backlog:
    rows = session.execute(
        select(Reevaluation.entity_type, func.count(), func.min(Reevaluation.enqueued_at))
        .where(Reevaluation.processed_at.is_(None))
        .group_by(Reevaluation.entity_type)
    ).all()
    oldest = min((r[2] for r in rows if r[2] is not None), default=None)
    return Backlog(sum(r[1] for r in rows), oldest, {r[0]: r[1] for r in rows})


class Redecider(Protocol):
    """What re-evaluation needs of the pipeline (``mdm.ingest.Ingestor`` is one): the
    specs, and deciding a stored record again."""

    @property
    def specs(self) -> SpecRegistry: ...

    def redecide(
        self, session: Session, record_id: int, ctx: ChangeContext, *, reason: str | None = None
    ) -> str:
        """Decide a stored record again; returns what happened."""
        ...


def reevaluate(
    session: Session, redecider: Redecider, ctx: ChangeContext, *, limit: int
) -> list[tuple[int, str]]:
    """Work off up to ``limit`` queued re-evaluations, oldest first, deciding each record
    again with ``redecider``.

    Returns ``(source record id, outcome)`` per processed row.
    """
    queued = session.scalars(
        select(Reevaluation)
        .where(Reevaluation.processed_at.is_(None))
        .order_by(Reevaluation.id)
        .limit(limit)
    ).all()
    done = []
    for row in queued:
        with session.begin_nested():
            if row.reason == EXPAND_CHILDREN:
                outcome = _expand(session, redecider.specs, row)
            else:
                outcome = redecider.redecide(session, row.source_record_id, ctx, reason=row.reason)
            row.processed_at = utcnow()
            row.outcome = outcome[:200]
        done.append((row.source_record_id, outcome))
    return done


def _expand(session: Session, specs: SpecRegistry, row: Reevaluation) -> str:
    """Queue the next children of the parent a backlog row names (see ``enqueue_children``):
    those of the record, or of its golden record's members now, after the last child
    queued before."""
    parts = (row.cause or "").split("|", 3)
    parent = session.get(SourceRecord, row.source_record_id)
    if len(parts) != 4 or not parts[2].isdigit():
        return f"skipped: unreadable cause {row.cause!r}"
    if parent is None:
        return "skipped: the parent record is gone"
    scope, reason, after, cause = parts
    spec = specs.get_spec(parent.entity_type)
    if scope == "golden" and parent.golden_id is not None:
        queued = enqueue_golden_children(
            session, specs, spec, parent.golden_id, reason=reason, cause=cause or None,
            after=int(after),
        )  # fmt: skip
    else:
        queued = enqueue_children(
            session, specs, spec, [(parent.system, parent.source_id)], reason=reason,
            cause=cause or None, anchor=parent.id, after=int(after),
        )  # fmt: skip
    return f"queued {queued} more children"


def enqueue_learned(session: Session, specs: SpecRegistry, book: CodeBook) -> int:
    """Queue the records, still alone in their golden record, whose unmapped coded values a
    learned correspondence now explains (it became evidence after they were matched)."""
    if not book.learned:
        return 0
    queued: list[dict[str, Any]] = []
    for name in specs:
        spec = specs.get_spec(name)
        code_sets = {a.name: a.code_set for a in spec.coded if a.code_set is not None}
        if not code_sets:
            continue
        rows = session.execute(
            select(SourceRecord.id, SourceRecord.system, SourceRecord.findings).where(
                SourceRecord.entity_type == spec.name,
                SourceRecord.is_deleted.is_(False),
                SourceRecord.golden_id.in_(_alone_goldens(spec.name)),
            )
        )
        for record_id, system, findings in rows:
            for finding in findings or ():
                code_set = code_sets.get(finding.get("attribute") or "")
                if (
                    finding.get("code") == "UNMAPPED_VALUE"
                    and code_set is not None
                    and (code_set, system, code_key(str(finding.get("value")))) in book.learned
                ):
                    queued.append(
                        {
                            "entity_type": spec.name,
                            "source_record_id": record_id,
                            "reason": "learned_correspondence",
                            "cause": f"{code_set}:{system}:{finding.get('value')}",
                        }
                    )
                    break
    return _queue(session, queued)


def sibling_groups(
    session: Session, spec: EntitySpec, parent_type: str
) -> list[list[tuple[int, int | None]]]:
    """The live records of ``spec``'s type grouped by the golden record their reference to
    ``parent_type`` resolves to: ``(record id, its golden id)`` per child, one list per
    parent golden record with two or more children in different golden records."""
    prefix = reference_key(parent_type, "", "").rstrip("|")
    rows = session.execute(
        select(MatchKeyRow.source_record_id, MatchKeyRow.key, SourceRecord.golden_id)
        .join(SourceRecord, SourceRecord.id == MatchKeyRow.source_record_id)
        .where(
            MatchKeyRow.entity_type == spec.name,
            MatchKeyRow.kind == REFERENCE_KIND,
            MatchKeyRow.key.startswith(prefix),
            SourceRecord.is_deleted.is_(False),
        )
        .order_by(MatchKeyRow.source_record_id)
    ).all()
    parents = parent_goldens(session, {reference_of_key(key) for _, key, _ in rows})
    groups: dict[int, dict[int, int | None]] = defaultdict(dict)
    for record_id, key, golden_id in rows:
        if (parent := parents.get(reference_of_key(key))) is not None:
            groups[parent][record_id] = golden_id
    return [
        sorted(members.items())
        for _, members in sorted(groups.items())
        if len(set(members.values())) > 1
    ]


def alone_records(session: Session, entity_type: str) -> set[int]:
    """Live records of a type that are the only live member of their golden record."""
    return set(
        session.scalars(
            select(SourceRecord.id).where(
                SourceRecord.entity_type == entity_type,
                SourceRecord.is_deleted.is_(False),
                SourceRecord.golden_id.in_(_alone_goldens(entity_type)),
            )
        )
    )


def _alone_goldens(entity_type: str) -> Select[int | None]:
    """Golden records of a type with a single live member: only such records can gain
    from being decided again (the others are placed)."""
    return (
        select(SourceRecord.golden_id)
        .where(SourceRecord.entity_type == entity_type, SourceRecord.is_deleted.is_(False))
        .group_by(SourceRecord.golden_id)
        .having(func.count() == 1)
    )


# A merge of a parent queues its children on the request path: built once, run as Core.
_WAITING = select(Reevaluation.source_record_id).where(
    Reevaluation.processed_at.is_(None),
    Reevaluation.source_record_id.in_(bindparam("ids", expanding=True)),
)
_QUEUE = insert(Reevaluation)


def _queue(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert re-evaluation rows, skipping records already waiting; returns how many."""
    connection = core_connection(session)
    ids = sorted({row["source_record_id"] for row in rows})
    waiting: set[int] = set()
    for start in range(0, len(ids), _CHUNK):
        waiting.update(connection.scalars(_WAITING, {"ids": ids[start : start + _CHUNK]}))
    fresh = []
    for row in rows:
        if row["source_record_id"] not in waiting:
            waiting.add(row["source_record_id"])
            fresh.append(row)
    if fresh:
        connection.execute(_QUEUE, fresh)
    return len(fresh)
