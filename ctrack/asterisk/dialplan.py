"""Render the PBX-side configuration (dialplan, manager user) from dialplan_templates/."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import jinja2

from ctrack import __file__ as _package_file
from ctrack.config import Config
from ctrack.core import dialstring, variables
from ctrack.errors import CtrackError

# Events the AMI listener consumes; the manager snippet filters everything else out.
AMI_EVENTS = ("FullyBooted", "Newchannel", "DialBegin", "DialEnd", "BridgeEnter", "Hangup", "Cdr")
VARIABLE_PREFIXES = ("CTRACK_", "MIXMONITOR_FILENAME", "VM_MESSAGEFILE")
# Of the noisier events, only these: a channel going Up (an IVR answering), and the
# dialplan entering voicemail or a queue.
AMI_REGEX_FILTERS = ("Event: Newstate.*ChannelState: 6", "Event: Newexten.*Application: (VoiceMail|Queue)")


class RenderError(CtrackError):
    """A setting cannot go into a dialplan safely; str() is the reason."""


def templates_dir() -> Path:
    """dialplan_templates/ of a source checkout, else the copy pip installed under share/
    (the one lookup for both PBXs' templates)."""
    for candidate in (
        Path(_package_file).resolve().parents[1] / "dialplan_templates",
        Path(sys.prefix) / "share" / "ctrack" / "dialplan_templates",
    ):
        if candidate.is_dir():
            return candidate
    raise RenderError("dialplan_templates/ not found (reinstall ctrack)")


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def _safe_dial_string(name: str, value: str) -> str:
    if not dialstring.is_safe(value):
        raise RenderError(f"{name} {value!r}: {dialstring.RULE}")
    return value


def _context(config: Config) -> dict:
    host, port = config.fastagi.listen
    agi_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return {
        "rendered_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "v": variables,
        "default_forward": _safe_dial_string("[business] default_forward", config.business.default_forward),
        "ring_timeout": config.business.ring_timeout,
        "agi_url": f"agi://{agi_host}:{port}/route",
        "agi_script": "ctrack-route.agi",
    }


def render_asterisk(config: Config, agi: str = "fastagi") -> str:
    """The inbound contexts' include for extensions.conf; agi is 'fastagi' or 'script'."""
    if agi not in ("fastagi", "script"):
        raise RenderError("agi must be 'fastagi' or 'script'")
    return _environment().get_template("asterisk/extensions_ctrack.conf.j2").render(**_context(config), agi=agi)


def render_manager(config: Config, permit: str = "127.0.0.1/255.255.255.255") -> str:
    """ctrack's AMI user with an event filter, for manager.conf."""
    secret = config.ami.secret
    if not secret:
        raise RenderError("[ami] secret is empty: set it in ctrack.ini first")
    if any(c in secret for c in "\r\n;"):
        raise RenderError("[ami] secret may not contain ; or line breaks")
    return (
        _environment()
        .get_template("asterisk/manager_ctrack.conf.j2")
        .render(
            rendered_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            ami_user=config.ami.username,
            ami_secret=secret,
            permit=permit,
            events=AMI_EVENTS,
            variable_prefixes=VARIABLE_PREFIXES,
            regex_filters=AMI_REGEX_FILTERS,
        )
    )
