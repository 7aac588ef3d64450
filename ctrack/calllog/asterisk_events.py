"""The call state machine: AMI events in, one CallRecord per completed inbound call out.

Pure and incremental, on the hot path of the AMI listener: an event it does not use costs
one dict lookup. A call is every channel sharing a Linkedid; state is kept per Linkedid
from the moment its first channel (Uniqueid == Linkedid) is created.

The inbound leg (the channel the record is about) is the first channel of the call that
ran ctrack's dialplan, i.e. carries a ctrack variable (CTRACK_INBOUND=1 or CTRACK_DID from
the dialplan, CTRACK_UNIQUEID and the rest from the route). Until one does, it is the
call's first channel if that was created in one of `inbound_contexts`; so a call is logged
even when the route was down. A call without an inbound leg when its first channel hangs
up is not ours (internal, outbound) and is forgotten.

Disposition, decided when the inbound leg hangs up (docs/freepbx.md, "Dispositions"):
  voicemail     the VoiceMail application ran in the call (on any of its channels, e.g. a
                ring group's Local channel) before (or without) a person answered;
                answered_at is then when voicemail picked up, talk_seconds 0, and
                voicemail_seconds the time from then until the message was saved
                (VM_MESSAGEFILE), greeting included; none when no message was left
  answered      a person: the inbound leg's Dial (a phone, a ring group, a queue member)
                got ANSWER, or it was bridged with another channel; answered_by is the
                last one its Dial reached (after a blind transfer: the new person)
  abandoned     the caller hung up while a Dial was ringing (DialEnd CANCEL), while
                waiting in a Queue (queue_wait_seconds: how long), or (HangupRequest on
                the inbound leg) before any Dial
  missed        last DialEnd NOANSWER, or a Queue that timed out
  busy          last DialEnd BUSY
  pbx_answered  the PBX itself answered (an IVR, an announcement: Newstate Up on the
                inbound leg) and nobody was rung before the call ended
  failed        CHANUNAVAIL / CONGESTION, or no Dial at all and the PBX ended the call;
                without Dial events the Dial CDR's disposition, then the hangup cause
                (17 busy, 18/19 missed) decide
Ring seconds run until a person (or voicemail) answered, else to the end; talk seconds
are with a person only (CallRecord.talk_seconds).
The inbound leg stays the caller's channel through Local channels, queue member
channels and transfers (a blind transfer sends it to a new Dial; an attended one moves
it into another bridge), so one call is one record whoever finally talked.
Recording: MIXMONITOR_FILENAME (the first announced in the call), else CTRACK_RECORDING_FILE
when CTRACK_RECORD=1. It is not checked here: MixMonitor closes the file after the hangup,
so the adapter checks it later (ctrack.calllog.recordings.usable_recording) and drops a header-only WAV.
Asterisk C-escapes caller names and VarSet values in AMI; they are unescaped here.

PBX restart: Asterisk killed (crash, SIGKILL, power loss) sends no Hangup and writes no CDR
for the calls it had up. FullyBooted, which Asterisk sends at every AMI login, carries its
Uptime; a start time (event time - Uptime) more than RESTART_TOLERANCE from the one seen
before means a new process, and every call still open is closed then: ended when the AMI
link to the old process was lost (connection_lost()), else at its last known event,
answered or voicemail if it got that far, else failed; extra["ended_by"] = "pbx_restart".

ctrack restart: the adapter persists each open inbound call (state(), for the Linkedids
take_touched() names) and restore()s them at start; close_unlisted() then closes the ones
Asterisk no longer lists, the same way, with extra["ended_by"] = "ctrack_offline".

Expiry: a call whose inbound Hangup never arrives (AMI link lost, events filtered) is
emitted by expire() once it is older than `max_call_seconds`, with ended_at=None,
extra["expired"]="1" and the disposition its events support so far; calls beyond
`max_calls` are expired oldest first. The adapter may store them as they are or
reconcile them against the CDR backstop.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ctrack.core import variables as v
from ctrack.core.model import CallRecord, Disposition
from ctrack.core.phone import normalize_caller, normalize_did
from ctrack.privacy.consent import logged_consent

MIXMONITOR_FILENAME = "MIXMONITOR_FILENAME"
VM_MESSAGEFILE = "VM_MESSAGEFILE"  # VoiceMail sets it once the caller's message is saved

Event = Mapping[str, Any]

_WATCHED = frozenset(v.ALL) | {MIXMONITOR_FILENAME, VM_MESSAGEFILE}
_CLAIMS = frozenset(v.ALL) - {v.DEFAULT_FORWARD, v.DEFAULT_RING_TIMEOUT, v.AGI_URL}
_DIAL_APPS = frozenset({"Dial", "Queue"})
_NONE: tuple[CallRecord, ...] = ()
PBX_RESTART = "pbx_restart"
RESTART_TOLERANCE = 3.0  # seconds: Uptime is whole seconds, and the event may wait in a socket

_BY_DIAL_STATUS = {
    "NOANSWER": Disposition.MISSED,
    "BUSY": Disposition.BUSY,
    "CANCEL": Disposition.ABANDONED,
}
_BY_CDR = {
    "ANSWERED": Disposition.ANSWERED,
    "NO ANSWER": Disposition.MISSED,
    "BUSY": Disposition.BUSY,
    "FAILED": Disposition.FAILED,
    "CONGESTION": Disposition.FAILED,
}
_UP = "6"  # AST_STATE_UP in Newstate's ChannelState
_CHANNEL_SUFFIX = re.compile(r"-[0-9a-f]{8}(;[12])?\Z")
_BY_CAUSE = {"17": Disposition.BUSY, "18": Disposition.MISSED, "19": Disposition.MISSED}
_C_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_ESCAPE = re.compile(r"\\(.?)", re.S)
_QUOTED_PAIR = re.compile(r"\\(.)", re.S)


def unescape(value: str) -> str:
    """Undo ast_escape_c(): Asterisk 22 escapes \\ " ' ? and control characters in AMI caller
    names and VarSet values (seen on the test PBX: O'Brien arrives as O\\'Brien)."""
    if "\\" not in value:
        return value
    return _ESCAPE.sub(lambda m: _C_ESCAPES.get(m[1], m[1] or "\\"), value)


def endpoint_of(channel: str | None) -> str | None:
    """PJSIP/qa2-0000001a -> PJSIP/qa2: who a channel reaches, without its instance suffix."""
    return _CHANNEL_SUFFIX.sub("", channel) if channel else None


def is_anonymous(caller_number: str | None) -> bool:
    """The caller withheld the number (SIP "anonymous"), unlike a call with no caller id."""
    return caller_number is not None and caller_number.lower() == "anonymous"


def display_name(name: str) -> str:
    """A caller name as the caller set it: chan_pjsip keeps the SIP display name's
    quoted-pairs (Bob \\"The Builder\\" O\\\\Brien, seen on the test PBX); undo them."""
    return _QUOTED_PAIR.sub(r"\1", name) if "\\" in name else name


class _Call:
    __slots__ = (
        "answered_at",
        "answered_by",
        "bridge",
        "caller_hung_up",
        "caller_name",
        "caller_num",
        "cdr",
        "claimed",
        "created",
        "dial_status",
        "dialing",
        "exten",
        "inbound",
        "linkedid",
        "pbx_answered_at",
        "queued_at",
        "started_at",
        "vars",
        "voicemail_at",
        "voicemail_saved_at",
    )

    def __init__(self, linkedid: str, created: float) -> None:
        self.linkedid = linkedid
        self.created = created
        self.inbound: str | None = None
        self.claimed = False  # inbound leg chosen by a ctrack variable, final
        self.started_at: float | None = None
        self.caller_num: str | None = None
        self.caller_name: str | None = None
        self.exten: str | None = None
        self.vars: dict[str, str] = {}
        self.dialing = 0  # Dials of the inbound leg still ringing
        self.dial_status = ""  # the inbound leg's last DialEnd status
        self.answered_at: float | None = None
        self.voicemail_at: float | None = None
        self.voicemail_saved_at: float | None = None  # VM_MESSAGEFILE: a message was left
        self.pbx_answered_at: float | None = None  # the inbound leg went Up (IVR, Queue, VoiceMail...)
        self.queued_at: float | None = None  # the inbound leg entered Queue()
        self.answered_by: str | None = None  # endpoint the inbound leg's last answered Dial reached
        self.bridge: str | None = None  # bridge the inbound leg is in
        self.caller_hung_up = False
        self.cdr: tuple[str, str, str] | None = None  # (Disposition, BillableSeconds, Duration) of the Dial CDR


CDR_WAIT_SECONDS = 5.0  # how long a hung-up call waits for its Dial CDR without event timestamps


class CallTracker:
    """Feed AMI events to process(); it returns the calls they complete."""

    def __init__(
        self,
        *,
        inbound_contexts: Iterable[str] = (),
        default_region: str | None = "US",
        max_call_seconds: float = 6 * 3600,
        max_calls: int = 50_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._contexts = frozenset(inbound_contexts)
        self._region = default_region
        self._max_age = max_call_seconds
        self._max_calls = max_calls
        self._clock = clock
        self._calls: dict[str, _Call] = {}  # by Linkedid, oldest first
        self._by_inbound: dict[str, _Call] = {}  # by the inbound leg's Uniqueid (CDR events)
        self._pbx_started: float | None = None  # start time of the Asterisk process we follow
        self._lost_at: float | None = None  # the AMI link to it was lost then
        self._touched: set[str] = set()  # Linkedids of events handled since take_touched()
        # Hung up without event timestamps, waiting (until the deadline) for the Dial CDR that
        # carries Asterisk's own durations: inbound Uniqueid -> (call, hangup heard at, cause, deadline)
        self._awaiting_cdr: dict[str, tuple[_Call, float, str | None, float]] = {}
        self._handlers: dict[str, Callable[[Event], tuple[CallRecord, ...]]] = {
            "Newchannel": self._newchannel,
            "VarSet": self._varset,
            "DialBegin": self._dialbegin,
            "DialEnd": self._dialend,
            "BridgeEnter": self._bridgeenter,
            "Newexten": self._newexten,
            "Newstate": self._newstate,
            "HangupRequest": self._hanguprequest,
            "Hangup": self._hangup,
            "Cdr": self._cdr,
            "FullyBooted": self._fullybooted,
        }

    def __len__(self) -> int:
        """Calls in progress (including ones not known to be inbound yet)."""
        return len(self._calls)

    def process(self, event: Event) -> tuple[CallRecord, ...]:
        handler = self._handlers.get(event.get("Event", ""))
        if handler is None:
            records = _NONE
        else:
            records = handler(event)
            linkedid = event.get("Linkedid")
            if linkedid:
                self._touched.add(linkedid)
        if self._awaiting_cdr:
            records += self._cdr_overdue(self._clock())
        return records

    def expire(self, now: float | None = None) -> list[CallRecord]:
        """Forget calls older than max_call_seconds; inbound ones come back as expired records."""
        cutoff = (self._clock() if now is None else now) - self._max_age
        old = []
        for linkedid, call in self._calls.items():
            if call.created > cutoff:
                break
            old.append(linkedid)
        return [record for linkedid in old for record in self._expire(linkedid)] + list(
            self._cdr_overdue(cutoff + self._max_age)
        )

    def connection_lost(self, at: float) -> None:
        """The AMI link dropped at `at`: the end of its open calls, should the PBX come back new."""
        self._lost_at = at

    # -- what outlives a ctrack restart (persisted by the adapter) ----------------------

    def take_touched(self) -> set[str]:
        """Linkedids whose events were handled since the last take (their state may differ)."""
        touched, self._touched = self._touched, set()
        return touched

    def open_inbound(self) -> dict[str, str]:
        """Linkedid -> inbound Uniqueid of every inbound call not yet emitted."""
        calls = {lid: call.inbound for lid, call in self._calls.items() if call.inbound is not None}
        calls.update((call.linkedid, uid) for uid, (call, _, _, _) in self._awaiting_cdr.items())
        return calls

    def state(self, linkedid: str) -> dict[str, Any] | None:
        """All the tracker knows of an open inbound call, JSON-ready; restore() takes it back."""
        call = self._calls.get(linkedid)
        if call is None:
            call = next((c for c, _, _, _ in self._awaiting_cdr.values() if c.linkedid == linkedid), None)
        if call is None or call.inbound is None:
            return None
        return {name: getattr(call, name) for name in _Call.__slots__}

    def restore(self, states: Iterable[Mapping[str, Any]]) -> None:
        """Take back calls a previous ctrack process had open (oldest first, for expiry)."""
        for state in sorted(states, key=lambda s: s["created"]):
            call = _Call(state["linkedid"], state["created"])
            for name in _Call.__slots__:
                if name in state:
                    value = state[name]
                    setattr(call, name, tuple(value) if isinstance(value, list) else value)
            if call.inbound is None or call.linkedid in self._calls:
                continue
            self._calls[call.linkedid] = call
            self._by_inbound[call.inbound] = call

    def close_unlisted(
        self, listed: set[str], candidates: Mapping[str, str], seen: Mapping[str, float], ended_by: str
    ) -> list[CallRecord]:
        """Close the candidate calls (Linkedid -> inbound Uniqueid) still open whose inbound
        channel Asterisk no longer lists: ended when last seen up (`seen`), else at their
        last known event."""
        records = []
        for linkedid, uid in candidates.items():
            call = self._calls.get(linkedid)
            if call is None or call.inbound != uid or uid in listed:
                continue
            self._forget(call)
            records.append(self._closed(call, seen.get(linkedid), ended_by))
        return records

    # -- event handlers ---------------------------------------------------------------

    def _fullybooted(self, ev: Event) -> tuple[CallRecord, ...]:
        uptime = ev.get("Uptime")
        if not uptime or not uptime.isdigit():
            return _NONE
        started = self._ts(ev) - int(uptime)
        previous, self._pbx_started = self._pbx_started, started
        lost_at, self._lost_at = self._lost_at, None
        if previous is None or abs(started - previous) <= RESTART_TOLERANCE:
            return _NONE
        return self._pbx_restarted(lost_at)

    def _pbx_restarted(self, lost_at: float | None) -> tuple[CallRecord, ...]:
        """Close every open call of the previous Asterisk process, with what is known."""
        calls = list(self._calls.values())
        self._calls.clear()
        self._by_inbound.clear()
        return tuple(self._closed(call, lost_at, PBX_RESTART) for call in calls if call.inbound is not None)

    def _closed(self, call: _Call, last_up: float | None, ended_by: str) -> CallRecord:
        """A call whose end nobody heard: ended at `last_up` or its last known event."""
        assert call.inbound is not None
        known = [t for t in (call.started_at, call.answered_at, call.voicemail_at, last_up) if t is not None]
        call.dialing = 0  # a ring cut by the crash: nobody hung up, the call failed
        record = self._record(call, call.inbound, max(known), None)
        record.extra["ended_by"] = ended_by
        return record

    def _newchannel(self, ev: Event) -> tuple[CallRecord, ...]:
        uid = ev.get("Uniqueid")
        if not uid or ev.get("Linkedid", uid) != uid or uid in self._calls:
            return _NONE
        call = _Call(uid, self._ts(ev))
        call.started_at = call.created
        call.caller_num = ev.get("CallerIDNum")
        call.caller_name = ev.get("CallerIDName")
        call.exten = ev.get("Exten")
        self._calls[uid] = call
        if ev.get("Context") in self._contexts:
            self._set_inbound(call, uid, ev)
        if len(self._calls) > self._max_calls:
            return self._expire(next(iter(self._calls)))
        return _NONE

    def _varset(self, ev: Event) -> tuple[CallRecord, ...]:
        name = ev.get("Variable")
        if not name:
            return _NONE
        if name[0] == "_":
            name = name.lstrip("_")  # inheritable: __CTRACK_DID
        if name not in _WATCHED:
            return _NONE
        call = self._calls.get(ev.get("Linkedid", ""))
        if call is None:
            return _NONE
        value = ev.get("Value") or ""
        if "\\" in value:
            value = unescape(value)
        if name == MIXMONITOR_FILENAME:
            call.vars.setdefault(name, value)
            return _NONE
        if name == VM_MESSAGEFILE:
            if call.voicemail_saved_at is None:
                call.voicemail_saved_at = self._ts(ev)
            return _NONE
        call.vars[name] = value
        if not call.claimed and name in _CLAIMS and (name != v.INBOUND or value == "1"):
            call.claimed = True
            uid = ev.get("Uniqueid")
            if uid and uid != call.inbound:
                self._set_inbound(call, uid, ev)
        return _NONE

    def _dialbegin(self, ev: Event) -> tuple[CallRecord, ...]:
        call = self._inbound_call(ev)
        if call is not None:
            call.dialing += 1
        return _NONE

    def _dialend(self, ev: Event) -> tuple[CallRecord, ...]:
        call = self._inbound_call(ev)
        if call is not None:
            call.dialing = max(0, call.dialing - 1)
            call.dial_status = ev.get("DialStatus") or ""
            if call.dial_status == "ANSWER":
                call.answered_by = endpoint_of(ev.get("DestChannel"))
                if call.answered_at is None:
                    call.answered_at = self._ts(ev)
        return _NONE

    def _bridgeenter(self, ev: Event) -> tuple[CallRecord, ...]:
        call = self._calls.get(ev.get("Linkedid", ""))
        if call is None or call.inbound is None or call.answered_at is not None:
            return _NONE
        bridge = ev.get("BridgeUniqueid")
        if ev.get("Uniqueid") == call.inbound:
            call.bridge = bridge
        elif bridge is None or bridge != call.bridge:
            return _NONE
        count = ev.get("BridgeNumChannels")
        if count and count.isdigit() and int(count) >= 2:
            call.answered_at = self._ts(ev)
        return _NONE

    def _newexten(self, ev: Event) -> tuple[CallRecord, ...]:
        app = ev.get("Application")
        if not app or app[0] not in "VvQq":
            return _NONE
        app = app.lower()
        if app == "voicemail":
            call = self._calls.get(ev.get("Linkedid", ""))
            if call is not None and call.voicemail_at is None:
                call.voicemail_at = self._ts(ev)
        elif app == "queue":
            call = self._inbound_call(ev)
            if call is not None and call.queued_at is None:
                call.queued_at = self._ts(ev)
        return _NONE

    def _newstate(self, ev: Event) -> tuple[CallRecord, ...]:
        """The inbound leg went Up: answered by the PBX itself unless a Dial brought it a person."""
        if ev.get("ChannelState") != _UP:
            return _NONE
        call = self._inbound_call(ev)
        if call is not None and call.pbx_answered_at is None:
            call.pbx_answered_at = self._ts(ev)
        return _NONE

    def _hanguprequest(self, ev: Event) -> tuple[CallRecord, ...]:
        """HangupRequest (not SoftHangupRequest) on the inbound leg: the caller's side hung up."""
        call = self._inbound_call(ev)
        if call is not None:
            call.caller_hung_up = True
        return _NONE

    def _hangup(self, ev: Event) -> tuple[CallRecord, ...]:
        call = self._calls.get(ev.get("Linkedid", ""))
        if call is None:
            return _NONE
        uid = ev.get("Uniqueid")
        if uid is not None and uid == call.inbound:
            self._forget(call)
            if "Timestamp" not in ev and call.dial_status:  # timestampevents = no: times are arrivals
                # The Dial CDR (Asterisk's own durations) comes just before or just after this.
                if call.cdr is None:
                    self._awaiting_cdr[uid] = (call, self._ts(ev), ev.get("Cause"), self._clock() + CDR_WAIT_SECONDS)
                    return _NONE
                return (self._record(call, uid, self._times_from_cdr(call) or self._ts(ev), ev.get("Cause")),)
            return (self._record(call, uid, self._ts(ev), ev.get("Cause")),)
        if uid == call.linkedid and call.inbound is None:
            self._forget(call)
        return _NONE

    def _cdr(self, ev: Event) -> tuple[CallRecord, ...]:
        uid = ev.get("UniqueID") or ""
        awaiting = self._awaiting_cdr.get(uid)
        call = awaiting[0] if awaiting is not None else self._by_inbound.get(uid)
        if call is None or ev.get("LastApplication") not in _DIAL_APPS:
            return _NONE
        call.cdr = (ev.get("Disposition") or "", ev.get("BillableSeconds") or "", ev.get("Duration") or "")
        if awaiting is None:
            return _NONE
        del self._awaiting_cdr[uid]
        _, heard_at, cause, _ = awaiting
        return (self._record(call, uid, self._times_from_cdr(call) or heard_at, cause),)

    def _cdr_overdue(self, now: float) -> tuple[CallRecord, ...]:
        """Calls whose Dial CDR did not come in time (cdr_manager off): times as heard."""
        overdue = [uid for uid, (_, _, _, deadline) in self._awaiting_cdr.items() if deadline <= now]
        records = []
        for uid in overdue:
            call, heard_at, cause, _ = self._awaiting_cdr.pop(uid)
            records.append(self._record(call, uid, heard_at, cause))
        return tuple(records)

    # -- helpers ----------------------------------------------------------------------

    def _times_from_cdr(self, call: _Call) -> float | None:
        """Without event timestamps, an event's time is when ctrack heard it, which may be
        late (a busy or paused daemon). The Dial CDR, sent before the inbound leg's Hangup,
        carries Asterisk's own durations: the call ended Duration s after it started, and
        was answered BillableSeconds before its end."""
        if call.cdr is None or call.started_at is None or not (call.cdr[1].isdigit() and call.cdr[2].isdigit()):
            return None
        ended_at = call.started_at + int(call.cdr[2])
        if call.answered_at is not None:
            call.answered_at = ended_at - int(call.cdr[1])
        return ended_at

    def _ts(self, ev: Event) -> float:
        try:
            return float(ev["Timestamp"])
        except (KeyError, TypeError, ValueError):
            return self._clock()

    def _inbound_call(self, ev: Event) -> _Call | None:
        call = self._calls.get(ev.get("Linkedid", ""))
        if call is None or call.inbound is None or ev.get("Uniqueid") != call.inbound:
            return None
        return call

    def _set_inbound(self, call: _Call, uid: str, ev: Event) -> None:
        """Make `uid` the inbound leg; a leg other than the first is described by `ev`."""
        if call.inbound is not None:
            self._by_inbound.pop(call.inbound, None)
        call.inbound = uid
        self._by_inbound[uid] = call
        if uid != call.linkedid:
            call.started_at = self._ts(ev)
            call.caller_num = ev.get("CallerIDNum")
            call.caller_name = ev.get("CallerIDName")
            call.exten = ev.get("Exten")

    def _forget(self, call: _Call) -> None:
        self._calls.pop(call.linkedid, None)
        if call.inbound is not None:
            self._by_inbound.pop(call.inbound, None)

    def _expire(self, linkedid: str) -> tuple[CallRecord, ...]:
        call = self._calls[linkedid]
        self._forget(call)
        if call.inbound is None:
            return _NONE
        record = self._record(call, call.inbound, None, None)
        record.extra["expired"] = "1"
        return (record,)

    def _record(self, call: _Call, uid: str, ended_at: float | None, cause: str | None) -> CallRecord:
        vars_ = call.vars
        extra: dict[str, str] = {}
        if call.linkedid != uid:
            extra["linkedid"] = call.linkedid
        if call.dial_status:
            extra["dial_status"] = call.dial_status
        if is_anonymous(call.caller_num):
            extra["caller_anonymous"] = "1"
        if v.ROUTE_STATUS in vars_:
            extra["route"] = vars_[v.ROUTE_STATUS]
        extra.update(logged_consent(vars_.get(v.RECORD), vars_.get(v.CONSENT_PROMPT), vars_.get(v.CONSENT_WHY)))
        answered_at = call.answered_at
        if call.cdr is not None:
            extra["cdr_disposition"] = call.cdr[0]
            if (
                answered_at is None
                and not call.dial_status
                and call.cdr[0] == "ANSWERED"
                and call.queued_at is None  # a Queue answers the caller itself: no person in that
                and ended_at is not None
                and call.cdr[1].isdigit()
            ):
                answered_at = ended_at - int(call.cdr[1])  # Dial events missing: trust the CDR
        disposition = _disposition(call, answered_at, cause)
        if disposition is Disposition.VOICEMAIL:
            if answered_at is None:
                answered_at = call.voicemail_at  # VoiceMail answered the inbound leg itself
            if call.voicemail_saved_at is not None and call.voicemail_at is not None:
                extra["voicemail_seconds"] = str(max(0, round(call.voicemail_saved_at - call.voicemail_at)))
        elif disposition is Disposition.ANSWERED and call.answered_by:
            extra["answered_by"] = call.answered_by
        if call.queued_at is not None:
            waited_until = answered_at if answered_at is not None and answered_at >= call.queued_at else ended_at
            if waited_until is not None:
                extra["queue_wait_seconds"] = str(max(0, round(waited_until - call.queued_at)))
        recording = vars_.get(MIXMONITOR_FILENAME) or (
            vars_.get(v.RECORDING_FILE) if vars_.get(v.RECORD) == "1" else None
        )
        return CallRecord(
            uniqueid=uid,
            tracking_number=_number(vars_.get(v.TRACKING_NUMBER) or vars_.get(v.DID) or call.exten, self._region),
            caller_number=normalize_caller(call.caller_num, self._region),
            caller_name=display_name(unescape(call.caller_name))
            if call.caller_name and call.caller_name != "<unknown>"
            else None,
            source=vars_.get(v.SOURCE) or None,
            channel=vars_.get(v.CHANNEL) or None,
            started_at=call.started_at,
            answered_at=answered_at,
            ended_at=ended_at,
            disposition=disposition,
            hangup_cause=int(cause) if cause and cause.isdigit() else None,
            recording=recording or None,
            visit_id=vars_.get(v.VISIT_ID) or None,
            extra=extra,
        )


def _disposition(call: _Call, answered_at: float | None, cause: str | None) -> Disposition:
    if call.voicemail_at is not None and (answered_at is None or call.voicemail_at <= answered_at):
        return Disposition.VOICEMAIL
    if answered_at is not None:
        return Disposition.ANSWERED
    if call.dialing:
        return Disposition.ABANDONED
    if call.queued_at is not None:  # left the queue unanswered: gave up, or the queue timed out
        return Disposition.ABANDONED if call.caller_hung_up else Disposition.MISSED
    if call.dial_status:
        return _BY_DIAL_STATUS.get(call.dial_status, Disposition.FAILED)
    if call.pbx_answered_at is not None:
        return Disposition.PBX_ANSWERED
    if call.cdr is not None and call.cdr[0] in _BY_CDR:
        by_cdr = _BY_CDR[call.cdr[0]]
        return Disposition.ABANDONED if by_cdr is Disposition.MISSED and call.caller_hung_up else by_cdr
    if call.caller_hung_up:
        return Disposition.ABANDONED
    return _BY_CAUSE.get(cause or "", Disposition.FAILED)


def _number(raw: str | None, region: str | None) -> str | None:
    """E.164 when the DID parses, else the DID as dialed; 's' (no DID) is none."""
    if not raw or raw == "s":
        return None
    return normalize_did(raw, region) or raw
