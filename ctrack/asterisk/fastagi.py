"""ctrack's FastAGI server: the route decision for every inbound call, in milliseconds.

Not panoramisk's (it freezes the event loop on a connect-and-close). One asyncio Protocol
per connection and no task unless the handler is a coroutine: read the AGI environment
(bounded, with a deadline), ask the handler for the channel variables, send them as SET
VARIABLE lines in one write and half-close. res_agi reads commands through a stdio buffer
and polls the socket, so pipelined commands would sit unread until more bytes or EOF
arrive; the half-close is that EOF, and Asterisk runs them back to back, answers each and
ends the AGI (checked on Asterisk 22). We read the replies and close.

Whatever goes wrong (a handler error or timeout, a bad reply), nothing more is set and the
dialplan takes the default line: the phone always rings. Handlers should therefore put
their "route done" variable last; RouteDecision.variables() ends with CTRACK_ROUTE_STATUS.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from ctrack.asterisk.agi_protocol import (
    AgiHangup,
    AgiProtocolError,
    AgiReplyReader,
    AgiRequest,
    parse_env,
    set_variables,
)

log = logging.getLogger(__name__)

Variables = Mapping[str, str]
Handler = Callable[[AgiRequest], Variables | Awaitable[Variables]]

MAX_ENV_BYTES = 16384  # a real environment is under 1 KiB

_HEADER, _HANDLING, _REPLIES, _DONE = range(4)


@dataclass(slots=True)
class FastAgiStats:
    connections: int = 0  # accepted
    routed: int = 0  # every variable set and acknowledged
    failed: int = 0  # an AGI request we could not route: the call took the default line
    rejected: int = 0  # not an AGI request: closed early, garbage, oversized or silent
    probes: int = 0  # a valid header, then closed without reading a reply: a port check, not a call


class FastAgiServer:
    """`handler(request)` returns (or is a coroutine returning) the variables to set.

    client_timeout bounds how long Asterisk may take to send the environment and answer
    our commands; handler_timeout bounds a coroutine handler. Sessions are counted in
    .stats and .active for the metrics endpoint.
    """

    def __init__(
        self,
        handler: Handler,
        host: str = "127.0.0.1",
        port: int = 4573,
        *,
        client_timeout: float = 5.0,
        handler_timeout: float = 0.5,
        max_env_bytes: int = MAX_ENV_BYTES,
    ) -> None:
        self.host = host
        self.port = port
        self.stats = FastAgiStats()
        self.client_timeout = client_timeout
        self.handler_timeout = handler_timeout
        self.max_env_bytes = max_env_bytes
        self._handler = handler
        self._server: asyncio.Server | None = None
        self._sessions: set[_Session] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def active(self) -> int:
        """Connections open right now."""
        return len(self._sessions)

    async def start(self) -> None:
        """Listen; with port 0 the chosen port is in .port afterwards."""
        self._loop = asyncio.get_running_loop()
        self._server = await self._loop.create_server(lambda: _Session(self), self.host, self.port, backlog=256)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self, grace: float = 2.0) -> None:
        """Stop accepting, let sessions in flight finish for up to `grace` seconds, then cut them."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        sessions = list(self._sessions)
        if sessions:
            await asyncio.wait([s.closed() for s in sessions], timeout=grace)
            for session in sessions:
                session.abort()
            await asyncio.wait([s.closed() for s in sessions], timeout=1.0)
        await server.wait_closed()


class _Session(asyncio.Protocol):
    """One FastAGI connection: environment, handler, SET VARIABLEs, replies."""

    def __init__(self, server: FastAgiServer) -> None:
        self._server = server
        self._state = _HEADER
        self._buf = b""
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task | None = None
        self._request: AgiRequest | None = None
        self._reader: AgiReplyReader | None = None
        self._expected = 0
        self._acked = 0
        self._errors = 0
        self._closed: asyncio.Future | None = None
        self._lost = False

    # -- asyncio callbacks ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        server = self._server
        server.stats.connections += 1
        server._sessions.add(self)
        self._timer = server._loop.call_later(server.client_timeout, self._timeout)  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        if self._state == _HEADER:
            self._header(data)
        elif self._state == _REPLIES:
            self._replies(data)
        elif self._state == _HANDLING:
            self._buf += data  # early replies or HANGUP; bounded below
            if len(self._buf) > self._server.max_env_bytes:
                self._finish("failed", "client sent too much while the handler ran")

    def eof_received(self) -> bool:
        if self._state == _HEADER:
            self._finish("rejected", "closed before a complete AGI environment")
        elif self._state in (_HANDLING, _REPLIES):
            self._closed_early("closed")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        if self._state == _HEADER:
            self._finish("rejected", f"connection lost ({exc})")
        elif self._state != _DONE:
            self._closed_early(f"connection lost ({exc})")
        self._server._sessions.discard(self)
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)

    def _closed_early(self, how: str) -> None:
        """The peer went away after a valid header. Asterisk answers every command it reads
        (even after a hangup), so none answered means nobody read them: a probe."""
        if self._acked == 0:
            self._finish("probes", f"{how} after the AGI environment without reading: a probe")
        else:
            self._finish("failed", f"Asterisk {how} after {self._acked} of {self._expected} replies")

    # -- the session ------------------------------------------------------------------

    def _header(self, data: bytes) -> None:
        buf = self._buf + data
        end = buf.find(b"\n\n")
        if end < 0:
            end = buf.find(b"\n\r\n")
        limit = self._server.max_env_bytes
        if end < 0:
            if len(buf) > limit:
                self._finish("rejected", f"no end of the AGI environment in {limit} bytes")
            else:
                self._buf = buf
            return
        if end > limit:
            self._finish("rejected", f"AGI environment over {limit} bytes")
            return
        try:
            request = parse_env(buf[:end])
        except AgiProtocolError as exc:
            self._finish("rejected", str(exc))
            return
        self._request = request
        self._buf = buf[end:].lstrip(b"\r\n")
        self._state = _HANDLING
        try:
            result = self._server._handler(request)
        except Exception:
            log.exception("FastAGI handler failed for call %s; the dialplan takes the default line", request.uniqueid)
            self._finish("failed")
            return
        if inspect.isawaitable(result):
            self._rearm(self._server.handler_timeout)
            self._task = asyncio.ensure_future(self._await(result))
        else:
            self._send(result)

    async def _await(self, pending: Awaitable[Variables]) -> None:
        try:
            variables = await pending
        except Exception:
            log.exception(
                "FastAGI handler failed for call %s; the dialplan takes the default line",
                self._request.uniqueid if self._request else "?",
            )
            self._task = None  # finishing from inside the task: nothing to cancel
            self._finish("failed")
            return
        if self._state == _HANDLING:
            self._send(variables)

    def _send(self, variables: Variables) -> None:
        try:
            payload = set_variables(variables)
        except (AgiProtocolError, AttributeError, TypeError) as exc:
            log.error("FastAGI handler returned unusable variables (%s); the dialplan takes the default line", exc)
            self._finish("failed")
            return
        if not payload:
            self._finish("routed")
            return
        self._expected = len(variables)
        self._reader = AgiReplyReader()
        self._state = _REPLIES
        if self._task is not None:  # the handler had its own deadline; Asterisk gets a fresh one
            self._rearm(self._server.client_timeout)
        transport = self._transport
        assert transport is not None  # set by connection_made, before any data arrives
        transport.write(payload)
        if transport.can_write_eof():
            transport.write_eof()
        if self._buf:
            early, self._buf = self._buf, b""
            self._replies(early)

    def _replies(self, data: bytes) -> None:
        try:
            items = self._reader.feed(data)  # type: ignore[union-attr]
        except AgiProtocolError as exc:
            self._finish("failed", str(exc))
            return
        for item in items:
            if isinstance(item, AgiHangup):
                continue  # the caller is gone; Asterisk still answers what it reads
            self._acked += 1
            if not item.ok:
                self._errors += 1
                log.warning("FastAGI: Asterisk refused a SET VARIABLE: %s %s", item.code, item.text)
        if self._acked >= self._expected:
            self._finish("failed" if self._errors else "routed")

    def _timeout(self) -> None:
        stage = {_HEADER: "the AGI environment", _HANDLING: "the handler", _REPLIES: "Asterisk's replies"}
        outcome = "rejected" if self._state == _HEADER else "failed"
        self._finish(outcome, f"timed out waiting for {stage.get(self._state, '?')}", abort=True)

    def _rearm(self, seconds: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._server._loop.call_later(seconds, self._timeout)  # type: ignore[union-attr]

    def _finish(self, outcome: str, reason: str = "", abort: bool = False) -> None:
        """Count the session once and close it."""
        if self._state == _DONE:
            return
        state, self._state = self._state, _DONE
        stats = self._server.stats
        setattr(stats, outcome, getattr(stats, outcome) + 1)
        if reason:
            if outcome == "failed":
                log.warning(
                    "FastAGI call %s: %s; the dialplan takes the default line",
                    self._request.uniqueid if self._request else "?",
                    reason,
                )
            else:
                log.debug("FastAGI connection %s: %s", outcome, reason)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is not None and state == _HANDLING and not self._task.done():
            self._task.cancel()
        if self._transport is not None:
            if abort:
                self._transport.abort()
            else:
                self._transport.close()

    def abort(self) -> None:
        """Cut the connection now (server shutdown)."""
        self._finish("failed" if self._state != _HEADER else "rejected", "server shutting down", abort=True)

    def closed(self) -> asyncio.Future:
        """Resolves once the connection is gone."""
        if self._closed is None:
            self._closed = self._server._loop.create_future()  # type: ignore[union-attr]
            if self._lost:
                self._closed.set_result(None)
        return self._closed
