"""Storage: SQLAlchemy models, engine factory and migrations."""

from __future__ import annotations

from mdm.store.database import Database, JsonText, core_connection, create_engine_for, json_text
from mdm.store.migrate import upgrade
from mdm.store.models import (
    ApiToken,
    AttributeOverride,
    AuditLog,
    Base,
    ChangeEvent,
    CodeCorrespondence,
    CodeSet,
    ConsumerOffset,
    GoldenHistory,
    GoldenRecord,
    IngestRejection,
    LoadedFile,
    MatchCandidate,
    MatchKeyRow,
    MatchModelVersion,
    Reevaluation,
    SourceRecord,
    SourceSystem,
    Transcoding,
    TruthLabel,
    utcnow,
)

__all__ = [
    "ApiToken",
    "AttributeOverride",
    "AuditLog",
    "Base",
    "ChangeEvent",
    "CodeCorrespondence",
    "CodeSet",
    "ConsumerOffset",
    "Database",
    "GoldenHistory",
    "GoldenRecord",
    "IngestRejection",
    "JsonText",
    "LoadedFile",
    "MatchCandidate",
    "MatchKeyRow",
    "MatchModelVersion",
    "Reevaluation",
    "SourceRecord",
    "SourceSystem",
    "Transcoding",
    "TruthLabel",
    "core_connection",
    "create_engine_for",
    "json_text",
    "upgrade",
    "utcnow",
]
