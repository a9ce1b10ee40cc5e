"""Steward decisions on reference data: accept or reject learned correspondences, set or
delete a transcoding. Each needs a reason, is audited and bumps the reference data's
version; what makes a value canonical is applied to the live records carrying it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from mdm.codes import ACCEPT, DELETE_TRANSCODING, REJECT, SET_TRANSCODING
from mdm.errors import AlreadyDecidedError, InvalidReferenceDataError, NotFoundError
from mdm.golden import ChangeContext, refresh_golden
from mdm.reference.store import (
    TranscodingEntry,
    audit,
    check_transcoding,
    delete_transcoding_row,
    require_reason,
    transcoding_entry,
    upsert_transcoding,
)
from mdm.reference.unmapped import UNMAPPED
from mdm.specs import DEFAULT_SPECS, EntitySpec, SpecRegistry
from mdm.standardize import BLOCKING_PREFIX, record_keys
from mdm.store import (
    CodeCorrespondence,
    CodeSet,
    GoldenRecord,
    GoldenStatus,
    MatchKeyRow,
    SourceRecord,
    Transcoding,
    utcnow,
)
from mdm.store.locks import lock_for_matching

_CHUNK = 500


@dataclass(frozen=True)
class CorrespondenceDecision:
    """A steward's decision on a learned correspondence and what it changed."""

    correspondence: CodeCorrespondence
    transcoding: TranscodingEntry | None  # accepted: the transcoding it became
    records_updated: int
    version: int


@dataclass(frozen=True)
class TranscodingChange:
    """A steward's edit of one transcoding and what it changed."""

    transcoding: TranscodingEntry  # deleted: what it was
    records_updated: int
    version: int


def accept_correspondence(
    session: Session,
    id: int,
    actor: str,
    reason: str | None,
    *,
    specs: SpecRegistry = DEFAULT_SPECS,
) -> CorrespondenceDecision:
    """Accept a proposal: it becomes a transcoding (origin ``learned``) to the canonical
    code, and the live records of ``system_a`` carrying ``value_a`` are re-standardized.

    Raises:
        InvalidInputError: blank reason (``field`` is ``reason``).
        NotFoundError: no proposal with this id.
        AlreadyDecidedError: it was accepted or rejected before.
        InvalidReferenceDataError: ``value_b`` is neither canonical nor transcoded.
    """
    text = require_reason(reason)
    row = _undecided(session, id)
    target = _canonical_target(session, row)
    checked = check_transcoding(session, row.code_set, row.system_a, row.value_a, target)
    lock_for_matching(session)
    transcoding = upsert_transcoding(session, checked, origin="learned", actor=actor)
    _decide(row, "accepted", actor, text)
    updated = restandardize(
        session, specs, row.code_set, row.system_a, checked.source_value, checked.code, actor
    )
    version = audit(
        session,
        actor,
        ACCEPT,
        str(row.id),
        {**_describe(row), "code": checked.code, "reason": text, "records_updated": updated},
    )
    return CorrespondenceDecision(row, transcoding_entry(transcoding), updated, version)


def reject_correspondence(
    session: Session, id: int, actor: str, reason: str | None
) -> CorrespondenceDecision:
    """Reject a proposal for good: it is never proposed again nor used as evidence.

    Raises:
        InvalidInputError: blank reason (``field`` is ``reason``).
        NotFoundError: no proposal with this id.
        AlreadyDecidedError: it was accepted or rejected before.
    """
    text = require_reason(reason)
    row = _undecided(session, id)
    _decide(row, "rejected", actor, text)
    version = audit(session, actor, REJECT, str(row.id), {**_describe(row), "reason": text})
    return CorrespondenceDecision(row, None, 0, version)


def set_transcoding(
    session: Session,
    code_set: str,
    system: str,
    source_value: str,
    code: str,
    actor: str,
    reason: str | None,
    *,
    specs: SpecRegistry = DEFAULT_SPECS,
) -> TranscodingChange:
    """Create or replace one transcoding (origin ``api``); live records of the system
    carrying the value get the code.

    Raises:
        InvalidInputError: blank reason (``field`` is ``reason``).
        InvalidReferenceDataError: unknown code set or system, code not canonical, or the
            source value is itself another canonical code (``field`` names it).
    """
    text = require_reason(reason)
    checked = check_transcoding(session, code_set, system, source_value, code)
    lock_for_matching(session)
    stored = upsert_transcoding(session, checked, origin="api", actor=actor)
    updated = restandardize(
        session, specs, checked.code_set, checked.system, checked.source_value, checked.code, actor
    )
    entry = transcoding_entry(stored)
    version = audit(
        session,
        actor,
        SET_TRANSCODING,
        f"{entry.code_set}/{entry.system}/{entry.source_value}"[:200],
        {**_entry_details(entry), "reason": text, "records_updated": updated},
    )
    return TranscodingChange(entry, updated, version)


def delete_transcoding(
    session: Session, code_set: str, system: str, source_value: str, actor: str, reason: str | None
) -> TranscodingChange:
    """Delete one transcoding. Records already carrying its code keep it until they change.

    Raises:
        InvalidInputError: blank reason (``field`` is ``reason``).
        NotFoundError: no such transcoding.
    """
    text = require_reason(reason)
    entry = delete_transcoding_row(session, code_set, system, source_value)
    version = audit(
        session,
        actor,
        DELETE_TRANSCODING,
        f"{entry.code_set}/{entry.system}/{entry.source_value}"[:200],
        {**_entry_details(entry), "reason": text},
    )
    return TranscodingChange(entry, 0, version)


def restandardize(
    session: Session,
    specs: SpecRegistry,
    code_set: str,
    system: str,
    value: str,
    code: str,
    actor: str,
) -> int:
    """Give the live records of ``system`` whose coded attribute (of ``code_set``) holds
    ``value`` the canonical ``code``: drop their ``UNMAPPED_VALUE`` finding, recompute
    their match keys and refresh their golden records. Returns how many changed."""
    changed = 0
    ctx = ChangeContext(actor, None)
    for spec in specs.values():
        for attribute in (a for a in spec.coded if a.code_set == code_set):
            ids = list(
                session.scalars(
                    select(SourceRecord.id).where(
                        SourceRecord.entity_type == spec.name,
                        SourceRecord.system == system,
                        SourceRecord.is_deleted.is_(False),
                        SourceRecord.standardized[attribute.name].as_string() == value,
                    )
                )
            )
            for start in range(0, len(ids), _CHUNK):
                rows = session.scalars(
                    select(SourceRecord).where(SourceRecord.id.in_(ids[start : start + _CHUNK]))
                ).all()
                goldens = {_recode(session, spec, r, attribute.name, code) for r in rows}
                changed += len(rows)
                _refresh(session, spec, goldens, ctx)
    return changed


def _recode(
    session: Session, spec: EntitySpec, row: SourceRecord, attribute: str, code: str
) -> int | None:
    values = {**row.standardized, attribute: code}
    row.standardized = values
    row.findings = [
        f
        for f in row.findings or []
        if not (
            isinstance(f, dict) and f.get("code") == UNMAPPED and f.get("attribute") == attribute
        )
    ]
    session.flush()
    keys = record_keys(spec, values)
    # Only its own keys change: what it refers to, waits for or is located by stays.
    session.execute(
        delete(MatchKeyRow).where(
            MatchKeyRow.source_record_id == row.id,
            MatchKeyRow.kind.in_(("blocking", "identifier")),
        )
    )
    if keys:
        session.execute(
            insert(MatchKeyRow),
            [
                {
                    "entity_type": spec.name,
                    "key": key,
                    "kind": "blocking" if key.startswith(BLOCKING_PREFIX) else "identifier",
                    "source_record_id": row.id,
                }
                for key in keys
            ],
        )
    return row.golden_id


def _refresh(
    session: Session, spec: EntitySpec, golden_ids: Iterable[int | None], ctx: ChangeContext
) -> None:
    for golden_id in sorted(g for g in golden_ids if g is not None):
        golden = session.get(GoldenRecord, golden_id)
        if golden is not None and golden.status == GoldenStatus.ACTIVE:
            refresh_golden(session, spec, golden, ctx, members_changed=False)


def _undecided(session: Session, id: int) -> CodeCorrespondence:
    row = session.scalar(
        select(CodeCorrespondence).where(CodeCorrespondence.id == id).with_for_update()
    )
    if row is None:
        raise NotFoundError(f"no code correspondence {id}", field="id")
    if row.status != "proposed":
        raise AlreadyDecidedError(
            f"code correspondence {id} was already {row.status} by {row.decided_by} ({row.reason})",
            field="id",
        )
    return row


def _canonical_target(session: Session, row: CodeCorrespondence) -> str:
    is_code = session.scalar(
        select(CodeSet.id).where(CodeSet.name == row.code_set, CodeSet.code == row.value_b)
    )
    if is_code is not None:
        return row.value_b
    mapped = session.scalar(
        select(Transcoding.code).where(
            Transcoding.code_set == row.code_set,
            Transcoding.system == row.system_b,
            Transcoding.source_value == row.value_b,
        )
    )
    if mapped is None:
        raise InvalidReferenceDataError(
            f"cannot accept: {row.system_b} value {row.value_b!r} is neither a canonical code "
            f"of code set {row.code_set!r} nor transcoded to one; load the code set (or map "
            "that value) first",
            field="id",
        )
    return mapped


def _decide(row: CodeCorrespondence, status: str, actor: str, reason: str) -> None:
    now = utcnow()
    row.status, row.decided_by, row.decided_at, row.reason = status, actor, now, reason
    row.updated_at = now


def _describe(row: CodeCorrespondence) -> dict[str, Any]:
    return {
        "code_set": row.code_set,
        "system_a": row.system_a,
        "value_a": row.value_a,
        "system_b": row.system_b,
        "value_b": row.value_b,
        "support": row.support,
        "conflicts": row.conflicts,
    }


def _entry_details(entry: TranscodingEntry) -> dict[str, Any]:
    return {
        "code_set": entry.code_set,
        "system": entry.system,
        "source_value": entry.source_value,
        "code": entry.code,
        "origin": entry.origin,
    }
