"""The GraphQL schema: the feature modules' queries and mutations composed, with limits.

Each feature module (``records``, ``crosswalk``, ``systems``, ``ingest``, ``quality``,
``matching``, ``reference``, ``changes``) holds its fields on a ``…Query``/``…Mutation``
(and ``…Subscription``) base class; ``build_schema`` composes them, in this order (the order
of the fields in the SDL), and adds one golden-record field and one page per entity spec.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from functools import lru_cache
from typing import Any, cast

import strawberry
from graphql import GraphQLError, OperationType, get_operation_ast, parse
from strawberry.extensions import MaxTokensLimiter, ParserCache
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from mdm.api.arguments import ArgumentScreen
from mdm.api.changes import SCALARS, ChangeMutation, ChangeQuery, ChangeSubscription
from mdm.api.crosswalk import CrosswalkQuery
from mdm.api.errors import ErrorCodes, NotFoundError
from mdm.api.ingest import IngestMutation, IngestQuery
from mdm.api.limits import QueryGuard, QueryLimits, refuse_oversized_lists
from mdm.api.matching import MatchMutation, MatchQuery
from mdm.api.quality import QualityQuery
from mdm.api.records import RecordQuery, entity_fields
from mdm.api.reference import ReferenceMutation, ReferenceQuery
from mdm.api.systems import SystemMutation, SystemQuery
from mdm.api.types import build_entity_types
from mdm.errors import MdmError
from mdm.settings import Settings
from mdm.specs import SpecRegistry

MAX_TOKENS = 5000  # tokens a document may have (MaxTokensLimiter)
QUERIES = (
    RecordQuery,
    CrosswalkQuery,
    SystemQuery,
    IngestQuery,
    QualityQuery,
    MatchQuery,
    ReferenceQuery,
    ChangeQuery,
)
MUTATIONS = (IngestMutation, SystemMutation, MatchMutation, ReferenceMutation, ChangeMutation)
SUBSCRIPTIONS = (ChangeSubscription,)


class HubSchema(strawberry.Schema):
    """Logs only unexpected errors: expected ones are the caller's, and carry a code."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            if error.original_error is None and not (error.extensions or {}).get("code"):
                # A document that does not parse (or validate) never reaches ErrorCodes.
                code = (
                    "GRAPHQL_PARSE_FAILED"
                    if error.message.startswith("Syntax Error")
                    else "GRAPHQL_VALIDATION_FAILED"
                )
                error.extensions = {**(error.extensions or {}), "code": code}
            if (error.extensions or {}).get("code") == "INTERNAL":
                continue  # already logged with its traceback and request id by ErrorCodes
            if isinstance(error.original_error, Exception) and not isinstance(
                error.original_error, MdmError | GraphQLError
            ):
                super().process_errors([error], execution_context)

    async def stream(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """A websocket's query or mutation runs on a worker thread, as over HTTP: its
        resolvers read the database synchronously, and on the server's loop they would
        hold every subscriber of the process until they end. (A subscription streams on
        the loop: its resolver reads on threads of its own.)"""
        workers = getattr(context_value, "workers", None)
        run = super().stream
        if workers is None or _is_subscription(query, operation_name):
            return await run(query, variable_values, context_value, root_value,
                             operation_name, *args, **kwargs)  # fmt: skip
        # A context of its own: its DataLoaders bind to the worker's loop.
        context = dataclasses.replace(cast(Any, context_value))

        async def collect() -> list[Any]:
            source = await run(query, variable_values, context, root_value, operation_name,
                               *args, **kwargs)  # fmt: skip
            return [result async for result in source]

        return _replay(await workers.run(collect))


async def _replay(results: list[Any]) -> AsyncIterator[Any]:
    for result in results:
        yield result


def _is_subscription(query: str | None, operation_name: str | None) -> bool:
    """Whether the document's chosen operation is a subscription (a document that does
    not parse within the token limit, or names no such operation, is not: execution then
    reports it)."""
    if not query:
        return False
    if len(query) > _CACHED_DOCUMENT:
        return _operation_is_subscription(query, operation_name)
    return _cached_is_subscription(query, operation_name)


_CACHED_DOCUMENT = 20_000  # characters: longer documents are parsed each time, not kept


def _operation_is_subscription(query: str, operation_name: str | None) -> bool:
    try:
        document = parse(query, max_tokens=MAX_TOKENS)
    except GraphQLError:
        return False
    operation = get_operation_ast(document, operation_name)
    return operation is not None and operation.operation is OperationType.SUBSCRIPTION


_cached_is_subscription = lru_cache(maxsize=1000)(_operation_is_subscription)


def build_schema(specs: SpecRegistry, settings: Settings) -> strawberry.Schema:
    """The schema for these entity specs, with caches and limits."""
    entity_types = build_entity_types(specs)
    limits = QueryLimits.from_settings(settings)

    query = strawberry.type(
        type(
            "Query",
            QUERIES,
            {"__module__": __name__, **entity_fields(specs)},
        )
    )
    schema = HubSchema(
        query=query,
        mutation=strawberry.type(
            type(
                "Mutation",
                MUTATIONS,
                {"__module__": __name__},
            )
        ),
        subscription=strawberry.type(type("Subscription", SUBSCRIPTIONS, {"__module__": __name__})),
        types=[*entity_types, NotFoundError],
        config=StrawberryConfig(scalar_map=SCALARS),
        extensions=[
            ErrorCodes,
            # Its LRU cache is module-level, keyed by size: a fresh instance per request
            # still hits the shared cache.
            lambda: ParserCache(maxsize=1000),
            # Depth, aliases, expanded size, cost and list lengths, then graphql-core's rules
            # (cached): linear in the document whatever its fragments do.
            lambda: QueryGuard(limits),
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            ArgumentScreen,  # NUL, lone surrogates, over-long text, deep JSON: INVALID_INPUT
        ],
    )
    refuse_oversized_lists(schema._schema, limits.max_batch_size)
    return schema


def new_request_id() -> str:
    return uuid.uuid4().hex[:16]
