"""How Asterisk's res_agi reads what a FastAGI server sends, ported from res_agi.c.

run_agi() reads each command with fgets() into a 2048-byte buffer (a longer line is read
as several commands), strips one trailing newline, and C string handling stops at a NUL;
parse_args() then splits it into words.
"""

from __future__ import annotations

AGI_BUF_LEN = 2048


def read_commands(stream: bytes) -> list[bytes]:
    """The command lines Asterisk would execute, one per fgets() of at most 2047 bytes."""
    out = []
    pos = 0
    while pos < len(stream):
        newline = stream.find(b"\n", pos, pos + AGI_BUF_LEN - 1)
        end = newline + 1 if newline >= 0 else min(len(stream), pos + AGI_BUF_LEN - 1)
        line = stream[pos:end]
        pos = end
        if line.endswith(b"\n"):
            line = line[:-1]
        out.append(line.split(b"\0", 1)[0])
    return out


def parse_args(line: bytes) -> list[bytes]:
    """res_agi.c parse_args(): words split on blanks, "quotes" group, backslash escapes one byte."""
    argv: list[bytearray] = []
    quoted = escaped = False
    whitespace = True
    for ch in line:
        if ch == ord('"') and not escaped:
            quoted = not quoted
            if quoted and whitespace:
                argv.append(bytearray())
                whitespace = False
            continue
        if ch in (ord(" "), ord("\t")) and not quoted and not escaped:
            whitespace = True
            continue
        if ch == ord("\\") and not escaped:
            escaped = True
            continue
        if whitespace:
            argv.append(bytearray())
            whitespace = False
        argv[-1].append(ch)
        escaped = False
    return [bytes(a) for a in argv]


def env_block(uniqueid: str = "1795798665.12", extension: str = "15551230001", **extra: str) -> bytes:
    """The AGI environment Asterisk sends first, ending with the blank line."""
    env = {
        "agi_network": "yes",
        "agi_network_script": "track",
        "agi_request": "agi://127.0.0.1:4573/track",
        "agi_channel": "PJSIP/trunk-00000000",
        "agi_language": "en",
        "agi_type": "PJSIP",
        "agi_uniqueid": uniqueid,
        "agi_version": "22.10.1",
        "agi_callerid": "15035550123",
        "agi_calleridname": "Bob Caller",
        "agi_dnid": extension,
        "agi_context": "from-trunk",
        "agi_extension": extension,
        "agi_priority": "3",
        **extra,
    }
    return "".join(f"{key}: {value}\n" for key, value in env.items()).encode() + b"\n"
