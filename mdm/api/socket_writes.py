"""WebSocket frames written to the socket together when several are sent at once.

uvicorn's WebSocket protocol writes each message to its transport as it is sent, and
the transport sends it with a system call of its own. A subscriber replaying stored
events is sent hundreds of ``next`` messages without the server's loop turning between
them: one system call each took a third of the server's time. ``SocketWrites`` wraps
the transport so that the first write of a loop turn goes out at once, as before (a live
event to one subscriber waits for nothing), and the writes after it in the same turn are
joined and written once when the turn ends. Flow control is the transport's own: it
still tells the protocol to pause when its buffer is full.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


class SocketWrites:
    """A transport whose writes within one loop turn after the first are sent together."""

    __slots__ = ("_loop", "_pending", "_transport", "_turn")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []
        self._turn = False  # a write went out in this turn: later ones wait for its end

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._turn:
            self._pending.append(bytes(data))
            return
        self._transport.write(data)
        self._turn = True
        self._loop.call_soon(self._end_turn)

    def _end_turn(self) -> None:
        self._turn = False
        self.flush()

    def flush(self) -> None:
        """Write what waits (nothing once the transport is closing, as it would)."""
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            if not self._transport.is_closing():
                self._transport.write(data)

    def close(self) -> None:
        self.flush()  # what was sent before the close frame goes before it
        self._transport.close()

    def __getattr__(self, name: str) -> Any:  # is_closing, pause_reading, get_extra_info…
        return getattr(self._transport, name)


class CoalescingWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol (the one its ``auto`` picks with ``websockets``
    installed), writing through ``SocketWrites``."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        writes = SocketWrites(transport, self.loop)  # type: ignore[arg-type]
        super().connection_made(writes)  # type: ignore[arg-type]
