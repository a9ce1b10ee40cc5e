"""Context as match evidence: coded values after transcoding, references resolved to parents.

A stored record keeps its references as written (``{system, source_id}`` of the parent in
some system) and its coded values transcoded where reference data allows. What matching
compares is a *view* of it: each coded value as its canonical code (``~CODE`` when only a
learned correspondence explains it, nothing when unmapped), and each reference as the
public id of the parent's golden record today, found through the crosswalk and following
merges. So "same facility" and "facilities known to differ" are comparison levels like any
other, and a parent's merge changes what its children's comparisons say.

Compared references are also kept as ``r:<parent type>:<system>|<source id>`` rows in
``match_key`` (kind ``reference``), so the children of a parent record are found by an
indexed look-up when the parent arrives or its golden record is merged.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any, Protocol

from sqlalchemy import String, bindparam, func, literal, select
from sqlalchemy.orm import ORMExecuteState, Session, aliased

from matchers import ANCESTRY, ReferenceComparison
from matchers.coded import RAW
from mdm.codes import EMPTY_CODEBOOK, LEARNED_MARK, CodeBook
from mdm.golden import live_goldens
from mdm.specs import EntitySpec, SpecRegistry
from mdm.store import (
    GoldenRecord,
    GoldenStatus,
    MatchKeyRow,
    SessionListeners,
    SourceRecord,
    core_connection,
)

ANCESTRY_DEPTH = 3  # ancestors looked up above a parent (department, facility, system)
REFERENCE_PREFIX = "r:"
REFERENCE_KIND = "reference"
_CHUNK = 500

Reference = tuple[str, str, str]  # (entity type, system, source id)
Versions = dict[int, int]  # golden id -> the version an answer was read at

# The statements of the request path, built once: building one costs more than running it.
_MEMBERS_WITH_GOLDEN = (
    select(
        SourceRecord.source_id,
        GoldenRecord.id,
        GoldenRecord.public_id,
        GoldenRecord.status,
        GoldenRecord.version,
    )
    .join(GoldenRecord, GoldenRecord.id == SourceRecord.golden_id)
    .where(
        SourceRecord.entity_type == bindparam("type"),
        SourceRecord.system == bindparam("system"),
        SourceRecord.source_id.in_(bindparam("ids", expanding=True)),
        SourceRecord.is_deleted.is_(False),
    )
)
_VALUES_OF_MEMBERS = select(SourceRecord.golden_id, SourceRecord.standardized).where(
    SourceRecord.golden_id.in_(bindparam("ids", expanding=True)),
    SourceRecord.is_deleted.is_(False),
)
# The children of a parent golden record, found through its members' reference keys in one
# statement (the key built in SQL as ``reference_key`` builds it), with their values.
_member = aliased(SourceRecord, name="member")
_child = aliased(SourceRecord, name="child")
_MEMBER_KEYS = (
    select(
        func.substr(
            literal(REFERENCE_PREFIX)
            + bindparam("parent_type", type_=String)
            + literal(":")
            + _member.system
            + literal("|")
            + _member.source_id,
            1,
            300,
        )
    )
    .join(GoldenRecord, GoldenRecord.id == _member.golden_id)
    .where(GoldenRecord.public_id == bindparam("public_id"))
)
_CHILDREN: dict[tuple[str, ...], Any] = {}


def _children_of_public_id(coded: tuple[str, ...]) -> Any:
    """The statement reading a parent's children with only the ``coded`` values sibling
    candidates are filtered on: a health system has hundreds of facilities, and parsing
    each one's whole document here (it is read again as a candidate) cost more than the
    query."""
    statement = _CHILDREN.get(coded)
    if statement is None:
        statement = (
            select(_child.id, *(_child.standardized[name] for name in coded))
            .join(MatchKeyRow, MatchKeyRow.source_record_id == _child.id)
            .where(
                MatchKeyRow.entity_type == bindparam("type"),
                MatchKeyRow.key.in_(_MEMBER_KEYS.scalar_subquery()),
                MatchKeyRow.kind == REFERENCE_KIND,
            )
            .limit(bindparam("limit"))
        )
        _CHILDREN[coded] = statement
    return statement


def reference_keys(spec: EntitySpec, values: Mapping[str, Any]) -> list[str]:
    """The ``match_key`` rows that say which parents a record's comparisons depend on."""
    return sorted({reference_key(*ref) for ref in references_of(spec, values).values()})


def reference_key(entity_type: str, system: str, source_id: str) -> str:
    """The key under which children of the record ``(type, system, source id)`` are kept."""
    return f"{REFERENCE_PREFIX}{entity_type}:{system}|{source_id}"[:300]


def reference_of_key(key: str) -> Reference:
    """The parent a ``reference`` match key names (``reference_key`` read back)."""
    parent_type, _, rest = key[len(REFERENCE_PREFIX) :].partition(":")
    system, _, source_id = rest.partition("|")
    return (parent_type, system, source_id)


def compared_references(spec: EntitySpec) -> tuple[str, ...]:
    """The reference attributes the spec's comparisons read (the others need no resolving)."""
    return tuple(a.name for a in spec.compared_references)


def references_of(spec: EntitySpec, values: Mapping[str, Any]) -> dict[str, Reference]:
    """The compared references of a record, as ``(entity type, system, source id)``."""
    found: dict[str, Reference] = {}
    for name in compared_references(spec):
        ref = values.get(name)
        attribute = spec.attribute(name)
        if isinstance(ref, Mapping) and ref.get("source_id") and attribute is not None:
            assert attribute.reference is not None
            found[name] = (attribute.reference, str(ref["system"]), str(ref["source_id"]))
    return found


def resolve_references(
    session: Session,
    refs: Iterable[Reference],
    specs: SpecRegistry | None = None,
    *,
    depth: int = ANCESTRY_DEPTH,
) -> dict[Reference, str]:
    """Each resolvable reference -> its parent's golden record today, as ``matchers``'
    ``ReferenceComparison`` reads it: the public id, then (with ``specs``) the public ids
    of that parent's own ancestors, ``"PARENT>GRANDPARENT>..."``.

    A parent that is not (yet) in the store, is deleted or has no golden record stays
    unresolved (absent from the answer). Merged golden records resolve to their survivor.
    """
    install_resolution_listeners()
    cache: dict[Reference, str | None] = session.info.setdefault(RESOLVED_KEY, {}).setdefault(
        (specs is not None, depth), {}
    )
    wanted = set(refs)
    missing = wanted - cache.keys()
    if missing:
        cache.update(dict.fromkeys(missing))
        cache.update(_resolve(session, missing, specs, depth))
    return {ref: found for ref in wanted if (found := cache[ref]) is not None}


def _resolve(
    session: Session, refs: set[Reference], specs: SpecRegistry | None, depth: int
) -> dict[Reference, str]:
    direct = _resolve_direct(session, refs)
    if specs is None or not direct:
        return {ref: public_id for ref, (_, public_id, _) in direct.items()}
    ancestors = _ancestors(session, specs, {gid: kind for gid, _, kind in direct.values()}, depth)
    return {
        ref: ANCESTRY.join([public_id, *ancestors.get(gid, ())])
        for ref, (gid, public_id, _) in direct.items()
    }


@dataclass(frozen=True)
class Resolution:
    """What a reference resolves to, with the golden records the answer was read from.

    ``versions``: every golden record read on the way (the parent's, those it was merged
    through, its ancestors'), at the version read. Any change that could change the answer
    (a member joining, leaving, deleted or re-pointed; a merge; a retirement) bumps the
    version of one of them, so the answer stands while they all keep theirs.
    ``is_complete``: no reference in the ancestry was left unresolved (one that is could
    resolve later without any of these versions changing).
    """

    value: str
    versions: tuple[tuple[int, int], ...]
    is_complete: bool


def resolve_with_versions(
    session: Session,
    refs: Iterable[Reference],
    specs: SpecRegistry | None = None,
    *,
    depth: int = ANCESTRY_DEPTH,
) -> dict[Reference, Resolution]:
    """``resolve_references`` (without its per-session memo), each answer with the versions
    it depends on: what a cache across sessions needs to know whether it still holds."""
    direct_versions: dict[Reference, Versions] = {}
    direct = _resolve_direct(session, refs, direct_versions)
    if not direct:
        return {}
    if specs is None:
        return {
            ref: Resolution(public_id, tuple(sorted(direct_versions[ref].items())), True)
            for ref, (_, public_id, _) in direct.items()
        }
    tree: dict[int, Versions] = {}
    incomplete: set[int] = set()
    ancestors = _ancestors(
        session,
        specs,
        {gid: kind for gid, _, kind in direct.values()},
        depth,
        tree,
        incomplete,
    )
    out = {}
    for ref, (gid, public_id, _) in direct.items():
        versions = {**direct_versions[ref], **tree.get(gid, {})}
        out[ref] = Resolution(
            ANCESTRY.join([public_id, *ancestors.get(gid, ())]),
            tuple(sorted(versions.items())),
            gid not in incomplete,
        )
    return out


# What references resolve to is kept per session (a drain of the re-evaluation queue asks
# about the same facilities again and again) until anything that could change an answer:
# a source or golden record written, a commit (other sessions' writes become visible) or a
# rollback (what was seen inside it may be gone).
RESOLVED_KEY = "mdm.resolved"
_MEMBERSHIP_TABLES = frozenset({"source_record", "golden_record"})


def forget_resolutions(session: Session) -> None:
    session.info.pop(RESOLVED_KEY, None)


def _forget_on_flush(session: Session, _context: Any, _instances: Any) -> None:
    if RESOLVED_KEY in session.info and any(
        isinstance(obj, (SourceRecord, GoldenRecord))
        for obj in chain(session.new, session.dirty, session.deleted)
    ):
        forget_resolutions(session)


def _forget_on_write(state: ORMExecuteState) -> None:
    if RESOLVED_KEY in state.session.info and (
        state.is_insert or state.is_update or state.is_delete
    ):
        table = getattr(state.statement, "table", None)
        if table is None or getattr(table, "name", None) in _MEMBERSHIP_TABLES:
            forget_resolutions(state.session)


def _forget_on_end(session: Session, *_: Any) -> None:
    forget_resolutions(session)


_LISTENERS = SessionListeners(
    ("before_flush", _forget_on_flush),
    ("do_orm_execute", _forget_on_write),
    ("after_commit", _forget_on_end),
    ("after_soft_rollback", _forget_on_end),
)


def install_resolution_listeners() -> None:
    """Have every ``Session`` forget the resolutions memoized in it (``RESOLVED_KEY``) on
    the writes, commits and rollbacks that could change them. Idempotent; whatever
    memoizes resolutions in a session calls it first (``resolve_references``,
    ``mdm.resolutions.ResolutionCache``), so importing this module installs nothing."""
    _LISTENERS.install()


def parent_goldens(session: Session, refs: Iterable[Reference]) -> dict[Reference, int]:
    """Each resolvable reference -> the id of its parent's golden record (merge survivor)."""
    return {ref: gid for ref, (gid, _, _) in _resolve_direct(session, refs).items()}


def _resolve_direct(
    session: Session, refs: Iterable[Reference], versions: dict[Reference, Versions] | None = None
) -> dict[Reference, tuple[int, str, str]]:
    """Reference -> (survivor golden id, its public id, entity type); with ``versions``,
    also each resolved reference -> the golden records read for it, at their version."""
    wanted: dict[tuple[str, str], set[str]] = defaultdict(set)
    for entity_type, system, source_id in refs:
        wanted[(entity_type, system)].add(source_id)
    found: dict[Reference, tuple[int, str, str]] = {}
    merged: dict[Reference, int] = {}  # references whose golden record was merged away
    for (entity_type, system), ids in wanted.items():
        ordered = sorted(ids)
        for start in range(0, len(ordered), _CHUNK):
            # The golden record comes with the member: one query, and one more only for
            # the few whose golden record was merged into another since.
            rows = (
                core_connection(session)
                .execute(
                    _MEMBERS_WITH_GOLDEN,
                    {"type": entity_type, "system": system, "ids": ordered[start : start + _CHUNK]},
                )
                .all()
            )
            for source_id, golden_id, public_id, status, version in rows:
                ref = (entity_type, system, source_id)
                if versions is not None:
                    versions[ref] = {golden_id: version}
                if status == GoldenStatus.MERGED:
                    merged[ref] = golden_id
                elif status != GoldenStatus.RETIRED:
                    found[ref] = (golden_id, public_id, entity_type)
    if merged:
        chains: dict[int, Versions] | None = None if versions is None else {}
        survivors = _follow_merges(session, set(merged.values()), chains)
        found.update((ref, (*survivors[g], ref[0])) for ref, g in merged.items() if g in survivors)
        if versions is not None and chains is not None:
            for ref, g in merged.items():
                versions[ref].update(chains.get(g, {}))
    if versions is not None:
        for ref in set(versions) - found.keys():
            del versions[ref]
    return found


def _ancestors(
    session: Session,
    specs: SpecRegistry,
    goldens: dict[int, str],
    depth: int,
    tree: dict[int, Versions] | None = None,
    incomplete: set[int] | None = None,
) -> dict[int, list[str]]:
    """Golden id -> public ids of its ancestors (parents' goldens, theirs...), nearest first.

    With ``tree``: each golden id -> the ancestors' golden records read, at their version;
    with ``incomplete``: the golden ids whose ancestry has a reference left unresolved.
    """
    tracking = tree is not None and incomplete is not None
    found: dict[int, list[str]] = {g: [] for g in goldens}
    # frontier: golden id to expand -> (its entity type, the starting goldens it serves)
    frontier: dict[int, tuple[str, set[int]]] = {g: (kind, {g}) for g, kind in goldens.items()}
    for _ in range(depth):
        if not frontier:
            break
        refs_of: dict[int, set[Reference]] = defaultdict(set)
        # Only types with a hierarchy of their own (locations) have ancestors to read.
        ids = sorted(g for g, (kind, _) in frontier.items() if _has_hierarchy(specs, kind))
        for start in range(0, len(ids), _CHUNK):
            for golden_id, values in core_connection(session).execute(
                _VALUES_OF_MEMBERS, {"ids": ids[start : start + _CHUNK]}
            ):
                if golden_id is None:
                    continue
                kind = frontier[golden_id][0]
                # Ancestors are the record's own hierarchy (a location's parent location),
                # not everything it refers to (its cost center).
                refs_of[golden_id].update(
                    ref
                    for ref in references_of(specs.get_spec(kind), values or {}).values()
                    if ref[0] == kind
                )
        parent_versions: dict[Reference, Versions] | None = {} if tracking else None
        parents = _resolve_direct(
            session, {r for refs in refs_of.values() for r in refs}, parent_versions
        )
        following: dict[int, tuple[str, set[int]]] = {}
        for golden_id, refs in refs_of.items():
            for ref in sorted(refs):
                hit = parents.get(ref)
                if tree is not None and incomplete is not None and parent_versions is not None:
                    for start_id in frontier[golden_id][1]:
                        if hit is None:
                            incomplete.add(start_id)
                        else:
                            tree.setdefault(start_id, {}).update(parent_versions[ref])
                if hit is None:
                    continue
                parent_id, public_id, kind = hit
                for start_id in frontier[golden_id][1]:
                    if parent_id != start_id and public_id not in found[start_id]:
                        found[start_id].append(public_id)
                entry = following.setdefault(parent_id, (kind, set()))
                entry[1].update(frontier[golden_id][1])
        frontier = following
    return found


def _has_hierarchy(specs: SpecRegistry, entity_type: str) -> bool:
    """Whether records of the type compare a reference to their own type."""
    spec = specs.get_spec(entity_type)
    return any(a.reference == entity_type for a in spec.compared_references)


def survivors_of(session: Session, golden_ids: set[int]) -> dict[int, tuple[int, str]]:
    """Golden id -> (id, public id) of the record it lives on as (itself, or its merge
    survivor); retired records are left out."""
    return _follow_merges(session, golden_ids)


def _follow_merges(
    session: Session, golden_ids: set[int], chains: dict[int, Versions] | None = None
) -> dict[int, tuple[int, str]]:
    """``survivors_of``; with ``chains``, each asked id -> the golden records read on the
    way to its survivor, at their version (``mdm.golden.live_goldens``)."""
    return {
        asked: (live.id, live.public_id)
        for asked, live in live_goldens(session, golden_ids, chains).items()
        if live.status != GoldenStatus.RETIRED
    }


def ancestry_of_clusters(
    labels: Mapping[Reference, str], parents: Mapping[str, set[str]], depth: int = ANCESTRY_DEPTH
) -> dict[Reference, str]:
    """For a load being matched in memory: each reference's cluster label with the labels
    of that cluster's ancestors (``parents``: label -> labels its members refer to)."""
    out = {}
    for ref, label in labels.items():
        chain: list[str] = []
        frontier = [label]
        for _ in range(depth):
            following = []
            for current in frontier:
                for parent in sorted(parents.get(current, ())):
                    if parent != label and parent not in chain:
                        chain.append(parent)
                        following.append(parent)
            frontier = following
        out[ref] = ANCESTRY.join([label, *chain])
    return out


class Resolver(Protocol):
    """Resolves references as ``resolve_references`` does (e.g. a cache across sessions)."""

    def resolve(
        self,
        session: Session,
        refs: Iterable[Reference],
        specs: SpecRegistry | None = None,
        *,
        depth: int = ...,
    ) -> dict[Reference, str]: ...


class ContextView:
    """Builds the values matching compares from stored values (see the module doc).

    ``resolver``: where references are resolved (default: ``resolve_references``).
    """

    def __init__(
        self,
        codes: CodeBook = EMPTY_CODEBOOK,
        specs: SpecRegistry | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        self.codes = codes
        self.specs = specs
        self.resolver = resolver

    def views(
        self,
        session: Session,
        spec: EntitySpec,
        records: Sequence[tuple[str, Mapping[str, Any]]],
        resolved: Mapping[Reference, str] | None = None,
    ) -> list[dict[str, Any]]:
        """``(system, values)`` records -> their matching views, references resolved in one
        pass (or from ``resolved``, when the caller already knows the parents)."""
        refs = [references_of(spec, values) for _, values in records]
        if resolved is None:
            resolved = self.resolve(session, {r for found in refs for r in found.values()})
        return [
            self.view(spec, system, values, found, resolved)
            for (system, values), found in zip(records, refs, strict=True)
        ]

    def resolve(self, session: Session, refs: Iterable[Reference]) -> dict[Reference, str]:
        """What references resolve to in views: each parent's golden public id, with its
        ancestry (unresolvable ones are left out)."""
        if self.resolver is not None:
            return self.resolver.resolve(session, refs, self.specs)
        return resolve_references(session, refs, self.specs)

    def view(
        self,
        spec: EntitySpec,
        system: str,
        values: Mapping[str, Any],
        refs: Mapping[str, Reference],
        resolved: Mapping[Reference, str],
    ) -> dict[str, Any]:
        """One record's matching view."""
        out = dict(values)
        for attribute in spec.coded:
            assert attribute.code_set is not None
            if attribute.name in out:
                raw = out[attribute.name]
                out[attribute.name] = self.codes.match_token(
                    attribute.code_set, system, None if raw is None else str(raw)
                )
        for name in compared_references(spec):
            ref = refs.get(name)
            out[name] = None if ref is None else resolved.get(ref)
        return out

    def context_key(self, spec: EntitySpec, view: Mapping[str, Any]) -> tuple[Any, ...]:
        """The parts of a view that change without the record changing (for caches)."""
        return self.context_key_of(spec)(view)

    def context_key_of(self, spec: EntitySpec) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
        """``context_key`` for the views of ``spec``, its names looked up once (a newcomer
        keys hundreds of candidates' views)."""
        names = (*(a.name for a in spec.coded), *compared_references(spec))
        version = self.codes.version

        def key(view: Mapping[str, Any]) -> tuple[Any, ...]:
            return (version, *map(view.get, names))

        return key


def sibling_records(
    session: Session,
    spec: EntitySpec,
    view: Mapping[str, Any],
    limit: int,
    codes: CodeBook = EMPTY_CODEBOOK,
) -> list[int]:
    """Records of ``spec``'s type that refer to the same parent (golden record) as the
    matching ``view`` of a record: candidates whatever their blocking keys say (a
    department with no address of its own, named differently in each system), of the same
    kind where both say which (a child whose stored value ``codes`` reads as no code, or
    that has none, is kept). Parents with more than ``limit`` such children are skipped,
    like an oversized block."""
    # Of the children, those of the same kind: a department's candidates are departments.
    # A system's own spelling of a code set that is not loaded (``raw_code_token``) says
    # nothing of another system's children: not a filter.
    mine = {
        a.name: view.get(a.name)
        for a in spec.coded
        if view.get(a.name) and not str(view.get(a.name)).startswith(RAW)
    }
    statement = _children_of_public_id(tuple(mine))
    wanted = tuple(mine.values())
    code_sets = tuple(str(a.code_set) for a in spec.coded if a.name in mine)
    found: set[int] = set()
    connection = core_connection(session)
    for name in compared_references(spec):
        raw = view.get(name)
        attribute = spec.attribute(name)
        if not isinstance(raw, str) or not raw or attribute is None:
            continue
        assert attribute.reference is not None
        children = connection.execute(
            statement,
            {
                "type": spec.name,
                "parent_type": attribute.reference,
                "public_id": raw.split(ANCESTRY, 1)[0],
                "limit": limit + 1,
            },
        ).all()
        if len(children) <= limit:
            found.update(
                record_id
                for record_id, *values in children
                if all(
                    _is_same_kind(codes, coded, value, code)
                    for coded, value, code in zip(code_sets, values, wanted, strict=True)
                )
            )
    return sorted(found)


def _is_same_kind(codes: CodeBook, code_set: str, stored: Any, mine: Any) -> bool:
    """Whether a child's stored coded value may be of the newcomer's kind ``mine``: it is
    that code, or it is none that the code book knows (missing, a system's own spelling of
    a code set not loaded: "NURS UNIT" is ``NURSING_UNIT``, "SPECIAL CARE" is only
    itself), which says nothing against it, as ``CodeComparison`` reads it."""
    if stored == mine or not isinstance(stored, str):
        return True
    token = codes.match_token(code_set, "", stored)
    return token is None or token == mine or token.startswith((RAW, LEARNED_MARK))


def without_context(specs: SpecRegistry) -> SpecRegistry:
    """The same entity types with no context evidence: no comparison of resolved parents
    (nor their vetoes and rules). For measuring what context adds (``bench/match.py``);
    with it, pair the ingestor with ``plain_codes`` so learned codes are no evidence either.
    """
    out = []
    for name in specs:
        spec = specs.get_spec(name)
        settings = spec.matching
        if settings is not None:
            kept = tuple(c for c in settings.comparisons if not isinstance(c, ReferenceComparison))
            names = {c.name for c in kept}
            settings = dataclasses.replace(
                settings,
                comparisons=kept,
                vetoes=tuple(v for v in settings.vetoes if v[0] in names),
                decisive=tuple(r for r in settings.decisive if all(c[0] in names for c in r)),
            )
        out.append(dataclasses.replace(spec, matching=settings))
    return SpecRegistry(tuple(out))


def plain_codes(book: CodeBook) -> CodeBook:
    """A code book without learned correspondences and display labels (see
    ``without_context``): canonical codes and transcodings only."""
    return dataclasses.replace(book, learned={}, labels={})


@dataclass(frozen=True)
class UnresolvedReference:
    """Records of one type referring, in one system, to parents that are not in the store."""

    entity_type: str
    parent_type: str
    system: str
    count: int  # distinct parent source ids missing
    records: int  # records waiting on them
    examples: tuple[str, ...]  # a few of the missing parent source ids


def unresolved_references(session: Session, *, examples: int = 5) -> list[UnresolvedReference]:
    """Compared references whose parent record does not exist (yet): kept as written,
    resolved when the parent arrives (its children are then re-decided), reported here
    while they wait. Deleted parents count as missing."""
    wanted: dict[tuple[str, str, str], set[str]] = defaultdict(set)  # (type, parent, system)
    waiting: Counter[tuple[str, str, str, str]] = Counter()
    rows = session.execute(
        select(MatchKeyRow.entity_type, MatchKeyRow.key).where(MatchKeyRow.kind == REFERENCE_KIND)
    )
    for entity_type, key in rows:
        parent_type, system, source_id = reference_of_key(key)
        wanted[(entity_type, parent_type, system)].add(source_id)
        waiting[(entity_type, parent_type, system, source_id)] += 1
    found = []
    for (entity_type, parent_type, system), ids in sorted(wanted.items()):
        present: set[str] = set()
        ordered = sorted(ids)
        for start in range(0, len(ordered), _CHUNK):
            present.update(
                session.scalars(
                    select(SourceRecord.source_id).where(
                        SourceRecord.entity_type == parent_type,
                        SourceRecord.system == system,
                        SourceRecord.source_id.in_(ordered[start : start + _CHUNK]),
                        SourceRecord.is_deleted.is_(False),
                    )
                )
            )
        missing = sorted(ids - present)
        if missing:
            found.append(
                UnresolvedReference(
                    entity_type,
                    parent_type,
                    system,
                    len(missing),
                    sum(waiting[(entity_type, parent_type, system, m)] for m in missing),
                    tuple(missing[:examples]),
                )
            )
    return found
