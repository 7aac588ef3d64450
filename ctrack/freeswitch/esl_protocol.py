"""The FreeSWITCH event socket (ESL) wire protocol without I/O: frame parser and command encoders.

A frame is a header block ending in a blank line, then `Content-Length` body bytes if that
header is present. Header order is not fixed (events put Content-Length first), the outbound
`connect` reply carries the whole channel as URL-encoded headers with no body, and
`text/event-plain` bodies are themselves a URL-encoded header block with an optional inner
body. Bytes may arrive in any chunking; the parser never rescans what it has already seen.

Commands are written so that no value can add a line: application arguments travel as a
length-delimited body, and anything else containing CR, LF or NUL is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote

MAX_HEADER_BYTES = 1 << 20  # the connect reply (whole channel) is ~7 KB; 1 MiB bounds garbage
MAX_BODY_BYTES = 16 << 20  # FreeSWITCH's own limit for a command is 10 MB

_END = b"\n\n"
_APP = re.compile(r"[a-z][a-z0-9_]*\Z")
_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")
_BREAKS = ("\r", "\n", "\0")
_DELIMITERS = "|~^!#;"  # multiset separators, picked so none occurs in a value


class EslProtocolError(ValueError):
    """The peer sent bytes that are not ESL (bad header line, bad or huge Content-Length)."""


class EslCommandError(ValueError):
    """A command that cannot be put on the wire safely (a line break, a bad name)."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One ESL message: raw header values (not URL-decoded) and the body bytes."""

    headers: dict[str, str]
    body: bytes = b""

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    @property
    def reply_text(self) -> str:
        """A command/reply's Reply-Text, or an api/response body, stripped ('+OK accepted')."""
        if self.content_type == "api/response":
            return self.body.decode("utf-8", "replace").strip()
        text = self.headers.get("Reply-Text", "")
        # Only the outbound `connect` reply URL-encodes it ('%2BOK%0A'); a raw one has no '%'.
        return (unquote(text) if text.startswith("%") else text).strip()

    @property
    def ok(self) -> bool:
        return self.reply_text.startswith("+OK")


@dataclass(frozen=True, slots=True)
class Event:
    """A text/event-plain body: URL-decoded headers, plus the inner body some events carry."""

    headers: dict[str, str]
    body: str = ""

    @property
    def name(self) -> str:
        return self.headers.get("Event-Name", "")


class EslParser:
    """Feed it the bytes of one ESL connection in any chunks; it returns complete frames."""

    def __init__(self, max_header_bytes: int = MAX_HEADER_BYTES, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self._max_header = max_header_bytes
        self._max_body = max_body_bytes
        self._buf = bytearray()
        self._scanned = 0  # bytes already searched for a header end
        self._pending: dict[str, str] | None = None  # headers of a frame waiting for its body
        self._need = 0

    @property
    def buffered(self) -> int:
        """Bytes held for an incomplete frame."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Frame]:
        buf = self._buf
        buf += data
        out: list[Frame] = []
        pos = 0
        while True:
            if self._pending is not None:
                if len(buf) - pos < self._need:
                    break
                out.append(Frame(self._pending, bytes(buf[pos : pos + self._need])))
                pos += self._need
                self._pending = None
                continue
            while pos < len(buf) and buf[pos] in b"\r\n":  # FreeSWITCH skips stray blank lines too
                pos += 1
            end = buf.find(_END, max(pos, self._scanned - 1))
            if end < 0:
                self._scanned = len(buf)
                first = buf.find(b"\n", pos)
                if first > 0:  # say 'not ESL' at the first line, without waiting for a blank one
                    _parse_headers(buf[pos:first])
                if len(buf) - pos > self._max_header:
                    raise EslProtocolError(f"no end of headers within {self._max_header} bytes")
                break
            headers = _parse_headers(buf[pos:end])
            pos = end + 2
            self._scanned = pos
            length = _content_length(headers, self._max_body)
            if length:
                self._pending, self._need = headers, length
            else:
                out.append(Frame(headers))
        if pos:
            del buf[:pos]
            self._scanned = max(0, self._scanned - pos)
        return out


def _parse_headers(block: bytes | bytearray) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.decode("utf-8", "replace").split("\n"):
        line = line.rstrip("\r")
        if not line:
            continue
        key, sep, value = line.partition(":")
        if not sep or not key or " " in key:
            raise EslProtocolError(f"not a header line: {line[:60]!r}")
        headers[key] = value.lstrip(" ")
    return headers


def _content_length(headers: Mapping[str, str], limit: int) -> int:
    raw = headers.get("Content-Length")
    if raw is None:
        return 0
    if not raw.isdigit():
        raise EslProtocolError(f"bad Content-Length {raw[:20]!r}")
    length = int(raw)
    if length > limit:
        raise EslProtocolError(f"Content-Length {length} is over the {limit} byte limit")
    return length


def parse_event(body: bytes) -> Event:
    """A text/event-plain body as an Event with URL-decoded values."""
    head, sep, rest = body.partition(_END)
    headers = {k: unquote(v) for k, v in _parse_headers(head).items()}
    inner = b""
    if sep and "Content-Length" in headers:
        inner = rest[: _content_length(headers, MAX_BODY_BYTES)]
    return Event(headers, inner.decode("utf-8", "replace"))


def channel_data(frame: Frame) -> dict[str, str]:
    """The outbound `connect` reply's headers (the whole channel), URL-decoded."""
    return {k: unquote(v) for k, v in frame.headers.items()}


# -- encoders ---------------------------------------------------------------------------------


def _line(text: str, what: str) -> str:
    if any(c in text for c in _BREAKS):
        raise EslCommandError(f"{what} contains a line break or NUL: {text[:60]!r}")
    return text


def command(text: str) -> bytes:
    """A one-line command ('event plain CHANNEL_CREATE', 'myevents', 'exit')."""
    return (_line(text, "command") + "\n\n").encode()


def auth(password: str) -> bytes:
    return command("auth " + _line(password, "password"))


def api(text: str) -> bytes:
    """A blocking api command; FreeSWITCH answers with an api/response frame."""
    return command("api " + text)


def execute(app: str, arg: str = "", event_uuid: str | None = None, uuid: str | None = None) -> bytes:
    """sendmsg execute: run a dialplan application on the (controlled) channel.

    The argument goes in a text/plain body, length-delimited, so no character in it can end
    the message or start another command.
    """
    if not _APP.match(app):
        raise EslCommandError(f"bad application name {app!r}")
    if "\0" in arg:
        raise EslCommandError("application argument contains NUL")
    lines = [
        "sendmsg " + _line(uuid, "uuid") if uuid else "sendmsg",
        "call-command: execute",
        "execute-app-name: " + app,
    ]
    if event_uuid:
        lines.append("event-uuid: " + _line(event_uuid, "event uuid"))
    data = arg.encode()
    if data:
        lines += ["content-type: text/plain", f"content-length: {len(data)}"]
    return ("\n".join(lines) + "\n\n").encode() + data


def multiset_arg(variables: Mapping[str, str]) -> str:
    """The argument of `multiset` setting every variable at once ('^^|A=1|B=two words').

    multiset splits on a separator given after '^^'; one is chosen that no value contains.
    """
    for name, value in variables.items():
        if not _VAR.match(name):
            raise EslCommandError(f"bad variable name {name!r}")
        _line(value, f"value of {name}")
    pairs = [f"{k}={val}" for k, val in variables.items()]
    for delim in _DELIMITERS:
        if not any(delim in p for p in pairs):
            return "^^" + delim + delim.join(pairs)
    raise EslCommandError("every multiset separator occurs in some value")
