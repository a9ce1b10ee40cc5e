"""SQLAlchemy models of the hub's tables (see DESIGN.md, "Data model")."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class SourceSystem(Timestamped, Base):
    """A registered system of record (ERP, EHR, PROCUREMENT, …) and its mapping."""

    __tablename__ = "source_system"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    mapping: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class GoldenStatus(StrEnum):
    """A golden record's ``status``, stored as its value."""

    ACTIVE = "active"
    MERGED = "merged"  # folded into ``merged_into_id``: its public id redirects there
    RETIRED = "retired"  # no live member left


class CandidateStatus(StrEnum):
    """A match candidate's ``status``, stored as its value."""

    PENDING = "pending"  # waiting for a steward
    MERGED = "merged"  # a steward merged the pair
    REJECTED = "rejected"  # a cannot-link: matching never joins the pair
    SUPERSEDED = "superseded"


class GoldenRecord(Timestamped, Base):
    __tablename__ = "golden_record"
    __table_args__ = (Index("ix_golden_record_type_id", "entity_type", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    entity_type: Mapped[str] = mapped_column(String(40))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    lineage: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=GoldenStatus.ACTIVE.value)
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("golden_record.id"), nullable=True
    )
    version: Mapped[int] = mapped_column(Integer, default=1)


class SourceRecord(Base):
    __tablename__ = "source_record"
    __table_args__ = (
        UniqueConstraint("entity_type", "system", "source_id", name="uq_source_record_key"),
        Index("ix_source_record_golden", "golden_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(40))
    system: Mapped[str] = mapped_column(String(64))
    source_id: Mapped[str] = mapped_column(String(200))
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    standardized: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    findings: Mapped[list[Any]] = mapped_column(JSON, default=list)
    content_hash: Mapped[str] = mapped_column(String(64))
    golden_id: Mapped[int | None] = mapped_column(ForeignKey("golden_record.id"), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    is_deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class GoldenHistory(Base):
    """Every version of every golden record, for time travel and audit."""

    __tablename__ = "golden_history"
    __table_args__ = (UniqueConstraint("golden_id", "version", name="uq_golden_history_version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    golden_id: Mapped[int] = mapped_column(ForeignKey("golden_record.id"))
    version: Mapped[int] = mapped_column(Integer)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON)
    lineage: Mapped[dict[str, Any]] = mapped_column(JSON)
    members: Mapped[list[Any]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16))
    merged_into_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    change_kind: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str | None] = mapped_column(String(200), nullable=True)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MatchKeyRow(Base):
    """An exact identifier or blocking key of a source record: candidate search and look-up."""

    __tablename__ = "match_key"
    __table_args__ = (
        Index("ix_match_key_lookup", "entity_type", "key"),
        Index("ix_match_key_record", "source_record_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(16), default="identifier")
    source_record_id: Mapped[int] = mapped_column(ForeignKey("source_record.id"))


class MatchCandidate(Base):
    """A pair the engine was unsure of, waiting for (or decided by) a data steward."""

    __tablename__ = "match_candidate"
    __table_args__ = (Index("ix_match_candidate_status", "entity_type", "status"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(40))
    source_record_id: Mapped[int] = mapped_column(ForeignKey("source_record.id"))
    golden_id: Mapped[int] = mapped_column(ForeignKey("golden_record.id"))
    score: Mapped[float] = mapped_column(Float)
    explanation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=CandidateStatus.PENDING.value)
    decided_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AttributeOverride(Base):
    """A steward's pin of one golden attribute; beats every survivorship rule."""

    __tablename__ = "attribute_override"
    __table_args__ = (Index("ix_attribute_override_golden", "golden_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    golden_id: Mapped[int] = mapped_column(ForeignKey("golden_record.id"))
    attribute: Mapped[str] = mapped_column(String(100))
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ChangeEvent(Base):
    """The outbox and change log, written in the same transaction as the change."""

    __tablename__ = "change_event"
    __table_args__ = (Index("ix_change_event_type_seq", "entity_type", "seq"),)

    seq: Mapped[int] = mapped_column(BigId, primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(40))
    golden_public_id: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    actor: Mapped[str | None] = mapped_column(String(200), nullable=True)
    correlation_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CodeSet(Base):
    """One canonical code of a coded attribute (company, facility, UOM, …)."""

    __tablename__ = "code_set"
    __table_args__ = (UniqueConstraint("name", "code", name="uq_code_set_code"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    code: Mapped[str] = mapped_column(String(100))
    display: Mapped[str | None] = mapped_column(String(300), nullable=True)


class Transcoding(Base):
    """A system's value of a coded attribute -> the canonical code."""

    __tablename__ = "transcoding"
    __table_args__ = (
        UniqueConstraint("code_set", "system", "source_value", name="uq_transcoding_value"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code_set: Mapped[str] = mapped_column(String(100))
    system: Mapped[str] = mapped_column(String(64))
    source_value: Mapped[str] = mapped_column(String(300))
    code: Mapped[str] = mapped_column(String(100))
    origin: Mapped[str] = mapped_column(
        String(16), default="file", server_default="file"
    )  # file, api, learned
    updated_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CodeCorrespondence(Base):
    """A transcoding learned from strongly linked records, until a steward decides."""

    __tablename__ = "code_correspondence"
    __table_args__ = (
        UniqueConstraint(
            "code_set",
            "system_a",
            "value_a",
            "system_b",
            "value_b",
            name="uq_code_correspondence_pair",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code_set: Mapped[str] = mapped_column(String(100))
    entity_type: Mapped[str | None] = mapped_column(String(40), nullable=True)
    attribute: Mapped[str | None] = mapped_column(String(100), nullable=True)
    system_a: Mapped[str] = mapped_column(String(64))
    value_a: Mapped[str] = mapped_column(String(300))
    system_b: Mapped[str] = mapped_column(String(64))
    value_b: Mapped[str] = mapped_column(String(300))
    support: Mapped[int] = mapped_column(Integer, default=0)
    conflicts: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="proposed")
    decided_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Reevaluation(Base):
    """A record whose match decision depended on a parent that was merged or unmerged.

    Queued when the parent changes, worked off a bounded number at a time; the rows
    not yet processed are the visible backlog.
    """

    __tablename__ = "reevaluation"
    __table_args__ = (Index("ix_reevaluation_open", "processed_at", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(40))
    source_record_id: Mapped[int] = mapped_column(ForeignKey("source_record.id"))
    reason: Mapped[str] = mapped_column(String(64))
    cause: Mapped[str | None] = mapped_column(String(200), nullable=True)
    enqueued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(200), nullable=True)


class ApiToken(Base):
    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ConsumerOffset(Base):
    """A named downstream consumer's durable position in the change stream: the last
    event sequence number it has finished with. ``owner``: the token name that registered
    it (None for the hub's own rows: the relay's ``relay:<stream>``, ``mdm:pruned``)."""

    __tablename__ = "consumer_offset"

    consumer: Mapped[str] = mapped_column(String(200), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AuditLog(Base):
    __tablename__ = "audit_log"
    # The newest row of some actions (the reference data version, read for every ingest)
    # is found through this index, however many steward decisions came after it.
    __table_args__ = (Index("ix_audit_log_action", "action", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(200), nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LoadedFile(Base):
    """A source file whose load committed completely, so loading it again is skipped.

    A file is known by its system, entity type, the SHA-256 of its bytes and of its
    mapping table (without the path): the same content under another path is the same
    file, the same path with other content (or mapped otherwise) is a new one.
    """

    __tablename__ = "loaded_file"
    __table_args__ = (
        UniqueConstraint(
            "system", "entity_type", "file_hash", "mapping_hash", name="uq_loaded_file_content"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    system: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(40))
    file_hash: Mapped[str] = mapped_column(String(64))
    mapping_hash: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(1000))  # where it was read
    records: Mapped[int] = mapped_column(Integer)  # rows read, rejected ones included
    correlation_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class IngestRejection(Base):
    """A record that was refused, kept whole with its reason so it can be fixed and replayed."""

    __tablename__ = "ingest_rejection"
    __table_args__ = (Index("ix_ingest_rejection_open", "resolved_at", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entity_type: Mapped[str | None] = mapped_column(String(40), nullable=True)
    system: Mapped[str | None] = mapped_column(String(64), nullable=True)
    source_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    code: Mapped[str] = mapped_column(String(40))
    field: Mapped[str | None] = mapped_column(String(200), nullable=True)
    message: Mapped[str] = mapped_column(Text)
    origin: Mapped[str | None] = mapped_column(String(300), nullable=True)
    correlation_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class TruthLabel(Base):
    """Ground truth for measuring match quality: which real-world entity a record is."""

    __tablename__ = "truth_label"
    __table_args__ = (
        UniqueConstraint("entity_type", "system", "source_id", name="uq_truth_label_record"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(40))
    system: Mapped[str] = mapped_column(String(64))
    source_id: Mapped[str] = mapped_column(String(200))
    entity_key: Mapped[str] = mapped_column(String(200))


class MatchModelVersion(Base):
    """A versioned set of match parameters and thresholds for one entity type."""

    __tablename__ = "match_model"
    __table_args__ = (UniqueConstraint("entity_type", "version", name="uq_match_model_version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    auto_threshold: Mapped[float] = mapped_column(Float)
    review_threshold: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(40))  # defaults | em | labels | manual
    notes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
