"""The AGI wire protocol without I/O: the request environment, commands and replies.

Commands are quoted the way Asterisk's res_agi parse_args() reads them: inside double
quotes a backslash makes the next character literal, so every backslash and quote in a
value is escaped. A line break would end the command and let the rest of the value run
as a new one, so CR, LF (and NUL, which would cut the line short) become spaces. res_agi
reads a command into a 2048-byte buffer and treats whatever does not fit as the next
command, so a longer line is refused instead of sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

MAX_COMMAND_BYTES = 2047  # AGI_BUF_LEN - 1, newline included
MAX_REPLY_LINE = 8192

_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_QUOTE = str.maketrans({"\\": "\\\\", '"': '\\"', "\r": " ", "\n": " ", "\0": " "})
_RESULT = re.compile(r"result=(\S*)\s*(.*)\Z", re.S)
_NAMES_OK: set[str] = set()  # variable names already checked


class AgiProtocolError(ValueError):
    """Bytes that are not AGI, or a command that cannot be sent safely."""


@dataclass(frozen=True, slots=True)
class AgiRequest:
    """The environment Asterisk sends first (agi_* keys exactly as received)."""

    env: Mapping[str, str]

    @property
    def uniqueid(self) -> str:
        return self.env.get("agi_uniqueid", "")

    @property
    def extension(self) -> str:
        """The dialed DID (agi_dnid is 'unknown' on Local channels, so never that)."""
        return self.env.get("agi_extension", "")

    @property
    def callerid(self) -> str:
        return self.env.get("agi_callerid", "")

    @property
    def calleridname(self) -> str:
        return self.env.get("agi_calleridname", "")

    @property
    def pbx_channel(self) -> str:
        """The PBX's channel (PJSIP/trunk-…), not the marketing channel."""
        return self.env.get("agi_channel", "")

    @property
    def context(self) -> str:
        return self.env.get("agi_context", "")

    @property
    def script(self) -> str:
        """The path of the agi:// URL ('track' for agi://host:4573/track)."""
        return self.env.get("agi_network_script", "")

    @property
    def args(self) -> tuple[str, ...]:
        """AGI(url,arg1,arg2...) arguments, in order."""
        out = []
        n = 1
        while f"agi_arg_{n}" in self.env:
            out.append(self.env[f"agi_arg_{n}"])
            n += 1
        return tuple(out)


def parse_env(block: bytes) -> AgiRequest:
    """Parse the 'agi_key: value' lines up to (not including) the blank line."""
    text = block.decode("utf-8", "replace")
    # Fast path: every line exactly as res_agi writes it ("agi_%s: %s\n"); anything
    # else (CRLF, no space after the colon, blank lines, garbage) takes the careful path.
    env: dict[str, str] = {}
    for line in text.split("\n"):
        key, sep, value = line.partition(": ")
        if not sep or key[:4] != "agi_" or " " in key or ":" in key or "\r" in value:
            return _parse_env_slowly(text)
        env[key] = value
    return AgiRequest(env)


def _parse_env_slowly(text: str) -> AgiRequest:
    """The same, line by line, for any line ending: says which line is wrong."""
    env: dict[str, str] = {}
    for line in text.split("\n"):
        line = line.rstrip("\r")
        if not line:
            continue
        key, sep, value = line.partition(":")
        if not sep or not key.startswith("agi_") or " " in key:
            raise AgiProtocolError(f"not an AGI environment line: {line[:80]!r}")
        env[key] = value[1:] if value[:1] == " " else value
    if not env:
        raise AgiProtocolError("empty AGI environment")
    return AgiRequest(env)


def quote(value: str) -> str:
    """One parse_args() argument holding exactly `value` (line breaks become spaces)."""
    return '"' + value.translate(_QUOTE) + '"'


def set_variable(name: str, value: str) -> bytes:
    """SET VARIABLE for a plain channel variable name (no functions, no expressions)."""
    _check_name(name)
    return _line(f"SET VARIABLE {name} {quote(value)}")


def set_variables(variables: Mapping[str, str]) -> bytes:
    """One SET VARIABLE per item, in order, as one write: b"".join(set_variable(...)) in a
    single encode (the route sends 13 of them per call)."""
    lines = []
    for name, value in variables.items():
        if name not in _NAMES_OK:
            _check_name(name)
        lines.append(f'SET VARIABLE {name} "{value.translate(_QUOTE)}"\n')
    data = "".join(lines).encode("utf-8", "replace")
    if len(data) > MAX_COMMAND_BYTES:  # only then can one line be too long
        for line in lines:
            _line(line[:-1])
    return data


def _check_name(name: str) -> None:
    if not _VARIABLE.match(name):
        raise AgiProtocolError(f"invalid channel variable name {name!r}")
    if len(_NAMES_OK) < 1024:
        _NAMES_OK.add(name)


def _line(text: str) -> bytes:
    data = (text + "\n").encode("utf-8", "replace")
    if len(data) > MAX_COMMAND_BYTES:
        raise AgiProtocolError(f"AGI command of {len(data)} bytes exceeds {MAX_COMMAND_BYTES}")
    return data


@dataclass(frozen=True, slots=True)
class AgiReply:
    """'200 result=1 (data) endpos=0' or an error such as 510/511/520 with its text."""

    code: int
    result: str = ""
    data: str = ""
    fields: Mapping[str, str] = field(default_factory=dict)
    text: str = ""

    @property
    def ok(self) -> bool:
        return self.code == 200


@dataclass(frozen=True, slots=True)
class AgiHangup:
    """Asterisk's 'HANGUP' notice to a FastAGI client: the channel is gone."""


HANGUP = AgiHangup()
_SET_OK = AgiReply(200, result="1")  # the answer to every successful SET VARIABLE


def parse_reply(line: str) -> AgiReply:
    """One single-line reply (without the newline)."""
    if len(line) < 3 or not line[:3].isdigit() or (len(line) > 3 and line[3] not in " -"):
        raise AgiProtocolError(f"not an AGI reply: {line[:80]!r}")
    code, rest = int(line[:3]), line[4:]
    if code != 200:
        return AgiReply(code, text=rest)
    match = _RESULT.match(rest)
    if match is None:
        raise AgiProtocolError(f"AGI 200 reply without result: {line[:80]!r}")
    result, tail = match.groups()
    data = ""
    if tail.startswith("("):
        close = tail.rfind(")")
        if close > 0:
            data, tail = tail[1:close], tail[close + 1 :]
    fields = dict(item.split("=", 1) for item in tail.split() if "=" in item)
    return AgiReply(code, result=result, data=data, fields=fields)


class AgiReplyReader:
    """Incremental reply reader: bytes in, replies and HANGUP notices out, in order.

    A multi-line usage block ('520-Invalid command syntax...' up to '520 End of proper
    usage.') comes out as one reply whose text holds the whole block.
    """

    def __init__(self, max_line: int = MAX_REPLY_LINE) -> None:
        self._buf = b""
        self._max = max_line
        self._block: list[str] | None = None  # lines of an open 'NNN-' block

    def feed(self, data: bytes) -> list[AgiReply | AgiHangup]:
        self._buf += data
        *lines, self._buf = self._buf.split(b"\n")
        if len(self._buf) > self._max:
            raise AgiProtocolError(f"AGI reply line longer than {self._max} bytes")
        out: list[AgiReply | AgiHangup] = []
        for raw in lines:
            if raw == b"200 result=1" and self._block is None:
                out.append(_SET_OK)
                continue
            line = raw.decode("utf-8", "replace").rstrip("\r")
            if self._block is not None:
                self._block.append(line)
                if len(line) >= 4 and line[3] == " " and line[:3] == self._block[0][:3]:
                    first, *middle, last = self._block
                    out.append(AgiReply(int(last[:3]), text="\n".join([first[4:], *middle, last[4:]])))
                    self._block = None
                elif sum(map(len, self._block)) > self._max:
                    raise AgiProtocolError("AGI reply block too long")
            elif line == "HANGUP":
                out.append(HANGUP)
            elif len(line) >= 4 and line[3] == "-" and line[:3].isdigit():
                self._block = [line]
            elif line:
                out.append(parse_reply(line))
        return out
