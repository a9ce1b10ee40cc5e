"""The bulk path: an initial load of an entity type, blocked and scored in batches.

Record by record, a large first load would compare each newcomer with the records before
it, one query and one Python loop at a time. Here all the records of one entity type are
staged first (``staging``: source rows written in chunks as they are read), then blocked
in memory (``matchers.block_pairs``), scored as arrays and judged by the spec's rules
(``matchers.score_in_batches``), clustered (``matchers.cluster_records``: connected
components, with ``matchers.cluster`` guarding components against weak chains and keeping
apart records a veto on identifiers holds apart, as record by record), and golden
records, history, events and review candidates are written in bulk (``writing``). The
result does not depend on the order of the input: records are ordered by (system, source
id) before anything is decided. A later row of a staged record (a file of changes) is
folded in: the record is matched on its first version and survives on its latest, as
record by record. After a parent type's load, ``siblings`` matches its children that were
loaded before it. Each phase is timed and logged (``phases``).

What this path shares with record-by-record ingest (``mdm.ingest``) is everything but the
loop: standardization and keys, the rules (``RulePlan``: ``judge_arrays`` here, ``judge``
there), the decision on review candidates (``mdm.decision.decide``) and their
explanation (``mdm.matching.explain_views``), merging (``mdm.merging.fold_into``) and the
rows a golden record's creation writes (``mdm.golden.GoldenChange``).

Used when the store has no record of the entity type yet (``is_initial_load``); later
loads go record by record through ``Ingestor``.
"""

from __future__ import annotations

from mdm.bulk.load import MAX_ROUNDS, BulkLoader, BulkResult, is_initial_load
from mdm.bulk.phases import PhaseTimes
from mdm.bulk.siblings import SiblingPass, match_alone_children
from mdm.bulk.staging import (
    CHUNK,
    SourceRow,
    as_record,
    prepares_while_staging,
    refers_to_itself,
    resolve_all_parents,
    standardize_record,
)

__all__ = [
    "CHUNK",
    "MAX_ROUNDS",
    "BulkLoader",
    "BulkResult",
    "PhaseTimes",
    "SiblingPass",
    "SourceRow",
    "as_record",
    "is_initial_load",
    "match_alone_children",
    "prepares_while_staging",
    "refers_to_itself",
    "resolve_all_parents",
    "standardize_record",
]
