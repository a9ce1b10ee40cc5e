"""GraphQL side of the error hierarchy: typed error results and a stable code on every error."""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from mdm.errors import MdmError
from mdm.errors import NotFoundError as MdmNotFoundError

log = logging.getLogger("mdm.api")


@strawberry.enum(description="Stable error codes; safe to branch on.")
class ErrorCode(enum.Enum):
    INVALID_INPUT = "INVALID_INPUT"
    UNKNOWN_SYSTEM = "UNKNOWN_SYSTEM"
    UNKNOWN_ENTITY_TYPE = "UNKNOWN_ENTITY_TYPE"
    MISSING_SOURCE_ID = "MISSING_SOURCE_ID"
    INVALID_ATTRIBUTE = "INVALID_ATTRIBUTE"
    BATCH_TOO_LARGE = "BATCH_TOO_LARGE"
    INVALID_MAPPING = "INVALID_MAPPING"
    NO_MAPPING = "NO_MAPPING"
    INVALID_REFERENCE_DATA = "INVALID_REFERENCE_DATA"
    ALREADY_DECIDED = "ALREADY_DECIDED"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    INTERNAL = "INTERNAL"
    INVALID_CURSOR = "INVALID_CURSOR"
    INVALID_POSITION = "INVALID_POSITION"
    CURSOR_BEYOND_HEAD = "CURSOR_BEYOND_HEAD"
    POSITION_BEYOND_HEAD = "POSITION_BEYOND_HEAD"
    CURSOR_EXPIRED = "CURSOR_EXPIRED"
    UNKNOWN_CONSUMER = "UNKNOWN_CONSUMER"
    CONSUMER_EXISTS = "CONSUMER_EXISTS"
    CONSUMER_TOO_SLOW = "CONSUMER_TOO_SLOW"


def error_code(error: MdmError) -> ErrorCode:
    try:
        return ErrorCode(error.code)
    except ValueError:
        return ErrorCode.INVALID_INPUT


@strawberry.interface(description="An expected failure, returned as data in a mutation result.")
class UserError:
    code: ErrorCode
    message: str
    field: str | None = strawberry.field(description="The input field at fault, if any.")


@strawberry.type(description="The input was refused; nothing was written.")
class InvalidInputError(UserError):
    pass


@strawberry.type(description="The thing named does not exist.")
class NotFoundError(UserError):
    pass


@strawberry.type(description="The caller's role or token may not do this; nothing changed.")
class ForbiddenError(UserError):
    pass


def user_error(error: MdmError) -> InvalidInputError | NotFoundError:
    is_missing = isinstance(error, MdmNotFoundError) or error.code == "NOT_FOUND"
    cls = NotFoundError if is_missing else InvalidInputError
    return cls(code=error_code(error), message=error.message, field=error.field)


class ErrorCodes(SchemaExtension):
    """Give every error a stable ``extensions.code``; mask unexpected ones.

    Expected errors (``MdmError``, permission and validation errors) keep their message.
    Anything else becomes "Unexpected error." with code ``INTERNAL`` and the request id, and
    is logged with its traceback under that id.
    """

    def on_operation(self) -> Iterator[None]:
        yield
        self._process_result(self.execution_context.result)

    def on_stream_result(self, result: Any) -> Iterator[None]:
        """Each result of a subscription (or of an operation sent over a websocket)."""
        self._process_result(result)
        yield

    def _process_result(self, result: Any) -> None:
        errors = getattr(result, "errors", None)
        if result is None or not errors:
            return
        request_id = getattr(self.execution_context.context, "request_id", None)
        result.errors = [self._process(e, request_id) for e in errors]

    @staticmethod
    def _process(error: GraphQLError, request_id: str | None) -> GraphQLError:
        original = error.original_error
        inner = original  # a variable's value a scalar refused arrives wrapped twice
        while isinstance(inner, GraphQLError) and inner.original_error is not None:
            inner = inner.original_error
        if isinstance(inner, MdmError):
            original = inner
        extensions = dict(error.extensions or {})
        if isinstance(original, MdmError):
            extensions.update(code=original.code, field=original.field)
            error.extensions = extensions
            return error
        if original is None or isinstance(original, GraphQLError):
            extensions.setdefault("code", "GRAPHQL_VALIDATION_FAILED")
            error.extensions = extensions
            return error
        log.error("request %s: unexpected error", request_id, exc_info=original)
        return GraphQLError(
            "Unexpected error.",
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": "INTERNAL", "requestId": request_id},
        )
