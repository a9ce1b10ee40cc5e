"""Resolved references kept across sessions, checked against golden record versions.

Matching a location or a cost center resolves its references and its candidates'
references to parents' golden records and their ancestors (``mdm.context``): several
queries per level of ancestry. The answers rarely change, so the incremental path keeps
them for the life of the process, each with the golden records it was read from and their
versions (``mdm.context.Resolution``). A batch of kept answers is checked with one query
(the current versions of those golden records); an answer stands only if none of them
moved. Every change that can change an answer bumps one of those versions: a member
joining, leaving, deleted, revived or re-pointed (``mdm.ingest`` bumps the version when a
member's references change even if the survived attributes do not), a merge (the merged
record's version), a retirement.

Not kept: an answer whose ancestry has a reference left unresolved (the parent may arrive
without any of the versions moving), and anything read in a transaction that is rolled
back (a savepoint's included): answers are staged in the session and kept only once its
outermost transaction commits, so a version number reused after a rollback never vouches
for what the rolled-back transaction saw.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from mdm.context import (
    ANCESTRY_DEPTH,
    RESOLVED_KEY,
    Reference,
    install_resolution_listeners,
    resolve_with_versions,
)
from mdm.specs import SpecRegistry
from mdm.store import GoldenRecord, SessionListeners, core_connection

_STAGED_KEY = "mdm.resolutions.staged"
_CHUNK = 500

_VERSIONS = select(GoldenRecord.id, GoldenRecord.version).where(
    GoldenRecord.id.in_(bindparam("ids", expanding=True))
)

_CacheKey = tuple[bool, int, Reference]  # (with ancestry, depth, reference)
# (answer, ((golden id, version), ...)): a plain tuple of strings and ints, which the
# garbage collector stops tracking, so a full cache adds nothing to full collections.
_Kept = tuple[str, tuple[tuple[int, int], ...]]


class ResolutionCache:
    """Resolved references of one process, answered again while their golden records keep
    their versions (see the module doc). Thread-safe; holds at most ``max_entries``
    answers, the least recently used dropped first.

    Example:
        >>> cache = ResolutionCache()
        >>> cache.resolve(session, {("location", "EHR", "F1")}, specs)
        {('location', 'EHR', 'F1'): 'LOC-...>LOC-...'}
    """

    def __init__(self, max_entries: int = 100_000) -> None:
        _LISTENERS.install()
        install_resolution_listeners()
        self.max_entries = max_entries
        self._entries: OrderedDict[_CacheKey, _Kept] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0  # not kept, or kept but stale

    def __len__(self) -> int:
        return len(self._entries)

    def resolve(
        self,
        session: Session,
        refs: Iterable[Reference],
        specs: SpecRegistry | None = None,
        *,
        depth: int = ANCESTRY_DEPTH,
    ) -> dict[Reference, str]:
        """What ``mdm.context.resolve_references`` answers, from kept answers where they
        still hold; the rest is resolved and staged to be kept when the session commits."""
        memo: dict[Reference, str | None] = session.info.setdefault(RESOLVED_KEY, {}).setdefault(
            (specs is not None, depth), {}
        )
        wanted = set(refs)
        missing = wanted - memo.keys()
        if missing:
            kept = self._still_valid(session, specs is not None, depth, missing)
            fresh = resolve_with_versions(session, missing - kept.keys(), specs, depth=depth)
            self.hits += len(kept)
            self.misses += len(missing) - len(kept)
            memo.update(dict.fromkeys(missing))
            memo.update(kept)
            memo.update((ref, found.value) for ref, found in fresh.items())
            complete: dict[_CacheKey, _Kept] = {
                (specs is not None, depth, ref): (found.value, found.versions)
                for ref, found in fresh.items()
                if found.is_complete
            }
            if complete:
                session.info.setdefault(_STAGED_KEY, []).append((self, complete))
        return {ref: found for ref in wanted if (found := memo[ref]) is not None}

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _still_valid(
        self, session: Session, with_ancestry: bool, depth: int, refs: set[Reference]
    ) -> dict[Reference, str]:
        with self._lock:
            entries = {
                ref: found
                for ref in refs
                if (found := self._entries.get((with_ancestry, depth, ref))) is not None
            }
        if not entries:
            return {}
        ids = sorted({gid for _, versions in entries.values() for gid, _ in versions})
        current: dict[int, int] = {}
        for start in range(0, len(ids), _CHUNK):
            rows = core_connection(session).execute(_VERSIONS, {"ids": ids[start : start + _CHUNK]})
            for gid, version in rows:
                current[gid] = version
        valid = {
            ref: value
            for ref, (value, versions) in entries.items()
            if all(current.get(gid) == version for gid, version in versions)
        }
        with self._lock:
            for ref in entries.keys() - valid.keys():
                self._entries.pop((with_ancestry, depth, ref), None)
            for ref in valid:
                key = (with_ancestry, depth, ref)
                if key in self._entries:
                    self._entries.move_to_end(key)
        return valid

    def _keep(self, entries: dict[_CacheKey, _Kept]) -> None:
        with self._lock:
            self._entries.update(entries)
            for key in entries:
                self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)


def _keep_on_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: the outer transaction may still roll back
    staged: list[tuple[ResolutionCache, dict[_CacheKey, _Kept]]] = session.info.pop(_STAGED_KEY, [])
    for cache, entries in staged:
        cache._keep(entries)


def _drop_on_rollback(session: Session, _previous: Any) -> None:
    session.info.pop(_STAGED_KEY, None)


def _drop_on_end(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # committed answers were kept already; the rest go
        session.info.pop(_STAGED_KEY, None)


# Keep a committed session's staged answers, drop a rolled back one's: installed on
# ``Session`` when the first cache is made (importing this module installs nothing).
_LISTENERS = SessionListeners(
    ("after_commit", _keep_on_commit),
    ("after_soft_rollback", _drop_on_rollback),
    ("after_transaction_end", _drop_on_end),
)
