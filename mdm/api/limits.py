"""Limits on what one GraphQL request may ask of the hub, checked before the work starts.

In order, each step only when the one before passed:

1. one operation is chosen: a document with several needs ``operationName`` (the spec);
2. the document's shape, fragments expanded, measured in linear time (``documents``):
   depth (``max_query_depth``), aliases (30), field selections (``max_query_fields``);
3. graphql-core's own rules (cached per document, as Strawberry's ``ValidationCache``),
   which are cheap only once the document is known to be small;
4. before execution, with the variables: the estimated cost (``cost``, against
   ``max_query_cost``), and lists longer than ``max_batch_size``, which are dropped from
   the variables unconverted; the fields carrying them answer ``BATCH_TOO_LARGE``.

A refused limit is an error with ``extensions.code`` ``QUERY_TOO_COMPLEX`` and
``extensions.limit`` naming it, with the measured value and the limit.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from graphql import (
    ExecutionResult,
    GraphQLError,
    GraphQLSchema,
    GraphQLUnionType,
    OperationDefinitionNode,
    get_nullable_type,
)
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from mdm.api.cost import OversizedList, Path, estimate_operation
from mdm.api.documents import measure_document
from mdm.api.errors import ErrorCode, InvalidInputError
from mdm.errors import BatchTooLargeError
from mdm.settings import Settings

MAX_ALIASES = 30
TOO_COMPLEX = "QUERY_TOO_COMPLEX"
OPERATION_NAME_REQUIRED = "OPERATION_NAME_REQUIRED"

# graphql-core's rules on a document cost the same every time: cache them per parsed
# document (the parser cache hands out one object per query text) and schema.
_validate = functools.lru_cache(maxsize=1000)(validate_document)
_measure = functools.lru_cache(maxsize=1000)(measure_document)


@dataclass(frozen=True)
class QueryLimits:
    """The bounds one request is held to; see the module docstring for the order."""

    max_depth: int
    max_fields: int
    max_cost: int
    max_page_size: int
    max_batch_size: int
    max_aliases: int = MAX_ALIASES
    introspection: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> QueryLimits:
        return cls(
            max_depth=settings.max_query_depth,
            max_fields=settings.max_query_fields,
            max_cost=settings.max_query_cost,
            max_page_size=settings.max_page_size,
            max_batch_size=settings.max_batch_size,
            introspection=settings.introspection,
        )

    def document_errors(self, document: Any) -> list[GraphQLError]:
        """The limits a parsed document breaks, by shape alone (no schema, no variables)."""
        shape = _measure(document)
        errors = [
            _too_complex(
                f"'{name or 'anonymous'}' exceeds maximum operation depth of {self.max_depth}",
                "depth",
                measured.depth,
                self.max_depth,
            )
            for name, measured in shape.operations
            if measured.depth > self.max_depth
        ]
        if shape.aliases > self.max_aliases:
            errors.append(
                _too_complex(
                    f"{shape.aliases} aliases found. Allowed: {self.max_aliases}",
                    "aliases",
                    shape.aliases,
                    self.max_aliases,
                )
            )
        if shape.fields > self.max_fields:
            errors.append(
                _too_complex(
                    f"the document expands to {shape.fields:,} field selections once its "
                    f"fragments are expanded; the limit is {self.max_fields:,}",
                    "fields",
                    shape.fields,
                    self.max_fields,
                )
            )
        return errors


class QueryGuard(SchemaExtension):
    """Holds each request to its ``QueryLimits`` before any resolver runs.

    Takes the place of Strawberry's ``QueryDepthLimiter`` and ``MaxAliasesLimiter``, which
    walk every fragment spread again (a small document of nested spreads took seconds, or
    never ended), and of its ``ValidationCache``, which would run graphql-core's rules
    before the cheap limits.
    """

    def __init__(self, limits: QueryLimits) -> None:
        self.limits = limits

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        assert document is not None
        errors = _operation_choice_errors(context) or self.limits.document_errors(document)
        if not errors:
            rules = context.validation_rules
            if not self.limits.introspection:
                rules = (*rules, NoSchemaIntrospectionCustomRule)
            errors = _validate(context.schema._schema, document, rules)
        context.pre_execution_errors = errors
        yield

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        token = _OVERSIZED.set(None)
        if context.result is None:
            try:
                context.result = self._refusal_before_execution()
            except Exception as error:  # fail closed: ErrorCodes masks and logs it
                context.result = ExecutionResult(
                    data=None, errors=[GraphQLError(str(error), original_error=error)]
                )
        try:
            yield
        finally:
            _OVERSIZED.reset(token)

    def _refusal_before_execution(self) -> ExecutionResult | None:
        context = self.execution_context
        operation = _chosen_operation(context)
        if operation is None:
            return None
        estimate = estimate_operation(
            context.schema._schema,
            context.graphql_document,  # type: ignore[arg-type]
            operation,
            context.variables,
            max_page_size=self.limits.max_page_size,
            max_batch_size=self.limits.max_batch_size,
        )
        if estimate.cost > self.limits.max_cost:
            message = (
                f"query cost estimated at {estimate.cost:,} (page sizes times nested lists) "
                f"exceeds the limit of {self.limits.max_cost:,}"
            )
            error = _too_complex(message, "cost", estimate.cost, self.limits.max_cost)
            return ExecutionResult(data=None, errors=[error])
        _drop_lists(context.variables, estimate.oversized_variables)
        if estimate.oversized:  # answered by the root fields (``refuse_oversized_lists``)
            refusals: dict[int, list[OversizedList]] = {}
            for item in estimate.oversized:
                refusals.setdefault(id(item.node), []).append(item)
            _OVERSIZED.set(refusals)
        return None


def refuse_oversized_lists(schema: GraphQLSchema, limit: int) -> None:
    """Have each root field answer ``BATCH_TOO_LARGE`` when ``QueryGuard`` emptied one of
    its lists. Only root fields take lists, so only their resolvers are wrapped: a
    per-field extension hook would run for every field of every response."""
    for root in (schema.query_type, schema.mutation_type):
        for field in root.fields.values() if root is not None else ():
            field.resolve = _refusing(field.resolve, limit)


def _refusing(resolve: Any, limit: int) -> Any:
    def resolver(root: Any, info: Any, **kwargs: Any) -> Any:
        refusals = _OVERSIZED.get()
        if refusals:
            refused = refusals.get(id(info.field_nodes[0]))
            if refused:
                return _refuse(info, refused[0], limit)
        return resolve(root, info, **kwargs)

    return resolver


# The root fields whose lists QueryGuard emptied, for this operation (by field node).
_OVERSIZED: ContextVar[dict[int, list[OversizedList]] | None] = ContextVar(
    "mdm_oversized_lists", default=None
)


def _too_complex(message: str, limit: str, measured: int, maximum: int) -> GraphQLError:
    return GraphQLError(
        message,
        extensions={"code": TOO_COMPLEX, "limit": limit, "measured": measured, "max": maximum},
    )


def _operations(context: Any) -> list[OperationDefinitionNode]:
    document = context.graphql_document
    return [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]


def _operation_choice_errors(context: Any) -> list[GraphQLError]:
    # Strawberry runs the first operation when none is named; the spec says it is an error.
    # Which name the client gave is only on the execution context, under a private name.
    if context._provided_operation_name is None and len(_operations(context)) > 1:
        return [
            GraphQLError(
                "Must provide operation name if query contains multiple operations.",
                extensions={"code": OPERATION_NAME_REQUIRED},
            )
        ]
    return []


def _chosen_operation(context: Any) -> OperationDefinitionNode | None:
    name = context.operation_name
    for operation in _operations(context):
        if name is None or (operation.name is not None and operation.name.value == name):
            return operation
    return None


def _drop_lists(variables: dict[str, Any] | None, where: tuple[tuple[str, Path], ...]) -> None:
    """Replace each oversized list by an empty one: nothing converts what is refused anyway.

    The variables are this request's own parsed JSON, so they are changed in place.
    """
    for name, path in where:
        holder: Any = variables
        key: str | int = name
        for step in path:
            holder, key = holder[key], step
        holder[key] = []


def _refuse(info: Any, refused: OversizedList, limit: int) -> Any:
    message = f"batch of {refused.length} {refused.field} exceeds the limit of {limit}"
    result_type = get_nullable_type(info.return_type)
    if isinstance(result_type, GraphQLUnionType) and any(
        member.name == InvalidInputError.__name__ for member in result_type.types
    ):
        return InvalidInputError(
            code=ErrorCode.BATCH_TOO_LARGE, message=message, field=refused.field
        )
    raise BatchTooLargeError(message, field=refused.field)
