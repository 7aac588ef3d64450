"""The HTTP listener's guard against slow and numerous clients.

aiohttp waits for a request's headers as long as its keep-alive timeout allows, and
accepts every connection it is offered. A flood of half-open connections would then hold
every file descriptor of the process, and FastAGI, which shares it, could accept no call.
So the listener here counts connections (overall and per client address), gives a client
`header_timeout` seconds to finish its first request's headers, and when full makes room
by closing the oldest connection still waiting for them; the overall bound itself leaves
FastAGI, the database and AMI a reserve of descriptors (see `connection_budget`).
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from aiohttp import web

log = logging.getLogger(__name__)

# Descriptors kept out of the HTTP side's reach: FastAGI calls, the database's connections,
# AMI, logs, and the listener's accept batch (connections accepted before they are counted).
FD_RESERVE = 256
# After a response, aiohttp reads what is left of an unread body for this long before it
# closes (its default is 10 s): long enough for a client to read a 413 or 408, short enough
# that a trickled body holds nothing.
LINGER_SECONDS = 2.0


def connection_budget(wanted: int, reserve: int = FD_RESERVE) -> int:
    """How many HTTP connections the process can hold and still keep `reserve` descriptors.

    Reads the soft RLIMIT_NOFILE and never raises it: the unit's SystemCallFilter forbids
    setrlimit, and systemd's LimitNOFILE sets the limit for us."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    budget = max(16, min(wanted, soft - reserve))
    if budget < wanted:
        log.warning(
            "http: at most %d connections, not max_connections = %d: the process may open %d files (LimitNOFILE)",
            budget,
            wanted,
            soft,
        )
    return budget


@dataclass(frozen=True, slots=True)
class Limits:
    max_connections: int
    per_address: int
    header_timeout: float
    exempt: frozenset[str] = frozenset()  # addresses with no per-address bound (trusted proxies)


class ConnectionGuard:
    """The protocol factory of the HTTP listener: counts, bounds and times connections."""

    def __init__(self, factory: Callable[[], asyncio.Protocol], limits: Limits) -> None:
        self.factory = factory
        self.limits = limits
        self.loop = asyncio.get_running_loop()
        self.by_address: dict[str, int] = {}
        self.waiting: OrderedDict[_Guarded, None] = OrderedDict()  # no complete head yet, oldest first
        self.open = 0
        self.refused = 0  # closed at once: over the per-address bound, or full of busy connections
        self.evicted = 0  # closed to make room: the oldest connection still sending its headers
        self.timed_out = 0  # closed after header_timeout without a complete request head

    def __call__(self) -> asyncio.Protocol:
        return _Guarded(self)

    def admit(self, conn: _Guarded, address: str) -> bool:
        limits = self.limits
        if address not in limits.exempt and self.by_address.get(address, 0) >= limits.per_address:
            self.refused += 1
            return False
        if self.open >= limits.max_connections:
            if not self.waiting:
                self.refused += 1
                return False
            oldest, _ = self.waiting.popitem(last=False)
            self.evicted += 1
            oldest.close()
        self.open += 1
        self.by_address[address] = self.by_address.get(address, 0) + 1
        self.waiting[conn] = None
        return True

    def release(self, conn: _Guarded, address: str) -> None:
        self.open -= 1
        self.waiting.pop(conn, None)
        left = self.by_address[address] - 1
        if left:
            self.by_address[address] = left
        else:
            del self.by_address[address]


class _Guarded(asyncio.Protocol):
    """One connection: aiohttp's handler inside, a header deadline and the counts outside."""

    __slots__ = ("_address", "_guard", "_inner", "_tail", "_timer", "_transport")

    def __init__(self, guard: ConnectionGuard) -> None:
        self._guard = guard
        self._inner: asyncio.Protocol | None = None
        self._transport: asyncio.Transport | None = None
        self._address = ""
        self._timer: asyncio.TimerHandle | None = None
        self._tail = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's transports are not asyncio's subclasses
        peer = transport.get_extra_info("peername")
        self._address = peer[0] if peer else ""
        self._transport = transport
        guard = self._guard
        if not guard.admit(self, self._address):
            transport.abort()
            return
        self._timer = guard.loop.call_later(guard.limits.header_timeout, self._too_slow)
        self._inner = guard.factory()
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._inner is None:
            return
        if self._timer is not None:
            seen = self._tail + data
            if b"\r\n\r\n" in seen:
                self._headed()
            else:
                self._tail = seen[-3:]
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._inner is None:
            return
        self._headed()
        self._guard.release(self, self._address)
        inner, self._inner = self._inner, None
        inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def _headed(self) -> None:
        """The first request's head is in (or the connection is gone): no deadline, no eviction."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            self._tail = b""
            self._guard.waiting.pop(self, None)

    def _too_slow(self) -> None:
        self._timer = None
        self._guard.timed_out += 1
        self.close()


class GuardedSite(web.BaseSite):
    """aiohttp's TCPSite with a ConnectionGuard in front of the application's handler."""

    __slots__ = ("_bound", "_host", "_limits", "_port", "guard")

    def __init__(self, runner: web.BaseRunner, host: str, port: int, limits: Limits) -> None:
        super().__init__(runner)
        self._host = host
        self._port = port
        self._limits = limits
        self.guard: ConnectionGuard | None = None
        self._bound: tuple[str, int] = (host, port)

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    @property
    def address(self) -> tuple[str, int]:
        """The address it listens on (with port 0, the port chosen)."""
        return self._bound

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        self.guard = ConnectionGuard(server, self._limits)
        listener = await self.guard.loop.create_server(
            self.guard, self._host, self._port, reuse_address=True, backlog=self._backlog
        )
        sockname = listener.sockets[0].getsockname()
        self._bound = (sockname[0], sockname[1])
        self._server = listener


def client_address(request: web.Request, trusted_proxies: frozenset[str]) -> str:
    """The client's address; X-Forwarded-For only counts when a trusted proxy sent it."""
    remote = request.remote or ""
    if remote not in trusted_proxies:
        return remote
    for hop in reversed(request.headers.get("X-Forwarded-For", "").split(",")):
        hop = hop.strip()
        if hop and hop not in trusted_proxies:
            return hop
    return remote
