"""graphql-transport-ws with change events rendered once and shared (``change_render``).

``ChangeSocketHandler`` is Strawberry's handler with one addition: each operation's task
carries a ``RenderedSender`` (a context variable), through which the
``goldenRecordChanges`` resolver, once GraphQL has parsed, validated and authorized the
operation and the resolver has checked its arguments, sends each event as ready JSON text
instead of yielding it for execution. The resolver falls back to yielding when the
selection is one only execution renders exactly. An error ends the stream as before: the
resolver raises it, and Strawberry sends it with its code as the operation's last result.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from typing import Any

import orjson
from starlette.websockets import WebSocketDisconnect
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)

from mdm.api.change_render import ChangeRenderer
from mdm.changes import Change

SENDER: ContextVar[RenderedSender | None] = ContextVar("mdm_rendered_sender", default=None)


class RenderedSender:
    """Sends one operation's ``next`` messages as text built around rendered events."""

    def __init__(
        self, handler: BaseGraphQLTransportWSHandler[Any, Any], operation: Operation[Any, Any]
    ) -> None:
        self.handler = handler
        self.operation = operation

    async def stream(
        self,
        batches: AsyncIterator[list[Change]],
        renderer: ChangeRenderer,
        response_key: str,
        before: Callable[[], Awaitable[None]],
    ) -> None:
        """Send every event of ``batches`` until they end (or they or ``before``, awaited
        before each batch, raise: the caller's error), the operation is cancelled, or the
        client has gone."""
        head = (
            '{"id":' + orjson.dumps(self.operation.id).decode()
            + ',"type":"next","payload":{"data":{' + orjson.dumps(response_key).decode() + ":"
        )  # fmt: skip
        send = self.handler.websocket.ws.send_text  # type: ignore[attr-defined]
        text = renderer.text
        async for batch in batches:
            await before()
            try:
                for change in batch:
                    await send(head + text(change) + "}}}")
            except (WebSocketDisconnect, RuntimeError):
                self.operation.completed = True  # nothing more can be sent
                return


class ChangeSocketHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    """Strawberry's graphql-transport-ws handler, with a ``RenderedSender`` per operation."""

    async def run_operation(self, operation: Operation[Any, Any]) -> None:
        SENDER.set(RenderedSender(self, operation))  # this operation's task only
        await super().run_operation(operation)
