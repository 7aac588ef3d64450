"""Replay the real AMI captures in tests/fixtures/asterisk/ as event dicts or as wire bytes.

The captures are panoramisk Message dumps taken on Asterisk 22 (copied from
../shared/fixtures/asterisk/): blocks separated by '# +0.11s' lines, one 'Key: value' per
header, a repeated header shown as a Python list repr, and panoramisk's own 'content:'
line, which is not a header. They were taken with a prototype dialplan whose variables
were named CT_*; PROTOTYPE_NAMES maps them to the CTRACK_* contract.
"""

from __future__ import annotations

import ast
from pathlib import Path

from ctrack.core import variables as v

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "asterisk"
CAPTURES = ("sipp-answered", "sipp-missed", "originate-answered")
BANNER = b"Asterisk Call Manager/11.0.0\r\n"
PROTOTYPE_NAMES = {"CT_DID": v.DID, "CT_SOURCE": v.SOURCE, "CT_DEST": v.FORWARD, "CT_TIMEOUT": v.RING_TIMEOUT}


def load(name: str) -> list[dict[str, str | list[str]]]:
    """The capture's events, in order, as header dicts."""
    events = []
    for block in (FIXTURES / f"{name}.txt").read_text(encoding="utf-8").split("\n# +"):
        event: dict[str, str | list[str]] = {}
        for line in block.split("\n")[1:]:
            key, sep, value = line.partition(": ")
            if not sep:
                key, sep, value = line.partition(":")
            if not sep or key == "content":
                continue
            if value.startswith("['") and value.endswith("']"):
                value = ast.literal_eval(value)
            event[key] = value
        if event:
            events.append(event)
    return events


def renamed(events: list[dict], names: dict[str, str] = PROTOTYPE_NAMES) -> list[dict]:
    """The events with the prototype's variable names (and their __ prefixes) renamed."""
    out = []
    for event in events:
        name = event.get("Variable")
        if event.get("Event") == "VarSet" and isinstance(name, str) and name.lstrip("_") in names:
            prefix = name[: len(name) - len(name.lstrip("_"))]
            event = {**event, "Variable": prefix + names[name.lstrip("_")]}
        out.append(event)
    return out


def to_wire(event: dict[str, str | list[str]]) -> bytes:
    """One event as Asterisk sends it: CRLF lines, a repeated header once per value."""
    lines = []
    for key, value in event.items():
        for item in value if isinstance(value, list) else [value]:
            lines.append(f"{key}: {item}\r\n")
    return ("".join(lines) + "\r\n").encode("utf-8")


def wire(name: str, banner: bool = True) -> bytes:
    """A whole capture as the byte stream of one AMI connection."""
    return (BANNER if banner else b"") + b"".join(to_wire(event) for event in load(name))
