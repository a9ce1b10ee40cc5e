"""What an operation will cost before it runs: an estimate of the fields it resolves, and the
lists it carries in.

The estimate counts every field once, times the length of each list above it: a field with
a ``first`` argument is ``first`` long (clamped to the page limit, since a larger value is
refused anyway), a list with a list argument (``crosswalkBatch(sourceIds:)``) is as long as
that list, and any other list counts ``DEFAULT_LIST_FACTOR``. The lists of a page
(``edges``, ``nodes`` of a type some ``first`` field returns) are the page itself and count
once. Introspection fields count nothing: they are bounded by the schema.

Lists are measured in the variables as the client sent them, before graphql-core and
Strawberry convert them into objects: a list longer than the batch limit is found without
converting any of it. Each fragment is walked once, in dependency order.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
    type_from_ast,
    value_from_ast_untyped,
)

from mdm.api.documents import fragment_definitions, fragments_in_dependency_order

DEFAULT_LIST_FACTOR = 10

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class OversizedList:
    """A list longer than the batch limit, and where it is.

    Attributes:
        field: the argument, or the input field inside it, holding the list
            (``records``, ``filter.attributes``, ``records[3].tags``).
        length: how many items it has.
        node: the field whose argument it is.
    """

    field: str
    length: int
    node: FieldNode


@dataclass(frozen=True)
class OperationCost:
    """The estimate for one operation, and the oversized lists in its arguments.

    Attributes:
        cost: estimated fields resolved.
        oversized: lists longer than the batch limit, at most one per field and argument.
        oversized_variables: where those lists sit in the variables (name, then the path
            inside the value), so they can be dropped before anything converts them; only
            lists of variables some field in ``oversized`` takes, so that no resolver is
            handed an emptied list.
    """

    cost: int
    oversized: tuple[OversizedList, ...]
    oversized_variables: tuple[tuple[str, Path], ...]


def estimate_operation(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: dict[str, Any] | None,
    *,
    max_page_size: int,
    max_batch_size: int,
) -> OperationCost:
    """Estimate one operation of a validated document with the request's variables.

    Args:
        schema: the graphql-core schema the document was validated against.
        document: the document (its fragments).
        operation: the operation that will run.
        variables: the variables as the client sent them (JSON values).
        max_page_size: the largest ``first`` that is not refused.
        max_batch_size: the longest list an argument may carry.
    """
    walk = _CostWalk(schema, operation, variables or {}, max_page_size, max_batch_size)
    fragments = fragment_definitions(document)
    for name in fragments_in_dependency_order(fragments):
        fragment = fragments[name]
        parent = schema.get_type(fragment.type_condition.name.value)
        walk.fragments[name] = walk.selection_cost(fragment.selection_set, parent)
    root = schema.get_root_type(operation.operation)
    cost = walk.selection_cost(operation.selection_set, root) if root is not None else 0
    return OperationCost(
        cost=cost,
        oversized=tuple(walk.oversized),
        oversized_variables=tuple(
            (name, path) for name, path in walk.oversized_variables if name in walk.taken
        ),
    )


@functools.lru_cache(maxsize=8)
def _page_types(schema: GraphQLSchema) -> frozenset[str]:
    """Types some field with a ``first`` argument returns as one object: connections."""
    found = set()
    for named in schema.type_map.values():
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            for field in named.fields.values():
                if "first" in field.args and not _is_list(field.type):
                    found.add(get_named_type(field.type).name)
    return frozenset(found)


class _CostWalk:
    def __init__(
        self,
        schema: GraphQLSchema,
        operation: OperationDefinitionNode,
        variables: dict[str, Any],
        max_page_size: int,
        max_batch_size: int,
    ) -> None:
        self.schema = schema
        self.variables = variables
        self.max_page_size = max_page_size
        self.max_batch_size = max_batch_size
        self.page_types = _page_types(schema)
        self.fragments: dict[str, int] = {}
        self.oversized: list[OversizedList] = []
        self.oversized_variables: list[tuple[str, Path]] = []
        self.defaults: dict[str, ValueNode] = {}
        self.long_variables: dict[str, list[tuple[Path, int]]] = {}
        self.taken: set[str] = set()  # long variables an argument takes
        for definition in operation.variable_definitions or ():
            name = definition.variable.name.value
            if definition.default_value is not None:
                self.defaults[name] = definition.default_value
            input_type = type_from_ast(schema, definition.type)
            if name in variables and input_type is not None:
                found = list(self._long_lists(variables[name], input_type, ()))  # type: ignore[arg-type]
                if found:
                    self.long_variables[name] = found
                    self.oversized_variables += [(name, path) for path, _ in found]

    def selection_cost(self, selection_set: SelectionSetNode, parent: Any) -> int:
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self._field_cost(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selection_cost(selection.selection_set, inner)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.fragments.get(selection.name.value, 0)
        return total

    def _field_cost(self, node: FieldNode, parent: Any) -> int:
        if node.name.value.startswith("__"):
            return 0
        fields = getattr(parent, "fields", None)
        field = fields.get(node.name.value) if fields is not None else None
        if field is None:
            return 1
        self._check_arguments(node, field)
        below = 0
        if node.selection_set is not None:
            below = self.selection_cost(node.selection_set, get_named_type(field.type))
        return 1 + self._length(node, field, parent) * below

    def _length(self, node: FieldNode, field: GraphQLField, parent: Any) -> int:
        """How many of the field's children the field stands for."""
        if "first" in field.args:
            first = self._int_argument(node, field, "first")
            return self.max_page_size if first is None else max(0, min(first, self.max_page_size))
        if not _is_list(field.type):
            return 1
        if parent.name in self.page_types:
            return 1
        lengths = [
            min(self._list_length(argument.value), self.max_batch_size)
            for argument in node.arguments or ()
            if argument.name.value in field.args and _is_list(field.args[argument.name.value].type)
        ]
        known = [n for n in lengths if n >= 0]
        return max(known) if known else DEFAULT_LIST_FACTOR

    def _value(self, value: ValueNode) -> Any:
        """An argument's JSON value: a literal, a variable, or the variable's default."""
        if isinstance(value, VariableNode):
            name = value.name.value
            if name in self.variables:
                return self.variables[name]
            default = self.defaults.get(name)
            return value_from_ast_untyped(default) if default is not None else None
        return value_from_ast_untyped(value, self.variables)

    def _int_argument(self, node: FieldNode, field: GraphQLField, name: str) -> int | None:
        for argument in node.arguments or ():
            if argument.name.value == name:
                value = self._value(argument.value)
                if value is not None:
                    return value if isinstance(value, int) and not isinstance(value, bool) else None
        default = field.args[name].default_value
        return default if isinstance(default, int) else None

    def _list_length(self, value: ValueNode) -> int:
        if isinstance(value, ListValueNode):
            return len(value.values)
        resolved = self._value(value)
        return len(resolved) if isinstance(resolved, list) else -1

    def _check_arguments(self, node: FieldNode, field: GraphQLField) -> None:
        for argument in node.arguments or ():
            definition = field.args.get(argument.name.value)
            if definition is None:
                continue
            for path, length in self._long_literals(argument.value, definition.type, ()):
                name = argument.name.value + "".join(
                    f"[{step}]" if isinstance(step, int) else f".{step}" for step in path
                )
                self.oversized.append(OversizedList(field=name, length=length, node=node))

    def _long_literals(
        self, value: ValueNode, input_type: GraphQLInputType, path: Path
    ) -> Iterator[tuple[Path, int]]:
        """Lists too long in an argument as written, variables included."""
        if isinstance(value, VariableNode):
            if value.name.value in self.long_variables:
                self.taken.add(value.name.value)
            for inner, length in self.long_variables.get(value.name.value, ()):
                yield (*path, *inner), length
            return
        if isinstance(input_type, GraphQLNonNull):
            input_type = input_type.of_type
        if isinstance(input_type, GraphQLList) and isinstance(value, ListValueNode):
            if len(value.values) > self.max_batch_size:
                yield path, len(value.values)
                return
            for item in value.values:
                yield from self._long_literals(item, input_type.of_type, path)
        elif isinstance(input_type, GraphQLInputObjectType) and isinstance(value, ObjectValueNode):
            for entry in value.fields:
                inner_field = input_type.fields.get(entry.name.value)
                if inner_field is not None:
                    yield from self._long_literals(
                        entry.value, inner_field.type, (*path, entry.name.value)
                    )

    def _long_lists(
        self, value: Any, input_type: GraphQLInputType, path: Path
    ) -> Iterator[tuple[Path, int]]:
        """Lists too long in a variable's JSON value; a long list is not looked into."""
        if isinstance(input_type, GraphQLNonNull):
            input_type = input_type.of_type
        if isinstance(input_type, GraphQLList):
            if not isinstance(value, list):
                yield from self._long_lists(value, input_type.of_type, path)
                return
            if len(value) > self.max_batch_size:
                yield path, len(value)
                return
            for index, item in enumerate(value):
                yield from self._long_lists(item, input_type.of_type, (*path, index))
        elif isinstance(input_type, GraphQLInputObjectType) and isinstance(value, dict):
            for name, inner in input_type.fields.items():
                if name in value:
                    yield from self._long_lists(value[name], inner.type, (*path, name))


def _is_list(output_type: GraphQLOutputType | GraphQLInputType) -> bool:
    if isinstance(output_type, GraphQLNonNull):
        output_type = output_type.of_type
    return isinstance(output_type, GraphQLList)
