"""A protocol-level FreeSWITCH for the ESL tests, replaying real FreeSWITCH 1.10.12 captures.

The captures (tests/fixtures/freeswitch/raw, copied from ../shared/fixtures/freeswitch/raw) hold the exact bytes FreeSWITCH sent. The
peers here send those bytes, answer commands the way mod_event_socket does, and record what
ctrack sent. Command parsing is written independently of ctrack's parser, after
mod_event_socket's read_packet: first line is the command, then headers, then an optional
Content-Length body.

The box that made the captures marked the tracked leg with `calltrack_did`; ctrack's rendered
dialplan marks it with CTRACK_DID (and the route sets CTRACK_UNIQUEID). `adapt()` renames those
two variables and recomputes Content-Length, leaving every other byte as captured.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote

from ctrack.core import variables as v

RAW = Path(__file__).resolve().parents[1] / "fixtures" / "freeswitch" / "raw"
CAPTURES = ("inbound-answered", "inbound-missed", "inbound-abandoned")
OUTBOUND = ("outbound-socket-session", "outbound-socket-session-missed", "outbound-socket-session-abandoned")
RENAMES = (
    (b"variable_calltrack_did:", f"variable_{v.DID}:".encode()),
    (b"variable_calltrack_call_id:", f"variable_{v.UNIQUEID}:".encode()),
)
VERSION = b"FreeSWITCH Version 1.10.12-release+git~20240802T210227Z~a88d069d6f~64bit (git a88d069 2024-08-02 21:02:27Z 64bit)\n"


def read_capture(name: str) -> list[tuple[str, float, bytes]]:
    """The records of NAME.esl: (direction '<<' or '>>', seconds, payload)."""
    data = (RAW / f"{name}.esl").read_bytes()
    pos, records = 0, []
    while pos < len(data):
        nl = data.index(b"\n", pos)
        line = data[pos:nl].decode()
        pos = nl + 1
        if line.startswith("#"):
            continue
        direction, seconds, length = line.split(" ")
        payload = data[pos : pos + int(length)]
        pos += int(length) + 1
        records.append((direction, float(seconds), payload))
    return records


def received(name: str) -> list[bytes]:
    """Each message FreeSWITCH sent, in order (one '<<' record is exactly one ESL message)."""
    return [p for d, _, p in read_capture(name) if d == "<<"]


def split_message(msg: bytes) -> tuple[dict[str, str], bytes]:
    head, _, body = msg.partition(b"\n\n")
    headers = dict(line.split(": ", 1) for line in head.decode().split("\n") if line)
    return headers, body


def event_name(msg: bytes) -> str | None:
    headers, body = split_message(msg)
    if headers.get("Content-Type") != "text/event-plain":
        return None
    return split_message(body)[0].get("Event-Name")


def with_body(msg: bytes, body: bytes) -> bytes:
    """The message with a new body and its outer Content-Length fixed, header order kept."""
    head = msg.partition(b"\n\n")[0].decode().split("\n")
    head = [f"Content-Length: {len(body)}" if line.startswith("Content-Length: ") else line for line in head]
    return "\n".join(head).encode() + b"\n\n" + body


def adapt(msg: bytes) -> bytes:
    """Rename the capture box's marker variables to ctrack's (see the module docstring)."""
    if not any(old in msg for old, _ in RENAMES):
        return msg
    head, sep, body = msg.partition(b"\n\n")
    if "Content-Length" not in split_message(msg)[0]:  # the connect reply: headers only
        for old, new in RENAMES:
            msg = msg.replace(old, new)
        return msg
    for old, new in RENAMES:
        body = body.replace(old, new)
    return with_body(msg, body)


def edit_event(msg: bytes, **changes: str) -> bytes:
    """A captured event with some headers replaced (values URL-encoded as FreeSWITCH does)."""
    _, body = split_message(msg)
    head, _, inner = body.partition(b"\n\n")
    lines = []
    for line in head.decode().split("\n"):
        key = line.split(": ", 1)[0]
        if key.replace("-", "_") in changes:
            line = f"{key}: {quote(changes[key.replace('-', '_')], safe='/,()')}"
        lines.append(line)
    return with_body(msg, "\n".join(lines).encode() + b"\n\n" + inner)


def event_headers(msg: bytes) -> dict[str, str]:
    _, body = split_message(msg)
    return {k: unquote(val) for k, val in split_message(body)[0].items()}


async def read_command(reader: asyncio.StreamReader) -> tuple[str, dict[str, str], bytes]:
    """One command as mod_event_socket reads it: a line, headers, a blank line, a body."""
    block = await reader.readuntil(b"\n\n")
    lines = block.decode().split("\n")
    headers = {}
    for line in lines[1:]:
        if line:
            key, _, val = line.partition(":")
            headers[key.strip().lower()] = val.strip()
    body = b""
    if int(headers.get("content-length", "0")):
        body = await reader.readexactly(int(headers["content-length"]))
    return lines[0], headers, body


def reply(text: str) -> bytes:
    return f"Content-Type: command/reply\nReply-Text: {text}\n\n".encode()


def api_response(text: bytes) -> bytes:
    return b"Content-Type: api/response\nContent-Length: %d\n\n" % len(text) + text


async def send_chunked(writer: asyncio.StreamWriter, data: bytes, rng: random.Random | None, max_chunk: int) -> None:
    if rng is None:
        writer.write(data)
    else:
        pos = 0
        while pos < len(data):
            n = rng.randint(1, max_chunk)
            writer.write(data[pos : pos + n])
            pos += n
            await writer.drain()
    await writer.drain()


@dataclass
class InboundPeer:
    """FreeSWITCH's mod_event_socket listener (inbound ESL), replaying captured events.

    Each connection gets the next list in `sessions`: the events of those captures that the
    client subscribed to, in captured order. `drop_after` closes a session after that many
    events without a goodbye, as a crash or network loss would.
    """

    sessions: list[list[str]]
    password: str = "ClueCon"
    modules: tuple[str, ...] = ("mod_dptools", "mod_sofia", "mod_sndfile", "mod_commands")
    drop_after: dict[int, int] = field(default_factory=dict)
    seed: int | None = None
    max_chunk: int = 512
    acl: str | None = None  # apply-inbound-acl: a list name (see `lists`) or a CIDR
    lists: dict[str, tuple[str, ...]] = field(default_factory=lambda: {"loopback.auto": ("127.0.0.0/8", "::1/128")})
    adapt_marker: bool = True
    connections: int = 0
    commands: list[str] = field(default_factory=list)
    subscribed: list[list[str]] = field(default_factory=list)
    server: asyncio.AbstractServer | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        index = self.connections
        self.connections += 1
        greeting, accepted, enabled, bye, goodbye = self._captured()
        streaming: asyncio.Task | None = None
        try:
            if self.acl is not None and not self._allowed(writer.get_extra_info("peername")[0]):
                text = b"Access Denied, go away.\n"
                writer.write(b"Content-Type: text/rude-rejection\nContent-Length: %d\n\n" % len(text) + text)
                await writer.drain()
                return
            writer.write(greeting)
            while True:
                line, _, _ = await read_command(reader)
                self.commands.append(line)
                if line.startswith("auth "):
                    if line[5:] != self.password:
                        writer.write(reply("-ERR invalid") + goodbye)
                        await writer.drain()
                        return
                    writer.write(accepted)
                elif line.startswith("event plain "):
                    names = line.split()[2:]
                    self.subscribed.append(names)
                    writer.write(enabled)
                    if streaming is None and index < len(self.sessions):
                        streaming = asyncio.create_task(self._stream(writer, index, set(names)))
                elif line == "api version":
                    writer.write(
                        api_response(VERSION)
                        if "mod_commands" in self.modules
                        else api_response(b"-ERR version Command not found!\n")
                    )
                elif line.startswith("api module_exists "):
                    writer.write(api_response(b"true" if line.split()[-1] in self.modules else b"false"))
                elif line == "exit":
                    writer.write(bye + goodbye)
                    await writer.drain()
                    return
                else:
                    writer.write(reply("-ERR command not found"))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            if streaming is not None:
                await asyncio.gather(streaming, return_exceptions=True)
            writer.close()

    def _allowed(self, address: str) -> bool:
        """switch_check_network_list_ip: an unknown list name allows nobody."""
        assert self.acl is not None
        cidrs = self.lists.get(self.acl) or (tuple(self.acl.split(",")) if "/" in self.acl else ())
        return any(ipaddress.ip_address(address) in ipaddress.ip_network(c, strict=False) for c in cidrs)

    def _captured(self) -> tuple[bytes, ...]:
        msgs = received(CAPTURES[0])
        return msgs[0], msgs[1], msgs[2], msgs[-2], msgs[-1]

    def events(self, index: int, names: set[str]) -> list[bytes]:
        out = []
        for capture in self.sessions[index]:
            for msg in received(capture)[3:-2]:
                if event_name(msg) in names:
                    out.append(adapt(msg) if self.adapt_marker else msg)
        return out

    async def _stream(self, writer: asyncio.StreamWriter, index: int, names: set[str]) -> None:
        events = self.events(index, names)
        limit = self.drop_after.get(index)
        rng = random.Random(self.seed) if self.seed is not None else None
        for n, msg in enumerate(events):
            if limit is not None and n == limit:
                writer.transport.abort()
                return
            await send_chunked(writer, msg, rng, self.max_chunk)


FRAME = 0.02  # seconds: FreeSWITCH's media loops run once per 20 ms frame


@dataclass
class Run:
    """One application as the modelled channel ran it (times on the event loop's clock)."""

    app: str
    arg: str
    started: float
    ended: float | None = None
    cut: bool = False  # stopped before its end because the socket went away


@dataclass
class OutboundCall:
    """FreeSWITCH's `socket` application for one call, connecting to ctrack's server.

    Answers like FreeSWITCH 1.10.12 did in the outbound capture: the captured channel data on
    `connect`, '+OK' at once for each async sendmsg, then CHANNEL_EXECUTE and
    CHANNEL_EXECUTE_COMPLETE echoing the event-uuid as Application-UUID.

    Time is modelled as FreeSWITCH keeps it (mod_event_socket.c, switch_ivr.c): an async
    sendmsg only queues a private event on the channel; the socket application's park loop
    runs it. `playback` runs for `playback_seconds` (the prompt's length), reading a frame
    every 20 ms, and each frame calls switch_ivr_parse_all_events, which runs any execute
    queued meanwhile *inside* the playback (unless it was sent with `event-lock: true`), so
    the queued application starts and completes while the prompt is still playing. Other
    applications (set, multiset, record_session, which only attaches a media bug) complete
    at once. When the socket ends (`exit`, or ctrack closing it) with socket_resume=true,
    listener_run sets the channel to CS_RESET; switch_channel_ready() is then false and the
    running playback stops at its next frame: `runs` shows it as cut.

    `hangup_on` makes the caller hang up when that application starts (captured
    CHANNEL_HANGUP, then the captured disconnect notice, and close: without `linger`
    FreeSWITCH does not wait). `park_first` sends the captured CHANNEL_PARK before the first
    reply, as in the abandoned capture.

    Where the call goes after the socket (`after_socket`), as socket_function decides once
    the park loop ends: with socket_resume true it sets CS_EXECUTE, so the rest of ctrack's
    extension runs (the bridge to the business line), even after a `transfer` had set
    CS_ROUTING; with socket_resume false a transferred channel is routed anew into the
    transfer's target. `socket_resume` starts true, as the rendered dialplan sets it, and
    follows `set` / `multiset`. `transfer` completes at once (switch_ivr_session_transfer only
    swaps the caller profile and sets the state); `close_on_transfer` instead ends the
    connection from FreeSWITCH's side before its CHANNEL_EXECUTE_COMPLETE is sent, the worst
    FreeSWITCH may do once the channel leaves the park loop (listener_run flushes the
    events still queued). `refuse` answers '-ERR' to an execute of that application.
    """

    capture: str = OUTBOUND[0]
    hangup_on: str | None = None
    park_first: bool = True
    playback_seconds: float = 2.0
    close_on_transfer: bool = False
    refuse: str | None = None
    socket_resume: bool = True
    transferred_to: str | None = None
    commands: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)
    closed_by_ctrack: bool = False

    def _find(self, name: str) -> bytes:
        return next(m for m in received(self.capture) if event_name(m) == name)

    async def run(self, port: int, timeout: float = 10.0) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        msgs = received(self.capture)
        connect_reply, events_on = adapt(msgs[0]), msgs[1]
        ok = next(m for m in msgs if split_message(m)[0].get("Reply-Text") == "+OK")
        bye, goodbye = msgs[-2], msgs[-1]
        self._execute, self._complete = self._find("CHANNEL_EXECUTE"), self._find("CHANNEL_EXECUTE_COMPLETE")
        self._writer = writer
        self._queue: list[tuple[str, str, str, bool]] = []
        self._queued = asyncio.Event()
        self._reset = False  # the socket is gone: the channel leaves the socket application
        self._hung_up = False
        channel = asyncio.create_task(self._park())
        try:
            async with asyncio.timeout(timeout):
                while not self._hung_up:
                    try:
                        command = await read_command(reader)
                    except asyncio.IncompleteReadError:
                        self.closed_by_ctrack = not self._reset  # not our own close_on_transfer
                        return
                    self.commands.append(command)
                    line, headers, body = command
                    if line == "connect":
                        writer.write(connect_reply)
                        if self.park_first:
                            writer.write(self._find("CHANNEL_PARK"))
                    elif line == "myevents":
                        writer.write(events_on)
                    elif line == "sendmsg" and headers.get("call-command") == "execute":
                        app = headers["execute-app-name"]
                        arg = body.decode() if body else headers.get("execute-app-arg", "")
                        if app == self.refuse:
                            writer.write(reply("-ERR invalid application"))
                            await writer.drain()
                            continue
                        writer.write(ok)
                        lock = headers.get("event-lock", "").lower() == "true"
                        self._queue.append((app, arg, headers.get("event-uuid", ""), lock))
                        self._queued.set()
                    elif line == "exit":
                        writer.write(bye + goodbye)
                        await writer.drain()
                        return
                    else:
                        writer.write(reply("-ERR command not found"))
                    await writer.drain()
        finally:
            self._reset = True
            self._queued.set()
            await asyncio.gather(channel, return_exceptions=True)
            writer.close()

    async def _park(self) -> None:
        """switch_ivr_park: run each queued execute in turn until the socket goes away."""
        while not self._reset and not self._hung_up:
            if not self._queue:
                self._queued.clear()
                await self._queued.wait()
                continue
            await self._run_app(*self._queue.pop(0))

    async def _run_app(self, app: str, arg: str, uid: str, lock: bool) -> None:
        loop = asyncio.get_running_loop()
        run = Run(app, arg, loop.time())
        self.runs.append(run)
        self._send(edit_event(self._execute, Application=app, Application_Data=arg, Application_UUID=uid))
        if app == self.hangup_on:
            self._hung_up = True
            self._send(self._find("CHANNEL_HANGUP") + received(self.capture)[-1])
            self._writer.close()
            run.ended = loop.time()
            return
        if app == "playback":
            end = run.started + self.playback_seconds
            while loop.time() < end:
                await asyncio.sleep(FRAME)
                if self._reset or self._hung_up:  # switch_channel_ready() is false
                    run.cut = True
                    break
                while self._queue and not lock:  # switch_ivr_parse_all_events
                    await self._run_app(*self._queue.pop(0))
        else:
            self._note_variables(app, arg)
            await asyncio.sleep(0)
        run.ended = loop.time()
        if app == "transfer":
            self.transferred_to = arg
            if self.close_on_transfer:  # listener_run's flush_listener drops the queued events
                self._reset = True
                self._writer.close()
                return
        self._send(edit_event(self._complete, Application=app, Application_Data=arg, Application_UUID=uid))

    def _note_variables(self, app: str, arg: str) -> None:
        """Follow socket_resume through `set` and `multiset` (^^<delim>name=value...)."""
        pairs = [arg] if app == "set" else arg[3:].split(arg[2]) if app == "multiset" and arg.startswith("^^") else []
        for pair in pairs:
            name, _, value = pair.partition("=")
            if name == "socket_resume":
                self.socket_resume = value.lower() in ("true", "yes", "on", "1")

    def after_socket(self) -> str | None:
        """Where the channel goes once the socket application returns (see the class doc)."""
        if self._hung_up:
            return None
        if self.socket_resume:
            return "ctrack extension"
        return f"transfer {self.transferred_to}" if self.transferred_to else None

    def _send(self, data: bytes) -> None:
        if not self._writer.is_closing():
            self._writer.write(data)

    def executed(self) -> list[tuple[str, str]]:
        return [
            (h["execute-app-name"], b.decode() if b else h.get("execute-app-arg", ""))
            for line, h, b in self.commands
            if line == "sendmsg"
        ]

    def lines(self) -> list[str]:
        return [line for line, _, _ in self.commands]
