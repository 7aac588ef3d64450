"""A small asyncio AMI client for tests: what the PBX really emitted, independent of ctrack.

    async with AMIClient(pbx.ami_host, pbx.ami_port, pbx.ami_user, pbx.ami_secret) as ami:
        new = await ami.wait_for(Event="Newchannel", CallerIDNum="15035550123")
        await ami.wait_for(Event="Hangup", Uniqueid=new["Uniqueid"])
        reply = await ami.action("Command", Command="core show channels")

Every event is kept in `ami.events` (dicts; a header repeated in one message becomes a
list).  `wait_for` looks at the events already received (from index `since`), then waits
for new ones until its deadline.  `connect()` returns once Asterisk is fully booted.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

Message = dict[str, Any]


def parse_message(raw: bytes) -> Message:
    msg: Message = {}
    for line in raw.decode("utf-8", errors="replace").split("\r\n"):
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key in msg:
            prev = msg[key]
            msg[key] = prev + [value] if isinstance(prev, list) else [prev, value]
        else:
            msg[key] = value
    return msg


class AMIError(RuntimeError):
    pass


class AMIClient:
    def __init__(self, host: str, port: int, username: str, secret: str, *, events: str = "on"):
        self.host, self.port, self.username, self.secret, self.event_mask = host, port, username, secret, events
        self.events: list[Message] = []
        self.banner = ""
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task | None = None
        self._cond = asyncio.Condition()
        self._responses: dict[str, asyncio.Future] = {}
        self._ids = itertools.count(1)
        self._closed_reason: str | None = None

    async def connect(self, timeout: float = 10.0) -> AMIClient:
        """Connect, log in, and wait for FullyBooted."""
        self._reader, self._writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), timeout)
        self.banner = (await asyncio.wait_for(self._reader.readline(), timeout)).decode().strip()
        self._task = asyncio.create_task(self._read_loop(), name="ami-reader")
        reply = await self.action(
            "Login", timeout=timeout, Username=self.username, Secret=self.secret, Events=self.event_mask
        )
        if reply.get("Response") != "Success":
            raise AMIError(f"AMI login as {self.username!r} failed: {reply.get('Message')}")
        if self.event_mask != "off":
            await self.wait_for(Event="FullyBooted", timeout=timeout)
        return self

    async def close(self) -> None:
        if self._writer is not None and not self._writer.is_closing():
            try:
                self._writer.write(b"Action: Logoff\r\n\r\n")
                await asyncio.wait_for(self._writer.drain(), 1)
            except (TimeoutError, OSError):
                pass
            self._writer.close()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass

    async def __aenter__(self) -> AMIClient:
        return await self.connect()

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def _read_loop(self) -> None:
        assert self._reader is not None
        try:
            while True:
                raw = await self._reader.readuntil(b"\r\n\r\n")
                msg = parse_message(raw)
                if "Event" in msg:
                    async with self._cond:
                        self.events.append(msg)
                        self._cond.notify_all()
                elif "Response" in msg:
                    fut = self._responses.pop(str(msg.get("ActionID", "")), None)
                    if fut is not None and not fut.done():
                        fut.set_result(msg)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            self._closed_reason = f"AMI connection closed ({exc.__class__.__name__})"
        finally:
            self._closed_reason = self._closed_reason or "AMI reader stopped"
            for fut in self._responses.values():
                if not fut.done():
                    fut.set_exception(AMIError(self._closed_reason))
            async with self._cond:
                self._cond.notify_all()

    async def action(self, name: str, timeout: float = 10.0, **headers: Any) -> Message:
        """Send an action and return its Response message (not the events it may produce)."""
        if self._writer is None:
            raise AMIError("not connected")
        action_id = f"t{next(self._ids)}"
        fut = asyncio.get_running_loop().create_future()
        self._responses[action_id] = fut
        lines = [f"Action: {name}", f"ActionID: {action_id}"]
        for key, value in headers.items():
            for v in value if isinstance(value, (list, tuple)) else [value]:
                lines.append(f"{key}: {v}")
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await self._writer.drain()
        return await asyncio.wait_for(fut, timeout)

    def find(self, predicate: Callable[[Message], bool] | None = None, since: int = 0, **fields: Any) -> list[Message]:
        """Events received so far (from index `since`) whose headers equal `fields`."""
        return [
            e
            for e in self.events[since:]
            if all(e.get(k) == v for k, v in fields.items()) and (predicate is None or predicate(e))
        ]

    async def wait_for(
        self,
        predicate: Callable[[Message], bool] | None = None,
        *,
        timeout: float = 10.0,
        since: int = 0,
        **fields: Any,
    ) -> Message:
        """The first event (from index `since`) matching `fields` and `predicate`; waits for it."""

        def first() -> Message | None:
            found = self.find(predicate, since, **fields)
            return found[0] if found else None

        async def waiter() -> Message:
            async with self._cond:
                while True:
                    hit = first()
                    if hit is not None:
                        return hit
                    if self._closed_reason:
                        raise AMIError(f"{self._closed_reason} while waiting for {fields or predicate}")
                    await self._cond.wait()

        try:
            return await asyncio.wait_for(waiter(), timeout)
        except TimeoutError:
            seen = sorted({e.get("Event", "?") for e in self.events[since:]})
            raise AssertionError(
                f"no AMI event {fields or ''} {predicate or ''} within {timeout} s "
                f"(event types seen: {', '.join(seen)})"
            ) from None
