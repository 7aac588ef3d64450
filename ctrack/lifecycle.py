"""What a daemon component may ask of the daemon: background tasks for its whole life,
its listening addresses, and a close on the way out.

The daemon's shape is uvicorn's: start (components register here), serve (until a signal),
drain (closers in reverse start order, so listeners stop before what they feed), exit (the
background tasks are cancelled last). Components never reach into the Daemon itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)


class Lifecycle:
    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[Any]] = []
        self._closers: list[Callable[[], Awaitable[Any]]] = []
        self.addresses: dict[str, tuple[str, int]] = {}

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        """Run coro in the background until the daemon exits."""
        self._tasks.append(asyncio.create_task(coro, name=f"ctrack-{name}"))

    def on_stop(self, close: Callable[[], Awaitable[Any]]) -> None:
        """Await close() while draining; later registrations close first."""
        self._closers.append(close)

    def listening(self, name: str, address: tuple[str, int]) -> None:
        self.addresses[name] = (address[0], address[1])

    async def drain(self) -> None:
        """Close what registered (a failing closer does not stop the others), then cancel the tasks."""
        for close in reversed(self._closers):
            try:
                await close()
            except Exception:
                log.exception("error while stopping")
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
