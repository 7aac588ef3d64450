"""FreeSWITCH channel events -> completed call records, with the same meaning as on Asterisk.

A call is keyed by the UUID of its inbound leg, the one the rendered dialplan marks with
CTRACK_DID before handing it to ctrack. That leg's CHANNEL_HANGUP_COMPLETE carries every
channel variable and timestamp, so it alone can make the record; the earlier events (CREATE,
BRIDGE, RECORD_START/STOP) keep calls in progress visible and fill in what a hangup event
might lack, such as the path of a recording that really started. The same function turns a
mod_cdr_csv row into a record, so calls missed while the listener was away mean the same.

'Answered' means the business line picked up (the leg was bridged), not that the inbound
leg was answered: record_session and a consent prompt pre-answer it with early media.
Only an answered call lists a recording (see _answered_audio).

A pass-through number (CTRACK_GOTO set) leaves ctrack's extension by `transfer`: the leg keeps
its UUID and every variable, and whatever the admin's dialplan does next (an IVR answering, a
bridge to a ring group or a queue member) lands on the same leg, so it still makes one record.
Bridged there is answered, as anywhere; answered by the PBX but never bridged (an IVR or an
announcement, the caller left before reaching a person) is pbx_answered, as on Asterisk.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

from ctrack.core import variables as v
from ctrack.core.model import CallRecord, Disposition
from ctrack.core.phone import normalize_caller, normalize_did
from ctrack.privacy.consent import logged_consent

# The events the state machine reads; an inbound listener subscribes to exactly these.
EVENTS = ("CHANNEL_CREATE", "CHANNEL_BRIDGE", "RECORD_START", "RECORD_STOP", "CHANNEL_HANGUP_COMPLETE")

TRACKED_MARK = "variable_" + v.DID

# First match wins, DIALSTATUS before originate_disposition before the hangup cause.
_OUTCOMES = {
    "CANCEL": Disposition.ABANDONED,
    "ORIGINATOR_CANCEL": Disposition.ABANDONED,
    "BUSY": Disposition.BUSY,
    "USER_BUSY": Disposition.BUSY,
    "NOANSWER": Disposition.MISSED,
    "NO_ANSWER": Disposition.MISSED,
    "NO_USER_RESPONSE": Disposition.MISSED,
    "ALLOTTED_TIMEOUT": Disposition.MISSED,
    "PROGRESS_TIMEOUT": Disposition.MISSED,
}


def classify(
    *,
    bridged: bool,
    dialstatus: str | None,
    originate: str | None,
    cause: str | None,
    last_app: str | None,
    caller_hung_up: bool,
    pbx_answered: bool = False,
) -> Disposition:
    """The disposition of a finished inbound leg from what FreeSWITCH recorded about it.

    pbx_answered: the leg passed through to the admin's dialplan and was answered there
    (answer_uepoch); only the ring and dial outcomes above it come first, as on Asterisk.
    """
    if last_app == "voicemail" and not bridged:
        return Disposition.VOICEMAIL
    if bridged or dialstatus == "SUCCESS":
        return Disposition.ANSWERED
    for code in (dialstatus, originate, cause):
        if code in _OUTCOMES:
            return _OUTCOMES[code]
    if pbx_answered:
        return Disposition.PBX_ANSWERED
    if not dialstatus and not originate and caller_hung_up:
        return Disposition.ABANDONED  # the caller hung up before the business line was rung
    return Disposition.FAILED


def _usec(value: str | None) -> float | None:
    """FreeSWITCH microsecond epochs; '0' and '' mean 'never'."""
    if not value or not value.isdigit() or value == "0":
        return None
    return int(value) / 1_000_000


def _first_time(event: Mapping[str, str], *keys: str) -> float | None:
    for key in keys:
        at = _usec(event.get(key))
        if at is not None:
            return at
    return None


def _text(event: Mapping[str, str], key: str) -> str | None:
    value = event.get(key)
    return value or None


def completed_call(
    event: Mapping[str, str],
    default_region: str | None = "US",
    recording: str | None = None,
    bridged_at: float | None = None,
) -> CallRecord | None:
    """The record of a tracked leg from its hangup-complete variables; None for other legs.

    `recording` and `bridged_at` are what earlier events showed (RECORD_START, CHANNEL_BRIDGE).
    """
    uniqueid = event.get("Unique-ID")
    did = event.get(TRACKED_MARK)
    if not uniqueid or not did:
        return None
    started = _first_time(event, "variable_start_uepoch", "Caller-Channel-Created-Time", "Event-Date-Timestamp")
    ended = _first_time(event, "variable_end_uepoch", "Caller-Channel-Hangup-Time", "Event-Date-Timestamp")
    bridge = _first_time(event, "variable_bridge_uepoch", "Caller-Channel-Bridged-Time") or bridged_at
    answered = _first_time(event, "variable_answer_uepoch", "Caller-Channel-Answered-Time")
    cause = _text(event, "variable_hangup_cause") or _text(event, "Hangup-Cause")
    who = event.get("variable_sip_hangup_disposition")  # recv_bye / recv_cancel: the caller
    disposition = classify(
        bridged=bridge is not None,
        dialstatus=_text(event, "variable_DIALSTATUS"),
        originate=_text(event, "variable_originate_disposition"),
        cause=cause,
        last_app=_text(event, "variable_last_app"),
        caller_hung_up=who.startswith("recv_") if who else cause == "NORMAL_CLEARING",
        # Only after a pass-through: on ctrack's own route the prompt and record_session only
        # pre-answer, so answer_uepoch comes from the bridge (or a blocked caller's treatment).
        pbx_answered=answered is not None and bool(event.get("variable_" + v.GOTO)),
    )
    answered_at = None
    if disposition is Disposition.ANSWERED:
        answered_at = bridge or answered or ended
    elif disposition is Disposition.VOICEMAIL:
        answered_at = answered  # when voicemail picked up, as on Asterisk
    recording = _answered_audio(event, answered_at, recording)
    q850 = event.get("variable_hangup_cause_q850", "")
    return CallRecord(
        uniqueid=uniqueid,
        tracking_number=(_text(event, "variable_" + v.TRACKING_NUMBER) or normalize_did(did, default_region) or did),
        caller_number=normalize_caller(event.get("Caller-Caller-ID-Number"), default_region),
        caller_name=_text(event, "Caller-Caller-ID-Name"),
        source=_text(event, "variable_" + v.SOURCE),
        channel=_text(event, "variable_" + v.CHANNEL),
        started_at=started,
        answered_at=answered_at,
        ended_at=ended,
        disposition=disposition,
        hangup_cause=int(q850) if q850.isdigit() else None,
        recording=recording,
        visit_id=_text(event, "variable_" + v.VISIT_ID),
        pbx="freeswitch",
        extra=logged_consent(
            event.get("variable_" + v.RECORD),
            event.get("variable_" + v.CONSENT_PROMPT),
            event.get("variable_" + v.CONSENT_WHY),
        ),
    )


def _answered_audio(event: Mapping[str, str], answered_at: float | None, seen: str | None) -> str | None:
    """The recording worth listing: only of an answered call, and only if it holds audio.

    record_session starts before the bridge, so a missed or busy call leaves a file of
    ringing or early media (RECORD_START fires all the same). The route sets
    RECORD_ANSWER_REQ=true, so FreeSWITCH writes audio only from the answer on and
    record_ms (when the event carries it) is the audio after the answer.
    """
    if answered_at is None:
        return None
    record_ms = _text(event, "variable_record_ms")
    if record_ms is not None and not (record_ms.isdigit() and int(record_ms) > 0):
        return None
    if seen is None and record_ms is not None:
        return _text(event, "variable_" + v.RECORDING_FILE)
    return seen


# What completed_call reads: a tracked leg in progress keeps only these (events are ~10 KB).
_RECORD_KEYS = frozenset(
    {
        "Unique-ID",
        "Event-Date-Timestamp",
        "Caller-Caller-ID-Number",
        "Caller-Caller-ID-Name",
        "Caller-Channel-Created-Time",
        "Caller-Channel-Answered-Time",
        "Caller-Channel-Bridged-Time",
        "Caller-Channel-Hangup-Time",
        "Hangup-Cause",
        "variable_start_uepoch",
        "variable_answer_uepoch",
        "variable_bridge_uepoch",
        "variable_end_uepoch",
        "variable_hangup_cause",
        "variable_hangup_cause_q850",
        "variable_DIALSTATUS",
        "variable_originate_disposition",
        "variable_last_app",
        "variable_record_ms",
        "variable_sip_hangup_disposition",
    }
    | {"variable_" + name for name in v.ROUTE_VARIABLES + (v.DID,)}
)


@dataclass(slots=True)
class _Leg:
    seen_at: float
    bridged_at: float | None = None
    recording: str | None = None
    known: dict[str, str] | None = None  # the latest event that showed the leg is tracked


class CallState:
    """Inbound legs between their first event and CHANNEL_HANGUP_COMPLETE, bounded in number.

    Outbound legs (the B legs the bridge creates) are ignored: CHANNEL_BRIDGE fires on the
    inbound leg, with the B leg as Other-Leg-*. A leg whose hangup never arrives (the
    listener was away) is given up by expire(), or silently when the table is full; the CDR
    backstop has its call.
    """

    def __init__(self, default_region: str | None = "US", max_calls: int = 10_000, max_age: float = 12 * 3600) -> None:
        self.default_region = default_region
        self.max_calls = max_calls
        self.max_age = max_age
        self.dropped = 0  # legs dropped without a hangup (table full or expired)
        self._legs: OrderedDict[str, _Leg] = OrderedDict()

    def __len__(self) -> int:
        return len(self._legs)

    def feed(self, event: Mapping[str, str]) -> CallRecord | None:
        """Take one event; return the call record when a tracked call has completed."""
        name = event.get("Event-Name")
        uniqueid = event.get("Unique-ID")
        if name not in EVENTS or not uniqueid or event.get("Call-Direction") != "inbound":
            return None
        at = _usec(event.get("Event-Date-Timestamp")) or 0.0
        if name == "CHANNEL_HANGUP_COMPLETE":
            leg = self._legs.pop(uniqueid, None)
            return completed_call(
                event,
                self.default_region,
                recording=leg.recording if leg else None,
                bridged_at=leg.bridged_at if leg else None,
            )
        leg = self._legs.get(uniqueid)
        if leg is None:
            leg = self._legs[uniqueid] = _Leg(at)
            if len(self._legs) > self.max_calls:
                self._legs.popitem(last=False)
                self.dropped += 1
        if event.get(TRACKED_MARK):
            leg.known = {k: val for k, val in event.items() if k in _RECORD_KEYS}
        if name == "CHANNEL_BRIDGE" and leg.bridged_at is None:
            leg.bridged_at = at or None
        elif name in ("RECORD_START", "RECORD_STOP") and event.get("Record-File-Path"):
            leg.recording = event["Record-File-Path"]
        return None

    def expire(self, now: float) -> list[CallRecord]:
        """Give up on legs first seen more than max_age before `now`.

        As on Asterisk, a tracked call is still returned, with ended_at None,
        extra["expired"] = "1" and the disposition its events support; others are forgotten.
        """
        old = [uid for uid, leg in self._legs.items() if leg.seen_at < now - self.max_age]
        records = []
        for uid in old:
            leg = self._legs.pop(uid)
            if leg.known is not None:
                record = completed_call(leg.known, self.default_region, leg.recording, leg.bridged_at)
                if record is not None:
                    record.ended_at = None
                    record.extra["expired"] = "1"
                    records.append(record)
        self.dropped += len(old)
        return records
