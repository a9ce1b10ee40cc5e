"""The HTTP side of a GraphQL request: a bounded body, a JSON object, errors as JSON.

Every refusal before GraphQL runs is a JSON body shaped like a GraphQL error, with a
stable code (``BAD_REQUEST``, ``PAYLOAD_TOO_LARGE``…), never a plain-text page or a 500.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Message, Receive

STATUS_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
}


def error_response(
    status: int,
    message: str,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A refusal as ``{"errors": [{"message", "extensions": {"code"}}]}``."""
    code = code or STATUS_CODES.get(status, "BAD_REQUEST")
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]},
        status_code=status,
        headers=dict(headers) if headers else None,
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) as soon as it is known to exceed ``limit`` bytes.

    A declared ``Content-Length`` over the limit is refused before reading anything; a
    chunked body is read only up to the limit.

    Raises:
        HTTPException: 413 past the limit, 400 for a malformed ``Content-Length``.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise HTTPException(400, "Content-Length is not a number") from None
        if size > limit:
            raise HTTPException(413, _too_large(f"{size:,} bytes", limit))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, _too_large(f"more than {limit:,} bytes", limit))
        chunks.append(chunk)
    return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """An ASGI ``receive`` that hands over ``body`` (already read), then defers to ``receive``
    (which reports the client's disconnect)."""
    delivered = False

    async def replayed() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


def parse_json_object(data: str | bytes) -> dict[str, Any]:
    """A request's JSON (a body, or a GET ``variables`` parameter), which must be an object.

    Raises:
        HTTPException: 400 for text that is not UTF-8, not JSON, nested too deeply for the
            parser, or JSON that is not an object (``42``, ``null``, ``[]``, ``"x"``).
    """
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        value = json.loads(text)
    except UnicodeDecodeError:
        raise HTTPException(400, "the request body is not UTF-8 text") from None
    except RecursionError:
        raise HTTPException(400, "the request's JSON is nested too deeply") from None
    except ValueError:
        raise HTTPException(400, "the request's JSON cannot be parsed") from None
    if not isinstance(value, dict):
        raise HTTPException(400, f"the request's JSON must be an object, not {_kind(value)}")
    return value


def _too_large(size: str, limit: int) -> str:
    return f"the request body ({size}) exceeds the limit of {limit:,} bytes"


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array"
