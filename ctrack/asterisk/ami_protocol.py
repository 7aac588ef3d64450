"""The AMI wire protocol without I/O: an incremental message parser and an action encoder.

panoramisk 1.4 decodes every TCP chunk on its own, so a UTF-8 caller name split across two
reads loses characters. Here bytes are framed first and each complete message is decoded
once, so chunk boundaries never matter. Bad bytes are replaced, never fatal; a message
larger than the bound is dropped and the parser resynchronises on the next blank line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

BANNER_PREFIX = b"Asterisk Call Manager/"
MAX_MESSAGE_BYTES = 1 << 20  # far above any event; bounds memory against garbage

_END = b"\r\n\r\n"
_FOLLOWS = b"Response: Follows\r\n"  # Asterisk < 14 Command output, raw lines after the headers
_END_COMMAND = b"--END COMMAND--\r\n\r\n"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*\Z")
_NO_BREAKS = str.maketrans({"\r": " ", "\n": " ", "\0": " "})


class AmiProtocolError(ValueError):
    """An action that cannot be put on the wire safely (a bad action or header name)."""


class AmiMessage(dict):
    """One AMI message: headers in wire order; a header sent several times maps to a list.

    Values are as Asterisk sent them: it C-escapes some (caller names, VarSet values).
    """

    __slots__ = ()

    def getlist(self, key: str) -> list[str]:
        """Every value of a header, repeated or not ([] when absent)."""
        value = self.get(key)
        if value is None:
            return []
        return list(value) if isinstance(value, list) else [value]


class AmiParser:
    """Feed it the bytes of one AMI connection in any chunks; it returns complete messages."""

    def __init__(self, max_message_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self.banner: str | None = None  # 'Asterisk Call Manager/x.y.z' once seen
        self.dropped = 0  # oversized messages thrown away
        self._max = max_message_bytes
        self._buf = bytearray()
        self._scanned = 0  # bytes already searched for a message end
        self._expect_banner = True
        self._skipping = False  # inside an oversized message: drop until its end

    def feed(self, data: bytes) -> list[AmiMessage]:
        buf = self._buf
        buf += data
        if self._expect_banner and not self._take_banner():
            return []
        out: list[AmiMessage] = []
        pos = 0
        start = max(0, self._scanned - 3)
        while True:
            end = buf.find(_END, max(pos, start))
            if end < 0:
                break
            if self._skipping:
                self._skipping = False
            elif buf.startswith(_FOLLOWS, pos):
                cmd_end = buf.find(_END_COMMAND, pos)
                if cmd_end < 0:
                    break
                out.append(_parse_follows(buf[pos:cmd_end].decode("utf-8", "replace")))
                end = cmd_end + len(_END_COMMAND) - 4
            elif end - pos > self._max:
                self.dropped += 1
            elif end > pos:  # stray blank lines between messages are no message
                out.append(_parse(buf[pos:end].decode("utf-8", "replace")))
            pos = end + 4
        if pos:
            del buf[:pos]
        if len(buf) > self._max:  # no end in sight and already too big: drop it, resync later
            if not self._skipping:
                self.dropped += 1
                self._skipping = True
            del buf[:-3]  # these may be the start of the terminator
        self._scanned = len(buf)
        return out

    def _take_banner(self) -> bool:
        """Consume the greeting line if the stream starts with it; False while undecided."""
        buf = self._buf
        head = bytes(buf[: len(BANNER_PREFIX)])
        if not BANNER_PREFIX.startswith(head):
            self._expect_banner = False
            return True
        eol = buf.find(b"\r\n")
        if eol < 0:
            if len(buf) > 1024:
                self._expect_banner = False  # not a sane banner: let the framing deal with it
                return True
            return False
        self.banner = bytes(buf[:eol]).decode("utf-8", "replace")
        del buf[: eol + 2]
        self._expect_banner = False
        return True


def _parse(text: str) -> AmiMessage:
    """The headers of one message. Fast path for the usual shape, every line 'Key: value'
    with each key once and no ':' in a key: one split per line; anything else line by line."""
    try:
        message = AmiMessage([line.split(": ", 1) for line in text.split("\r\n")])
    except ValueError:  # a line without ': '
        return _parse_lines(text)
    if len(message) != text.count("\r\n") + 1 or ":" in "".join(message):
        return _parse_lines(text)  # a repeated header, or a key that the first ':' would cut
    return message


def _parse_lines(text: str) -> AmiMessage:
    message = AmiMessage()
    for line in text.split("\r\n"):
        key, sep, value = line.partition(":")
        if not sep:
            continue
        if value[:1] == " ":
            value = value[1:]
        old = message.get(key)
        if old is None:
            message[key] = value
        elif type(old) is list:
            old.append(value)
        else:
            message[key] = [old, value]
    return message


def _parse_follows(text: str) -> AmiMessage:
    """Legacy 'Response: Follows': CRLF headers, then raw LF-separated output lines."""
    head, _, tail = text.rpartition("\r\n")
    message = _parse(head)
    output = tail.split("\n")
    if output and output[-1] == "":
        output.pop()
    message["Output"] = output
    return message


def encode_action(action: str, fields: Mapping[str, object] | Iterable[tuple[str, object]] = ()) -> bytes:
    """One action as wire bytes. A list value repeats the header; None omits it.

    Values cannot break out of their line: CR, LF and NUL become spaces, so nothing in
    a value (a caller name, a variable) can start another header or another action.
    """
    if not _NAME.match(action):
        raise AmiProtocolError(f"invalid action name {action!r}")
    lines = [f"Action: {action}"]
    items = fields.items() if isinstance(fields, Mapping) else fields
    for key, value in items:
        if not _NAME.match(key) or key.lower() == "action":
            raise AmiProtocolError(f"invalid header name {key!r}")
        if value is None:
            continue
        for item in value if isinstance(value, (list, tuple)) else (value,):
            lines.append(f"{key}: {str(item).translate(_NO_BREAKS)}")
    lines.append("\r\n")
    return "\r\n".join(lines).encode("utf-8", "replace")
