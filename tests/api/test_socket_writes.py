"""``SocketWrites``: a loop turn's writes after the first go out as one, in order."""

from __future__ import annotations

import asyncio
from typing import Any

from mdm.api.socket_writes import SocketWrites


class Transport:
    """What reached the socket: one entry per write of the wrapped transport."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        assert not self.closing, "written after close"
        self.written.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 9)}.get(name, default)


def test_the_first_write_of_a_turn_goes_at_once_and_the_rest_together_at_its_end() -> None:
    async def run() -> list[list[bytes]]:
        transport = Transport()
        writes = SocketWrites(transport, asyncio.get_running_loop())  # type: ignore[arg-type]
        seen = []
        writes.write(b"a")
        seen.append(list(transport.written))  # a lone live message waits for nothing
        writes.write(b"b")
        writes.write(bytearray(b"c"))
        seen.append(list(transport.written))  # the rest of the turn waits for its end
        await asyncio.sleep(0)
        seen.append(list(transport.written))
        writes.write(b"d")  # a new turn: at once again
        writes.write(b"e")
        writes.close()  # what was sent before the close goes before it
        seen.append(list(transport.written))
        await asyncio.sleep(0)
        assert writes.get_extra_info("peername") == ("127.0.0.1", 9)  # passed through
        return seen

    assert asyncio.run(run()) == [
        [b"a"],
        [b"a"],
        [b"a", b"bc"],
        [b"a", b"bc", b"d", b"e"],
    ]


def test_nothing_is_written_once_the_transport_is_closing() -> None:
    async def run() -> list[bytes]:
        transport = Transport()
        writes = SocketWrites(transport, asyncio.get_running_loop())  # type: ignore[arg-type]
        writes.write(b"a")
        writes.write(b"b")
        transport.closing = True  # the peer went away
        await asyncio.sleep(0)
        return transport.written

    assert asyncio.run(run()) == [b"a"]
