"""Every argument of every root field, screened once before any resolver runs.

What no database takes fails inside a statement (``INTERNAL``, and on PostgreSQL an aborted
transaction), whichever resolver sends it; so it is refused here, in one place, for all of
them (the rules are ``mdm.screening``'s):

- text (``String``, ``ID``, inside input objects and lists too) holds no NUL byte and no
  lone surrogate, and is at most as long as the column it is stored in or compared with
  (``ARGUMENT_COLUMNS``, by argument or input-field name), else ``MAX_ARGUMENT_LENGTH``;
- an identifier (``IDENTIFIER_ARGUMENTS`` and every ``ID``) holds no control character
  either, and an ``ID`` that is a number is within a 64-bit key;
- a ``JSON`` argument nests at most ``MAX_DEPTH`` levels;
- an ``Int`` named in ``ARGUMENT_RANGES`` is within its range.

A look-up by a value that could never have been stored is refused like a write of it, not
answered "not found": one rule for both. The error has code ``INVALID_INPUT``, ``field``
the argument's path (``sourceIds[3]``, ``filter.attributes[0].value``, ``input.system``)
and ``path`` the root field; nothing of the operation runs (as for a variable of the wrong
type).

``ingestRecord`` and ``ingestRecords`` are screened record by record instead, by the
pipeline (``mdm.ingest``), so that one bad record is rejected and kept while the rest of
its batch lands.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    InlineFragmentNode,
    SelectionSetNode,
    get_nullable_type,
    get_operation_ast,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from strawberry.extensions import SchemaExtension

from mdm.errors import InvalidInputError
from mdm.screening import MAX_DEPTH, column_length, nesting_depth, text_problem
from mdm.store import SourceRecord, SourceSystem, Transcoding

MAX_ARGUMENT_LENGTH = 10_000
MAX_ID = 2**63 - 1  # the largest key any table has

# The column an argument's value is stored in or compared with, by its name.
ARGUMENT_COLUMNS = {
    "entityType": SourceRecord.__table__.c.entity_type,
    "system": SourceSystem.__table__.c.code,
    "toSystem": SourceSystem.__table__.c.code,
    "sourceId": SourceRecord.__table__.c.source_id,
    "sourceIds": SourceRecord.__table__.c.source_id,
    "codeSet": Transcoding.__table__.c.code_set,
    "code": Transcoding.__table__.c.code,
    "sourceValue": Transcoding.__table__.c.source_value,
    "name": SourceSystem.__table__.c.name,
}
ARGUMENT_LENGTHS = {name: column_length(column) for name, column in ARGUMENT_COLUMNS.items()}
# Whole numbers a consumer takes only within a range (GraphQL's Int is 32-bit already):
# estimateMatchModel's seed seeds numpy's generator, which takes no negative seed.
ARGUMENT_RANGES = {"seed": (0, 2**31 - 1)}
IDENTIFIER_ARGUMENTS = frozenset({"entityType", "system", "toSystem", "sourceId", "sourceIds"})
SCREENED_PER_RECORD = frozenset({"ingestRecord", "ingestRecords"})


class ArgumentScreen(SchemaExtension):
    """Refuses an operation whose root-field arguments no database could take (see the
    module docstring), before any resolver runs."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if context.result is None and context.graphql_document is not None:
            errors = screen_arguments(
                context.schema._schema,
                context.graphql_document,
                context.operation_name,
                context.variables,
            )
            if errors:
                context.result = ExecutionResult(data=None, errors=errors)
        yield


def screen_arguments(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
) -> list[GraphQLError]:
    """One error per root field with an argument the hub refuses (see the module docstring).

    Variables that do not coerce are left to execution, which then runs no resolver and
    reports them as usual.
    """
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return []
    root = schema.get_root_type(operation.operation)
    if root is None:
        return []
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    nodes = [
        node
        for node in _root_fields(operation.selection_set, fragments, set())
        if node.arguments and node.name.value not in SCREENED_PER_RECORD
    ]
    if not nodes:
        return []
    coerced = get_variable_values(
        schema, operation.variable_definitions or (), dict(variables or {})
    )
    if isinstance(coerced, list):
        return []
    errors = []
    for node in nodes:
        problem = _field_problem(root, node, coerced)
        if problem is not None:
            key = node.alias.value if node.alias else node.name.value
            errors.append(
                GraphQLError(problem.message, nodes=[node], path=[key], original_error=problem)
            )
    return errors


def _root_fields(
    selections: SelectionSetNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    seen: set[str],
) -> Iterator[FieldNode]:
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _root_fields(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in seen:
                seen.add(name)
                yield from _root_fields(fragment.selection_set, fragments, seen)


def _field_problem(
    root: GraphQLObjectType, node: FieldNode, variables: VariableValues
) -> InvalidInputError | None:
    definition = root.fields.get(node.name.value)
    if definition is None:
        return None
    try:
        values = get_argument_values(definition, node, variables)
    except GraphQLError:
        return None  # execution reports it
    for name, argument in definition.args.items():
        key = argument.out_name or name
        if key in values:
            problem = _value_problem(values[key], argument.type, name, name)
            if problem is not None:
                path, message = problem
                return InvalidInputError(f"{path} {message}", field=path)
    return None


def _value_problem(
    value: Any, type_: GraphQLInputType, path: str, name: str
) -> tuple[str, str] | None:
    """The path of what is wrong with a (coerced) argument value and why; or None."""
    if value is None:
        return None
    nullable = get_nullable_type(type_)
    if isinstance(nullable, GraphQLList):
        for index, item in enumerate(value):
            problem = _value_problem(item, nullable.of_type, f"{path}[{index}]", name)
            if problem is not None:
                return problem
        return None
    if isinstance(nullable, GraphQLInputObjectType):
        for field_name, field in nullable.fields.items():
            key = field.out_name or field_name
            if key in value:
                problem = _value_problem(value[key], field.type, f"{path}.{field_name}", field_name)
                if problem is not None:
                    return problem
        return None
    if not isinstance(nullable, GraphQLScalarType):
        return None
    if nullable.name == "Int" and name in ARGUMENT_RANGES:
        low, high = ARGUMENT_RANGES[name]
        if not low <= value <= high:
            return path, f"must be between {low:,} and {high:,}"
        return None
    if nullable.name == "JSON":
        if nesting_depth(value) > MAX_DEPTH:
            return path, f"nests deeper than {MAX_DEPTH} levels"
        return None
    if not isinstance(value, str) or nullable.name not in ("String", "ID"):
        return None
    is_id = nullable.name == "ID"
    found = text_problem(value, is_identifier=is_id or name in IDENTIFIER_ARGUMENTS)
    if found is not None:
        return path, f"contains {found}"
    limit = ARGUMENT_LENGTHS.get(name, MAX_ARGUMENT_LENGTH)
    if len(value) > limit:
        return path, f"is {len(value):,} characters long; at most {limit:,} are accepted"
    if is_id and _is_out_of_key_range(value):
        return path, "is a number beyond any stored id"
    return None


def _is_out_of_key_range(value: str) -> bool:
    try:
        number = int(value)  # as a resolver would read it (spaces, underscores allowed)
    except ValueError:
        return False
    return not -MAX_ID <= number <= MAX_ID
