"""The size of a GraphQL document once its fragments are expanded, measured in linear time.

A fragment spread six times in each of eight nested fragments expands to 6^8 selections
from a 533-byte document. Walking every spread (as Strawberry's depth and alias limiters do)
costs as much as executing it; here each fragment is measured once, in dependency order, and
a spread adds the fragment's measure. Fragments on a cycle measure zero: graphql-core's
``NoFragmentCycles`` rule reports them, and no walk here follows a spread.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)


@dataclass(frozen=True)
class Shape:
    """A selection set's expanded measures.

    Attributes:
        depth: how many field levels lie below the set's own fields (Strawberry's
            ``QueryDepthLimiter`` count: a leaf is 0, introspection fields are not entered).
        aliases: aliased fields, every spread counted again.
        fields: field selections, every spread counted again.
    """

    depth: int = 0
    aliases: int = 0
    fields: int = 0


@dataclass(frozen=True)
class DocumentShape:
    """Every operation's shape, and the work it took to measure them.

    Attributes:
        operations: each operation's shape, in document order (an anonymous one is ``None``).
        aliases: aliased fields of all operations together (expanded).
        fields: field selections of all operations together (expanded).
        visits: selection nodes looked at; each node of the document once at most.
    """

    operations: tuple[tuple[str | None, Shape], ...]
    aliases: int
    fields: int
    visits: int

    @property
    def depth(self) -> int:
        return max((shape.depth for _, shape in self.operations), default=0)


def fragment_definitions(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    """The document's fragments by name (the first of a duplicated name wins)."""
    found: dict[str, FragmentDefinitionNode] = {}
    for definition in document.definitions:
        if isinstance(definition, FragmentDefinitionNode):
            found.setdefault(definition.name.value, definition)
    return found


def fragments_in_dependency_order(fragments: Mapping[str, FragmentDefinitionNode]) -> list[str]:
    """Fragment names, each after every fragment it spreads.

    Fragments on a cycle, and those spreading one, are left out: callers treat a spread of
    a fragment they have not measured as empty. Iterative, so a long chain of fragments
    cannot exhaust the stack.
    """
    spreads = {
        name: set(_spread_names(f.selection_set)) & fragments.keys()
        for name, f in fragments.items()
    }
    dependents: dict[str, list[str]] = {name: [] for name in fragments}
    waiting = {name: len(needed) for name, needed in spreads.items()}
    for name, needed in spreads.items():
        for other in needed:
            dependents[other].append(name)
    ready = [name for name, count in waiting.items() if count == 0]
    order: list[str] = []
    while ready:
        name = ready.pop()
        order.append(name)
        for dependent in dependents[name]:
            waiting[dependent] -= 1
            if waiting[dependent] == 0:
                ready.append(dependent)
    return order


def measure_document(document: DocumentNode) -> DocumentShape:
    """Measure every operation of a document, each fragment once.

    Example:
        >>> from graphql import parse
        >>> document = parse("{ a: x { id } ...F } fragment F on Query { b: x { id } }")
        >>> shape = measure_document(document)
        >>> (shape.depth, shape.aliases, shape.fields)
        (1, 2, 4)
    """
    meter = _ShapeMeter()
    fragments = fragment_definitions(document)
    for name in fragments_in_dependency_order(fragments):
        meter.fragments[name] = meter.measure(fragments[name].selection_set)
    operations = tuple(
        (d.name.value if d.name else None, meter.measure(d.selection_set))
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    )
    return DocumentShape(
        operations=operations,
        aliases=sum(shape.aliases for _, shape in operations),
        fields=sum(shape.fields for _, shape in operations),
        visits=meter.visits,
    )


class _ShapeMeter:
    def __init__(self) -> None:
        self.fragments: dict[str, Shape] = {}
        self.visits = 0

    def measure(self, selection_set: SelectionSetNode) -> Shape:
        depth = aliases = fields = 0
        for selection in selection_set.selections:
            self.visits += 1
            if isinstance(selection, FieldNode):
                fields += 1
                aliases += selection.alias is not None
                if selection.selection_set is None:
                    continue
                below = self.measure(selection.selection_set)
                aliases += below.aliases
                fields += below.fields
                if not selection.name.value.startswith("__"):
                    depth = max(depth, 1 + below.depth)
                continue
            if isinstance(selection, InlineFragmentNode):
                part = self.measure(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                part = self.fragments.get(selection.name.value, Shape())
            else:  # pragma: no cover - graphql-core has no other selection
                continue
            depth = max(depth, part.depth)
            aliases += part.aliases
            fields += part.fields
        return Shape(depth=depth, aliases=aliases, fields=fields)


def _spread_names(selection_set: SelectionSetNode) -> Iterator[str]:
    stack = [selection_set]
    while stack:
        for selection in stack.pop().selections:
            if isinstance(selection, FragmentSpreadNode):
                yield selection.name.value
            elif isinstance(selection, FieldNode | InlineFragmentNode) and selection.selection_set:
                stack.append(selection.selection_set)
