"""The AMI connection: log in, wait for FullyBooted, deliver events, ping, reconnect.

Built on our own parser (ctrack.asterisk.ami_protocol) rather than panoramisk's protocol,
which decodes each TCP chunk separately (splitting UTF-8 caller names) and reconnects on a
fixed delay. Reconnects back off exponentially with jitter; a successful session resets it.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
from collections.abc import Awaitable, Callable

from ctrack.asterisk.ami_protocol import AmiMessage, AmiParser, encode_action

log = logging.getLogger(__name__)


class AmiAuthError(Exception):
    """Asterisk refused the manager login."""


class AmiActionError(Exception):
    """Asterisk refused an action (e.g. the manager user lacks the privilege); str() says why."""


class AmiClient:
    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str,
        on_event: Callable[[AmiMessage], None],
        on_ready: Callable[[], Awaitable[None] | None] | None = None,
        on_lost: Callable[[float], None] | None = None,
        *,
        reconnect_max: float = 30.0,
        ping_interval: float = 10.0,
        timeout: float = 5.0,
    ):
        self.host, self.port = host, port
        self.username, self.secret = username, secret
        self.on_event = on_event
        self.on_ready = on_ready
        self.on_lost = on_lost  # called with the wall time Asterisk was last heard from
        self.last_seen = 0.0
        self.reconnect_max = reconnect_max
        self.ping_interval = ping_interval
        self.timeout = timeout
        self.ready = asyncio.Event()
        self.events = 0
        self.sessions = 0
        self.last_error: str | None = None
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[AmiMessage]] = {}
        # Event lists being collected, by ActionID: (items so far, resolved by the closing event)
        self._lists: dict[str, tuple[list[AmiMessage], asyncio.Future[AmiMessage]]] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._closing = False
        self._booted: asyncio.Event | None = None
        self._background: set[asyncio.Task] = set()

    async def run(self) -> None:
        """Stay connected until close(); never raises for network trouble."""
        delay = 0.5
        while not self._closing:
            started = asyncio.get_running_loop().time()
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except AmiAuthError as exc:
                self.last_error = str(exc)
                log.error("AMI %s:%s: %s", self.host, self.port, exc)
                delay = self.reconnect_max
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ConnectionError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("AMI %s:%s: %s", self.host, self.port, self.last_error)
            finally:
                if self.ready.is_set() and self.on_lost is not None:
                    self.on_lost(self.last_seen)
                self.ready.clear()
                self._fail_pending()
                if self._writer is not None:
                    self._writer.close()
                    self._writer = None
            if self._closing:
                break
            if asyncio.get_running_loop().time() - started > 60:
                delay = 0.5
            wait = min(delay, self.reconnect_max) * random.uniform(0.8, 1.2)
            log.info("AMI reconnecting in %.1f s", wait)
            await asyncio.sleep(wait)
            delay = min(delay * 2, self.reconnect_max)

    async def close(self) -> None:
        self._closing = True
        if self._writer is not None:
            try:
                self._writer.write(encode_action("Logoff", {"ActionID": "bye"}))
            except Exception:
                pass
            self._writer.close()

    async def action(self, name: str, fields: dict | None = None) -> AmiMessage:
        """Send an action and wait for its response (not for any event list)."""
        if self._writer is None:
            raise ConnectionError("AMI is not connected")
        action_id = f"ctrack-{next(self._ids)}"
        future: asyncio.Future[AmiMessage] = asyncio.get_running_loop().create_future()
        self._pending[action_id] = future
        self._writer.write(encode_action(name, {**(fields or {}), "ActionID": action_id}))
        try:
            return await asyncio.wait_for(future, self.timeout)
        finally:
            self._pending.pop(action_id, None)

    async def action_list(self, name: str, fields: dict | None = None) -> list[AmiMessage]:
        """Send a list action (CoreShowChannels, ...) and return its events, up to the one with
        EventList: Complete. Asterisk writes them to this session alone, past any eventfilter."""
        if self._writer is None:
            raise ConnectionError("AMI is not connected")
        action_id = f"ctrack-{next(self._ids)}"
        loop = asyncio.get_running_loop()
        future: asyncio.Future[AmiMessage] = loop.create_future()
        complete: asyncio.Future[AmiMessage] = loop.create_future()
        self._pending[action_id] = future
        items: list[AmiMessage] = []
        self._lists[action_id] = (items, complete)
        self._writer.write(encode_action(name, {**(fields or {}), "ActionID": action_id}))
        try:
            response = await asyncio.wait_for(future, self.timeout)
            if response.get("Response") != "Success":
                raise AmiActionError(f"{name}: {response.get('Message', 'refused')}")
            await asyncio.wait_for(complete, self.timeout)
            return items
        finally:
            self._pending.pop(action_id, None)
            self._lists.pop(action_id, None)
            if not complete.done():
                complete.cancel()
            elif not complete.cancelled():
                complete.exception()  # a lost link while the response was awaited: raised above

    async def _session(self) -> None:
        reader, self._writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), self.timeout)
        parser = AmiParser()
        self._booted = asyncio.Event()
        pump = asyncio.create_task(self._pump(reader, parser), name="ctrack-ami-read")
        try:
            login = await self.action("Login", {"Username": self.username, "Secret": self.secret, "Events": "on"})
            if login.get("Response") != "Success":
                raise AmiAuthError(f"login refused: {login.get('Message', 'no reason given')}")
            await asyncio.wait_for(self._booted.wait(), 30)
            self.sessions += 1
            self.last_error = None
            self.ready.set()
            log.info("AMI connected to %s:%s (%s)", self.host, self.port, parser.banner)
            if self.on_ready is not None:
                result = self.on_ready()
                if asyncio.iscoroutine(result):
                    task = asyncio.create_task(result)
                    self._background.add(task)
                    task.add_done_callback(self._background.discard)
            while not pump.done():
                done, _ = await asyncio.wait({pump}, timeout=self.ping_interval)
                if not done:
                    await self.action("Ping")
            pump.result()
        finally:
            pump.cancel()
            await asyncio.gather(pump, return_exceptions=True)

    async def _pump(self, reader: asyncio.StreamReader, parser: AmiParser) -> None:
        while True:
            try:
                data = await reader.read(65536)
            finally:
                self.last_seen = time.time()  # bytes, or the EOF/reset of a process that just died
            if not data:
                raise ConnectionError("connection closed by Asterisk")
            for message in parser.feed(data):
                self._dispatch(message)

    def _dispatch(self, message: AmiMessage) -> None:
        event = message.get("Event")
        collecting = self._lists.get(message.get("ActionID", "")) if event is not None else None
        if collecting is not None:
            items, complete = collecting
            if message.get("EventList") != "Complete":
                items.append(message)
            elif not complete.done():
                complete.set_result(message)
            return
        if event is not None:
            self.events += 1
            if event == "FullyBooted" and self._booted is not None:
                self._booted.set()
            try:
                self.on_event(message)
            except Exception:
                log.exception("AMI event %s could not be handled", event)
            return
        future = self._pending.get(message.get("ActionID", ""))
        if future is not None and not future.done():
            future.set_result(message)

    def _fail_pending(self) -> None:
        for future in [*self._pending.values(), *(complete for _, complete in self._lists.values())]:
            if not future.done():
                future.set_exception(ConnectionError("AMI connection lost"))
        self._pending.clear()


async def check(host: str, port: int, username: str, secret: str, timeout: float = 5.0) -> tuple[bool, str]:
    """Log in once as the listener would; (ok, one line for the admin)."""
    where = f"{host}:{port}"
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except ConnectionRefusedError:
        return False, f"AMI {where}: connection refused (manager.conf [general] enabled/port/bindaddr?)"
    except (TimeoutError, OSError) as exc:
        return False, f"AMI {where}: cannot connect ({exc.strerror if isinstance(exc, OSError) else 'timeout'})"
    parser = AmiParser()
    try:
        writer.write(
            encode_action("Login", {"Username": username, "Secret": secret, "Events": "system", "ActionID": "doctor"})
        )
        deadline = asyncio.get_running_loop().time() + timeout
        logged_in = listing = False
        while True:
            left = deadline - asyncio.get_running_loop().time()
            try:
                if left <= 0:
                    raise TimeoutError
                data = await asyncio.wait_for(reader.read(65536), left)
            except TimeoutError:
                return False, (
                    f"AMI {where}: no answer to CoreShowChannels"
                    if listing
                    else f"AMI {where}: logged in but no FullyBooted event (is 'system' in the "
                    f"user's read= and not filtered out?)"
                    if logged_in
                    else f"AMI {where}: no answer to the login"
                )
            if not data:
                return False, f"AMI {where}: closed the connection (permit= does not allow this address?)"
            for message in parser.feed(data):
                if message.get("ActionID") == "doctor" and "Response" in message:
                    if message["Response"] != "Success":
                        return False, f"AMI {where}: login refused for {username!r} ({message.get('Message', '')})"
                    logged_in = True
                elif message.get("Event") == "FullyBooted" and logged_in and not listing:
                    # the one action the daemon sends: after a restart, which open calls are still up
                    writer.write(encode_action("CoreShowChannels", {"ActionID": "doctor-channels"}))
                    listing = True
                elif message.get("ActionID") == "doctor-channels" and "Response" in message:
                    if message["Response"] != "Success":
                        return False, (
                            f"AMI {where}: {username!r} may not list channels ({message.get('Message', '')}): "
                            f"give it 'write = reporting' (`ctrack dialplan render --manager`), else calls "
                            f"open across a ctrack restart are not checked with Asterisk"
                        )
                    return True, f"AMI {where}: logged in as {username!r}, {parser.banner or 'Asterisk'}"
    except (TimeoutError, OSError) as exc:
        return False, f"AMI {where}: {exc}"
    finally:
        writer.close()
