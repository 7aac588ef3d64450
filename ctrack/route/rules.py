"""The route decision: from a dialed DID, a caller and a time, decide how the PBX handles
the call. One function serves FastAGI, the classic AGI script and FreeSWITCH.

The decision is data; the adapter turns it into channel variables and the dialplan does
the Dial/MixMonitor. Anything unknown still yields a decision that rings the business.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from ctrack.core import dialstring
from ctrack.core import variables as v
from ctrack.core.model import NumberState, Pool, Source, TrackingNumber
from ctrack.core.phone import normalize_caller, normalize_did
from ctrack.privacy.consent import ConsentRules, decide_consent
from ctrack.spam.rules import BUSY, DIAL, HANGUP, BlockList

if TYPE_CHECKING:
    from ctrack.config import Config
from ctrack.transcription.rules import BUSINESS, CALLER, direction_path


@dataclass(frozen=True, slots=True)
class RouteSettings:
    default_forward: str = "Local/s@business-line"  # dial string of the business line
    dial_template: str = "PJSIP/{number}@trunk"  # how to dial a forward given as a number
    ring_timeout: int = 30
    consent_prompt: str = ""  # sound played before recording; "" = no prompt
    consent: ConsentRules = field(default_factory=ConsentRules)  # when the prompt plays (by region)
    default_region: str = "US"
    recording_format: str = "wav"
    spam_treatment: str = BUSY  # a blocked caller: busy, hangup or a dial string

    @classmethod
    def from_config(cls, config: Config) -> RouteSettings:
        """The settings in ctrack.ini."""
        return cls(
            default_forward=config.business.default_forward,
            dial_template=config.business.dial_template,
            ring_timeout=config.business.ring_timeout,
            consent_prompt=config.recording.consent_prompt,
            consent=ConsentRules(config.recording.consent, config.business.region, config.recording.all_party_regions),
            default_region=config.ctrack.default_region,
            recording_format=config.recording.format,
            spam_treatment=config.spam.treatment,
        )


@dataclass(frozen=True, slots=True)
class Catalog:
    """A read-only snapshot of the tracking configuration, looked up per call."""

    numbers: Mapping[str, TrackingNumber] = field(default_factory=dict)
    sources: Mapping[str, Source] = field(default_factory=dict)
    pools: Mapping[str, Pool] = field(default_factory=dict)
    blocked: BlockList = field(default_factory=BlockList)

    def source_of(self, number: str | None) -> tuple[str | None, str | None]:
        """(source, channel) of a static tracking number; (None, None) for others."""
        tn = self.numbers.get(number) if number else None
        if tn is None or not tn.source:
            return None, None
        source = self.sources.get(tn.source)
        return tn.source, source.channel if source else None

    def pass_through_numbers(self) -> frozenset[str]:
        """Active numbers whose calls continue in the admin's dialplan (forward goto:…): their
        CDR rows carry the admin's context, which the CDR backstop must accept too."""
        return frozenset(
            n.number for n in self.numbers.values() if n.state == NumberState.ACTIVE and is_pass_through(n.forward)
        )


@dataclass(frozen=True, slots=True)
class RouteDecision:
    uniqueid: str
    tracked: bool
    tracking_number: str | None
    source: str | None
    channel: str | None
    forward: str
    ring_timeout: int
    record: bool
    recording_file: str
    consent_prompt: str
    consent_why: str
    whisper: str
    visit_id: str | None
    blocked: str = ""  # "" (ring), or the blocked caller's treatment: busy, hangup, dial
    goto: str = ""  # pass-through: "context,exten,priority" instead of Dial(forward)

    @property
    def recording_caller(self) -> str:
        """The file of the caller's direction, beside the mixed recording."""
        return direction_path(self.recording_file, CALLER) if self.record else ""

    @property
    def recording_business(self) -> str:
        """The file of the business's direction, beside the mixed recording."""
        return direction_path(self.recording_file, BUSINESS) if self.record else ""

    def variables(self) -> dict[str, str]:
        """The channel variables to set, every value a string (never None)."""
        return {
            v.UNIQUEID: self.uniqueid,
            v.TRACKED: "1" if self.tracked else "0",
            v.TRACKING_NUMBER: self.tracking_number or "",
            v.SOURCE: self.source or "",
            v.CHANNEL: self.channel or "",
            v.FORWARD: self.forward,
            v.RING_TIMEOUT: str(self.ring_timeout),
            v.RECORD: "1" if self.record else "0",
            v.RECORDING_FILE: self.recording_file if self.record else "",
            v.RECORDING_CALLER: self.recording_caller,
            v.RECORDING_BUSINESS: self.recording_business,
            v.CONSENT_PROMPT: self.consent_prompt if self.record else "",
            v.CONSENT_WHY: self.consent_why,
            v.WHISPER: self.whisper,
            v.VISIT_ID: self.visit_id or "",
            v.BLOCKED: self.blocked,
            v.GOTO: self.goto,
            v.ROUTE_STATUS: "ok",
        }


VisitLookup = Callable[[str, float], "str | None"]
_SAFE_FILE = re.compile(r"[^0-9A-Za-z_.+-]")
SOUND_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./-]*\Z")


GOTO_PREFIX = "goto:"
GOTO_RULE = "goto:CONTEXT[,EXTEN[,PRIORITY]] (letters, digits, _ - in the context; EXTEN as dialed by default)"
_GOTO = re.compile(
    r"goto:(?P<context>[A-Za-z0-9_-]+)(?:,(?P<exten>[+0-9A-Za-z*#_.-]+)(?:,(?P<priority>[0-9]+|[A-Za-z_][A-Za-z0-9_-]*))?)?\Z"
)
_DID_EXTEN = re.compile(r"[+0-9A-Za-z*#_.-]+\Z")


def is_pass_through(forward: str | None) -> bool:
    """A forward of the form goto:…: continue in the admin's own dialplan instead of a Dial."""
    return forward is not None and forward.startswith(GOTO_PREFIX)


def valid_pass_through(forward: str) -> bool:
    """The one syntax check of a pass-through forward (the CLI refuses anything else)."""
    return _GOTO.match(forward) is not None


def pass_through_target(forward: str, did: str) -> str:
    """Goto()'s arguments for a pass-through forward: the DID (as dialed) stays the extension
    unless one is named, so the admin's inbound routes still match it; "" if malformed."""
    m = _GOTO.match(forward)
    if m is None:
        return ""
    exten = m["exten"] or (did if _DID_EXTEN.match(did) else "")
    if not exten:
        return ""
    return f"{m['context']},{exten},{m['priority'] or 1}"


def goto_parts(goto: str) -> tuple[str, str, str]:
    """(context, exten, priority) of a decision's goto (pass_through_target's value), for a PBX
    that names the target its own way (FreeSWITCH: `transfer EXTEN XML CONTEXT`)."""
    context, exten, priority = goto.split(",")
    return context, exten, priority


def forward_dial_string(forward: str | None, settings: RouteSettings) -> str:
    """A forward target as a dial string: dial strings pass through, numbers use the template."""
    if not forward or is_pass_through(forward):
        return settings.default_forward
    dial = forward if "/" in forward else settings.dial_template.format(number=forward)
    return dial if dialstring.is_safe(dial) else settings.default_forward


def safe_sound(name: str | None) -> str:
    """A sound file name the dialplan can pass on as one argument, else nothing."""
    return name if name and SOUND_NAME.match(name) and ".." not in name else ""


def decide(
    did: str,
    uniqueid: str,
    at: float,
    catalog: Catalog,
    settings: RouteSettings,
    visit_for: VisitLookup | None = None,
    caller: str | None = None,
) -> RouteDecision:
    """Decide source, forward target, recording, consent prompt and whisper for one inbound call."""
    number = normalize_did(did, settings.default_region)
    tn = catalog.numbers.get(number) if number else None
    if tn is not None and tn.state != NumberState.ACTIVE:
        tn = None
    source = channel = visit_id = None
    if tn is not None:
        if tn.source:
            source = tn.source
        elif tn.pool and visit_for is not None:
            visit_id = visit_for(tn.number, at)
        src = catalog.sources.get(source) if source else None
        channel = src.channel if src else None
    record = bool(tn and tn.record)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(at))
    recording_file = _SAFE_FILE.sub("_", f"ctrack-{stamp}-{number or did}-{uniqueid}.{settings.recording_format}")
    forward = forward_dial_string(tn.forward if tn else None, settings)
    whisper = safe_sound(tn.whisper) if tn else ""
    blocked = _treatment(catalog.blocked, caller, settings)
    goto = pass_through_target(tn.forward, did) if tn and tn.forward and is_pass_through(tn.forward) else ""
    if blocked:
        # No ringing, recording or whisper for a blocked caller: only the treatment.
        record, whisper, goto = False, "", ""
        forward = forward_dial_string(settings.spam_treatment, settings) if blocked == DIAL else forward
    prompt, why = _consent_prompt(record, tn, caller, settings)
    return RouteDecision(
        uniqueid=uniqueid,
        tracked=tn is not None,
        tracking_number=number if tn is not None else None,
        source=source,
        channel=channel,
        forward=forward,
        ring_timeout=settings.ring_timeout,
        record=record,
        recording_file=recording_file,
        consent_prompt=prompt,
        consent_why=why,
        whisper=whisper,
        visit_id=visit_id,
        blocked=blocked,
        goto=goto,
    )


@lru_cache(maxsize=8192)
def _caller_e164(caller: str | None, region: str) -> str | None:
    """normalize_caller, cached: a repeat caller (a robocaller's burst above all) costs one parse."""
    return normalize_caller(caller, region)


def _treatment(blocked: BlockList, caller: str | None, settings: RouteSettings) -> str:
    """How the dialplan treats this caller: "" (ring) unless the block list holds them."""
    if not blocked or blocked.match(_caller_e164(caller, settings.default_region)) is None:
        return ""
    treatment = settings.spam_treatment
    return treatment if treatment in (BUSY, HANGUP) else DIAL


def _consent_prompt(
    record: bool, tn: TrackingNumber | None, caller: str | None, settings: RouteSettings
) -> tuple[str, str]:
    """(sound to play or "", why): only a recorded call with a prompt configured can announce."""
    if not record:
        return "", "not recorded"
    sound = safe_sound(settings.consent_prompt)
    if not sound:
        return "", "no consent_prompt"
    consent = decide_consent(
        settings.consent, normalize_caller(caller, settings.default_region), tn.consent if tn else None
    )
    return (sound if consent.announce else ""), consent.why
