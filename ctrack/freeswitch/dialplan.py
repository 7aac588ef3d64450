"""The FreeSWITCH XML dialplan for the tracking numbers, rendered from its Jinja2 template.

Channel variable names come from ctrack.core.variables; the template hard-codes none.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import jinja2
import phonenumbers

from ctrack.asterisk.dialplan import templates_dir
from ctrack.config import Config
from ctrack.core import variables as v
from ctrack.core.phone import InvalidNumber, to_e164
from ctrack.errors import CtrackError

TEMPLATE = "freeswitch/ctrack.xml.j2"

# Dial strings in Asterisk's syntax ring nothing on FreeSWITCH (which uses sofia/, user/, ...).
_ASTERISK_DIAL = re.compile(r"^(PJSIP|SIP|IAX2|DAHDI|Local|Console|Motif)/")


class DialplanError(CtrackError, ValueError):
    """The dialplan cannot be rendered from this configuration; str() says what to fix."""


def config_problems(config: Config) -> list[str]:
    """What in the configuration would stop calls from ringing on FreeSWITCH, one line each."""
    problems = []
    for key, value, example in (
        ("business.default_forward", config.business.default_forward, "user/1000 or sofia/gateway/trunk/15035550100"),
        ("business.dial_template", config.business.dial_template, "sofia/gateway/trunk/{number}"),
    ):
        if _ASTERISK_DIAL.match(value):
            problems.append(f"{key} = {value} is an Asterisk dial string; FreeSWITCH needs one such as {example}")
    host, _ = config.freeswitch.outbound_listen
    if ":" in host:
        problems.append(
            f"freeswitch.outbound_listen: FreeSWITCH's socket application connects over "
            f"IPv4 only; use 127.0.0.1, not {host}"
        )
    return problems


def did_pattern(numbers: Iterable[str], default_region: str | None = "US") -> str:
    """A destination_number regex for the tracking numbers: E.164 with or without '+',
    or the national number alone, as carriers deliver them."""
    alternatives = set()
    for number in numbers:
        try:
            parsed = phonenumbers.parse(to_e164(number, default_region), None)
        except InvalidNumber as exc:
            raise DialplanError(str(exc)) from None
        national = phonenumbers.national_significant_number(parsed)
        alternatives.add(rf"(?:\+?{parsed.country_code})?{national}")
    if not alternatives:
        raise DialplanError("no active tracking numbers: add one before rendering the dialplan")
    return "^(?:" + "|".join(sorted(alternatives)) + ")$"


def render_dialplan(config: Config, numbers: Iterable[str]) -> str:
    """The XML to include in the context where the tracking numbers arrive."""
    problems = config_problems(config)
    if problems:
        raise DialplanError("; ".join(problems))
    host, port = config.freeswitch.outbound_listen
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    return env.get_template(TEMPLATE).render(
        v=v,
        ref=lambda name: "${" + name + "}",
        did_pattern=did_pattern(numbers, config.ctrack.default_region),
        default_forward=config.business.default_forward,
        ring_timeout=config.business.ring_timeout,
        outbound_host=host,
        outbound_port=port,
    )
