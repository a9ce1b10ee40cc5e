"""Ingest: the shared pipeline every source record goes through.

standardize -> store source (idempotent) -> match keys -> decide -> survivorship -> event
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, bindparam, delete, insert, select
from sqlalchemy.exc import DataError, IntegrityError, StatementError
from sqlalchemy.orm import Session

from mdm.codes import CodeBook, CodeBookCache
from mdm.context import REFERENCE_KIND, REFERENCE_PREFIX, reference_keys
from mdm.decision import Action, Candidate, MatchDecision
from mdm.errors import BatchTooLargeError, InvalidInputError, MdmError, MissingSourceIdError
from mdm.golden import ChangeContext, create_golden, live_golden, refresh_golden
from mdm.locators import (
    LOCATOR_KIND,
    LOCATOR_PREFIX,
    WAITING_KIND,
    WAITING_PREFIX,
    is_located,
    locate_standardized,
    locator_keys,
    relocate,
    relocate_children,
    waiting_for,
    waiting_keys,
)
from mdm.match_models import MatchModels
from mdm.matching import Matcher, ScoringMatcher
from mdm.merging import fold_all, fold_into
from mdm.reevaluate import PARENT_ARRIVED, PARENT_UNMERGED, enqueue_children, reevaluate
from mdm.screening import (
    SOURCE_ID_LENGTH,
    SYSTEM_LENGTH,
    column_length,
    is_plain_json,
    require_identifier,
    storable,
    storable_text,
)
from mdm.specs import DEFAULT_SPECS, EntitySpec, SpecRegistry
from mdm.standardize import BLOCKING_PREFIX, record_findings, record_keys, standardize
from mdm.store import (
    CandidateStatus,
    GoldenRecord,
    IngestRejection,
    MatchCandidate,
    MatchKeyRow,
    Reevaluation,
    SourceRecord,
    core_connection,
    utcnow,
)
from mdm.store.locks import lock_for_matching
from mdm.systems import SystemDirectory

log = logging.getLogger(__name__)


# Statements of every ingest, built once: building one costs more than running it.
_SOURCE_RECORD = select(SourceRecord).where(
    SourceRecord.entity_type == bindparam("type"),
    SourceRecord.system == bindparam("system"),
    SourceRecord.source_id == bindparam("source_id"),
)
_DELETE_KEYS = delete(MatchKeyRow).where(MatchKeyRow.source_record_id == bindparam("record_id"))
_INSERT_KEYS = insert(MatchKeyRow)
_OTHER_MEMBER = (
    select(SourceRecord.id)
    .where(
        SourceRecord.golden_id == bindparam("golden_id"),
        SourceRecord.id != bindparam("record_id"),
        SourceRecord.is_deleted.is_(False),
    )
    .limit(1)
)
_OTHER_MEMBERS = _OTHER_MEMBER.limit(200)  # a golden record's other members, for a doubt


class IngestStatus(StrEnum):
    CREATED = "created"  # a new source record
    UPDATED = "updated"  # changed content: a new version
    UNCHANGED = "unchanged"  # same content as stored: nothing written
    DELETED = "deleted"  # a source deletion (soft)
    REJECTED = "rejected"  # refused; kept in ingest_rejection with the reason


@dataclass(frozen=True)
class RecordInput:
    """One source record as a system delivers it, in canonical attribute names."""

    entity_type: str
    system: str
    source_id: str
    attributes: Mapping[str, Any] = field(default_factory=dict)
    is_deleted: bool = False
    date_format: str | None = None
    origin: str | None = None  # file:line or request, for the rejection log


@dataclass(frozen=True)
class IngestOutcome:
    status: IngestStatus
    entity_type: str
    system: str
    source_id: str
    golden_id: str | None = None
    version: int | None = None
    findings: tuple[dict[str, Any], ...] = ()
    error: MdmError | None = None
    rejection_id: int | None = None


class Ingestor:
    """Runs records through the pipeline inside the caller's transaction."""

    def __init__(
        self,
        specs: SpecRegistry = DEFAULT_SPECS,
        matcher: Matcher | None = None,
        *,
        max_batch_size: int = 1000,
        codes: Callable[[Session], CodeBook] | None = None,
        reevaluate_per_change: int = 0,
    ) -> None:
        self.specs = specs
        self.models = MatchModels()
        self.codes: Callable[[Session], CodeBook] = codes or CodeBookCache().get
        self.matcher: Matcher = matcher or ScoringMatcher(
            self.models, codes=self.codes, specs=specs
        )
        self.systems = SystemDirectory()
        self.max_batch_size = max_batch_size
        self.reevaluate_per_change = reevaluate_per_change

    def ingest(
        self,
        session: Session,
        record: RecordInput,
        *,
        actor: str | None = None,
        correlation_id: str | None = None,
    ) -> IngestOutcome:
        """Ingest one record; it lands whole or raises ``MdmError`` with nothing written.

        Raises:
            MdmError: the record is refused (unknown system or type, bad attribute...).
        """
        ctx = ChangeContext(actor, correlation_id)
        try:
            outcome = self._ingest_in_savepoint(session, record, ctx)
        except IntegrityError:
            # Another transaction inserted the same (type, system, source id) first:
            # run again, now as an update of that row.
            outcome = self._ingest_in_savepoint(session, record, ctx)
        if self.reevaluate_per_change and outcome.status is not IngestStatus.UNCHANGED:
            self.work_backlog(session, ctx, limit=self.reevaluate_per_change)
        return outcome

    def _ingest_in_savepoint(
        self, session: Session, record: RecordInput, ctx: ChangeContext
    ) -> IngestOutcome:
        """One record in a savepoint of its own: a statement the database refuses rolls back
        this record only (on PostgreSQL it would otherwise abort the whole transaction, and
        every record after it), and the record is refused like any other."""
        try:
            with session.begin_nested():
                return self._ingest(session, record, ctx)
        except IntegrityError:
            raise
        except (DataError, StatementError, UnicodeEncodeError, OverflowError) as error:
            # Drivers raise encoding and range errors as they are, or wrapped.
            cause = error.orig if isinstance(error, StatementError) else error
            if not isinstance(error, DataError) and not isinstance(
                cause, UnicodeEncodeError | OverflowError | ValueError
            ):
                raise  # not about a value (a lost connection…): the caller's to handle
            # Screening (``mdm.screening``) refuses the known causes first; this is the net.
            log.warning("the database refused a value of a record", exc_info=True)
            raise InvalidInputError(
                f"the database refused a value of this record ({type(cause).__name__})"
            ) from None

    def work_backlog(self, session: Session, ctx: ChangeContext, *, limit: int) -> int:
        """Re-evaluate up to ``limit`` queued children of changed parents (bounded work per
        change; what is left stays visible in the backlog). Returns how many were done."""
        waiting = session.scalar(
            select(Reevaluation.id).where(Reevaluation.processed_at.is_(None)).limit(1)
        )
        if waiting is None:
            return 0
        # Before any row is read for update: re-evaluation writes golden records and
        # events, and taking the lock at its first event (after row locks) could deadlock
        # with an ingest holding the lock and waiting for those rows.
        lock_for_matching(session)
        return len(reevaluate(session, self, ctx, limit=limit))

    def redecide(
        self, session: Session, record_id: int, ctx: ChangeContext, *, reason: str | None = None
    ) -> str:
        """Decide a stored record again (its parents changed); returns what happened.

        After a parent was unmerged (``reason`` ``parent_unmerged``), the record is also
        scored against the other members of its own golden record: if none of them is
        sure for it any more (their parents now differ), a steward gets a review
        candidate saying so, with the explanation. Nothing is split automatically.
        """
        row = session.get(SourceRecord, record_id)
        if row is None or row.is_deleted or row.golden_id is None:
            return "skipped: the record is deleted or not placed"
        spec = self.specs.get_spec(row.entity_type)
        keys = record_keys(spec, row.standardized)
        decision = self.matcher.decide(session, spec, row, keys)
        reviews = self.store_review(session, spec, row, decision)
        if reason == PARENT_UNMERGED:
            reviews += self._question_membership(session, spec, row, keys)
        if decision.action is not Action.JOIN or decision.golden_id is None:
            return f"no match; {reviews} new review candidate(s)"
        # The record takes its golden record along, and the ones it bridges.
        folds = fold_all(
            session, self.specs, spec, decision.golden_id, (row.golden_id, *decision.merge), ctx
        )
        merged = [f.other.public_id for f in folds if f.is_merged and f.other is not None]
        target = live_golden(session, decision.golden_id)
        if not merged or target is None:
            return f"unchanged; {reviews} new review candidate(s)"
        return f"merged {', '.join(merged)} into {target.public_id}"

    def _question_membership(
        self, session: Session, spec: EntitySpec, row: SourceRecord, keys: list[str]
    ) -> int:
        """A review candidate for ``row`` against its own golden record when none of the
        other members is sure for it (see ``redecide``); returns how many were added."""
        if not isinstance(self.matcher, ScoringMatcher) or spec.matching is None:
            return 0
        if row.golden_id is None:
            return 0
        members = list(
            core_connection(session).scalars(
                _OTHER_MEMBERS, {"golden_id": row.golden_id, "record_id": row.id}
            )
        )
        if not members:
            return 0
        scored = self.matcher.score(
            session, spec, row.standardized, row.id, keys, system=row.system, explain_all=True,
            also=members,
        )  # fmt: skip
        own = next((c for c in scored if c.golden_id == row.golden_id), None)
        active = self.models.active(session, spec)
        if own is not None and own.score >= active.auto_threshold:
            return 0
        explanation = {
            **(own.explanation if own is not None else {}),
            "rule": "membership",
            "reason": "a parent was unmerged; no other member of the golden record is sure "
            "for this record any more",
        }
        doubt = Candidate(row.golden_id, own.score if own is not None else 0.0, explanation)
        return self.store_review(session, spec, row, MatchDecision(Action.NEW, review=(doubt,)))

    def ingest_many(
        self,
        session: Session,
        records: Sequence[RecordInput],
        *,
        actor: str | None = None,
        correlation_id: str | None = None,
        enforce_batch_limit: bool = True,
    ) -> list[IngestOutcome]:
        """Ingest records one by one: each lands whole or is rejected and kept with its reason.

        Raises:
            BatchTooLargeError: more records than the batch limit (nothing is written).
        """
        if enforce_batch_limit and len(records) > self.max_batch_size:
            raise BatchTooLargeError(
                f"batch of {len(records)} records exceeds the limit of {self.max_batch_size}",
                field="records",
            )
        outcomes = []
        for record in records:
            try:
                outcomes.append(
                    self.ingest(session, record, actor=actor, correlation_id=correlation_id)
                )
            except MdmError as error:
                outcomes.append(self.reject(session, record, error, correlation_id=correlation_id))
            # Everything of this record is flushed; dropping it from the identity map keeps
            # each flush proportional to one record, not to the whole batch.
            session.expunge_all()
        return outcomes

    def reject(
        self,
        session: Session,
        record: RecordInput,
        error: MdmError,
        *,
        correlation_id: str | None = None,
    ) -> IngestOutcome:
        """Keep a refused record with its reason, so it can be fixed and replayed.

        The record is kept whatever it holds: what no column takes (a NUL byte, a lone
        surrogate, a number out of range, deep nesting, an over-long id) is stored as
        ``mdm.screening.storable`` writes it, and ``payload["altered"]`` lists the parts
        so changed (``sourceId``, ``attributes``…): such a record cannot be replayed as
        sent (``mdm.rejections``).
        """
        columns = IngestRejection.__table__.c
        payload: dict[str, Any] = {}
        altered = []
        for name, value in (
            ("entityType", record.entity_type),
            ("system", record.system),
            ("sourceId", record.source_id),
            ("attributes", dict(record.attributes)),
        ):
            payload[name], changed = storable(value)
            if changed:
                altered.append(name)
        payload["deleted"] = record.is_deleted
        if altered:
            payload["altered"] = altered
        rejection = IngestRejection(
            entity_type=_column_text(record.entity_type, columns.entity_type),
            system=_column_text(record.system, columns.system),
            source_id=_column_text(record.source_id, columns.source_id),
            payload=payload,
            code=storable_text(error.code, column_length(columns.code)),
            field=_column_text(error.field, columns.field),
            message=storable_text(error.message, MAX_MESSAGE_LENGTH),
            origin=_column_text(record.origin, columns.origin),
            correlation_id=_column_text(correlation_id, columns.correlation_id),
        )
        session.add(rejection)
        session.flush()
        return IngestOutcome(
            IngestStatus.REJECTED,
            record.entity_type,
            record.system,
            record.source_id,
            error=error,
            rejection_id=rejection.id,
        )

    # -- the pipeline -------------------------------------------------------------------

    def _ingest(self, session: Session, record: RecordInput, ctx: ChangeContext) -> IngestOutcome:
        spec = self.specs.get_spec(record.entity_type)
        # Screened before any statement carries them (``mdm.screening``).
        require_identifier(record.system, field="system", max_length=SYSTEM_LENGTH)
        self.systems.require(session, record.system)
        source_id = (record.source_id or "").strip()
        if not source_id:
            raise MissingSourceIdError(
                "sourceId is required and must not be blank", field="sourceId"
            )
        require_identifier(source_id, field="sourceId", max_length=SOURCE_ID_LENGTH)
        std = standardize(
            spec,
            record.attributes,
            system=record.system,
            date_format=record.date_format,
            codes=self.codes(session),
        )
        digest = content_hash(record)
        lock_for_matching(session)
        # A parent given by code or name becomes its source id where one record answers.
        std = locate_standardized(session, spec, source_id, std)
        row = session.scalar(
            _SOURCE_RECORD, {"type": spec.name, "system": record.system, "source_id": source_id}
        )
        if row is not None and row.content_hash == digest:
            golden = session.get(GoldenRecord, row.golden_id) if row.golden_id else None
            return self._outcome(IngestStatus.UNCHANGED, spec, row, golden)
        now = utcnow()
        findings = record_findings(spec, std, is_deleted=record.is_deleted)
        # What the record contributed to its golden record's ancestry before this version
        # (nothing while deleted): see ``references_changed`` below.
        referred_before = (
            [] if row is None or row.is_deleted else reference_keys(spec, row.standardized)
        )
        located_before = (
            set()
            if row is None or row.is_deleted
            else set(self._locators(spec, row.system, row.standardized))
        )
        if row is None:
            row = SourceRecord(
                entity_type=spec.name,
                system=record.system,
                source_id=source_id,
                version=1,
                received_at=now,
            )
            session.add(row)
            status = IngestStatus.DELETED if record.is_deleted else IngestStatus.CREATED
        else:
            row.version += 1
            status = IngestStatus.DELETED if record.is_deleted else IngestStatus.UPDATED
        row.raw = jsonable(record.attributes)
        row.standardized = std.values
        row.findings = findings
        row.content_hash = digest
        row.is_deleted = record.is_deleted
        row.updated_at = now
        session.flush()

        keys = [] if record.is_deleted else record_keys(spec, std.values)
        references = [] if record.is_deleted else reference_keys(spec, std.values)
        located = [] if record.is_deleted else self._locators(spec, row.system, std.values)
        waiting = [] if record.is_deleted else waiting_keys(spec, std.values)
        self._replace_keys(
            session,
            spec,
            row,
            keys + references + waiting + located,
            is_new=status is IngestStatus.CREATED,
        )
        # A member re-pointed to another parent changes what its golden record's children
        # resolve to, even when the survived attributes stay the same: the golden record
        # gets a new version, which is what cached resolutions are checked against
        # (``mdm.resolutions``).
        references_changed = referred_before != references
        golden = self._place(session, spec, row, keys, ctx, references_changed=references_changed)
        # Children that gave this record's code or name before it had them now refer to it.
        relocated = self.relocate_children(session, spec, set(located) - located_before, ctx)
        if status is IngestStatus.CREATED or relocated:
            # Children that referred to this record before it existed can now resolve it.
            enqueue_children(
                session,
                self.specs,
                spec,
                [(row.system, row.source_id)],
                reason=PARENT_ARRIVED,
                cause=golden.public_id if golden is not None else None,
                anchor=row.id,
            )
        return self._outcome(status, spec, row, golden)

    def stored_keys(self, spec: EntitySpec, system: str, values: Mapping[str, Any]) -> list[str]:
        """Every ``match_key`` row of a live record: identifier and blocking keys, the
        references it depends on, those it waits for and those it is located by."""
        return (
            record_keys(spec, values)
            + reference_keys(spec, values)
            + waiting_keys(spec, values)
            + self._locators(spec, system, values)
        )

    def _locators(self, spec: EntitySpec, system: str, values: Mapping[str, Any]) -> list[str]:
        """The ``locator`` keys of a record of a type other types refer to."""
        return locator_keys(spec, system, values) if is_located(self.specs, spec.name) else []

    def relocate_children(
        self, session: Session, parent: EntitySpec, locators: set[str], ctx: ChangeContext
    ) -> int:
        """Locate again the records waiting for a parent with one of ``locators`` (see
        ``mdm.locators.relocate``); returns how many now refer to one."""
        if not locators:
            return 0
        return relocate_children(
            session,
            self.specs,
            parent,
            locators,
            ctx,
            keys_of=self.stored_keys,
            write_keys=self._replace_keys,
        ).count

    def relocate_waiting(self, session: Session, parent: EntitySpec, ctx: ChangeContext) -> int:
        """After a bulk load of ``parent``'s type: every record waiting for a parent of that
        type located again; returns how many now refer to one."""
        return relocate(
            session,
            self.specs,
            waiting_for(session, self.specs, parent),
            ctx,
            keys_of=self.stored_keys,
            write_keys=self._replace_keys,
        ).count

    def _place(
        self,
        session: Session,
        spec: EntitySpec,
        row: SourceRecord,
        keys: list[str],
        ctx: ChangeContext,
        *,
        references_changed: bool = False,
    ) -> GoldenRecord | None:
        """Put the record in the right golden record and recompute what it touched."""
        current = session.get(GoldenRecord, row.golden_id) if row.golden_id else None
        if row.is_deleted:
            if current is not None:
                refresh_golden(session, spec, current, ctx, members_changed=True)
            return current
        if current is not None and self._has_other_members(session, row, current):
            # A known record changed: it stays where it is; its golden record is recomputed.
            refresh_golden(session, spec, current, ctx, members_changed=references_changed)
            return current
        decision = self.matcher.decide(session, spec, row, keys)
        self.store_review(session, spec, row, decision)
        if decision.action is Action.JOIN and decision.golden_id is not None:
            # The record is sure of them all: they are one entity.
            fold_all(session, self.specs, spec, decision.golden_id, decision.merge, ctx)
            if current is not None and current.id != decision.golden_id:
                # A record alone in its golden record now matches another: fold it in.
                fold = fold_into(session, self.specs, spec, decision.golden_id, current.id, ctx)
                if fold.is_merged:
                    return fold.survivor
            else:
                target = live_golden(session, decision.golden_id)
                assert target is not None
                row.golden_id = target.id
                session.flush()
                refresh_golden(session, spec, target, ctx, members_changed=True)
                return target
        if current is None:
            current = create_golden(session, spec)
            row.golden_id = current.id
            session.flush()
            refresh_golden(session, spec, current, ctx, members_changed=True)
        else:
            refresh_golden(session, spec, current, ctx, members_changed=references_changed)
        return current

    @staticmethod
    def _has_other_members(session: Session, row: SourceRecord, golden: GoldenRecord) -> bool:
        other = core_connection(session).scalar(
            _OTHER_MEMBER, {"golden_id": golden.id, "record_id": row.id}
        )
        return other is not None

    @staticmethod
    def _replace_keys(
        session: Session,
        spec: EntitySpec,
        row: SourceRecord,
        keys: list[str],
        *,
        is_new: bool = False,
    ) -> None:
        # Match keys mirror no loaded object: written on the connection (no ORM overhead).
        connection = core_connection(session)
        if not is_new:  # a record just inserted has none yet
            connection.execute(_DELETE_KEYS, {"record_id": row.id})
        if keys:
            connection.execute(
                _INSERT_KEYS,
                [
                    {
                        "entity_type": spec.name,
                        "key": key,
                        "kind": key_kind(key),
                        "source_record_id": row.id,
                    }
                    for key in keys
                ],
            )

    @staticmethod
    def store_review(
        session: Session, spec: EntitySpec, row: SourceRecord, decision: MatchDecision
    ) -> int:
        if not decision.review:
            return 0
        pending = set(
            session.scalars(
                select(MatchCandidate.golden_id).where(
                    MatchCandidate.source_record_id == row.id,
                    MatchCandidate.status == CandidateStatus.PENDING.value,
                )
            )
        )
        added = 0
        for candidate in decision.review:
            if candidate.golden_id in pending:
                continue
            added += 1
            session.add(
                MatchCandidate(
                    entity_type=spec.name,
                    source_record_id=row.id,
                    golden_id=candidate.golden_id,
                    score=candidate.score,
                    explanation=candidate.explanation,
                    status=CandidateStatus.PENDING.value,
                )
            )
        return added

    @staticmethod
    def _outcome(
        status: IngestStatus,
        spec: EntitySpec,
        row: SourceRecord,
        golden: GoldenRecord | None,
    ) -> IngestOutcome:
        return IngestOutcome(
            status,
            spec.name,
            row.system,
            row.source_id,
            golden_id=golden.public_id if golden is not None else None,
            version=row.version,
            findings=tuple(row.findings or ()),
        )


def key_kind(key: str) -> str:
    """The ``match_key.kind`` of a key: blocking, reference or (exact) identifier."""
    if key.startswith(BLOCKING_PREFIX):
        return "blocking"
    if key.startswith(REFERENCE_PREFIX):
        return REFERENCE_KIND
    if key.startswith(LOCATOR_PREFIX):
        return LOCATOR_KIND
    if key.startswith(WAITING_PREFIX):
        return WAITING_KIND
    return "identifier"


def content_hash(record: RecordInput, raw: dict[str, Any] | None = None) -> str:
    """SHA-256 of a record's content; ``raw`` is ``jsonable(record.attributes)`` if known."""
    canonical = json.dumps(
        {"a": jsonable(record.attributes) if raw is None else raw, "d": record.is_deleted},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


MAX_MESSAGE_LENGTH = 2000  # of a rejection's reason as stored


def jsonable(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """The attributes as JSON values any column stores (anything else as its string; see
    ``mdm.screening.storable`` for NUL bytes, lone surrogates and numbers out of range)."""
    if is_plain_json(attributes):
        return dict(attributes)  # already JSON: no copy (most rows of most files)
    value: dict[str, Any] = storable(dict(attributes))[0]
    return value


def _column_text(text: str | None, column: ColumnElement[Any]) -> str | None:
    return storable_text(text, column_length(column)) if text else None
