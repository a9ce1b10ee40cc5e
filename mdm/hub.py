"""The hub's service façade: what the API and the CLI call. No GraphQL or HTTP in here."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from matchers import extend_unit_vocabulary, parse_vocabulary
from mdm.errors import InvalidInputError
from mdm.ingest import Ingestor, IngestOutcome, RecordInput
from mdm.mapping import parse_mapping
from mdm.matching import ScoringMatcher
from mdm.settings import Settings
from mdm.specs import DEFAULT_SPECS, SpecRegistry
from mdm.store import Database, SourceSystem

log = logging.getLogger(__name__)
# The collector while serving: a young collection every 20,000 allocations, an older one
# after 20 of the younger. A young collection walks every live object made since the last
# one; with the default 700, a replay of change events (each batch alive until sent) walked
# the same batch again and again.
SERVING_GC_THRESHOLDS = (20_000, 20, 20)


@dataclass(frozen=True)
class NativeRecord:
    """A record in its system's own field names, mapped by the system's registered mapping."""

    entity_type: str
    system: str
    fields: Mapping[str, Any]
    is_deleted: bool = False


def load_site_vocabulary(path: str) -> int:
    """Extend the hospital unit vocabulary with a site's file; returns its entry count.

    Raises:
        InvalidInputError: the file is missing or a line is malformed (code
            ``INVALID_VOCABULARY``, naming the file and line).
    """
    try:
        entries = parse_vocabulary(Path(path).read_text(encoding="utf-8"), origin=path)
    except (OSError, ValueError) as error:
        raise InvalidInputError(
            f"vocabulary: {error}", field="MDM_VOCABULARY", code="INVALID_VOCABULARY"
        ) from None
    extend_unit_vocabulary(dict(entries))
    return len(entries)


class Hub:
    """Everything a request or a command needs, built once at start-up."""

    def __init__(self, settings: Settings, specs: SpecRegistry = DEFAULT_SPECS) -> None:
        self.settings = settings
        self.specs = specs
        self.database = Database(settings.database_url, echo=settings.sql_echo)
        if settings.vocabulary:
            load_site_vocabulary(settings.vocabulary)
        self.ingestor = Ingestor(specs, max_batch_size=settings.max_batch_size)

    def start_serving(self) -> None:
        """Settle a long-running process before it serves (``mdm serve`` does at start-up).

        SQLite's write-ahead log is checkpointed by a background thread rather than by the
        commit that fills it (that commit waited 10-170 ms); and everything built so far
        (schema, metadata, caches) is moved out of the garbage collector's scans, since it
        lives as long as the process: full collections then stall requests far less, and
        young ones run every ``SERVING_GC_THRESHOLDS[0]`` allocations, not 700. Before
        that, the records newcomers are compared with in bulk (siblings) are prepared.
        """
        self.database.checkpoint_in_background()
        self.warm_caches()
        gc.collect()
        gc.freeze()
        gc.set_threshold(*SERVING_GC_THRESHOLDS)

    def warm_caches(self) -> dict[str, int]:
        """Prepare, before serving, the records of types with sibling candidates (see
        ``ScoringMatcher.warm``); returns how many per type."""
        matcher = self.ingestor.matcher
        if not isinstance(matcher, ScoringMatcher):
            return {}
        warmed = {}
        started = time.perf_counter()
        with self.database.session() as session:
            for name in self.ingestor.specs:
                spec = self.ingestor.specs.get_spec(name)
                if spec.matching is not None and spec.matching.sibling_candidates:
                    warmed[name] = matcher.warm(session, spec)
        if warmed:
            log.info(
                "prepared %s for matching in %.1f s",
                ", ".join(f"{n:,} {name} records" for name, n in warmed.items()),
                time.perf_counter() - started,
            )
        return warmed

    def close(self) -> None:
        self.database.dispose()

    def ingest(
        self,
        records: Sequence[RecordInput],
        *,
        actor: str | None,
        correlation_id: str | None,
    ) -> list[IngestOutcome]:
        """Ingest a batch in one transaction; refused records are kept with their reason."""
        with self.database.session() as session:
            return self.ingestor.ingest_many(
                session, records, actor=actor, correlation_id=correlation_id
            )

    def map_native(self, record: NativeRecord, source_id_hint: str | None = None) -> RecordInput:
        """Turn a record in a system's own field names into canonical attributes.

        Raises:
            InvalidInputError: the system has no mapping for this entity type.
        """
        with self.database.read_session() as session:
            system = session.scalar(select(SourceSystem).where(SourceSystem.code == record.system))
        if system is None or not system.mapping:
            raise InvalidInputError(
                f"system {record.system!r} has no registered mapping; send canonical attributes",
                field="fields",
                code="NO_MAPPING",
            )
        mapping = parse_mapping(system.mapping, self.specs).for_entity(record.entity_type)
        if mapping is None:
            raise InvalidInputError(
                f"the mapping of {record.system} has no {record.entity_type} entity",
                field="fields",
                code="NO_MAPPING",
            )
        source_id = mapping.source_id_of(record.fields) or (source_id_hint or "")
        return RecordInput(
            entity_type=record.entity_type,
            system=record.system,
            source_id=source_id,
            attributes=mapping.attributes_of(record.fields),
            is_deleted=record.is_deleted or mapping.is_deleted(record.fields),
            date_format=mapping.date_format,
        )
