"""One event-socket TCP connection over asyncio: frames in, commands out."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from ctrack.freeswitch.esl_protocol import EslParser, Frame

READ_SIZE = 65536
REPLY_TYPES = ("command/reply", "api/response")


class EslClosed(ConnectionError):
    """The peer closed the connection (or said goodbye with a disconnect notice)."""


class EslConnection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self._parser = EslParser()
        self._frames: deque[Frame] = deque()

    @classmethod
    async def open(cls, host: str, port: int, timeout: float) -> EslConnection:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        return cls(reader, writer)

    async def frame(self) -> Frame:
        """The next frame; EslClosed at end of stream (a partial frame is discarded)."""
        while not self._frames:
            data = await self.reader.read(READ_SIZE)
            if not data:
                raise EslClosed("connection closed by peer")
            self._frames.extend(self._parser.feed(data))
        return self._frames.popleft()

    def local_address(self) -> str:
        """ctrack's own address on this connection: the one FreeSWITCH's ACL judges."""
        sockname = self.writer.get_extra_info("sockname")
        return str(sockname[0]) if sockname else "unknown"

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def reply(self, on_other: Callable[[Frame], None] | None = None) -> Frame:
        """The next command/reply or api/response; other frames (events) go to on_other."""
        while True:
            frame = await self.frame()
            if frame.content_type in REPLY_TYPES:
                return frame
            if frame.content_type == "text/disconnect-notice" and frame.headers.get("Content-Disposition") != "linger":
                raise EslClosed("FreeSWITCH sent a disconnect notice")
            if on_other is not None:
                on_other(frame)

    async def request(self, data: bytes, on_other: Callable[[Frame], None] | None = None) -> Frame:
        await self.send(data)
        return await self.reply(on_other)

    async def aclose(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass
