"""Threads that execute GraphQL operations, so one heavy request does not hold the server.

Resolvers call the database synchronously. Run on the server's event loop, one long query
would keep every other request (``/healthz``, a crosswalk look-up) waiting until it ends.
Each operation runs instead on one of a few threads, each with its own event loop that
lives as long as the thread: async resolvers and the request's DataLoaders (which bind to
the loop they first run on) work there unchanged. The server's loop only reads requests
and writes responses.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class OperationWorkers:
    """A pool of ``size`` threads, each running coroutines on its own persistent loop.

    Example:
        >>> workers = OperationWorkers(2)
        >>> async def answer() -> int:
        ...     return 42
        >>> asyncio.run(workers.run(answer))
        42
        >>> workers.close()
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"at least one worker thread is needed, not {size}")
        self.size = size
        self._local = threading.local()
        self._loops: list[asyncio.AbstractEventLoop] = []
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(
            max_workers=size, thread_name_prefix="mdm-graphql", initializer=self._open_loop
        )

    async def run(self, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run the coroutine ``make()`` builds on a worker's loop; await its result here.

        The caller's context variables are copied to the worker, as ``asyncio.to_thread``
        does. Cancelling the caller does not stop the operation: a thread cannot be
        interrupted, and a half-done write is worse than a finished one.
        """
        context = contextvars.copy_context()
        future = self._executor.submit(context.run, self._run_here, make)
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        """Wait for the operations under way, then stop the threads and close their loops."""
        self._executor.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            for loop in self._loops:
                loop.close()
            self._loops.clear()

    def _open_loop(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._local.loop = loop
        with self._lock:
            self._loops.append(loop)

    def _run_here(self, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
        loop: asyncio.AbstractEventLoop = self._local.loop
        return loop.run_until_complete(make())
