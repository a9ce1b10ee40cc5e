"""The GraphQL schema: the feature modules' queries and mutations composed, with limits.

Each feature module (``records``, ``crosswalk``, ``systems``, ``ingest``, ``quality``,
``matching``, ``reference``, ``changes``) holds its fields on a ``…Query``/``…Mutation``
(and ``…Subscription``) base class; ``build_schema`` composes them, in this order (the order
of the fields in the SDL), and adds one golden-record field and one page per entity spec.
"""

from __future__ import annotations

import uuid

import strawberry
from graphql import GraphQLError
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
            lambda: MaxTokensLimiter(max_token_count=5000),
            ArgumentScreen,  # NUL, lone surrogates, over-long text, deep JSON: INVALID_INPUT
        ],
    )
    refuse_oversized_lists(schema._schema, limits.max_batch_size)
    return schema


def new_request_id() -> str:
    return uuid.uuid4().hex[:16]
