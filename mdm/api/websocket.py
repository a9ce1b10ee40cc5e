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

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
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
from mdm.notify import Sink, StoredEvents

log = logging.getLogger("mdm.api.websocket")

SENDER: ContextVar[RenderedSender | None] = ContextVar("mdm_rendered_sender", default=None)


class RenderedSender:
    """Sends one operation's ``next`` messages as text built around rendered events."""

    def __init__(
        self, handler: BaseGraphQLTransportWSHandler[Any, Any], operation: Operation[Any, Any]
    ) -> None:
        self.handler = handler
        self.operation = operation

    def _head(self, response_key: str) -> str:
        return (
            '{"id":' + orjson.dumps(self.operation.id).decode()
            + ',"type":"next","payload":{"data":{' + orjson.dumps(response_key).decode() + ":"
        )  # fmt: skip

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
        head = self._head(response_key)
        send = self.handler.websocket.ws.send_text  # type: ignore[attr-defined]
        async for batch in batches:
            await before()
            # A batch it read for itself is rendered for it alone; the feed's, once for all.
            text = renderer.text_once if type(batch) is StoredEvents else renderer.text
            try:
                for change in batch:
                    await send(head + text(change) + "}}}")
            except (WebSocketDisconnect, RuntimeError):
                self.operation.completed = True  # nothing more can be sent
                return

    def sink(self, renderer: ChangeRenderer, response_key: str, is_due: Callable[[], bool]) -> Sink:
        """The direct sink of this operation's live events (``notify.Subscriber``): sends
        an event from the feed's own task, as ``stream`` would, without waking this
        operation's task. It declines (the event is buffered for ``stream``) when the
        operation is over or ``is_due()`` (the token's re-check, which ``stream`` does
        first). A send that must wait (the socket's buffer is full) goes on in a task."""
        head = self._head(response_key)
        send = self.handler.websocket.ws.send_text  # type: ignore[attr-defined]
        text = renderer.text
        operations = self.handler.operations
        operation = self.operation

        def deliver(change: Change) -> bool | asyncio.Future[None]:
            if operation.completed or operations.get(operation.id) is not operation or is_due():
                return False
            sending = send(head + text(change) + "}}}")
            try:
                waited = sending.send(None)
            except StopIteration:
                return True
            except Exception as error:  # the feed's own task: one socket must not stop it
                _gone(operation, error)
                return True
            return asyncio.ensure_future(self._finish(sending, waited))

        return deliver

    async def _finish(self, sending: Coroutine[Any, Any, None], waited: Any) -> None:
        """Drive a send that stopped to wait, as its own task would have: wait for what
        it waits on (a future, taken over as a task takes it over; None: the next turn of
        the loop), then resume it, until it ends. Cancelled, it closes the send."""
        try:
            while True:
                try:
                    if waited is None:
                        await asyncio.sleep(0)
                    else:
                        waited._asyncio_future_blocking = False
                        await waited
                except BaseException:
                    if waited is None or not waited.done():  # this task was cancelled
                        sending.close()
                        raise
                    # The future failed: the send sees it on resuming, and decides.
                try:
                    waited = sending.send(None)
                except StopIteration:
                    return
        except Exception as error:
            _gone(self.operation, error)


def _gone(operation: Operation[Any, Any], error: Exception) -> None:
    """A direct send failed: the client has gone (or its socket broke); nothing more is
    sent to the operation, whose task ends when the connection's handler cleans up."""
    if not isinstance(error, (WebSocketDisconnect, RuntimeError, OSError)):
        log.warning("sending a change event failed: %r", error)
    operation.completed = True


class ChangeSocketHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    """Strawberry's graphql-transport-ws handler, with a ``RenderedSender`` per operation."""

    async def run_operation(self, operation: Operation[Any, Any]) -> None:
        SENDER.set(RenderedSender(self, operation))  # this operation's task only
        await super().run_operation(operation)
