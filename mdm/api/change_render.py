"""Change events rendered straight to JSON for a validated selection, shared by readers.

GraphQL execution costs tens of microseconds an event (a resolver call, a completion and
a check per field), and a live event goes to every subscriber: executing it once per
subscriber made delivery to 1,000 subscribers take most of a second, and replay run at a
few thousand events a second. A ``ChangeRenderer`` is built once from a subscription's (or
a page's) selection on ``ChangeEvent`` after GraphQL has parsed, validated and authorized
the operation; it turns a stored event into the same JSON text the execution would give,
directly from the event document, and keeps the last events it rendered, so subscribers
with the same selection, role and ``systems`` share one rendering of each event.

Only what it can render exactly is taken: the fields of ``ChangeEvent``,
``AttributeChange`` and ``SourceKey``, aliases, fragments and inline fragments on those
types, ``@skip``/``@include``. Anything else (another directive, a field needing a role the
caller lacks) gives ``None``, and the operation executes as GraphQL as before.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson
from graphql import (
    BooleanValueNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
    VariableNode,
)

from mdm.api.pagination import encode_cursor
from mdm.api.permissions import is_reference_value
from mdm.api.types import GoldenStatus
from mdm.changes import Change, RawJson

CHANGE_CURSOR = "c"  # the change stream's cursor prefix (mdm.api.changes)
KEPT_PER_RENDERER = 4096  # rendered events kept per renderer (the newest)
RENDERERS = 256  # renderers kept (the most recently used)
_DIRECTIVES = {"skip", "include"}
_STATUSES = {status.value: status.name for status in GoldenStatus}  # as the enum serializes

# (response key, field name, sub-selection or None), in response order.
Shape = tuple[tuple[str, str, "Shape | None"], ...]


class Unsupported(Exception):
    """The selection holds something only GraphQL execution renders exactly."""


def visible_attributes(change: Change, sees_ids: bool) -> Any:
    """The golden attributes after the change, reference values (crosswalk data) left out
    below the integrator role (``sees_ids``)."""
    found = change.payload.get("attributes") or {}
    if type(found) is RawJson:
        found = orjson.loads(found.text)
    if not sees_ids:
        for value in found.values():  # most events hold no reference value: kept as they are
            if type(value) is dict and "system" in value:
                return {k: v for k, v in found.items() if not is_reference_value(v)}
    return found


def _rendered_attributes(change: Change, sees_ids: bool) -> Any:
    """``visible_attributes`` for orjson: stored JSON text that holds no reference value
    (nor could: no ``"system"`` key) is copied as it is."""
    found = change.payload.get("attributes")
    if type(found) is RawJson and (sees_ids or '"system"' not in found.text):
        return orjson.Fragment(found.text)
    return visible_attributes(change, sees_ids)


def visible_changes(change: Change, sees_ids: bool) -> list[dict[str, Any]]:
    """Each changed attribute with both values, as ``visible_attributes`` shows them."""
    return [
        {"attribute": name, "old": values.get("old"), "new": values.get("new")}
        for name, values in (change.payload.get("changes") or {}).items()
        if sees_ids
        or not (is_reference_value(values.get("old")) or is_reference_value(values.get("new")))
    ]


def _merged_into(change: Change) -> Any:
    return change.payload.get("mergedInto") or None


# ChangeEvent's fields: name -> (value of the event, for the caller's visibility).
_EVENT_FIELDS: dict[str, Callable[[Change, bool], Any]] = {
    "position": lambda c, _: c.seq,
    "cursor": lambda c, _: encode_cursor(c.seq, CHANGE_CURSOR),
    "schemaVersion": lambda c, _: int(c.payload.get("schemaVersion", 0)),
    "kind": lambda c, _: c.kind.upper(),
    "entityType": lambda c, _: c.entity_type,
    "goldenId": lambda c, _: c.golden_id,
    "version": lambda c, _: c.version,
    "recordStatus": lambda c, _: _STATUSES[c.payload.get("status", "active")],
    "mergedInto": lambda c, _: _merged_into(c),
    "mergedFrom": lambda c, _: list(c.payload.get("mergedFrom", ())),
    "attributes": _rendered_attributes,
    "actor": lambda c, _: c.actor,
    "correlationId": lambda c, _: c.correlation_id,
    "createdAt": lambda c, _: c.created_at,  # orjson writes it as isoformat() does
}
_OBJECT_FIELDS = {  # fields of objects (lists of them): (type, name) -> their type
    ("ChangeEvent", "changes"): "AttributeChange",
    ("ChangeEvent", "sourceIds"): "SourceKey",
    ("ChangeEvent", "removedSourceIds"): "SourceKey",
    ("ChangeEventEdge", "node"): "ChangeEvent",
    ("ChangeConnection", "edges"): "ChangeEventEdge",
    ("ChangeConnection", "nodes"): "ChangeEvent",
}
_CROSSWALK_FIELDS = {"sourceIds", "removedSourceIds"}  # IsIntegrator on the type
_LEAVES = {
    "ChangeEvent": set(_EVENT_FIELDS),
    "AttributeChange": {"attribute", "old", "new"},
    "SourceKey": {"system", "sourceId"},
    "ChangeEventEdge": {"cursor"},
}
PAGE_LISTS = {"edges", "nodes"}  # ChangeConnection's lists of events


# The payload members each ChangeEvent field reads (fields absent here read none).
_MEMBERS = {
    "schemaVersion": "schemaVersion",
    "recordStatus": "status",
    "mergedInto": "mergedInto",
    "mergedFrom": "mergedFrom",
    "attributes": "attributes",
    "changes": "changes",
    "sourceIds": "sources",
    "removedSourceIds": "removedSources",
}
MAX_MEMBERS = 2  # more than this: the whole payload is read (one value to parse, not many)


def payload_members(shapes: Iterable[Shape]) -> frozenset[str] | None:
    """The payload members that rendering events of these shapes (a ``ChangeEvent``'s, or
    a ``changes`` page's edge or node) reads, so a read can leave the rest in the
    database; None when that is more than ``MAX_MEMBERS`` (read the whole payload)."""
    members: set[str] = set()
    pending = list(shapes)
    while pending:
        for _, name, sub in pending.pop():
            if name in _MEMBERS:
                members.add(_MEMBERS[name])
            elif sub is not None:  # an edge's node
                pending.append(sub)
    return frozenset(members) if len(members) <= MAX_MEMBERS else None


def selection_shape(
    field_nodes: list[FieldNode],
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Any,
    *,
    sees_ids: bool,
) -> Shape | None:
    """The shape of ``ChangeEvent`` selected under these field nodes (the fields of one
    response key, merged), or None when only GraphQL execution renders it exactly."""
    try:
        return _shape("ChangeEvent", [n.selection_set for n in field_nodes], fragments,
                      variables, sees_ids)  # fmt: skip
    except Unsupported:
        return None


def page_shapes(
    field_nodes: list[FieldNode],
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Any,
    *,
    sees_ids: bool,
) -> dict[str, tuple[str, Shape]] | None:
    """The event lists selected on a ``ChangeConnection`` (response key -> ``edges`` or
    ``nodes``, and the shape of an edge or a node), or None when only execution renders
    one of them exactly. Its other fields (``pageInfo``, ``head``) execute as usual."""
    grouped: dict[str, list[FieldNode]] = {}
    try:
        for node in field_nodes:
            if node.selection_set is not None:
                _collect("ChangeConnection", node.selection_set, fragments, variables,
                         grouped, set())  # fmt: skip
        return {
            key: (nodes[0].name.value, _shape(
                _OBJECT_FIELDS["ChangeConnection", nodes[0].name.value],
                [n.selection_set for n in nodes], fragments, variables, sees_ids))
            for key, nodes in grouped.items()
            if nodes[0].name.value in PAGE_LISTS
        }  # fmt: skip
    except Unsupported:
        return None


def _shape(
    type_name: str,
    selection_sets: list[SelectionSetNode | None],
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Any,
    sees_ids: bool,
) -> Shape:
    grouped: dict[str, list[FieldNode]] = {}
    for selection_set in selection_sets:
        if selection_set is None:
            raise Unsupported("an object field without a selection")
        _collect(type_name, selection_set, fragments, variables, grouped, set())
    shape: list[tuple[str, str, Shape | None]] = []
    for key, nodes in grouped.items():
        name = nodes[0].name.value
        if name == "__typename":
            shape.append((key, name, None))
        elif (type_name, name) in _OBJECT_FIELDS:
            if name in _CROSSWALK_FIELDS and not sees_ids:
                raise Unsupported("a crosswalk field the caller may not read")
            sub = _shape(_OBJECT_FIELDS[type_name, name], [n.selection_set for n in nodes],
                         fragments, variables, sees_ids)  # fmt: skip
            shape.append((key, name, sub))
        elif name in _LEAVES[type_name]:
            shape.append((key, name, None))
        else:
            raise Unsupported(f"field {name} of {type_name}")
    return tuple(shape)


def _collect(
    type_name: str,
    selection_set: SelectionSetNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Any,
    grouped: dict[str, list[FieldNode]],
    visited: set[str],
) -> None:
    for selection in selection_set.selections:
        if not _included(selection, variables):
            continue
        if isinstance(selection, FieldNode):
            if selection.arguments:
                raise Unsupported("a field with arguments")
            key = selection.alias.value if selection.alias else selection.name.value
            grouped.setdefault(key, []).append(selection)
        elif isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            if condition is not None and condition.name.value != type_name:
                raise Unsupported("a fragment on another type")
            _collect(type_name, selection.selection_set, fragments, variables, grouped, visited)
        elif isinstance(selection, FragmentSpreadNode):
            if getattr(selection, "arguments", None):
                raise Unsupported("a fragment with arguments")
            name = selection.name.value
            if name in visited:
                continue
            visited.add(name)
            fragment = fragments.get(name)
            if fragment is None or fragment.type_condition.name.value != type_name:
                raise Unsupported("a fragment on another type")
            _collect(type_name, fragment.selection_set, fragments, variables, grouped, visited)
        else:
            raise Unsupported("an unknown selection")


def _included(node: Any, variables: Any) -> bool:
    """Whether ``@skip``/``@include`` keep the node (validation checked their ``if``)."""
    for directive in node.directives or ():
        name = directive.name.value
        if name not in _DIRECTIVES:
            raise Unsupported("a directive other than @skip and @include")
        condition = _condition(directive, variables)
        if condition is (name == "skip"):
            return False
    return True


def _condition(directive: Any, variables: Any) -> bool:
    (argument,) = directive.arguments
    value = argument.value
    if isinstance(value, BooleanValueNode):
        return bool(value.value)
    if isinstance(value, VariableNode):
        coerced = getattr(variables, "coerced", variables) or {}
        found = coerced.get(value.name.value)
        if isinstance(found, bool):
            return found
    raise Unsupported("a condition only execution reads")


class ChangeRenderer:
    """Renders events as JSON text for one shape, role visibility and ``systems`` filter,
    keeping the newest ``KEPT_PER_RENDERER`` renderings (see the module docstring)."""

    def __init__(self, shape: Shape, sees_ids: bool, systems: frozenset[str] | None) -> None:
        self.shape = shape
        self.sees_ids = sees_ids
        self.systems = systems
        # By position, with what identifies the event there: a position is unique in one
        # database, and a process may read several (tests; a database restored).
        self._kept: OrderedDict[int, tuple[tuple[Any, ...], str]] = OrderedDict()
        self._lock = threading.Lock()  # pages render on worker threads
        self._fields = [(key, self._field(name, sub)) for key, name, sub in shape]

    def text(self, change: Change) -> str:
        """The event's JSON text (rendered once, then shared)."""
        found = self.kept(change)
        if found is not None:
            return found
        rendered = orjson.dumps(self.value(change)).decode()
        with self._lock:
            self._kept[change.seq] = (_stamp(change), rendered)
            if len(self._kept) > KEPT_PER_RENDERER:
                self._kept.popitem(last=False)
        return rendered

    def text_once(self, change: Change) -> str:
        """``text``, for an event no other reader will ask for (``StoredEvents``): the
        kept text if there is one, else rendered and not kept."""
        found = self.kept(change)
        return orjson.dumps(self.value(change)).decode() if found is None else found

    def kept(self, change: Change) -> str | None:
        """The event's kept text (a live one, sent), if there is one."""
        found = self._kept.get(change.seq)
        return found[1] if found is not None and found[0] == _stamp(change) else None

    def value(self, change: Change) -> dict[str, Any]:
        """The event as the selection's JSON value."""
        sees_ids = self.sees_ids
        return {key: field(change, sees_ids) for key, field in self._fields}

    def _field(self, name: str, sub: Shape | None) -> Callable[[Change, bool], Any]:
        """How one selected field of ``ChangeEvent`` is valued."""
        if name == "__typename":
            return lambda _c, _s: "ChangeEvent"
        if sub is not None:
            return lambda change, _: [
                _object(item, sub, typename) for item, typename in self._objects(change, name)
            ]
        return _EVENT_FIELDS[name]

    def _objects(self, change: Change, name: str) -> list[tuple[dict[str, Any], str]]:
        if name == "changes":
            return [(c, "AttributeChange") for c in visible_changes(change, self.sees_ids)]
        pairs = change.source_ids(self.systems, removed=name == "removedSourceIds")
        return [({"system": s, "sourceId": i}, "SourceKey") for s, i in pairs]


def _stamp(change: Change) -> tuple[Any, ...]:
    """What identifies the event at a position (a position is unique in one database)."""
    return (change.golden_id, change.version, change.created_at, change.kind)


def _object(item: dict[str, Any], shape: Shape, typename: str) -> dict[str, Any]:
    return {key: typename if name == "__typename" else item[name] for key, name, _ in shape}


_RENDERERS: OrderedDict[tuple[Any, ...], ChangeRenderer] = OrderedDict()
_RENDERERS_LOCK = threading.Lock()


def renderer_for(shape: Shape, sees_ids: bool, systems: frozenset[str] | None) -> ChangeRenderer:
    """The shared renderer of this shape, visibility and filter (made on first use)."""
    key = (shape, sees_ids, systems)
    with _RENDERERS_LOCK:
        found = _RENDERERS.get(key)
        if found is None:
            found = _RENDERERS[key] = ChangeRenderer(shape, sees_ids, systems)
            if len(_RENDERERS) > RENDERERS:
                _RENDERERS.popitem(last=False)
        else:
            _RENDERERS.move_to_end(key)
        return found


def page_fragment(
    kind: str,
    shape: Shape,
    changes: list[Change],
    sees_ids: bool,
    systems: frozenset[str] | None,
) -> orjson.Fragment:
    """A page's list of events (``edges`` or ``nodes``, of ``page_shapes``) as ready JSON.

    Events the shared renderer of their shape already holds (a live event sent to
    subscribers) are copied from it; otherwise (a replay) the page is written in one
    ``orjson.dumps``, and kept by nobody: each event's own text, kept, would cost more
    than it saves on events read once."""
    if kind == "nodes":
        nodes = renderer_for(shape, sees_ids, systems)
        return orjson.Fragment(orjson.dumps([_node(nodes, changes)(c) for c in changes]))
    node = next((sub for _, name, sub in shape if name == "node"), None)
    value = None if node is None else _node(renderer_for(node, sees_ids, systems), changes)
    fields = [(key, name) for key, name, _ in shape]
    edges = []
    for change in changes:
        edge: dict[str, Any] = {}
        for key, name in fields:
            if name == "cursor":
                edge[key] = encode_cursor(change.seq, CHANGE_CURSOR)
            elif name == "node" and value is not None:
                edge[key] = value(change)
            else:
                edge[key] = "ChangeEventEdge"
        edges.append(edge)
    return orjson.Fragment(orjson.dumps(edges))


def _node(renderer: ChangeRenderer, changes: list[Change]) -> Callable[[Change], Any]:
    """How a page's events are written: as their kept texts when the first is kept,
    else as values (for the page's one ``orjson.dumps``)."""
    if changes and renderer.kept(changes[0]) is not None:
        return lambda change: orjson.Fragment(renderer.text(change))
    return renderer.value
