"""Which coded values the sources send that no transcoding maps yet, and how often."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session

from mdm.codes import code_key
from mdm.store import SourceRecord

UNMAPPED = "UNMAPPED_VALUE"
_BATCH = 2000


@dataclass(frozen=True)
class UnmappedValue:
    """A value of a coded attribute that one system sends and nothing maps."""

    entity_type: str
    attribute: str
    system: str
    value: str  # as a transcoding's source value: trimmed, spaces collapsed, upper-cased
    count: int  # live source records carrying it


def unmapped_values(
    session: Session, system: str | None = None, entity_type: str | None = None
) -> list[UnmappedValue]:
    """Unmapped coded values of live source records, most frequent first.

    Read from the records' ``UNMAPPED_VALUE`` findings; only rows whose findings mention
    that code are fetched, streamed in batches, and parsed here (same on SQLite and
    PostgreSQL).
    """
    query = select(SourceRecord.entity_type, SourceRecord.system, SourceRecord.findings).where(
        SourceRecord.is_deleted.is_(False),
        cast(SourceRecord.findings, Text).like(f"%{UNMAPPED}%"),
    )
    if system is not None:
        query = query.where(SourceRecord.system == system)
    if entity_type is not None:
        query = query.where(SourceRecord.entity_type == entity_type)
    counts: Counter[tuple[str, str, str, str]] = Counter()
    for row_type, row_system, findings in session.execute(
        query, execution_options={"yield_per": _BATCH}
    ):
        seen = set()
        for finding in findings or ():
            if not isinstance(finding, dict) or finding.get("code") != UNMAPPED:
                continue
            attribute, value = finding.get("attribute"), finding.get("value")
            if attribute is None or value is None:
                continue
            key = (row_type, str(attribute), row_system, code_key(str(value)))
            if key not in seen:  # a record counts once per value
                seen.add(key)
                counts[key] += 1
    return [
        UnmappedValue(t, a, s, v, n)
        for (t, a, s, v), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
